"""What the ring buffer stores: entries, and how many bytes each one takes.

Entries are Python objects, not packed bytes: formatting happens only when a
reader asks for text, so committing stays cheap. What *is* kept exact is each
entry's ``size``, the number of bytes the kernel's event would take in a
sub-buffer (event header included), because page capacity, overruns and the
``bytes`` statistic all follow from it.

Tracers define their own entry types by subclassing :class:`Entry` (with
``slots=True``), setting ``type`` and computing ``size`` with
:func:`event_size` from the kernel's payload size for that event.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from typing import Callable

from .page import TRACE_PRINT as _PRINT_ID, TRACING_MARK_WRITE_IP, bits_to_lat, lat_to_bits

_TRACE_ENTRY = struct.Struct("<HBBi")
_PRINT_HEAD = struct.Struct("<HBBiQ")
_LAT: dict[str, tuple[int, int]] = {}


def lat_bits(text: str) -> tuple[int, int]:
    """lat_to_bits, remembered: entries carry a handful of distinct flag texts."""
    bits = _LAT.get(text)
    if bits is None:
        bits = _LAT[text] = lat_to_bits(text)
    return bits

# The kernel's entry type numbers (enum trace_type). Only "Unknown type N"
# messages ever show them.
TRACE_PRINT = 5
TRACE_MMIO_RW = 7
TRACE_MMIO_MAP = 8

# Every ftrace entry starts with struct trace_entry: type, flags, preempt
# count, pid: 8 bytes.
TRACE_ENTRY_HEADER = 8

# Ring-buffer event header: one 32-bit word (type_len:5, time_delta:27). The
# type_len field can encode payloads up to 28 words; bigger ones carry their
# length in a second word.
_EVENT_HEADER = 4
_MAX_SMALL_DATA = 28 * 4

# A time-extend record, written before an event whose delta from the previous
# event on the same page does not fit in 27 bits.
TIME_EXTEND_SIZE = 8
TIME_DELTA_LIMIT = 1 << 27

# The lat-format flag columns: irqs-off, need-resched, hard/softirq,
# preempt depth, migrate-disable.
NO_FLAGS = "....."
# trace_marker writes run with preemption disabled: preempt depth 1.
MARKER_FLAGS = "...1."


def event_size(payload: int) -> int:
    """Bytes an event with ``payload`` data bytes takes in a sub-buffer."""
    length = (max(payload, 1) + 3) & ~3
    return length + (_EVENT_HEADER * 2 if length > _MAX_SMALL_DATA else _EVENT_HEADER)


def max_payload(subbuf_data: int) -> int:
    """The largest payload a single event can carry on a sub-buffer."""
    return subbuf_data - 2 * _EVENT_HEADER


@dataclass(slots=True, eq=False)
class Entry:
    """One event. ``ts`` and ``cpu`` are filled in at commit."""

    size: int
    pid: int = 0
    flags: str = NO_FLAGS
    ts: int = 0
    cpu: int = 0

    type: ClassVar[int] = 0

    def format(self) -> str:
        """The event's own text, after the context columns (default output)."""
        return f"Unknown type {self.type}\n"

    def record(self) -> bytes:
        """The ftrace record the kernel stores for this event (trace/page.py);
        zero-padded to the event's data length by the page writer."""
        flags, preempt = lat_bits(self.flags)
        return _TRACE_ENTRY.pack(self.type, flags, preempt, self.pid)


# struct print_entry: trace_entry + the caller's ip, then the text.
PRINT_ENTRY_HEADER = TRACE_ENTRY_HEADER + 8


@dataclass(slots=True, eq=False)
class PrintEntry(Entry):
    """A TRACE_PRINT entry: a trace_marker write or an in-kernel trace_printk.

    ``text`` is what the kernel stores, newline included when one was added;
    printing stops at the first NUL, like ``%s``. ``ip`` is the symbol the
    default output shows before the colon (``0`` for a zero ip).
    """

    text: str = ""
    ip: str = "0"

    type: ClassVar[int] = TRACE_PRINT

    def format(self) -> str:
        return f"{self.ip}: {self.message()}"

    def record(self) -> bytes:
        flags, preempt = lat_bits(self.flags)
        ip = TRACING_MARK_WRITE_IP if self.ip == "tracing_mark_write" else 0
        return _PRINT_HEAD.pack(_PRINT_ID, flags, preempt, self.pid, ip) + \
            self.text.encode("utf-8", "surrogateescape") + b"\0"

    def message(self) -> str:
        text = self.text
        nul = text.find("\0")
        return text if nul < 0 else text[:nul]


def marker_size(count: int) -> int:
    """Event size of a trace_marker write of ``count`` bytes.

    The kernel reserves room for the text, a NUL and a newline it may add,
    whether or not it adds one.
    """
    return event_size(PRINT_ENTRY_HEADER + count + 2)


def printk_size(length: int) -> int:
    """Event size of a trace_printk of ``length`` formatted characters."""
    return event_size(PRINT_ENTRY_HEADER + length + 1)


# Bytes of a marker event beyond the user's text: header, ip, NUL, newline.
MARKER_META = PRINT_ENTRY_HEADER + 2


# -- entries back from their binary records -----------------------------------------

#: Builds the Entry for a record that exists only as bytes on a page (the
#: engines write records straight into pages): by event type, given the
#: record (the event's data), its size on the page and its time. Tracers
#: register their own types (mmiotrace: 7, 8).
DECODERS: dict[int, Callable[[bytes, int, int], Entry]] = {}


def decode_entry(data: bytearray, eo: int, end: int, ts: int) -> Entry:
    """The Entry of the event at ``data[eo:end]`` (header word first) written at ``ts``."""
    word = _TRACE_WORD.unpack_from(data, eo)[0]
    start = eo + 4 if word & 31 else eo + 8
    record = bytes(data[start:end])
    etype = _TRACE_ENTRY.unpack_from(record, 0)[0] if len(record) >= 8 else 0
    decoder = DECODERS.get(etype)
    if decoder is not None:
        entry = decoder(record, end - eo, ts)
    else:
        entry = Entry(size=end - eo)
        if len(record) >= 8:
            _, flags, preempt, entry.pid = _TRACE_ENTRY.unpack_from(record, 0)
            entry.flags = bits_to_lat(flags, preempt)
    entry.ts = ts
    return entry


def _decode_print(record: bytes, size: int, ts: int) -> Entry:
    _, flags, preempt, pid = _TRACE_ENTRY.unpack_from(record, 0)
    ip = int.from_bytes(record[8:16], "little")
    buf = record[16:]
    nul = buf.find(b"\0")
    text = (buf if nul < 0 else buf[:nul]).decode("utf-8", "surrogateescape")
    return PrintEntry(size=size, pid=pid, flags=bits_to_lat(flags, preempt), ts=ts, text=text,
                      ip="tracing_mark_write" if ip == TRACING_MARK_WRITE_IP else "0")


DECODERS[_PRINT_ID] = _decode_print
_TRACE_WORD = struct.Struct("<I")
