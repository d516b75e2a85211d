"""``ftrace-mmio stats``: what a dump did, per device and register, in one pass.

Everything is counted while the dump streams by, so memory grows with the
number of registers touched, not with the dump: per register the reads,
writes, widths, distinct values (counted exactly up to ``DISTINCT_CAP``),
first and last time; the hottest registers; the polling loops; the gaps in
time; and every sign of lost events.

A polling loop is a driver waiting on hardware: the same register read over
and over (``while (!(readl(STATUS) & READY))``) until its value changes, or a
short cycle of reads repeated, e.g. a status register and a timer read for
the timeout, or the two halves of a 64-bit counter. The detector looks for
runs of reads, with no write in between, that repeat with a period of 1 to
``MAX_PERIOD`` registers at least ``min_iterations`` times.
"""

from __future__ import annotations

import ctypes
import heapq
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

from . import native
from .parse import (Access, Batch, CpuLost, DumpParser, Garbage, Lost, Map, Mark, PciDev, Problem, Record,
                    Source, Unknown, Unmap, format_ts)
from .resolve import Resolver, Where

__all__ = ["RegisterStats", "PollLoop", "LoopSlot", "Gap", "Loss", "DumpStats", "LoopDetector", "Timeline",
           "StatsCollector", "NativeStatsCollector", "make_collector", "collect", "DISTINCT_CAP", "MAX_PERIOD",
           "MAX_LOOPS"]

DISTINCT_CAP = 4096     # distinct values counted exactly per register; beyond that "more than"
MAX_PERIOD = 4
TOP_GAPS = 10
#: Polling loops kept in full; beyond that they are counted (a long trace may hold millions).
MAX_LOOPS = 10_000
PLOT_BINS = native.PLOT_BINS
_U64 = (1 << 64) - 1


@dataclass
class RegisterStats:
    device: str
    space: str
    offset: int
    name: str | None
    location: str
    reads: int = 0
    writes: int = 0
    unknown: int = 0
    widths: list[int] = field(default_factory=list)
    first_us: int = 0
    last_us: int = 0
    first_line: int = 0
    last_line: int = 0
    last_value: int | None = None
    _values: set[int] = field(default_factory=set, repr=False)
    distinct_overflow: bool = False
    _distinct: int | None = field(default=None, repr=False)    # counted by the C engine

    @property
    def key(self) -> tuple[str, str, int, str | None]:
        return (self.device, self.space, self.offset, self.name)

    @property
    def accesses(self) -> int:
        return self.reads + self.writes + self.unknown

    @property
    def distinct(self) -> int:
        return self._distinct if self._distinct is not None else len(self._values)

    @property
    def label(self) -> str:
        return f"{self.device} {self.name}" if self.name and self.device else (self.name or self.location)

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        d["distinct"] = self.distinct
        d["accesses"] = self.accesses
        return d


@dataclass
class LoopSlot:
    """One register of a polling loop's cycle."""

    label: str
    first_value: int
    last_value: int
    reads: int = 1
    same_before_change: int = 1       # reads that still saw the first value
    changed: bool = False

    def add(self, value: int) -> None:
        self.reads += 1
        if value != self.last_value:
            self.changed = True
        elif not self.changed:
            self.same_before_change += 1
        self.last_value = value

    def describe(self) -> str:
        if not self.changed:
            return f"{self.label} stayed {self.first_value:#x}"
        if self.same_before_change > 1:
            return f"{self.label} {self.first_value:#x} x{self.same_before_change} then {self.last_value:#x}"
        return f"{self.label} changed {self.first_value:#x}..{self.last_value:#x}"


@dataclass
class PollLoop:
    registers: list[str]
    iterations: int
    reads: int
    first_line: int
    last_line: int
    first_us: int
    last_us: int
    slots: list[LoopSlot] = field(default_factory=list)

    @property
    def duration_us(self) -> int:
        return self.last_us - self.first_us

    @property
    def changing(self) -> list[str]:
        return [s.label for s in self.slots if s.changed]

    def describe(self) -> str:
        # "nvlike PTIMER_TIME_1, nvlike PTIMER_TIME_0" reads better as "nvlike: PTIMER_TIME_1, PTIMER_TIME_0".
        device = self.registers[0].split(" ", 1)[0] + " "
        common = len(device) > 1 and all(r.startswith(device) and " " in r for r in self.registers)
        cut = len(device) if common else 0
        head = device[:-1] + ": " if common else ""
        regs = ", ".join(r[cut:] for r in self.registers)
        slots = "; ".join(s.describe()[cut:] for s in self.slots)
        return (f"lines {self.first_line}-{self.last_line}: {head}{regs}: {self.iterations} iterations, "
                f"{self.reads} reads in {self.duration_us} us; {slots}")

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["duration_us"] = self.duration_us
        d["changing"] = self.changing
        return d


