"""Bus-master DMA: device models read and write guest memory by bus address.

Every access goes through the translation the kernel's DMA API set up for
that device, as an IOMMU would see it: a table per PCI function of bus
address ranges -> physical RAM, each with the directions the device may use.
The kernel side (kernel/dma.py) fills the table at dma_map_* and
dma_alloc_coherent time and empties it at unmap/free.

Bus addresses equal physical addresses (direct mapping, as on x86 without
an IOMMU or swiotlb bouncing, which is what the real kernel in QEMU shows);
only the permission check is an IOMMU's.  What the device may not reach:

* an address no live mapping of THIS device covers, or a mapping whose
  direction forbids the access (a DMA_TO_DEVICE buffer is read-only for the
  device, a DMA_FROM_DEVICE one write-only): a DMA fault, logged as Intel's
  VT-d driver logs one (``DMAR: [DMA Write NO_PASID] Request device
  [00:05.0] fault addr 0x7a5fe000 [fault reason 0x05] PTE Write access is
  not set``; the address is the page, as VT-d's fault recording register
  holds it).  Nothing is written; a read returns all ones (0xff bytes), what
  a PCI requester sees for an aborted request and what an unclaimed MMIO
  read returns on this machine too.
* anything at all while PCI_COMMAND_MASTER is clear (the driver did not call
  pci_set_master): the device cannot start a bus cycle.  Real hardware is
  silent about it; here one dmesg line says so, and the access is dropped
  the same way (nothing written, reads all ones).

Fault lines are rate limited like the kernel's dmar_fault (10 per 5 s of
machine time, then one "callbacks suppressed" line), so a device spinning
on a bad address cannot flood the log.  Every refused access is also kept
in :attr:`DmaBus.faults` (the last 256) for tests and debuggers.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .machine import Machine

PAGE_SIZE = 4096
PCI_COMMAND = 0x04
PCI_COMMAND_MASTER = 0x4

# VT-d fault reasons (Intel VT-d specification, "Non-recoverable fault
# conditions"): the PTE for the page lacks the permission the request needs.
# An unmapped page has neither, so it reports the same reasons.
FAULT_WRITE = (0x05, "PTE Write access is not set")
FAULT_READ = (0x06, "PTE Read access is not set")

RATELIMIT_INTERVAL_NS = 5_000_000_000     # DEFAULT_RATELIMIT_INTERVAL (5 * HZ)
RATELIMIT_BURST = 10                      # DEFAULT_RATELIMIT_BURST


@dataclass
class DmaMapping:
    """One range the kernel mapped for a device: bus [bus, bus+size) -> RAM at phys."""

    bus: int
    size: int
    phys: int
    device_reads: bool      # DMA_TO_DEVICE or BIDIRECTIONAL
    device_writes: bool     # DMA_FROM_DEVICE or BIDIRECTIONAL
    kind: str = ""          # "coherent", "single", "page", "sg": for messages and dumps
    owner: str | None = None  # the module that mapped it (None: the kernel)

    @property
    def end(self) -> int:
        return self.bus + self.size

    def allows(self, write: bool) -> bool:
        return self.device_writes if write else self.device_reads


@dataclass(frozen=True)
class DmaFault:
    """One refused device access."""

    slot: str            # "00:05.0"
    write: bool
    addr: int            # the first byte the device could not reach
    size: int            # the whole access
    reason: str          # "unmapped", "read-only", "write-only", "no-master"


def _source_id(pci_device: Any) -> str:
    bus, devfn = pci_device.slot
    return f"{bus:02x}:{devfn >> 3:02x}.{devfn & 7}"


class _RateLimit:
    """The kernel's ratelimit state on the machine clock."""

    def __init__(self, clock_ns) -> None:
        self._clock_ns = clock_ns
        self._begin: int | None = None
        self._printed = 0
        self.missed = 0

    def __call__(self) -> bool:
        now = self._clock_ns()
        if self._begin is None or now - self._begin >= RATELIMIT_INTERVAL_NS:
            self._begin, self._printed = now, 0
        if self._printed < RATELIMIT_BURST:
            self._printed += 1
            return True
        self.missed += 1
        return False


