"""Linux 6.1's drivers/misc/pvpanic (pvpanic.c, its own module, then
pvpanic-pci.c, which links against pvpanic's exports), unchanged, on the
pvpanic model: they build, load in that order, the probe traces exactly as the
real kernel's (tests/data/oracle/intree/pvpanic_pci/dump.txt after the
oracle's normalisation), the sysfs attributes the driver declares work when
called, and a panic reaches the device through the panic notifier chain.

The sources come from Debian's linux-source-6.1 package, fetched once per
machine by ftrace_mmio.intree (never committed).  Without them these tests
skip on a developer's machine with the reason, and fail under CI=true.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from ftrace_mmio import intree
from ftrace_mmio.kernel.module import ModuleError
from ftrace_mmio.machine.config import load_machine_file
from ftrace_mmio.machine.devices.pvpanic import PVPANIC_CRASH_LOADED, PVPANIC_PANICKED, Pvpanic
from ftrace_mmio.trace.clock import TimeBase
from fuse_util import cli, needs_fuse, runtime_dir  # noqa: F401 - fixtures
from intree_util import linux_sources
from machine_util import driver, make_machine

pytestmark = pytest.mark.intree

ROOT = Path(__file__).resolve().parent.parent
ORACLE = ROOT / "tests" / "data" / "oracle" / "intree" / "pvpanic_pci"
MACHINE_FILE = ROOT / "docs" / "examples" / "pvpanic.toml"
SOURCES = ("drivers/misc/pvpanic/pvpanic.c", "drivers/misc/pvpanic/pvpanic-pci.c")
EINVAL = 2**64 - errno.EINVAL          # a C long -EINVAL as machine.call returns it


@pytest.fixture(scope="module")
def sources() -> list[Path]:
    return linux_sources(*SOURCES)


@pytest.fixture
def machine(sources, tmp_path_factory):
    m = load_machine_file(MACHINE_FILE).build_machine(TimeBase(), cache_dir=tmp_path_factory.getbasetemp() / "mc")
    try:
        for path in sources:
            info = m.insmod(path)
            assert info.warnings == ""
        yield m
    finally:
        m.close()


def device(m) -> Pvpanic:
    return m.pci_bus.get("00:02.0").model


# ---- the reference ------------------------------------------------------------------------


def test_oracle_data_is_one_read_of_the_events_register():
    recs = intree.normalise((ORACLE / "dump.txt").read_text())
    assert recs == [("MAP", 0x10), ("R", 1, 0, PVPANIC_PANICKED | PVPANIC_CRASH_LOADED), ("MARK", "X is up")]
    assert (ORACLE / "deps.txt").read_text().split() == [
        "kernel/drivers/misc/pvpanic/pvpanic.ko", "kernel/drivers/misc/pvpanic/pvpanic-pci.ko"]


def test_build_and_trace_equals_the_real_kernel(sources):
    run = intree.build_and_trace("pvpanic")
    assert run.warnings == ""                      # unchanged sources, no warnings
    same, report = intree.compare_dumps((ORACLE / "dump.txt").read_text(), run.dump)
    assert same, report
    # The PCIDEV line of the device is the real one, byte for byte.
    real = next(l for l in (ORACLE / "dump.txt").read_text().splitlines() if "1b360011" in l)
    assert real in run.dump.splitlines()


# ---- the modules ----------------------------------------------------------------------------


def test_pvpanic_pci_links_against_pvpanic(machine):
    mods = {i.name: i for i in machine.lsmod()}
    assert mods["pvpanic"].used_by == ["pvpanic_pci"]
    ks = machine.run_on_cpu(lambda: machine.modules["pvpanic"].exports)
    assert set(ks) == {"devm_pvpanic_probe", "pvpanic_dev_groups"} and all(k.gpl_only for k in ks.values())
    with pytest.raises(ModuleError) as exc:
        machine.rmmod("pvpanic")
    assert exc.value.errno == errno.EWOULDBLOCK
    assert [d["driver"] for d in machine.pci_devices()] == ["pvpanic-pci"]
    machine.rmmod("pvpanic_pci")
    machine.rmmod("pvpanic")
    assert machine.lsmod() == []


def test_panic_notifier_reports_the_panic_to_the_device(machine):
    machine.insmod(driver("pvpanic_poke"))
    dev = device(machine)
    assert dev.events_written == []
    assert machine.call("pvpanic_poke", "poke_panic_notifiers") == 0        # NOTIFY_DONE
    assert dev.events_written == [PVPANIC_PANICKED] and dev.panicked and not dev.crash_loaded


def test_panic_reaches_the_device_before_the_machine_stops(machine):
    from ftrace_mmio.machine.machine import ModuleOops
    machine.insmod(driver("pvpanic_poke"))
    with pytest.raises(ModuleOops) as exc:
        machine.call("pvpanic_poke", "poke_real_panic")
    assert "Kernel panic - not syncing: pvpanic test: going down" in str(exc.value)
    assert "poke_real_panic" in str(exc.value)                # reported at panic()'s caller
    assert device(machine).events_written == [PVPANIC_PANICKED]
    # The machine goes on, and a second panic reports again.
    with pytest.raises(ModuleOops):
        machine.call("pvpanic_poke", "poke_real_panic")
    assert device(machine).events_written == [PVPANIC_PANICKED, PVPANIC_PANICKED]


def test_sysfs_attributes_as_the_driver_declares_them(machine):
    machine.insmod(driver("pvpanic_poke"))
    call = lambda fn, *a: machine.call("pvpanic_poke", fn, *a)
    assert call("poke_mode", 0) == 0o444 and call("poke_mode", 1) == 0o644
    assert call("poke_show", 0) == 3 and call("poke_show", 1) == 3     # capability read from the device
    assert call("poke_store", 4) == EINVAL                             # not a capability
    assert call("poke_show", 1) == 3
    assert call("poke_store", PVPANIC_CRASH_LOADED) == 2               # the count written ("2\n")
    assert call("poke_show", 1) == PVPANIC_CRASH_LOADED
    # A panic is PANICKED (no crash kernel here), which is now masked off.
    call("poke_panic_notifiers")
    assert device(machine).events_written == []
    assert call("poke_store", 3) == 2
    call("poke_panic_notifiers")
    assert device(machine).events_written == [PVPANIC_PANICKED]


def test_attributes_are_files_in_the_mount(sources):
    """sys/bus/pci/devices/0000:00:02.0/{capability,events} while bound:
    reads call show(), writes call store(), as sysfs does."""
    import os as _os
    import stat
    from tracefs.nodes import Request
    from ftrace_mmio.daemon import system_from_config, system_tree

    system = system_from_config(load_machine_file(MACHINE_FILE))
    try:
        m = system.machine
        root = system_tree(system)
        devices = root.lookup("sys/bus/pci/devices")
        assert list(devices.children) == []                  # nothing bound yet
        for path in sources:
            m.insmod(path)
        node = root.lookup("sys/bus/pci/devices/0000:00:02.0")
        assert sorted(node.children) == ["capability", "events"]
        cap, events = node.children["capability"], node.children["events"]
        assert stat.S_IMODE(cap.mode) == 0o444 and stat.S_IMODE(events.mode) == 0o644

        def read(f):
            return f.open(Request(flags=_os.O_RDONLY)).read(4096, 0, Request())

        def write(f, data):
            return f.open(Request(flags=_os.O_WRONLY)).write(data, 0, Request())

        assert read(cap) == b"3\n" and read(events) == b"3\n"
        assert write(events, b"2\n") == 2 and read(events) == b"2\n"
        with pytest.raises(OSError) as exc:
            write(events, b"4\n")                              # not a capability
        assert exc.value.errno == errno.EINVAL
        with pytest.raises(OSError) as exc:
            write(events, b"zz\n")                             # kstrtouint's answer
        assert exc.value.errno == errno.EINVAL
        with pytest.raises(OSError) as exc:
            write(cap, b"1\n")
        assert exc.value.errno == errno.EACCES
        m.rmmod("pvpanic_pci")
        assert list(root.lookup("sys/bus/pci/devices").children) == []
    finally:
        system.close()


@needs_fuse
def test_echo_to_an_attribute_through_a_real_mount(sources, tmp_path, runtime_dir):  # noqa: F811
    from fuse_util import mount, unmount_and_check

    mnt = mount(tmp_path / "t", "--machine", str(MACHINE_FILE))
    try:
        for path in sources:
            r = cli("insmod", str(path), "--mount", str(mnt.path))
            assert r.returncode == 0, r.stderr
        where = "sys/bus/pci/devices/0000:00:02.0"
        assert mnt.ok(f"ls {where}").split() == ["capability", "events"]
        assert mnt.ok(f"cat {where}/capability {where}/events") == "3\n3\n"
        mnt.ok(f"echo 1 > {where}/events")
        assert mnt.ok(f"cat {where}/events") == "1\n"
        bad = mnt.sh(f"echo 4 > {where}/events")
        assert bad.returncode != 0 and "Invalid argument" in bad.stderr
        r = cli("rmmod", "pvpanic", "--mount", str(mnt.path))
        assert r.returncode != 0 and "in use by: pvpanic_pci" in r.stderr
        r = cli("lsmod", "--mount", str(mnt.path))
        line = next(l for l in r.stdout.splitlines() if l.startswith("pvpanic "))
        assert line.endswith("  1 pvpanic_pci")
    finally:
        unmount_and_check(mnt)


def test_unloading_leaves_the_panic_chain_empty(machine):
    machine.insmod(driver("notifier_test"))
    assert machine.call("notifier_test", "nt_panic_chain_empty") == 0      # pvpanic is on it
    machine.rmmod("pvpanic_pci")
    machine.rmmod("pvpanic")
    assert machine.call("notifier_test", "nt_panic_chain_empty") == 1


# ---- the device model ------------------------------------------------------------------------


def test_model_reads_the_supported_events_and_records_writes():
    dev = Pvpanic()
    region = dev.region(0)
    assert region.read(0, 1) == 3 and region.read(1, 1) == 3
    assert region.read(0, 2) == 0x0303            # two byte lanes, each the register
    assert region.read(4, 1) == 0 and region.unknown[-1].offset == 4
    region.write(0, 1, PVPANIC_CRASH_LOADED)
    assert dev.crash_loaded and not dev.panicked
    region.write(0, 1, 0x13)                      # an unknown bit: a guest error, once
    assert dev.panicked and dev.guest_errors == ["unknown event 0x13"]
    region.write(0, 1, 0x10)
    assert len(dev.guest_errors) == 1
    dev.reset()
    assert dev.events_written == [] and not dev.panicked


# ---- notifier chains (kernel/core/notifier.c) -------------------------------------------------


@pytest.fixture(scope="module")
def plain_machine(tmp_path_factory):
    m = make_machine(tmp_path_factory)
    yield m
    m.close()


def test_notifier_chain_order_stop_and_self_removal(plain_machine):
    m = plain_machine
    m.insmod(driver("notifier_test"))
    try:
        # b and c (priority 10, in registration order), d (5), a (0); d removes itself.
        assert m.call("notifier_test", "nt_run", 0) == 2341 * 100000 + 1     # last: a's NOTIFY_OK
        assert m.call("notifier_test", "nt_run", 0) == 231 * 100000 + 1
        assert m.call("notifier_test", "nt_run", 1) == 23 * 100000 + 0x8001  # c's NOTIFY_STOP
        seq = m.dmesg()[-1].seq
        assert m.call("notifier_test", "nt_register_twice") == 2**32 - errno.EEXIST
        assert any("already registered" in r.text for r in m.dmesg(seq))
        assert m.call("notifier_test", "nt_unregister_unknown") == 2**32 - errno.ENOENT
        assert m.call("notifier_test", "nt_errno_round_trip", 2**32 - errno.EBUSY) == 2**32 - errno.EBUSY
        assert m.call("notifier_test", "nt_panic_chain_empty") == 1
    finally:
        m.rmmod("notifier_test")
