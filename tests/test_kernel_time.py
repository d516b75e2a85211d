"""The machine clock: jiffies and ktime loops end, delays and accesses show
in trace timestamps as the driver lived them, device events run on time, the
soft-lockup detector warns, the run budget stops (docs/kernel/time.md).

Real C (tests/drivers/time_loops.c) on the emulated CPU; no wall-clock
assertion anywhere except lower bounds of idle time.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ftrace_mmio.kernel.module import ModuleError
from ftrace_mmio.kernel.time import HZ, MMIO_READ_NS, NSEC_PER_JIFFY, TIME_READ_NS
from ftrace_mmio.machine.config import load_machine_file
from ftrace_mmio.machine.machine import Machine, ModuleOops
from ftrace_mmio.trace.clock import DET_STEP_NS, TimeBase

from machine_util import driver, last_seq, make_machine, new_lines
from mmiotrace_util import TESTMMIO_BAR0, events

ROOT = Path(__file__).resolve().parent.parent
LOOPS = driver("time_loops")


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    m = make_machine(tmp_path_factory)
    m.insmod(LOOPS)
    yield m
    m.close()


def call(m: Machine, fn: str, *args: int) -> int:
    return m.call("time_loops", fn, *args)


# -- loops end ---------------------------------------------------------------------------


def test_jiffies_loop_ends_by_its_timeout(machine):
    seq = last_seq(machine)
    spins = call(machine, "jiffies_wait", HZ // 10)
    line = next(t for t in new_lines(machine, seq) if "jiffies_wait" in t)
    assert f"{HZ // 10} jiffies passed" in line
    # Back-off: a few hundred cpu_relax() calls for 100 ms, not millions.
    assert 0 < spins < 2000


def test_jiffies_to_ktime_is_the_inverse_of_jiffies(machine):
    for _ in range(3):
        assert 0 < call(machine, "next_jiffy_in") <= NSEC_PER_JIFFY
        call(machine, "udelay_ns", 1234)


def test_ktime_loop_with_cpu_relax_ends_near_its_deadline(machine):
    took = call(machine, "ktime_wait", 1000)
    assert 1_000_000 <= took <= 1_150_000


def test_ktime_loop_without_cpu_relax_ends_too(machine):
    took = call(machine, "ktime_spin", 1000)
    assert 1_000_000 <= took <= 1_250_000


def test_a_second_loop_starts_with_small_steps(machine):
    # A short wait right after a long spin is not overshot by the long
    # spin's back-off.
    call(machine, "jiffies_wait", 10)
    took = call(machine, "ktime_wait", 100)
    assert 100_000 <= took <= 115_000


def test_udelay_moves_the_clock_by_its_length(machine):
    assert call(machine, "udelay_ns", 100) == 100_000 + TIME_READ_NS


def test_device_accesses_cost_their_model(machine):
    # 20000 reads at MMIO_READ_NS and a clock read: no wall time.
    assert call(machine, "mmio_loop", 20_000) == 20_000 * MMIO_READ_NS + TIME_READ_NS


def test_jiffies_tick_while_a_driver_polls_a_device(machine):
    # No cpu_relax(), no delay: only the reads' cost moves the clock, and
    # jiffies follow it.
    reads = call(machine, "mmio_jiffies", 3)
    per_jiffy = NSEC_PER_JIFFY // MMIO_READ_NS
    assert 2 * per_jiffy <= reads <= 3 * per_jiffy + 1


def test_idle_time_between_commands_follows_wall_time(machine):
    before = call(machine, "now_ns")
    time.sleep(0.2)
    after = call(machine, "now_ns")
    assert after - before >= 200_000_000


# -- device events --------------------------------------------------------------------------


def test_device_events_run_in_order_when_the_clock_passes_them(machine):
    ran: list[tuple[str, int]] = []
    tb = machine.time_base

    def schedule() -> None:
        ev = machine.events
        # One base: while the machine is idle, its clock follows wall time.
        start = tb.now_ns()
        ran.append(("start", start))
        ev.at(start + 30_000, lambda: ran.append(("b", tb.now_ns())))
        ev.at(start + 10_000, lambda: ran.append(("a", tb.now_ns())))
        ev.at(start + 20_000, lambda: ran.append(("x", tb.now_ns()))).cancel()

    machine.run_on_cpu(schedule)
    call(machine, "udelay_ns", 100)
    start = ran[0][1]
    assert [name for name, _ in ran] == ["start", "a", "b"]
    # Each ran with the clock at its own due time (catch-up at the run start
    # may have made them late, never early).
    assert ran[1][1] >= start + 10_000 and ran[2][1] >= start + 30_000
    assert ran[2][1] - ran[1][1] == 20_000


def test_a_device_event_runs_during_an_access_loop(machine):
    seen: list[int] = []
    machine.run_on_cpu(lambda: machine.events.after(5_000_000 + 50_000, lambda: seen.append(1)))
    # The catch-up at the run start may already pass a few ms of idle time,
    # so give the loop enough accesses to cross the event either way.
    call(machine, "mmio_loop", 10_000)
    assert seen == [1]


def test_idle_stops_at_the_next_device_event(machine):
    fired: list[int] = []

    def schedule() -> None:
        # Far enough ahead that the catch-up of idle wall time before the
        # call cannot reach it, however loaded the machine.
        machine.events.after(10_000_000_000, lambda: fired.append(machine.time_base.now_ns()))

    machine.run_on_cpu(schedule)
    took = call(machine, "idle_for", 60_000_000_000)
    assert fired
    # Stopped at the event (10 s ahead, minus the catch-up), not at the 60 s deadline.
    assert took <= 10_000_000_000


def test_idle_returns_early_when_an_event_makes_an_interrupt_pending(machine):
    word = machine.resolve("irq_pending_word")
    assert word is not None
    ran: list[str] = []

    def raise_irq() -> None:
        machine.mm.write_uint(word, 8, 1)        # what the interrupt controller does
        ran.append("irq")

    def schedule() -> None:
        start = machine.time_base.now_ns()
        machine.events.at(start + 10_000_000_000, raise_irq)
        machine.events.at(start + 10_001_000_000, lambda: ran.append("later"))

    machine.run_on_cpu(schedule)
    try:
        took = call(machine, "idle_for", 60_000_000_000)
        assert ran == ["irq"]
        assert took <= 10_000_000_000
        # Pending already: no sleep at all.
        assert call(machine, "idle_for", 5_000_000) == TIME_READ_NS
    finally:
        machine.run_on_cpu(lambda: machine.mm.write_uint(word, 8, 0))
    call(machine, "udelay_ns", 2000)
    assert ran == ["irq", "later"]


def test_idle_with_a_deadline_and_no_event_reaches_the_deadline(machine):
    took = call(machine, "idle_for", 7_000_000)
    assert took == 7_000_000


def test_idle_forever_with_nothing_to_wake_is_an_error_not_a_hang(machine):
    seq = last_seq(machine)
    with pytest.raises(ModuleOops, match="nothing to wake it"):
        call(machine, "idle_forever")
    assert any("blocked for more than 120 seconds" in t for t in new_lines(machine, seq))
    assert call(machine, "udelay_ns", 1) == 1000 + TIME_READ_NS


# -- the soft-lockup detector and the run budget ------------------------------------------------------


def test_soft_lockup_is_warned_once_and_the_driver_goes_on(machine):
    seq = last_seq(machine)
    spins = call(machine, "spin_seconds", 50)
    assert spins > 0
    logged = new_lines(machine, seq)
    warnings = [t for t in logged if "soft lockup" in t]
    assert len(warnings) == 1, logged
    assert re.fullmatch(r"watchdog: BUG: soft lockup - CPU#0 stuck for 2[0-4]s! \[call:1\]", warnings[0])
    assert any(re.fullmatch(r"RIP: 0010:spin_seconds\+0x[0-9a-f]+/0x[0-9a-f]+ \[time_loops\]", t) for t in logged)
    assert "Modules linked in: time_loops" in logged


def test_sleeping_is_not_a_soft_lockup(machine):
    seq = last_seq(machine)
    call(machine, "sleep_ms", 30_000)
    assert not any("soft lockup" in t for t in new_lines(machine, seq))


def test_run_budget_stops_a_driver_that_never_returns_and_the_machine_goes_on(tmp_path_factory):
    m = make_machine(tmp_path_factory, run_budget_s=0.5)
    try:
        seq = last_seq(m)
        with pytest.raises(ModuleOops, match=r"run budget exceeded: insmod did not return within 0\.5 s"):
            m.insmod(LOOPS, ["hang=1"])
        logged = new_lines(m, seq)
        assert re.match(r"ftrace-mmio: run budget exceeded: \[insmod:1\] ran 0\.5s \(wall clock\)", logged[0])
        assert not m.lsmod()
        m.insmod(LOOPS)
        assert m.call("time_loops", "udelay_ns", 10) == 10_000 + TIME_READ_NS
    finally:
        m.close()


def test_run_budget_from_a_machine_file(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text("[machine]\nrun_budget_s = 2.5\n")
    config = load_machine_file(str(path))
    assert config.run_budget_s == 2.5
    assert "run_budget_s = 2.5" in config.to_toml()
    path.write_text("[machine]\nrun_budget_s = 0\n")
    with pytest.raises(ValueError, match="run_budget_s"):
        load_machine_file(str(path))


def test_run_budget_on_the_command_line(tmp_path):
    from ftrace_mmio.cli import build_parser
    from ftrace_mmio.cli.fs import _daemon_argv
    from ftrace_mmio.cli.run import machine_config

    args = build_parser().parse_args(["mount", "--run-budget", "7.5", str(tmp_path)])
    assert machine_config(args).run_budget_s == 7.5
    argv = _daemon_argv(args, str(tmp_path), 3, "log")
    assert argv[argv.index("--run-budget") + 1] == "7.5"
    env = {**os.environ, "FTRACE_MMIO_CACHE": str(tmp_path / "modcache"), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "ftrace_mmio", "run", LOOPS, "hang=1", "--run-budget", "0.5",
                           "-o", str(tmp_path / "t.txt")],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 1
    assert "run budget exceeded: insmod did not return within 0.5 s" in proc.stderr


# -- the det clock ------------------------------------------------------------------------------


def test_det_clock_is_not_moved_by_device_accesses(tmp_path_factory):
    m = make_machine(tmp_path_factory, time_base=TimeBase(deterministic=True))
    try:
        m.insmod(LOOPS)
        # Two det readings one tick apart, whatever ran in between untraced.
        a = m.call("time_loops", "now_ns")
        # 1000 reads between its two clock readings: one det step.
        assert m.call("time_loops", "mmio_loop", 1000) == DET_STEP_NS
        b = m.call("time_loops", "now_ns")
        assert b - a == 3 * DET_STEP_NS
        # Loops end in det mode too.
        assert m.call("time_loops", "jiffies_wait", 5) > 0
    finally:
        m.close()


# -- trace timestamps ---------------------------------------------------------------------------------


def _trace(tmp_path: Path, *options: str, native: bool = True) -> list:
    out = tmp_path / f"trace-{len(list(tmp_path.iterdir()))}.txt"
    env = {**os.environ, "FTRACE_MMIO_CACHE": str(tmp_path.parent / "modcache"),
           "PYTHONPATH": str(ROOT)}
    if not native:
        env["FTRACE_MMIO_NATIVE"] = "0"
    proc = subprocess.run([sys.executable, "-m", "ftrace_mmio", "run", LOOPS, "gap_test=1",
                           f"mmio_address={TESTMMIO_BAR0:#x}", "--clock", "local", "-o", str(out), *options],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return [e for e in events(out.read_text()) if e.kind in ("R", "W")]


def _gaps_us(evs: list) -> list[int]:
    return [round((b.ts - a.ts) * 1e6) for a, b in zip(evs, evs[1:])]


@pytest.fixture(scope="module")
def traced_gaps(tmp_path_factory):
    base = tmp_path_factory.mktemp("traces")
    return {
        "faithful": _gaps_us(_trace(base)),
        "faithful again": _gaps_us(_trace(base)),
        "python": _gaps_us(_trace(base, native=False)),
        "fast": _gaps_us(_trace(base, "--engine", "fast")),
    }


def test_udelay_between_two_accesses_reads_as_its_length_in_the_trace(traced_gaps):
    gaps = traced_gaps["faithful"]
    # writel(1); udelay(100); writel(2); readl; writel; writel; readl; mdelay(2); readl
    assert len(gaps) == 6
    assert 90 <= gaps[0] <= 110
    assert 1800 <= gaps[5] <= 2200


def test_straight_line_code_between_accesses_reads_as_microseconds(traced_gaps):
    for gap in traced_gaps["faithful"][1:5]:
        assert 0 <= gap <= 5


def test_the_same_driver_gives_the_same_gaps_on_every_run_and_engine(traced_gaps):
    # Equal to the nanosecond; the trace prints microseconds, and where a
    # run starts within its microsecond moves the rounding by one.
    first = traced_gaps["faithful"]
    for name, gaps in traced_gaps.items():
        assert len(gaps) == len(first), name
        assert all(abs(a - b) <= 1 for a, b in zip(gaps, first)), (name, gaps, first)
