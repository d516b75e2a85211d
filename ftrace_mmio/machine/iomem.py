"""The hardware side of MMIO: how a CPU access reaches a device model.

Each memory BAR is a unicorn ``mmio_map`` region that is kept at
UC_PROT_NONE for its whole life, plus a raw
``UC_HOOK_MEM_READ_PROT | UC_HOOK_MEM_WRITE_PROT`` hook bounded to it.

Why not simply the mmio_map callbacks?  Unicorn splits accesses before they
reach them (emulation.md §6): an 8-byte load arrives as two 4-byte reads, a
load spanning a page boundary as two *aligned* reads that include bytes the
CPU never asked for, a store spanning pages as single bytes.  A device with
read side effects (read-to-clear status, FIFOs) would see the wrong thing.
The PROT hook, in contrast, fires once per instruction-level access, before
the split, with the exact physical address, width, the stored value and an
exact RIP (measured: ``mov rax,[bar]`` gives one PROT of size 8, then two
4-byte callbacks).  So:

* read PROT: call the device's ``read(offset, width)`` once and keep the
  bytes; the split mmio read callbacks that follow are served from them.
  Bytes a split callback covers outside the access come from the region's
  side-effect-free ``peek`` (the CPU discards them anyway), never from a
  second device read.
* write PROT: call ``write(offset, width, value)`` once; the split mmio
  write callbacks are ignored.  A store spanning a page boundary fires PROT
  once with the full width and then once per byte for the split (so does
  any unaligned store); those per-byte repeats (same RIP, inside the access
  just delivered) are dropped.

Devices therefore see exactly 1/2/4/8-byte accesses, never split, and one
access per element of ``rep movs``/``rep stos``.

The hooks must be bounded.  Measured on unicorn 2.1.4 with paging: while an
*unbounded* PROT hook exists, every load and store the guest makes -- RAM
included -- takes the slow path (a driver's compute loop ran 5-6x slower:
11 ms became 65 ms).  A PROT hook whose range (physical addresses, P12) is
the BAR leaves RAM accesses on the fast path.  (Earlier measurements that
found PROT hooks free had translated and TLB-filled the code before adding
the hook.)

Observers (the mmiotrace tracer, tests) get every delivered access as
``fn(kind, phys, width, value, rip)`` with kind ``'R'`` or ``'W'``.
"""

from __future__ import annotations

import bisect
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from unicorn import UcError
from unicorn import unicorn_const as ucc
from unicorn.unicorn_py3.unicorn import (
    HOOK_MEM_INVALID_CFUNC,
    MMIO_READ_CFUNC,
    MMIO_WRITE_CFUNC,
    uclib,
)

from .cpu import Cpu, Stop

PAGE_SIZE = 0x1000

# What one device access costs in machine time (ns; trace/clock.py,
# docs/kernel/time.md): a read is a non-posted round trip to the device, a
# write is posted.  Charged before the device sees the access, so a status
# register read after a device event's due time sees the event's effect, and
# the access's trace record carries the time it completed.
MMIO_READ_NS = 1000
MMIO_WRITE_NS = 250


class Region(Protocol):
    """What a device gives for one BAR."""

    def read(self, offset: int, width: int) -> int: ...

    def write(self, offset: int, width: int, value: int) -> None: ...

    # Optional: ``peek(offset, width) -> int``, a read without side effects.


IoObserver = Callable[[str, int, int, int, int], None]


class _NoClock:
    """The clock of an IoMem no machine clock is attached to."""

    ns = 0
    due = 1 << 64

    def access_due(self) -> None:
        pass

#: An unclaimed physical address is served by claiming the aligned window of
#: this size around it (clipped to its neighbours): one dmesg line per window.
UNCLAIMED_WINDOW = 1 << 20


class UnclaimedRegion:
    """Physical addresses no device decodes: PCI's master abort.  Reads
    return all ones, writes are dropped; nothing is remembered."""

    def __init__(self, size: int) -> None:
        self.size = size

    def read(self, offset: int, width: int) -> int:
        return (1 << (8 * width)) - 1

    peek = read

    def write(self, offset: int, width: int, value: int) -> None:
        pass


@dataclass
class _Mapped:
    start: int
    size: int
    region: Region
    name: str


