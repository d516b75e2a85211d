"""Fault injection on a real FUSE mount: a killed daemon, an unmount under a
blocked reader, and a marker flood into a buffer too small for it.

What must hold (docs/reliability.md):

* A reader blocked in ``cat trace_pipe`` never hangs because the daemon
  died or the mount went away: its read fails (ECONNABORTED, then ENOTCONN)
  and cat ends. ``ftrace-mmio umount`` recovers the dead mount point, the
  stale registry entry and control socket are dropped, and a new mount on
  the same directory works.
* Every marker written is either read exactly once or counted: as
  ``dropped events`` (and an EBADF to its writer) with overwrite 0, as
  ``overrun`` / ``CPU:n [LOST m EVENTS]`` with overwrite 1.
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import pytest

from fuse_util import (  # noqa: F401 - fixtures
    MARKER_LINE,
    Mount,
    cli,
    fresh_mount,
    mount,
    mounted,
    needs_fuse,
    runtime_dir,
    shared_mount,
    unmount_and_check,
    users_of,
    wait_until,
)
from ftrace_mmio.cli.fs import mounts_at
from ftrace_mmio.control import MountEntry, call, pid_alive, running_mounts

pytestmark = [needs_fuse, pytest.mark.fuse]

# What a read of a FUSE file gives once its daemon is gone.
DEAD = {errno.ENOTCONN, errno.ECONNABORTED}
DEAD_TEXT = ("Software caused connection abort", "Transport endpoint is not connected")


def blocked_in_read(pid: int) -> bool:
    """True while ``pid`` sleeps in read(2) (syscall 0): a reader waiting on trace_pipe."""
    try:
        return Path(f"/proc/{pid}/syscall").read_text().split()[0] == "0"
    except (OSError, IndexError):
        return False


def start_readers(m: Mount, files: list[str], tmp: Path) -> list[subprocess.Popen]:
    readers = [subprocess.Popen(["cat", f], cwd=m.path, stdout=open(tmp / f"reader{i}.out", "wb"),
                                stderr=open(tmp / f"reader{i}.err", "w"))
               for i, f in enumerate(files)]
    for r in readers:
        assert wait_until(lambda: blocked_in_read(r.pid)), "reader never blocked"
    return readers


DRIVERS = Path(__file__).resolve().parent / "drivers"


def test_killed_daemon_fails_blocked_readers_and_is_recovered(fresh_mount: Mount, runtime_dir: Path,
                                                              tmp_path: Path) -> None:
    m = fresh_mount
    mmiotrace = "mmiotrace" in m.ok("cat available_tracers").split()
    if mmiotrace:
        m.ok("echo mmiotrace > current_tracer")
    readers = start_readers(m, ["per_cpu/cpu0/trace_pipe", "per_cpu/cpu1/trace_pipe"], tmp_path)
    # A writer keeps going while the daemon dies,
    writer = subprocess.Popen(["bash", "-c", "while :; do echo w > trace_marker || exit 1; done"], cwd=m.path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # and a driver is running, its MMIO streaming to a reader of the trace.
    driver = None
    if mmiotrace:
        driver = subprocess.Popen([sys.executable, "-m", "ftrace_mmio", "insmod", "--mount", str(m.path),
                                   str(DRIVERS / "rel_spin.c"), "phys=0xfd000000"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert wait_until(lambda: b"\nW 4 " in (tmp_path / "reader0.out").read_bytes()), "no driver MMIO seen"
    registry = runtime_dir / f"mount-{m.pid}.json"
    assert registry.exists() and Path(m.socket).exists()

    os.kill(m.pid, signal.SIGKILL)

    if driver is not None:
        assert driver.wait(60) == 1
        assert "insmod: ERROR: could not insert module" in driver.stderr.read()

    for i, r in enumerate(readers):
        assert r.wait(60) == 1  # a safety net: a hung reader fails here instead of forever
        err = (tmp_path / f"reader{i}.err").read_text()
        assert any(text in err for text in DEAD_TEXT), err
    assert writer.wait(60) == 1
    werr = writer.stderr.read()
    assert any(text in werr for text in DEAD_TEXT), werr
    with pytest.raises(OSError) as info:
        os.stat(m.path / "trace")
    assert info.value.errno in DEAD

    # The dead daemon's registry entry and socket are stale: the next look drops them.
    assert registry.exists() and Path(m.socket).exists()
    listed = cli("mounts")
    # No live mount: the dead one is listed as dead (still in /proc/mounts).
    assert any(str(m.path) in line and "dead" in line for line in listed.stdout.splitlines()), listed
    assert not registry.exists() and not Path(m.socket).exists()

    # Mounting over the dead mount point says how to recover; umount recovers it.
    again = cli("mount", str(m.path))
    assert again.returncode == 1
    assert f"recover it first: ftrace-mmio umount {m.path}" in again.stderr
    assert cli("umount", str(m.path)).returncode == 0
    assert not mounts_at(str(m.path))

    # A new mount on the same directory, with a fresh socket, works.
    m2 = mount(m.path)
    try:
        assert m2.pid != m.pid and m2.socket != m.socket
        assert call("ping", mount=str(m2.path)) == {"ok": True, "pid": m2.pid}
        assert m2.ok("echo after > trace_marker; cat trace").endswith("tracing_mark_write: after\n")
    finally:
        unmount_and_check(m2)


def test_driver_oops_under_mmiotrace_keeps_the_trace_and_allows_nop(fresh_mount: Mount, tmp_path: Path) -> None:
    m = fresh_mount
    if "mmiotrace" not in m.ok("cat available_tracers").split():
        pytest.skip("this mount has no mmiotrace tracer")
    m.ok("echo mmiotrace > current_tracer")
    (reader,) = start_readers(m, ["trace_pipe"], tmp_path)
    ok = cli("insmod", "--mount", str(m.path), "testmmiotrace", "mmio_address=0xfd000000")
    assert ok.returncode == 0, ok.stderr
    m.ok("echo before the crash > trace_marker")
    crash = cli("insmod", "--mount", str(m.path), str(DRIVERS / "crash.c"), "mode=null")
    assert crash.returncode == 1
    assert crash.stderr.startswith("insmod: ERROR: could not insert module") and "oops: " in crash.stderr
    # The reader got everything up to the crash, in the kernel's formats.
    assert wait_until(lambda: (tmp_path / "reader0.out").read_bytes().endswith(b" before the crash\n"))
    # While it reads, switching tracers is refused, as on a kernel; once it is stopped, nop works.
    busy = m.sh("echo nop > current_tracer")
    assert busy.returncode == 1 and "Device or resource busy" in busy.stderr
    reader.terminate()
    reader.wait(60)
    lines = (tmp_path / "reader0.out").read_text().splitlines()
    assert lines[0] == "VERSION 20070824" and sum(1 for ln in lines if ln.startswith(("R ", "W "))) > 10000
    assert m.ok("cat trace").startswith("# tracer: mmiotrace\n")
    m.ok("echo nop > current_tracer")
    assert m.ok("cat current_tracer") == "nop\n"
    dmesg = cli("dmesg", "--mount", str(m.path))
    assert "BUG: kernel NULL pointer dereference" in dmesg.stdout


def test_stale_registry_entry_of_a_live_unrelated_pid_is_not_a_mount(runtime_dir: Path) -> None:
    # After a kill -9 the daemon's pid can be reused: the registry then names a
    # live process that is not a daemon, and its socket answers nobody.
    runtime_dir.mkdir(mode=0o700)
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        entry = MountEntry(sleeper.pid, "/nonexistent/mnt", str(runtime_dir / f"ctl-{sleeper.pid}.sock"),
                           os.getuid())
        entry.registry_file.write_text(json.dumps(asdict(entry)))
        Path(entry.socket).write_bytes(b"")  # what a killed daemon leaves: a dead socket file
        assert pid_alive(sleeper.pid)
        assert running_mounts() == []
        assert not entry.registry_file.exists() and not Path(entry.socket).exists()
        assert cli("mounts").stderr == "no ftrace-mmio mounts running\n"
    finally:
        sleeper.kill()
        sleeper.wait()


def test_sigterm_to_the_daemon_ends_a_blocked_reader(fresh_mount: Mount, tmp_path: Path) -> None:
    m = fresh_mount
    (reader,) = start_readers(m, ["trace_pipe"], tmp_path)
    os.kill(m.pid, signal.SIGTERM)
    assert reader.wait(60) != 0
    assert wait_until(lambda: not pid_alive(m.pid))
    assert not mounts_at(str(m.path))
    assert not users_of(m.path)


def test_lazy_umount_ends_a_blocked_reader(fresh_mount: Mount, tmp_path: Path) -> None:
    m = fresh_mount
    (reader,) = start_readers(m, ["trace_pipe"], tmp_path)
    busy = cli("umount", str(m.path))
    assert busy.returncode == 1 and "Device or resource busy" in busy.stderr
    result = cli("umount", "--lazy", str(m.path))
    assert result.returncode == 0, result.stderr
    assert reader.wait(60) != 0
    err = (tmp_path / "reader0.err").read_text()
    assert any(text in err for text in DEAD_TEXT), err
    assert not mounts_at(str(m.path))
    assert not pid_alive(m.pid)


# -- marker floods into a tiny buffer: exact loss accounting ----------------------

WRITERS = 3
PER_WRITER = 400

# Each writer shell records the sequence numbers whose write failed.
FLOOD = r"""
flood() {
    for i in $(seq -w 1 %d); do
        echo "w$1 $i" > trace_marker 2>/dev/null || echo "$i" >> "$2/fail.$1"
    done
}
""" % PER_WRITER


def flood(m: Mount, tmp: Path) -> None:
    script = FLOOD + "".join(f"flood {w} {tmp} &\n" for w in range(WRITERS)) + "wait\n"
    m.ok(script)


def failures(tmp: Path) -> set[tuple[int, int]]:
    out = set()
    for w in range(WRITERS):
        path = tmp / f"fail.{w}"
        if path.exists():
            out |= {(w, int(s)) for s in path.read_text().split()}
    return out


def markers_in(text: str) -> list[tuple[int, int]]:
    """(writer, seq) of every marker line; other lines must be LOST lines."""
    found = []
    for line in text.splitlines():
        m = MARKER_LINE.fullmatch(line)
        if m:
            w, seq = m[5].split()
            found.append((int(w[1:]), int(seq)))
        else:
            assert re.fullmatch(r"CPU:\d+ \[LOST \d+ EVENTS\]", line) or line.startswith("#"), line
    return found


def lost_lines(text: str) -> int:
    return sum(int(n) for n in re.findall(r"^CPU:\d+ \[LOST (\d+) EVENTS\]$", text, re.M))


def stat_sum(m: Mount, field: str) -> int:
    return sum(int(re.search(rf"^{field}: (\d+)$", m.ok(f"cat per_cpu/cpu{c}/stats"), re.M)[1])
               for c in range(2))


ALL = {(w, s) for w in range(WRITERS) for s in range(1, PER_WRITER + 1)}


@pytest.fixture
def tiny(mounted: Mount):
    """The module's mount with 2 sub-buffers per CPU (254 markers fit); defaults restored after."""
    mounted.ok("echo 1 > buffer_size_kb; echo > trace")
    yield mounted
    mounted.ok("echo 1 > options/overwrite; echo 1408 > buffer_size_kb; echo > trace")


