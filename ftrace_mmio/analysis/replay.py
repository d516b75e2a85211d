"""``ftrace-mmio replay``: run a driver against hardware that is only a recording.

A dump says which devices were on the bus (PCIDEV: ids, IRQ, every BAR's
address and size) and, access by access, what the driver did and what the
hardware answered. :func:`replay_bus` rebuilds that bus, with one
:class:`ReplayDevice` per PCIDEV line at its recorded slot and addresses;
every memory BAR is served by a :class:`ReplaySession`:

* a read returns the value recorded for it: the recording's accesses are
  taken in order, per register (so reads of one register come back in the
  order they were recorded);
* a write is checked against the recorded one (value and width);
* ``ioremap``/``iounmap`` are checked against the MAP/UNMAP lines.

The recording is also followed as a whole: an access the driver makes while
earlier recorded ones are still outstanding is a divergence in order. Each
divergence keeps the dump's line number, what was expected, what came, and
the recorded lines around it. Once the driver is unloaded, recorded accesses
that never came are reported as missing.

A driver that behaves as the one recorded meets no divergence, and so the
accesses of a replayed run are those of the recording (its trace can be
diffed with the original: ``ftrace-mmio diff``).
"""

from __future__ import annotations

import io
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable

from ..machine.devices import BUILTIN_MODELS, BarSpec, DeviceModel, Region
from ..machine.pci import PciBus
from .parse import Access, DumpParser, Map, PciDev, Problem, Source, Unknown, Unmap
from .resolve import Resolver

__all__ = [
    "Expected", "Divergence", "Recording", "ReplaySession", "ReplayRegion", "ReplayDevice",
    "ReplayError", "ReplayResult", "device_class", "replay_bus", "replay_machine_factory", "replay",
]

CONTEXT = 3   # recorded events shown before and after a divergence


class ReplayError(Exception):
    """The dump cannot be replayed (no devices, unusable BARs)."""


@dataclass(frozen=True, slots=True)
class Expected:
    """One recorded event the driver should reproduce."""

    index: int
    line: int
    op: str          # "R", "W", "U" (UNKNOWN: either, value not recorded), "MAP", "UNMAP"
    phys: int
    width: int       # for MAP: the length
    value: int
    text: str        # the recorded line

    def describe(self) -> str:
        if self.op in ("R", "W"):
            return f"{self.op} {self.width} {self.phys:#x} {self.value:#x}"
        if self.op == "MAP":
            return f"ioremap({self.phys:#x}, {self.width:#x})"
        if self.op == "UNMAP":
            return f"iounmap of the mapping of {self.phys:#x}"
        return f"UNKNOWN access at {self.phys:#x}"


@dataclass
class Divergence:
    """Where the driver left the recording."""

    kind: str                     # value, width, order, extra, missing, map
    line: int | None              # the dump line it is about (None: nothing recorded there)
    expected: str
    got: str
    register: str = ""
    context: list[str] = field(default_factory=list)
    count: int = 1                # for "missing": how many recorded events never came

    def describe(self) -> str:
        where = f"line {self.line}" if self.line is not None else "no recorded line"
        reg = f" ({self.register})" if self.register else ""
        head = {
            "value": "write value differs",
            "width": "access width differs",
            "order": "access out of the recorded order",
            "extra": "access the recording does not have",
            "missing": f"{self.count} recorded events never happened",
            "map": "mapping differs",
        }.get(self.kind, self.kind)
        lines = [f"{where}: {head}{reg}", f"  expected: {self.expected}", f"  got:      {self.got}"]
        if self.context:
            lines.append("  recording around it:")
            lines += [f"    {c}" for c in self.context]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "line": self.line, "expected": self.expected, "got": self.got,
                "register": self.register, "context": self.context, "count": self.count}


