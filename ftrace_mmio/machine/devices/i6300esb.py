"""i6300esb: the watchdog timer of Intel's 6300ESB I/O controller hub (8086:25ab),
as QEMU's ``-device i6300esb`` presents it.

Written from the datasheet's description of the watchdog (Intel 6300ESB
Controller Hub datasheet, the WDT chapter) and QEMU's documented behaviour.

**PCI configuration space** (mmiotrace does not see these accesses):

* ``0x60`` WDT configuration (16 bits): bits 1:0 what the first stage's
  timeout raises (0 an interrupt, 1 reserved, 2 SMI, 3 nothing), bit 2 the
  prescaler (0: the preload counts units of 2^15 PCI clocks, about 1 ms;
  1: units of 2^5, about 1 us), bit 5 set keeps the WDT_TOUT# output (the
  reset) from firing.
* ``0x68`` WDT lock (8 bits): bit 0 locks the configuration until reset
  (nothing of 0x60/0x68 changes afterwards), bit 1 enables the timer,
  bit 2 selects free-running mode (the second stage never resets).

**BAR0** (16 bytes of memory):

* ``0x00`` timer 1 preload and ``0x04`` timer 2 preload (20 bits each);
* ``0x08`` GINTSR, bit 0 the first stage's interrupt status (write 1 to clear);
* ``0x0c`` reload register (16 bits): bit 8 reloads the timer (a ping),
  bit 9 reads as "the last reset came from the watchdog" and a 1 written
  clears it.

Every write to the preloads or to the reload register must follow the unlock
sequence: 0x80 then 0x86 written to the reload register.  A write without it
is ignored; the sequence covers one write.

**The timer**: a down counter clocked at 33 MHz (30 ns), loaded with the
preload shifted left by 15 (or 5 with the 1 MHz prescaler).  When stage 1
runs out, the interrupt is raised (if configured) and stage 2 starts with the
second preload; when stage 2 runs out the chip resets the machine (unless the
output is disabled or the timer free-runs) and sets the timeout flag.  A
reload, or enabling, starts over at stage 1.  Here the timer runs on the
machine clock (``timer_after``); the reset is recorded (``resets``) and
logged, the machine goes on.
"""

from __future__ import annotations

import logging

from ..regmap import W1C, WO, Register16, Register32, RegMap, Unclaimed, reg
from .base import BarSpec, DeviceModel, RegisterRegion

log = logging.getLogger(__name__)

# config space
ESB_CONFIG_REG = 0x60
ESB_LOCK_REG = 0x68
CONFIG_INT_TYPE = 0x03
CONFIG_FREQ_1MHZ = 0x04
CONFIG_OUTPUT_DISABLE = 0x20
LOCK_LOCKED = 0x01
LOCK_ENABLE = 0x02
LOCK_FREE_RUN = 0x04

# BAR0
UNLOCK1, UNLOCK2 = 0x80, 0x86
RELOAD_BIT = 0x100
TIMEOUT_BIT = 0x200
PCI_CLOCK_NS = 30
PRELOAD_MASK = 0xFFFFF


class R_PRELOAD(Register32):
    VALUE = 19, 0


class R_GINTSR(Register32):
    INT_STATUS = 0


class R_RELOAD(Register16):
    KEY = 7, 0, {UNLOCK1: "UNLOCK1", UNLOCK2: "UNLOCK2"}   # the unlock sequence's bytes
    RELOAD = 8
    TIMEOUT = 9


class EsbRegs(RegMap):
    """BAR0 of the 6300ESB watchdog."""

    TIMER1 = reg(0x00, R_PRELOAD, WO, 0xFFFFF, doc="stage 1 preload (after the unlock sequence)")
    TIMER2 = reg(0x04, R_PRELOAD, WO, 0xFFFFF, doc="stage 2 preload (after the unlock sequence)")
    GINTSR = reg(0x08, R_GINTSR, W1C, doc="stage 1 interrupt status, write 1 to clear")
    RELOAD = reg(0x0C, R_RELOAD, doc="0x80, 0x86 unlock; then RELOAD pings, TIMEOUT clears the flag")


class EsbRegion(RegisterRegion):
    """BAR0 with the unlock sequence in front of the registers."""

    def __init__(self, model: I6300Esb) -> None:
        super().__init__(EsbRegs, 16, "i6300esb BAR0")
        self.esb = model

    def _peek(self, offset: int, width: int) -> int:
        esb = self.esb
        if offset == 0x0C and width in (1, 2):
            return TIMEOUT_BIT if esb.timeout_flag and width == 2 else 0
        if offset == 0x08:
            return int(esb.int_status)
        # The preloads are write-only: they read as zero.
        return 0

    def _read(self, offset: int, width: int) -> int:
        value = self._peek(offset, width)
        if offset not in (0x00, 0x04, 0x08, 0x0C):
            self.unknown.append(Unclaimed("R", offset, width, value))
        return value

    def _write(self, offset: int, width: int, value: int) -> None:
        esb = self.esb
        if offset == 0x0C and width == 2:
            esb.reload_written(value)
        elif offset in (0x00, 0x04) and width == 4:
            esb.preload_written(1 if offset == 0 else 2, value)
        elif offset == 0x08:
            if value & 1:
                esb.clear_interrupt()
        else:
            self.unknown.append(Unclaimed("W", offset, width, value))


