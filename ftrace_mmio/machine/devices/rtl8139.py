"""rtl8139: the Realtek RTL8139C+ Fast Ethernet controller (10ec:8139, revision 0x20).

What Linux's 8139cp driver sees at probe, from the RTL8139C(L)+ datasheet and
QEMU's ``rtl8139`` device (QEMU emulates the C+ and reports revision 0x20,
the revision 8139cp takes; 8139too takes the older chips):

* PCI: class 0x020000 (Ethernet), INTA, I/O BAR0 and memory BAR1, both 256
  bytes onto the same registers, and a 256 KiB expansion ROM (QEMU's iPXE
  image; here the ROM BAR exists and reads as zeros).
* The chip version in TxConfig bits 30..26 and 23..22: ``1 1 1 0 1 1 0`` is
  the RTL8139C+ (0x74800000), read-only.
* ChipCmd (0x37): writing the reset bit resets the registers and the bit
  reads back clear at once (QEMU's reset is instantaneous); RxBufEmpty (bit
  0) is the chip's and reads set while the receive ring holds nothing.
* IntrMask (0x3c) and IntrStatus (0x3e): status bits are cleared by writing
  ones. No event ever sets one here (no packets, no timer interrupt).
* C+ command (0xe0), receive/transmit configuration, the MAC address
  registers, multicast filter and the MII registers of the internal PHY at
  0x62..0x6a (autonegotiation complete, link up at 100 Mb/s full duplex, as
  QEMU shows it), the PCI-clock timer at 0x48 (33 MHz, cleared by a write).
* The 93C46 serial EEPROM (64 words of 16 bits) behind Cfg9346 (0x50): with
  the operating mode bits 7..6 at ``10`` the low bits are the EEPROM's pins,
  EECS (bit 3), EESK (bit 2), EEDI (bit 1), and bit 0 reads EEDO. A command
  is a start bit 1, two opcode bits and six address bits, clocked in on
  rising EESK edges; READ (opcode 10) then shifts out a dummy 0 and the
  word's 16 bits, most significant first. Mode ``01`` (auto-load) resets the
  chip and reads back 0. The contents are the datasheet's layout: word 0 the
  ID 0x8129, words 1 and 2 the PCI vendor and device, words 7..9 the MAC
  address (low byte first), 52:54:00:12:34:56 by default as QEMU's.

QEMU's EEPROM, followed where the datasheet leaves room: after a word's 16
bits the chip waits for a new start bit (no sequential read into the next
word); EEDO keeps its last value when chip select rises again; write and
erase commands are accepted and ignored (the contents are fixed, as in
QEMU).  Packets are not modelled: nothing is ever transmitted or received.
"""

from __future__ import annotations

from ..regmap import RO, W1C, Field, Register8, Register16, Register32, RegisterFile, RegMap, reg
from .base import KiB, BarSpec, DeviceModel, RegisterRegion

DEFAULT_MAC = bytes.fromhex("525400123456")
EEPROM_ID = 0x8129
PCI_CLOCK_HZ = 33_000_000

# TxConfig: the hardware version bits (30..26, 23..22) and the C+ pattern.
TX_VERSION_MASK = 0x7CC00000
TX_VERSION_8139CPLUS = 0x74800000


class R_CMD(Register8):
    RX_BUF_EMPTY = Field(0, access=RO, doc="nothing received")
    TX_ENB = 2
    RX_ENB = 3
    RESET = Field(4, doc="write 1: reset the chip; reads 0")


class R_INTR(Register16):
    ROK = 0
    RER = 1
    TOK = 2
    TER = 3
    RX_OVERFLOW = 4
    LINK_CHG = 5
    RX_FIFO_OVR = 6
    CPLUS_SW = 8
    TX_DESC_UNAVAIL = 7
    TIMEOUT = 14
    SERR = 15


class R_CFG9346(Register8):
    EEDO = Field(0, access=RO, doc="EEPROM data out (program mode)")
    EEDI = 1
    EESK = 2
    EECS = 3
    MODE = 7, 6, {0: "normal", 1: "auto-load", 2: "program", 3: "config-write"}


class R_TX_CONFIG(Register32):
    VERSION_HI = Field(30, 26, access=RO, doc="hardware version (C+: 11101)")
    VERSION_LO = Field(23, 22, access=RO, doc="hardware version (C+: 10)")
    IFG = 25, 24
    LOOPBACK = 18, 17
    DMA_BURST = 10, 8
    TX_RETRY = 7, 4


class R_CPCMD(Register16):
    TX_ON = 0
    RX_ON = 1
    PCI_MUL_RW = 3
    PCI_DAC = 4
    RX_CHKSUM = 5
    RX_VLAN = 6


