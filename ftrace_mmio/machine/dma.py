"""Bus-master DMA: device models read and write guest memory by bus address.

Every access goes through the translation the kernel's DMA API set up for
that device (an IOMMU's view): memory the driver did not map for the device
is not reached, and the attempt is logged as a DMA fault.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .machine import Machine


class DmaBus:
    def __init__(self, machine: "Machine") -> None:
        self.machine = machine

    def device_read(self, pci_device: Any, addr: int, size: int) -> bytes:
        raise NotImplementedError("DMA is not wired yet")

    def device_write(self, pci_device: Any, addr: int, data: bytes) -> None:
        raise NotImplementedError("DMA is not wired yet")
