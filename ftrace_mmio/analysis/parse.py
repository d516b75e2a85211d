"""Reading mmiotrace dumps: one typed record per line, streamed.

A dump is what ``cat trace_pipe`` saved (VERSION, PCIDEV, then events), or
the non-consuming ``trace`` file (the ftrace comment header, then the same
event lines), from a real kernel or from ftrace-mmio. Formats are those of
mmiotrace.md §1; the parser holds at most two lines at a time, so a dump of
any size streams in constant memory.

Two lines of lookahead are all the grammar needs:

* a marker whose text had a newline in it continues on lines with no
  ``MARK`` prefix (the kernel prints the stored text as it is), so a line
  that is no record, right after a MARK, belongs to that MARK;
* mail clients wrap long PCIDEV lines; in tolerant mode a PCIDEV that is
  short of fields is joined with the line after it when that completes it.

Strict mode raises :class:`DumpError` at the first line that is not what a
kernel prints. Tolerant mode reports each problem (line number and reason)
and goes on: an unreadable line becomes a :class:`Garbage` record, so
nothing is dropped silently.

``record.format()`` prints a record the way the kernel does, so for a clean
dump ``"".join(r.format() for r in parse(path))`` is the file, byte for byte.
"""

from __future__ import annotations

import ctypes
import io
import os
import re
import string
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, ClassVar, Iterable, Iterator, TextIO, Union

from ..mmiotrace import lines
from . import native

__all__ = [
    "Record", "Version", "PciDev", "Bar", "Map", "Unmap", "Access", "Unknown", "Mark", "Lost",
    "CpuLost", "Comment", "BufferStarted", "LineTooBig", "FtraceEvent", "Garbage",
    "Problem", "DumpError", "DumpParser", "Batch", "parse", "format_ts", "write_records", "open_dump",
]

_HEXDIGITS = frozenset(string.hexdigits)
_DIGITS = frozenset(string.digits)


# --- field grammar ----------------------------------------------------------------------------


# ``secs.micros`` as the kernel prints ``%u.%06lu`` (seconds wrap at 32 bits).
format_ts = lines.ts


def _ts(text: str) -> int:
    secs, dot, usec = text.partition(".")
    if not (dot and secs and len(usec) == 6 and _DIGITS.issuperset(secs) and _DIGITS.issuperset(usec)):
        raise ValueError(f"timestamp {text!r} is not SECONDS.MICROSECONDS (6 digits)")
    return int(secs) * 1_000_000 + int(usec)


def _hex0x(text: str, what: str) -> int:
    # int(..., 16) alone would also take '+', '_' and spaces; the kernel prints none of them.
    if len(text) < 3 or text[:2] != "0x" or not _HEXDIGITS.issuperset(text[2:]):
        raise ValueError(f"{what} {text!r} is not 0x-prefixed hex")
    return int(text[2:], 16)


def _hex(text: str, what: str) -> int:
    if not text or not _HEXDIGITS.issuperset(text):
        raise ValueError(f"{what} {text!r} is not hex")
    return int(text, 16)


def _dec(text: str, what: str, signed: bool = False) -> int:
    body = text[1:] if signed and text.startswith("-") else text
    if not body or not _DIGITS.issuperset(body):
        raise ValueError(f"{what} {text!r} is not a decimal number")
    return int(text)


def _count(tokens: list[str], n: int, what: str) -> None:
    if len(tokens) != n:
        raise ValueError(f"{what} has {len(tokens) - 1} fields, expected {n - 1}")


# --- records ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Record:
    """One record of a dump; ``line`` is its (first) line number, counting from 1.

    ``raw`` is the text of its line(s) as read (joined with ``\\n``), kept
    only when the parser was asked to (``keep_raw``).
    """

    line: int
    raw: str | None = field(default=None, kw_only=True, compare=False, repr=False)

    kind: ClassVar[str] = "?"

    def format(self) -> str:
        """The record as the kernel prints it, newline included."""
        raise NotImplementedError


@dataclass(slots=True)
class Version(Record):
    version: str = "20070824"
    kind: ClassVar[str] = "VERSION"

    def format(self) -> str:
        return f"VERSION {self.version}\n"


