"""kernel/time: jiffies, ktime, the delays, spinning and idling, and the
soft-lockup detector -- all on the one machine clock (trace/clock.py).

The clock's cost model (what a step of driver code costs in machine time;
constants here and in machine/iomem.py, all in nanoseconds):

* a device access: ``MMIO_READ_NS`` (a non-posted read's round trip) or
  ``MMIO_WRITE_NS`` (a posted write), charged by the access path;
* a clock read (``ktime_get*``, ``get_jiffies_64``): ``TIME_READ_NS``;
* one ``cpu_relax()`` (``__hv_relax``): ``RELAX_NS`` -- the ``pause``
  instruction;
* delays (``udelay`` ...) cost what they ask; pure computation costs nothing.

Spinning with back-off: a clock read or a relax from the same call site as
before with no progress in between (no device access, no delay: the driver
is spinning) costs ``SPIN_GROWTH`` times the previous step (up to a jiffy),
capped at the next jiffy boundary and the next device event, so that a
``while (time_before(jiffies, end)) cpu_relax();`` or a ktime deadline loop
ends after a few hundred iterations with an overshoot of at most 1/16 of the
time spun, and still sees every jiffy and every device event.

``jiffies`` is a real variable on a kernel data page, updated whenever the
clock crosses a jiffy boundary (the event queue's ticker; in deterministic
mode at delays, spins, idles and calls into module code).
"""

from __future__ import annotations

import time as _time

from unicorn.x86_const import UC_X86_REG_RSP as _RSP

from ..machine.cpu import CpuStop, Stop
from ..machine.iomem import MMIO_READ_NS, MMIO_WRITE_NS  # noqa: F401 - the cost model, in one place
from .api import Subsystem, _u32, export

HZ = 250
NSEC_PER_JIFFY = 1_000_000_000 // HZ
INITIAL_JIFFIES = (-300 * HZ) & 0xFFFF_FFFF      # wraps five minutes after boot, as in the kernel
U64 = (1 << 64) - 1

# The cost model (ns): see the module docstring and docs/kernel/time.md.
# (The device access path charges MMIO_READ_NS / MMIO_WRITE_NS.)
TIME_READ_NS = 25
RELAX_NS = 50
SPIN_GROWTH = 1.0625
# A spin step never grows past one jiffy (it is capped at the next jiffy anyway).
MAX_SPIN_NS = NSEC_PER_JIFFY

# The soft-lockup detector: the kernel's default watchdog_thresh is 10 s,
# a soft lockup is 2 * thresh without scheduling, sampled by an hrtimer
# every 2 * thresh / 5.
SOFTLOCKUP_THRESH_NS = 20 * 1_000_000_000
SOFTLOCKUP_SAMPLE_NS = 4 * 1_000_000_000
# Kernel text and modules live above this (machine.md's address space).
_TEXT_FLOOR = 0xFFFF_FFFF_8000_0000
# A sleep with this deadline or later waits for an event, not a time.
FOREVER_NS = 1 << 62
HUNG_TASK_S = 120