class Recording:
    """The devices and the ordered accesses of a dump."""

    def __init__(self, devices: list[PciDev], events: list[Expected], problems: list[Problem],
                 source: str = "", resolver: Resolver | None = None) -> None:
        self.devices = devices
        self.events = events
        self.problems = problems
        self.source = source
        # The register names of divergences (--regmap, --machine); fed the devices only.
        self.resolver = resolver if resolver is not None else Resolver()
        for d in devices:
            self.resolver.feed(d)

    @classmethod
    def load(cls, source: Source, strict: bool = False,
             on_problem: Callable[[Problem], None] | None = None, *,
             resolver: Resolver | None = None) -> Recording:
        parser = DumpParser(strict, on_problem, keep_raw=True)
        devices: list[PciDev] = []
        events: list[Expected] = []
        live: dict[int, int] = {}     # map id -> phys, for UNMAP
        for rec in parser.parse(source):
            n = len(events)
            if isinstance(rec, PciDev):
                devices.append(rec)
            elif isinstance(rec, Access):
                mask = (1 << (8 * rec.width)) - 1
                events.append(Expected(n, rec.line, rec.op, rec.phys, rec.width, rec.value & mask, rec.raw or ""))
            elif isinstance(rec, Unknown):
                events.append(Expected(n, rec.line, "U", rec.phys, 0, 0, rec.raw or ""))
            elif isinstance(rec, Map):
                live[rec.map_id] = rec.phys
                events.append(Expected(n, rec.line, "MAP", rec.phys, rec.length, 0, rec.raw or ""))
            elif isinstance(rec, Unmap) and rec.map_id in live:
                events.append(Expected(n, rec.line, "UNMAP", live.pop(rec.map_id), 0, 0, rec.raw or ""))
        name = str(source) if isinstance(source, (str, Path)) else ""
        return cls(devices, events, parser.problems, name, resolver)

    def register(self, phys: int, op: str | None = None) -> str:
        where = self.resolver.where(phys)
        if not where.space:
            return ""
        reg = where.register(op)
        return f"{where.location} {reg}" if reg else where.location


class ReplaySession:
    """Serves a driver's accesses from a recording and notes every divergence."""

    def __init__(self, recording: Recording, max_divergences: int = 100) -> None:
        self.recording = recording
        self.max_divergences = max_divergences
        self.divergences: list[Divergence] = []
        self.divergence_count = 0
        self.served = 0
        self._queues: dict[tuple[str, int], deque[int]] = defaultdict(deque)
        for e in recording.events:
            self._queues[(e.op, e.phys)].append(e.index)
        self._done = bytearray(len(recording.events))
        self._cursor = 0
        self._last_value: dict[int, int] = {}
        self._cookies: dict[int, int] = {}

    # -- bookkeeping

    def _note(self, d: Divergence) -> None:
        self.divergence_count += 1
        if len(self.divergences) < self.max_divergences:
            self.divergences.append(d)

    def _context(self, index: int, mark: int | None = None) -> list[str]:
        events = self.recording.events
        lo, hi = max(0, index - CONTEXT), min(len(events), index + CONTEXT + 1)
        mark = index if mark is None else mark
        return [f"{'>' if i == mark else ' '} {events[i].line:>6}: {events[i].text}" for i in range(lo, hi)]

    def _advance(self) -> None:
        done, n = self._done, len(self._done)
        while self._cursor < n and done[self._cursor]:
            self._cursor += 1

    def _take(self, op: str, phys: int) -> Expected | None:
        """The recorded event this access stands for, noting an order divergence."""
        queue = self._queues.get((op, phys))
        if not queue:
            queue = self._queues.get(("U", phys)) if op in ("R", "W") else None
            if not queue:
                return None
        i = queue.popleft()
        self._done[i] = 1
        e = self.recording.events[i]
        if i > self._cursor:
            skipped = self.recording.events[self._cursor]
            self._note(Divergence(
                "order", skipped.line, f"{skipped.describe()} (line {skipped.line}) first",
                f"{e.describe()} (recorded at line {e.line})", self.recording.register(skipped.phys, skipped.op),
                self._context(self._cursor)))
            # Follow the driver from here; what it skipped is reported as missing at the end.
            self._cursor = i + 1
        self._advance()
        return e

    # -- what the driver does

    def read(self, phys: int, width: int) -> int:
        mask = (1 << (8 * width)) - 1
        cursor = self._cursor
        e = self._take("R", phys)
        if e is None:
            value = self._last_value.get(phys, 0) & mask
            self._note(Divergence("extra", None, "no further recorded read here",
                                  f"R {width} {phys:#x} (answered {value:#x})",
                                  self.recording.register(phys, "R"), self._context(min(cursor, len(self._done) - 1))
                                  if self._done else []))
            return value
        self.served += 1
        if e.op == "U":
            return self._last_value.get(phys, 0) & mask
        if e.width != width:
            self._note(Divergence("width", e.line, e.describe(), f"R {width} {phys:#x}",
                                  self.recording.register(phys, "R"), self._context(e.index)))
        self._last_value[phys] = e.value
        return e.value & mask

    def write(self, phys: int, width: int, value: int) -> None:
        cursor = self._cursor
        e = self._take("W", phys)
        got = f"W {width} {phys:#x} {value:#x}"
        if e is None:
            self._note(Divergence("extra", None, "no further recorded write here", got,
                                  self.recording.register(phys, "W"),
                                  self._context(min(cursor, len(self._done) - 1)) if self._done else []))
            return
        self.served += 1
        self._last_value[phys] = value
        if e.op == "U":
            return
        if e.width != width:
            self._note(Divergence("width", e.line, e.describe(), got, self.recording.register(phys, "W"),
                                  self._context(e.index)))
        elif e.value != value:
            self._note(Divergence("value", e.line, e.describe(), got, self.recording.register(phys, "W"),
                                  self._context(e.index)))

    def peek(self, phys: int, width: int) -> int:
        """What the next read would return, consuming nothing."""
        queue = self._queues.get(("R", phys))
        value = self.recording.events[queue[0]].value if queue else self._last_value.get(phys, 0)
        return value & ((1 << (8 * width)) - 1)

    # ioremap hooks (Machine.add_ioremap_hook)

    def on_ioremap(self, phys: int, size: int, cookie: int) -> None:
        self._cookies[cookie] = phys
        e = self._take("MAP", phys)
        got = f"ioremap({phys:#x}, {size:#x})"
        if e is None:
            self._note(Divergence("map", None, "no further recorded MAP of this address", got,
                                  self.recording.register(phys)))
        elif e.width != size:
            self._note(Divergence("map", e.line, e.describe(), got, self.recording.register(phys),
                                  self._context(e.index)))

    def on_iounmap(self, cookie: int) -> None:
        phys = self._cookies.pop(cookie, None)
        if phys is None:
            return
        if self._take("UNMAP", phys) is None:
            self._note(Divergence("map", None, "no recorded UNMAP of this mapping",
                                  f"iounmap of the mapping of {phys:#x}", self.recording.register(phys)))

    def finish(self) -> None:
        """Note the recorded events that never came (call once the driver is gone)."""
        missing = [i for i, done in enumerate(self._done) if not done]
        if missing:
            first = self.recording.events[missing[0]]
            self._note(Divergence("missing", first.line, first.describe(), "nothing (the driver was done)",
                                  self.recording.register(first.phys, first.op), self._context(first.index),
                                  count=len(missing)))

    @property
    def first(self) -> Divergence | None:
        return self.divergences[0] if self.divergences else None