@dataclass(frozen=True, slots=True)
class Bar:
    """One resource of a PCIDEV line: BAR0..BAR5, or 6 for the expansion ROM."""

    index: int
    start: int          # bus address, type bits removed
    size: int
    flags: int          # the low nibble the kernel prints: 1 io, 4 64-bit, 8 prefetchable; ROM 2 shadow

    @property
    def is_io(self) -> bool:
        return self.index != 6 and bool(self.flags & 0x1)

    @property
    def is_rom(self) -> bool:
        return self.index == 6

    @property
    def end(self) -> int:
        return self.start + self.size

    @property
    def name(self) -> str:
        return "ROM" if self.index == 6 else f"BAR{self.index}"

    def contains(self, phys: int) -> bool:
        return self.start <= phys < self.start + self.size


@dataclass(slots=True)
class PciDev(Record):
    bus: int = 0
    devfn: int = 0
    vendor: int = 0
    device: int = 0
    irq: int = 0
    starts: tuple[int, ...] = (0,) * 7     # resource start | (flags & 0xf)
    sizes: tuple[int, ...] = (0,) * 7
    driver: str | None = None
    kind: ClassVar[str] = "PCIDEV"

    @property
    def slot(self) -> str:
        """``00:02.0``"""
        return f"{self.bus:02x}:{self.devfn >> 3:02x}.{self.devfn & 7}"

    @property
    def ids(self) -> str:
        """``10de:1180``"""
        return f"{self.vendor:04x}:{self.device:04x}"

    def bars(self) -> list[Bar]:
        """The resources that have a size, in index order."""
        out = []
        for i, (start, size) in enumerate(zip(self.starts, self.sizes)):
            if size:
                flags = start & 0xF
                base = start & ~0x3 if (i != 6 and flags & 1) else start & ~0xF
                out.append(Bar(i, base, size, flags))
        return out

    def format(self) -> str:
        return lines.pcidev_line(self.bus << 8 | self.devfn, self.vendor << 16 | self.device, self.irq,
                                 self.starts, self.sizes, self.driver)


@dataclass(slots=True)
class Map(Record):
    ts_us: int = 0
    map_id: int = 0
    phys: int = 0
    virt: int = 0
    length: int = 0
    pc: int = 0
    pid: int = 0
    kind: ClassVar[str] = "MAP"

    def format(self) -> str:
        return lines.map_line(self.ts_us, self.map_id, self.phys, self.virt, self.length, self.pc, self.pid)


@dataclass(slots=True)
class Unmap(Record):
    ts_us: int = 0
    map_id: int = 0      # -1: the address matched no traced mapping
    pc: int = 0
    pid: int = 0
    kind: ClassVar[str] = "UNMAP"

    def format(self) -> str:
        return lines.unmap_line(self.ts_us, self.map_id, self.pc, self.pid)


@dataclass(slots=True)
class Access(Record):
    """An R or W line; ``op`` is ``"R"`` or ``"W"``."""

    op: str = "R"
    width: int = 4
    ts_us: int = 0
    map_id: int = 0
    phys: int = 0
    value: int = 0
    pc: int = 0
    pid: int = 0
    kind: ClassVar[str] = "RW"

    def format(self) -> str:
        return lines.rw_line(self.op, self.width, self.ts_us, self.map_id, self.phys, self.value,
                             self.pc, self.pid)


@dataclass(slots=True)
class Unknown(Record):
    """An access the decoder did not understand: the first three bytes at the faulting RIP."""

    ts_us: int = 0
    map_id: int = 0
    phys: int = 0
    opcode: tuple[int, int, int] = (0, 0, 0)
    pc: int = 0
    pid: int = 0
    kind: ClassVar[str] = "UNKNOWN"

    def format(self) -> str:
        return lines.unknown_line(self.ts_us, self.map_id, self.phys, self.opcode, self.pc, self.pid)


@dataclass(slots=True)
class Mark(Record):
    """A marker; ``text`` has no final newline, and ``\\n`` where it went on to more lines."""

    ts_us: int = 0
    text: str = ""
    kind: ClassVar[str] = "MARK"

    @property
    def nlines(self) -> int:
        return self.text.count("\n") + 1

    def format(self) -> str:
        return lines.mark_line(self.ts_us, self.text + "\n")


