"""nvlike: an NVIDIA-style GPU (GK104, "GeForce GTX 680") as far as a simple driver sees it.

BAR0 is 16 MiB of registers. The ones modelled are those a first look at an
NVIDIA card touches, at the offsets nouveau and envytools' rnndb use:

* PMC: the chip id (PMC_BOOT_0: chipset in bits 28:20, stepping in 7:0),
  the engine enable mask (PMC_ENABLE), the interrupt summary and its enable.
* PBUS_BAR0_WINDOW: where the 1 MiB PRAMIN window at 0x700000 looks into VRAM.
* PTIMER: a 64-bit nanosecond counter (TIME_0 low half, TIME_1 high half)
  that follows the machine clock, so ``udelay`` in the driver shows up as
  elapsed GPU time; an alarm that raises PTIMER_INTR_0 (write 1 to clear).
* PTHERM_TEMP: the core temperature in degrees Celsius.

Everything else in BAR0 reads 0 and ignores writes (and is remembered in the
region's ``unknown`` record). BAR1 (128 MiB) and BAR3 (32 MiB) are 64-bit
prefetchable apertures; BAR1 and PRAMIN both look into one sparse VRAM.
"""

from __future__ import annotations

from enum import IntEnum

from ..regmap import RO, W1C, Register32, RegisterFile, RegMap, Window
from .base import KiB, MiB, GiB, BarSpec, DeviceModel, MemoryRegion, RegisterRegion, SparseMemory

BOOT_0_GK104 = 0x0e4000a1
VRAM_SIZE = 2 * GiB
PRAMIN_OFFSET, PRAMIN_SIZE = 0x700000, 1 * MiB
MASK32 = 0xffffffff


class E_CHIPSET(IntEnum):
    GF100 = 0x0c0
    GF104 = 0x0c4
    GK104 = 0x0e4
    GK106 = 0x0e6
    GK107 = 0x0e7
    GK110 = 0x0f0
    GK208 = 0x108
    GM107 = 0x117
    GM204 = 0x124


class R_PMC_BOOT_0(Register32):
    STEPPING = 7, 0
    CHIPSET = 28, 20, E_CHIPSET


class R_PMC_INTR(Register32):
    PFIFO = 8
    PGRAPH = 12
    PTIMER = 20
    PBUS = 28


class R_PMC_INTR_EN(Register32):
    HARDWARE = 0
    SOFTWARE = 1


class R_PMC_ENABLE(Register32):
    # Engine bits as envytools names them for this generation.
    UNK0 = 0
    PPPP = 1
    PXBAR = 2
    PMFB = 3
    PMEDIA = 4
    PIBUS = 5
    PCOPY0 = 6
    PCOPY1 = 7
    PFIFO = 8
    PGRAPH = 12
    PDAEMON = 13
    PVLD = 15
    PTIMER = 16
    PPDEC = 17
    PVENC = 18
    PBFB = 20
    PCOPY2 = 21
    UNK26 = 26
    BLG = 27
    PCOUNTER = 28
    PFFB = 29
    PDISPLAY = 30
    UNK31 = 31


# Writing all ones to PMC_ENABLE keeps only the engines the chip has: the named ones.
ENGINES_PRESENT = sum(f.mask for f in R_PMC_ENABLE.FIELDS if not f.name.startswith("UNK"))


class E_MEM_TARGET(IntEnum):
    VRAM = 0
    SYS_COHERENT = 2
    SYS_NONCOHERENT = 3


class R_PBUS_BAR0_WINDOW(Register32):
    OFFSET = 23, 0           # in 64 KiB units
    TARGET = 25, 24, E_MEM_TARGET


class R_PTIMER_INTR(Register32):
    ALARM = 0


class NvLikeRegs(RegMap):
    PMC_BOOT_0 = 0x000000, R_PMC_BOOT_0, RO, BOOT_0_GK104
    PMC_BOOT_1 = 0x000004, Register32
    PMC_INTR_0 = 0x000100, R_PMC_INTR, RO
    PMC_INTR_EN_0 = 0x000140, R_PMC_INTR_EN
    PMC_ENABLE = 0x000200, R_PMC_ENABLE
    PBUS_BAR0_WINDOW = 0x001700, R_PBUS_BAR0_WINDOW
    PTIMER_INTR_0 = 0x009100, R_PTIMER_INTR, W1C
    PTIMER_INTR_EN_0 = 0x009140, R_PTIMER_INTR
    PTIMER_NUMERATOR = 0x009200, Register32      # stored; the model counts nanoseconds
    PTIMER_DENOMINATOR = 0x009210, Register32
    PTIMER_TIME_0 = 0x009400, Register32
    PTIMER_TIME_1 = 0x009410, Register32
    PTIMER_ALARM_0 = 0x009420, Register32
    PTHERM_TEMP = 0x020400, Register32, RO, 46
    PRAMIN = Window(PRAMIN_OFFSET, PRAMIN_SIZE, "VRAM through PBUS_BAR0_WINDOW")


