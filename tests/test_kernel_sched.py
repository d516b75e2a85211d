"""Sleeping, timers, work, completions and wait queues (kernel/core/sched.c,
timer.c, workqueue.c, completion.c, wait.c), driven by a compiled driver
(tests/drivers/sched_basic.c) on the emulator.

The machine runs on the deterministic clock, so machine times are exact
apart from the 1 us every clock reading adds; the bounds below allow for
jiffy granularity (4 ms at HZ 250) and those readings, nothing else.
"""

from __future__ import annotations

import re

import pytest

from ftrace_mmio.machine.machine import ModuleOops
from ftrace_mmio.trace.clock import TimeBase

from machine_util import driver, last_seq, make_machine, new_lines

JIFFY_US = 4000


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    m = make_machine(tmp_path_factory, time_base=TimeBase(deterministic=True))
    seq = last_seq(m)
    m.insmod(driver("sched_basic"))
    m.init_lines = new_lines(m, seq)
    yield m
    m.close()


def call(machine, fn: str) -> list[str]:
    seq = last_seq(machine)
    assert machine.call("sched_basic", fn) == 0
    return new_lines(machine, seq)


def grab(lines: list[str], pattern: str) -> tuple[int, ...]:
    """The integers of the one line matching ``pattern`` (a regex with groups)."""
    for line in lines:
        m = re.fullmatch(pattern, line)
        if m:
            return tuple(int(g) for g in m.groups())
    raise AssertionError(f"no line matches {pattern!r} in:\n" + "\n".join(lines))


def test_work_queued_in_init_runs_after_init_returns(machine):
    lines = machine.init_lines
    assert lines[:2] == ["init: returns, work ran 0 pending 1 as insmod",
                         "init work: ran as kworker/0:1"]
    assert call(machine, "t_init_work_ran") == ["init work: ran 1"]


def test_timer_fires_during_msleep_and_not_before(machine):
    lines = call(machine, "t_timer_fires_during_msleep")
    pending, before, after, at, softirq, task, slept = grab(
        lines, r"timer: pending (\d) before (\d) after (\d) at (\d+) us softirq (\d) task (\d) "
               r"slept (\d+) us")
    assert (pending, before, after) == (0, 0, 1)       # not during the 5 ms udelay; once
    assert 20000 - JIFFY_US < at <= 20000 + 10         # 5 jiffies after a jiffy boundary
    assert (softirq, task) == (1, 0)                   # a timer runs in softirq context
    assert 55000 <= slept <= 55000 + 10                # udelay(5000) + msleep(50), exactly


def test_del_timer_sync_stops_it(machine):
    assert call(machine, "t_del_timer_sync") == ["del_timer_sync: was 1 again 0 fired 0 pending 0"]


def test_busy_loop_on_cpu_relax_sees_its_timer_fire(machine):
    at, softirq, looped = grab(call(machine, "t_spin_on_timer"),
                               r"spin on timer: fired at (\d+) us softirq (\d), looped (\d)")
    assert (softirq, looped) == (1, 1)
    assert 8000 - JIFFY_US < at <= 8000 + 100          # spin steps may overshoot a little


def test_hrtimer_fires_at_its_nanosecond_and_restarts(machine):
    fired, at, hardirq, active = grab(call(machine, "t_hrtimer"),
                                      r"hrtimer: fired (\d) last at (\d+) us hardirq (\d) active (\d)")
    assert (fired, hardirq, active) == (3, 1, 0)
    assert 7000 <= at <= 7010                          # 3 ms, then twice 2 ms later


def test_work_runs_during_msleep_as_a_kworker(machine):
    assert call(machine, "t_work_during_msleep") == [
        "work: ran as kworker/0:1 task 1 current_work 1",
        "work during msleep: before 0 after 1 pending 0",
    ]


def test_flush_work_and_cancel_work_sync(machine):
    lines = call(machine, "t_flush_cancel")
    assert lines[-1] == "flush/cancel: queue 1 0 flush 1 ran 1 flush again 0 cancel 1 ran 1"
    assert lines.count("work: ran as kworker/0:1 task 1 current_work 1") == 1


