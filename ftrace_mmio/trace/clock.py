"""Trace clocks, and the time base a machine shares with its trace array.

The kernel's ``local`` clock is sched_clock: nanoseconds since boot. Ours is
the **machine clock**: nanoseconds since the machine started, as the driver
would have lived them, not as the emulator spent them.

* While guest code runs (between :meth:`TimeBase.run_begin` and
  :meth:`TimeBase.run_end`) the clock is virtual. It moves only by a cost
  model (a fixed cost per device access, per kernel-API call; see
  ``machine/iomem.py`` and ``kernel/time.py``), by delays
  (``udelay``, ``msleep`` ...), by spinning (``cpu_relax``) and by idling
  (``__hv_idle``). Straight-line code between two device accesses therefore
  takes the accesses' cost, whatever the emulator needed for it, and two runs
  of the same driver give the same gaps.
* While the machine is idle between commands, the clock follows wall time,
  so markers written meanwhile and the pauses between commands look natural.
  The next run starts from there ("catches up"; device events that fell due
  meanwhile run first, in order).

The clock is a plain attribute (:attr:`TimeBase.ns`) that the device-access
path advances with one addition (``machine/iomem.py``); :attr:`TimeBase.due`
is when that path must call :meth:`TimeBase.access_due` (the event queue's
earliest due time, ``machine/events.py``). C (``mmiotrace/kmmio_step.c``)
stamps records from a 64-bit word of its own (:meth:`TimeBase.c_clock`): it
adds each stepped access's cost itself, and the word is re-synced from
``ns`` (minus the access in flight) whenever the clock moves otherwise
(delays, spins, events) and whenever Python reads the clock on the CPU
thread. An attribute costs a third of a shared-memory word from Python, and
the access path is the hottest code there is. (Not synced: accesses the C
path does not see -- untraced ones, e.g. outside ``filter_offset`` --
reach C's stamps only at the next sync.)

``det`` is ours: a deterministic clock for reproducible output. It reads a
virtual nanosecond counter that advances by exactly ``DET_STEP_NS`` on every
reading and by the requested amount on every delay (and on spinning and
idling), so the same driver run gives the same timestamps byte for byte. The
per-access and per-call costs do not move it. In ``deterministic`` mode the
machine's own view of time (ktime, jiffies, device events, dmesg) is that
counter too.
"""

from __future__ import annotations

import ctypes
import threading
import time
from typing import Callable

DET_STEP_NS = 1000
#: Due time when nothing is due (and always in deterministic mode: the access
#: path then never runs the event queue).
NEVER = (1 << 64) - 1


