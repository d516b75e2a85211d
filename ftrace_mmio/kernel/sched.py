"""kernel/sched: what the guest scheduler (core/sched.c, timer.c,
workqueue.c) needs from the machine besides the time hypercalls.

- ``__sched_now_ns``: the machine clock as the scheduler compares deadlines
  with it.  Not ``ktime_get``: a reading of the ``det`` clock ticks it, and
  a sleep must not move the clock by anything but its own length.
- At module unload, timers, hrtimers and work items the module left queued
  are taken off their lists (core ``sched_module_gone``): they would run
  freed code, or their list nodes would be freed memory.  The kernel would
  crash later; we say so in dmesg and go on.
"""

from __future__ import annotations

from typing import Any

from .api import Subsystem, export

_KINDS = {1: "timer", 2: "hrtimer", 3: "delayed work", 4: "work", 5: "RCU callback"}
_MAX_REPORTED = 64
# struct task_struct (linux/sched.h): __state, flags, pid, tgid, comm[16]
TASK_COMM_OFFSET = 16
TASK_COMM_LEN = 16


class Sched(Subsystem):
    name = "sched"

    @export("__sched_now_ns")
    def now_ns(self) -> int:
        tb = self.machine.time_base
        now = getattr(tb, "now_ns", None)
        if now is not None:
            return now()
        return tb.virtual_ns(tick=False) if tb.deterministic else tb.since_boot_ns()

    def __init__(self, api) -> None:
        super().__init__(api)
        self._comm_va: int | None = None
        self._comm = ""

    def boot(self) -> None:
        self.cpu.add_oops_handler(self._abandoned)
        task = self.machine.resolve("sched_process_task")
        self._comm_va = None if task is None else task + TASK_COMM_OFFSET
        self._comm = "insmod"

    def task_begin(self, comm: str) -> None:
        """A top-level call starts: the process is named after the command
        (``kworker/*`` runs of deferred work keep the last one: their items
        run as kworker tasks of their own)."""
        if self._comm_va is None or comm == self._comm or comm.startswith("kworker"):
            return
        self._comm = comm
        raw = comm.encode()[:TASK_COMM_LEN - 1]
        self.mm.write(self._comm_va, raw + bytes(TASK_COMM_LEN - len(raw)))

    def _abandoned(self, stop: Any) -> None:
        """A run ended in an oops: whatever was running on the stack (a work
        item, a timer callback, a sleep) is gone.  The kernel would kill the
        task (or panic in a softirq); here the scheduler state goes back to
        "the process, nothing running" so later timers and work still run."""
        resolve = self.machine.resolve
        task = resolve("sched_process_task")
        if task is None:
            return
        mm = self.mm
        mm.write_uint(resolve("__sched_current"), 8, task)
        mm.write_uint(task, 4, 0)                           # __state = TASK_RUNNING
        for name, size in (("wq_depth", 4), ("timer_in_run", 4), ("timer_running", 8),
                           ("hrtimer_running", 8)):
            va = resolve(name)
            if va is not None:
                mm.write_uint(va, size, 0)

    def module_unloaded(self, module: Any) -> None:
        va = self.machine.resolve("sched_module_gone")
        if va is None or not module.size:
            return
        out = self.mm.kmalloc(16 * _MAX_REPORTED)
        if not out:
            return
        log = self.machine.log.log
        try:
            n = self.machine._call(va, (module.base, module.base + module.size, out, _MAX_REPORTED),
                                   None, "rmmod") & 0xFFFF_FFFF
            for i in range(min(n, _MAX_REPORTED)):
                kind = self.mm.read_uint(out + 16 * i, 8)
                fn = self.mm.read_uint(out + 16 * i + 8, 8)
                hit = module.symbolize(fn) if module.contains(fn) else None
                name = f"{hit[0]}{f'+{hit[1]:#x}' if hit[1] else ''} [{module.name}]" if hit else f"{fn:#x}"
                log(4, f"{module.name}: {_KINDS.get(kind, 'callback')} {name} still pending "
                       "at unload; dropped (the kernel would run freed code)")
        except Exception as exc:  # noqa: BLE001 - the oops is in dmesg; the unload goes on
            log(4, f"{module.name}: dropping its timers and work failed: {exc}")
        finally:
            self.mm.kfree(out)