class Rtl8139Regs(RegMap):
    """The RTL8139C+ registers (the same through I/O BAR0 and memory BAR1)."""

    MAC = reg(range(0x00, 0x06), Register8, doc="IDR0-5: the station address")
    MAR = reg(range(0x08, 0x10), Register8, doc="multicast filter")
    TX_STATUS = reg(range(0x10, 0x20, 4), Register32, doc="TSD0-3 (C mode)")
    TX_ADDR = reg(range(0x20, 0x30, 4), Register32, doc="TSAD0-3; C+: the TX descriptor ring address")
    RX_BUF = reg(0x30, Register32, doc="receive buffer start (C mode)")
    CMD = reg(0x37, R_CMD, reset=0x01)
    RX_BUF_PTR = reg(0x38, Register16, doc="CAPR")
    RX_BUF_ADDR = reg(0x3A, Register16, RO, doc="CBR")
    INTR_MASK = reg(0x3C, R_INTR)
    INTR_STATUS = reg(0x3E, R_INTR, W1C)
    TX_CONFIG = reg(0x40, R_TX_CONFIG, reset=TX_VERSION_8139CPLUS)
    RX_CONFIG = reg(0x44, Register32)
    TIMER = reg(0x48, Register32, doc="TCTR: 33 MHz counter, a write clears it")
    RX_MISSED = reg(0x4C, Register32)
    CFG9346 = reg(0x50, R_CFG9346, doc="EEPROM pins and config-register unlock")
    CONFIG0 = reg(0x51, Register8, RO)
    CONFIG1 = reg(0x52, Register8)
    TIMER_INT = reg(0x54, Register32)
    MEDIA_STATUS = reg(0x58, Register8, reset=0x90)
    CONFIG3 = reg(0x59, Register8, reset=0x01)
    CONFIG4 = reg(0x5A, Register8)
    MULTI_INTR = reg(0x5C, Register16)
    PCI_REVISION = reg(0x5E, Register8, RO, reset=0x10)
    TX_SUMMARY = reg(0x60, Register16, RO)
    BASIC_MODE_CTRL = reg(0x62, Register16, reset=0x3100, doc="MII BMCR")
    BASIC_MODE_STATUS = reg(0x64, Register16, RO, reset=0x782D, doc="MII BMSR")
    NWAY_ADVERT = reg(0x66, Register16, reset=0x05E1)
    NWAY_LPAR = reg(0x68, Register16, RO, reset=0x05E1)
    NWAY_EXPANSION = reg(0x6A, Register16, RO, reset=0x0001)
    CSCR = reg(0x74, Register16)
    CONFIG5 = reg(0xD8, Register8)
    RX_MAX_SIZE = reg(0xDA, Register16)
    CPCMD = reg(0xE0, R_CPCMD, doc="C+ command")
    INTR_MITIGATE = reg(0xE2, Register16)
    RX_RING_ADDR_LO = reg(0xE4, Register32)
    RX_RING_ADDR_HI = reg(0xE8, Register32)
    TX_THRESH = reg(0xEC, Register8)


class Eeprom93C46:
    """A 93C46 in 16-bit mode as the chip's pins drive it (see the module doc)."""

    WORDS = 64

    def __init__(self, contents: list[int]) -> None:
        if len(contents) != self.WORDS:
            raise ValueError("a 93C46 holds 64 words")
        self.contents = [w & 0xFFFF for w in contents]
        self.cs = self.sk = self.di = 0
        self.do = 0
        self.mode = "idle"
        self.tick = 0
        self.shift = 0
        self.address = 0
        #: Words the chip was asked for (the driver's reads, in order).
        self.reads: list[int] = []

    def pins(self, cs: int, sk: int, di: int) -> None:
        """New levels on chip select, clock and data in."""
        rising_cs = cs and not self.cs
        rising_sk = sk and not self.sk
        self.cs, self.sk, self.di = cs, sk, di
        if rising_cs:
            # A new selection waits for a start bit; DO keeps its level.
            self.mode, self.tick, self.shift = "start", 0, 0
        if cs and rising_sk:
            self._clock()

    def data_out(self) -> int:
        """EEDO: low while the chip is not selected."""
        return self.do if self.cs else 0

    def _clock(self) -> None:
        self.tick += 1
        if self.mode == "start":
            if self.di:                       # the start bit
                self.mode, self.tick, self.shift = "command", 0, 0
        elif self.mode == "command":
            self.shift = (self.shift << 1) | self.di
            if self.tick == 8:                # two opcode bits, six address bits
                self._command(self.shift & 0xFF)
        elif self.mode == "read":
            self.do = (self.shift >> 15) & 1
            self.shift = (self.shift << 1) & 0xFFFF
            if self.tick == 16:               # the word is out: wait for a new start bit
                self.mode, self.tick, self.shift = "start", 0, 0

    def _command(self, command: int) -> None:
        opcode, address = command >> 6, command & 0x3F
        if opcode == 0b10:                    # READ: a dummy 0, then the word
            self.address = address
            self.shift = self.contents[address]
            self.do = 0
            self.tick = 0
            self.mode = "read"
            self.reads.append(address)
        else:                                 # WRITE, ERASE, EWEN/EWDS ...: ignored
            self.mode = "ignored"


