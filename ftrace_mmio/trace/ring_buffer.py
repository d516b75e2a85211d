"""The per-CPU ring buffer: sub-buffer pages, overwrite or drop, and readers.

The model follows the kernel's ring buffer closely enough that its counters
come out the same:

* Each CPU owns a ring of ``nr_pages`` sub-buffers of ``subbuf_data`` bytes
  (4080 with 4 KiB sub-buffers). Entries are packed by their kernel byte size
  and never span two pages; a gap of 2^27 ns or more since the previous event
  on the same page costs an 8-byte time-extend record first.
* When the writer needs a new page and the ring is full, overwrite mode
  discards the whole oldest page (its entries count as ``overrun``); drop mode
  refuses the new entry (``dropped``) and the commit returns False.
* A consuming reader takes a page out of the ring (the "reader page") and
  reads it at leisure, so while it holds one the buffer keeps nr_pages + 1
  pages of data. If the writer was on that page it keeps filling it. Overruns
  that happened since the reader last took a page are reported with the first
  entry of the next page it takes: that is the ``[LOST n EVENTS]`` count.
* Non-consuming readers take a snapshot: which entries each page held at that
  moment. Pages are never reused, so a snapshot stays valid however much the
  writer overwrites afterwards.

One lock guards everything, with one condition variable that blocked
readers wait on. Commit does no formatting and wakes nobody unless a reader
is waiting.
"""

from __future__ import annotations

import errno
import heapq
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Protocol

from .entries import TIME_DELTA_LIMIT, TIME_EXTEND_SIZE, Entry, PrintEntry, decode_entry, lat_bits
from .page import (
    TRACING_MARK_WRITE_IP,
    MAX_SMALL_DATA,
    MISSED_EVENTS,
    MISSED_STORED,
    PAGE_HEADER,
    TS_MASK,
    TS_SHIFT,
    TYPE_TIME_EXTEND,
    TYPE_TIME_STAMP,
)
from .rbnative import KpFormat, KpWrite, write_rw


class BulkLines(Protocol):
    """Formats a run of events of a page into text lines (output.MmioLines,
    output.PrintLines): ``f`` is set up by the caller; ``__call__`` formats
    from ``f.off`` and updates it."""

    f: KpFormat

    def __call__(self, data: bytearray, cpu: int) -> bytes: ...

SUBBUF_SIZE = 4096
# How often a waiting reader looks at a feeder (RingBuffer.feeder).
FEEDER_POLL_S = 0.05
# Each sub-buffer starts with a timestamp and a commit count.
SUBBUF_HEADER = 16
MIN_PAGES = 2