@dataclass(slots=True)
class Lost(Record):
    """``MARK 0.000000 Lost N events.``: mmiotrace's own count of dropped events (printed late)."""

    count: int = 0
    kind: ClassVar[str] = "LOST"

    def format(self) -> str:
        return lines.lost_line(self.count)


@dataclass(slots=True)
class CpuLost(Record):
    """``CPU:n [LOST m EVENTS]``: the ring buffer's gap marker; ``count`` None if unknown."""

    cpu: int = 0
    count: int | None = None
    kind: ClassVar[str] = "CPU_LOST"

    def format(self) -> str:
        if self.count is None:
            return f"CPU:{self.cpu} [LOST EVENTS]\n"
        return f"CPU:{self.cpu} [LOST {self.count} EVENTS]\n"


@dataclass(slots=True)
class Comment(Record):
    """A ``#`` line of the ``trace`` file header (kept verbatim)."""

    text: str = "#"
    kind: ClassVar[str] = "COMMENT"

    @property
    def tracer(self) -> str | None:
        """``mmiotrace`` for ``# tracer: mmiotrace``."""
        return self.text[10:] if self.text.startswith("# tracer: ") else None

    @property
    def entries(self) -> tuple[int, int, int] | None:
        """``(in buffer, written, CPUs)`` from ``# entries-in-buffer/entries-written: E/W   #P:N``."""
        m = _ENTRIES.fullmatch(self.text)
        return (int(m[1]), int(m[2]), int(m[3])) if m else None

    def format(self) -> str:
        return f"{self.text}\n"


_ENTRIES = re.compile(r"# entries-in-buffer/entries-written: (\d+)/(\d+) +#P:(\d+)")


@dataclass(slots=True)
class BufferStarted(Record):
    """``##### CPU n buffer started ####``: on ``trace``, older entries of that CPU were overwritten."""

    cpu: int = 0
    kind: ClassVar[str] = "BUFFER_STARTED"

    def format(self) -> str:
        return f"##### CPU {self.cpu} buffer started ####\n"


@dataclass(slots=True)
class LineTooBig(Record):
    kind: ClassVar[str] = "LINE_TOO_BIG"

    def format(self) -> str:
        return "[LINE TOO BIG]\n"


@dataclass(slots=True)
class FtraceEvent(Record):
    """A line with ftrace's task/CPU/flags/time prefix (other tracers, or markers under nop).

    ``flags`` is None when the ``irq-info`` option was off; ``tgid`` is set
    with ``record-tgid``. ``body`` is what follows ``: `` (``tracing_mark_write:
    hello``), with ``\\n`` where a marker continued on bare lines.
    """

    comm: str = ""
    pid: int = 0
    cpu: int = 0
    flags: str | None = None
    ts_us: int = 0
    body: str = ""
    tgid: str | None = None
    kind: ClassVar[str] = "FTRACE"

    @property
    def marker(self) -> str | None:
        return self.body[20:] if self.body.startswith("tracing_mark_write: ") else None

    def format(self) -> str:
        tgid = f"({self.tgid:>7}) " if self.tgid is not None else ""
        # The time field is " %5lu": after the flags, or straight after "[cpu] " without them.
        flags = self.flags or ""
        secs, usec = divmod(self.ts_us, 1_000_000)
        return f"{self.comm:>16}-{self.pid:<7} {tgid}[{self.cpu:03d}] {flags} {secs:5d}.{usec:06d}: {self.body}\n"


_FTRACE_LINE = re.compile(
    r" *(?P<comm>.*)-(?P<pid>\d+) +(?:\((?P<tgid>[ \d-]+)\) +)?\[(?P<cpu>\d+)\] "
    r"(?:(?P<flags>\S{4,5}) )? *(?P<secs>\d+)\.(?P<usec>\d{6}): (?P<body>.*)")


@dataclass(slots=True)
class Garbage(Record):
    """A line tolerant mode could not read; kept so that nothing is lost."""

    text: str = ""
    kind: ClassVar[str] = "GARBAGE"

    def format(self) -> str:
        return f"{self.text}\n"


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    message: str
    text: str = ""

    def __str__(self) -> str:
        shown = self.text if len(self.text) <= 100 else self.text[:97] + "..."
        return f"line {self.line}: {self.message}" + (f": {shown!r}" if shown else "")