def test_flood_without_overwrite_drops_the_newest_and_counts_each(tiny: Mount, tmp_path: Path) -> None:
    tiny.ok("echo 0 > options/overwrite")
    flood(tiny, tmp_path)
    failed = failures(tmp_path)
    kept = markers_in(tiny.ok("cat trace"))
    assert len(kept) == len(set(kept))
    assert set(kept) | failed == ALL and not set(kept) & failed
    assert stat_sum(tiny, "dropped events") == len(failed) > 0
    assert stat_sum(tiny, "overrun") == 0
    assert f"entries-written: {len(kept)}/{len(kept)} " in tiny.ok("cat trace")
    # Once full, every later write is refused: each writer kept a prefix.
    for w in range(WRITERS):
        seqs = sorted(s for ww, s in kept if ww == w)
        assert seqs == list(range(1, len(seqs) + 1))


def test_flood_with_overwrite_keeps_the_newest_and_counts_overruns(tiny: Mount, tmp_path: Path) -> None:
    flood(tiny, tmp_path)
    assert not failures(tmp_path)
    trace = tiny.ok("cat trace")
    kept = markers_in(trace)
    assert len(kept) == len(set(kept))
    overrun = stat_sum(tiny, "overrun")
    assert len(kept) + overrun == len(ALL) and overrun > 0
    assert f"entries-written: {len(kept)}/{len(ALL)} " in trace
    assert stat_sum(tiny, "dropped events") == 0
    for w in range(WRITERS):  # each writer's survivors are its newest
        seqs = sorted(s for ww, s in kept if ww == w)
        assert seqs == list(range(PER_WRITER - len(seqs) + 1, PER_WRITER + 1))


