"""The kernel's binary ring-buffer page: encoder and decoder.

This is the layout ``per_cpu/cpuN/trace_pipe_raw`` hands out and that
``events/header_page`` / ``events/header_event`` / ``events/ftrace/*/format``
describe (Linux 6.1, x86-64, little endian; the real kernel's bytes are in
``../shared/kernel-6.1/raw/``):

Page (4096 bytes)::

    u64  timestamp      time of the first event (or of the read position)
    u64  commit         bytes of event data; bit 31 = events were lost
                        before this page, bit 30 = their count is stored as
                        a u64 right after the data
    u8   data[4080]     events, then zeros

Event: a 32-bit header word ``type_len:5 | time_delta:27`` (low bits first),
then ``array[]``:

* ``type_len`` 1..28: data of ``type_len * 4`` bytes starts at array[0];
* ``type_len`` 0: array[0] holds the data length + 4, data starts at array[1]
  (data longer than 112 bytes);
* 29 padding (time_delta 0: the rest of the page; else array[0] = length),
* 30 time extend: delta = time_delta | array[0] << 27, 8 bytes in all,
* 31 absolute time stamp, same layout, a full time stamp.

``time_delta`` is nanoseconds since the previous event on the page (the page
timestamp for the first). A delta that does not fit 27 bits is carried by a
time extend written just before the event, which then has delta 0.

An event's data is an ftrace record: ``struct trace_entry`` (u16 type, u8
flags, u8 preempt_count, s32 pid), then the event's fields at the offsets of
its format file. The four events mmiotrace produces are encoded here.

This module is pure (no buffer state): :mod:`.ring_buffer` writes pages with
it, tests and readers decode them with :func:`decode_page`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

PAGE_SIZE = 4096
PAGE_HEADER = 16
PAGE_DATA = PAGE_SIZE - PAGE_HEADER  # 4080

# commit word flag bits (reader side only)
MISSED_EVENTS = 1 << 31
MISSED_STORED = 1 << 30
COMMIT_MASK = MISSED_STORED - 1

# type_len values
TYPE_DATA_MAX = 28
TYPE_PADDING = 29
TYPE_TIME_EXTEND = 30
TYPE_TIME_STAMP = 31
TS_SHIFT = 27
TS_MASK = (1 << TS_SHIFT) - 1
TIME_EXTEND_SIZE = 8
EVENT_HEADER = 4
MAX_SMALL_DATA = TYPE_DATA_MAX * 4  # 112
# Smallest event the writer leaves room for at the end of a page.
MIN_EVENT = 8

# Event ids (the ID: lines of events/ftrace/*/format).
TRACE_PRINT = 5
TRACE_BPRINT = 6
TRACE_MMIO_RW = 7
TRACE_MMIO_MAP = 8

# struct trace_entry common_flags bits
FLAG_IRQS_OFF = 0x01
FLAG_IRQS_NOSUPPORT = 0x02
FLAG_NEED_RESCHED = 0x04
FLAG_HARDIRQ = 0x08
FLAG_SOFTIRQ = 0x10
FLAG_PREEMPT_RESCHED = 0x20
FLAG_NMI = 0x40
FLAG_BH_OFF = 0x80

# What the kernel stores in the common fields of mmiotrace's records
# (raw-page1.bin): R/W/UNKNOWN are written from the fault/debug handlers,
# MAP/UNMAP from ioremap with interrupts off.
MMIO_RW_FLAGS, MMIO_RW_PREEMPT = 0x6D, 3
MMIO_MAP_FLAGS, MMIO_MAP_PREEMPT = 0x01, 1

# The ip a trace_marker record carries. Any kernel text address does; this
# is the one the 6.1 guest showed (raw-page1.bin). printk_formats /
# kallsyms consumers must resolve it to ``tracing_mark_write``.
TRACING_MARK_WRITE_IP = 0xFFFFFFFFBA3C36BD

_TRACE_ENTRY = struct.Struct("<HBBi")
# mmiotrace_rw: phys, value, pc, map_id, opcode, width (+2 bytes of struct padding)
_RW = struct.Struct("<HBBiQQQiBB2x")  # 40 bytes
# mmiotrace_map: phys, virt, len, map_id, opcode (+3)
_MAP = struct.Struct("<HBBiQQQiB3x")  # 40 bytes
_PRINT_HEAD = struct.Struct("<HBBiQ")  # 16 bytes, then buf
_BPRINT_HEAD = struct.Struct("<HBBiQQ")  # 24 bytes, then u32 buf[]
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_PAGE_HEAD = struct.Struct("<QQ")

RW_DATA_SIZE = _RW.size
MAP_DATA_SIZE = _MAP.size
PRINT_DATA_HEADER = _PRINT_HEAD.size


# -- sizes -----------------------------------------------------------------------


def event_length(data_len: int) -> int:
    """Bytes an event with ``data_len`` data bytes takes on a page (header included)."""
    length = max(data_len, 1)
    if length > MAX_SMALL_DATA:
        length += 4  # array[0] holds the length
    length = (length + EVENT_HEADER + 3) & ~3
    # 12 bytes could not later be split into a time extend + padding.
    if length == TIME_EXTEND_SIZE + 4:
        length += 4
    return length


def marker_data_len(count: int) -> int:
    """Data bytes of a trace_marker write of ``count`` bytes: header, ip,
    text, a newline it may add and a NUL."""
    return PRINT_DATA_HEADER + count + 2


def printk_data_len(length: int) -> int:
    """Data bytes of a trace_printk of ``length`` characters (text + NUL)."""
    return PRINT_DATA_HEADER + length + 1


# -- records -----------------------------------------------------------------------


def rw_record(pid: int, phys: int, value: int, pc: int, map_id: int, opcode: int, width: int,
              flags: int = MMIO_RW_FLAGS, preempt: int = MMIO_RW_PREEMPT) -> bytes:
    """An ``mmiotrace_rw`` record (40 bytes)."""
    return _RW.pack(TRACE_MMIO_RW, flags, preempt, pid, phys & 0xFFFFFFFFFFFFFFFF,
                    value & 0xFFFFFFFFFFFFFFFF, pc & 0xFFFFFFFFFFFFFFFF, map_id, opcode & 0xFF, width & 0xFF)


def map_record(pid: int, phys: int, virt: int, length: int, map_id: int, opcode: int,
               flags: int = MMIO_MAP_FLAGS, preempt: int = MMIO_MAP_PREEMPT) -> bytes:
    """An ``mmiotrace_map`` record (40 bytes)."""
    return _MAP.pack(TRACE_MMIO_MAP, flags, preempt, pid, phys & 0xFFFFFFFFFFFFFFFF,
                     virt & 0xFFFFFFFFFFFFFFFF, length & 0xFFFFFFFFFFFFFFFF, map_id, opcode & 0xFF)


def print_record(pid: int, ip: int, text: bytes, data_len: int, flags: int = 0, preempt: int = 0) -> bytes:
    """A ``print`` record of ``data_len`` bytes: header, ip, ``text`` (which
    carries its newline if it has one), a NUL, zeros to ``data_len``."""
    head = _PRINT_HEAD.pack(TRACE_PRINT, flags, preempt, pid, ip & 0xFFFFFFFFFFFFFFFF)
    body = head + text + b"\0"
    if len(body) < data_len:
        body += bytes(data_len - len(body))
    return body


def bprint_record(pid: int, ip: int, fmt: int, args: bytes, flags: int = 0, preempt: int = 0) -> bytes:
    return _BPRINT_HEAD.pack(TRACE_BPRINT, flags, preempt, pid, ip, fmt) + args


# -- lat flags text <-> bits ------------------------------------------------------


def lat_to_bits(text: str) -> tuple[int, int]:
    """The five lat-format columns (``dNh1.``-style, 5 chars) as (flags, preempt_count)."""
    irqs, resched, hardsoft, depth, migrate = (text + ".....")[:5]
    flags = 0
    if irqs in "dD":
        flags |= FLAG_IRQS_OFF
    if irqs in "bD":
        flags |= FLAG_BH_OFF
    if irqs == "X":
        flags |= FLAG_IRQS_NOSUPPORT
    if resched in "Nn":
        flags |= FLAG_NEED_RESCHED
    if resched in "Np":
        flags |= FLAG_PREEMPT_RESCHED
    if hardsoft in "ZHh":
        flags |= FLAG_HARDIRQ
    if hardsoft in "Zz":
        flags |= FLAG_NMI
    if hardsoft in "Hs":
        flags |= FLAG_SOFTIRQ
    pc = 0
    if depth != ".":
        pc |= int(depth, 16) & 0xF
    if migrate != ".":
        pc |= (int(migrate, 16) & 0xF) << 4
    return flags, pc


def bits_to_lat(flags: int, preempt: int) -> str:
    """The kernel's five lat-format columns for (flags, preempt_count)."""
    irqs_off = flags & FLAG_IRQS_OFF
    bh_off = flags & FLAG_BH_OFF
    if irqs_off and bh_off:
        c1 = "D"
    elif irqs_off:
        c1 = "d"
    elif bh_off:
        c1 = "b"
    elif flags & FLAG_IRQS_NOSUPPORT:
        c1 = "X"
    else:
        c1 = "."
    nr, pr = flags & FLAG_NEED_RESCHED, flags & FLAG_PREEMPT_RESCHED
    c2 = "N" if nr and pr else "n" if nr else "p" if pr else "."
    nmi, hard, soft = flags & FLAG_NMI, flags & FLAG_HARDIRQ, flags & FLAG_SOFTIRQ
    if nmi and hard:
        c3 = "Z"
    elif nmi:
        c3 = "z"
    elif hard and soft:
        c3 = "H"
    elif hard:
        c3 = "h"
    elif soft:
        c3 = "s"
    else:
        c3 = "."
    d = preempt & 0xF
    m = preempt >> 4 & 0xF
    return c1 + c2 + c3 + (f"{d:x}" if d else ".") + (f"{m:x}" if m else ".")


