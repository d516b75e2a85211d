"""The faithful engine's C path (mmiotrace/native.py, kmmio_step.c).

The same #PF -> single step -> #DB cycle as the Python path, handled in a
C interrupt hook for plain movs at decoded RIPs, with records handed to the
ring buffer in batches. What must hold: the trace is the Python path's, byte
for byte (deterministic clock: every bundled driver and the instruction-class
driver, both decoders); the C path really takes the accesses; timestamps
under a real clock are in order, respect markers and delays; nothing is lost
or kept back from a reader; an oops in the middle of a C step leaves the
page armed and the CPU usable. The fast engine hands its records over in
batches the same way (tracer.trace_rw_later), so the batching tests run
under both engines.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ftrace_mmio.mmiotrace import native
from ftrace_mmio.mmiotrace.mmio_mod import MmiotraceParams
from mmiotrace_util import (
    DRIVERS,
    DRIVERS_UNDER_TEST,
    TESTMMIO_BAR0,
    Traced,
    check_grammar,
    drain,
    events,
    first_difference,
    rw,
    trace_dump,
)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "modcache"


def test_the_helper_builds_and_unicorn_can_drop_one_page() -> None:
    lib = native.library()
    assert lib.ks_layout() & 0xFFFF == ctypes.sizeof(native.Ks)
    # unicorn 2.1.4 (pinned) exports helper_invlpg and the start-up check proves it works.
    assert native.invlpg_address() is not None


@pytest.mark.parametrize("decoder", ["full", "pf_in"])
@pytest.mark.parametrize("driver, args", DRIVERS_UNDER_TEST, ids=lambda v: str(v).rsplit("/", 1)[-1])
def test_c_path_output_equals_the_python_path(cache, driver: str, args: list[str], decoder: str) -> None:
    in_c = trace_dump(cache, driver, args, decoder=decoder)
    in_python = trace_dump(cache, driver, args, decoder=decoder, native=False)
    assert any(line.startswith(("R ", "W ")) for line in check_grammar(in_c.decode()))
    if in_c != in_python:
        pytest.fail(first_difference(in_python, in_c, ("Python", "C")))


def _local(cache, engine: str):
    t = Traced(cache, MmiotraceParams(engine=engine), clock="local")
    t.machine.insmod(str(DRIVERS / "mmio_maps.c"))
    t.enable()
    return t


@pytest.fixture(params=["faithful", "fast"])
def local(cache, request):
    """mmio_maps loaded, mmiotrace on with the ``local`` clock (batched hand-over);
    both engines: the fast one batches its records the same way (tracer.trace_rw_later)."""
    t = _local(cache, request.param)
    yield t
    t.close()


@pytest.fixture
def faithful(cache):
    t = _local(cache, "faithful")
    yield t
    t.close()


def test_accesses_after_the_first_at_each_rip_are_stepped_in_c(local: Traced) -> None:
    nat = local.tracer.mmio.native
    if local.tracer.params.engine == "fast":
        assert nat is None
        assert local.tracer._later_now is False       # it batches its records too
    else:
        assert nat is not None and nat.per_page_flush
    pipe = local.open_pipe()
    cookie = local.call("map", TESTMMIO_BAR0, 0x1000)
    before = nat.stepped if nat else 0
    assert local.call("burst", cookie, 500) == sum(range(500))
    local.call("unmap", cookie)
    evs = events(drain(pipe))
    pipe.close()
    assert [e.kind for e in evs] == ["MAP"] + ["W"] * 500 + ["R"] * 500 + ["UNMAP"]
    assert rw(evs)[499] == ("W", 4, TESTMMIO_BAR0 + 4 * 499, 499)
    assert rw(evs)[999] == ("R", 4, TESTMMIO_BAR0 + 4 * 499, 499)
    if nat is not None:
        # One writel and one readl site: the first of each goes through Python (decode).
        assert nat.stepped - before == 998
        assert not nat.is_active() and not local.tracer.mmio.kmmio.ctx.active
    stamps = [e.ts for e in evs]
    assert stamps == sorted(stamps)


def test_a_marker_between_two_runs_lands_between_their_accesses(local: Traced) -> None:
    pipe = local.open_pipe()
    cookie = local.call("map", TESTMMIO_BAR0, 0x1000)
    local.call("burst", cookie, 50)
    local.array.write_marker(b"between")
    local.call("burst", cookie, 50)
    text = drain(pipe)
    pipe.close()
    lines = [line for line in text.splitlines() if line[:1] in ("R", "W", "M")]
    mark = next(i for i, line in enumerate(lines) if "between" in line)
    assert sum(line[0] in "RW" for line in lines[:mark]) == 100
    assert sum(line[0] in "RW" for line in lines[mark:]) == 100
    stamps = [e.ts for e in events(text)]
    assert stamps == sorted(stamps)


def test_a_delay_between_two_accesses_shows_in_their_timestamps(local: Traced) -> None:
    pipe = local.open_pipe()
    cookie = local.call("map", TESTMMIO_BAR0, 0x1000)
    local.call("wr_delay_wr", cookie, 1000)          # first time: decoded in Python
    drain(pipe)
    nat = local.tracer.mmio.native
    before = nat.stepped if nat else 0
    local.call("wr_delay_wr", cookie, 250_000)       # both writes in C, 250 ms apart in trace time
    if nat is not None:
        assert nat.stepped - before == 2
    w1, w2 = [e for e in events(drain(pipe)) if e.kind == "W"]
    pipe.close()
    assert (w1.value, w2.value) == (1, 2)
    # The machine clock: the delay plus the second write's cost, nothing else.
    assert 250_000 <= round((w2.ts - w1.ts) * 1e6) <= 250_001


def test_a_waiting_reader_gets_records_while_the_driver_still_runs(local: Traced) -> None:
    cookie = local.call("map", TESTMMIO_BAR0, 0x1000)
    flag_va = local.call("release_flag")
    flag = ctypes.c_uint32.from_address(local.machine.cpu.ram_host + local.machine.run_on_cpu(local.machine.mm.walk, flag_va)[0])
    pipe = local.open_pipe()
    drain(pipe)
    result: list[int] = []
    runner = threading.Thread(target=lambda: result.append(local.call("burst_then_wait", cookie, 20)))
    runner.start()
    try:
        got = ""
        while sum(line.startswith("W ") for line in got.splitlines()) < 20:
            chunk = pipe.read(65536)       # blocks: woken by the poll of the C ring
            assert chunk, "trace_pipe ended"
            got += chunk.decode()
        # The driver is still spinning on the flag: the records came out of the
        # C ring on the reader's own poll, not at the end of the run.
        assert runner.is_alive()
    finally:
        flag.value = 1
        runner.join(30)
        pipe.close()
    assert not runner.is_alive() and result and result[0] > 0
    assert [e.value for e in events(got) if e.kind == "W"] == list(range(20))


def test_records_taken_before_tracing_on_goes_off_are_kept(local: Traced) -> None:
    cookie = local.call("map", TESTMMIO_BAR0, 0x1000)
    local.call("burst", cookie, 100)
    local.array.set_tracing_on(False)
    assert local.tracer.dropped_count == 0
    assert local.array.buffer.entries() == 1 + 200        # MAP and every access
    local.array.set_tracing_on(True)


@pytest.mark.parametrize("engine", ["faithful", "fast"])
def test_a_full_buffer_without_overwrite_counts_every_refused_record(cache, engine: str) -> None:
    t = Traced(cache, MmiotraceParams(engine=engine), clock="local", buffer_size_kb=4)
    try:
        t.machine.insmod(str(DRIVERS / "mmio_maps.c"))
        t.enable()
        t.array.set_option("overwrite", False)
        cookie = t.call("map", TESTMMIO_BAR0, 0x1000)
        t.call("burst", cookie, 3000)
        stored = t.array.buffer.entries()
        assert stored < 6000
        assert stored + t.tracer.dropped_count == 1 + 6000
    finally:
        t.close()


def test_an_oops_in_the_middle_of_a_c_step_leaves_the_machine_tracing(faithful: Traced) -> None:
    local = faithful
    cookie = local.call("map", TESTMMIO_BAR0, 0x1000)
    local.call("wr32", cookie, 1)                        # decoded: the next one is stepped in C
    region = local.machine.iomem.find(TESTMMIO_BAR0)[1]

    def broken(offset: int, width: int, value: int) -> None:
        raise RuntimeError("model bug")

    region.write = broken
    try:
        with pytest.raises(OSError, match="device model failed"):
            local.call("wr32", cookie, 2)
    finally:
        del region.write
    nat = local.tracer.mmio.native
    assert not nat.is_active()
    cpu = local.machine.cpu
    assert not cpu.eflags & (1 << 8)                     # no trap flag left behind
    page = local.tracer.mmio.kmmio.pages[cookie & ~0xFFF]
    assert page.armed and local.machine.run_on_cpu(local.machine.mm.walk, cookie) is None
    pipe = local.open_pipe()
    drain(pipe)
    before = nat.stepped
    local.call("wr32", cookie, 3)
    assert nat.stepped == before + 1
    assert [e.value for e in events(drain(pipe)) if e.kind == "W"] == [3]
    pipe.close()


def test_batched_records_equal_the_immediate_ones(cache) -> None:
    """Under a real clock both engines batch; without timestamps the lines are
    those of a fully synchronous run (the Python path, deterministic clock)."""
    def lines(engine: str, clock: str, native: bool = True) -> list[str]:
        t = Traced(cache, MmiotraceParams(engine=engine, native=native), clock=clock)
        try:
            t.machine.insmod(str(DRIVERS / "mmio_maps.c"))
            t.enable()
            pipe = t.open_pipe()
            cookie = t.call("map", TESTMMIO_BAR0, 0x2000)
            t.call("burst", cookie, 3000)                  # more than one batch
            t.call("mark", 7)
            t.call("burst", cookie + 0x1000, 10)
            t.call("unmap", cookie)
            text = drain(pipe)
            pipe.close()
        finally:
            t.close()
        out = []
        for line in check_grammar(text):
            parts = line.split(" ")
            if parts[0] in ("R", "W"):
                del parts[2]
            elif parts[0] in ("MAP", "UNMAP", "MARK"):
                del parts[1]
            out.append(" ".join(parts))
        return out

    reference = lines("faithful", "det", native=False)
    assert sum(line.startswith("W ") for line in reference) == 3010
    assert any(line.startswith("MARK mark 7") for line in reference)
    assert lines("faithful", "local") == reference
    assert lines("fast", "local") == reference


def test_without_the_helper_python_steps_everything(cache) -> None:
    t = Traced(cache, MmiotraceParams(native=False), clock="local")
    try:
        t.machine.insmod(str(DRIVERS / "mmio_maps.c"))
        t.enable()
        assert t.tracer.mmio.native is None
        assert t.array.buffer.feeder is None
        cookie = t.call("map", TESTMMIO_BAR0, 0x1000)
        assert t.call("burst", cookie, 10) == sum(range(10))
        assert t.array.buffer.entries() == 21
    finally:
        t.close()


def test_without_a_helper_the_log_says_python_steps(tmp_path) -> None:
    """FTRACE_MMIO_NATIVE=0 (read once per process, like a missing gcc): the
    Python path traces, and enabling mmiotrace says so in the kernel log."""
    script = f"""
import sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from pathlib import Path
from mmiotrace_util import DRIVERS, TESTMMIO_BAR0, Traced
t = Traced(Path({str(tmp_path)!r}), clock="local")
t.machine.insmod(str(DRIVERS / "mmio_maps.c"))
t.enable()
cookie = t.call("map", TESTMMIO_BAR0, 0x1000)
t.call("burst", cookie, 10)
print(t.tracer.mmio.native is None, t.array.buffer.entries())
print([line for line in t.dmesg() if "stepping in Python" in line])
t.close()
"""
    env = {**os.environ, "FTRACE_MMIO_NATIVE": "0"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    assert first == "True 21"
    assert "mmiotrace: stepping in Python (FTRACE_MMIO_NATIVE=0)." in second
