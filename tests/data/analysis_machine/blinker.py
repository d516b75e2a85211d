"""blinker: a user's own device model for the analysis tests (docs/devices.md, "Writing your own model").

BAR0 (4 KiB): ID (reads 0x424c4e4b, "BLNK"), CTRL (ENABLE, RATE 4 bits),
STATUS (READY once enabled, read-only), COUNT (read-only, counts reads of
STATUS since enable), LED (write-only).
"""

from ftrace_mmio.machine.devices.base import BarSpec, DeviceModel, RegisterRegion
from ftrace_mmio.machine.regmap import RO, WO, Field, Register32, RegMap


class R_CTRL(Register32):
    ENABLE = 0
    RATE = Field(7, 4, doc="blinks per second")


class R_STATUS(Register32):
    READY = 0


class BlinkerRegs(RegMap):
    ID = 0x00, Register32, RO, 0x424C4E4B
    CTRL = 0x04, R_CTRL
    STATUS = 0x08, R_STATUS, RO
    COUNT = 0x0C, Register32, RO
    LED = 0x10, Register32, WO


class Blinker(DeviceModel):
    name = "blinker"
    description = "blinks an LED; READY a few reads after ENABLE"
    vendor, device = 0x1234, 0xD0A1
    class_code = 0x088000
    bars = (BarSpec(0, 0x1000),)

    def __init__(self):
        super().__init__()
        self.regs = self.set_region(0, RegisterRegion(BlinkerRegs, 0x1000)).regs
        self.regs.on_write("CTRL", self.control)
        self.regs.on_read("STATUS", self.poll)

    def control(self, index, value, old):
        self.regs.set("COUNT", 0)
        self.regs.set("STATUS", 0)

    def poll(self, index):
        if not self.regs.reg("CTRL").ENABLE:
            return 0
        count = self.regs.get("COUNT") + 1
        self.regs.set("COUNT", count)
        if count >= 4:
            self.regs.set("STATUS", 1)
        return self.regs.get("STATUS")
