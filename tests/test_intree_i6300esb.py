"""Linux 6.1's drivers/watchdog/i6300esb.c, unchanged, on the i6300esb model:
it builds, probes, serves /dev/watchdog0 through the mount, and the probe plus
open / ping / magic close trace exactly as the real kernel's
(tests/data/oracle/intree/i6300esb/dump.txt, after the oracle's normalisation).

The source comes from Debian's linux-source-6.1 package, fetched once per
machine by ftrace_mmio.intree (never committed).  Without it these tests skip
on a developer's machine with the reason, and fail under CI=true.
"""

from __future__ import annotations

import errno
import os
import struct
from pathlib import Path

import pytest
from intree_util import linux_sources

from fuse_util import cli, fresh_mount, needs_fuse, runtime_dir, wait_until  # noqa: F401 - fixtures

from ftrace_mmio import intree
from ftrace_mmio.machine.devices.i6300esb import I6300Esb
from ftrace_mmio.trace.clock import TimeBase

pytestmark = pytest.mark.intree

ORACLE = Path(__file__).resolve().parent / "data" / "oracle" / "intree" / "i6300esb"
MACHINE_FILE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "i6300esb.toml"
SOURCE = "drivers/watchdog/i6300esb.c"

WDIOC_GETSUPPORT = (2 << 30) | (40 << 16) | (ord("W") << 8) | 0
WDIOC_GETSTATUS = (2 << 30) | (4 << 16) | (ord("W") << 8) | 1
WDIOC_KEEPALIVE = (2 << 30) | (4 << 16) | (ord("W") << 8) | 5
WDIOC_SETTIMEOUT = (3 << 30) | (4 << 16) | (ord("W") << 8) | 6
WDIOC_GETTIMEOUT = (2 << 30) | (4 << 16) | (ord("W") << 8) | 7
WDIOF_MAGICCLOSE, WDIOF_KEEPALIVEPING, WDIOF_SETTIMEOUT = 0x100, 0x8000, 0x80


@pytest.fixture(scope="module")
def source() -> Path:
    return linux_sources(SOURCE)[0]


def oracle_dump() -> str:
    return (ORACLE / "dump.txt").read_text()


def test_oracle_data_is_the_i6300esb_sequence():
    recs = intree.normalise(oracle_dump())
    assert recs[0] == ("MAP", 0x10)
    assert sum(r[0] == "R" for r in recs) == 1 and sum(r[0] == "W" for r in recs) == 26
    assert recs[-1] == ("MARK", "X is up")
    assert ("W", 4, 0, 30 << 9) in recs and ("W", 4, 4, 30 << 9) in recs


def test_normalisation_catches_a_difference():
    text = oracle_dump()
    changed = text.replace("0xfebff00c 0x86", "0xfebff00c 0x87", 1)
    same, report = intree.compare_dumps(text, changed)
    assert not same and "first divergence at record #3" in report


def test_source_is_cached_outside_the_repository(source):
    repo = Path(__file__).resolve().parent.parent
    assert source.is_file() and repo not in source.parents
    assert "esb_timer_keepalive" in source.read_text()
    stamp = (intree.cache_dir() / intree.STAMP).read_text()
    assert SOURCE in stamp and intree.package_version()


def test_build_and_trace_equals_the_real_kernel(source):
    run = intree.build_and_trace("i6300esb")
    assert run.warnings == ""                      # unchanged source, no warnings
    assert run.workflow == ["open rc=0", "ping write rc=0", "magic write rc=0", "closed"]
    assert "i6300ESB timer 0000:00:02.0: initialized. heartbeat=30 sec (nowayout=0)" in run.dmesg
    assert "did not stop" not in run.dmesg
    same, report = intree.compare_dumps(oracle_dump(), run.dump)
    assert same, report
    # The header lines too: the device as the real kernel listed it.
    pcidev = [line for line in run.dump.splitlines() if line.startswith("PCIDEV")]
    assert pcidev == ["PCIDEV 0010 808625ab 0 febff000 0 0 0 0 0 0 10 0 0 0 0 0 0 "]


@pytest.fixture
def esb_machine(source):
    from ftrace_mmio.machine.config import load_machine_file

    machine = load_machine_file(str(MACHINE_FILE)).build_machine(TimeBase())
    try:
        machine.insmod(source, ["nowayout=0"])
        yield machine
    finally:
        machine.close()


def _model(machine) -> I6300Esb:
    (dev,) = [d for d in machine.pci_bus.devices if isinstance(d.model, I6300Esb)]
    return dev.model