def pages_for(nbytes: int, subbuf_data: int = SUBBUF_SIZE - SUBBUF_HEADER) -> int:
    """Sub-buffers needed for ``nbytes`` of data (at least two)."""
    return max(MIN_PAGES, -(-nbytes // subbuf_data))


class _Page:
    """One sub-buffer: its data area in the kernel's binary layout (page.py).

    ``objs`` keeps the Python entries committed as objects, by the offset of
    their event: readers hand those back as they were committed (tracers'
    own entry types, test entries); the engines' records exist only as bytes.
    """

    __slots__ = ("data", "used", "ts", "last", "count", "objs", "pending")

    def __init__(self, ts: int, nbytes: int) -> None:
        self.data = bytearray(nbytes)
        self.used = 0
        self.ts = ts
        self.last = ts  # time of the last event
        self.count = 0
        self.objs: dict[int, Entry] | None = None
        # Some object entries' records are not written yet (see _put).
        self.pending = False

    def write_pending(self) -> None:
        """Write the records of object entries not written yet (for read_page)."""
        if not self.pending:
            return
        objs = self.objs
        assert objs is not None
        data = self.data
        for off, entry in objs.items():
            word = _u32(data, off)[0]
            start, room = (off + 4, (word & 31) * 4) if word & 31 else (off + 8, _u32(data, off + 4)[0] - 4)
            record = entry.record()[:room]
            data[start:start + len(record)] = record
        self.pending = False


_u32 = struct.Struct("<I").unpack_from
TRACE_PRINT = 5
TRACE_MMIO_RW = 7
TRACE_MMIO_MAP = 8


# The largest event whose length its header word holds.
_SMALL_EVENT = MAX_SMALL_DATA + 4
_HDR2 = struct.Struct("<II").pack_into
_HDR1 = struct.Struct("<I").pack_into
_PRINT_HEAD = struct.Struct("<HBBiQ").pack_into


def _event_at(data: bytearray, off: int, ts: int) -> tuple[int, int, int]:
    """(offset of the event at ``off`` past its time extend, its end, its time)."""
    word = _u32(data, off)[0]
    tl = word & 31
    if tl == TYPE_TIME_EXTEND or tl == TYPE_TIME_STAMP:
        t = (word >> 5) | _u32(data, off + 4)[0] << TS_SHIFT
        ts = ts + t if tl == TYPE_TIME_EXTEND else t
        off += TIME_EXTEND_SIZE
        word = _u32(data, off)[0]
        tl = word & 31
    ts += word >> 5
    if tl == 0:
        return off, off + _u32(data, off + 4)[0] + 4, ts
    return off, off + 4 + tl * 4, ts


def _write_sized(data: bytearray, off: int, delta: int, record: bytes, size: int) -> None:
    """An event of exactly ``size`` bytes at ``off`` (a multiple of 4, at least 8)."""
    if size - 4 <= MAX_SMALL_DATA:
        _HDR1(data, off, (size - 4) // 4 | delta << 5)
        start, room = off + 4, size - 4
    else:
        _HDR2(data, off, delta << 5, size - 4)
        start, room = off + 8, size - 8
    record = record[:room]
    data[start:start + len(record)] = record


def _materialize(page: _Page, eo: int, end: int, ts: int, cpu: int) -> Entry:
    objs = page.objs
    if objs is not None:
        entry = objs.get(eo)
        if entry is not None:
            return entry
    entry = decode_entry(page.data, eo, end, ts)
    entry.cpu = cpu
    return entry


@dataclass(frozen=True, slots=True)
class CpuStats:
    """The counters behind per_cpu/cpuN/stats."""

    entries: int
    overrun: int
    commit_overrun: int
    bytes: int
    oldest_ts: int
    dropped: int
    read: int


class _CpuBuffer:
    __slots__ = (
        "cpu", "nr_pages", "ring", "tail", "reader", "roff", "rts", "ridx", "peeked", "last_ts",
        "entries", "overrun", "bytes", "dropped", "read_events",
        "last_overrun", "lost", "kept_oldest_ts", "disabled", "has_reader",
    )

    def __init__(self, cpu: int, nr_pages: int) -> None:
        self.cpu = cpu
        self.nr_pages = nr_pages
        # Pages holding data, oldest (the kernel's head page) first. The tail
        # page, the one being written, is the last one, unless the reader has
        # taken it: then ``tail is reader`` and the ring is empty.
        self.ring: deque[_Page] = deque()
        self.tail: _Page | None = None
        self.reader: _Page | None = None
        # The reader's place on its page: byte offset, time of the event
        # before it, events read.
        self.roff = 0
        self.rts = 0
        self.ridx = 0
        # What the last peek returned: (entry, page, roff, end, ts).
        self.peeked: tuple[Entry, _Page, int, int, int] | None = None
        self.last_ts = 0
        self.entries = 0
        self.overrun = 0
        self.bytes = 0
        self.dropped = 0
        self.read_events = 0
        self.last_overrun = 0
        self.lost = 0
        self.kept_oldest_ts = 0
        self.disabled = False
        self.has_reader = False

    # -- writer ------------------------------------------------------------

    def write(self, entry: Entry, overwrite: bool, subbuf_data: int) -> bool:
        size = entry.size
        ts = entry.ts
        if ts < self.last_ts:
            # Never backwards on one CPU (the page stores deltas): the
            # kernel's writer does the same.
            ts = entry.ts = self.last_ts
        page = self.tail
        if page is not None:
            extend = TIME_EXTEND_SIZE if ts - self.last_ts >= TIME_DELTA_LIMIT else 0
            if page.used + extend + size <= subbuf_data:
                self._put(page, entry, ts, size, extend)
                return True
        if size > subbuf_data:
            self.dropped += 1
            return False
        if not self._new_page(ts, overwrite, subbuf_data):
            self.dropped += 1
            return False
        assert self.tail is not None
        self._put(self.tail, entry, ts, size, 0)
        return True

    def _new_page(self, ts: int, overwrite: bool, subbuf_data: int) -> bool:
        ring = self.ring
        if len(ring) >= self.nr_pages:
            if not overwrite:
                return False
            self._evict_oldest()
        page = _Page(ts, subbuf_data)
        ring.append(page)
        self.tail = page
        return True

    def _put(self, page: _Page, entry: Entry, ts: int, size: int, extend: int) -> None:
        off = page.used
        data = page.data
        delta = ts - self.last_ts if page.count else 0
        if extend:
            _HDR2(data, off, TYPE_TIME_EXTEND | (delta & TS_MASK) << 5, delta >> TS_SHIFT)
            off += TIME_EXTEND_SIZE
            delta = 0
        elif delta < 0:
            delta = 0
        objs = page.objs
        if objs is None:
            objs = page.objs = {}
        objs[off] = entry
        etype = entry.type
        if etype == TRACE_MMIO_RW or etype == TRACE_MMIO_MAP or etype == TRACE_PRINT:
            # Formatted from the page by the bulk paths: the record now.
            _write_sized(data, off, delta, entry.record(), size)
        else:
            # Only readers of binary pages (read_page) need the record;
            # readers of text use the object: the header now (it is how
            # the page is walked; a zero type stops the bulk formatter),
            # the record on demand.
            _write_sized(data, off, delta, b"", size)
            page.pending = True
        page.used = off + size
        page.last = ts
        page.count += 1
        self.entries += 1
        self.bytes += size + extend
        self.last_ts = ts

    def write_records(self, raw: bytes, n: int, offset: int, pid: int, overwrite: bool,
                      subbuf_data: int) -> int:
        """The engines' records (rbnative.RECORD each) as mmiotrace_rw events; how many went in."""
        w = KpWrite()
        w.cap = subbuf_data
        i = 0
        page = self.tail
        while i < n:
            if page is not None:
                w.used, w.last_ts, w.count = page.used, self.last_ts, page.count
                k = write_rw(page.data, w, raw, i, n - i, offset, pid)
                if k:
                    if not page.count:
                        page.ts = w.page_ts
                    page.used, page.count, page.last = w.used, w.count, w.last_ts
                    self.entries += k
                    self.bytes += w.bytes
                    self.last_ts = w.last_ts
                    i += k
                    if i == n:
                        break
            if not self._new_page(0, overwrite, subbuf_data):
                self.dropped += n - i
                break
            page = self.tail
        return i

    def _evict_oldest(self) -> None:
        old = self.ring.popleft()
        self.overrun += old.count
        self.entries -= old.count
        self.bytes -= old.used
        if old is self.tail:
            self.tail = None

    def resize(self, nr_pages: int) -> None:
        # Shrinking drops the oldest pages; their entries count as overrun.
        self.nr_pages = nr_pages
        while len(self.ring) > nr_pages:
            self._evict_oldest()

    def reset(self) -> None:
        self.kept_oldest_ts = self.oldest_ts()
        self.ring.clear()
        self.tail = None
        self.reader = None
        self.roff = self.rts = self.ridx = 0
        self.peeked = None
        self.entries = self.overrun = self.bytes = 0
        self.dropped = self.read_events = 0
        self.last_overrun = self.lost = 0

    def oldest_ts(self) -> int:
        # The time stamp of the page the reader is on: the reader page while
        # the writer is on it too, else the oldest page in the ring. A reset
        # does not forget it.
        if self.tail is not None and self.tail is self.reader:
            return self.reader.ts
        if self.ring:
            return self.ring[0].ts
        if self.reader is not None:
            return self.reader.ts
        return self.kept_oldest_ts

    # -- consuming reader --------------------------------------------------

    def _reader_page(self) -> _Page | None:
        """The page the reader reads next, taking the oldest one when it has
        read its own; None when there is nothing to read."""
        reader = self.reader
        if reader is not None and self.roff < reader.used:
            return reader
        if reader is not None and self.tail is reader:
            return None  # caught up with the writer on the reader page
        if not self.ring:
            return None
        page = self.ring.popleft()
        self.reader = page
        self.roff = self.ridx = 0
        self.rts = page.ts
        self.peeked = None
        if self.overrun != self.last_overrun:
            self.lost = self.overrun - self.last_overrun
            self.last_overrun = self.overrun
        return page

    def peek(self) -> Entry | None:
        page = self._reader_page()
        if page is None:
            return None
        pk = self.peeked
        if pk is not None and pk[1] is page and pk[2] == self.roff:
            return pk[0]
        eo, end, ts = _event_at(page.data, self.roff, self.rts)
        entry = _materialize(page, eo, end, ts, self.cpu)
        self.peeked = (entry, page, self.roff, end, ts)
        return entry

    def consume(self, entry: Entry) -> bool:
        pk = self.peeked
        if pk is None or pk[0] is not entry or pk[1] is not self.reader or pk[2] != self.roff:
            return False  # cleared or resized meanwhile
        self._consumed(1, pk[3] - self.roff, pk[3], pk[4])
        return True

    def _consumed(self, n: int, nbytes: int, off: int, ts: int) -> None:
        self.roff = off
        self.rts = ts
        self.ridx += n
        self.entries -= n
        self.bytes -= nbytes
        self.read_events += n
        self.lost = 0
        self.peeked = None

    def read_page(self, full_only: bool, page_size: int) -> bytes | None:
        # The kernel's ring_buffer_read_page: the rest of the reader page,
        # whole when the reader has not started on it (the kernel swaps the
        # page out), copied from the read position otherwise; with
        # ``full_only`` nothing while the writer is still on that page.
        if not self.entries:
            return None
        page = self._reader_page()
        if page is None or (full_only and self.tail is page):
            return None
        start, end = self.roff, page.used
        page.write_pending()
        out = bytearray(page_size)
        out[PAGE_HEADER:PAGE_HEADER + end - start] = page.data[start:end]
        commit = end - start
        lost = self.lost
        if lost:
            commit |= MISSED_EVENTS
            if page_size - PAGE_HEADER - (end - start) >= 8:
                struct.pack_into("<Q", out, PAGE_HEADER + end - start, lost)
                commit |= MISSED_STORED
        struct.pack_into("<QQ", out, 0, self.rts, commit)
        self._consumed(page.count - self.ridx, end - start, end, page.last)
        return bytes(out)

    def format_lines(self, used: int, cnt: int, seqmax: int, fmt: BulkLines) -> tuple[list[bytes], int, bool]:
        """Lines straight from the pages (``fmt``: output.MmioLines or
        PrintLines, C loops), consuming what they show, until ``used``
        reaches ``cnt``, a line would not fit ``seqmax`` (then the third
        value is True), a lost-events report is due, or an event that needs
        its own formatting comes next."""
        out: list[bytes] = []
        f = fmt.f
        f.cnt, f.seqmax, f.outcap = cnt, seqmax, seqmax + 256
        while used < cnt:
            page = self._reader_page()
            if page is None or self.lost:
                break
            f.off, f.end, f.ts, f.used = self.roff, page.used, self.rts, used
            text = fmt(page.data, self.cpu)
            if not f.events:
                break
            self._consumed(f.events, f.off - self.roff, f.off, f.ts)
            out.append(text)
            used = f.used
            if self.roff < page.used:
                break
        return out, used, bool(f.full)

    # -- non-consuming reader ---------------------------------------------

    def slices(self) -> list[tuple[_Page, int, int, int, int]]:
        """(page, offset, time before it, end, events) of what is unread."""
        out: list[tuple[_Page, int, int, int, int]] = []
        reader = self.reader
        if reader is not None and self.roff < reader.used:
            out.append((reader, self.roff, self.rts, reader.used, reader.count - self.ridx))
        for page in self.ring:
            out.append((page, 0, page.ts, page.used, page.count))
        return out

    def stats(self) -> CpuStats:
        return CpuStats(
            entries=self.entries,
            overrun=self.overrun,
            commit_overrun=0,
            bytes=self.bytes,
            oldest_ts=self.oldest_ts(),
            dropped=self.dropped,
            read=self.read_events,
        )


def _iter_slices(cpu: int, slices: list[tuple[_Page, int, int, int, int]]) -> Iterator[Entry]:
    for page, off, ts, end, _n in slices:
        data = page.data
        while off < end:
            eo, nxt, ts = _event_at(data, off, ts)
            yield _materialize(page, eo, nxt, ts, cpu)
            off = nxt


def _ts_key(entry: Entry) -> int:
    return entry.ts


@dataclass(frozen=True)
class Snapshot:
    """What a non-consuming reader sees: fixed when it was taken."""

    per_cpu: dict[int, list[tuple[_Page, int, int, int, int]]]
    entries: int  # unconsumed entries on all CPUs
    overrun: int  # overruns on all CPUs

    def __iter__(self) -> Iterator[Entry]:
        """Entries oldest first, merged across CPUs by timestamp (lower CPU first on ties)."""
        iters = [_iter_slices(c, s) for c, s in sorted(self.per_cpu.items())]
        if len(iters) == 1:
            return iters[0]
        return heapq.merge(*iters, key=_ts_key)

    def __len__(self) -> int:
        return sum(n for s in self.per_cpu.values() for *_, n in s)

    def blocks(self, fmt: BulkLines) -> Iterator[bytes | Entry]:
        """What ``__iter__`` yields, with runs of events ``fmt`` formats
        (output.MmioLines, PrintLines) already formatted as lines (bytes).
        Runs are formatted only when a single CPU has data (else the merge
        needs every entry)."""
        busy = [(c, s) for c, s in sorted(self.per_cpu.items()) if any(n for *_, n in s)]
        if len(busy) != 1:
            yield from self
            return
        cpu, slices = busy[0]
        f = fmt.f
        f.cnt = f.seqmax = f.outcap = 1 << 62
        for page, off, ts, end, _n in slices:
            data = page.data
            while off < end:
                f.off, f.end, f.ts, f.used = off, end, ts, 0
                text = fmt(data, cpu)
                if f.events:
                    yield text
                    off, ts = f.off, f.ts
                    continue
                eo, nxt, ts = _event_at(data, off, ts)
                yield _materialize(page, eo, nxt, ts, cpu)
                off = nxt


class Reader:
    """A consuming reader of a set of CPUs (trace_pipe). Exclusive per CPU."""

    def __init__(self, buffer: RingBuffer, cpus: tuple[int, ...]) -> None:
        self.buffer = buffer
        self.cpus = cpus
        self.closed = False

    def peek(self) -> tuple[int, Entry, int] | None:
        """The next entry, oldest first across this reader's CPUs: (cpu, entry, lost).

        ``lost`` is the number of entries overwritten before it that this
        reader never saw (0 if none). Peeking does not consume.
        """
        return self.buffer._peek(self.cpus)

    def consume(self, cpu: int, entry: Entry) -> bool:
        """Consume ``entry``, which the last peek returned. False if it is gone."""
        with self.buffer._lock:
            return self.buffer._cpus[cpu].consume(entry)

    def take(self) -> tuple[int, Entry, int] | None:
        """Peek and consume in one step."""
        return self.buffer._take(self.cpus)

    def format_lines(self, used: int, cnt: int, seqmax: int, fmt: BulkLines) -> tuple[list[bytes], int, bool]:
        """Lines (``fmt``) formatted straight from the pages and consumed
        (see _CpuBuffer.format_lines): only while one of this reader's CPUs
        has data, so that no merge is needed. ``([], used, False)`` when the
        next entry needs :meth:`peek`; True last when the next line does
        not fit this read."""
        buffer = self.buffer
        buffer.sync()
        with buffer._lock:
            busy = [c for c in self.cpus if buffer._cpus[c].entries]
            if len(busy) != 1:
                return [], used, False
            return buffer._cpus[busy[0]].format_lines(used, cnt, seqmax, fmt)

    def empty(self) -> bool:
        return self.buffer.empty(self.cpus)

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds for data; True if there is some."""
        return self.buffer.wait(self.cpus, timeout)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.buffer._release_reader(self.cpus)


class RingBuffer:
    """Per-CPU ring buffers behind one lock.

    ``clock`` gives the timestamp of each committed entry (nanoseconds, or a
    raw count for counter clocks); it is read under the lock so that
    timestamps on one CPU never go backwards.
    """

    def __init__(
        self,
        nr_cpus: int,
        nr_pages: int = MIN_PAGES,
        clock: Callable[[], int] = lambda: 0,
        overwrite: bool = True,
        subbuf_size: int = SUBBUF_SIZE,
    ) -> None:
        if nr_cpus < 1:
            raise ValueError("nr_cpus must be at least 1")
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._waiters = 0
        self.nr_cpus = nr_cpus
        self.subbuf_size = subbuf_size
        self.subbuf_data = subbuf_size - SUBBUF_HEADER
        self._cpus = [_CpuBuffer(cpu, max(MIN_PAGES, nr_pages)) for cpu in range(nr_cpus)]
        self.clock = clock
        self.overwrite = overwrite
        self.record_on = True
        self._record_disabled = 0
        #: A producer that hands entries over in batches (mmiotrace's C path,
        #: native.py): called, outside the lock, before anything reads,
        #: counts, clears or adds to the buffer, so that its entries are in
        #: by then and in order.
        self.feeder: Callable[[], None] | None = None
        self._wakeups = 0

    def sync(self) -> None:
        """Take in what the feeder holds (nothing without one)."""
        feeder = self.feeder
        if feeder is not None:
            feeder()

    # -- writing -------------------------------------------------------------

    def commit(self, entry: Entry, cpu: int = 0) -> bool:
        """Timestamp ``entry`` and store it on ``cpu``. False if not stored."""
        # The hot path of every tracer (one call per traced MMIO access):
        # explicit acquire/release and the common case of _CpuBuffer.write
        # inline -- the entry fits on the page being written, no time extend.
        feeder = self.feeder
        if feeder is not None:
            feeder()
        lock = self._lock
        lock.acquire()
        try:
            if not self.record_on or self._record_disabled:
                return False
            cb = self._cpus[cpu]
            if cb.disabled:
                return False
            entry.cpu = cpu
            ts = entry.ts = self.clock()
            page = cb.tail
            size = entry.size
            etype = entry.type
            # The common case of _CpuBuffer.write/_put inline: an object
            # entry (not mmiotrace's) that fits the page being written, no
            # time extend: its header word now, the record lazily.
            if (page is not None and page.used + size <= self.subbuf_data and size <= _SMALL_EVENT
                    and 0 <= ts - cb.last_ts < TIME_DELTA_LIMIT and etype != TRACE_MMIO_RW
                    and etype != TRACE_MMIO_MAP):
                off = page.used
                data = page.data
                _HDR1(data, off, (size - 4) >> 2 | (ts - cb.last_ts) << 5)
                if etype == TRACE_PRINT:
                    # Default-format lines come from the page (output.PrintLines):
                    # the record now, written in place for the usual PrintEntry.
                    if type(entry) is PrintEntry:
                        flags, preempt = lat_bits(entry.flags)  # type: ignore[attr-defined]
                        _PRINT_HEAD(data, off + 4, TRACE_PRINT, flags, preempt, entry.pid,
                                    TRACING_MARK_WRITE_IP if entry.ip == "tracing_mark_write" else 0)
                        text = entry.text.encode("utf-8", "surrogateescape")
                        room = size - 21
                        if len(text) > room:
                            text = text[:room]
                        data[off + 20:off + 20 + len(text)] = text
                    else:
                        record = entry.record()[:size - 4]
                        data[off + 4:off + 4 + len(record)] = record
                else:
                    page.pending = True
                objs = page.objs
                if objs is None:
                    objs = page.objs = {}
                objs[off] = entry
                page.used = off + size
                page.last = ts
                page.count += 1
                cb.entries += 1
                cb.bytes += size
                cb.last_ts = ts
            elif not cb.write(entry, self.overwrite, self.subbuf_data):
                return False
            if self._waiters:
                self._cond.notify_all()
            return True
        finally:
            lock.release()

    def commit_batch(self, entries: list[Entry], cpu: int = 0, stamped: bool = True) -> int:
        """Store ``entries`` on ``cpu`` in order; how many were stored.

        ``stamped``: their ``ts`` is when they happened (never earlier than
        what the CPU holds: raised to it if so); else each is stamped now.
        The feeder's way in: it does not call the feeder.
        """
        with self._lock:
            if not self.record_on or self._record_disabled:
                return 0
            cb = self._cpus[cpu]
            if cb.disabled:
                return 0
            clock = self.clock
            overwrite = self.overwrite
            data = self.subbuf_data
            stored = 0
            last_ts = cb.last_ts
            for entry in entries:
                entry.cpu = cpu
                if not stamped:
                    entry.ts = clock()
                elif entry.ts < last_ts:
                    entry.ts = last_ts
                if cb.write(entry, overwrite, data):
                    stored += 1
                    last_ts = cb.last_ts
            if stored and self._waiters:
                self._cond.notify_all()
            return stored

    def commit_records(self, raw: bytes, n: int, cpu: int = 0, offset: int = 0, pid: int = 0) -> int:
        """Store ``n`` engine records (rbnative.RECORD: machine-clock ts,
        phys, value, pc, map id, opcode, width) as mmiotrace_rw events on
        ``cpu``, stamped ts + ``offset`` (never earlier than what the CPU
        holds); how many were stored. Written into the pages in C
        (rbpage.c) or by the Python loop that gives the same bytes. The
        feeder's way in: it does not call the feeder."""
        with self._lock:
            if not self.record_on or self._record_disabled:
                return 0
            cb = self._cpus[cpu]
            if cb.disabled:
                return 0
            stored = cb.write_records(raw, n, offset, pid, self.overwrite, self.subbuf_data)
            if stored and self._waiters:
                self._cond.notify_all()
            return stored

    @property
    def recording(self) -> bool:
        return self.record_on and not self._record_disabled

    def record_disable(self) -> None:
        """Stop recording until the matching record_enable (nests)."""
        self.sync()
        with self._lock:
            self._record_disabled += 1

    def record_enable(self) -> None:
        self.sync()
        with self._lock:
            self._record_disabled = max(0, self._record_disabled - 1)

    def set_cpu_enabled(self, cpu: int, enabled: bool) -> None:
        with self._lock:
            self._cpus[cpu].disabled = not enabled

    def cpu_enabled(self, cpu: int) -> bool:
        return not self._cpus[cpu].disabled

    # -- size and reset ------------------------------------------------------

    def nr_pages(self, cpu: int) -> int:
        return self._cpus[cpu].nr_pages

    def size_bytes(self, cpu: int) -> int:
        """Data capacity of one CPU's buffer (what buffer_size_kb shows, in bytes)."""
        return self._cpus[cpu].nr_pages * self.subbuf_data

    def resize(self, nbytes: int, cpu: int | None = None) -> None:
        """Resize one CPU, or all, to hold ``nbytes``; data is kept where it fits."""
        self.sync()
        nr = pages_for(nbytes, self.subbuf_data)
        with self._lock:
            for cb in self._targets(cpu):
                cb.resize(nr)

    def set_subbuf_size(self, subbuf_size: int) -> None:
        """Change the sub-buffer size, keeping each CPU's byte size. Clears the data."""
        self.sync()
        with self._lock:
            sizes = [cb.nr_pages * self.subbuf_data for cb in self._cpus]
            self.subbuf_size = subbuf_size
            self.subbuf_data = subbuf_size - SUBBUF_HEADER
            for cb, nbytes in zip(self._cpus, sizes):
                cb.reset()
                cb.nr_pages = pages_for(nbytes, self.subbuf_data)

    def reset(self, cpu: int | None = None) -> None:
        """Clear one CPU, or all: entries go, counters go back to 0."""
        self.sync()
        with self._lock:
            for cb in self._targets(cpu):
                cb.reset()

    def _targets(self, cpu: int | None) -> list[_CpuBuffer]:
        return self._cpus if cpu is None else [self._cpus[cpu]]

    # -- statistics ----------------------------------------------------------

    def stats(self, cpu: int) -> CpuStats:
        self.sync()
        with self._lock:
            return self._cpus[cpu].stats()

    def entries(self, cpu: int | None = None) -> int:
        self.sync()
        with self._lock:
            return sum(cb.entries for cb in self._targets(cpu))

    def overruns(self, cpu: int | None = None) -> int:
        self.sync()
        with self._lock:
            return sum(cb.overrun for cb in self._targets(cpu))

    def dropped(self, cpu: int | None = None) -> int:
        self.sync()
        with self._lock:
            return sum(cb.dropped for cb in self._targets(cpu))

    def empty(self, cpus: Iterable[int] | None = None) -> bool:
        self.sync()
        cpus = range(self.nr_cpus) if cpus is None else cpus
        with self._lock:
            return not any(self._cpus[c].entries for c in cpus)

    # -- readers -------------------------------------------------------------

    def snapshot(self, cpus: Iterable[int] | None = None) -> Snapshot:
        """A non-consuming view of ``cpus`` (default all), fixed now.

        The totals cover every CPU, as the trace file's header does.
        """
        self.sync()
        cpus = range(self.nr_cpus) if cpus is None else cpus
        with self._lock:
            return Snapshot(
                per_cpu={c: self._cpus[c].slices() for c in cpus},
                entries=sum(cb.entries for cb in self._cpus),
                overrun=sum(cb.overrun for cb in self._cpus),
            )

    def read_page(self, cpu: int, full_only: bool = False) -> bytes | None:
        """Consume one page of ``cpu`` in the kernel's binary format (trace/page.py).

        The API of ``per_cpu/cpuN/trace_pipe_raw`` (ring_buffer_read_page):
        returns ``subbuf_size`` (4096) bytes -- page timestamp, commit (with
        the missed-events flags and count when events were overwritten
        since the last page this CPU handed out), the events, zeros -- and
        consumes those events (they count as read in ``stats``). ``None``
        when nothing is readable: the CPU is empty, or ``full_only`` and the
        writer is still filling the page the reader is on (the kernel's
        ``full`` argument: splice waits for full pages). Without
        ``full_only`` a page being written is handed out as far as written
        (the kernel copies it), and the next call returns only newer events.

        It takes no reader slot: the caller (trace_pipe_raw) decides how it
        shares a CPU with trace_pipe. Blocking is the caller's too:
        ``wait((cpu,), timeout)`` until there is data.
        """
        self.sync()
        with self._lock:
            return self._cpus[cpu].read_page(full_only, self.subbuf_size)

    def open_reader(self, cpus: Iterable[int] | None = None) -> Reader:
        """A consuming reader; EBUSY if one of ``cpus`` already has one."""
        cpus = tuple(range(self.nr_cpus) if cpus is None else cpus)
        with self._lock:
            if any(self._cpus[c].has_reader for c in cpus):
                raise OSError(errno.EBUSY, "a consuming reader is already open")
            for c in cpus:
                self._cpus[c].has_reader = True
        return Reader(self, cpus)

    def has_readers(self) -> bool:
        with self._lock:
            return any(cb.has_reader for cb in self._cpus)

    def _release_reader(self, cpus: tuple[int, ...]) -> None:
        with self._lock:
            for c in cpus:
                self._cpus[c].has_reader = False

    def _peek_locked(self, cpus: tuple[int, ...]) -> tuple[int, Entry, int] | None:
        best: tuple[int, Entry, int] | None = None
        for c in cpus:
            cb = self._cpus[c]
            if not cb.entries:
                continue
            entry = cb.peek()
            if entry is not None and (best is None or entry.ts < best[1].ts):
                best = (c, entry, cb.lost)
        return best

    def _peek(self, cpus: tuple[int, ...]) -> tuple[int, Entry, int] | None:
        self.sync()
        with self._lock:
            return self._peek_locked(cpus)

    def _take(self, cpus: tuple[int, ...]) -> tuple[int, Entry, int] | None:
        self.sync()
        with self._lock:
            item = self._peek_locked(cpus)
            if item is not None:
                self._cpus[item[0]].consume(item[1])
            return item

    def wait(self, cpus: Iterable[int], timeout: float) -> bool:
        """Block up to ``timeout`` seconds for entries on ``cpus``; True if there are some.

        Returns early (False) when :meth:`wake_waiters` is called. With a
        feeder, which hands entries over in batches, it is looked at every
        ``FEEDER_POLL_S`` so that a reader sees its entries soon.
        """
        cpus = tuple(cpus)
        deadline = time.monotonic() + timeout
        wakeups = self._wakeups
        while True:
            self.sync()
            left = max(deadline - time.monotonic(), 0.0)
            polling = self.feeder is not None and left > FEEDER_POLL_S
            if self._wait(cpus, FEEDER_POLL_S if polling else left):
                return True
            if not polling or self._wakeups != wakeups:
                return False

    def _wait(self, cpus: tuple[int, ...], timeout: float) -> bool:
        with self._cond:
            if any(self._cpus[c].entries for c in cpus):
                return True
            self._waiters += 1
            try:
                self._cond.wait(timeout)
            finally:
                self._waiters -= 1
            return any(self._cpus[c].entries for c in cpus)

    def wake_waiters(self) -> None:
        with self._cond:
            self._wakeups += 1
            self._cond.notify_all()