# -- writing a page ----------------------------------------------------------------


class PageWriter:
    """Builds one page: events appended with their timestamps, as the writer
    does (the first event's time is the page's, deltas of 2^27 ns or more get
    a time extend). ``append`` returns False when the event does not fit."""

    __slots__ = ("buf", "tail", "ts", "last_ts", "entries")

    def __init__(self, ts: int) -> None:
        self.buf = bytearray(PAGE_SIZE)
        self.tail = 0
        self.ts = ts
        self.last_ts = ts
        self.entries = 0

    def space_for(self, data_len: int, ts: int) -> int:
        """Bytes an event of ``data_len`` written at ``ts`` takes here (extend included)."""
        n = event_length(data_len)
        if self.entries and ts - self.last_ts > TS_MASK:
            n += TIME_EXTEND_SIZE
        return n

    def append(self, data: bytes, ts: int, data_len: int | None = None) -> bool:
        if data_len is None:
            data_len = len(data)
        if self.entries == 0 and self.tail == 0:
            self.ts = self.last_ts = ts
        need = self.space_for(data_len, ts)
        if self.tail + need > PAGE_DATA:
            return False
        self.tail = write_event(self.buf, PAGE_HEADER + self.tail, ts - self.last_ts, data, data_len) - PAGE_HEADER
        self.last_ts = ts
        self.entries += 1
        return True

    def finish(self, lost: int = 0, pad: bool = False) -> bytes:
        """The page as a reader gets it: header filled, missed-events flags
        and count, zeros after the data. ``pad``: end with a padding event
        (the writer's view of a page it left)."""
        commit = self.tail
        buf = self.buf
        if pad and PAGE_DATA - commit >= MIN_EVENT:
            write_padding(buf, PAGE_HEADER + commit, PAGE_DATA - commit)
        flags = 0
        if lost:
            flags |= MISSED_EVENTS
            if PAGE_DATA - commit >= 8:
                _U64.pack_into(buf, PAGE_HEADER + commit, lost)
                flags |= MISSED_STORED
        _PAGE_HEAD.pack_into(buf, 0, self.ts, commit | flags)
        return bytes(buf)


