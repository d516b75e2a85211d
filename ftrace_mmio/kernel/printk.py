"""printk: the kernel's format language and the kernel log (dmesg).

The formatter follows the kernel's vsnprintf, not C's printf, where they
differ: ``%p`` prints a hashed value (16 hex digits, the top 8 zero) and
``%px`` the raw pointer; ``%pS``/``%ps`` print a symbol as
``name+0xoff/0xsize [module]``; NULL pointers print ``(null)``; a string
pointer that cannot be read prints ``(efault)``; letters and digits after
``%p`` are taken as its extension and consumed.

Arguments come from a callable that returns the next 64-bit argument slot
(registers, then the stack, or a ``va_list``): see ``kapi.py``.
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterable

from ..machine.mm import MemoryFault

KERN_SOH = 0x01
DEFAULT_LOGLEVEL = 4           # what a message without a level is logged at

# Bounds on what a driver's format can make us build, the kernel's own: vsnprintf
# clamps field width and precision (set_field_width/set_precision), and printk
# keeps at most PRINTKRB_RECORD_MAX - 1 bytes of one call's output. Without them
# "%999999999d" would have the daemon build a gigabyte string.
FIELD_WIDTH_MAX = (1 << 23) - 1
PRECISION_MAX = (1 << 15) - 1
PRINTK_RECORD_MAX = 1023
LEVEL_NAMES = ("emerg", "alert", "crit", "err", "warn", "notice", "info", "debug")

ReadString = Callable[[int], bytes]
Symbolize = Callable[[int, bool], str]


class PrintfFormatter:
    """Formats kernel printf strings against guest memory."""

    def __init__(self, read_string: ReadString, read_u64: Callable[[int], int],
                 symbolize: Symbolize, pointer_key: bytes) -> None:
        self._read_string = read_string
        self._read_u64 = read_u64
        self._symbolize = symbolize
        self._key = pointer_key[:64]

    def hash_pointer(self, ptr: int) -> int:
        digest = hashlib.blake2b(ptr.to_bytes(8, "little"), key=self._key, digest_size=4).digest()
        return int.from_bytes(digest, "little")

    def format(self, fmt: bytes, next_arg: Callable[[], int]) -> bytes:
        out = bytearray()
        i, n = 0, len(fmt)
        while i < n:
            pct = fmt.find(b"%", i)
            if pct < 0:
                out += fmt[i:]
                break
            out += fmt[i:pct]
            i = pct + 1
            if i >= n:
                break
            # flags
            flags = ""
            while i < n and chr(fmt[i]) in "-+ #0":
                flags += chr(fmt[i])
                i += 1
            width = -1
            if i < n and fmt[i] == ord("*"):
                width = _s32(next_arg())
                if width < 0:
                    flags += "-"
                    width = -width
                i += 1
            else:
                start = i
                while i < n and 48 <= fmt[i] <= 57:
                    i += 1
                if i > start:
                    width = _bounded_atoi(fmt[start:i], FIELD_WIDTH_MAX)
            width = min(width, FIELD_WIDTH_MAX)
            precision = -1
            if i < n and fmt[i] == ord("."):
                i += 1
                if i < n and fmt[i] == ord("*"):
                    precision = max(0, _s32(next_arg()))
                    i += 1
                else:
                    start = i
                    while i < n and 48 <= fmt[i] <= 57:
                        i += 1
                    precision = _bounded_atoi(fmt[start:i] or b"0", PRECISION_MAX)
            precision = min(precision, PRECISION_MAX)
            length = ""
            while i < n and chr(fmt[i]) in "hlLqjzZt":
                length += chr(fmt[i])
                i += 1
            if i >= n:
                break
            conv = chr(fmt[i])
            i += 1
            if conv == "%":
                out += b"%"
            elif conv == "c":
                out += _pad(bytes([next_arg() & 0xFF]), width, flags)
            elif conv == "s":
                out += _pad(self._string(next_arg(), precision), width, flags)
            elif conv == "p":
                ext_start = i
                while i < n and (chr(fmt[i]).isalnum()):
                    i += 1
                out += self._pointer(next_arg(), fmt[ext_start:i].decode("latin-1"), width, flags)
            elif conv in "diuxXo":
                out += _integer(next_arg(), conv, length, width, precision, flags)
            elif conv == "n":
                next_arg()          # the kernel ignores %n; so do we
            else:
                out += b"%" + fmt[pct + 1:i]
        return bytes(out)

    def _string(self, ptr: int, precision: int) -> bytes:
        if ptr == 0:
            s = b"(null)"
        elif ptr < 0x1000 or ptr >= 1 << 64:
            s = b"(efault)"
        else:
            try:
                s = self._read_string(ptr)
            except MemoryFault:
                s = b"(efault)"
        return s if precision < 0 else s[:precision]

    def _pointer(self, ptr: int, ext: str, width: int, flags: str) -> bytes:
        kind = ext[:1]
        if kind in ("S", "s", "B"):
            return _pad(self._symbolize(ptr, kind != "s").encode(), width, flags)
        if kind == "a":
            # %pa: phys_addr_t passed by reference
            try:
                value = self._read_u64(ptr)
            except MemoryFault:
                return _pad(b"(efault)", width, flags)
            return _pad(f"0x{value:016x}".encode(), width, flags)
        if kind in ("M", "m"):
            # %pM: a 6-byte MAC address "52:54:00:12:34:56"; %pm without
            # separators; R reversed, F with hyphens.
            if ptr == 0:
                return _pad(b"(null)", width, flags)
            try:
                raw = self._read_u64(ptr).to_bytes(8, "little")[:6]
            except MemoryFault:
                try:                                    # the last bytes of a mapping
                    raw = self._read_u64(ptr - 2).to_bytes(8, "little")[2:]
                except MemoryFault:
                    return _pad(b"(efault)", width, flags)
            if "R" in ext[1:3]:
                raw = raw[::-1]
            sep = "" if kind == "m" else "-" if "F" in ext[1:3] else ":"
            return _pad(sep.join(f"{b:02x}" for b in raw).encode(), width, flags)
        if kind == "x":
            return _pad(f"{ptr:016x}".encode(), width, "0" if width < 0 else flags)
        if ptr == 0:
            return _pad(b"(null)", 16 if width < 0 else width, flags)
        return _pad(f"{self.hash_pointer(ptr):016x}".encode(), width, flags)


def _bounded_atoi(digits: bytes, limit: int) -> int:
    # Thousands of digits would make int() refuse (and are clamped anyway).
    return int(digits) if len(digits) <= 9 else limit


def _s32(v: int) -> int:
    v &= 0xFFFF_FFFF
    return v - (1 << 32) if v & 0x8000_0000 else v


def _pad(s: bytes, width: int, flags: str) -> bytes:
    if width <= len(s):
        return s
    fill = b" " * (width - len(s))
    return s + fill if "-" in flags else fill + s


def _integer(raw: int, conv: str, length: str, width: int, precision: int, flags: str) -> bytes:
    bits = {"hh": 8, "h": 16}.get(length, 64 if length else 32)
    raw &= (1 << bits) - 1
    signed = conv in "di"
    value = raw - (1 << bits) if signed and raw >> (bits - 1) else raw
    neg = value < 0
    mag = -value if neg else value
    digits = {"x": f"{mag:x}", "X": f"{mag:X}", "o": f"{mag:o}"}.get(conv, str(mag))
    if precision >= 0:
        digits = digits.rjust(precision, "0") if precision or mag else ""
    prefix = ""
    if neg:
        prefix = "-"
    elif signed and "+" in flags:
        prefix = "+"
    elif signed and " " in flags:
        prefix = " "
    if "#" in flags and mag:
        prefix += {"x": "0x", "X": "0X", "o": "0"}.get(conv, "")
    body = prefix + digits
    if width > len(body):
        if "-" in flags:
            body = body.ljust(width)
        elif "0" in flags and precision < 0:
            body = prefix + digits.rjust(width - len(prefix), "0")
        else:
            body = body.rjust(width)
    return body.encode()


# --------------------------------------------------------------------------


def split_level(text: bytes) -> tuple[int | None, bool, bytes]:
    """Strip KERN_* prefixes: (level or None, is-continuation, rest)."""
    level: int | None = None
    cont = False
    while len(text) >= 2 and text[0] == KERN_SOH:
        c = text[1]
        if 48 <= c <= 55:
            level = c - 48
        elif c == ord("c"):
            cont = True
        elif c != ord("d"):
            break
        text = text[2:]
    return level, cont, text


@dataclass
class LogRecord:
    """One dmesg line."""

    seq: int
    ts_ns: int
    level: int
    text: str

    def format(self) -> str:
        sec, ns = divmod(self.ts_ns, 1_000_000_000)
        return f"[{sec:5d}.{ns // 1000:06d}] {self.text}"

    def as_dict(self) -> dict:
        return {"seq": self.seq, "ts_ns": self.ts_ns, "level": self.level,
                "level_name": LEVEL_NAMES[self.level], "text": self.text}


class KernelLog:
    """The kernel's ring of log records: safe to read from any thread."""

    def __init__(self, clock_ns: Callable[[], int], capacity: int = 8192) -> None:
        self._clock_ns = clock_ns
        self._records: deque[LogRecord] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._seq = 0
        self._open = False               # last record had no newline yet
        self.listeners: list[Callable[[LogRecord], None]] = []

    def printk(self, raw: bytes) -> int:
        """Log one printk call's output (with its level prefix)."""
        level, cont, text = split_level(raw[:PRINTK_RECORD_MAX])
        body = text.decode("utf-8", "replace")
        new: list[LogRecord] = []
        with self._lock:
            lines = body.split("\n")
            ends_open = not body.endswith("\n")
            if not ends_open:
                lines.pop()
            for k, line in enumerate(lines):
                if k == 0 and cont and self._open and self._records:
                    self._records[-1].text += line
                    continue
                self._seq += 1
                rec = LogRecord(self._seq, self._clock_ns(), DEFAULT_LOGLEVEL if level is None else level, line)
                self._records.append(rec)
                new.append(rec)
            if lines or not cont:
                self._open = ends_open and bool(lines)
        for rec in new:
            for fn in self.listeners:
                fn(rec)
        return len(text)

    def log(self, level: int, text: str) -> None:
        """Log lines from the machine itself (boot messages, oopses)."""
        self.printk(bytes([KERN_SOH, 48 + level]) + text.encode() + b"\n")

    def records(self, since_seq: int = 0) -> list[LogRecord]:
        with self._lock:
            return [r for r in self._records if r.seq > since_seq]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._open = False

    def text(self, records: Iterable[LogRecord] | None = None) -> str:
        recs = self.records() if records is None else records
        return "".join(r.format() + "\n" for r in recs)