class DmaBus:
    """The machine's DMA path: an IOMMU-like table per device, and the accesses."""

    def __init__(self, machine: "Machine") -> None:
        self.machine = machine
        self._maps: dict[int, list[DmaMapping]] = {}     # id(PciDevice) -> its mappings
        self.faults: collections.deque[DmaFault] = collections.deque(maxlen=256)
        tb = machine.time_base
        # Looking at the clock must not tick the det clock: now_ns() where
        # the clock has it (it does not tick), else the plain machine clock.
        self._ratelimit = _RateLimit(getattr(tb, "now_ns", None) or tb.since_boot_ns)

    # ---- the table (the kernel's DMA API programs it) --------------------------------

    def map(self, pci_device: Any, bus: int, phys: int, size: int, *,
            device_reads: bool, device_writes: bool, kind: str = "",
            owner: str | None = None) -> DmaMapping:
        if size < 0:
            raise ValueError("a DMA mapping cannot have a negative size")
        if phys < 0 or phys + size > self.machine.mm.ram_size:
            raise ValueError(f"DMA mapping of {phys:#x}+{size:#x} is not RAM")
        m = DmaMapping(bus, size, phys, device_reads, device_writes, kind, owner)
        self._maps.setdefault(id(pci_device), []).append(m)
        return m

    def unmap(self, pci_device: Any, bus: int, size: int | None = None) -> DmaMapping | None:
        """Remove the most recent mapping starting at ``bus`` (and of ``size``
        when given); None if there is none."""
        maps = self._maps.get(id(pci_device), [])
        for i in range(len(maps) - 1, -1, -1):
            m = maps[i]
            if m.bus == bus and (size is None or m.size == size):
                del maps[i]
                return m
        return None

    def find(self, pci_device: Any, bus: int) -> DmaMapping | None:
        """The most recent mapping starting at ``bus``."""
        for m in reversed(self._maps.get(id(pci_device), [])):
            if m.bus == bus:
                return m
        return None

    def mappings(self, pci_device: Any) -> list[DmaMapping]:
        return list(self._maps.get(id(pci_device), []))

    def owned_by(self, owner: str) -> list[tuple[Any, DmaMapping]]:
        """(device, mapping) for every live mapping ``owner`` made."""
        devices = {id(d): d for d in self.machine.pci_bus.devices}
        return [(devices.get(key), m) for key, maps in self._maps.items() for m in maps
                if m.owner == owner]

    # ---- the device side ----------------------------------------------------------------

    def device_read(self, pci_device: Any, addr: int, size: int) -> bytes:
        """``size`` bytes at bus address ``addr``, or all ones if refused."""
        if size <= 0:
            return b""
        pieces = self._translate(pci_device, addr, size, write=False)
        if pieces is None:
            return b"\xff" * size
        read = self.machine.cpu.read_phys
        return b"".join(read(pa, n) for pa, n in pieces)

    def device_write(self, pci_device: Any, addr: int, data: bytes) -> None:
        """Store ``data`` at bus address ``addr``; a refused write stores nothing."""
        data = bytes(data)
        if not data:
            return
        pieces = self._translate(pci_device, addr, len(data), write=True)
        if pieces is None:
            return
        write = self.machine.cpu.write_phys
        off = 0
        for pa, n in pieces:
            write(pa, data[off:off + n])
            off += n

    def _translate(self, pci_device: Any, addr: int, size: int, write: bool) -> list[tuple[int, int]] | None:
        """Physical pieces of [addr, addr+size), or None after logging why not.

        The whole access is checked before any byte moves: a write that runs
        off the end of its buffer writes nothing at all (an IOMMU would have
        let the mapped part through; refusing it whole keeps the test for
        "nothing written" simple and the bug just as visible)."""
        if not pci_device.config_read(PCI_COMMAND, 2) & PCI_COMMAND_MASTER:
            self._refuse(pci_device, write, addr, size, "no-master")
            return None
        maps = self._maps.get(id(pci_device), ())
        pieces: list[tuple[int, int]] = []
        pos, end = addr, addr + size
        while pos < end:
            hit = wrong = None
            for m in reversed(maps):            # the newest mapping wins an overlap
                if m.bus <= pos < m.end:
                    if m.allows(write):
                        hit = m
                        break
                    wrong = m
            if hit is None:
                reason = "unmapped" if wrong is None else ("read-only" if write else "write-only")
                self._refuse(pci_device, write, pos, size, reason)
                return None
            n = min(end, hit.end) - pos
            pa = hit.phys + (pos - hit.bus)
            if pieces and pieces[-1][0] + pieces[-1][1] == pa:
                pieces[-1] = (pieces[-1][0], pieces[-1][1] + n)
            else:
                pieces.append((pa, n))
            pos += n
        return pieces

    def _refuse(self, pci_device: Any, write: bool, addr: int, size: int, reason: str) -> None:
        src = _source_id(pci_device)
        self.faults.append(DmaFault(src, write, addr, size, reason))
        log = self.machine.log
        if not self._ratelimit():
            return
        if self._ratelimit.missed:
            log.log(4, f"dmar_fault: {self._ratelimit.missed} callbacks suppressed")
            self._ratelimit.missed = 0
        if reason == "no-master":
            what = "write" if write else "read"
            log.log(4, f"pci 0000:{src}: DMA {what} of {size} bytes at {addr:#x} dropped: "
                       "bus mastering is off (PCI_COMMAND_MASTER clear; pci_set_master not called)")
            return
        code, text = FAULT_WRITE if write else FAULT_READ
        kind = "DMA Write" if write else "DMA Read"
        log.log(3, f"DMAR: [{kind} NO_PASID] Request device [{src}] fault addr "
                   f"{addr & ~(PAGE_SIZE - 1):#x} [fault reason {code:#04x}] {text}")