class IoMem:
    """Physical device memory on one CPU."""

    def __init__(self, cpu: Cpu) -> None:
        self.cpu = cpu
        self.observers: list[IoObserver] = []
        self._regions: list[_Mapped] = []        # sorted by start
        self._starts: list[int] = []
        self._last: _Mapped | None = None
        # The access the read callbacks are being served from.
        self._stash_addr = 0
        self._stash_size = 0
        self._stash_value = 0
        # A page-spanning store whose per-byte repeats are still to come.
        self._split_rip = -1
        self._split_lo = 0
        self._split_hi = 0
        self._split_left = 0
        # Observers get the RIP of every access: read it in place when the
        # CPU found its live state (one attribute read, no property call).
        self._rip_word = cpu.rip_word
        # The machine clock (trace/clock.py TimeBase: ``ns`` now, ``due``
        # when access_due() must run); attach_clock() connects it.
        self._clock: Any = _NoClock()
        self._prot_cb = HOOK_MEM_INVALID_CFUNC(self._on_prot)
        self._hooks: list[int] = []
        self._keep: list[object] = []
        #: Kernel log for the one line per unclaimed window (the machine sets it).
        self.log: Callable[[int, str], None] | None = None
        # Unclaimed addresses: unicorn reports an access to physical memory
        # nothing maps as READ/WRITE_UNMAPPED (physical address, as for the
        # PROT hooks).  The hook claims a window there (UnclaimedRegion) and
        # lets the access retry through the normal device path, so it is
        # traced and timed like any device access.  Unbounded, but it only
        # runs on a failed lookup: RAM accesses do not pay for it.
        self._unmapped_cb = HOOK_MEM_INVALID_CFUNC(self._on_unmapped)
        cpu.add_raw_hook(ucc.UC_HOOK_MEM_READ_UNMAPPED | ucc.UC_HOOK_MEM_WRITE_UNMAPPED, self._unmapped_cb)

    # ---- set-up --------------------------------------------------------------

    def map_region(self, start: int, size: int, region: Region, name: str = "") -> None:
        """Make [start, start+size) (physical, page-aligned) decode to
        ``region``."""
        if start % PAGE_SIZE or size % PAGE_SIZE or size <= 0:
            raise ValueError(f"device region {start:#x}+{size:#x} is not page-aligned")
        if start < self.cpu.ram_size:
            raise ValueError(f"device region {start:#x} overlaps RAM")
        for r in self._regions:
            if start < r.start + r.size and r.start < start + size:
                raise ValueError(f"device region {start:#x}+{size:#x} overlaps {r.name or hex(r.start)}")
        mapped = _Mapped(start, size, region, name)
        read_cb = MMIO_READ_CFUNC(lambda _uch, off, width, _ud: self._on_mmio_read(mapped, off, width))
        write_cb = MMIO_WRITE_CFUNC(lambda _uch, off, width, value, _ud: None)
        status = uclib.uc_mmio_map(self.cpu.uch, start, size, read_cb, None, write_cb, None)
        if status != ucc.UC_ERR_OK:
            raise UcError(status)
        status = uclib.uc_mem_protect(self.cpu.uch, start, size, ucc.UC_PROT_NONE)
        if status != ucc.UC_ERR_OK:
            raise UcError(status)
        self._keep += [read_cb, write_cb]
        i = bisect.bisect_left(self._starts, start)
        self._starts.insert(i, start)
        self._regions.insert(i, mapped)
        # Bounded to the region (physical addresses): measured on 2.1.4, an
        # unbounded PROT hook makes every load and store the guest does,
        # RAM included, take unicorn's slow path (5-6x slower code); a
        # bounded one leaves RAM alone.
        self._hooks.append(self.cpu.add_raw_hook(ucc.UC_HOOK_MEM_READ_PROT | ucc.UC_HOOK_MEM_WRITE_PROT,
                                                 self._prot_cb, start, start + size - 1))

    def attach_clock(self, time_base: Any) -> None:
        """Charge every access to ``time_base`` (a TimeBase: ``ns += cost``,
        then ``access_due()`` once ``ns`` reached ``due``)."""
        self._clock = time_base

    def regions(self) -> list[tuple[int, int, str]]:
        return [(r.start, r.size, r.name) for r in self._regions]

    def find(self, phys: int) -> tuple[int, Region] | None:
        """(offset, region) decoding ``phys``, if any device does."""
        r = self._lookup(phys)
        return None if r is None else (phys - r.start, r.region)

    def _lookup(self, phys: int) -> _Mapped | None:
        r = self._last
        if r is not None and r.start <= phys < r.start + r.size:
            return r
        i = bisect.bisect_right(self._starts, phys) - 1
        if i >= 0:
            r = self._regions[i]
            if phys < r.start + r.size:
                self._last = r
                return r
        return None

    # ---- unclaimed physical addresses -------------------------------------------------

    def _on_unmapped(self, _uch, access: int, addr: int, size: int, value: int, _ud) -> bool:
        try:
            window = self._unclaimed_window(addr)
            if window is None:
                return False            # RAM or already claimed: not ours to explain
            start, length = window
            self.map_region(start, length, UnclaimedRegion(length), name="unclaimed")
            if self.log is not None:
                what = "read from" if access == ucc.UC_MEM_READ_UNMAPPED else "write to"
                self.log(4, f"unclaimed physical address {addr:#x} ({what}): no device decodes "
                            f"[mem {start:#018x}-{start + length - 1:#018x}], "
                            "reads return all ones, writes are dropped")
            return True
        except BaseException as exc:  # noqa: BLE001 - must not escape into C
            self.cpu.stop(Stop("internal error", f"unclaimed access failed: {exc!r}",
                               [f"BUG: serving unclaimed address {addr:#x} failed: {exc!r}"],
                               detail="".join(traceback.format_exception(exc))))
            return False

    def _unclaimed_window(self, addr: int) -> tuple[int, int] | None:
        """The page-aligned range to claim around ``addr``: its
        UNCLAIMED_WINDOW-aligned window, clipped to RAM and mapped regions."""
        if addr < self.cpu.ram_size or self._lookup(addr) is not None:
            return None
        lo = max(addr & ~(UNCLAIMED_WINDOW - 1), self.cpu.ram_size)
        hi = (addr | (UNCLAIMED_WINDOW - 1)) + 1
        for r in self._regions:
            end = r.start + r.size
            if end <= addr:
                lo = max(lo, end)
            elif r.start > addr:
                hi = min(hi, r.start)
        lo &= ~(PAGE_SIZE - 1)
        hi = (hi + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
        return lo, hi - lo

    # ---- the access path -----------------------------------------------------------

    def _on_prot(self, _uch, access: int, addr: int, size: int, value: int, _ud) -> bool:
        try:
            if access == ucc.UC_MEM_READ_PROT:
                return self._read(addr, size)
            if access == ucc.UC_MEM_WRITE_PROT:
                return self._write(addr, size, value)
            return False
        except BaseException as exc:  # noqa: BLE001 - must not escape into C
            self.cpu.stop(Stop("internal error", f"device model failed: {exc!r}",
                               [f"BUG: device model failed at {addr:#x}: {exc!r}"],
                               detail="".join(traceback.format_exception(exc))))
            return True

    def _read(self, addr: int, size: int) -> bool:
        r = self._lookup(addr)
        if r is None:
            return False
        clock = self._clock
        t = clock.ns + MMIO_READ_NS
        clock.ns = t
        if t >= clock.due:
            clock.access_due()
        value = r.region.read(addr - r.start, size) & ((1 << (8 * size)) - 1)
        self._stash_addr, self._stash_size, self._stash_value = addr, size, value
        observers = self.observers
        if observers:
            w = self._rip_word
            rip = w.value if w is not None else self.cpu.rip
            for fn in observers:
                fn("R", addr, size, value, rip)
        return True

    def _write(self, addr: int, size: int, value: int) -> bool:
        if self._split_left:
            rip = self.cpu.rip
            if size == 1 and rip == self._split_rip and self._split_lo <= addr < self._split_hi:
                self._split_left -= 1
                return True
            self._split_left = 0
            rip_known = rip
        else:
            rip_known = None
        r = self._lookup(addr)
        if r is None:
            return False
        clock = self._clock
        t = clock.ns + MMIO_WRITE_NS
        clock.ns = t
        if t >= clock.due:
            clock.access_due()
        value &= (1 << (8 * size)) - 1
        if addr & (size - 1):
            # Unicorn now repeats this unaligned store byte by byte (P11).
            # Only a 1-byte store can be such a repeat, and a genuine store
            # from this same instruction would have its width, not 1.
            self._split_rip = rip_known if rip_known is not None else self.cpu.rip
            self._split_lo, self._split_hi, self._split_left = addr, addr + size, size
        r.region.write(addr - r.start, size, value)
        observers = self.observers
        if observers:
            if rip_known is not None:
                rip = rip_known
            else:
                w = self._rip_word
                rip = w.value if w is not None else self.cpu.rip
            for fn in observers:
                fn("W", addr, size, value, rip)
        return True

    def _on_mmio_read(self, mapped: _Mapped, offset: int, width: int) -> int:
        phys = mapped.start + offset
        lo, n = self._stash_addr, self._stash_size
        if lo <= phys and phys + width <= lo + n:
            return (self._stash_value >> (8 * (phys - lo))) & ((1 << (8 * width)) - 1)
        # A split piece reaching outside the access (an unaligned access
        # split into aligned reads): the access's own bytes from the stash,
        # the others from the region's side-effect-free view.
        peek = getattr(mapped.region, "peek", None)
        out = 0
        for i in range(width):
            b = phys + i
            if lo <= b < lo + n:
                byte = (self._stash_value >> (8 * (b - lo))) & 0xFF
            else:
                byte = peek(b - mapped.start, 1) & 0xFF if peek is not None else 0
            out |= byte << (8 * i)
        return out

