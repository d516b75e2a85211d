"""testmmio: a display adapter whose BAR0 is 8 MiB of video memory.

The kernel's testmmiotrace module wants a stretch of bus memory it can fill
with a pattern and read back ("safe to use on e.g. unused portion of VRAM"):
it maps 8 MiB and reads at +0x400100. This model is shaped after the Bochs
display adapter QEMU emulates (1234:1111, ``-device bochs-display,vgamem=8M``):
BAR0 is a prefetchable framebuffer that behaves like RAM; BAR2 holds the
adapter's 16-bit DISPI registers at 0x500 and two QEMU extension registers
at 0x600. The framebuffer is sparse, so an untouched 8 MiB costs nothing.
"""

from __future__ import annotations

from ..regmap import RO, Register16, Register32, RegMap
from .base import KiB, MiB, BarSpec, DeviceModel, MemoryRegion, RegisterRegion

FRAMEBUFFER_SIZE = 8 * MiB
DISPI_ID5 = 0xB0C5   # the newest DISPI interface revision, what bochs-display reports


class R_DISPI_ENABLE(Register16):
    ENABLED = 0
    GETCAPS = 1
    BANK_GRANULARITY_32K = 4
    LFB_ENABLED = 6
    NOCLEARMEM = 7


class TestMmioRegs(RegMap):
    # The Bochs VBE "DISPI" registers, 16 bits wide, index i at 0x500 + 2*i.
    DISPI_ID = 0x500, Register16, RO, DISPI_ID5
    DISPI_XRES = 0x502, Register16
    DISPI_YRES = 0x504, Register16
    DISPI_BPP = 0x506, Register16
    DISPI_ENABLE = 0x508, R_DISPI_ENABLE
    DISPI_BANK = 0x50a, Register16
    DISPI_VIRT_WIDTH = 0x50c, Register16
    DISPI_VIRT_HEIGHT = 0x50e, Register16
    DISPI_X_OFFSET = 0x510, Register16
    DISPI_Y_OFFSET = 0x512, Register16
    DISPI_VIDEO_MEMORY_64K = 0x514, Register16, RO, FRAMEBUFFER_SIZE // (64 * KiB)
    # QEMU's extension block: its own size, and the framebuffer byte order.
    QEXT_SIZE = 0x600, Register32, RO, 8
    QEXT_BYTEORDER = 0x604, Register32, "rw", 0x1e1e1e1e


class TestMmio(DeviceModel):
    __test__ = False               # a device, not a pytest test class
    name = "testmmio"
    description = "8 MiB RAM-like framebuffer BAR (for testmmiotrace) and display registers"
    vendor = 0x1234
    device = 0x1111
    class_code = 0x038000          # display controller, other
    revision = 0x02
    subsystem = (0x1af4, 0x1100)   # QEMU's default subsystem ids
    bars = (
        BarSpec(0, FRAMEBUFFER_SIZE, "mem32", prefetchable=True),
        BarSpec(2, 4 * KiB, "mem32"),
    )

    def __init__(self) -> None:
        super().__init__()
        self.framebuffer = self.set_region(0, MemoryRegion(FRAMEBUFFER_SIZE, "testmmio framebuffer"))
        self.mmio = self.set_region(2, RegisterRegion(TestMmioRegs, 4 * KiB, "testmmio regs"))


__all__ = ["TestMmio", "TestMmioRegs", "FRAMEBUFFER_SIZE"]
