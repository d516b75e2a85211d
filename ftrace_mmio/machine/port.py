"""What the machine gives a device model: its interrupt pin and MSI
messages, bus-master DMA, and timers on the machine clock.

One port per PCI function, connected at boot (``model.port``).  The port
only routes: the interrupt controller (irq.py), the DMA bus (dma.py) and the
event queue (events.py) do the work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from .machine import Machine


class DevicePort:
    def __init__(self, machine: "Machine", pci_device: Any) -> None:
        self.machine = machine
        self.pci_device = pci_device

    def set_irq(self, level: bool) -> None:
        self.machine.irqchip.set_intx(self.pci_device, level)

    def msi_enabled(self) -> bool:
        return self.machine.irqchip.msi_enabled(self.pci_device)

    def msi_notify(self, vector: int) -> None:
        self.machine.irqchip.msi_notify(self.pci_device, vector)

    def dma_read(self, addr: int, size: int) -> bytes:
        return self.machine.dma.device_read(self.pci_device, addr, size)

    def dma_write(self, addr: int, data: bytes) -> None:
        self.machine.dma.device_write(self.pci_device, addr, data)

    def timer_after(self, delay_ns: int, fn: Callable[[], None]):
        return self.machine.events.after(delay_ns, fn)