class I6300Esb(DeviceModel):
    name = "i6300esb"
    description = "Intel 6300ESB watchdog timer (QEMU's -device i6300esb)"
    vendor = 0x8086
    device = 0x25AB
    class_code = 0x088000             # system peripheral, other
    revision = 0x00
    # QEMU gives the function no interrupt pin (the real kernel saw irq 0): the
    # stage 1 interrupt sets GINTSR and reaches no line.
    interrupt_pin = 0
    bars = (BarSpec(0, 16, "mem32"),)

    def __init__(self) -> None:
        super().__init__()
        self.mmio = self.set_region(0, EsbRegion(self))
        self._power_on()

    def _power_on(self) -> None:
        self.config = 0                    # 0x60
        self.lock = 0                      # 0x68
        self.preload = [0, 0xFFFFF, 0xFFFFF]   # [unused, stage 1, stage 2]: the chip's defaults
        self.unlock_state = 0              # 0, 1 after 0x80, 2 after 0x86
        self.stage = 1
        self.int_status = False
        self.timeout_flag = False          # the last reset was the watchdog's
        self.reloads = 0                   # pings (RELOAD written after the unlock)
        self.resets: list[int] = []        # machine ns at which the chip reset the machine
        self.ignored_writes: list[tuple[int, int]] = []   # (offset, value) written while locked
        self._timer = None

    def reset(self) -> None:
        self._stop_timer()
        flag = self.timeout_flag           # survives the reset it caused
        super().reset()
        self._power_on()
        self.timeout_flag = flag

    # ---- state the guest sees ------------------------------------------------------

    @property
    def enabled(self) -> bool:
        return bool(self.lock & LOCK_ENABLE)

    @property
    def locked(self) -> bool:
        return bool(self.lock & LOCK_LOCKED)

    @property
    def running(self) -> bool:
        """The down counter runs (enabled and armed)."""
        return self._timer is not None and self._timer.pending

    def stage_ns(self, stage: int) -> int:
        """How long a stage lasts with its preload and the prescaler."""
        shift = 5 if self.config & CONFIG_FREQ_1MHZ else 15
        return (self.preload[stage] << shift) * PCI_CLOCK_NS

    # ---- configuration space ------------------------------------------------------------

    def device_config_read(self, offset: int, width: int) -> int | None:
        if offset == ESB_CONFIG_REG and width in (1, 2):
            return self.config & ((1 << 8 * width) - 1)
        if offset == ESB_LOCK_REG and width == 1:
            return self.lock
        return None

    def device_config_write(self, offset: int, width: int, value: int) -> bool:
        if offset not in (ESB_CONFIG_REG, ESB_LOCK_REG):
            return False
        if self.locked:
            self.ignored_writes.append((offset, value))
            return True
        if offset == ESB_CONFIG_REG:
            self.config = value & (CONFIG_INT_TYPE | CONFIG_FREQ_1MHZ | CONFIG_OUTPUT_DISABLE)
        else:
            was = self.enabled
            self.lock = value & (LOCK_LOCKED | LOCK_ENABLE | LOCK_FREE_RUN)
            if self.enabled and not was:
                self._restart(1)
            elif not self.enabled:
                self._stop_timer()
        return True

    # ---- BAR0 --------------------------------------------------------------------------

    def reload_written(self, value: int) -> None:
        if self.unlock_state == 0 and value == UNLOCK1:
            self.unlock_state = 1
            return
        if self.unlock_state == 1 and value == UNLOCK2:
            self.unlock_state = 2
            return
        if self.unlock_state == 2:
            if value & RELOAD_BIT:
                self.reloads += 1
                if self.enabled:
                    self._restart(1)
            if value & TIMEOUT_BIT:
                self.timeout_flag = False
        # Anything else, or the one write the sequence allowed: locked again.
        self.unlock_state = 0

    def preload_written(self, stage: int, value: int) -> None:
        if self.unlock_state == 2:
            self.preload[stage] = value & PRELOAD_MASK
        self.unlock_state = 0

    def clear_interrupt(self) -> None:
        if self.int_status:
            self.int_status = False
            if self.interrupt_pin:
                self.set_irq(False)

    # ---- the timer ------------------------------------------------------------------------

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _restart(self, stage: int) -> None:
        self._stop_timer()
        self.stage = stage
        if self.port is None:
            return                         # not on a machine (unit tests of the registers)
        self._timer = self.timer_after(self.stage_ns(stage), self._expired)

    def _expired(self) -> None:
        self._timer = None
        if not self.enabled:
            return
        if self.stage == 1:
            if self.config & CONFIG_INT_TYPE == 0:
                self.int_status = True
                if self.interrupt_pin:
                    self.set_irq(True)
            self._restart(2)
            return
        # Stage 2 ran out: WDT_TOUT# resets the machine, unless kept quiet.
        if not (self.config & CONFIG_OUTPUT_DISABLE) and not (self.lock & LOCK_FREE_RUN):
            self.timeout_flag = True
            now = self.time_base.now_ns() if self.time_base is not None else \
                self.port.machine.time_base.now_ns()
            self.resets.append(now)
            log.warning("i6300esb: watchdog timer expired at %d ns: the machine would reset now", now)
        self._restart(1)
