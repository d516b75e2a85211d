"""edu: QEMU's educational PCI device (``-device edu``, 1234:11e8).

The device students write their first Linux driver for, as QEMU's
documentation (docs/specs/edu.rst) describes it. BAR0 is 1 MiB of MMIO with
registers in its first 0xa0 bytes:

* 0x00 identification ``0xRRrr00ed`` (major, minor, magic 0xed): 1.0 here;
* 0x04 liveness: reads back the bitwise inverse of what was written;
* 0x08 factorial: a write starts computing the factorial of the value (unless
  one is being computed); the result replaces it when done. 0x20 status bit
  0x01 is set meanwhile; with bit 0x80 set the device raises interrupt 0x1
  when it finishes;
* 0x24 interrupt status; 0x60 raise (ORs the value in and interrupts);
  0x64 acknowledge (clears the value; INTx goes low when nothing is left);
* 0x80/0x88/0x90/0x98 DMA source, destination, count, command: command bit 0
  starts a transfer, bit 1 is the direction (1: device buffer to RAM), bit 2
  raises interrupt 0x100 when it ends. The device's buffer is 4 KiB at device
  address 0x40000; RAM addresses are cut to the device's 28-bit DMA mask.

Interrupts go out as MSI when the driver enabled it, INTx otherwise. Access
rules follow QEMU's device: below 0x80 only 32-bit accesses count, from 0x80
on 32- or 64-bit ones (a 32-bit write to a 64-bit DMA register sets the whole
register); anything else, and every offset without a register, reads all
ones and ignores writes. While a DMA runs its registers ignore writes.

Timing: QEMU computes a factorial in a thread (microseconds) and runs a DMA
from a timer 100 ms after the command; this model takes ``FACTORIAL_NS`` and
``DMA_NS`` of machine time. Where QEMU's documentation and its 7.2 code
disagree (7.2 aborts on a DMA of the whole 4 KiB buffer), the documentation
wins: the whole buffer may be transferred. A transfer outside the buffer
moves nothing, ends as any other (interrupt included) and is recorded in
``guest_errors``.
"""

from __future__ import annotations

import logging

from ..regmap import RO, WO, Field, Register32, Register64, RegMap, Unclaimed, reg
from .base import MiB, BarSpec, DeviceModel, RegisterRegion

log = logging.getLogger(__name__)

EDU_ID = 0x010000ED                  # version 1.0, magic 0xed
DMA_BUFFER_ADDR, DMA_BUFFER_SIZE = 0x40000, 4096
DMA_MASK = (1 << 28) - 1
IRQ_FACT, IRQ_DMA = 0x00000001, 0x00000100
MASK32, MASK64 = 0xFFFFFFFF, (1 << 64) - 1


class R_ID(Register32):
    MAGIC = 7, 0
    MINOR = 23, 16
    MAJOR = 31, 24


class R_STATUS(Register32):
    BUSY = Field(0, access=RO, doc="computing the factorial")
    IRQ_FACT = Field(7, doc="raise interrupt 0x1 when the factorial is done")


class R_IRQ(Register32):
    FACT = 0
    DMA = 8


class R_DMA_CMD(Register64):
    START = 0
    TO_RAM = 1
    IRQ = 2


class EduRegs(RegMap):
    ID = reg(0x00, R_ID, RO, EDU_ID, doc="identification 0xRRrr00ed")
    LIVENESS = reg(0x04, Register32, doc="reads back the inverse of the value written")
    FACTORIAL = reg(0x08, Register32, doc="operand, then the result")
    STATUS = reg(0x20, R_STATUS)
    IRQ_STATUS = reg(0x24, R_IRQ, RO, doc="what raised the interrupt")
    IRQ_RAISE = reg(0x60, R_IRQ, WO, doc="OR into IRQ_STATUS and interrupt")
    IRQ_ACK = reg(0x64, R_IRQ, WO, doc="clear from IRQ_STATUS")
    DMA_SRC = reg(0x80, Register64)
    DMA_DST = reg(0x88, Register64)
    DMA_COUNT = reg(0x90, Register64)
    DMA_CMD = reg(0x98, R_DMA_CMD)


