"""fastparse.c: built at first use, loaded with ctypes; None when it cannot be.

The library is compiled with the gcc that compiles drivers and cached beside
the faithful engine's helper (mmiotrace/native.py), keyed by the source and
the compiler. ``FTRACE_MMIO_NATIVE=0`` (or no gcc) leaves the pure-Python
path, which gives the same records and the same statistics, more slowly.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path

from ..cbuild import NativeUnavailable, build

SOURCE = Path(__file__).with_name("fastparse.c")
CFLAGS = ("-O2", "-shared", "-fPIC", "-Wall", "-Werror")

_u64 = ctypes.c_uint64
_i64 = ctypes.c_int64
_p = ctypes.c_void_p

K_SLOW, K_R, K_W, K_MAP, K_UNMAP = range(5)


class FpRec(ctypes.Structure):
    _fields_ = [("ts", _u64), ("phys", _u64), ("value", _u64), ("pc", _u64), ("length", _u64),
                ("map_id", _i64), ("pid", _u64), ("start", ctypes.c_uint32), ("len", ctypes.c_uint32),
                ("kind", ctypes.c_uint8), ("width", ctypes.c_uint8), ("pad", ctypes.c_uint8 * 6)]


#: struct.Struct layout of FpRec, for iter_unpack.
REC_FORMAT = "<5Qq Q2I2B6x"


class FpReg(ctypes.Structure):
    _fields_ = [(n, _u64) for n in ("reads", "writes", "unknown", "last_us", "last_line", "last_value",
                                    "has_last_value", "widths", "nwidths", "overflow", "nvalues", "vcap")] + [
        ("values", _p), ("bins", ctypes.POINTER(ctypes.c_uint8))]


class FpSlot(ctypes.Structure):
    _fields_ = [("key", _i64)] + [(n, _u64) for n in ("first_value", "last_value", "reads", "same", "changed")]


MAX_PERIOD = 4
PLOT_BINS = 2048


class FpLoop(ctypes.Structure):
    _fields_ = [(n, _u64) for n in ("period", "iterations", "reads", "first_line", "last_line", "first_us",
                                    "last_us")] + [("slots", FpSlot * MAX_PERIOD)]


class FpGap(ctypes.Structure):
    _fields_ = [("gap", _i64), ("line", _u64), ("prev_line", _u64), ("at_us", _u64)]


class FpSummary(ctypes.Structure):
    _fields_ = [(n, _u64) for n in ("rw_records", "nregs", "nloops", "ngaps", "gaps_over", "has_prev", "prev_ts",
                                    "has_first", "first_us", "last_us", "t0", "binw", "has_t0")]


@functools.cache
def library() -> ctypes.CDLL | None:
    """The loaded library, or None (no gcc, FTRACE_MMIO_NATIVE=0, a build failure)."""
    try:
        dll = build(SOURCE, CFLAGS)
    except NativeUnavailable:
        return None
    dll.fp_layout.restype = _u64
    sizes = [dll.fp_layout() >> s & 0xFFFF for s in (0, 16, 32, 48)]
    if sizes != [ctypes.sizeof(c) for c in (FpRec, FpReg, FpLoop, FpSummary)]:
        return None
    dll.fp_tokenize.restype = ctypes.c_size_t
    dll.fp_tokenize.argtypes = (_p, ctypes.c_size_t, _p, ctypes.c_size_t,
                                ctypes.POINTER(_u64), _p, ctypes.POINTER(_u64))
    dll.fp_stats_new.restype = _p
    dll.fp_stats_new.argtypes = (_u64, _u64, _u64)
    dll.fp_stats_free.argtypes = (_p,)
    dll.fp_stats_set_key.argtypes = (_p, _u64, _i64, _u64, _i64)
    dll.fp_stats_set_key.restype = ctypes.c_int
    dll.fp_stats_clear_keys.argtypes = (_p,)
    dll.fp_stats_new_reg.argtypes = (_p,)
    dll.fp_stats_new_reg.restype = _i64
    dll.fp_stats_reg.argtypes = (_p, _i64)
    dll.fp_stats_reg.restype = ctypes.POINTER(FpReg)
    dll.fp_stats_time.argtypes = (_p, _u64, _u64)
    dll.fp_stats_interrupt.argtypes = (_p,)
    dll.fp_stats_access.argtypes = (_p, _i64, _u64, _u64, _u64, _u64, _u64)
    dll.fp_stats_unknown.argtypes = (_p, _i64, _u64, _u64)
    dll.fp_stats_feed.argtypes = (_p, _p, _u64, _u64)
    dll.fp_stats_feed.restype = _u64
    dll.fp_stats_summary.argtypes = (_p, ctypes.POINTER(FpSummary))
    dll.fp_stats_take_loops.argtypes = (_p, _p, _u64)
    dll.fp_stats_take_loops.restype = _u64
    dll.fp_stats_gaps.argtypes = (_p, _p)
    return dll


class Tokenizer:
    """Reusable output arrays for :func:`fp_tokenize` (one per parser)."""

    def __init__(self, lib: ctypes.CDLL, max_lines: int) -> None:
        self.lib = lib
        self.max = max_lines
        self.recs = (FpRec * max_lines)()
        self.slow = (ctypes.c_uint32 * max_lines)()
        self._consumed = _u64()
        self._nslow = _u64()

    def run(self, buf: bytes, start: int = 0) -> tuple[int, int, int]:
        """(lines, bytes consumed, slow lines) of the complete lines of buf[start:]."""
        base = ctypes.cast(ctypes.c_char_p(buf), _p).value + start   # type: ignore[operator]
        n = self.lib.fp_tokenize(base, len(buf) - start, ctypes.addressof(self.recs), self.max,
                                 ctypes.byref(self._consumed), ctypes.addressof(self.slow),
                                 ctypes.byref(self._nslow))
        return n, self._consumed.value, self._nslow.value