class DumpError(ValueError):
    """Strict mode: the first line that is not what the kernel prints."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


# --- one line --------------------------------------------------------------------------------------

# Every record a line can start with: a line that starts otherwise continues a MARK (or is garbage).
_KEYWORDS = ("R", "W", "MAP", "UNMAP", "UNKNOWN", "MARK", "PCIDEV", "VERSION")
PCIDEV_TOKENS = 19   # PCIDEV, busdevfn, ids, irq, 7 starts, 7 sizes, driver ('' when none)


def _rw(t: list[str], n: int) -> Access:
    _count(t, 8, t[0])
    width = _dec(t[1], "width")
    if width not in (1, 2, 4, 8):
        raise ValueError(f"width {width} is not 1, 2, 4 or 8")
    return Access(n, t[0], width, _ts(t[2]), _dec(t[3], "map id", True), _hex0x(t[4], "address"),
                  _hex0x(t[5], "value"), _hex0x(t[6], "pc"), _dec(t[7], "pid"))


def _map(t: list[str], n: int) -> Map:
    _count(t, 8, "MAP")
    return Map(n, _ts(t[1]), _dec(t[2], "map id", True), _hex0x(t[3], "address"), _hex0x(t[4], "virt"),
               _hex0x(t[5], "length"), _hex0x(t[6], "pc"), _dec(t[7], "pid"))


def _unmap(t: list[str], n: int) -> Unmap:
    _count(t, 5, "UNMAP")
    return Unmap(n, _ts(t[1]), _dec(t[2], "map id", True), _hex0x(t[3], "pc"), _dec(t[4], "pid"))


def _unknown(t: list[str], n: int) -> Unknown:
    _count(t, 7, "UNKNOWN")
    raw = t[4].split(",")
    if len(raw) != 3 or any(len(b) != 2 for b in raw):
        raise ValueError(f"opcode bytes {t[4]!r} are not three xx,xx,xx")
    op = tuple(_hex(b, "opcode byte") for b in raw)
    return Unknown(n, _ts(t[1]), _dec(t[2], "map id", True), _hex0x(t[3], "address"),
                   op, _hex0x(t[5], "pc"), _dec(t[6], "pid"))  # type: ignore[arg-type]


def _pcidev(t: list[str], n: int) -> PciDev:
    if len(t) != PCIDEV_TOKENS:
        raise ValueError(f"PCIDEV has {len(t) - 1} fields, expected 18 (a line with no driver ends in a space)")
    if len(t[1]) != 4 or len(t[2]) != 8:
        raise ValueError(f"PCIDEV bus/devfn {t[1]!r} or vendor/device {t[2]!r} has the wrong length")
    busdevfn, ids = _hex(t[1], "bus/devfn"), _hex(t[2], "vendor/device")
    nums = [_hex(x, "resource") for x in t[3:18]]
    return PciDev(n, busdevfn >> 8, busdevfn & 0xFF, ids >> 16, ids & 0xFFFF, nums[0],
                  tuple(nums[1:8]), tuple(nums[8:15]), t[18] or None)


def _mark(text: str, n: int) -> Mark | Lost:
    # "MARK " + timestamp + " " + text: the text may hold any bytes, spaces included.
    rest = text[5:]
    ts_text, sep, body = rest.partition(" ")
    ts = _ts(ts_text)
    if not sep:
        raise ValueError("MARK has no text")
    if ts == 0 and body.startswith("Lost ") and body.endswith(" events."):
        count = body[5:-8]
        if count and _DIGITS.issuperset(count):
            return Lost(n, int(count))
    return Mark(n, ts, body)


def _cpu_lost(text: str, n: int) -> CpuLost:
    m = re.fullmatch(r"CPU:(\d+) \[LOST (?:(\d+) )?EVENTS\]", text)
    if not m:
        raise ValueError("not CPU:n [LOST m EVENTS]")
    return CpuLost(n, int(m[1]), int(m[2]) if m[2] is not None else None)


def _ftrace(text: str, n: int) -> FtraceEvent:
    m = _FTRACE_LINE.fullmatch(text)
    if not m:
        raise ValueError("not an mmiotrace record nor an ftrace 'comm-pid [cpu] time:' line")
    return FtraceEvent(n, m["comm"], int(m["pid"]), int(m["cpu"]), m["flags"],
                       int(m["secs"]) * 1_000_000 + int(m["usec"]), m["body"],
                       m["tgid"].strip() if m["tgid"] is not None else None)


_BY_KEYWORD: dict[str, Callable[[list[str], int], Record]] = {
    "R": _rw, "W": _rw, "MAP": _map, "UNMAP": _unmap, "UNKNOWN": _unknown, "PCIDEV": _pcidev,
}


def parse_line(text: str, n: int) -> Record:
    """One line (without its newline) as a record; ValueError saying why not."""
    head = text[:text.find(" ")] if " " in text else text
    fn = _BY_KEYWORD.get(head)
    if fn is not None:
        return fn(text.split(" "), n)
    if head == "MARK":
        return _mark(text, n)
    if head == "VERSION":
        t = text.split(" ")
        _count(t, 2, "VERSION")
        return Version(n, t[1])
    if text.startswith("#"):
        m = re.fullmatch(r"##### CPU (\d+) buffer started ####", text)
        return BufferStarted(n, int(m[1])) if m else Comment(n, text)
    if text.startswith("CPU:"):
        return _cpu_lost(text, n)
    if text == "[LINE TOO BIG]":
        return LineTooBig(n)
    if head in _KEYWORDS:
        raise ValueError(f"{head} line is malformed")
    return _ftrace(text, n)


# --- the stream ---------------------------------------------------------------------------------------


Source = Union[str, os.PathLike, BinaryIO, TextIO, Iterable[str], Iterable[bytes]]


def open_dump(source: Source) -> Iterator[str]:
    """Lines of a dump with their line endings, decoded so that any byte survives a round trip."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        with path.open("rb") as f:
            yield from open_dump(f)
        return
    for raw in source:  # type: ignore[union-attr]
        if isinstance(raw, bytes):
            # Marker text is whatever user space wrote: keep undecodable bytes as surrogates.
            yield raw.decode("utf-8", "surrogateescape")
        else:
            yield raw


