"""rbpage.c loaded with ctypes, and the pure-Python loops that give the same bytes.

Two loops dominate a traced run once records are binary: writing the
engines' records into pages, and turning mmiotrace events back into text.
Both exist twice: in C (rbpage.c, compiled with the gcc that compiles
drivers, cached beside kmmio_step.c's library) and here in Python, used
when the C library is unavailable (no gcc, ``FTRACE_MMIO_NATIVE=0``).
tests/test_trace_page.py runs both on the same input and compares bytes.
"""

from __future__ import annotations

import ctypes
import functools
import struct
import threading
from pathlib import Path

from ..cbuild import NativeUnavailable, build
from .page import TS_MASK, TS_SHIFT, TYPE_TIME_EXTEND, TYPE_TIME_STAMP

SOURCE = Path(__file__).with_name("rbpage.c")
CFLAGS = ("-O2", "-shared", "-fPIC", "-fno-strict-aliasing", "-Wall", "-Werror")

RECORD = struct.Struct("<7Q")   # the engines' record: ts, phys, value, pc, map_id, opcode, width
_U32 = struct.Struct("<I")
_EXTEND = struct.Struct("<II")
_RW_EVENT = struct.Struct("<IHBBiQQQiBB2x")  # header word + mmiotrace_rw record: 44 bytes
RW_EVENT_SIZE = _RW_EVENT.size
RW_FLAGS, RW_PREEMPT = 0x6D, 3
M64 = (1 << 64) - 1


class KpWrite(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ("used", "cap", "last_ts", "count", "page_ts", "bytes")]


class KpFormat(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ("off", "end", "ts", "events", "used", "cnt", "seqmax", "outcap",
                                                     "full")]


class KpPrint(ctypes.Structure):
    _fields_ = [("f", KpFormat)] + [(n, ctypes.c_uint64) for n in ("pid", "cpu", "in_ns", "mark_ip")]


@functools.cache
def library() -> ctypes.CDLL | None:
    """rbpage.c compiled (once per source and gcc) and loaded; None if it cannot be."""
    try:
        dll = build(SOURCE, CFLAGS)
    except NativeUnavailable:
        return None
    dll.kp_write_rw.argtypes = (ctypes.c_void_p, ctypes.POINTER(KpWrite), ctypes.c_char_p, ctypes.c_long,
                                ctypes.c_int64, ctypes.c_int32)
    dll.kp_write_rw.restype = ctypes.c_long
    dll.kp_format_mmio.argtypes = (ctypes.c_void_p, ctypes.POINTER(KpFormat), ctypes.c_void_p)
    dll.kp_format_mmio.restype = ctypes.c_long
    dll.kp_format_print.argtypes = (ctypes.c_void_p, ctypes.POINTER(KpPrint), ctypes.c_char_p, ctypes.c_long,
                                    ctypes.c_void_p)
    dll.kp_format_print.restype = ctypes.c_long
    return dll


def _addr(buf: bytearray) -> int:
    return ctypes.addressof(ctypes.c_char.from_buffer(buf))


# -- writing ------------------------------------------------------------------------


def write_rw(data: bytearray, w: KpWrite, raw: bytes, first: int, n: int, offset: int, pid: int,
             native: bool = True) -> int:
    """Write records ``first .. first+n`` of ``raw`` (RECORD each) into the
    page data ``data`` at ``w.used`` as mmiotrace_rw events, as many as fit
    in ``w.cap``; returns how many. ``w`` is updated (used, last_ts, count,
    page_ts when the first goes on the page, bytes written)."""
    lib = library() if native else None
    if lib is not None:
        view = raw[first * RECORD.size:(first + n) * RECORD.size] if first else raw
        return lib.kp_write_rw(_addr(data), ctypes.byref(w), view, n, offset, pid)
    used, cap, last, count = w.used, w.cap, w.last_ts, w.count
    start = used
    done = 0
    for ts, phys, value, pc, map_id, opcode, width in RECORD.iter_unpack(
            raw[first * RECORD.size:(first + n) * RECORD.size]):
        ts = (ts + offset) & M64
        if ts < last:
            ts = last
        delta = ts - last if count else 0
        need = RW_EVENT_SIZE + (8 if delta > TS_MASK else 0)
        if used + need > cap:
            break
        if delta > TS_MASK:
            _EXTEND.pack_into(data, used, TYPE_TIME_EXTEND | (delta & TS_MASK) << 5, delta >> TS_SHIFT)
            used += 8
            delta = 0
        if not count:
            w.page_ts = ts
        _RW_EVENT.pack_into(data, used, 10 | delta << 5, 7, RW_FLAGS, RW_PREEMPT, pid, phys, value, pc,
                            _s32(map_id), opcode & 0xFF, width & 0xFF)
        used += RW_EVENT_SIZE
        last = ts
        count += 1
        done += 1
    w.bytes = used - start
    w.used, w.last_ts, w.count = used, last, count
    return done


# -- formatting ---------------------------------------------------------------------

_OUT = 1 << 17


def format_mmio(data: bytearray, f: KpFormat, native: bool = True) -> bytes:
    """mmiotrace lines for the events of ``data[f.off:f.end]`` (kp_format_mmio)."""
    lib = library() if native else None
    if lib is not None:
        out = getattr(_tls, "out", None)
        if out is None:
            out = _tls.out = ctypes.create_string_buffer(_OUT + 256)
        f.outcap = min(f.outcap, _OUT)
        n = lib.kp_format_mmio(_addr(data), ctypes.byref(f), out)
        return ctypes.string_at(out, n)
    return _format_mmio_py(data, f)


# One output buffer per thread: allocating (and zeroing) it per call would cost more than the formatting.
_tls = threading.local()


