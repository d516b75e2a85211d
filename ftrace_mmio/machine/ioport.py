"""The x86 I/O port space: where ``in``/``out`` (and ``ins``/``outs``) land.

x86 has a second, 64 KiB address space besides memory, reached only by the
port instructions.  PCI functions claim pieces of it with I/O BARs; the bus
assigns them inside the I/O window (machine/pci.py) and this module decodes
a port to the device model's region for that BAR, the way iomem.py does for
memory BARs.

The CPU hands every port instruction to :meth:`IoPorts.read` /
:meth:`IoPorts.write` (cpu.py's UC_HOOK_INSN for IN and OUT; a ``rep ins``
arrives once per element).  Port I/O is not memory, so it never page-faults
and mmiotrace -- which traces page faults on ioremap'd pages -- does not see
it, on this machine as on the kernel.

A port no device claims reads as all ones (the bus's "no one answered")
and drops writes, silently: the kernel itself writes to unclaimed port 0x80
to pause (``outb_p``, ``slow_down_io``).  The first access to each other
unclaimed port is logged once at debug level, to help a driver writer.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from .iomem import Region

IO_SPACE_SIZE = 0x10000
#: The POST-code port: the kernel's I/O delay writes here; never logged.
POST_PORT = 0x80

LogFn = Callable[[int, str], None]


@dataclass
class _Claimed:
    start: int
    size: int
    region: Region
    name: str


class IoPorts:
    """Port space of one machine: I/O BAR regions by port number."""

    def __init__(self, log: LogFn | None = None) -> None:
        self.log = log
        self._claimed: list[_Claimed] = []       # sorted by start
        self._starts: list[int] = []
        self._warned: set[int] = set()
        #: Every access as (kind 'R'/'W', port, width, value), when a test
        #: or tool wants to watch (None: not recorded, the default).
        self.record: list[tuple[str, int, int, int]] | None = None

    def map_region(self, start: int, size: int, region: Region, name: str = "") -> None:
        """Ports [start, start+size) decode to ``region`` (offsets from start)."""
        if size <= 0 or start < 0 or start + size > IO_SPACE_SIZE:
            raise ValueError(f"I/O region {start:#x}+{size:#x} is outside the 64 KiB port space")
        for c in self._claimed:
            if start < c.start + c.size and c.start < start + size:
                raise ValueError(f"I/O region {start:#x}+{size:#x} overlaps {c.name or hex(c.start)}")
        i = bisect.bisect_left(self._starts, start)
        self._starts.insert(i, start)
        self._claimed.insert(i, _Claimed(start, size, region, name))

    def regions(self) -> list[tuple[int, int, str]]:
        return [(c.start, c.size, c.name) for c in self._claimed]

    def find(self, port: int) -> tuple[int, Region] | None:
        """(offset, region) decoding ``port``, if a device claims it."""
        i = bisect.bisect_right(self._starts, port) - 1
        if i >= 0:
            c = self._claimed[i]
            if port < c.start + c.size:
                return port - c.start, c.region
        return None

    # ---- the CPU side -----------------------------------------------------------------

    def read(self, port: int, width: int) -> int:
        mask = (1 << (8 * width)) - 1
        hit = self._decode(port, width)
        value = mask if hit is None else hit[1].read(hit[0], width) & mask
        if hit is None:
            self._unclaimed(port, width, "in")
        if self.record is not None:
            self.record.append(("R", port, width, value))
        return value

    def write(self, port: int, width: int, value: int) -> None:
        value &= (1 << (8 * width)) - 1
        hit = self._decode(port, width)
        if hit is None:
            self._unclaimed(port, width, "out")
        else:
            hit[1].write(hit[0], width, value)
        if self.record is not None:
            self.record.append(("W", port, width, value))

    def _decode(self, port: int, width: int) -> tuple[int, Region] | None:
        hit = self.find(port)
        if hit is None:
            return None
        offset, region = hit
        # An access running past the end of the BAR is not decoded by it
        # (a device claims whole accesses); it reads as unclaimed.
        if offset + width > getattr(region, "size", offset + width):
            return None
        return hit

    def _unclaimed(self, port: int, width: int, what: str) -> None:
        if port == POST_PORT or port in self._warned or self.log is None:
            return
        self._warned.add(port)
        self.log(7, f"port I/O: no device claims port {port:#06x} ({what}, {width} bytes); "
                    "reads return all ones, writes are dropped")


def io_bars(pci_devices: Iterable[Any]) -> list[tuple[int, int, Region, str]]:
    """(start, size, region, name) of every assigned I/O BAR on the bus."""
    out = []
    for dev in pci_devices:
        model = getattr(dev, "model", None)
        if model is None:
            continue
        for bar in model.bars:
            if not bar.is_io:
                continue
            res = dev.resources[bar.index]
            if not res.end or res.end < res.start:
                continue               # not assigned
            out.append((res.start, bar.size, model.region(bar.index), f"{dev.name} BAR{bar.index}"))
    return out
