"""irqdev: a small PCI function for the interrupt tests.

BAR0 (4 KiB) holds five 32-bit registers:

* 0x00 ID, reads 0x1a0001ed;
* 0x04 STATUS, the interrupt causes not yet acknowledged (read-only);
* 0x08 RAISE, ORs the written bits into STATUS and interrupts: an MSI or
  MSI-X message (vector = VECTOR) when the driver enabled one, else the
  INTx pin goes high and stays high while STATUS is nonzero;
* 0x0c ACK, clears the written bits; INTx goes low when STATUS is 0;
* 0x10 VECTOR, which MSI/MSI-X message RAISE sends;
* 0x14 RAISE_LATER, like RAISE, 100 us of machine time after the write.

An MSI capability (one vector) and an MSI-X capability (4 vectors, table
in BAR1) let the tests use every kind of interrupt.  Load it in a machine
file with ``model = "tests/irqdev_model.py"`` or add an instance to a bus.
"""

from __future__ import annotations

from ftrace_mmio.machine.devices.base import BarSpec, DeviceModel, MsixSpec, Region

ID, STATUS, RAISE, ACK, VECTOR, RAISE_LATER = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x14
IRQDEV_ID = 0x1A0001ED
LATER_NS = 100_000


class IrqDevRegs(Region):
    def __init__(self, model: "IrqDev") -> None:
        super().__init__(4096, "irqdev regs")
        self.dev = model

    def _read(self, offset: int, width: int) -> int:
        if width != 4:
            return (1 << 8 * width) - 1
        return {ID: IRQDEV_ID, STATUS: self.dev.status, VECTOR: self.dev.vector}.get(offset, 0)

    def _write(self, offset: int, width: int, value: int) -> None:
        if width != 4:
            return
        if offset == RAISE:
            self.dev.raise_(value)
        elif offset == ACK:
            self.dev.ack(value)
        elif offset == VECTOR:
            self.dev.vector = value
        elif offset == RAISE_LATER:
            self.dev.timer_after(LATER_NS, lambda: self.dev.raise_(value))

    def _peek(self, offset: int, width: int) -> int:
        return self._read(offset, width)

    def reset(self) -> None:
        self.dev.status = 0


class IrqDev(DeviceModel):
    name = "irqdev"
    description = "interrupt test device"
    vendor = 0x1234
    device = 0x1a00
    class_code = 0xFF0000
    bars = (BarSpec(0, 4096), BarSpec(1, 4096))
    msi_vectors = 1
    msix = MsixSpec(vectors=4, bar=1, table_offset=0)

    def __init__(self) -> None:
        super().__init__()
        self.status = 0
        self.vector = 0
        self.raised = 0
        self.set_region(0, IrqDevRegs(self))

    def raise_(self, bits: int) -> None:
        self.status |= bits
        self.raised += 1
        if self.msi_enabled():
            self.msi_notify(self.vector)
        else:
            self.set_irq(self.status != 0)

    def ack(self, bits: int) -> None:
        self.status &= ~bits
        if not self.msi_enabled():
            self.set_irq(self.status != 0)
