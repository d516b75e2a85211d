"""The machine commands as a user runs them: real ``ftrace-mmio`` processes
talking over the control socket to a machine served by a ControlServer
(the daemon's control channel, here without the FUSE part)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ftrace_mmio.control import ControlServer, register_mount, unregister_mount
from ftrace_mmio.machine.ops import machine_handlers

from machine_util import driver, make_machine


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    runtime = tmp_path_factory.mktemp("runtime")
    mnt = tmp_path_factory.mktemp("mnt")
    old = os.environ.get("FTRACE_MMIO_RUNTIME_DIR")
    os.environ["FTRACE_MMIO_RUNTIME_DIR"] = str(runtime)
    machine = make_machine(tmp_path_factory)
    server = ControlServer(None, machine_handlers(machine), path=runtime / "ctl.sock")
    server.start()
    entry = register_mount(str(mnt), server.path)
    env = {**os.environ, "FTRACE_MMIO_RUNTIME_DIR": str(runtime)}
    yield machine, env, mnt
    unregister_mount(entry)
    server.stop()
    machine.close()
    if old is None:
        del os.environ["FTRACE_MMIO_RUNTIME_DIR"]
    else:
        os.environ["FTRACE_MMIO_RUNTIME_DIR"] = old


def run(env, *argv, cwd=None):
    return subprocess.run([sys.executable, "-m", "ftrace_mmio", *argv], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_lspci_lists_the_three_devices(served):
    _, env, _ = served
    r = run(env, "lspci")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "00:02.0 VGA compatible controller: NVIDIA Corporation Device 1180 (rev a1)",
        "00:03.0 Display controller: Device 1234:1111 (rev 02)",
        "00:04.0 Serial controller: Red Hat, Inc. QEMU PCI 16550A Adapter (rev 01)",
    ]
    devices = json.loads(run(env, "lspci", "--json").stdout)
    assert [d["name"] for d in devices] == ["nvlike", "testmmio", "uart16550"]
    for d in devices:
        assert {"slot", "vendor", "device", "name", "driver", "irq", "bars"} <= set(d)
        assert all({"index", "start", "size", "flags"} <= set(b) for b in d["bars"])
    testmmio = devices[1]
    assert testmmio["bars"][0]["start"] == 0xFD000000 and testmmio["bars"][0]["size"] == 0x800000


def test_insmod_lsmod_dmesg_rmmod(served):
    machine, env, mnt = served
    r = run(env, "insmod", "nvlike", "--mount", str(mnt))
    assert (r.returncode, r.stderr) == (0, "")
    r = run(env, "lsmod")
    assert r.stdout.splitlines()[0] == "Module                  Size  Used by"
    assert r.stdout.splitlines()[1].split() == ["nvlike", str(machine.modules["nvlike"].size), "0"]
    r = run(env, "dmesg")
    lines = r.stdout.splitlines()
    assert any(line.endswith("] nvlike: BAR0 f6000000, 16 MiB") for line in lines)
    assert all(line.startswith("[") and line[13:15] == "] " for line in lines)
    r = run(env, "lspci", "-k")
    assert "\tKernel driver in use: nvlike" in r.stdout.splitlines()
    assert run(env, "rmmod", "nvlike").returncode == 0
    assert run(env, "lsmod").stdout.splitlines() == ["Module                  Size  Used by"]


def test_insmod_of_a_local_file_with_parameters(served, tmp_path):
    machine, env, _ = served
    src = tmp_path / "mine.c"
    src.write_text(open(driver("params")).read())
    r = run(env, "insmod", "mine.c", "p_int=77", "p_charp=from the cli", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    records = json.loads(run(env, "dmesg", "--json").stdout)
    texts = [rec["text"] for rec in records]
    assert "params: charp from the cli bool 0 invbool 0 hexint 0x10 renamed 9" in texts
    assert any(t.startswith("params: byte 1 short -2 ushort 3 int 77 ") for t in texts)
    assert records[-1]["level_name"] == "info"
    run(env, "rmmod", "mine")


def test_failures_print_the_kernel_style_error(served, tmp_path):
    _, env, _ = served
    r = run(env, "insmod", "testmmiotrace")
    assert r.returncode == 1
    assert r.stderr.startswith("insmod: ERROR: could not insert module testmmiotrace: testmmiotrace: "
                               "init_module returned -6 (ENXIO")
    r = run(env, "rmmod", "nothere")
    assert (r.returncode, r.stderr) == (1, "rmmod: ERROR: could not remove module nothere: "
                                           "Module nothere is not currently loaded\n")
    bad = tmp_path / "bad.c"
    bad.write_text("int x = ;\n")
    r = run(env, "insmod", str(bad))
    assert r.returncode == 1 and "bad.c:1:9: error: expected expression before ';' token" in r.stderr


def test_oops_then_testmmiotrace_reads_back_clean(served):
    machine, env, _ = served
    r = run(env, "insmod", driver("crash"), "mode=null")
    assert r.returncode == 1
    assert "oops: kernel NULL pointer dereference, address: 0000000000000008 at crash_null" in r.stderr
    assert "BUG: kernel NULL pointer dereference" in run(env, "dmesg").stdout
    markers = []
    machine.on_trace_printk = markers.append
    try:
        r = run(env, "insmod", "testmmiotrace", "mmio_address=0xfd000000")
    finally:
        machine.on_trace_printk = lambda text: None
    assert r.returncode == 0, r.stderr
    assert "Read errors: 8-bit 0, 16-bit 0, 32-bit 0.\n" in markers
    run(env, "rmmod", "testmmiotrace")


def test_dmesg_clear(served):
    _, env, _ = served
    assert run(env, "dmesg", "--clear").stdout != ""
    assert run(env, "dmesg").stdout == ""


def test_no_running_mount_is_a_clear_error(tmp_path):
    env = {**os.environ, "FTRACE_MMIO_RUNTIME_DIR": str(tmp_path)}
    r = run(env, "lsmod")
    assert r.returncode == 1
    assert r.stderr == ("ftrace-mmio lsmod: no ftrace-mmio mount is running; "
                        "start one: ftrace-mmio mount DIR\n")
    r = run(env, "insmod", "nvlike")
    assert r.returncode == 1 and "no ftrace-mmio mount is running" in r.stderr


@pytest.mark.parametrize("command", ["insmod", "rmmod", "lsmod", "lspci", "dmesg"])
def test_help_has_an_example(command):
    r = run(os.environ.copy(), command, "--help")
    assert r.returncode == 0
    assert "example" in r.stdout and f"ftrace-mmio {command}" in r.stdout.split("example")[1]