@pytest.mark.parametrize("overwrite", [0, 1])
def test_flood_past_a_stalled_pipe_reader_is_read_once_or_counted(tiny: Mount, tmp_path: Path,
                                                                 overwrite: int) -> None:
    """A trace_pipe reader stopped (SIGSTOP) while writers flood, then resumed."""
    tiny.ok(f"echo {overwrite} > options/overwrite")
    out = tmp_path / "pipe.out"
    reader = subprocess.Popen(["cat", "trace_pipe"], cwd=tiny.path, stdout=open(out, "wb"))
    try:
        assert wait_until(lambda: blocked_in_read(reader.pid))
        reader.send_signal(signal.SIGSTOP)
        flood(tiny, tmp_path)
        reader.send_signal(signal.SIGCONT)
        # Drained when nothing is left unconsumed; then the reader has written all it got.
        assert wait_until(lambda: "entries-in-buffer/entries-written: 0/" in tiny.ok("cat trace"))
        assert wait_until(lambda: blocked_in_read(reader.pid))
    finally:
        reader.terminate()
        reader.wait()
    text = out.read_text()
    got = markers_in(text)
    counts = Counter(got)
    assert max(counts.values()) == 1, "a marker was read twice"
    failed = failures(tmp_path)
    assert not set(got) & failed
    if overwrite:
        assert not failed
        assert len(got) + lost_lines(text) == len(ALL)
        assert lost_lines(text) == stat_sum(tiny, "overrun") > 0
    else:
        assert lost_lines(text) == 0
        assert set(got) | failed == ALL
        assert stat_sum(tiny, "dropped events") == len(failed) > 0
    assert stat_sum(tiny, "read events") == len(got)