@dataclass(order=True)
class Gap:
    gap_us: int
    line: int
    prev_line: int
    at_us: int


@dataclass
class Loss:
    line: int
    what: str           # "mmiotrace" (MARK ... Lost N events.) or "ring buffer cpuN"
    count: int | None
    at_us: int | None = None   # time of the last event before the report (the report has none)


class _Candidate:
    __slots__ = ("period", "streak", "start_line", "start_us", "slots", "last_line", "last_us")

    def __init__(self, period: int) -> None:
        self.period = period
        self.streak = 0


class LoopDetector:
    """Finds polling loops in a stream of reads (see the module doc).

    Call ``read`` for every read, ``interrupt`` for anything that ends a
    loop (a write, a map change, lost events), ``finish`` at the end.
    """

    def __init__(self, min_iterations: int = 3, max_period: int = MAX_PERIOD,
                 on_loop: Callable[[list[Any], int, int], None] | None = None) -> None:
        self.min_iterations = min_iterations
        self.max_period = max_period
        self.on_loop = on_loop      # (keys, first_us, last_us) of every loop found
        self.loops: list[PollLoop] = []      # the first MAX_LOOPS
        self.count = 0
        # The last reads: (key, label, value, ts, line)
        self._hist: deque[tuple[Any, str, int, int, int]] = deque(maxlen=max_period)
        self._cands = [_Candidate(p) for p in range(1, max_period + 1)]

    def read(self, key: Any, label: str, value: int, ts: int, line: int) -> None:
        hist = self._hist
        for c in self._cands:
            p = c.period
            if len(hist) >= p and hist[-p][0] == key:
                if c.streak == 0:
                    # The first iteration is the p reads before this one.
                    first = list(hist)[-p:]
                    c.start_line, c.start_us = first[0][4], first[0][3]
                    c.slots = [(e[0], LoopSlot(e[1], e[2], e[2])) for e in first]
                c.slots[c.streak % p][1].add(value)
                c.streak += 1
                c.last_line, c.last_us = line, ts
            elif c.streak:
                self._close(c)
        hist.append((key, label, value, ts, line))

    def interrupt(self) -> None:
        for c in self._cands:
            if c.streak:
                self._close(c)
        self._hist.clear()

    finish = interrupt

    def _close(self, c: _Candidate) -> None:
        p, streak = c.period, c.streak
        c.streak = 0
        iterations = (streak + p) // p
        if iterations < self.min_iterations:
            return
        keys = [k for k, _ in c.slots]
        # A cycle that repeats within itself is a shorter loop, reported by its own period.
        for d in range(1, p):
            if p % d == 0 and all(keys[i] == keys[i % d] for i in range(p)):
                return
        self.count += 1
        if self.on_loop is not None:
            self.on_loop(keys, c.start_us, c.last_us)
        if len(self.loops) >= MAX_LOOPS:
            return
        slots = [s for _, s in c.slots]
        self.loops.append(PollLoop([s.label for s in slots], iterations, streak + p, c.start_line,
                                   c.last_line, c.start_us, c.last_us, slots))


