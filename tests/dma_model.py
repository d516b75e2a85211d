"""A minimal bus-master DMA engine for the DMA tests (loaded as a user model).

BAR0 registers: ADDR_LO/ADDR_HI (bus address in guest memory), OFF (offset in
the device's own 4 KiB buffer), LEN, CMD (START copies at once, then clears
itself; TO_RAM picks the direction), DONE (transfers finished).  The copy
goes through the device port's dma_read/dma_write, so the machine's DMA
table decides what the device may reach.
"""

from ftrace_mmio.machine.devices.base import BarSpec, DeviceModel, RegisterRegion
from ftrace_mmio.machine.regmap import RO, Field, Register32, RegMap

BUF_SIZE = 4096


class R_CMD(Register32):
    START = 0
    TO_RAM = Field(1, doc="1: device buffer -> RAM (a DMA write); 0: RAM -> device buffer")


class DmaEngineRegs(RegMap):
    ID = 0x00, Register32, RO, 0x444D4131          # "DMA1"
    ADDR_LO = 0x08, Register32
    ADDR_HI = 0x0C, Register32
    OFF = 0x10, Register32
    LEN = 0x14, Register32
    CMD = 0x18, R_CMD
    DONE = 0x1C, Register32, RO


class DmaEngine(DeviceModel):
    name = "dmaeng"
    description = "DMA engine for the DMA tests: copies between its buffer and guest memory"
    vendor, device = 0x1234, 0xDAA0
    class_code = 0x088000
    bars = (BarSpec(0, 0x1000),)

    def __init__(self):
        super().__init__()
        self.buffer = bytearray(BUF_SIZE)
        self.regs = self.set_region(0, RegisterRegion(DmaEngineRegs, 0x1000)).regs
        self.regs.on_write("CMD", self.command)

    def command(self, index, value, old):
        cmd = R_CMD(value)
        if not cmd.START:
            return
        addr = self.regs.get("ADDR_LO") | self.regs.get("ADDR_HI") << 32
        off, n = self.regs.get("OFF"), self.regs.get("LEN")
        if off + n <= BUF_SIZE:
            if cmd.TO_RAM:
                self.port.dma_write(addr, bytes(self.buffer[off:off + n]))
            else:
                self.buffer[off:off + n] = self.port.dma_read(addr, n)
        self.regs.clear_bits("CMD", R_CMD.START.mask)
        self.regs.set("DONE", (self.regs.get("DONE") + 1) & 0xFFFFFFFF)