def _format_mmio_py(data: bytearray, f: KpFormat) -> bytes:
    from ..mmiotrace import lines

    off, ts, end = f.off, f.ts, f.end
    used, cnt, seqmax, outcap = f.used, f.cnt, f.seqmax, min(f.outcap, _OUT)
    out: list[bytes] = []
    size = 0
    events = 0
    f.full = 0
    u32 = _U32.unpack_from
    while off + 4 <= end and used < cnt:
        word = u32(data, off)[0]
        type_len = word & 31
        t, at = ts, off
        if type_len in (TYPE_TIME_EXTEND, TYPE_TIME_STAMP):
            high = u32(data, off + 4)[0] << TS_SHIFT
            t = (t if type_len == TYPE_TIME_EXTEND else 0) + ((word >> 5) | high)
            at += 8
            if at + 4 > end:
                break
            word = u32(data, at)[0]
            type_len = word & 31
        if type_len == 0 or type_len > 28 or type_len * 4 < 40:
            break
        etype = data[at + 4] | data[at + 5] << 8
        if etype not in (7, 8):
            break
        t += word >> 5
        us = lines.ns_to_us(t)
        phys, v2, v3 = struct.unpack_from("<QQQ", data, at + 12)
        map_id = struct.unpack_from("<i", data, at + 36)[0]
        op = data[at + 40]
        if etype == 7:
            if op == 1 or op == 2:
                text = lines.rw_line("R" if op == 1 else "W", data[at + 41], us, map_id, phys, v2, v3)
            elif op == 5:
                text = lines.unknown_line(us, map_id, phys, (v2 >> 16, v2 >> 8, v2), v3)
            else:
                text = "rw what?\n"
        else:
            if op == 3:
                text = lines.map_line(us, map_id, phys, v2, v3)
            elif op == 4:
                text = lines.unmap_line(us, map_id)
            else:
                text = "map what?\n"
        b = text.encode()
        if used + len(b) >= seqmax or size + len(b) > outcap:
            f.full = int(used > 0)
            break
        out.append(b)
        size += len(b)
        used += len(b)
        off = at + 4 + type_len * 4
        ts = t
        events += 1
    f.off, f.ts, f.events, f.used = off, ts, events, used
    return b"".join(out)


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


# -- default-format print lines ------------------------------------------------------


def format_print(data: bytearray, pp: KpPrint, comm: bytes, native: bool = True) -> bytes:
    """Default-format lines of the ``print`` records of pid ``pp.pid`` in
    ``data[f.off:f.end]`` (kp_format_print): ``comm`` is that pid's."""
    lib = library() if native else None
    f = pp.f
    if lib is not None:
        out = getattr(_tls, "out", None)
        if out is None:
            out = _tls.out = ctypes.create_string_buffer(_OUT + 256)
        f.outcap = min(f.outcap, _OUT)
        n = lib.kp_format_print(_addr(data), ctypes.byref(pp), comm, len(comm), out)
        return ctypes.string_at(out, n)
    return _format_print_py(data, pp, comm)


def _format_print_py(data: bytearray, pp: KpPrint, comm: bytes) -> bytes:
    from .output import format_ts
    from .page import bits_to_lat

    f = pp.f
    off, ts, end = f.off, f.ts, f.end
    used, cnt, seqmax, outcap = f.used, f.cnt, f.seqmax, min(f.outcap, _OUT)
    out: list[bytes] = []
    size = events = 0
    f.full = 0
    u32 = _U32.unpack_from
    want_pid = _s32(pp.pid)
    while off + 4 <= end and used < cnt:
        word = u32(data, off)[0]
        type_len = word & 31
        t, at = ts, off
        if type_len in (TYPE_TIME_EXTEND, TYPE_TIME_STAMP):
            v = (word >> 5) | u32(data, off + 4)[0] << TS_SHIFT
            t = t + v if type_len == TYPE_TIME_EXTEND else v
            at += 8
            if at + 4 > end:
                break
            word = u32(data, at)[0]
            type_len = word & 31
        if type_len > 28:
            break
        if type_len:
            start, length = at + 4, type_len * 4
        else:
            start, length = at + 8, u32(data, at + 4)[0] - 4
        if length < 17 or start + length > end:
            break
        etype, flags, preempt, pid, ip = struct.unpack_from("<HBBiQ", data, start)
        if etype != 5 or pid != want_pid or (ip != 0 and ip != pp.mark_ip):
            break
        t += word >> 5
        msg = bytes(data[start + 16:start + length])
        nul = msg.find(b"\0")
        if nul >= 0:
            msg = msg[:nul]
        head = (f"{comm.decode():>16}-{pid:<7d} [{pp.cpu:03d}] {bits_to_lat(flags, preempt)} "
                f"{format_ts(t, bool(pp.in_ns))}: {'tracing_mark_write' if ip else '0'}: ").encode()
        b = head + msg
        if used + len(b) >= seqmax or size + len(b) > outcap:
            f.full = int(used > 0)
            break
        out.append(b)
        size += len(b)
        used += len(b)
        off = start + length
        ts = t
        events += 1
    f.off, f.ts, f.events, f.used = off, ts, events, used
    return b"".join(out)


def pid_at(data: bytearray, off: int, end: int) -> int | None:
    """The common_pid of the event at ``off`` (past a time extend), if it is a data event."""
    if off + 4 > end:
        return None
    word = _U32.unpack_from(data, off)[0]
    if word & 31 in (TYPE_TIME_EXTEND, TYPE_TIME_STAMP):
        off += 8
        if off + 4 > end:
            return None
        word = _U32.unpack_from(data, off)[0]
    tl = word & 31
    if tl > 28:
        return None
    start = off + 4 if tl else off + 8
    if start + 8 > end:
        return None
    return struct.unpack_from("<i", data, start + 4)[0]