class DumpParser:
    """Turns lines into records; see the module doc for strict and tolerant modes.

    ``problems`` keeps the first ``keep`` problems, ``problem_count`` counts
    all of them; ``on_problem`` (if given) sees every one as it is found.
    """

    def __init__(self, strict: bool = False, on_problem: Callable[[Problem], None] | None = None,
                 keep: int = 1000, keep_raw: bool = False) -> None:
        self.strict = strict
        self.keep_raw = keep_raw
        self.on_problem = on_problem
        self.keep = keep
        self.problems: list[Problem] = []
        self.problem_count = 0
        self.lines = 0
        #: Use the C tokenizer when it can be built (``FTRACE_MMIO_NATIVE=0`` or False: never).
        self.fast = True
        self._pending: Record | None = None              # a MARK (or ftrace line) that may continue
        self._wrapped: tuple[int, str] | None = None     # a short PCIDEV line waiting for its tail

    def _problem(self, line: int, message: str, text: str = "") -> None:
        p = Problem(line, message, text)
        if self.strict:
            raise DumpError(p)
        self.problem_count += 1
        if len(self.problems) < self.keep:
            self.problems.append(p)
        if self.on_problem is not None:
            self.on_problem(p)

    def _join_pcidev(self, first_line: int, first: str, n: int, text: str) -> PciDev | None:
        """A wrapped PCIDEV line and its tail, if ``text`` is one (tolerant mode only)."""
        if not text or text.startswith(_KEYWORDS_SP) or text.startswith(("#", "CPU:")):
            return None
        try:
            rec = _pcidev((first + " " + text).split(" "), first_line)
        except ValueError:
            return None
        self._problem(first_line, f"PCIDEV line wrapped onto line {n}; joined", first)
        if self.keep_raw:
            rec.raw = f"{first}\n{text}"
        return rec

    def _short_pcidev(self, n: int, text: str) -> Record:
        if len(text.split(" ")) == PCIDEV_TOKENS - 1:
            try:
                rec = _pcidev(text.split(" ") + [""], n)
            except ValueError:
                pass
            else:
                self._problem(n, "PCIDEV line with no driver lacks its trailing space", text)
                if self.keep_raw:
                    rec.raw = text
                return rec
        self._problem(n, "PCIDEV line is short of fields", text)
        return Garbage(n, text, raw=text if self.keep_raw else None)

    def parse(self, source: Source) -> Iterator[Record]:
        """The records of a dump, in order (see the module doc)."""
        for item in self.items(source):
            if type(item) is Batch:
                yield from item.records(self.keep_raw)
            else:
                yield item  # type: ignore[misc]

    def items(self, source: Source) -> Iterator[Record | Batch]:
        """Records, with runs of R/W lines as :class:`Batch` es where the C tokenizer read them.

        A batch is only valid until the next item is asked for (its arrays
        are reused). Without the C library every item is a record.
        """
        self._pending = None
        self._wrapped = None
        f, opened = _binary(source)
        lib = native.library() if (f is not None and self.fast) else None
        try:
            if lib is None:
                out: list[Record] = []
                for n, raw in enumerate(open_dump(f if f is not None else source), 1):
                    self.lines = n
                    self._step(n, raw, out)
                    if out:
                        yield from out
                        out.clear()
            else:
                yield from self._chunks(f, native.Tokenizer(lib, CHUNK_LINES))  # type: ignore[arg-type]
            out = []
            self._finish(out)
            yield from out
        finally:
            if opened:
                f.close()  # type: ignore[union-attr]

    def _chunks(self, f: BinaryIO, tok: native.Tokenizer) -> Iterator[Record | Batch]:
        n = 0                    # lines done
        buf, pos = b"", 0
        out: list[Record] = []
        step = self._step
        while True:
            data = f.read(CHUNK_BYTES)
            buf = buf[pos:] + data if data else buf[pos:]
            pos = 0
            while True:
                count, used, nslow = tok.run(buf, pos)
                if not count:
                    break
                slow = tok.slow
                i = 0
                for k in range(nslow + 1):
                    stop = slow[k] if k < nslow else count
                    while i < stop:
                        if self._pending is None and self._wrapped is None:
                            n += stop - i
                            self.lines = n
                            yield Batch(tok, i, stop, n - (stop - i) + 1, buf, pos)
                            i = stop
                            break
                        # A MARK may go on, or a PCIDEV wait for its tail: the line goes the slow way.
                        r = tok.recs[i]
                        n += 1
                        self.lines = n
                        step(n, buf[pos + r.start:pos + r.start + r.len + 1].decode("ascii"), out)
                        yield from out
                        out.clear()
                        i += 1
                    if k < nslow:
                        r = tok.recs[stop]
                        n += 1
                        self.lines = n
                        step(n, buf[pos + r.start:pos + r.start + r.len + 1].decode("utf-8", "surrogateescape"),
                             out)
                        if out:
                            yield from out
                            out.clear()
                        i = stop + 1
                pos += used
            if not data:
                break
        if pos < len(buf):
            # The last line, with no newline.
            n += 1
            self.lines = n
            step(n, buf[pos:].decode("utf-8", "surrogateescape"), out)
            yield from out

    def _step(self, n: int, raw: str, out: list[Record]) -> None:
        """One line (with its newline, if it had one): the records it completes go to ``out``."""
        if raw.endswith("\n"):
            text = raw[:-1]
        else:
            text = raw
            self._problem(n, "the last line has no newline (the dump was cut off?)", text)
        if text.endswith("\r"):
            self._problem(n, "CR-LF line ending", text)
            text = text[:-1]
        pending = self._pending
        if self._wrapped is not None:
            first_line, first = self._wrapped
            self._wrapped = None
            joined = self._join_pcidev(first_line, first, n, text)
            if joined is not None:
                out.append(joined)
                return
            out.append(self._short_pcidev(first_line, first))
        try:
            rec = parse_line(text, n)
        except ValueError as exc:
            if pending is not None and not text.startswith(_KEYWORDS_SP):
                # A marker's text went on past a newline: the kernel prints it bare.
                if isinstance(pending, Mark):
                    pending.text += "\n" + text
                else:
                    pending.body += "\n" + text   # type: ignore[attr-defined]
                if self.keep_raw:
                    pending.raw = f"{pending.raw}\n{text}"
                return
            if text.startswith("PCIDEV ") and not self.strict and len(text.split(" ")) < PCIDEV_TOKENS:
                # Short of fields: wrapped by a mail client, or its trailing space stripped.
                if pending is not None:
                    out.append(pending)
                    self._pending = None
                self._wrapped = (n, text)
                return
            self._problem(n, _foreign(text) or str(exc), text)
            rec = Garbage(n, text)
        if self.keep_raw:
            rec.raw = text
        if pending is not None:
            out.append(pending)
            self._pending = None
        if isinstance(rec, Mark) or (isinstance(rec, FtraceEvent) and rec.marker is not None):
            self._pending = rec
        else:
            out.append(rec)

    def _finish(self, out: list[Record]) -> None:
        if self._wrapped is not None:
            out.append(self._short_pcidev(*self._wrapped))
            self._wrapped = None
        if self._pending is not None:
            out.append(self._pending)
            self._pending = None