class ReplayRegion(Region):
    """A memory BAR whose accesses go to a replay session (bus addresses, as recorded)."""

    def __init__(self, session: ReplaySession, base: int, size: int, name: str = "") -> None:
        super().__init__(size, name)
        self.session = session
        self.base = base

    def _read(self, offset: int, width: int) -> int:
        return self.session.read(self.base + offset, width)

    def _write(self, offset: int, width: int, value: int) -> None:
        self.session.write(self.base + offset, width, value)

    def _peek(self, offset: int, width: int) -> int:
        return self.session.peek(self.base + offset, width)


class ReplayDevice(DeviceModel):
    """Base of the per-device classes :func:`device_class` makes from PCIDEV lines."""

    name = "replay"
    description = "a device played back from an mmiotrace dump"
    starts: dict[int, int] = {}

    def __init__(self, session: ReplaySession) -> None:
        super().__init__()
        for bar in self.bars:
            if not bar.is_io:
                start = self.starts[bar.index]
                self.set_region(bar.index, ReplayRegion(session, start, bar.size,
                                                        f"{self.name} BAR{bar.index}"))


def device_class(dev: PciDev) -> type[ReplayDevice]:
    """A device model class with the identity and BARs of one PCIDEV line."""
    like = next((m for m in BUILTIN_MODELS.values() if (m.vendor, m.device) == (dev.vendor, dev.device)), None)
    bars, starts, rom_size = [], {}, 0
    for b in dev.bars():
        if b.is_rom:
            rom_size = 0 if b.flags & 0x2 else b.size
            continue
        kind = "io" if b.is_io else ("mem64" if b.flags & 0x4 else "mem32")
        bars.append(BarSpec(b.index, b.size, kind, prefetchable=bool(b.flags & 0x8) and not b.is_io))
        starts[b.index] = b.start
    attrs = {
        "name": f"replay {dev.ids}", "vendor": dev.vendor, "device": dev.device,
        "class_code": like.class_code if like else 0, "revision": like.revision if like else 0,
        "subsystem": like.subsystem if like else None, "bars": tuple(bars), "rom_size": rom_size,
        "irq": dev.irq, "starts": starts, "__module__": __name__,
    }
    return type(f"Replay_{dev.vendor:04x}_{dev.device:04x}", (ReplayDevice,), attrs)


