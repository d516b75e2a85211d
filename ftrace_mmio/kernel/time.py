"""kernel/time: jiffies, ktime and the delays.

``jiffies`` is a real variable on a kernel data page, refreshed from the
machine clock before every call into module code and after every delay.
"""

from __future__ import annotations

from .api import Subsystem, _u32, export

HZ = 250
INITIAL_JIFFIES = (-300 * HZ) & 0xFFFF_FFFF      # wraps five minutes after boot, as in the kernel


class Time(Subsystem):
    """jiffies, ktime_get*, udelay/msleep and friends."""

    name = "time"

    def __init__(self, api) -> None:
        super().__init__(api)
        self._jiffies_va = api.data_symbol("jiffies", 8, 8, "jiffies_64")

    def boot(self) -> None:
        self.update_jiffies()

    def update_jiffies(self) -> None:
        # Look at the clock without moving it: a deterministic clock ticks
        # on every reading, and updating jiffies is not a reading.
        tb = self.machine.time_base
        ns = tb.virtual_ns(tick=False) if tb.deterministic else tb.since_boot_ns()
        value = (INITIAL_JIFFIES + ns * HZ // 1_000_000_000) & 0xFFFF_FFFF_FFFF_FFFF
        self.cpu.write_phys(self.mm.virt_to_phys(self._jiffies_va), value.to_bytes(8, "little"))

    def _delay(self, ns: int) -> None:
        self.machine.time_base.advance(ns)
        self.update_jiffies()

    @export(nargs=1)
    def udelay(self, usecs: int) -> None:
        self._delay(usecs * 1000)

    @export(nargs=1)
    def ndelay(self, nsecs: int) -> None:
        self._delay(nsecs)

    @export(nargs=1)
    def mdelay(self, msecs: int) -> None:
        self._delay(msecs * 1_000_000)

    @export(nargs=1)
    def msleep(self, msecs: int) -> None:
        self._delay(_u32(msecs) * 1_000_000)

    @export(nargs=1)
    def msleep_interruptible(self, msecs: int) -> int:
        self._delay(_u32(msecs) * 1_000_000)
        return 0

    @export(nargs=2)
    def usleep_range(self, lo: int, hi: int) -> None:
        self._delay(lo * 1000)

    @export(nargs=1)
    def fsleep(self, usecs: int) -> None:
        self._delay(usecs * 1000)

    @export(nargs=1)
    def ssleep(self, seconds: int) -> None:
        self._delay(_u32(seconds) * 1_000_000_000)

    @export()
    def ktime_get_ns(self) -> int:
        return self.machine.time_base.machine_ns()

    @export()
    def ktime_get(self) -> int:
        return self.machine.time_base.machine_ns()

    @export(nargs=1)
    def jiffies_to_msecs(self, j: int) -> int:
        return _u32(j * 1000 // HZ)

    @export(nargs=1)
    def msecs_to_jiffies(self, m: int) -> int:
        return -(-_u32(m) * HZ // 1000)

    @export(nargs=1)
    def usecs_to_jiffies(self, u: int) -> int:
        return -(-_u32(u) * HZ // 1_000_000)