def test_delayed_work_runs_at_its_time(machine):
    lines = call(machine, "t_delayed_work")
    pending, ran, at = grab(lines, r"delayed work: pending at 20ms (\d) ran (\d) at (\d+) us")
    assert (pending, ran) == (1, 1)
    assert 40000 - JIFFY_US < at <= 40000 + 10
    assert "delayed work: cancel 1" in lines
    assert "delayed work: after cancel ran 0" in lines
    assert "delayed work: mod 1" in lines
    flushed, ran, at = grab(lines, r"delayed work: flush (\d) ran (\d) at (\d+) us")
    assert (flushed, ran) == (1, 1) and at < 100      # flush runs it now, not in 2 s


def test_sleeping_work_lets_other_work_run_on_top(machine):
    lines = call(machine, "t_nested_work")
    assert len(lines) == 2
    assert re.fullmatch(r"workqueue: flush_work\(nest_a_fn.*\) from kworker/0:2: the work is running "
                        r"below this context; on one stack it cannot finish first, not waiting", lines[0])
    assert lines[1] == "nested: a:kworker/0:1 b:kworker/0:2 flush_a:0 a:kworker/0:1; call"


def test_ordered_workqueue_runs_one_item_at_a_time(machine):
    # Item a sleeps; b may not start meanwhile although the sleep runs work.
    assert call(machine, "t_workqueue") == ["ordered: 1 10 2 20 n 4"]


def test_work_requeueing_itself_does_not_stop_the_clock(machine):
    slept, more = grab(call(machine, "t_requeue"), r"requeue: slept (\d+) us runs>1 (\d)")
    assert more == 1
    assert 3000 <= slept <= 3010


def test_completion_from_a_timer_and_timeouts(machine):
    lines = call(machine, "t_completion")
    left, woke, done = grab(lines, r"completion: left (\d+) of 25 jiffies, woke at (\d+) us, done (\d)")
    assert done == 0                                   # the wait consumed it
    assert 12000 - JIFFY_US < woke <= 12000 + 10
    assert 25 - 3 - 1 <= left <= 25 - 3 + 1
    timeout, after = grab(lines, r"completion: timeout returns (\d+) after (\d+) us")
    assert timeout == 0 and 20000 - JIFFY_US < after <= 20000 + 10
    assert "completion: try 1 1 0" in lines
    assert "completion: after complete_all and reinit done 0" in lines


def test_wait_event_timeout(machine):
    lines = call(machine, "t_wait_event")
    ret, after = grab(lines, r"wait_event_timeout: timed out (-?\d+) after (\d+) us")
    assert ret == 0 and 20000 - JIFFY_US < after <= 20000 + 10
    left, at, active = grab(lines, r"wait_event_timeout: woken (\d+) left of 10, at (\d+) us, active (\d)")
    assert left == 10 - 2 and active == 0              # woken 2 jiffies in
    assert 8000 - JIFFY_US < at <= 8000 + 10
    assert "wait_event_interruptible_timeout: already true 5" in lines
    assert "wait_event: flag 1 interruptible 0" in lines


def test_schedule_timeout_and_wake_up_process(machine):
    lines = call(machine, "t_schedule_timeout")
    left, after = grab(lines, r"schedule_timeout: left (-?\d+) after (\d+) us")
    assert left == 0 and 20000 - JIFFY_US < after <= 20000 + 10
    assert "schedule_timeout: woken with 22 left, state 0" in lines
    assert "schedule_timeout: running 5" in lines


def test_a_crash_in_work_or_a_timer_leaves_the_scheduler_working(machine):
    seq = last_seq(machine)
    assert machine.call("sched_basic", "t_crash_in_work") == 0   # queued; the crash is the kworker's
    lines = new_lines(machine, seq)
    assert lines[0] == "crash work: about to crash as kworker/0:1"
    assert any(line.startswith("BUG: kernel NULL pointer dereference") for line in lines), lines
    assert call(machine, "t_whoami") == ["whoami: call pid 1 state 0"]
    with pytest.raises(ModuleOops):
        machine.call("sched_basic", "t_crash_in_timer")
    assert call(machine, "t_whoami") == ["whoami: call pid 1 state 0"]
    test_timer_fires_during_msleep_and_not_before(machine)
    test_work_runs_during_msleep_as_a_kworker(machine)


def test_a_wait_nothing_can_end_is_a_hung_task(machine):
    seq = last_seq(machine)
    with pytest.raises(ModuleOops):
        machine.call("sched_basic", "t_hung")
    assert "INFO: task call:1 blocked for more than 120 seconds." in new_lines(machine, seq)
    assert call(machine, "t_whoami") == ["whoami: call pid 1 state 0"]