# The offsets a read answers (the write-only interrupt registers read all ones).
_READABLE = {r.offset: r.name for r in EduRegs.REGISTERS if r.access is not WO}
_WRITABLE = {r.offset: r.name for r in EduRegs.REGISTERS if r.access is not RO}
_DMA_REGS = ("DMA_SRC", "DMA_DST", "DMA_COUNT", "DMA_CMD")


def factorial32(n: int) -> int:
    """n! modulo 2**32, as the device's 32-bit arithmetic wraps (0! = 1)."""
    if n >= 34:          # 34! has 32 factors of two: zero from here on
        return 0
    result = 1
    for k in range(2, n + 1):
        result = result * k & MASK32
    return result


class EduRegion(RegisterRegion):
    """BAR0: the register file with QEMU's access rules in front of it."""

    def __init__(self, model: Edu) -> None:
        super().__init__(EduRegs, 1 * MiB, "edu BAR0")
        self.edu = model

    @staticmethod
    def _valid(offset: int, width: int) -> bool:
        return width == 4 if offset < 0x80 else width in (4, 8)

    def _peek(self, offset: int, width: int) -> int:
        name = _READABLE.get(offset)
        if name is None or not self._valid(offset, width):
            return (1 << 8 * width) - 1
        return self.regs.get(name) & ((1 << 8 * width) - 1)

    def _read(self, offset: int, width: int) -> int:
        # No register has a read side effect: a read is a peek, and a miss is remembered.
        value = self._peek(offset, width)
        if _READABLE.get(offset) is None or not self._valid(offset, width):
            self.unknown.append(Unclaimed("R", offset, width, value))
        return value

    def _write(self, offset: int, width: int, value: int) -> None:
        name = _WRITABLE.get(offset)
        if name is None or not self._valid(offset, width):
            self.unknown.append(Unclaimed("W", offset, width, value))
            return
        self.edu.register_written(name, value)


