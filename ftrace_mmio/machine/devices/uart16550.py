"""uart16550: a 16550A serial port on a memory BAR, a device whose reads have side effects.

Identity: QEMU's PCI 16550A adapter (1b36:0002, class 0x070002). QEMU puts
its registers behind an I/O BAR; mmiotrace only sees memory-mapped I/O, so
this one decodes them from a 4 KiB memory BAR instead.

Registers 0x00..0x07 are the 16550A's, one byte each:

* RBR (read) pops the receive FIFO; THR (write) pushes the transmit FIFO.
  With LCR.DLAB set, offsets 0 and 1 are the divisor latch instead.
* IIR reports the most urgent pending interrupt; reading it when it reports
  "transmitter empty" clears that interrupt.
* LSR's error bits (OE, PE, FE, BI) clear when LSR is read, and every LSR
  read moves the transmitter on by one character (a byte leaves the shift
  register, the next one enters it), so a driver polling LSR for TEMT sees
  the status change from read to read. Nothing depends on wall time.
* MSR's delta bits clear when MSR is read. With MCR.LOOP set, THR output
  comes back into the receive FIFO and MCR's outputs drive MSR's inputs.

From 0x40 our adapter adds a small event block with 32-bit registers:
EVT_STATUS latches events (write 1 to clear), EVT_MASK picks which of them
drive the IRQ line, FIFO_LEVEL reports both FIFO fill levels, TX_COUNT counts
bytes sent since it was last read (read to clear), EXT_ID identifies the block.
"""

from __future__ import annotations

import collections
import threading
from enum import IntEnum

from ..regmap import RC, RO, W1C, WO, Field, Register8, Register32, RegMap
from .base import KiB, BarSpec, DeviceModel, RegisterRegion

FIFO_DEPTH = 16
EXT_ID = 0x16550A01
BAUD_BASE = 115200   # 1.8432 MHz / 16: divisor 1 = 115200 baud
OUTPUT_KEEP = 64 * 1024   # untaken wire output beyond this is dropped, oldest first


class R_IER(Register8):
    ERBFI = 0    # received data available
    ETBEI = 1    # transmitter holding register empty
    ELSI = 2     # receiver line status
    EDSSI = 3    # modem status


class E_IID(IntEnum):
    MODEM_STATUS = 0
    THR_EMPTY = 1
    RX_DATA = 2
    LINE_STATUS = 3
    RX_TIMEOUT = 6


class R_IIR(Register8):
    NO_INT = 0
    IID = 3, 1, E_IID
    FIFOS = 7, 6


class R_FCR(Register8):
    ENABLE = 0
    CLEAR_RX = 1
    CLEAR_TX = 2
    DMA_MODE = 3
    TRIGGER = 7, 6


class R_LCR(Register8):
    WLS = 1, 0       # word length - 5
    STB = 2
    PEN = 3
    EPS = 4
    STICK = 5
    BREAK = 6
    DLAB = 7


class R_MCR(Register8):
    DTR = 0
    RTS = 1
    OUT1 = 2
    OUT2 = 3
    LOOP = 4


class R_LSR(Register8):
    DR = 0
    OE = Field(1, access=RC)
    PE = Field(2, access=RC)
    FE = Field(3, access=RC)
    BI = Field(4, access=RC)
    THRE = 5
    TEMT = 6
    RXFE = 7


class R_MSR(Register8):
    DCTS = Field(0, access=RC)
    DDSR = Field(1, access=RC)
    TERI = Field(2, access=RC)
    DDCD = Field(3, access=RC)
    CTS = 4
    DSR = 5
    RI = 6
    DCD = 7


class R_EVT(Register32):
    RX = 0
    TX_EMPTY = 1
    LINE = 2
    MODEM = 3
    OVERRUN = 4


class R_FIFO_LEVEL(Register32):
    RX_LEVEL = 7, 0
    TX_LEVEL = 15, 8


LSR_ERRORS = 0x1e          # OE | PE | FE | BI
MSR_DELTAS = 0x0f
MSR_CABLE = 0xb0           # CTS, DSR, DCD asserted by the far end when not looped back


