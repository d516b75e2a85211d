"""The CPU core: the start-up calibration, page faults and debug traps
delivered to handlers the way kmmio uses them, the old_exception fix, and
the machine's thread."""

from __future__ import annotations

import threading

import pytest
import unicorn

from ftrace_mmio.machine.cpu import EFLAGS_TF, CalibrationError, calibrate
from ftrace_mmio.machine.machine import ModuleOops

from machine_util import driver, make_machine


def test_calibration_finds_unique_offsets():
    layout = calibrate()
    offsets = [layout.rip, layout.cr2, layout.error_code, layout.old_exception]
    assert len(set(offsets)) == 4
    assert all(0 < off < layout.size for off in offsets)


def test_calibration_refuses_another_unicorn(monkeypatch):
    calibrate.cache_clear()
    monkeypatch.setattr(unicorn, "__version__", "2.0.1")
    try:
        with pytest.raises(CalibrationError, match="unicorn 2.0.1 is installed"):
            calibrate()
    finally:
        monkeypatch.undo()
        calibrate.cache_clear()
    assert calibrate().size > 0


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    m = make_machine(tmp_path_factory)
    m.insmod(driver("pager"))
    yield m
    m.close()


class Tracer:
    """A miniature kmmio: arm a page (clear P); on the fault, disarm and
    single-step; on the trap, re-arm.  Records what the CPU reported."""

    def __init__(self, machine, page: int) -> None:
        self.m = machine
        self.cpu = machine.cpu
        self.page = page
        self.faults: list[tuple[int, int, int]] = []
        self.traps: list[int] = []
        self.pending = False

    def on_fault(self, cr2: int, err: int, rip: int) -> bool:
        if cr2 & ~0xFFF != self.page:
            return False
        self.faults.append((cr2, err, rip))
        self.m.mm.set_present(self.page, True)
        self.cpu.eflags = self.cpu.eflags | EFLAGS_TF
        self.pending = True
        return True

    def on_trap(self) -> bool:
        if not self.pending:
            return False
        self.pending = False
        self.traps.append(self.cpu.rip)
        self.m.mm.set_present(self.page, False)       # flushes the TLB
        self.cpu.eflags = self.cpu.eflags & ~EFLAGS_TF
        return True

    def __enter__(self):
        def setup():
            self.cpu.add_fault_handler(self.on_fault)
            self.cpu.add_debug_handler(self.on_trap)
            self.m.mm.set_present(self.page, False)
        self.m.run_on_cpu(setup)
        return self

    def __exit__(self, *exc):
        def teardown():
            self.cpu.remove_fault_handler(self.on_fault)
            self.cpu.remove_debug_handler(self.on_trap)
            self.m.mm.set_present(self.page, True)
        self.m.run_on_cpu(teardown)


def test_armed_page_faults_every_access_with_cr2_error_code_and_rip(machine):
    base = machine.call("pager", "cookie")
    machine.call("pager", "wr32", 0x10, 0x1234)
    machine.call("pager", "wr32", 0x14, 0x1)
    with Tracer(machine, base) as t:
        assert machine.call("pager", "rd32x3", 0x10) == 0x1235
        machine.call("pager", "wr32", 0x20, 7)
    # four faults in a row, each a real #PF (none became a double fault)
    assert [(cr2 - base, err) for cr2, err, _ in t.faults] == [(0x10, 0), (0x14, 0), (0x18, 0), (0x20, 2)]
    assert all(machine.symbolize(rip).startswith(("rd32x3+", "wr32+")) for _, _, rip in t.faults)
    # each trap comes exactly one instruction later
    assert len(t.traps) == 4
    assert all(trap > rip for trap, (_, _, rip) in zip(t.traps, t.faults))
    assert machine.call("pager", "rd32", 0x20) == 7


def test_other_pages_are_not_armed(machine):
    base = machine.call("pager", "cookie")
    with Tracer(machine, base) as t:
        machine.call("pager", "rd32", 0x1000)
    assert t.faults == []


def test_unclaimed_fault_is_an_oops(machine):
    base = machine.call("pager", "cookie")
    machine.run_on_cpu(machine.mm.set_present, base, False)
    try:
        with pytest.raises(ModuleOops, match=f"unable to handle page fault for address: {base + 4:016x}"):
            machine.call("pager", "rd32", 4)
    finally:
        machine.run_on_cpu(machine.mm.set_present, base, True)
    assert machine.call("pager", "rd32", 0x10) == 0x1234


def test_each_call_starts_with_clean_flags(machine):
    def set_tf():
        machine.cpu.eflags = machine.cpu.eflags | EFLAGS_TF
    # TF left set (say by an oops mid-step) is cleared by the call set-up
    machine.run_on_cpu(set_tf)
    assert machine.call("pager", "rd32", 0x10) == 0x1234


def test_unclaimed_debug_trap_is_an_oops(machine):
    base = machine.call("pager", "cookie")
    t = Tracer(machine, base)

    def setup():
        machine.cpu.add_fault_handler(t.on_fault)     # steps, but nobody takes the trap
        machine.mm.set_present(base, False)

    def teardown():
        machine.cpu.remove_fault_handler(t.on_fault)
        machine.mm.set_present(base, True)
    machine.run_on_cpu(setup)
    try:
        with pytest.raises(ModuleOops, match="unexpected debug trap at rd32\\+"):
            machine.call("pager", "rd32", 0x10)
    finally:
        machine.run_on_cpu(teardown)
    assert machine.call("pager", "rd32", 0x10) == 0x1234


def test_public_calls_from_many_threads_are_serialised(machine):
    results, errors = [], []

    def worker(k):
        try:
            machine.call("pager", "wr32", 0x100 + 4 * k, k)
            results.append(machine.call("pager", "rd32", 0x100 + 4 * k))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sorted(results) == list(range(8))


def test_cpu_thread_runs_submitted_work(machine):
    assert machine.run_on_cpu(threading.current_thread).name == "ftrace-mmio-cpu"


def test_closed_machine_refuses_work(tmp_path_factory):
    m = make_machine(tmp_path_factory)
    m.close()
    m.close()
    with pytest.raises(RuntimeError, match="shut down"):
        m.lsmod()


def test_eflags_reads_only_the_flags(machine):
    assert machine.run_on_cpu(lambda: machine.cpu.eflags) >> 32 == 0


def test_direct_map_translation(machine):
    va = machine.run_on_cpu(machine.mm.kmalloc, 64)
    assert machine.run_on_cpu(machine.mm.virt_to_phys, va) == va - 0xFFFF888000000000
    walked = machine.run_on_cpu(machine.mm.walk, va)
    assert walked[0] == va - 0xFFFF888000000000
    assert walked[1] & (1 << 63), "the direct map is not executable"
    machine.run_on_cpu(machine.mm.kfree, va)