@dataclass
class DumpStats:
    source: str = ""
    lines: int = 0
    records: dict[str, int] = field(default_factory=dict)
    devices: list[dict[str, Any]] = field(default_factory=list)
    registers: dict[tuple[str, str, int, str | None], RegisterStats] = field(default_factory=dict)
    loops: list[PollLoop] = field(default_factory=list)
    loop_count: int = 0                                     # loops found (only MAX_LOOPS are kept)
    gaps: list[Gap] = field(default_factory=list)          # the largest, largest first
    gap_threshold_us: int = 100
    gaps_over_threshold: int = 0
    losses: list[Loss] = field(default_factory=list)
    lost_events: int = 0
    first_us: int | None = None
    last_us: int | None = None
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0

    @property
    def span_us(self) -> int:
        return (self.last_us - self.first_us) if self.first_us is not None else 0

    def hot(self, n: int = 10) -> list[RegisterStats]:
        return sorted(self.registers.values(), key=lambda r: (-r.accesses, r.first_line))[:n]

    def by_register(self) -> list[RegisterStats]:
        return sorted(self.registers.values(), key=lambda r: (r.device, r.space, r.offset, r.name or ""))

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "lines": self.lines, "records": self.records,
            "first_us": self.first_us, "last_us": self.last_us, "span_us": self.span_us,
            "devices": self.devices,
            "registers": [r.as_dict() for r in self.by_register()],
            "hot": [r.label for r in self.hot()],
            "loops": [lp.as_dict() for lp in self.loops], "loop_count": self.loop_count,
            "gaps": {"threshold_us": self.gap_threshold_us, "over_threshold": self.gaps_over_threshold,
                     "largest": [asdict(g) for g in self.gaps]},
            "losses": [asdict(x) for x in self.losses], "lost_events": self.lost_events,
            "problems": [str(p) for p in self.problems], "problem_count": self.problem_count,
        }

    def render(self) -> str:
        out: list[str] = []
        span = (f"{format_ts(self.first_us)} .. {format_ts(self.last_us)} ({self.span_us} us)"
                if self.first_us is not None else "no timestamps")
        counts = ", ".join(f"{v} {k}" for k, v in sorted(self.records.items()))
        out.append(f"{self.source}: {self.lines} lines; {counts}; {span}")
        if self.problem_count:
            out.append(f"{self.problem_count} unreadable or damaged lines (first: {self.problems[0]})")
        if self.losses:
            out.append(f"LOST EVENTS: {self.lost_events or '?'} in {len(self.losses)} reports:")
            out += [f"  line {x.line}: {x.what} lost {x.count if x.count is not None else 'some'} events"
                    for x in self.losses]
        else:
            out.append("lost events: none reported")
        out.append("")
        out.append("devices:")
        if not self.devices:
            out.append("  (no PCIDEV lines)")
        quiet = [d for d in self.devices if not d["accesses"]]
        for d in self.devices:
            if not d["accesses"]:
                continue
            out.append(f"  {d['name']:<16} {d['slot']} {d['ids']}  {d['accesses']} accesses  "
                       + "  ".join(f"{b['bar']} {b['start']:#x}+{b['size']:#x}" for b in d["bars"]))
        if quiet:
            out.append(f"  ({len(quiet)} more with no accesses: {', '.join(d['name'] for d in quiet)})")
        out.append("")
        out.append("registers:")
        rows = [("where", "register", "R", "W", "values", "first", "last", "lines")]
        for r in self.by_register():
            distinct = f">{r.distinct}" if r.distinct_overflow else str(r.distinct)
            rows.append((r.location, r.name or "-", str(r.reads), str(r.writes), distinct,
                         format_ts(r.first_us), format_ts(r.last_us), f"{r.first_line}-{r.last_line}"))
        out += _table(rows)
        out.append("")
        out.append("hot registers:")
        for r in self.hot(5):
            out.append(f"  {r.accesses:>8}  {r.label}")
        out.append("")
        if self.loops:
            more = f" (the first {len(self.loops)} listed)" if self.loop_count > len(self.loops) else ""
            out.append(f"polling loops: {self.loop_count}{more}")
            out += [f"  {lp.describe()}" for lp in self.loops]
        else:
            out.append("polling loops: none")
        out.append("")
        out.append(f"gaps: {self.gaps_over_threshold} of {self.gap_threshold_us} us or more; largest:")
        out += [f"  {g.gap_us:>8} us before line {g.line} (after line {g.prev_line}, at {format_ts(g.at_us)})"
                for g in self.gaps[:5]]
        return "\n".join(out) + "\n"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    right = {2, 3, 4}
    return ["  " + "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
            for r in rows]


