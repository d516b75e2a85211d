"""Timers on the machine clock: what device models schedule (a DMA that
completes later, a watchdog that fires).  Due events run when the clock
moves past them, on the CPU thread.
"""

from __future__ import annotations

from typing import Callable

from ..trace.clock import TimeBase


class EventQueue:
    def __init__(self, time_base: TimeBase) -> None:
        self.time_base = time_base

    def after(self, delay_ns: int, fn: Callable[[], None]):
        """Run ``fn`` ``delay_ns`` from now; returns a handle with ``cancel()``."""
        raise NotImplementedError("device timers are not wired yet")