class Edu(DeviceModel):
    name = "edu"
    description = "QEMU's educational device: factorial, interrupts (INTx, MSI), DMA engine"
    vendor = 0x1234
    device = 0x11E8
    class_code = 0x00FF00             # unclassified device (PCI_CLASS_OTHERS)
    revision = 0x10
    interrupt_pin = 1
    bars = (BarSpec(0, 1 * MiB, "mem32"),)
    msi_vectors = 1                   # one vector, 64-bit address, no per-vector mask
    msi_per_vector_mask = False

    #: Machine time a factorial takes, and a DMA transfer (QEMU: 100 ms).
    FACTORIAL_NS = 10_000
    DMA_NS = 100_000_000

    def __init__(self) -> None:
        super().__init__()
        self.mmio = self.set_region(0, EduRegion(self))
        self.regs = self.mmio.regs
        self.dma_buffer = bytearray(DMA_BUFFER_SIZE)
        #: Misprogramming the device answered (QEMU logs these as guest errors).
        self.guest_errors: list[str] = []
        self._fact_timer = None
        self._dma_timer = None

    # ---- register writes --------------------------------------------------

    def register_written(self, name: str, value: int) -> None:
        regs = self.regs
        if name == "LIVENESS":
            regs.set("LIVENESS", ~value & MASK32)
        elif name == "FACTORIAL":
            if regs.get("STATUS") & R_STATUS.BUSY.mask:
                return                       # ignored while computing
            regs.set("FACTORIAL", value & MASK32)
            regs.set_bits("STATUS", R_STATUS.BUSY.mask)
            self._fact_timer = self.timer_after(self.FACTORIAL_NS, self._factorial_done)
        elif name == "STATUS":
            # Only the interrupt-enable bit is the driver's; BUSY is the device's.
            keep = regs.get("STATUS") & R_STATUS.BUSY.mask
            regs.set("STATUS", keep | (value & R_STATUS.IRQ_FACT.mask))
        elif name == "IRQ_RAISE":
            self.raise_irq(value & MASK32)
        elif name == "IRQ_ACK":
            self.lower_irq(value & MASK32)
        elif name in _DMA_REGS:
            if regs.get("DMA_CMD") & R_DMA_CMD.START.mask:
                return                       # a transfer is running: the registers are fixed
            if name == "DMA_CMD":
                if not value & R_DMA_CMD.START.mask:
                    return                   # a command without START is no command
                regs.set("DMA_CMD", value)
                self._dma_timer = self.timer_after(self.DMA_NS, self._dma_done)
            else:
                regs.set(name, value)        # a 32-bit write sets the whole register

    # ---- interrupts -------------------------------------------------------

    def raise_irq(self, bits: int) -> None:
        status = self.regs.get("IRQ_STATUS") | bits
        self.regs.set("IRQ_STATUS", status)
        if status:
            if self.msi_enabled():
                self.msi_notify(0)
            else:
                self.set_irq(True)

    def lower_irq(self, bits: int) -> None:
        status = self.regs.get("IRQ_STATUS") & ~bits
        self.regs.set("IRQ_STATUS", status)
        if not status and not self.msi_enabled():
            self.set_irq(False)

    # ---- the engines ------------------------------------------------------

    def _factorial_done(self) -> None:
        self._fact_timer = None
        regs = self.regs
        regs.set("FACTORIAL", factorial32(regs.get("FACTORIAL")))
        regs.clear_bits("STATUS", R_STATUS.BUSY.mask)
        if regs.get("STATUS") & R_STATUS.IRQ_FACT.mask:
            self.raise_irq(IRQ_FACT)

    def _error(self, text: str) -> None:
        self.guest_errors.append(text)
        log.warning("edu: %s", text)

    def _ram_address(self, addr: int) -> int:
        clamped = addr & DMA_MASK
        if clamped != addr:
            self._error(f"clamping DMA address {addr:#x} to {clamped:#x} (28-bit mask)")
        return clamped

    def _buffer_range(self, addr: int, count: int) -> int | None:
        """Offset of [addr, addr + count) in the device buffer, or None when outside."""
        start = addr - DMA_BUFFER_ADDR
        if 0 <= start and count <= DMA_BUFFER_SIZE - start:
            return start
        self._error(f"DMA range {addr:#x}+{count:#x} outside the buffer "
                    f"{DMA_BUFFER_ADDR:#x}-{DMA_BUFFER_ADDR + DMA_BUFFER_SIZE - 1:#x}: nothing moved")
        return None

    def _dma_done(self) -> None:
        self._dma_timer = None
        regs = self.regs
        cmd = regs.get("DMA_CMD")
        if not cmd & R_DMA_CMD.START.mask:
            return
        src, dst, count = regs.get("DMA_SRC"), regs.get("DMA_DST"), regs.get("DMA_COUNT")
        if cmd & R_DMA_CMD.TO_RAM.mask:
            at = self._buffer_range(src, count)
            if at is not None and count:
                self.dma_write(self._ram_address(dst), bytes(self.dma_buffer[at:at + count]))
        else:
            at = self._buffer_range(dst, count)
            if at is not None and count:
                self.dma_buffer[at:at + count] = self.dma_read(self._ram_address(src), count)
        regs.set("DMA_CMD", cmd & ~R_DMA_CMD.START.mask)
        if cmd & R_DMA_CMD.IRQ.mask:
            self.raise_irq(IRQ_DMA)

    # ---- lifecycle --------------------------------------------------------

    def reset(self) -> None:
        for timer in (self._fact_timer, self._dma_timer):
            if timer is not None:
                timer.cancel()
        self._fact_timer = self._dma_timer = None
        super().reset()
        self.dma_buffer[:] = bytes(DMA_BUFFER_SIZE)
        self.guest_errors.clear()