class Uart16550Regs(RegMap):
    RBR = 0x00, Register8, RO
    THR = 0x00, Register8, WO
    IER = 0x01, R_IER
    IIR = 0x02, R_IIR, RO, 0x01
    FCR = 0x02, R_FCR, WO
    LCR = 0x03, R_LCR
    MCR = 0x04, R_MCR
    LSR = 0x05, R_LSR, RO, 0x60
    MSR = 0x06, R_MSR, RO, MSR_CABLE
    SCR = 0x07, Register8
    EVT_STATUS = 0x40, R_EVT, W1C
    EVT_MASK = 0x44, R_EVT
    FIFO_LEVEL = 0x48, R_FIFO_LEVEL, RO
    TX_COUNT = 0x4c, Register32, RC
    EXT_ID = 0x50, Register32, RO, EXT_ID


class _LockedRegisterRegion(RegisterRegion):
    """Register accesses under the model's lock: the host may inject input meanwhile."""

    def __init__(self, lock: threading.RLock, regmap: type[RegMap], size: int, name: str) -> None:
        super().__init__(regmap, size, name)
        self._lock = lock

    def _read(self, offset: int, width: int) -> int:
        with self._lock:
            return super()._read(offset, width)

    def _write(self, offset: int, width: int, value: int) -> None:
        with self._lock:
            super()._write(offset, width, value)


