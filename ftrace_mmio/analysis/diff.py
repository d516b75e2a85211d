"""``ftrace-mmio diff A B``: where two dumps part, and how much, register by register.

Two runs never share timestamps, and map ids and kernel-virtual addresses
depend on what else the kernel mapped; what must agree is the traffic:
each access's kind, width, bus address and value, the mapped ranges, the
devices and the markers. Records are compared on those by default; the
options bring timestamps, map ids and the virtual addresses (MAP's virt and
the PC) back in. The ftrace ``#`` header is never compared.

The dumps are walked side by side. Where they differ, an access that has
the same kind, width and address on both sides is a *changed* value; other
differences are resolved by looking ahead (``window`` records) for the
nearest point where both sides agree again, everything skipped on the way
being *only in A* or *only in B*. Memory stays bounded by the window, so
dumps of any size can be compared.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from .parse import (Access, Comment, CpuLost, DumpParser, Garbage, Lost, Map, Mark, PciDev, Problem,
                    Record, Source, Unknown, Unmap, Version)
from .resolve import Resolver

__all__ = ["DiffOptions", "Difference", "DiffResult", "diff_dumps", "record_key"]

CONTEXT = 3
CONFIRM = 3     # records that must agree after a resync point for it to count


@dataclass(frozen=True)
class DiffOptions:
    timestamps: bool = False
    map_ids: bool = False
    addresses: bool = False     # MAP virt and PC: kernel-virtual, they change with every boot and build
    window: int = 2000


def record_key(rec: Record, opt: DiffOptions) -> tuple[Any, ...] | None:
    """What is compared of a record; None for records that are never compared."""
    ts = (getattr(rec, "ts_us", None),) if opt.timestamps else ()
    mid = (getattr(rec, "map_id", None),) if opt.map_ids else ()
    if isinstance(rec, Access):
        return ("RW", rec.op, rec.width, rec.phys, rec.value) + ts + mid + ((rec.pc,) if opt.addresses else ())
    if isinstance(rec, Unknown):
        return ("UNKNOWN", rec.phys, rec.opcode) + ts + mid + ((rec.pc,) if opt.addresses else ())
    if isinstance(rec, Map):
        return ("MAP", rec.phys, rec.length) + ts + mid + ((rec.virt,) if opt.addresses else ())
    if isinstance(rec, Unmap):
        return ("UNMAP",) + ts + mid
    if isinstance(rec, Mark):
        return ("MARK", rec.text) + ts
    if isinstance(rec, (PciDev, Version, Lost, CpuLost, Garbage)):
        return (rec.kind, rec.format())
    if isinstance(rec, Comment):
        return None
    return (rec.kind, rec.format())


def _same_place(a: Record, b: Record) -> bool:
    """Two records that differ but stand for the same event: the value changed, not the flow."""
    if isinstance(a, Access) and isinstance(b, Access):
        return (a.op, a.width, a.phys) == (b.op, b.width, b.phys)
    if isinstance(a, Map) and isinstance(b, Map):
        return a.phys == b.phys
    if isinstance(a, Unknown) and isinstance(b, Unknown):
        return a.phys == b.phys
    if isinstance(a, (Unmap, Mark)) and type(a) is type(b):
        return True
    return isinstance(a, PciDev) and isinstance(b, PciDev) and (a.bus, a.devfn) == (b.bus, b.devfn)


@dataclass
class _Item:
    rec: Record
    key: tuple[Any, ...]
    label: str


class _Side:
    """One dump, read ahead into a bounded buffer."""

    def __init__(self, source: Source, opt: DiffOptions, strict: bool,
                 on_problem: Callable[[Problem], None] | None, resolver: Resolver | None = None) -> None:
        self.parser = DumpParser(strict, on_problem, keep_raw=True)
        self.resolver = resolver if resolver is not None else Resolver()
        self._records: Iterator[Record] = self.parser.parse(source)
        self.opt = opt
        self.buf: deque[_Item] = deque()
        self.done = False
        self._labels: dict[tuple[int, int, str], str] = {}

    def fill(self, n: int) -> None:
        while len(self.buf) < n and not self.done:
            rec = next(self._records, None)
            if rec is None:
                self.done = True
                break
            self.resolver.feed(rec)
            key = record_key(rec, self.opt)
            if key is None:
                continue
            if isinstance(rec, Access):
                # Labels of accesses are remembered until the mappings change (a dump repeats them).
                where = (rec.phys, rec.map_id, rec.op)
                label = self._labels.get(where)
                if label is None:
                    if len(self._labels) >= 1 << 16:
                        self._labels.clear()
                    label = self._labels[where] = _label(rec, self.resolver)
            else:
                if isinstance(rec, (Map, Unmap, PciDev)):
                    self._labels.clear()
                label = _label(rec, self.resolver)
            self.buf.append(_Item(rec, key, label))

    def peek(self) -> _Item | None:
        self.fill(1)
        return self.buf[0] if self.buf else None


def _label(rec: Record, resolver: Resolver) -> str:
    if isinstance(rec, (Access, Unknown)):
        where = resolver.where(rec.phys, rec.map_id)
        if not where.space:
            return f"{rec.phys:#x}"
        reg = where.register(rec.op if isinstance(rec, Access) else None)
        return f"{where.location} {reg}" if reg else where.location
    if isinstance(rec, PciDev):
        return f"PCIDEV {rec.slot}"
    if isinstance(rec, Map):
        return f"MAP {rec.phys:#x}"
    return rec.kind


@dataclass
class Difference:
    kind: str                  # changed, only_a, only_b
    a_line: int | None
    b_line: int | None
    label: str
    a_text: str = ""
    b_text: str = ""


@dataclass
class RegisterDiff:
    changed: int = 0
    only_a: int = 0
    only_b: int = 0


@dataclass
class DiffResult:
    a_name: str
    b_name: str
    equal: int = 0
    first: Difference | None = None
    context_before: list[tuple[int | None, int | None, str]] = field(default_factory=list)
    context_after: list[tuple[int | None, int | None, str]] = field(default_factory=list)
    context_after_a: list[tuple[int, str]] = field(default_factory=list)
    context_after_b: list[tuple[int, str]] = field(default_factory=list)
    by_register: dict[str, RegisterDiff] = field(default_factory=dict)
    changed: int = 0
    only_a: int = 0
    only_b: int = 0
    problems_a: list[Problem] = field(default_factory=list)
    problems_b: list[Problem] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return self.first is None

    def _count(self, d: Difference) -> None:
        r = self.by_register.setdefault(d.label, RegisterDiff())
        if d.kind == "changed":
            self.changed += 1
            r.changed += 1
        elif d.kind == "only_a":
            self.only_a += 1
            r.only_a += 1
        else:
            self.only_b += 1
            r.only_b += 1

    def render(self, registers: int = 20) -> str:
        a, b = self.a_name, self.b_name
        if self.first is None:
            return f"{a} and {b}: no differences ({self.equal} records compared)\n"
        f = self.first
        where = {
            "changed": f"line {f.a_line} of {a}, line {f.b_line} of {b}",
            "only_a": f"line {f.a_line} of {a} (not in {b}, before its line {f.b_line})",
            "only_b": f"line {f.b_line} of {b} (not in {a}, before its line {f.a_line})",
        }[f.kind]
        out = [f"first difference: {where}: {f.label}"]
        numbers = [f.a_line, f.b_line] + [n for la, lb, _ in self.context_before + self.context_after
                                          for n in (la, lb)] \
            + [n for n, _ in self.context_after_a + self.context_after_b]
        w = max(len(str(x)) for x in numbers if x is not None)
        blank = " " * w

        def num(x: int | None) -> str:
            return f"{x:>{w}}" if x is not None else blank

        for la, lb, text in self.context_before:
            out.append(f"  {num(la)} {num(lb)}  {text}")
        if f.a_text:
            out.append(f"- {num(f.a_line)} {blank}  {f.a_text}")
        if f.b_text:
            out.append(f"+ {blank} {num(f.b_line)}  {f.b_text}")
        for la, lb, text in self.context_after:
            out.append(f"  {num(la)} {num(lb)}  {text}")
        for n, text in self.context_after_a:
            out.append(f"- {num(n)} {blank}  {text}")
        for n, text in self.context_after_b:
            out.append(f"+ {blank} {num(n)}  {text}")
        out.append("")
        out.append(f"summary: {self.changed} changed, {self.only_a} only in {a}, {self.only_b} only in {b}; "
                   f"{self.equal} equal")
        rows = sorted(self.by_register.items(), key=lambda kv: -(kv[1].changed + kv[1].only_a + kv[1].only_b))
        out.append("by register:")
        for label, r in rows[:registers]:
            parts = [f"{r.changed} changed" if r.changed else "", f"{r.only_a} only in A" if r.only_a else "",
                     f"{r.only_b} only in B" if r.only_b else ""]
            out.append(f"  {label}: " + ", ".join(p for p in parts if p))
        if len(rows) > registers:
            out.append(f"  ... {len(rows) - registers} more")
        return "\n".join(out) + "\n"

    def as_dict(self) -> dict[str, Any]:
        f = self.first
        return {
            "a": self.a_name, "b": self.b_name, "same": self.same, "equal": self.equal,
            "changed": self.changed, "only_a": self.only_a, "only_b": self.only_b,
            "first": None if f is None else {"kind": f.kind, "a_line": f.a_line, "b_line": f.b_line,
                                             "register": f.label, "a": f.a_text, "b": f.b_text},
            "by_register": {k: vars(v) for k, v in self.by_register.items()},
        }


def _text(item: _Item) -> str:
    return item.rec.raw if item.rec.raw is not None else item.rec.format().rstrip("\n")


def diff_dumps(a: Source, b: Source, opt: DiffOptions = DiffOptions(), *, strict: bool = False,
               a_name: str = "A", b_name: str = "B",
               on_problem: Callable[[str, Problem], None] | None = None,
               resolver: Callable[[], Resolver] = Resolver) -> DiffResult:
    """Compare two dumps (see the module doc); ``resolver`` makes each side's (register names)."""
    sa = _Side(a, opt, strict, (lambda p: on_problem(a_name, p)) if on_problem else None, resolver())
    sb = _Side(b, opt, strict, (lambda p: on_problem(b_name, p)) if on_problem else None, resolver())
    result = DiffResult(a_name, b_name)
    recent: deque[tuple[int, int, str]] = deque(maxlen=CONTEXT)

    def note(d: Difference) -> None:
        result._count(d)
        if result.first is None:
            result.first = d
            result.context_before = list(recent)
            sa.fill(CONTEXT + 1)
            sb.fill(CONTEXT + 1)
            # What follows on each side (the differing records are already taken off).
            after_a = list(sa.buf)[:CONTEXT]
            after_b = list(sb.buf)[:CONTEXT]
            if [x.key for x in after_a] == [x.key for x in after_b]:
                # The sides agree again right away: the lines after are shown once, as common.
                result.context_after = [(x.rec.line, y.rec.line, _text(x)) for x, y in zip(after_a, after_b)]
            else:
                result.context_after_a = [(x.rec.line, _text(x)) for x in after_a]
                result.context_after_b = [(y.rec.line, _text(y)) for y in after_b]

    while True:
        ia, ib = sa.peek(), sb.peek()
        if ia is None and ib is None:
            break
        if ia is not None and ib is not None and ia.key == ib.key:
            result.equal += 1
            recent.append((ia.rec.line, ib.rec.line, _text(ia)))
            sa.buf.popleft()
            sb.buf.popleft()
            continue
        if ib is None:
            it = sa.buf.popleft()
            note(Difference("only_a", it.rec.line, None, it.label, _text(it), ""))
            continue
        if ia is None:
            it = sb.buf.popleft()
            note(Difference("only_b", None, it.rec.line, it.label, "", _text(it)))
            continue
        if _same_place(ia.rec, ib.rec):
            sa.buf.popleft()
            sb.buf.popleft()
            note(Difference("changed", ia.rec.line, ib.rec.line, ia.label, _text(ia), _text(ib)))
            continue
        i, j = _resync(sa, sb, opt.window)
        for _ in range(i):
            it = sa.buf.popleft()
            note(Difference("only_a", it.rec.line, _next_line(sb), it.label, _text(it), ""))
        for _ in range(j):
            it = sb.buf.popleft()
            note(Difference("only_b", _next_line(sa), it.rec.line, it.label, "", _text(it)))
    result.problems_a = sa.parser.problems
    result.problems_b = sb.parser.problems
    return result


def _next_line(side: _Side) -> int | None:
    it = side.peek()
    return it.rec.line if it is not None else None


def _resync(sa: _Side, sb: _Side, window: int) -> tuple[int, int]:
    """How many records to skip on each side to reach the nearest agreement."""
    sa.fill(window)
    sb.fill(window)
    a, b = list(sa.buf), list(sb.buf)
    positions: dict[tuple[Any, ...], list[int]] = {}
    for j, it in enumerate(b):
        positions.setdefault(it.key, []).append(j)
    best: tuple[int, int] | None = None
    for i, it in enumerate(a):
        if best is not None and i >= best[0] + best[1]:
            break
        for j in positions.get(it.key, ()):
            if (i, j) == (0, 0):
                continue
            if best is not None and i + j >= best[0] + best[1]:
                break
            if all(a[i + k].key == b[j + k].key for k in range(1, CONFIRM)
                   if i + k < len(a) and j + k < len(b)):
                best = (i, j)
                break
    if best is None:
        # Nothing in sight agrees: everything in the window differs.
        return len(a), len(b)
    return best