CHUNK_BYTES = 1 << 22
CHUNK_LINES = 1 << 16
_REC = struct.Struct(native.REC_FORMAT)


class Batch:
    """Consecutive R/W lines as the C tokenizer read them: records ``first_line`` onwards.

    ``recs`` (the tokenizer's array, indices ``start``..``stop``) is reused
    for the next chunk: use a batch before asking for the next item.
    """

    __slots__ = ("tok", "start", "stop", "first_line", "buf", "base")

    def __init__(self, tok: native.Tokenizer, start: int, stop: int, first_line: int, buf: bytes,
                 base: int) -> None:
        self.tok, self.start, self.stop, self.first_line, self.buf, self.base = tok, start, stop, first_line, buf, base

    def __len__(self) -> int:
        return self.stop - self.start

    @property
    def address(self) -> int:
        """Of the first ``struct fp_rec``."""
        return ctypes.addressof(self.tok.recs) + self.start * _REC.size

    def raw_bytes(self) -> bytes:
        """The records' ``struct fp_rec`` array, copied."""
        return ctypes.string_at(self.address, len(self) * _REC.size)

    def fields(self) -> Iterator[tuple[int, ...]]:
        """Per line: ts, phys, value, pc, length, map_id, pid, start, len, kind (1 R, 2 W), width.

        ``start`` is relative to ``buf[base:]``.
        """
        return _REC.iter_unpack(self.raw_bytes())

    def records(self, keep_raw: bool = False) -> Iterator[Access]:
        buf, base = self.buf, self.base
        for n, (ts, phys, value, pc, _length, map_id, pid, start, ln, kind, width) in enumerate(
                _REC.iter_unpack(self.raw_bytes()), self.first_line):
            rec = Access(n, "R" if kind == 1 else "W", width, ts, map_id, phys, value, pc, pid)
            if keep_raw:
                rec.raw = buf[base + start:base + start + ln].decode("ascii")
            yield rec