def write_event(buf: bytearray, off: int, delta: int, data: bytes, data_len: int | None = None) -> int:
    """Write one event (a time extend first if ``delta`` needs one) at ``off``; the new offset."""
    if data_len is None:
        data_len = len(data)
    if delta > TS_MASK:
        _U32.pack_into(buf, off, TYPE_TIME_EXTEND | (delta & TS_MASK) << 5)
        _U32.pack_into(buf, off + 4, delta >> TS_SHIFT)
        off += TIME_EXTEND_SIZE
        delta = 0
    length = event_length(data_len)
    if max(data_len, 1) > MAX_SMALL_DATA:
        _U32.pack_into(buf, off, delta << 5)
        _U32.pack_into(buf, off + 4, length - 4)
        start = off + 8
    else:
        _U32.pack_into(buf, off, (length - 4) // 4 | delta << 5)
        start = off + 4
    buf[start:start + len(data)] = data
    end = off + length
    if start + len(data) < end:
        buf[start + len(data):end] = bytes(end - start - len(data))
    return end


def write_padding(buf: bytearray, off: int, length: int) -> None:
    """A padding event of ``length`` bytes (the unused end of a page)."""
    _U32.pack_into(buf, off, TYPE_PADDING | 1 << 5)
    _U32.pack_into(buf, off + 4, length - 4)


def encode_page(ts: int, events: list[tuple[int, bytes, int]], lost: int = 0,
                page_size: int = PAGE_SIZE) -> bytes:
    """A page as a reader gets it, from ``events`` (ts, record, data_len)
    that the writer put on one page: ``ts`` is the page's time (the time the
    first event's delta counts from). Deltas of 2^27 ns or more get their
    time extend, as the writer wrote them. ``lost``: events overwritten
    before this page that the reader never saw (flag, and count if room)."""
    buf = bytearray(page_size)
    off = PAGE_HEADER
    last = ts
    for ets, data, data_len in events:
        off = write_event(buf, off, ets - last, data, data_len)
        last = ets
    commit = off - PAGE_HEADER
    if commit > page_size - PAGE_HEADER:
        raise ValueError("events do not fit one page")
    flags = 0
    if lost:
        flags |= MISSED_EVENTS
        if page_size - off >= 8:
            _U64.pack_into(buf, off, lost)
            flags |= MISSED_STORED
    _PAGE_HEAD.pack_into(buf, 0, ts, commit | flags)
    return bytes(buf)


def data_len_for(size: int) -> int:
    """The data length an event of ``size`` page bytes carries (inverse of event_length
    for the sizes it produces)."""
    return size - 4 if size - 4 <= MAX_SMALL_DATA else size - 8


# -- reading a page ----------------------------------------------------------------


@dataclass(slots=True)
class PageEvent:
    """One data event of a page, decoded. ``fields`` by format-file name
    (without the ``common_`` ones); ``data`` the raw record."""

    ts: int
    type: int
    flags: int
    preempt_count: int
    pid: int
    fields: dict[str, Any] = field(default_factory=dict)
    data: bytes = b""

    @property
    def lat(self) -> str:
        return bits_to_lat(self.flags, self.preempt_count)


@dataclass(frozen=True, slots=True)
class PageHeader:
    ts: int
    commit: int  # data bytes
    missed: bool
    missed_count: int | None  # stored count, or None


def page_header(page: bytes) -> PageHeader:
    ts, commit = _PAGE_HEAD.unpack_from(page, 0)
    length = commit & COMMIT_MASK
    count = None
    if commit & MISSED_STORED:
        count = _U64.unpack_from(page, PAGE_HEADER + length)[0]
    return PageHeader(ts, length, bool(commit & MISSED_EVENTS), count)


def decode_record(data: bytes) -> tuple[int, int, int, int, dict[str, Any]]:
    """(type, flags, preempt_count, pid, fields) of one ftrace record."""
    etype, flags, preempt, pid = _TRACE_ENTRY.unpack_from(data, 0)
    fields: dict[str, Any] = {}
    if etype == TRACE_MMIO_RW and len(data) >= 38:
        _, _, _, _, phys, value, pc, map_id, opcode, width = _RW.unpack_from(data.ljust(_RW.size, b"\0"), 0)
        fields = {"phys": phys, "value": value, "pc": pc, "map_id": map_id, "opcode": opcode, "width": width}
    elif etype == TRACE_MMIO_MAP and len(data) >= 37:
        _, _, _, _, phys, virt, length, map_id, opcode = _MAP.unpack_from(data.ljust(_MAP.size, b"\0"), 0)
        fields = {"phys": phys, "virt": virt, "len": length, "map_id": map_id, "opcode": opcode}
    elif etype == TRACE_PRINT and len(data) >= 16:
        ip = _U64.unpack_from(data, 8)[0]
        buf = data[16:]
        nul = buf.find(b"\0")
        fields = {"ip": ip, "buf": buf if nul < 0 else buf[:nul]}
    elif etype == TRACE_BPRINT and len(data) >= 24:
        ip, fmt = struct.unpack_from("<QQ", data, 8)
        fields = {"ip": ip, "fmt": fmt, "buf": data[24:]}
    return etype, flags, preempt, pid, fields


def iter_events(page: bytes, with_padding: bool = False):
    """(kind, ts, data) for every event of a page, in order; kind is
    'data', 'extend', 'stamp' or 'padding'."""
    head = page_header(page)
    end = PAGE_HEADER + head.commit
    ts = head.ts
    off = PAGE_HEADER
    while off + 4 <= end:
        word = _U32.unpack_from(page, off)[0]
        type_len = word & 0x1F
        delta = word >> 5
        if type_len == TYPE_PADDING:
            if delta == 0:
                if with_padding:
                    yield "padding", ts, b""
                break
            length = _U32.unpack_from(page, off + 4)[0] + 4
            if with_padding:
                yield "padding", ts, b""
            off += length
            continue
        if type_len == TYPE_TIME_EXTEND:
            ts += delta | _U32.unpack_from(page, off + 4)[0] << TS_SHIFT
            off += TIME_EXTEND_SIZE
            yield "extend", ts, b""
            continue
        if type_len == TYPE_TIME_STAMP:
            ts = delta | _U32.unpack_from(page, off + 4)[0] << TS_SHIFT
            off += TIME_EXTEND_SIZE
            yield "stamp", ts, b""
            continue
        ts += delta
        if type_len == 0:
            length = _U32.unpack_from(page, off + 4)[0] - 4
            data = page[off + 8:off + 8 + length]
            off += 8 + length
        else:
            length = type_len * 4
            data = page[off + 4:off + 4 + length]
            off += 4 + length
        yield "data", ts, bytes(data)


def decode_page(page: bytes) -> list[PageEvent]:
    """The data events of one page (as trace_pipe_raw returns it), oldest first."""
    out: list[PageEvent] = []
    for kind, ts, data in iter_events(page):
        if kind != "data":
            continue
        etype, flags, preempt, pid, fields = decode_record(data)
        out.append(PageEvent(ts, etype, flags, preempt, pid, fields, data))
    return out