def replay_bus(session: ReplaySession, time_base: Any = None,
               on_skip: Callable[[str], None] | None = None) -> PciBus:
    """The recorded bus: every PCIDEV device at its slot, IRQ and addresses."""
    bus = PciBus(time_base)
    devices = session.recording.devices
    if not devices:
        raise ReplayError("the dump has no PCIDEV lines: nothing says where the devices were "
                          "(record with trace_pipe, whose header lists them)")
    used = {e.phys for e in session.recording.events}
    for dev in devices:
        cls = device_class(dev)
        rom = next((b for b in dev.bars() if b.is_rom), None)
        try:
            bus.add(cls(session), (dev.bus, dev.devfn),
                    dict(cls.starts),
                    dev.irq, rom.start if rom is not None and not rom.flags & 0x2 else None,
                    rom_shadow=rom is not None and bool(rom.flags & 0x2))
        except ValueError as exc:
            accessed = any(b.contains(p) for b in dev.bars() for p in used)
            if accessed:
                raise ReplayError(f"PCIDEV line {dev.line} ({dev.ids} at {dev.slot}) cannot be "
                                  f"rebuilt: {exc}") from exc
            if on_skip is not None:
                on_skip(f"PCIDEV line {dev.line} ({dev.ids} at {dev.slot}) left out: {exc}")
    return bus


def replay_machine_factory(session: ReplaySession, on_skip: Callable[[str], None] | None = None,
                           **machine_kwargs: Any) -> Callable[..., Any]:
    """``factory(time_base=...)`` building a Machine on the recorded bus, hooked to the session.

    This is what ``trace_run(..., machine_factory=...)`` takes, so a replayed
    run is traced like any other.
    """
    from ..machine.machine import Machine

    def factory(time_base: Any = None) -> Any:
        machine = Machine(pci_bus=replay_bus(session, time_base, on_skip), time_base=time_base, **machine_kwargs)
        machine.add_ioremap_hook(session)
        return machine

    return factory


@dataclass
class ReplayResult:
    session: ReplaySession
    failure: str | None
    dmesg: str

    @property
    def divergences(self) -> list[Divergence]:
        return self.session.divergences

    @property
    def ok(self) -> bool:
        return self.failure is None and not self.session.divergence_count

    def report(self) -> str:
        s = self.session
        rec = s.recording
        n = s.divergence_count
        lines = [f"replayed {rec.source or 'dump'}: {len(rec.events)} recorded events, "
                 f"{s.served} accesses served, {n} divergence{'' if n == 1 else 's'}"]
        if self.failure:
            lines.append(f"driver failed: {self.failure}")
        if s.first is not None:
            lines.append("first divergence:")
            lines.append(s.first.describe())
            if s.divergence_count > 1:
                kinds: dict[str, int] = {}
                for d in s.divergences:
                    kinds[d.kind] = kinds.get(d.kind, 0) + 1
                lines.append("all: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
                             + (" (first ones only)" if s.divergence_count > len(s.divergences) else ""))
                for d in s.divergences[1:10]:
                    lines.append(f"  line {d.line if d.line is not None else '-'}: {d.kind}: "
                                 f"expected {d.expected}, got {d.got}")
        else:
            lines.append("no divergence: the driver did what the recording did")
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict[str, Any]:
        s = self.session
        return {"source": s.recording.source, "events": len(s.recording.events), "served": s.served,
                "failure": self.failure, "divergence_count": s.divergence_count,
                "divergences": [d.as_dict() for d in s.divergences]}


def replay(dump: Source | Recording, driver: str, params: Iterable[str] = (), *,
           trace_out: BinaryIO | None = None, clock: str = "det", strict: bool = False,
           on_skip: Callable[[str], None] | None = None, **trace_kwargs: Any) -> ReplayResult:
    """Load ``driver`` on the recorded hardware of ``dump``, unload it, and say how it went.

    With ``trace_out`` the run is traced with mmiotrace (its trace_pipe bytes
    are written there); without, it runs untraced.
    """
    from ..cli.run import trace_run

    recording = dump if isinstance(dump, Recording) else Recording.load(dump, strict)
    session = ReplaySession(recording)
    out = trace_out if trace_out is not None else io.BytesIO()
    failure, dmesg = trace_run(driver, list(params), out, tracer="mmiotrace" if trace_out is not None else "nop",
                               clock=clock, machine_factory=replay_machine_factory(session, on_skip),
                               **trace_kwargs)
    session.finish()
    return ReplayResult(session, failure, dmesg)