class PraminWindow:
    """The 1 MiB view of VRAM at BAR0 + 0x700000, placed by PBUS_BAR0_WINDOW."""

    def __init__(self, vram: SparseMemory, regs: RegisterFile) -> None:
        self.vram = vram
        self.regs = regs

    def _where(self, rel: int, width: int) -> int | None:
        window = R_PBUS_BAR0_WINDOW(self.regs.get("PBUS_BAR0_WINDOW"))
        if window.TARGET != E_MEM_TARGET.VRAM:
            return None   # system memory is not modelled
        addr = (window.value & 0xffffff) * 64 * KiB + rel
        return addr if addr + width <= self.vram.size else None

    def read(self, rel: int, width: int) -> int:
        addr = self._where(rel, width)
        return 0 if addr is None else int.from_bytes(self.vram.read(addr, width), "little")

    peek = read

    def write(self, rel: int, width: int, value: int) -> None:
        addr = self._where(rel, width)
        if addr is not None:
            self.vram.write(addr, value.to_bytes(width, "little"))


class NvLike(DeviceModel):
    name = "nvlike"
    description = "NVIDIA-style GPU: chip id, engine enables, PTIMER, PRAMIN, VRAM apertures"
    vendor = 0x10de
    device = 0x1180
    class_code = 0x030000          # VGA compatible controller
    revision = 0xa1
    bars = (
        BarSpec(0, 16 * MiB, "mem32"),
        BarSpec(1, 128 * MiB, "mem64", prefetchable=True),
        BarSpec(3, 32 * MiB, "mem64", prefetchable=True),
        BarSpec(5, 128, "io"),
    )
    rom_size = 512 * KiB

    def __init__(self) -> None:
        super().__init__()
        self.vram = SparseMemory(VRAM_SIZE)
        self.mmio = self.set_region(0, RegisterRegion(NvLikeRegs, 16 * MiB, "nvlike BAR0"))
        self.set_region(1, MemoryRegion(128 * MiB, "nvlike BAR1 (VRAM)", store=self.vram))
        self.set_region(3, MemoryRegion(32 * MiB, "nvlike BAR3 (RAMIN)"))
        regs = self.regs = self.mmio.regs
        regs.map_window("PRAMIN", PraminWindow(self.vram, regs))
        regs.on_read("PTIMER_TIME_0", lambda _i: self.timer_ns() & MASK32)
        regs.on_read("PTIMER_TIME_1", lambda _i: self.timer_ns() >> 32 & MASK32)
        regs.on_write("PTIMER_TIME_0", lambda _i, v, _old: self._set_time(MASK32, v))
        regs.on_write("PTIMER_TIME_1", lambda _i, v, _old: self._set_time(MASK32 << 32, v << 32))
        regs.on_write("PTIMER_ALARM_0", lambda _i, _v, _old: setattr(self, "_alarm_armed", True))
        regs.on_read("PTIMER_INTR_0", self._read_ptimer_intr)
        regs.on_read("PMC_INTR_0", self._read_pmc_intr)
        regs.on_write("PMC_ENABLE", lambda _i, v, _old: regs.set("PMC_ENABLE", v & ENGINES_PRESENT))
        self._timer_offset = 0
        self._alarm_armed = False

    # PTIMER: machine nanoseconds plus whatever the driver set the counter to.

    def timer_ns(self) -> int:
        return (self.now_ns() + self._timer_offset) & ((1 << 64) - 1)

    def _set_time(self, half: int, value: int) -> None:
        now = self.timer_ns()
        self._timer_offset += ((now & ~half) | (value & half)) - now

    def _check_alarm(self) -> None:
        if self._alarm_armed:
            late = (self.timer_ns() - self.regs.get("PTIMER_ALARM_0")) & MASK32
            if late < 0x80000000:
                self._alarm_armed = False
                self.regs.set_bits("PTIMER_INTR_0", R_PTIMER_INTR.ALARM.mask)

    def _read_ptimer_intr(self, _index: int | None) -> int:
        self._check_alarm()
        return self.regs.get("PTIMER_INTR_0")

    def _read_pmc_intr(self, _index: int | None) -> int:
        self._check_alarm()
        pending = self.regs.get("PTIMER_INTR_0") & self.regs.get("PTIMER_INTR_EN_0")
        return R_PMC_INTR.PTIMER.mask if pending else 0

    def reset(self) -> None:
        super().reset()
        self.vram.clear()
        self._timer_offset = 0
        self._alarm_armed = False