class Timeline:
    """Where each register was accessed, in at most ``bins`` time bins per row (for the plot).

    Bin b covers ``[t0 + b*width, t0 + (b+1)*width)``, ``t0`` the first
    access; when an access falls past the last bin, the width doubles (bins
    2k and 2k+1 become bin k) until it fits. A row is three sets of bins
    (reads, writes, UNKNOWN), so memory is bounded per register whatever the
    dump's length, and every access still shows as a tick where it was.
    """

    KINDS = ("R", "W", "U", "L")     # L: inside a polling loop

    def __init__(self, bins: int = PLOT_BINS) -> None:
        self.bins = bins
        self.t0: int | None = None
        self.width = 1
        self.rows: dict[tuple[str, str, int, str | None], tuple[set[int], ...]] = {}

    def add(self, key: tuple[str, str, int, str | None], ts: int, kind: int) -> None:
        """kind: 0 read, 1 write, 2 UNKNOWN."""
        if self.t0 is None:
            self.t0 = ts
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = (set(), set(), set(), set())
        off = ts - self.t0 if ts >= self.t0 else 0
        # The width stops doubling at 2**52 us (as in fastparse.c, where it must not overflow).
        while off >= self.width * self.bins and self.width < 1 << 52:
            self._halve()
            row = self.rows[key]
        row[kind].add(min(off // self.width, self.bins - 1))

    def span(self, key: tuple[str, str, int, str | None], first: int, last: int) -> None:
        """A polling loop's time on a register's row (within the range already seen)."""
        row = self.rows.get(key)
        if row is None or self.t0 is None:
            return
        a = (first - self.t0 if first >= self.t0 else 0) // self.width
        b = min((last - self.t0 if last >= self.t0 else 0) // self.width, self.bins - 1)
        row[3].update(range(a, b + 1))

    def spans(self, key: tuple[str, str, int, str | None]) -> list[tuple[float, float]]:
        """(start, length) in microseconds of each run of loop bins of a row."""
        row = self.rows.get(key)
        if row is None or self.t0 is None:
            return []
        out: list[tuple[float, float]] = []
        for b in sorted(row[3]):
            start = self.t0 + b * self.width
            if out and out[-1][0] + out[-1][1] == start:
                out[-1] = (out[-1][0], out[-1][1] + self.width)
            else:
                out.append((start, self.width))
        return out

    def _halve(self) -> None:
        for key, r in self.rows.items():
            self.rows[key] = tuple({b >> 1 for b in x} for x in r)   # type: ignore[assignment]
        self.width *= 2

    def times(self, key: tuple[str, str, int, str | None], kind: str) -> list[float]:
        """The middle of each bin of a row with accesses of that kind (microseconds)."""
        row = self.rows.get(key)
        if row is None or self.t0 is None:
            return []
        return [self.t0 + (b + 0.5) * self.width for b in sorted(row[self.KINDS.index(kind)])]


class StatsCollector:
    """Feeds records through a resolver into the counters of a :class:`DumpStats`.

    The pure-Python engine; :class:`NativeStatsCollector` counts the same in
    C. ``plot`` keeps a :class:`Timeline` (``self.timeline``).
    """

    def __init__(self, resolver: Resolver, gap_threshold_us: int = 100, min_iterations: int = 3,
                 on_access: Callable[[Record, Where, RegisterStats], None] | None = None,
                 plot: bool = False) -> None:
        self.resolver = resolver
        self.stats = DumpStats(gap_threshold_us=gap_threshold_us)
        self.loops = LoopDetector(min_iterations)
        self.on_access = on_access
        self.timeline = Timeline() if plot else None
        if self.timeline is not None:
            timeline = self.timeline
            self.loops.on_loop = lambda keys, first, last: [timeline.span(k, first, last) for k in keys]
        self._prev: tuple[int, int] | None = None   # (ts, line) of the previous timed record
        self._gaps: list[Gap] = []

    def _register(self, where: Where, kind: str | None, rec: Record, ts: int) -> RegisterStats:
        # A read-only and a write-only register may share an offset: each has its own row.
        name = where.register(kind)
        key = (*where.key, name)
        r = self.stats.registers.get(key)
        if r is None:
            r = self.stats.registers[key] = RegisterStats(
                where.device, where.space, where.offset, name, where.location,
                first_us=ts, first_line=rec.line)
        r.last_us, r.last_line = ts, rec.line
        return r

    def _time(self, ts: int, line: int) -> None:
        s = self.stats
        if s.first_us is None:
            s.first_us = ts
        s.last_us = ts if s.last_us is None else max(s.last_us, ts)
        if self._prev is not None:
            gap = ts - self._prev[0]
            if gap >= s.gap_threshold_us:
                s.gaps_over_threshold += 1
            g = Gap(gap, line, self._prev[1], ts)
            if len(self._gaps) < TOP_GAPS:
                heapq.heappush(self._gaps, g)
            elif gap > self._gaps[0].gap_us:
                heapq.heapreplace(self._gaps, g)
        self._prev = (ts, line)

    def feed(self, rec: Record) -> None:
        s = self.stats
        s.records[rec.kind] = s.records.get(rec.kind, 0) + 1
        self.resolver.feed(rec)
        if isinstance(rec, Access):
            self._time(rec.ts_us, rec.line)
            where = self.resolver.where(rec.phys, rec.map_id)
            r = self._register(where, rec.op, rec, rec.ts_us)
            if rec.op == "R":
                r.reads += 1
                self.loops.read(r.key, r.label, rec.value, rec.ts_us, rec.line)
            else:
                r.writes += 1
                self.loops.interrupt()
            if rec.width not in r.widths:
                r.widths.append(rec.width)
            if len(r._values) < DISTINCT_CAP:
                r._values.add(rec.value)
            elif rec.value not in r._values:
                r.distinct_overflow = True
            r.last_value = rec.value
            if self.on_access is not None:
                self.on_access(rec, where, r)
            if self.timeline is not None:
                self.timeline.add(r.key, rec.ts_us, rec.op == "W")
        elif isinstance(rec, Unknown):
            self._time(rec.ts_us, rec.line)
            where = self.resolver.where(rec.phys, rec.map_id)
            r = self._register(where, None, rec, rec.ts_us)
            r.unknown += 1
            self.loops.interrupt()
            if self.on_access is not None:
                self.on_access(rec, where, r)
            if self.timeline is not None:
                self.timeline.add(r.key, rec.ts_us, 2)
        elif isinstance(rec, (Map, Unmap)):
            self._time(rec.ts_us, rec.line)
            self.loops.interrupt()
        elif isinstance(rec, Mark):
            self._time(rec.ts_us, rec.line)
        elif isinstance(rec, Lost):
            s.losses.append(Loss(rec.line, "mmiotrace", rec.count, self._prev and self._prev[0]))
            s.lost_events += rec.count
            self.loops.interrupt()
        elif isinstance(rec, CpuLost):
            s.losses.append(Loss(rec.line, f"ring buffer cpu{rec.cpu}", rec.count, self._prev and self._prev[0]))
            s.lost_events += rec.count or 0
            self.loops.interrupt()
        elif isinstance(rec, Garbage):
            self.loops.interrupt()

    def feed_item(self, item: Record | Batch) -> None:
        """A record, or a batch of them (DumpParser.items)."""
        if type(item) is Batch:
            for rec in item.records():   # type: ignore[union-attr]
                self.feed(rec)
        else:
            self.feed(item)   # type: ignore[arg-type]

    def finish(self) -> DumpStats:
        s = self.stats
        self.loops.finish()
        s.loops = self.loops.loops
        s.loop_count = self.loops.count
        s.gaps = sorted(self._gaps, reverse=True)
        self._devices()
        return s

    def _devices(self) -> None:
        s = self.stats
        per_device: dict[str, int] = {}
        for r in s.registers.values():
            per_device[r.device] = per_device.get(r.device, 0) + r.accesses
        s.devices = [{"name": d.name, "slot": d.pcidev.slot, "ids": d.pcidev.ids,
                      "driver": d.pcidev.driver, "accesses": per_device.get(d.name, 0),
                      "regmaps": {f"BAR{i}": m.__name__ for i, m in (d.maps.bars.items() if d.maps else ())},
                      "bars": [{"bar": b.name, "start": b.start, "size": b.size} for b in d.bars]}
                     for d in self.resolver.devices]


class NativeStatsCollector(StatsCollector):
    """The same counting, with the per-access work in fastparse.c.

    Python still says which register an address is (the resolver, once per
    address, map id and R/W between two changes of the mappings) and handles
    every record that is not an R/W line of a batch; C counts the accesses,
    finds the polling loops, the gaps and the plot's bins.
    """

    def __init__(self, resolver: Resolver, gap_threshold_us: int = 100, min_iterations: int = 3,
                 plot: bool = False, lib=None) -> None:
        super().__init__(resolver, gap_threshold_us, min_iterations)
        self.lib = lib or native.library()
        if self.lib is None:
            raise RuntimeError("fastparse.c is not available")
        self.ctx = self.lib.fp_stats_new(min_iterations, gap_threshold_us, int(plot))
        if not self.ctx:
            raise MemoryError("fp_stats_new")
        self.plot = plot
        self.rows: list[RegisterStats] = []
        self._ids: dict[tuple[str, str, int, str | None], int] = {}
        self._loopbuf = (native.FpLoop * 1024)()
        self._batch_rw = 0
        self._fed = 0

    def __del__(self) -> None:
        ctx, self.ctx = getattr(self, "ctx", None), None
        if ctx:
            self.lib.fp_stats_free(ctx)

    def _reg_id(self, where: Where, kind: str | None, line: int, ts: int) -> int:
        name = where.register(kind)
        key = (*where.key, name)
        rid = self._ids.get(key)
        if rid is None:
            r = self.stats.registers[key] = RegisterStats(
                where.device, where.space, where.offset, name, where.location, first_us=ts, first_line=line)
            rid = self._ids[key] = self.lib.fp_stats_new_reg(self.ctx)
            if rid < 0:
                raise MemoryError("fp_stats_new_reg")
            self.rows.append(r)
        return rid

    def feed_item(self, item: Record | Batch) -> None:
        if type(item) is not Batch:
            self.feed(item)   # type: ignore[arg-type]
            return
        b: Batch = item   # type: ignore[assignment]
        lib, ctx = self.lib, self.ctx
        self.stats.records.setdefault("RW", 0)
        self._batch_rw += len(b)
        base, n, done, size = b.address, len(b), 0, ctypes.sizeof(native.FpRec)
        while True:
            done += lib.fp_stats_feed(ctx, base + done * size, n - done, b.first_line + done)
            if done >= n:
                break
            # An address not seen since the mappings last changed: the resolver names it.
            r = native.FpRec.from_address(base + done * size)
            op = "R" if r.kind == native.K_R else "W"
            rid = self._reg_id(self.resolver.where(r.phys, r.map_id), op, b.first_line + done, r.ts)
            if lib.fp_stats_set_key(ctx, r.phys, r.map_id, r.kind, rid):
                raise MemoryError("fp_stats_set_key")
        self._take_loops()

    def feed(self, rec: Record) -> None:
        s, lib, ctx = self.stats, self.lib, self.ctx
        s.records[rec.kind] = s.records.get(rec.kind, 0) + 1
        self.resolver.feed(rec)
        if isinstance(rec, Access):
            rid = self._reg_id(self.resolver.where(rec.phys, rec.map_id), rec.op, rec.line, rec.ts_us)
            lib.fp_stats_access(ctx, rid, rec.op == "W", rec.width, rec.ts_us, rec.line, rec.value & _U64)
        elif isinstance(rec, Unknown):
            lib.fp_stats_time(ctx, rec.ts_us, rec.line)
            rid = self._reg_id(self.resolver.where(rec.phys, rec.map_id), None, rec.line, rec.ts_us)
            lib.fp_stats_unknown(ctx, rid, rec.ts_us, rec.line)
        elif isinstance(rec, (Map, Unmap)):
            lib.fp_stats_time(ctx, rec.ts_us, rec.line)
            lib.fp_stats_interrupt(ctx)
            lib.fp_stats_clear_keys(ctx)
        elif isinstance(rec, PciDev):
            lib.fp_stats_clear_keys(ctx)
        elif isinstance(rec, Mark):
            lib.fp_stats_time(ctx, rec.ts_us, rec.line)
        elif isinstance(rec, (Lost, CpuLost)):
            summary = self._summary()
            at = summary.prev_ts if summary.has_prev else None
            what = "mmiotrace" if isinstance(rec, Lost) else f"ring buffer cpu{rec.cpu}"
            s.losses.append(Loss(rec.line, what, rec.count, at))
            s.lost_events += rec.count or 0
            lib.fp_stats_interrupt(ctx)
        elif isinstance(rec, Garbage):
            lib.fp_stats_interrupt(ctx)
        self._fed += 1
        if self._fed % 4096 == 0:
            self._take_loops()

    def _summary(self) -> native.FpSummary:
        out = native.FpSummary()
        self.lib.fp_stats_summary(self.ctx, ctypes.byref(out))
        return out

    def _take_loops(self) -> None:
        buf = self._loopbuf
        while True:
            n = self.lib.fp_stats_take_loops(self.ctx, ctypes.addressof(buf), len(buf))
            det = self.loops
            for i in range(n):
                det.count += 1
                if len(det.loops) >= MAX_LOOPS:
                    continue
                lp = buf[i]
                slots = []
                for k in range(lp.period):
                    sl = lp.slots[k]
                    slot = LoopSlot(self.rows[sl.key].label, sl.first_value, sl.last_value, sl.reads, sl.same,
                                    bool(sl.changed))
                    slots.append(slot)
                det.loops.append(PollLoop([x.label for x in slots], lp.iterations, lp.reads, lp.first_line,
                                          lp.last_line, lp.first_us, lp.last_us, slots))
            if n < len(buf):
                return

    def finish(self) -> DumpStats:
        s, lib, ctx = self.stats, self.lib, self.ctx
        lib.fp_stats_interrupt(ctx)
        self._take_loops()
        s.loops = self.loops.loops
        s.loop_count = self.loops.count
        if self._batch_rw:
            s.records["RW"] += self._batch_rw
        for rid, r in enumerate(self.rows):
            c = lib.fp_stats_reg(ctx, rid).contents
            r.reads, r.writes, r.unknown = c.reads, c.writes, c.unknown
            r.widths = [c.widths >> (8 * i) & 0xFF for i in range(c.nwidths)]
            r.last_us, r.last_line = c.last_us, c.last_line
            r.last_value = c.last_value if c.has_last_value else None
            r._distinct = c.nvalues
            r.distinct_overflow = bool(c.overflow & 1)
        summary = self._summary()
        if summary.has_first:
            s.first_us, s.last_us = summary.first_us, summary.last_us
        gaps = (native.FpGap * max(summary.ngaps, 1))()
        lib.fp_stats_gaps(ctx, ctypes.addressof(gaps))
        s.gaps = sorted((Gap(g.gap, g.line, g.prev_line, g.at_us) for g in gaps[:summary.ngaps]), reverse=True)
        s.gaps_over_threshold = summary.gaps_over
        if self.plot:
            self.timeline = self._timeline(summary)
        self._devices()
        return s

    def _timeline(self, summary: native.FpSummary) -> Timeline:
        t = Timeline()
        if summary.has_t0:
            t.t0, t.width = summary.t0, summary.binw
        nbytes = PLOT_BINS // 8
        for rid, r in enumerate(self.rows):
            c = self.lib.fp_stats_reg(self.ctx, rid).contents
            if not c.bins:
                continue
            raw = ctypes.string_at(c.bins, 4 * nbytes)
            t.rows[r.key] = tuple(_bits(int.from_bytes(raw[k * nbytes:(k + 1) * nbytes], "little"))
                                  for k in range(4))
        return t


def _bits(x: int) -> set[int]:
    """The positions of the set bits of x."""
    out = set()
    while x:
        low = x & -x
        out.add(low.bit_length() - 1)
        x ^= low
    return out


def make_collector(resolver: Resolver, gap_threshold_us: int = 100, min_iterations: int = 3, *,
                   plot: bool = False, engine: str = "auto") -> StatsCollector:
    """The C engine when it can be built (``engine="auto"``/``"native"``), else the Python one."""
    if engine != "python" and native.library() is not None:
        return NativeStatsCollector(resolver, gap_threshold_us, min_iterations, plot)
    if engine == "native":
        raise RuntimeError("fastparse.c is not available (no gcc, or FTRACE_MMIO_NATIVE=0)")
    return StatsCollector(resolver, gap_threshold_us, min_iterations, plot=plot)


def collect(source: Source | Iterable[Record], resolver: Resolver | None = None, *,
            gap_threshold_us: int = 100, min_iterations: int = 3, strict: bool = False,
            on_problem: Callable[[Problem], None] | None = None, name: str = "",
            engine: str = "auto") -> DumpStats:
    """Statistics of a dump (a path or lines), or of records already parsed."""
    collector = make_collector(resolver or Resolver(), gap_threshold_us, min_iterations, engine=engine)
    parser = None
    if isinstance(source, (list, tuple)) and source and isinstance(source[0], Record):
        items: Iterable[Record | Batch] = source
    else:
        parser = DumpParser(strict, on_problem)
        parser.fast = engine != "python"
        items = parser.items(source)  # type: ignore[arg-type]
    for item in items:
        collector.feed_item(item)
    stats = collector.finish()
    stats.source = name or (str(source) if isinstance(source, (str, bytes)) or hasattr(source, "__fspath__") else "")
    if parser is not None:
        stats.lines = parser.lines
        stats.problems = parser.problems
        stats.problem_count = parser.problem_count
    return stats
