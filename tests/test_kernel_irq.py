"""Interrupts from device to handler: INTx, MSI, MSI-X on the emulated CPU.

A test device (tests/irqdev_model.py) raises an interrupt when its RAISE
register is written; the test driver (tests/drivers/irq_test.c) requests it
and its handler reads STATUS and writes ACK.  Checked: where handlers run
(right after the raising access, in hardirq context), masking
(local_irq_save, spin_lock_irqsave, disable_irq), shared lines, IRQ_NONE
accounting and the "nobody cared" detector, threaded handlers and oneshot,
free_irq and rmmod, the hardware side (INTX_DISABLE, status bit, MSI
capability), and the /proc/interrupts-like command.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ftrace_mmio.machine.machine import Machine
from ftrace_mmio.machine.ops import interrupts_data, machine_handlers
from ftrace_mmio.machine.pci import PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, PCI_STATUS, default_bus
from ftrace_mmio.kernel.module import ModuleError
from ftrace_mmio.mmiotrace.mmio_mod import MmiotraceParams
from ftrace_mmio.mmiotrace.tracer import attach
from ftrace_mmio.trace.array import TraceArray
from ftrace_mmio.trace.clock import TimeBase

sys.path.insert(0, str(Path(__file__).resolve().parent))
from irqdev_model import ACK, ID, RAISE, STATUS, IrqDev  # noqa: E402
from mmiotrace_util import drain, events  # noqa: E402

DRIVER = str(Path(__file__).resolve().parent / "drivers" / "irq_test.c")
GSI = 19                     # the first free line after the default machine's 16..18


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "modcache"


class Rig:
    """A machine with ``n`` irqdev functions (on one shared line if
    ``shared``) and, when ``params`` is given, the mmiotrace tracer on."""

    def __init__(self, cache: Path, n: int = 1, shared: bool = False,
                 params: MmiotraceParams | None = None, budget: float = 60.0) -> None:
        self.time_base = TimeBase()
        bus = default_bus(self.time_base)
        self.devs = [bus.add(IrqDev(), irq=GSI if shared else None) for _ in range(n)]
        self.machine = Machine(pci_bus=bus, time_base=self.time_base, cache_dir=cache,
                               run_budget_s=budget)
        self.array = self.pipe = None
        if params is not None:
            self.array = TraceArray(nr_cpus=1, time_base=self.time_base, clock="det")
            attach(self.array, self.machine, params)
            self.array.set_tracer("mmiotrace")
            self.pipe = self.array.open_pipe()

    def load(self, *args: str, name: str = "irq_test") -> None:
        if name == "irq_test":
            self.machine.insmod(DRIVER, list(args))
        else:
            obj = self.machine.compiler.compile_file(Path(DRIVER), name).obj
            self.machine.insmod_object(obj, name, list(args))

    def call(self, fn: str, *args: int, module: str = "irq_test") -> int:
        return self.machine.call(module, fn, *args)

    def bar0(self, i: int = 0) -> int:
        return self.devs[i].resources[0].start

    def log(self) -> str:
        return self.machine.dmesg_text()

    def irq(self) -> object:
        return self.machine.kapi.irq

    def close(self) -> None:
        if self.pipe is not None:
            self.pipe.close()
            self.array.set_tracer("nop")
        self.machine.close()


@pytest.fixture
def rig(cache):
    made: list[Rig] = []

    def make(**kwargs) -> Rig:
        r = Rig(cache, **kwargs)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


# ---- where handlers run ---------------------------------------------------------------

@pytest.mark.parametrize("engine", ["faithful", "fast"])
@pytest.mark.parametrize("decoder", ["full", "pf_in"])
@pytest.mark.parametrize("mode", ["intx", "msi", "msix"])
def test_handler_accesses_come_right_after_the_raising_write(rig, mode, decoder, engine):
    r = rig(params=MmiotraceParams(decoder=decoder, engine=engine))
    r.load(f"mode={mode}")
    drain(r.pipe)
    assert r.call("irqt_raise", 0x5) == 1
    base = r.bar0()
    seq = [(e.kind, e.phys - base, e.value) for e in events(drain(r.pipe)) if e.kind in "RW"]
    # The raise, the handler's read and acknowledge, then the driver's next access.
    assert seq == [("W", RAISE, 0x5), ("R", STATUS, 0x5), ("W", ACK, 0x5), ("R", ID, 0x1A0001ED)]


@pytest.mark.parametrize("mode", ["intx", "msi"])
def test_handler_runs_in_hardirq_context_with_interrupts_off(rig, mode):
    r = rig()
    r.load(f"mode={mode}")
    r.call("irqt_raise", 1)
    ctx = r.call("irqt_ctx")
    assert ctx & 0x1F == 0b10111       # in_irq, in_interrupt, irqs_disabled, not in_task, dev_id
    assert r.call("irqt_preempt") == 0  # back in task context afterwards


# ---- masking ----------------------------------------------------------------------------

@pytest.mark.parametrize("fn", ["irqt_raise_irqsave", "irqt_raise_spinlock"])
@pytest.mark.parametrize("mode", ["intx", "msi"])
def test_masked_interrupt_waits_for_the_restore(rig, fn, mode):
    r = rig()
    r.load(f"mode={mode}")
    got = r.call(fn, 1)
    # Not taken at the raise nor at the next MMIO access; taken at the restore.
    assert (got & 0xFF, got >> 8 & 0xFF, got >> 16 & 0xFF) == (0, 0, 1)


@pytest.mark.parametrize("mode", ["intx", "msi"])
def test_interrupt_from_a_device_timer_is_taken_while_the_driver_sleeps(rig, mode):
    r = rig()
    r.load(f"mode={mode}")
    got = r.call("irqt_raise_later_and_sleep", 1)
    assert (got & 0xFF, got >> 8 & 0xFF) == (0, 1)


def test_local_irq_enable_takes_the_pending_interrupt(rig):
    r = rig()
    r.load("mode=intx")
    got = r.call("irqt_raise_irqoff", 1)
    assert (got & 0xFF, got >> 16 & 0xFF, got >> 32) == (0, 1, 0)


def test_masked_interrupt_in_a_trace_lands_at_the_restore(rig):
    r = rig(params=MmiotraceParams())
    r.load("mode=intx")
    drain(r.pipe)
    r.call("irqt_raise_spinlock", 1)
    base = r.bar0()
    seq = [(e.kind, e.phys - base) for e in events(drain(r.pipe)) if e.kind in "RW"]
    assert seq == [("W", RAISE), ("R", ID), ("R", STATUS), ("W", ACK)]


@pytest.mark.parametrize("mode", ["intx", "msi"])
def test_disable_irq_nests_and_enable_irq_delivers(rig, mode):
    r = rig()
    r.load(f"mode={mode}")
    got = r.call("irqt_raise_disabled", 1)
    # Two disables: the first enable leaves it off, the second delivers.
    assert (got & 0xFF, got >> 8 & 0xFF, got >> 16 & 0xFF) == (0, 0, 1)


def test_no_autoen_waits_for_enable_irq(rig):
    r = rig()
    r.load("mode=intx", "noautoen=1")
    assert r.call("irqt_raise", 1) == 0
    assert r.call("irqt_enable") == 1


def test_bogus_return_value_is_reported(rig):
    r = rig()
    r.load("mode=intx", "bogus=1")
    r.call("irqt_raise", 1)
    log = r.log()
    assert f"irq event {GSI}: bogus return value 10" in log and "irqt_handler [irq_test]" in log


def test_unbalanced_enable_irq_warns(rig):
    r = rig()
    r.load("mode=intx")
    r.call("irqt_enable_unbalanced")
    assert f"Unbalanced enable for IRQ {GSI}" in r.log()


# ---- shared lines, IRQ_NONE -----------------------------------------------------------------

def test_shared_line_runs_every_handler_and_the_right_one_claims_it(rig):
    r = rig(n=2, shared=True, params=MmiotraceParams())
    assert r.devs[0].irq == r.devs[1].irq == GSI
    r.load("mode=intx", "shared=1", "nth=0")
    r.load("mode=intx", "shared=1", "nth=1", name="irq_test_b")
    drain(r.pipe)
    r.call("irqt_raise", 2, module="irq_test_b")
    assert r.call("irqt_calls") == 1 and r.call("irqt_handled") == 0
    assert r.call("irqt_calls", module="irq_test_b") == 1 and r.call("irqt_handled", module="irq_test_b") == 1
    a, b = r.bar0(0), r.bar0(1)
    seq = [(e.kind, e.phys) for e in events(drain(r.pipe)) if e.kind in "RW"]
    # Handlers in request order: the first finds nothing (IRQ_NONE), the second acks.
    assert seq == [("W", b + RAISE), ("R", a + STATUS), ("R", b + STATUS), ("W", b + ACK), ("R", b + ID)]
    row = next(x for x in r.irq().interrupts() if x["irq"] == GSI)
    assert row["count"] == 1 and row["names"] == ["irq_test", "irq_test_b"]
    assert row["unhandled"] == 0       # one handler claimed it: not unhandled


def test_sharing_needs_irqf_shared_on_both(rig):
    r = rig(n=2, shared=True)
    r.load("mode=intx", "nth=0")
    with pytest.raises(ModuleError) as exc:
        r.load("mode=intx", "shared=1", "nth=1", name="irq_test_b")
    assert exc.value.errno == 16            # EBUSY
    assert f"genirq: Flags mismatch irq {GSI}. 00000080 (irq_test_b) vs. 00000000 (irq_test)" in r.log()


def test_irq_none_is_counted_and_a_stuck_line_is_disabled_after_100000(rig):
    r = rig()
    r.load("mode=intx", "ignore=1")
    r.call("irqt_raise", 1)
    # The line stays asserted and nobody acks it: 100,000 deliveries, then the
    # detector disables it, as the kernel's does.
    assert r.call("irqt_calls") == 100_000
    log = r.log()
    assert f'irq {GSI}: nobody cared (try booting with the "irqpoll" option)' in log
    assert "handlers:" in log and "irqt_handler [irq_test]" in log
    assert f"Disabling IRQ #{GSI}" in log
    row = next(x for x in r.irq().interrupts() if x["irq"] == GSI)
    assert row["count"] == 100_000 and row["spurious_disabled"] and row["disabled"]
    # Disabled: more raising reaches no handler.
    r.call("irqt_raise", 1)
    assert r.call("irqt_calls") == 100_000


def test_a_few_irq_none_do_not_disable_the_line(rig):
    r = rig(n=2, shared=True)
    r.load("mode=intx", "shared=1", "nth=0")
    r.load("mode=intx", "shared=1", "nth=1", name="irq_test_b")
    for _ in range(5):
        r.call("irqt_raise", 1, module="irq_test_b")
    desc = r.irq().descs[GSI]
    assert desc.count == 5 and desc.depth == 0 and "nobody cared" not in r.log()


# ---- threaded handlers --------------------------------------------------------------------------

def test_threaded_handler_runs_later_in_task_context(rig):
    r = rig()
    r.load("mode=msi", "threaded=1")
    assert r.call("irqt_raise", 1) == 1
    r.call("irqt_run_threads")
    assert r.call("irqt_thread_runs") == 1
    ctx = r.call("irqt_ctx")
    assert ctx & 32 and ctx & 64             # the thread: in_task, interrupts on


def test_synchronize_irq_lets_a_woken_thread_finish(rig):
    r = rig()
    r.load("mode=msi", "threaded=1")
    got = r.call("irqt_raise_sync", 1)
    assert (got & 0xFF, got >> 8 & 0xFF) == (0, 1)


def test_woken_thread_runs_when_the_call_returns(rig):
    r = rig()
    r.load("mode=intx", "threaded=1")
    assert r.call("irqt_raise", 1) == 1
    # The machine runs what is due after each command (sched_run_pending).
    assert r.call("irqt_thread_runs") == 1


def test_oneshot_keeps_a_level_line_masked_until_the_thread_ran(rig):
    r = rig()
    r.load("mode=intx", "threaded=2", "oneshot=1")
    r.call("irqt_raise", 1)                  # nothing acks in hardirq context
    r.call("irqt_run_threads")
    assert r.call("irqt_handled") == 1 and r.call("irqt_thread_runs") == 1
    desc = r.irq().descs[GSI]
    assert desc.count == 1 and not desc.oneshot_masked


def test_null_handler_without_oneshot_is_refused_on_a_level_line(rig):
    r = rig()
    with pytest.raises(ModuleError) as exc:
        r.load("mode=intx", "threaded=2")
    assert exc.value.errno == 22
    assert "Threaded irq requested with handler=NULL and !ONESHOT for irq_test" in r.log()


# ---- MSI / MSI-X ---------------------------------------------------------------------------

def test_msi_sets_pdev_irq_and_intx_disable(rig):
    r = rig()
    dev = r.devs[0]
    r.load("mode=msi")
    irq = r.call("irqt_irq")
    assert irq >= 24 and r.call("irqt_pdev_irq") == irq and r.call("irqt_msi_bits") == 1
    assert dev.msi_mode() == "msi" and dev.model.msi_enabled()
    assert dev.config_read(PCI_COMMAND, 2) & PCI_COMMAND_INTX_DISABLE
    r.machine.rmmod("irq_test")
    assert dev.msi_mode() is None
    assert not dev.config_read(PCI_COMMAND, 2) & PCI_COMMAND_INTX_DISABLE


def test_msix_vectors_each_get_an_interrupt(rig):
    r = rig()
    r.load("mode=msix")
    dev = r.devs[0]
    assert dev.msi_mode() == "msix" and dev.msi_enabled_vectors() == 4
    assert r.call("irqt_pdev_irq") == GSI            # MSI-X leaves pdev->irq alone
    assert r.call("irqt_msi_bits") == 2
    irqs = r.irq().pci_state[id(dev)].irqs
    assert len(irqs) == 4 and len(set(irqs)) == 4 and min(irqs) >= 24
    # Vector 0 is requested; vector 2 has no handler: it stays masked, undelivered.
    r.call("irqt_raise_vector", 2, 1)
    assert r.call("irqt_handled") == 0
    r.call("irqt_raise_vector", 0, 0)
    assert r.call("irqt_handled") == 1


def test_driver_written_msi_address_decides_where_the_message_goes(rig):
    r = rig()
    r.load("mode=msi")
    dev = r.devs[0]
    # Point the message outside the APIC window: it goes nowhere (ERR counts it).
    dev.config_write(dev.msi_cap + 4, 4, 0x1000)
    r.call("irqt_raise", 1)
    assert r.call("irqt_handled") == 0
    assert r.irq().proc_interrupts().splitlines()[-1].split() == ["ERR:", "1"]


# ---- the hardware side ------------------------------------------------------------------------

def test_intx_disable_and_status_bit(rig):
    r = rig()
    dev = r.devs[0]
    chip = r.machine.irqchip
    r.machine.run_on_cpu(dev.model.raise_, 1)
    assert chip.line_asserted(GSI) and dev.config_read(PCI_STATUS, 2) & 0x08
    dev.config_write(PCI_COMMAND, 2, dev.command | PCI_COMMAND_INTX_DISABLE)
    assert not chip.line_asserted(GSI) and dev.config_read(PCI_STATUS, 2) & 0x08
    dev.config_write(PCI_COMMAND, 2, dev.command & ~PCI_COMMAND_INTX_DISABLE)
    assert chip.line_asserted(GSI)
    r.machine.run_on_cpu(dev.model.ack, 1)
    assert not chip.line_asserted(GSI) and not dev.config_read(PCI_STATUS, 2) & 0x08


def test_capabilities_in_config_space(rig):
    dev = rig().devs[0]
    assert dev.config_read(PCI_STATUS, 2) & 0x10
    first = dev.config_read(0x34, 1)
    assert dev.config_read(first, 1) == 0x05                      # MSI
    nxt = dev.config_read(first + 1, 1)
    assert dev.config_read(nxt, 1) == 0x11                        # MSI-X
    assert dev.config_read(nxt + 2, 2) & 0x7FF == 3               # 4 entries
    assert dev.config_read(nxt + 4, 4) == 1                       # table at 0 in BAR1


def test_interrupt_pending_before_request_fires_at_request(rig):
    r = rig()
    r.load("mode=none")
    r.machine.run_on_cpu(r.devs[0].model.raise_, 1)
    r.machine.rmmod("irq_test")
    r.load("mode=intx")                      # the line is already high
    assert r.call("irqt_handled") == 1


# ---- free_irq and rmmod -------------------------------------------------------------------------

def test_free_irq_returns_the_name_and_warns_on_a_second_free(rig):
    r = rig()
    r.load("mode=intx")
    assert r.call("irqt_free") == 1
    assert r.call("irqt_free_twice") == 0
    assert f"Trying to free already-free IRQ {GSI}" in r.log()


def test_rmmod_frees_the_line_and_later_raises_reach_nothing(rig):
    r = rig()
    r.load("mode=intx")
    r.call("irqt_raise", 1)
    r.machine.rmmod("irq_test")
    desc = r.irq().descs[GSI]
    assert desc.actions == [] and desc.count == 1
    r.machine.run_on_cpu(r.devs[0].model.raise_, 1)      # the pin is masked now
    assert not r.machine.irqchip.pending()


def test_handler_left_behind_at_rmmod_is_dropped_with_a_warning(rig):
    r = rig()
    r.load("mode=msi", "no_free=1")
    r.machine.rmmod("irq_test")
    assert "irq_test: irq 24 (irq_test) still requested at unload; freed" in r.log()
    assert r.devs[0].msi_mode() is None
    r.load("mode=msi")                   # the same interrupt can be requested again
    assert r.call("irqt_raise", 1) == 1


# ---- the counts command ----------------------------------------------------------------------------

def test_interrupts_command_shows_counts_chip_and_names(rig):
    r = rig()
    r.load("mode=intx")
    r.call("irqt_raise", 1)
    r.call("irqt_raise", 1)
    reply = machine_handlers(r.machine)["interrupts"](None)
    lines = reply["text"].splitlines()
    assert lines[0].strip() == "CPU0"
    assert f" {GSI}:          2  IO-APIC  {GSI}-fasteoi   irq_test" in lines
    assert reply == interrupts_data(r.machine)
    row = next(x for x in reply["interrupts"] if x["irq"] == GSI)
    assert row["chip"] == "IO-APIC" and row["count"] == 2 and row["names"] == ["irq_test"]


def test_interrupts_command_msi_line(rig):
    r = rig()
    r.load("mode=msi")
    r.call("irqt_raise", 1)
    slot = r.devs[0].slot
    hwirq = (slot[0] << 8 | slot[1]) << 11
    assert f" 24:          1  PCI-MSI {hwirq}-edge      irq_test" in r.irq().proc_interrupts().splitlines()


# ---- a machine file ------------------------------------------------------------------------------

def test_machine_file_loads_the_model_and_shares_a_line(cache):
    from ftrace_mmio.machine.config import parse_machine_text

    model = Path(__file__).resolve().parent / "irqdev_model.py"
    text = (f'[[device]]\nmodel = "{model}"\nslot = "00:06.0"\nirq = 20\n\n'
            f'[[device]]\nmodel = "{model}"\nslot = "00:07.0"\nirq = 20\n')
    config = parse_machine_text(text)
    time_base = TimeBase()
    machine = config.build_machine(time_base, cache_dir=cache)
    try:
        devs = [d for d in machine.pci_bus.devices if d.model.name == "irqdev"]
        assert [d.irq for d in devs] == [20, 20]
        machine.insmod(DRIVER, ["mode=intx", "shared=1", "nth=1"])
        assert machine.call("irq_test", "irqt_raise", 1) == 1
        assert " 20:          1  IO-APIC  20-fasteoi   irq_test" in machine.kapi.irq.proc_interrupts()
    finally:
        machine.close()


def test_an_oops_in_a_handler_leaves_the_next_call_in_task_context(rig):
    r = rig()
    r.load("mode=msi")
    r.call("irqt_set_crash", 1)
    with pytest.raises(ModuleError, match="oops"):
        r.call("irqt_raise", 1)
    assert r.call("irqt_preempt") == 0
    assert r.call("irqt_raise", 2) == 1          # handlers run again


def test_msi_left_enabled_at_rmmod_is_turned_off(rig):
    r = rig()
    r.load("mode=msi", "no_free=1")
    r.machine.rmmod("irq_test")
    r.load("mode=none")
    assert r.call("irqt_pdev_irq") == GSI and r.call("irqt_msi_bits") == 0


def test_ftrace_mmio_interrupts_over_the_control_socket(cache, tmp_path, monkeypatch):
    import json
    import os
    import subprocess

    from ftrace_mmio.control import ControlServer, register_mount, unregister_mount

    r = Rig(cache)
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    monkeypatch.setenv("FTRACE_MMIO_RUNTIME_DIR", str(runtime))
    server = ControlServer(None, machine_handlers(r.machine), path=runtime / "ctl.sock")
    server.start()
    entry = register_mount(str(tmp_path), server.path)
    try:
        r.load("mode=intx")
        r.call("irqt_raise", 1)
        env = {**os.environ, "FTRACE_MMIO_RUNTIME_DIR": str(runtime)}

        def cli(*argv: str) -> str:
            done = subprocess.run([sys.executable, "-m", "ftrace_mmio", "interrupts", *argv], env=env,
                                  capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
            return done.stdout

        assert f" {GSI}:          1  IO-APIC  {GSI}-fasteoi   irq_test" in cli().splitlines()
        rows = json.loads(cli("--json"))
        assert [(x["irq"], x["count"], x["names"]) for x in rows] == [(GSI, 1, ["irq_test"])]
    finally:
        unregister_mount(entry)
        server.stop()
        r.close()
