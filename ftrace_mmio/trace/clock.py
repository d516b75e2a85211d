"""Trace clocks, and the time base a machine shares with its trace array.

The kernel's ``local`` clock is sched_clock: nanoseconds since boot. Ours is
nanoseconds since the machine started, plus the time drivers spent in
``udelay``/``msleep`` (which advance the clock instead of sleeping, so a
driver that waits 100 ms does not cost 100 ms of wall time).

``det`` is ours: a deterministic clock for reproducible output. It reads a
virtual nanosecond counter that advances by exactly ``DET_STEP_NS`` on every
reading and by the requested amount on every delay, so the same driver run
gives the same timestamps byte for byte.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

DET_STEP_NS = 1000


class TimeBase:
    """Time shared by one machine and its trace array.

    ``deterministic`` switches the machine's view of time (device timers,
    dmesg stamps) to the virtual counter; the trace array sets it when the
    ``det`` trace clock is selected.
    """

    def __init__(self, deterministic: bool = False) -> None:
        self._start = time.monotonic_ns()
        self._skew = 0
        self._virtual = 0
        self._counter = 0
        self._lock = threading.Lock()
        self.deterministic = deterministic
        #: Called before a delay moves the clocks: a producer holding events
        #: stamped in the past (native.py) hands them over while their
        #: conversion to trace time still holds.
        self.before_advance: list[Callable[[], None]] = []

    def advance(self, ns: int) -> None:
        """A delay in driver code: move every clock forward by ``ns``."""
        for fn in self.before_advance:
            fn()
        with self._lock:
            self._skew += ns
            self._virtual += ns

    def since_boot_ns(self) -> int:
        return time.monotonic_ns() - self._start + self._skew

    def boot_offset_ns(self) -> int:
        """``since_boot_ns() - time.monotonic_ns()``, exactly."""
        return self._skew - self._start

    def skew_ns(self) -> int:
        """``monotonic_ns() - time.monotonic_ns()``: the delays so far."""
        return self._skew

    def monotonic_ns(self) -> int:
        return time.monotonic_ns() + self._skew

    def virtual_ns(self, tick: bool = True) -> int:
        with self._lock:
            if tick:
                self._virtual += DET_STEP_NS
            return self._virtual

    def count(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def machine_ns(self) -> int:
        """What the machine's hardware sees as 'now'."""
        return self.virtual_ns() if self.deterministic else self.since_boot_ns()