def test_the_deferred_count_is_back_to_zero(machine):
    # The machine skips sched_run_pending() while this is 0: it must count
    # every timer, hrtimer and work item in and out (the tests above ran
    # all of them to completion or cancelled them).
    va = machine.resolve("sched_deferred_items")
    assert int.from_bytes(machine.read_virt(va, 8), "little") == 0


def test_rmmod_drops_a_pending_timer_with_a_warning(tmp_path_factory):
    m = make_machine(tmp_path_factory, time_base=TimeBase(deterministic=True))
    try:
        m.insmod(driver("sched_basic"))
        assert m.call("sched_basic", "t_leave_timer_pending") == 0
        seq = last_seq(m)
        m.rmmod("sched_basic")
        assert new_lines(m, seq) == [
            "sched_basic: timer tmr_fn [sched_basic] still pending at unload; dropped "
            "(the kernel would run freed code)"]
        m.insmod(driver("sched_basic"))                # the timer list is sound afterwards
        assert m.call("sched_basic", "t_del_timer_sync") == 0
    finally:
        m.close()


# ---- locks, atomics, bitops, lists (tests/drivers/sched_sync.c) ------------------------------

@pytest.fixture(scope="module")
def sync(tmp_path_factory):
    m = make_machine(tmp_path_factory, time_base=TimeBase(deterministic=True))
    m.insmod(driver("sched_sync"))
    yield m
    m.close()


def sync_call(m, fn: str) -> list[str]:
    seq = last_seq(m)
    assert m.call("sched_sync", fn) == 0
    return new_lines(m, seq)


def test_spinlocks_disable_preemption_interrupts_and_bottom_halves(sync):
    assert sync_call(sync, "t_locks") == [
        "spin_lock: preempt_count 1 locked 1 after 0 trylock 1",
        "spin_lock_irqsave: irqs off 1, restored on 1",
        "spin_lock_bh: in_softirq 1",
        "mutex: locked 1 trylock 0",
        "mutex: unlocked 1 trylock 1",
    ]


def test_lock_misuse_is_reported_as_the_debug_kernel_does(sync):
    lines = sync_call(sync, "t_lock_bugs")
    assert lines[0] == "BUG: spinlock recursion on CPU#0, call/1"
    assert re.fullmatch(r" lock: ffffffff[0-9a-f]{8}, caller: t_lock_bugs\+0x[0-9a-f]+/0x[0-9a-f]+ "
                        r"\[sched_sync\]", lines[1])
    assert lines[2].startswith("BUG: sleeping function called from invalid context at ")
    assert "BUG: scheduling while atomic: call/1/0x00000001" in lines


def test_contended_mutex_is_reported_and_taken_nested(sync):
    lines = sync_call(sync, "t_mutex_contended")
    assert re.fullmatch(r"WARNING: mutex ffffffff[0-9a-f]{8} held by call/1, wanted by kworker/0:1/20 "
                        r"at mtx_work_fn\+0x[0-9a-f]+/0x[0-9a-f]+ \[sched_sync\]: cannot block on one "
                        r"stack, taken nested", lines[0])
    assert lines[1:] == ["mutex contended: work ran 1 still locked 1", "mutex contended: unlocked 1"]


def test_scope_guards(sync):
    assert sync_call(sync, "t_guards") == [
        "guards: mutex 1 after 0 irqsave 1 after 1 once 1 try 1/2 unlocked 1"]


def test_rcu_callbacks_wait_for_readers(sync):
    assert sync_call(sync, "t_rcu") == ["rcu: sum 7 before 0 in reader 0 after 2 freed 1"]


def test_atomics(sync):
    assert sync_call(sync, "t_atomics") == [
        "atomic: 10 0 9 100 1 now 0",
        f"atomic64: {(1 << 40) + 6} inc_not_zero 1",
        "atomic_long: inc_and_test 1 fetch_add_unless 0 now 0",
        "xchg 3 cmpxchg 7 9 x 9",
    ]


def test_bitops(sync):
    assert sync_call(sync, "t_bitops") == [
        "bitops: 1 1 0 sum 198 first 5 next 64 zero 0 last 129",
        "bitops: ffs 5 fls 7 __ffs 4 __fls 6 ffz 8 hweight 8 64 fls64 41",
    ]


def test_lists_and_kref(sync):
    assert sync_call(sync, "t_lists") == ["list: 31024 ->3401 count 4 first 1 last 3 empty 0"]
    assert sync_call(sync, "t_kref") == ["kref: put 0 1 released 1 read 0"]