class Time(Subsystem):
    """jiffies, ktime_get*, delays, __hv_relax/__hv_idle, the soft-lockup detector."""

    name = "time"

    def __init__(self, api) -> None:
        super().__init__(api)
        self._jiffies_va = api.data_symbol("jiffies", 8, 8, "jiffies_64")
        self._jiffies_pa = 0
        # Spin detection (_spin): the ns the clock moved by spin steps, and per
        # call site the progress mark (clock minus spun) and step it last saw.
        self._spun = 0
        self._sites: dict[tuple[int, ...], tuple[int, float]] = {}
        # The soft-lockup detector.
        self._touched = 0
        self._next_sample = 0
        self._warned = False
        self._sleeping = False      # in __hv_idle or a sleep: not a lockup
        self._irq_word = None
        #: Who is running (for the lockup and hung-task lines): set by Machine._call.
        self.comm = "insmod"
        self._real_at_boot = _time.time_ns()

    def boot(self) -> None:
        self._jiffies_pa = self.mm.virt_to_phys(self._jiffies_va)
        self._irq_word = self.machine.resolve("irq_pending_word")
        self.machine.events.set_ticker(self._tick)
        self.update_jiffies()

    # -- jiffies and the periodic chores ---------------------------------------------

    def update_jiffies(self) -> None:
        # Look at the clock without moving it: a deterministic clock ticks
        # on every reading, and updating jiffies is not a reading.
        ns = self.machine.time_base.now_ns()
        value = (INITIAL_JIFFIES + ns // NSEC_PER_JIFFY) & U64
        self.cpu.write_phys(self._jiffies_pa, value.to_bytes(8, "little"))

    def _tick(self, now: int) -> int:
        """The clock crossed a jiffy boundary (maybe several): jiffies, then
        the lockup sample.  Returns the next boundary."""
        self.update_jiffies()
        if now >= self._next_sample:
            self._next_sample = now - now % SOFTLOCKUP_SAMPLE_NS + SOFTLOCKUP_SAMPLE_NS
            self._check_lockup(now)
        return now - now % NSEC_PER_JIFFY + NSEC_PER_JIFFY

    # -- the soft-lockup detector -------------------------------------------------------

    def touch_watchdog(self) -> None:
        """The CPU scheduled (slept, idled, or a new command started)."""
        self._touched = self.machine.time_base.now_ns()
        self._warned = False

    def _check_lockup(self, now: int) -> None:
        if self._sleeping:
            self._touched = now         # the watchdog thread would run meanwhile
            return
        if self._warned or not self.machine.time_base.running:
            return
        stuck = now - self._touched
        if stuck <= SOFTLOCKUP_THRESH_NS:
            return
        # Once per stuck period (until the CPU sleeps or the call returns):
        # the kernel repeats every period, but our clock can run far ahead
        # of wall time while a loop backs off, which would flood the log.
        self._warned = True
        m = self.machine
        log = m.log.log
        comm = self.comm
        log(0, f"watchdog: BUG: soft lockup - CPU#0 stuck for {stuck // 1_000_000_000}s! [{comm}:1]")
        names = [mod.name for mod in reversed(list(m.modules.values()))]
        log(4, "Modules linked in: " + " ".join(names))
        log(4, f"CPU: 0 PID: 1 Comm: {comm} Tainted: G           O L")
        log(4, f"RIP: 0010:{self._where()}")

    def _where(self) -> str:
        """Where the CPU is stuck: the module code that called into the
        kernel (cpu_relax, ktime_get ...), else RIP."""
        m = self.machine
        for va in [self.cpu.rip, *self._stack_words(8)]:
            if any(mod.contains(va) for mod in m.modules.values()):
                return m.symbolize(va)
        return m.symbolize(self.cpu.rip)

    # -- spinning ----------------------------------------------------------------------------

    def _spin(self, base: int) -> None:
        """One spin step: ``base`` ns, or more if the driver is spinning.

        Spinning = the same call site again, with no progress in between
        (progress: the clock moved by anything but spin steps -- a device
        access, a delay).  Each site keeps its own step, so a loop after
        another starts small even when nothing happened in between.
        """
        tb = self.machine.time_base
        events = self.machine.events
        now = tb.now_ns()
        progress = now - self._spun
        site = self._site()
        sites = self._sites
        mark = sites.get(site)
        step = min(mark[1] * SPIN_GROWTH, MAX_SPIN_NS) if mark is not None and mark[0] == progress else float(base)
        # Never past the next jiffy or device event: the driver sees each.
        cap = now - now % NSEC_PER_JIFFY + NSEC_PER_JIFFY - now
        due = events.next_due()
        if due is not None:
            cap = min(cap, max(1, due - now))
        events.advance(min(int(step), cap) or 1)
        self._spun += tb.now_ns() - now
        if len(sites) > 64:
            sites.clear()
        sites[site] = (progress, step)

    def _site(self) -> tuple[int, ...]:
        """The call site: the return addresses among the top stack words
        (two levels, so that cpu_relax()'s callers differ)."""
        return tuple(w for w in self._stack_words(4) if w >= _TEXT_FLOOR)[:2]

    def _stack_words(self, n: int) -> list[int]:
        """Up to ``n`` 64-bit words from the top of the stack (not past its base)."""
        rsp = self.cpu.reg(_RSP)
        n = max(0, min(n, (self.machine.stack[1] - rsp) // 8))
        try:
            raw = self.mm.read(rsp, 8 * n)
        except Exception:  # noqa: BLE001 - a bad stack is the driver's problem, not the clock's
            return []
        return [int.from_bytes(raw[i:i + 8], "little") for i in range(0, 8 * n, 8)]

    def _read_clock(self) -> int:
        """ktime_get and friends: the clock, then the read's cost (spinning
        readers back off).  Deterministic: a det reading, nothing else."""
        tb = self.machine.time_base
        if tb.deterministic:
            return tb.machine_ns()
        now = tb.since_boot_ns()
        self._spin(TIME_READ_NS)
        return now

    # -- hypercalls (the contract with kernel/core/*.c) ----------------------------------------

    @export("__hv_relax")
    def hv_relax(self) -> None:
        """One cpu_relax(): RELAX_NS, more while spinning (back-off)."""
        self._spin(RELAX_NS)

    @export("__hv_idle", nargs=1)
    def hv_idle(self, deadline_ns: int) -> None:
        """Nothing runnable: advance the clock to ``min(deadline, next device
        event)``, running due device events in order; return early when one
        makes an interrupt pending.  Sleeping touches the lockup detector."""
        tb = self.machine.time_base
        events = self.machine.events
        self.touch_watchdog()
        now = tb.now_ns()
        if deadline_ns >= FOREVER_NS and events.next_due() is None:
            # Nothing can ever wake this CPU: the kernel would hang here
            # (and report a hung task after 120 s); end the call instead.
            self.machine.log.log(3, f"INFO: task {self.comm}:1 blocked for more than {HUNG_TASK_S} seconds.")
            raise CpuStop(Stop("hung task", f"{self.comm} sleeps with nothing to wake it "
                               "(no timer, no pending device event)",
                               [f"INFO: task {self.comm}:1 blocked for more than {HUNG_TASK_S} seconds."]))
        if self._irq_pending():
            return              # an interrupt is waiting: no sleep at all
        target = deadline_ns
        due = events.next_due()
        if due is not None:
            target = min(target, due)
        self._sleeping = True
        try:
            events.advance_to(max(now, target), self._irq_pending)
        finally:
            self._sleeping = False
        self.update_jiffies()
        self.touch_watchdog()

    def _irq_pending(self) -> bool:
        va = self._irq_word
        return va is not None and self.mm.read_uint(va, 8) != 0

    @export("__jiffies_to_ktime_ns", nargs=1)
    def jiffies_to_ktime_ns(self, j: int) -> int:
        """The clock time (ns since boot) at which jiffies reaches ``j``."""
        ticks = (j - INITIAL_JIFFIES) & U64
        if ticks >> 63:
            return 0            # before boot
        return min(ticks * NSEC_PER_JIFFY, U64)

    # -- delays --------------------------------------------------------------------------------

    def _delay(self, ns: int) -> None:
        self.machine.time_base.advance(ns)
        self.update_jiffies()

    def _sleep(self, ns: int) -> None:
        self._sleeping = True
        try:
            self._delay(ns)
        finally:
            self._sleeping = False
        self.touch_watchdog()

    @export(nargs=1)
    def udelay(self, usecs: int) -> None:
        self._delay(usecs * 1000)

    @export(nargs=1)
    def ndelay(self, nsecs: int) -> None:
        self._delay(nsecs)

    @export(nargs=1)
    def mdelay(self, msecs: int) -> None:
        self._delay(msecs * 1_000_000)

    # msleep, msleep_interruptible, usleep_range, fsleep, ssleep: sleeping C
    # versions in kernel/core/sched.c (timers, work and interrupts run meanwhile).

    @export()
    def touch_softlockup_watchdog(self) -> None:
        self.touch_watchdog()

    # -- clocks --------------------------------------------------------------------------------

    @export()
    def ktime_get_ns(self) -> int:
        return self._read_clock()

    @export()
    def ktime_get(self) -> int:
        return self._read_clock()

    @export()
    def ktime_get_raw(self) -> int:
        return self._read_clock()

    @export()
    def ktime_get_raw_ns(self) -> int:
        return self._read_clock()

    @export()
    def ktime_get_boottime(self) -> int:
        return self._read_clock()

    @export()
    def ktime_get_boottime_ns(self) -> int:
        return self._read_clock()

    @export()
    def ktime_get_mono_fast_ns(self) -> int:
        return self._read_clock()

    @export()
    def ktime_get_seconds(self) -> int:
        return self._read_clock() // 1_000_000_000

    def _real(self) -> int:
        # Deterministic: the epoch plus the det counter, so output repeats.
        tb = self.machine.time_base
        now = self._read_clock()
        return now if tb.deterministic else now + self._real_at_boot

    @export()
    def ktime_get_real(self) -> int:
        return self._real()

    @export()
    def ktime_get_real_ns(self) -> int:
        return self._real()

    @export()
    def ktime_get_real_seconds(self) -> int:
        return self._real() // 1_000_000_000

    def _timespec(self, ts: int, ns: int) -> None:
        self.mm.write(ts, (ns // 1_000_000_000).to_bytes(8, "little", signed=True)
                      + (ns % 1_000_000_000).to_bytes(8, "little", signed=True))

    @export(nargs=1)
    def ktime_get_ts64(self, ts: int) -> None:
        self._timespec(ts, self._read_clock())

    @export(nargs=1)
    def ktime_get_real_ts64(self, ts: int) -> None:
        self._timespec(ts, self._real())

    @export()
    def get_jiffies_64(self) -> int:
        # A spin step in det mode too: this export is newer than every golden.
        tb = self.machine.time_base
        now = tb.now_ns()
        self._spin(TIME_READ_NS)
        return (INITIAL_JIFFIES + now // NSEC_PER_JIFFY) & U64

    # -- conversions ---------------------------------------------------------------------------

    @export(nargs=1)
    def jiffies_to_msecs(self, j: int) -> int:
        return _u32(j * 1000 // HZ)

    @export(nargs=1)
    def jiffies_to_usecs(self, j: int) -> int:
        return _u32(j * 1_000_000 // HZ)

    @export(nargs=1)
    def jiffies64_to_nsecs(self, j: int) -> int:
        return (j * NSEC_PER_JIFFY) & U64

    @export(nargs=1)
    def jiffies64_to_msecs(self, j: int) -> int:
        return (j * 1000 // HZ) & U64

    @export(nargs=1)
    def msecs_to_jiffies(self, m: int) -> int:
        return -(-_u32(m) * HZ // 1000)

    @export(nargs=1)
    def usecs_to_jiffies(self, u: int) -> int:
        return -(-_u32(u) * HZ // 1_000_000)

    @export(nargs=1)
    def nsecs_to_jiffies(self, n: int) -> int:
        return (n // NSEC_PER_JIFFY) & U64

    @export(nargs=1)
    def nsecs_to_jiffies64(self, n: int) -> int:
        return (n // NSEC_PER_JIFFY) & U64