def test_watchdog_nodes_and_start_ping_magic_close(esb_machine):
    m, cd = esb_machine, esb_machine.kapi.chardev
    nodes = cd.nodes()
    assert nodes["watchdog"] == (10 << 20) | 130
    assert nodes["watchdog0"] >> 20 == 254 and nodes["watchdog0"] & 0xFFFFF == 0
    esb = _model(m)
    assert not esb.enabled
    f = cd.open("watchdog0", os.O_WRONLY)
    assert esb.enabled and esb.running
    with pytest.raises(OSError) as busy:             # one user at a time
        cd.open("watchdog", os.O_WRONLY)
    assert busy.value.errno == errno.EBUSY
    before = esb.reloads
    assert cd.write(f, b"ping") == 4
    assert esb.reloads == before + 1
    cd.write(f, b"xVx")                               # a V anywhere arms the magic close
    cd.release(f)
    assert not esb.enabled and not esb.running
    assert "did not stop" not in m.dmesg_text()


def test_close_without_v_leaves_it_running(esb_machine):
    m, cd = esb_machine, esb_machine.kapi.chardev
    esb = _model(m)
    f = cd.open("watchdog", os.O_WRONLY)             # /dev/watchdog reaches watchdog0 too
    cd.write(f, b"V")
    cd.write(f, b"x")                                 # the last write decides: disarmed
    cd.release(f)
    assert "watchdog: watchdog0: watchdog did not stop!" in m.dmesg_text()
    assert esb.enabled and esb.running
    f = cd.open("watchdog0", os.O_WRONLY)             # already running: open only pings on
    cd.write(f, b"V")
    cd.release(f)
    assert not esb.enabled