def _binary(source: Source) -> tuple[BinaryIO | None, bool]:
    """A binary file to read in chunks, and whether we opened it; (None, False) for line sources."""
    if isinstance(source, (str, os.PathLike)):
        return Path(source).open("rb"), True
    if isinstance(source, (io.RawIOBase, io.BufferedIOBase)):
        return source, False   # type: ignore[return-value]
    return None, False


_KEYWORDS_SP = tuple(k + " " for k in _KEYWORDS)

# Output of neighbouring tools, recognised so that the problem says what the file is.
_FOREIGN = (
    (re.compile(r"(?:got new mmap|changed mmap|removed mmap|[rw] \d+:0x[0-9a-f]+, )"),
     "valgrind-mmt text output, not mmiotrace"),
    (re.compile(r"(?:\[\d+\] \d+\.\d+ (?:MMIO|MEM)\d+|SLEEP \d+\.\d+ms)"),
     "envytools demmio output (already decoded), not mmiotrace"),
)


def _foreign(text: str) -> str | None:
    for pattern, what in _FOREIGN:
        if pattern.match(text):
            return what
    return None


def parse(source: Source, strict: bool = False,
          on_problem: Callable[[Problem], None] | None = None, keep_raw: bool = False) -> Iterator[Record]:
    """Records of a dump (a path, a binary or text file, or an iterable of lines)."""
    return DumpParser(strict, on_problem, keep_raw=keep_raw).parse(source)


def write_records(records: Iterable[Record], out: BinaryIO | TextIO) -> None:
    """Print records as the kernel does (``out`` binary: bytes come back exactly)."""
    binary = not isinstance(out, io.TextIOBase)
    for rec in records:
        text = rec.format()
        out.write(text.encode("utf-8", "surrogateescape") if binary else text)  # type: ignore[arg-type]
