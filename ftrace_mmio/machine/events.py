"""Timers on the machine clock: what device models schedule (a DMA that
completes later, a factorial unit that finishes, a watchdog that fires),
and the kernel's own clock-driven chores (the jiffies tick, the soft-lockup
watchdog).

Due events run when the clock moves past them, on the CPU thread, in the
order of their due times (then of scheduling): on every delay, spin and idle
(``kernel/time.py``), at the per-access cost of a device access
(``iomem.py`` compares the clock with :attr:`TimeBase.due`, which this
queue keeps at its earliest due time), and when a run starts after the
machine sat idle.  While an event's callback runs, the clock reads its due
time.

Schedule and cancel on the CPU thread (device models and kernel code run
there); the queue takes no lock.

In deterministic mode the queue runs on the det counter, and only delays,
spins, idles and run starts run it (the access path never looks, so det
output stays what it was before events existed).
"""

from __future__ import annotations

import heapq
import itertools
from typing import Callable

from ..trace.clock import NEVER, TimeBase


class Event:
    """A handle on one scheduled callback."""

    __slots__ = ("due", "fn", "cancelled", "_queue")

    def __init__(self, due: int, fn: Callable[[], None], queue: "EventQueue") -> None:
        self.due = due
        self.fn = fn
        self.cancelled = False
        self._queue = queue

    def cancel(self) -> bool:
        """Forget the event; True if it had not run yet."""
        if self.cancelled or self.fn is None:
            return False
        self.cancelled = True
        self._queue._cancelled()
        return True

    @property
    def pending(self) -> bool:
        return not self.cancelled and self.fn is not None


class EventQueue:
    def __init__(self, time_base: TimeBase) -> None:
        self.time_base = time_base
        self._heap: list[tuple[int, int, Event]] = []
        self._seq = itertools.count()
        self._running = False
        #: A periodic chore run once whenever the clock reached ``tick_at``
        #: (however many periods it crossed): the kernel's jiffies update and
        #: soft-lockup check.  ``ticker(now)`` returns the next ``tick_at``.
        self.ticker: Callable[[int], int] | None = None
        self.tick_at = NEVER
        time_base.events = self
        self.rearm()

    # -- scheduling ------------------------------------------------------------------

    def after(self, delay_ns: int, fn: Callable[[], None]) -> Event:
        """Run ``fn`` ``delay_ns`` from now; returns a handle with ``cancel()``."""
        return self.at(self.time_base.now_ns() + max(0, int(delay_ns)), fn)

    def at(self, due_ns: int, fn: Callable[[], None]) -> Event:
        """Run ``fn`` when the clock (:meth:`TimeBase.now_ns`) reaches ``due_ns``."""
        ev = Event(int(due_ns), fn, self)
        heapq.heappush(self._heap, (ev.due, next(self._seq), ev))
        tb = self.time_base
        if ev.due < tb._events_due and not tb.deterministic:
            tb.set_events_due(ev.due)
        return ev

    def next_due(self) -> int | None:
        """The due time of the earliest pending event, or None."""
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def _cancelled(self) -> None:
        self.rearm()

    def rearm(self) -> None:
        """Tell the access path the earliest due time (TimeBase.set_events_due)."""
        due = self.next_due()
        due = self.tick_at if due is None else min(due, self.tick_at)
        tb = self.time_base
        tb.set_events_due(NEVER if tb.deterministic else due)

    def set_ticker(self, ticker: Callable[[int], int] | None) -> None:
        self.ticker = ticker
        self.tick_at = NEVER if ticker is None else ticker(self.time_base.now_ns())
        self.rearm()

    def _tick(self) -> None:
        ticker = self.ticker
        if ticker is not None:
            now = self.time_base.now_ns()
            if now >= self.tick_at:
                self.tick_at = ticker(now)

    # -- running -----------------------------------------------------------------------

    def advance(self, ns: int, stop: Callable[[], bool] | None = None) -> bool:
        """Move the clock forward by ``ns``, running due events on the way."""
        return self.advance_to(self.time_base.now_ns() + max(0, ns), stop)

    def advance_to(self, target: int, stop: Callable[[], bool] | None = None) -> bool:
        """Move the clock forward to ``target`` (never back), running every
        event due by then in order, with the clock at its due time.  With
        ``stop``, asked after each event: True leaves the clock at that
        event's time and returns True."""
        tb = self.time_base
        if self._running:
            # An event's callback moving the clock: no nested event runs.
            tb.set_now(target)
            return False
        self._running = True
        try:
            heap = self._heap
            while heap:
                due, _, ev = heap[0]
                if ev.cancelled:
                    heapq.heappop(heap)
                    continue
                if due > target:
                    break
                heapq.heappop(heap)
                tb.set_now(due)
                self._tick()
                fn, ev.fn = ev.fn, None
                fn()
                if stop is not None and stop():
                    return True
            tb.set_now(target)
            self._tick()
            return False
        finally:
            self._running = False
            self.rearm()

    def run_due(self) -> None:
        """Run what is due now (the access path, through
        TimeBase.access_due, when the clock passed the earliest due time)."""
        self.advance_to(self.time_base.now_ns())