def test_unpinged_watchdog_resets_the_machine_on_the_machine_clock(esb_machine):
    m, cd = esb_machine, esb_machine.kapi.chardev
    esb = _model(m)
    stage = esb.stage_ns(1)                           # 30 s heartbeat: two stages of ~15.1 s
    assert stage == (30 << 9 << 15) * 30
    f = cd.open("watchdog0", os.O_WRONLY)
    m.run_on_cpu(m.events.advance, stage + stage // 2)
    assert esb.stage == 2 and esb.resets == []        # stage 1 ran out: no reset yet
    cd.write(f, b"x")                                 # a ping starts over at stage 1
    assert esb.stage == 1
    m.run_on_cpu(m.events.advance, stage + stage // 2)
    assert esb.resets == []
    m.run_on_cpu(m.events.advance, stage)             # nobody pinged: WDT_TOUT#
    assert len(esb.resets) == 1 and esb.timeout_flag
    assert esb.mmio.read(0x0C, 2) == 0x200            # what the next probe reads (bootstatus)
    cd.write(f, b"V")
    cd.release(f)
    assert not esb.running


def test_ioctls(esb_machine):
    cd = esb_machine.kapi.chardev
    f = cd.open("watchdog0", os.O_RDWR)
    try:
        _, info = cd.ioctl(f, WDIOC_GETSUPPORT, out_size=40)
        options, _fw = struct.unpack_from("<II", info)
        assert info[8:].rstrip(b"\0") == b"i6300ESB timer"
        assert options & WDIOF_MAGICCLOSE and options & WDIOF_KEEPALIVEPING and options & WDIOF_SETTIMEOUT
        assert cd.ioctl(f, WDIOC_GETTIMEOUT, out_size=4)[1] == struct.pack("<i", 30)
        esb = _model(esb_machine)
        _, out = cd.ioctl(f, WDIOC_SETTIMEOUT, data=struct.pack("<i", 10), out_size=4)
        assert out == struct.pack("<i", 10)
        assert esb.preload[1] == esb.preload[2] == 10 << 9
        before = esb.reloads
        cd.ioctl(f, WDIOC_KEEPALIVE, out_size=4)
        assert esb.reloads == before + 1
        _, status = cd.ioctl(f, WDIOC_GETSTATUS, out_size=4)
        assert struct.unpack("<I", status)[0] & WDIOF_KEEPALIVEPING
        with pytest.raises(OSError) as bad:
            cd.ioctl(f, WDIOC_SETTIMEOUT, data=struct.pack("<i", 5000), out_size=4)
        assert bad.value.errno == errno.EINVAL
        cd.write(f, b"V")
    finally:
        cd.release(f)


def test_nowayout_refuses_to_stop(source):
    from ftrace_mmio.machine.config import load_machine_file

    m = load_machine_file(str(MACHINE_FILE)).build_machine(TimeBase())
    try:
        m.insmod(source, ["nowayout=1"])
        assert "(nowayout=1)" in m.dmesg_text()
        cd = m.kapi.chardev
        f = cd.open("watchdog0", os.O_WRONLY)
        cd.write(f, b"V")
        cd.release(f)
        log = m.dmesg_text()
        assert "watchdog: watchdog0: nowayout prevents watchdog being stopped!" in log
        assert "watchdog: watchdog0: watchdog did not stop!" in log
        assert _model(m).enabled
    finally:
        m.close()


def test_unload_stops_and_removes_the_nodes(esb_machine):
    m, cd = esb_machine, esb_machine.kapi.chardev
    f = cd.open("watchdog0", os.O_WRONLY)
    cd.release(f)                                     # not stopped: still running
    assert _model(m).enabled
    m.rmmod("i6300esb")                               # stop_on_unregister
    assert not _model(m).enabled
    assert cd.nodes() == {}


def test_model_ignores_writes_without_the_unlock_sequence():
    esb = I6300Esb()
    esb.mmio.write(0x00, 4, 0x1234)                   # no unlock: ignored
    assert esb.preload[1] == 0xFFFFF
    esb.mmio.write(0x0C, 2, 0x80)
    esb.mmio.write(0x0C, 2, 0x86)
    esb.mmio.write(0x04, 4, 0x1234)
    assert esb.preload[2] == 0x1234
    esb.mmio.write(0x04, 4, 0x9999)                   # the sequence covered one write
    assert esb.preload[2] == 0x1234
    assert esb.stage_ns(2) == (0x1234 << 15) * 30
    esb.device_config_write(0x60, 2, 0x04)            # 1 MHz prescaler
    assert esb.stage_ns(2) == (0x1234 << 5) * 30
    esb.device_config_write(0x68, 1, 0x01)            # lock: the configuration is fixed
    esb.device_config_write(0x60, 2, 0x00)
    assert esb.device_config_read(0x60, 2) == 0x04


@needs_fuse
def test_echo_v_through_the_mount_traces_as_the_real_kernel(source, tmp_path, runtime_dir):  # noqa: F811
    from fuse_util import mount, unmount_and_check

    mnt = mount(tmp_path / "t", "--machine", str(MACHINE_FILE))
    try:
        dump = tmp_path / "dump.txt"
        pidfile = tmp_path / "reader.pid"
        mnt.ok(f"echo mmiotrace > current_tracer; cat trace_pipe > {dump} 2>/dev/null </dev/null & echo $! > {pidfile}")
        r = cli("insmod", str(source), "--mount", str(mnt.path))
        assert r.returncode == 0, r.stderr
        assert mnt.ok("ls dev").split() == ["watchdog", "watchdog0"]
        # what the oracle's --watchdog did: open, write once, write V, close
        mnt.ok("exec 3>dev/watchdog0; printf x >&3; printf V >&3; exec 3>&-")
        # FUSE delivers the release after close returns: wait for the stop's reload.
        assert wait_until(lambda: dump.read_text().count("\nW ") == 26), dump.read_text()
        mnt.ok("echo 'X is up' > trace_marker")
        assert wait_until(lambda: "X is up" in dump.read_text())
        mnt.ok(f"kill {pidfile.read_text().strip()}")
        assert wait_until(lambda: mnt.sh("echo nop > current_tracer").returncode == 0)
        same, report = intree.compare_dumps(oracle_dump(), dump.read_text())
        assert same, report
        # echo V: open (start), write "V\n" (ping, armed), close (stop)
        mnt.ok("echo V > dev/watchdog0")
        # back to back: each open finds the previous file released, as on Linux
        # (FUSE's release comes after close returns; the open waits for it)
        mnt.ok("for i in 1 2 3 4 5 6 7 8 9 10; do echo V > dev/watchdog0; done")
        r = mnt.sh("exec 3>dev/watchdog0; echo V > dev/watchdog0; rc=$?; printf V >&3; exit $rc")
        assert r.returncode != 0 and "busy" in r.stderr    # really open: EBUSY
        mnt.ok("echo x > dev/watchdog0")              # no V: keeps running, says so
        assert wait_until(lambda: "watchdog did not stop!" in cli("dmesg", "--mount", str(mnt.path)).stdout)
        dmesg = cli("dmesg", "--mount", str(mnt.path)).stdout
        assert dmesg.count("watchdog: watchdog0: watchdog did not stop!") == 1
        assert mnt.sh("cat dev/watchdog0").returncode != 0    # no read method: EINVAL
    finally:
        if (tmp_path / "reader.pid").exists():
            mnt.sh(f"kill {(tmp_path / 'reader.pid').read_text().strip()} 2>/dev/null; true")
        unmount_and_check(mnt)


def test_without_apt_get_the_error_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv(intree.ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.setattr(intree.shutil, "which", lambda name: None)
    with pytest.raises(intree.IntreeError) as exc:
        intree.fetch()
    assert "apt-get download linux-source-6.1" in str(exc.value)
    assert str(tmp_path / "cache") in str(exc.value)


def test_scripts_intree_help_has_an_example():
    import subprocess

    script = Path(__file__).resolve().parent.parent / "scripts" / "intree"
    r = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    assert "scripts/intree i6300esb" in r.stdout and "linux-source-6.1" in r.stdout
