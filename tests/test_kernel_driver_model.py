"""The Linux driver model on the emulated kernel: pci_driver tables, probe
and remove, managed resources (devres, pcim_*), region ownership, and
what lspci and dev_* messages show.  The drivers are real C
(tests/drivers/dm_*.c) compiled by gcc and run on the emulated CPU."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys

import pytest

from ftrace_mmio.control import ControlServer, register_mount, unregister_mount
from ftrace_mmio.kernel.module import ModuleError
from ftrace_mmio.machine.machine import Machine
from ftrace_mmio.machine.ops import lspci_data, machine_handlers
from ftrace_mmio.machine.pci import default_bus

from machine_util import driver, last_seq, make_machine, new_lines

TESTMMIO = "0000:00:03.0"


@pytest.fixture
def machine(tmp_path_factory):
    m = make_machine(tmp_path_factory)
    yield m
    m.close()


def _dev(machine: Machine, slot: str):
    return machine.pci_bus.get(slot)


def test_module_pci_driver_binds_the_matching_device_only(machine):
    seq = last_seq(machine)
    machine.insmod(driver("dm_basic"))
    lines = new_lines(machine, seq)
    assert lines == [
        f"dmbasic {TESTMMIO}: probe 0: id 1234:1111 data 7 dispi b0c5 label {TESTMMIO}",
        f"dmbasic {TESTMMIO}: driver dmbasic bound 1 drvdata ok 1 irq 17 pin 1 dma_mask ffffffff",
    ]
    drivers = {d["slot"]: d["driver"] for d in machine.pci_devices()}
    assert drivers == {TESTMMIO: "dmbasic", "0000:00:02.0": None, "0000:00:04.0": None}
    # The PCIDEV line names the driver, not the module.
    assert _dev(machine, "00:03.0").pcidev_fields().driver == "dmbasic"


def test_remove_then_devres_at_rmmod(machine):
    machine.insmod(driver("dm_basic"))
    dev = _dev(machine, "00:03.0")
    assert dev.enable_count == 1
    assert [r.owner for r in machine.kapi.pci.regions] == ["dm_basic"]
    assert [m.phys for m in machine.mm.iomaps.values()] == [0xFD800000]   # pcim_iomap of BAR2
    seq = last_seq(machine)
    machine.rmmod("dm_basic")
    assert new_lines(machine, seq) == [
        f"dmbasic {TESTMMIO}: remove 0: dispi b0c5",
        f"dmbasic {TESTMMIO}: release action 0",     # devres, after remove(), still bound
    ]
    # pcim: the BAR2 mapping, region and enable are undone too.
    assert dev.enable_count == 0
    assert machine.kapi.pci.regions == []
    assert machine.mm.iomaps == {}
    assert dev.driver is None
    assert machine.kapi.pci.drivers == {}
    # The device is free again: the driver binds anew.
    seq = last_seq(machine)
    machine.insmod(driver("dm_basic"))
    assert new_lines(machine, seq)[0].startswith(f"dmbasic {TESTMMIO}: probe 0:")


def test_two_devices_two_probes_in_bus_order_removed_last_first(tmp_path_factory):
    bus = default_bus(extra_models=["testmmio"])          # the second one goes to 00:01.0
    m = make_machine(tmp_path_factory, pci_bus=bus)
    try:
        seq = last_seq(m)
        m.insmod(driver("dm_basic"))
        probes = [line for line in new_lines(m, seq) if ": probe" in line]
        assert [p.split(":")[0:3] for p in probes] == [
            ["dmbasic 0000", "00", "01.0"], ["dmbasic 0000", "00", "03.0"]]
        assert "probe 0:" in probes[0] and "probe 1:" in probes[1]
        assert [d["driver"] for d in m.pci_devices() if d["vendor"] == 0x1234] == ["dmbasic"] * 2
        seq = last_seq(m)
        m.rmmod("dm_basic")
        assert new_lines(m, seq) == [
            "dmbasic 0000:00:03.0: remove 1: dispi b0c5",
            "dmbasic 0000:00:03.0: release action 1",
            "dmbasic 0000:00:01.0: remove 0: dispi b0c5",
            "dmbasic 0000:00:01.0: release action 0",
        ]
        assert all(d["driver"] is None for d in m.pci_devices())
    finally:
        m.close()


def test_class_match_and_driver_data(machine):
    seq = last_seq(machine)
    machine.insmod(driver("dm_class"))
    assert new_lines(machine, seq) == [
        "dm_class 0000:00:02.0: probe class 030000 driver_data 1",
        "dm_class 0000:00:04.0: probe class 070002 driver_data 2",
    ]
    assert _dev(machine, "00:03.0").driver is None
    seq = last_seq(machine)
    machine.rmmod("dm_class")
    assert new_lines(machine, seq) == ["dm_class 0000:00:04.0: remove", "dm_class 0000:00:02.0: remove"]


def test_a_bound_device_is_not_probed_by_a_second_driver(machine):
    machine.insmod(driver("dm_basic"))
    seq = last_seq(machine)
    machine.insmod(driver("dm_fail"))               # matches 1234:1111 too, which is taken
    assert new_lines(machine, seq) == []
    assert _dev(machine, "00:03.0").driver == "dmbasic"


def test_failed_probe_releases_devres_in_reverse_and_leaves_the_device_unbound(machine):
    seq = last_seq(machine)
    info = machine.insmod(driver("dm_fail"))        # the module loads: register returns 0
    assert info.state == "Live"
    assert new_lines(machine, seq) == [
        f"dm_fail {TESTMMIO}: about to fail, managed 1",
        f"dm_fail {TESTMMIO}: error -EIO: giving up",
        f"dm_fail: probe of {TESTMMIO} failed with error -5",   # said first, then cleaned up
        "dm_fail: release third",
        "dm_fail: release second",
        "dm_fail: release first",
    ]
    levels = [r.level for r in machine.dmesg(seq)]
    assert levels == [6, 3, 4, 6, 6, 6]
    dev = _dev(machine, "00:03.0")
    assert dev.driver is None and dev.enable_count == 0
    assert machine.kapi.pci.regions == []            # pcim released the requested BAR
    seq = last_seq(machine)
    machine.rmmod("dm_fail")                        # nothing bound: remove() never runs
    assert new_lines(machine, seq) == []


def test_probe_returning_enodev_is_quiet(machine):
    seq = last_seq(machine)
    machine.insmod(driver("dm_fail"), ["fail_err=-19"])
    lines = new_lines(machine, seq)
    assert lines[-1] == "dm_fail: release first"
    assert not any("failed with error" in line for line in lines)


def test_double_request_region_is_ebusy(machine):
    seq = last_seq(machine)
    machine.insmod(driver("dm_busy"))
    assert new_lines(machine, seq) == [
        "dm_busy: first 0",
        "dm_busy 0000:00:03.0: BAR 0: can't reserve [mem 0xfd000000-0xfd7fffff pref]",
        "dm_busy: second -16",
        "dm_busy: inside BAR0 refused",
        "dm_busy 0000:00:03.0: BAR 0: can't reserve [mem 0xfd000000-0xfd7fffff pref]",
        "dm_busy: regions -16",
        "dm_busy: after release 0",
        "dm_busy: inside again refused",
        "resource: Trying to free nonexistent resource <0x00000000fd000000-0x00000000fd0000ff>",
        "dm_busy: managed granted managed busy 1",
        "dm_busy: select mem 5 io 0",
        "dm_busy: ioremap_resource mapped",
        "dm_busy 0000:00:03.0: can't request region for resource [mem 0xfd800000-0xfd800fff]",
        "dm_busy: again -16",
    ]
    regions = sorted((r.start, r.end) for r in machine.kapi.pci.regions)
    assert regions == [(0xFD000000, 0xFD000FFF), (0xFD800000, 0xFD800FFF)]
    assert [m.phys for m in machine.mm.iomaps.values()] == [0xFD800000]
    machine.rmmod("dm_busy")                        # devres gives both back, and the mapping
    assert machine.kapi.pci.regions == []
    assert machine.mm.iomaps == {}


def test_driver_left_registered_by_a_failed_init_is_unregistered(machine):
    seq = last_seq(machine)
    with pytest.raises(ModuleError) as exc:
        machine.insmod(driver("dm_leak"))
    assert exc.value.errno == errno.EINVAL
    assert new_lines(machine, seq) == [
        f"dm_leak {TESTMMIO}: probe",
        "Error: Driver 'dm_leak' is already registered, aborting...",
        "(NULL device *): registered 0, again -16",
        "dm_leak: pci_driver 'dm_leak' still registered at unload; unregistering it",
        f"dm_leak {TESTMMIO}: remove",
    ]
    assert _dev(machine, "00:03.0").driver is None
    assert machine.kapi.pci.drivers == {}
    # The core's list no longer holds it: another driver registers and binds.
    machine.insmod(driver("dm_basic"))
    assert _dev(machine, "00:03.0").driver == "dmbasic"


def test_pci_get_device_drivers_still_bind_by_enable(machine):
    machine.insmod("nvlike")                        # pci_get_device + pci_enable_device
    assert _dev(machine, "00:02.0").driver == "nvlike"
    # As on Linux, finding and enabling a device is not binding it: a
    # pci_driver registered later still probes it.
    machine.insmod(driver("dm_class"))
    assert _dev(machine, "00:02.0").driver == "dm_class"
    machine.rmmod("dm_class")
    assert _dev(machine, "00:02.0").driver is None
    machine.rmmod("nvlike")


# --- lspci through the control channel and the real command ---------------------------------


def test_lspci_json_shows_and_drops_the_driver(machine):
    machine.insmod(driver("dm_basic"))
    _, devices = lspci_data(machine)
    assert {d["slot"]: d["driver"] for d in devices}["00:03.0"] == "dmbasic"
    machine.rmmod("dm_basic")
    _, devices = lspci_data(machine)
    assert all(d["driver"] is None for d in devices)


@pytest.fixture
def served(tmp_path_factory):
    runtime = tmp_path_factory.mktemp("runtime")
    mnt = tmp_path_factory.mktemp("mnt")
    machine = make_machine(tmp_path_factory)
    server = ControlServer(None, machine_handlers(machine), path=runtime / "ctl.sock")
    server.start()
    old = os.environ.get("FTRACE_MMIO_RUNTIME_DIR")
    os.environ["FTRACE_MMIO_RUNTIME_DIR"] = str(runtime)
    entry = register_mount(str(mnt), server.path)
    env = {**os.environ, "FTRACE_MMIO_RUNTIME_DIR": str(runtime)}
    yield machine, env
    unregister_mount(entry)
    server.stop()
    machine.close()
    if old is None:
        del os.environ["FTRACE_MMIO_RUNTIME_DIR"]
    else:
        os.environ["FTRACE_MMIO_RUNTIME_DIR"] = old


def _cli(env, *argv):
    r = subprocess.run([sys.executable, "-m", "ftrace_mmio", *argv], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_lspci_k_shows_the_bound_driver(served):
    machine, env = served
    _cli(env, "insmod", driver("dm_class"))
    assert _cli(env, "lspci", "-k").splitlines() == [
        "00:02.0 VGA compatible controller: NVIDIA Corporation Device 1180 (rev a1)",
        "\tKernel driver in use: dm_class",
        "00:03.0 Display controller: Device 1234:1111 (rev 02)",
        "00:04.0 Serial controller: Red Hat, Inc. QEMU PCI 16550A Adapter (rev 01)",
        "\tKernel driver in use: dm_class",
    ]
    devices = json.loads(_cli(env, "lspci", "--json"))
    assert [d["driver"] for d in devices] == ["dm_class", None, "dm_class"]
    _cli(env, "rmmod", "dm_class")
    assert "Kernel driver in use" not in _cli(env, "lspci", "-k")


def test_managed_resources_of_a_pci_get_device_module_go_with_it(machine):
    seq = last_seq(machine)
    machine.insmod(driver("dm_getdev"))
    assert new_lines(machine, seq) == [f"dm_getdev {TESTMMIO}: enabled, managed 1"]
    dev = _dev(machine, "00:03.0")
    assert dev.driver == "dm_getdev" and dev.enable_count == 1 and len(machine.mm.iomaps) == 1
    seq = last_seq(machine)
    machine.rmmod("dm_getdev")
    assert new_lines(machine, seq) == [
        f"dm_getdev: managed resources of {TESTMMIO} released at unload (no driver was bound)",
        "dm_getdev: release action",
    ]
    assert dev.enable_count == 0 and machine.mm.iomaps == {} and dev.driver is None
    machine.insmod(driver("dm_basic"))              # no "Resources present before probing"
    assert dev.driver == "dmbasic"


def test_less_common_managed_calls(machine):
    seq = last_seq(machine)
    machine.insmod(driver("dm_api"))
    lines = new_lines(machine, seq)
    assert lines[:13] == [
        "dm_api: action released early",
        f"dm_api: kcalloc zero 0 kasprintf {TESTMMIO}-42",
        "dm_api: kmalloc(0) 0000000000000010",
        "dm_api: get same 1 find same 1",
        "dm_api: devm_ioremap dispi b0c5",
        "dm_api: iomap_range dispi b0c5",
        "dm_api: iomap_range past end 1",
        "dm_api: ioremap_bar dispi b0c5",
        "dm_api: enable 0",
        "dm_api: request_all 0",
        "dm_api: table 1 1 dispi b0c5",
        "dm_api: map twice 1",
        f"dm_api {TESTMMIO}: BAR 0: can't reserve [mem 0xfd000000-0xfd7fffff pref]",
    ]
    assert lines[13:15] == ["dm_api: BAR2 free 1 BAR0 held 1", f"dm_api {TESTMMIO}: once 1"]
    assert machine.mm.iomaps == {}                  # devm_iounmap and pcim_iounmap_regions
    assert sorted(r.start for r in machine.kapi.pci.regions) == [0xFD000000, 0xFD800000]
    dev = _dev(machine, "00:03.0")
    assert dev.enable_count == 1
    seq = last_seq(machine)
    machine.rmmod("dm_api")
    # only what is still on the list, newest first; pcim then gives back
    # both BARs (requested while managed) and disables the device, quietly
    assert new_lines(machine, seq) == ["dm_api: counter 1 released", "dm_api: action kept"]
    assert machine.kapi.pci.regions == [] and dev.enable_count == 0