class TimeBase:
    """Time shared by one machine and its trace array.

    ``deterministic`` switches the machine's view of time (device timers,
    dmesg stamps) to the virtual counter; the trace array sets it when the
    ``det`` trace clock is selected.
    """

    def __init__(self, deterministic: bool = False) -> None:
        self._start = time.monotonic_ns()
        #: The machine clock, ns since boot: current while guest code runs,
        #: as of the last run_end while idle (then wall time is added).
        self.ns = 0
        #: The access path calls access_due() once ``ns`` reaches this.
        self.due = NEVER
        self._events_due = NEVER
        # The word C stamps with (kmmio_step.c), and what the access C is
        # stepping will add to it (None: no C clock).
        self._c_word = (ctypes.c_uint64 * 1)()
        self._c_in_flight: Callable[[], int] | None = None
        self._cpu_thread = 0
        #: Wall time (monotonic ns) when the machine went idle; None while
        #: guest code runs.
        self._idle_since: int | None = self._start
        self._depth = 0
        self._virtual = 0
        self._counter = 0
        self._lock = threading.Lock()
        self._deterministic = False
        #: The machine's event queue (machine/events.py), when there is one:
        #: delays then run device events that fall due on the way.
        self.events = None
        #: Called before a delay moves the clocks: a producer holding events
        #: (native.py) hands them over first, so that the ring buffer sees
        #: records in the order they were made.
        self.before_advance: list[Callable[[], None]] = []
        self.deterministic = deterministic

    # -- the access path's side -----------------------------------------------------

    def set_events_due(self, due: int) -> None:
        """When the event queue next wants to run (NEVER: nothing queued)."""
        self._events_due = due
        self.due = due

    def access_due(self) -> None:
        """The access path passed :attr:`due`: run due events."""
        if self.ns >= self._events_due and self.events is not None:
            self.events.run_due()

    def c_clock(self, in_flight: Callable[[], int] | None) -> int:
        """Keep C's word in sync from now on (``in_flight()``: what the access
        being stepped will still add to it), or stop (None); returns the
        word's address."""
        self._c_in_flight = in_flight
        self._c_sync()
        return ctypes.addressof(self._c_word)

    def _c_sync(self) -> None:
        fn = self._c_in_flight
        if fn is not None:
            self._c_word[0] = self.ns - fn()

    # -- modes -------------------------------------------------------------------

    @property
    def deterministic(self) -> bool:
        return self._deterministic

    @deterministic.setter
    def deterministic(self, on: bool) -> None:
        self._deterministic = bool(on)
        if self.events is not None:
            self.events.rearm()

    @property
    def running(self) -> bool:
        """Guest code is running: the clock is virtual (not following wall time)."""
        return self._idle_since is None

    def run_begin(self) -> int:
        """Guest code starts: the clock stops following wall time.  Returns
        the time (on the :meth:`now_ns` scale) the clock must catch up to:
        the caller runs due events on the way
        (:meth:`machine.events.EventQueue.advance_to`); nested runs return
        the current time."""
        with self._lock:
            self._depth += 1
            idle = self._idle_since
            if idle is None:
                return self.now_ns() if self._deterministic else self.ns
            self._idle_since = None
            self._cpu_thread = threading.get_ident()
            target = self.ns + max(0, time.monotonic_ns() - idle)
            if self._deterministic:
                # The machine runs on the det counter, which never follows
                # wall time; the machine clock catches up on its own.
                self.ns = target
                self._c_sync()
                return self._virtual
            # Not moved yet: events that fell due while idle run at their own times.
            return target

    def run_end(self) -> None:
        """Guest code stopped: the clock follows wall time until the next run."""
        with self._lock:
            self._depth = max(0, self._depth - 1)
            if self._depth == 0 and self._idle_since is None:
                self._idle_since = time.monotonic_ns()

    # -- moving the clock ---------------------------------------------------------------

    def advance(self, ns: int) -> None:
        """A delay in driver code: move every clock forward by ``ns``
        (running the device events that fall due on the way, if the machine
        has an event queue)."""
        if ns <= 0:
            return
        if self.events is not None:
            self.events.advance(ns)
        else:
            self.move(ns)

    def move(self, ns: int) -> None:
        """Move the machine clock and the det counter forward by ``ns``, with
        nothing else: the primitive under :meth:`advance` and the event queue."""
        if ns <= 0:
            return
        for fn in self.before_advance:
            fn()
        with self._lock:
            self.ns += ns
            self._virtual += ns
            self._c_sync()

    # -- reading it ------------------------------------------------------------------------

    def since_boot_ns(self) -> int:
        """The machine clock: ``local``, ``global``, ``perf``, ``x86-tsc``."""
        if self._idle_since is None:
            if self._c_in_flight is not None and threading.get_ident() == self._cpu_thread:
                self._c_sync()          # what is stamped from here on, C stamps after
            return self.ns
        with self._lock:
            idle = self._idle_since
            if idle is None:
                return self.ns
            return self.ns + max(0, time.monotonic_ns() - idle)

    def machine_offset_ns(self) -> int:
        """``monotonic_ns() - since_boot_ns()``: constant."""
        return self._start

    def monotonic_ns(self) -> int:
        """``mono``, ``mono_raw``, ``boot``: the machine clock on the host's
        CLOCK_MONOTONIC scale (equal to it at boot)."""
        return self.since_boot_ns() + self._start

    def virtual_ns(self, tick: bool = True) -> int:
        with self._lock:
            if tick:
                self._virtual += DET_STEP_NS
            return self._virtual

    def count(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def now_ns(self) -> int:
        """The machine's 'now' without moving it (the det counter does not
        tick): what device events and jiffies are scheduled against."""
        return self.virtual_ns(tick=False) if self._deterministic else self.since_boot_ns()

    def machine_ns(self) -> int:
        """What the machine's hardware sees as 'now' (a det reading ticks)."""
        return self.virtual_ns() if self._deterministic else self.since_boot_ns()

    def set_now(self, t: int) -> None:
        """Move the machine's 'now' (:meth:`now_ns`) forward to ``t``; both
        counters move by the same amount.  Nothing if ``t`` is not later."""
        self.move(t - self.now_ns())