class Rtl8139Region(RegisterRegion):
    """One BAR onto the chip's registers (BAR0 I/O and BAR1 memory share
    them; a RegisterRegion so the analysis tools find the map)."""

    def __init__(self, model: Rtl8139, name: str) -> None:
        super().__init__(Rtl8139Regs, 256, name)
        self.chip = model
        self.regs = model.regs
        self.regs.unknown = self.unknown

    def _read(self, offset: int, width: int) -> int:
        return self.chip.read(offset, width)

    def _peek(self, offset: int, width: int) -> int:
        return self.chip.peek(offset, width)

    def _write(self, offset: int, width: int, value: int) -> None:
        self.chip.write(offset, width, value)


class Rtl8139(DeviceModel):
    name = "rtl8139"
    description = "Realtek RTL8139C+ Ethernet (8139cp's chip): registers, 93C46 EEPROM with the MAC address"
    vendor = 0x10EC
    device = 0x8139
    class_code = 0x020000
    revision = 0x20                   # C+: 8139cp's; 8139too takes older revisions
    subsystem = (0x1AF4, 0x1100)      # QEMU's
    interrupt_pin = 1
    bars = (BarSpec(0, 256, "io"), BarSpec(1, 256, "mem32"))
    rom_size = 256 * KiB

    #: The MAC address the EEPROM holds (QEMU's default).
    MAC = DEFAULT_MAC

    def __init__(self) -> None:
        super().__init__()
        self.regs = RegisterFile(Rtl8139Regs)
        words = [0] * Eeprom93C46.WORDS
        words[0] = EEPROM_ID
        words[1], words[2] = self.vendor, self.device
        for i in range(3):
            words[7 + i] = self.MAC[2 * i] | self.MAC[2 * i + 1] << 8
        self.eeprom = Eeprom93C46(words)
        self.resets = 0
        self._timer_base = 0
        self.io = self.set_region(0, Rtl8139Region(self, "rtl8139 BAR0 (io)"))
        self.mmio = self.set_region(1, Rtl8139Region(self, "rtl8139 BAR1"))
        self.chip_reset()

    # ---- the CPU side -------------------------------------------------------------

    def peek(self, offset: int, width: int) -> int:
        value = self.regs.peek(offset, width)
        return self._live(offset, width, value)

    def read(self, offset: int, width: int) -> int:
        value = self.regs.read(offset, width)
        return self._live(offset, width, value)

    def _live(self, offset: int, width: int, value: int) -> int:
        """Bits the chip computes at read time: EEDO and the timer."""
        lanes = range(offset, offset + width)
        if 0x50 in lanes:
            shift = 8 * (0x50 - offset)
            cfg = (value >> shift) & 0xFF
            if cfg >> 6 == 0b10:
                cfg = (cfg & ~1) | self.eeprom.data_out()
            value = (value & ~(0xFF << shift)) | (cfg << shift)
        if offset == 0x48 and width == 4:
            value = self._timer_count()
        return value

    def write(self, offset: int, width: int, value: int) -> None:
        # Storage and access rules first (RO, W1C), then what the chip does.
        self.regs.write(offset, width, value)
        lanes = range(offset, offset + width)

        def byte(at: int) -> int:
            return (value >> (8 * (at - offset))) & 0xFF

        if 0x37 in lanes:
            cmd = byte(0x37)
            if cmd & R_CMD.RESET.mask:
                self.chip_reset()
            keep = self.regs.get("CMD") & R_CMD.RX_BUF_EMPTY.mask
            self.regs.set("CMD", keep | (cmd & (R_CMD.TX_ENB.mask | R_CMD.RX_ENB.mask)))
        if 0x50 in lanes:
            cfg = byte(0x50)
            if cfg >> 6 == 0b01:              # auto-load: the chip resets, reads back 0
                self.chip_reset()
                cfg = 0
            elif cfg >> 6 == 0b10:
                self.eeprom.pins((cfg >> 3) & 1, (cfg >> 2) & 1, (cfg >> 1) & 1)
            self.regs.set("CFG9346", cfg)
        if any(0x48 <= at < 0x4C for at in lanes):
            self._timer_base = self._now()    # any write to TCTR clears it
        if 0x62 in lanes or 0x63 in lanes:
            # PHY reset and restart-autonegotiation complete at once.
            self.regs.clear_bits("BASIC_MODE_CTRL", 0x8200)

    def _now(self) -> int:
        return self.now_ns() if self.time_base is not None else 0

    def _timer_count(self) -> int:
        return ((self._now() - self._timer_base) * PCI_CLOCK_HZ // 1_000_000_000) & 0xFFFFFFFF

    # ---- the chip ----------------------------------------------------------------

    def chip_reset(self) -> None:
        """The software reset (ChipCmd bit 4): registers to their reset values,
        the station address from the EEPROM."""
        self.regs.reset()
        for i, b in enumerate(self.MAC):
            self.regs.set("MAC", b, i)
        self._timer_base = self._now()
        self.resets += 1

    def reset(self) -> None:
        super().reset()
        self.chip_reset()
        self.eeprom.reads.clear()


__all__ = ["Rtl8139", "Rtl8139Regs", "Eeprom93C46", "DEFAULT_MAC", "TX_VERSION_8139CPLUS"]