class Uart16550(DeviceModel):
    name = "uart16550"
    description = "16550A UART on MMIO: FIFOs, read-to-clear status, loopback, w1c event block"
    vendor = 0x1b36
    device = 0x0002
    class_code = 0x070002      # serial controller, 16550-compatible
    revision = 0x01
    subsystem = (0x1af4, 0x1100)
    bars = (BarSpec(0, 4 * KiB, "mem32"),)

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.RLock()
        self.mmio = self.set_region(0, _LockedRegisterRegion(self._lock, Uart16550Regs, 4 * KiB, "uart16550"))
        regs = self.regs = self.mmio.regs
        regs.on_read("RBR", self._read_rbr)
        regs.on_write("THR", self._write_thr)
        regs.on_read("IER", self._read_ier)
        regs.on_write("IER", self._write_ier)
        regs.on_read("IIR", self._read_iir)
        regs.on_write("FCR", self._write_fcr)
        regs.on_write("MCR", self._write_mcr)
        regs.on_read("LSR", self._read_lsr)
        regs.on_read("MSR", self._read_msr)
        regs.on_read("FIFO_LEVEL", self._read_fifo_level)
        self._power_on()

    def _power_on(self) -> None:
        self.rx: collections.deque[int] = collections.deque()
        self.tx: collections.deque[int] = collections.deque()
        self.shift: int | None = None          # the byte in the transmit shift register
        self.output = bytearray()               # what went out on the wire
        self.fifo_enabled = False
        self.thre_pending = False
        self.dll, self.dlm = 0, 0
        self.tx_dropped = 0

    def reset(self) -> None:
        with self._lock:
            super().reset()
            self._power_on()

    # host side

    def receive(self, data: bytes) -> None:
        """Bytes arriving on the wire, as if typed at the far end."""
        with self._lock:
            for byte in data:
                self._rx_push(byte)

    def take_output(self) -> bytes:
        """Bytes transmitted since the last call."""
        with self._lock:
            out, self.output = bytes(self.output), bytearray()
            return out

    @property
    def divisor(self) -> int:
        return self.dlm << 8 | self.dll

    @property
    def baud(self) -> int:
        return BAUD_BASE // self.divisor if self.divisor else 0

    @property
    def irq_asserted(self) -> bool:
        """The level of the interrupt line: 16550 interrupts gated by OUT2, or masked events."""
        with self._lock:
            uart = self._pending_iid(consume=False) is not None and self.regs.reg("MCR").OUT2
            return bool(uart or self.regs.get("EVT_STATUS") & self.regs.get("EVT_MASK"))

    # the line

    @property
    def _depth(self) -> int:
        return FIFO_DEPTH if self.fifo_enabled else 1

    @property
    def _dlab(self) -> bool:
        return bool(self.regs.get("LCR") & R_LCR.DLAB.mask)

    def _event(self, bits: int) -> None:
        self.regs.set_bits("EVT_STATUS", bits)

    def _rx_push(self, byte: int) -> None:
        if len(self.rx) >= self._depth:
            self.regs.set_bits("LSR", R_LSR.OE.mask)
            self._event(R_EVT.OVERRUN.mask | R_EVT.LINE.mask)
            return
        self.rx.append(byte)
        self._event(R_EVT.RX.mask)

    def _send(self, byte: int) -> None:
        if self.regs.reg("MCR").LOOP:
            self._rx_push(byte)
        else:
            self.output.append(byte)
            if len(self.output) > OUTPUT_KEEP:
                del self.output[:-OUTPUT_KEEP]
        self.regs.set("TX_COUNT", (self.regs.get("TX_COUNT") + 1) & 0xffffffff)

    def _transmit_one(self) -> None:
        """One character time: the shift register empties and refills from the FIFO."""
        if self.shift is None:
            return
        self._send(self.shift)
        self.shift = self.tx.popleft() if self.tx else None
        if self.shift is not None and not self.tx:
            self.thre_pending = True
        if self.shift is None:
            self._event(R_EVT.TX_EMPTY.mask)

    # register behaviour

    def _read_rbr(self, _index: int | None) -> int:
        if self._dlab:
            return self.dll
        return self.rx.popleft() if self.rx else 0

    def _write_thr(self, _index: int | None, value: int, _old: int) -> None:
        if self._dlab:
            self.dll = value
            return
        self.thre_pending = False
        if self.shift is None and not self.tx:
            self.shift = value
            self.thre_pending = True      # the holding register is free again at once
        elif len(self.tx) < self._depth:
            self.tx.append(value)
        else:
            self.tx_dropped += 1

    def _read_ier(self, _index: int | None) -> int:
        return self.dlm if self._dlab else self.regs.get("IER")

    def _write_ier(self, _index: int | None, value: int, old: int) -> None:
        if self._dlab:
            self.dlm = value
            self.regs.set("IER", old)
            return
        if value & ~old & R_IER.ETBEI.mask and not self.tx:
            self.thre_pending = True      # enabling the interrupt with THR empty raises it

    def _pending_iid(self, consume: bool) -> E_IID | None:
        ier = self.regs.reg("IER")
        if ier.ELSI and self.regs.get("LSR") & LSR_ERRORS:
            return E_IID.LINE_STATUS
        if ier.ERBFI and self.rx:
            return E_IID.RX_DATA
        if ier.ETBEI and self.thre_pending:
            if consume:
                self.thre_pending = False  # reading IIR acknowledges "THR empty"
            return E_IID.THR_EMPTY
        if ier.EDSSI and self.regs.get("MSR") & MSR_DELTAS:
            return E_IID.MODEM_STATUS
        return None

    def _read_iir(self, _index: int | None) -> int:
        iid = self._pending_iid(consume=True)
        fifos = 0xc0 if self.fifo_enabled else 0
        return fifos | (0x01 if iid is None else int(iid) << 1)

    def _write_fcr(self, _index: int | None, value: int, _old: int) -> None:
        fcr = R_FCR(value)
        if bool(fcr.ENABLE) != self.fifo_enabled:
            self.fifo_enabled = bool(fcr.ENABLE)
            self.rx.clear()
            self.tx.clear()
        if fcr.CLEAR_RX:
            self.rx.clear()
        if fcr.CLEAR_TX:
            self.tx.clear()
        self.regs.set("FCR", value & ~0x06)   # the clear bits clear themselves

    def _write_mcr(self, _index: int | None, value: int, old: int) -> None:
        before = self._modem_inputs(old)
        after = self._modem_inputs(value)
        changed = before ^ after
        delta = ((changed >> 4) & 0x0b) | (0x04 if before & ~after & 0x40 else 0)
        if delta:
            self.regs.set_bits("MSR", delta)
            self._event(R_EVT.MODEM.mask)

    @staticmethod
    def _modem_inputs(mcr_value: int) -> int:
        """MSR's input bits: the far end's lines, or MCR's own outputs in loopback."""
        mcr = R_MCR(mcr_value)
        if not mcr.LOOP:
            return MSR_CABLE
        return (mcr.RTS << 4) | (mcr.DTR << 5) | (mcr.OUT1 << 6) | (mcr.OUT2 << 7)

    def _read_lsr(self, _index: int | None) -> int:
        errors = self.regs.get("LSR") & LSR_ERRORS
        value = errors
        if self.rx:
            value |= R_LSR.DR.mask
        if not self.tx:
            value |= R_LSR.THRE.mask
            if self.shift is None:
                value |= R_LSR.TEMT.mask
        if self.fifo_enabled and errors & 0x1c:
            value |= R_LSR.RXFE.mask
        self._transmit_one()
        return value

    def _read_msr(self, _index: int | None) -> int:
        return (self.regs.get("MSR") & MSR_DELTAS) | self._modem_inputs(self.regs.get("MCR"))

    def _read_fifo_level(self, _index: int | None) -> int:
        return len(self.rx) | (len(self.tx) + (self.shift is not None)) << 8
