"""Helpers for tests that mount the real FUSE filesystem and drive it with a shell.

The ``mounted`` fixture mounts through the CLI (``ftrace-mmio mount``) in a
temp directory, with a private runtime directory, and always unmounts
through the CLI afterwards, asserting that nothing is left mounted or
running. FUSE tests are skipped, with the reason, only when /dev/fuse is
absent; any other FUSE problem fails them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from ftrace_mmio.cli.fs import mounts_at, our_mount
from ftrace_mmio.control import pid_alive, running_mounts
from tracefs.fuse import FUSE_SUPER_MAGIC, is_fuse_mount, statfs_type

needs_fuse = pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="/dev/fuse is absent: no FUSE here")

# A safety net against a hung command, not a measurement.
SHELL_TIMEOUT = 60


def cli(*args: str, timeout: float = SHELL_TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ftrace_mmio", *args],
                          capture_output=True, text=True, timeout=timeout)


@dataclass
class Mount:
    path: Path
    pid: int
    socket: str

    def sh(self, script: str, timeout: float = SHELL_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """Run ``script`` with bash in the mount point, after checking it is still our FUSE mount."""
        assert statfs_type(self.path) == FUSE_SUPER_MAGIC, f"{self.path} is not our FUSE mount any more"
        return subprocess.run(["bash", "-c", script], cwd=self.path, capture_output=True,
                              text=True, timeout=timeout)

    def ok(self, script: str) -> str:
        result = self.sh(script)
        assert result.returncode == 0, f"{script!r} failed: {result.stderr}"
        return result.stdout

    def py(self, code: str, timeout: float = SHELL_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """Run Python code in a subprocess, in the mount point."""
        assert statfs_type(self.path) == FUSE_SUPER_MAGIC
        return subprocess.run([sys.executable, "-c", code], cwd=self.path, capture_output=True,
                              text=True, timeout=timeout)


def mount(path: Path, *args: str) -> Mount:
    path.mkdir(exist_ok=True)
    result = cli("mount", str(path), *args)
    assert result.returncode == 0, f"mount failed: {result.stderr}"
    assert is_fuse_mount(path), "mount returned but the directory is not a FUSE mount"
    (entry,) = [e for e in running_mounts() if e.mountpoint == str(path)]
    assert f"control socket: {entry.socket}" in result.stdout
    return Mount(path, entry.pid, entry.socket)


def wait_until(predicate, deadline: float = 20.0, step: float = 0.02) -> bool:
    """Poll ``predicate`` until it holds; a generous safety deadline, not a timing check."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def holds_open(pid: int, path: str | Path) -> bool:
    """Whether process ``pid`` has ``path`` open (read from /proc: opening a
    trace_pipe to find out would take it from its one reader)."""
    try:
        return any(os.readlink(fd) == str(path) for fd in Path(f"/proc/{pid}/fd").iterdir())
    except (FileNotFoundError, ProcessLookupError):
        return False


def unmount_and_check(m: Mount) -> None:
    """Unmount (if still ours) and assert nothing stays mounted or running."""
    if mounts_at(str(m.path)) and our_mount(str(m.path)):
        result = cli("umount", str(m.path))
        assert result.returncode == 0, f"umount failed: {result.stderr}"
    assert not mounts_at(str(m.path)), f"{m.path} is still mounted"
    assert wait_until(lambda: not pid_alive(m.pid)), f"daemon {m.pid} still running"
    assert not any(e.pid == m.pid for e in running_mounts()), "registry entry left behind"
    assert not Path(m.socket).exists(), "control socket left behind"


@pytest.fixture
def runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private runtime dir (registry, sockets, logs), inherited by the CLI subprocesses."""
    path = tmp_path / "run"
    monkeypatch.setenv("FTRACE_MMIO_RUNTIME_DIR", str(path))
    return path


@pytest.fixture
def fresh_mount(tmp_path: Path, runtime_dir: Path) -> Iterator[Mount]:
    """A mount of its own, for tests that end or disturb the daemon."""
    m = mount(tmp_path / "tracing")
    try:
        yield m
    finally:
        unmount_and_check(m)


@pytest.fixture(scope="module")
def shared_mount(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mount]:
    """One mount for a module's tests (each starts with a cleared buffer, see ``mounted``)."""
    base = tmp_path_factory.mktemp("fuse")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FTRACE_MMIO_RUNTIME_DIR", str(base / "run"))
        m = mount(base / "tracing")
        try:
            yield m
        finally:
            unmount_and_check(m)


@pytest.fixture
def mounted(shared_mount: Mount) -> Iterator[Mount]:
    """The module's mount, with an empty buffer and tracing on; no reader left open after."""
    shared_mount.ok("echo 1 > tracing_on; echo nop > current_tracer; echo > trace")
    yield shared_mount
    # A test that left a background reader behind would break the next one.
    assert not users_of(shared_mount.path), "processes still have files open in the mount"


def users_of(path: Path) -> list[int]:
    """Pids with a file open under ``path`` (what fuser -m would say)."""
    prefix = f"{path}/"
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            links = [os.readlink(fd) for fd in (proc / "fd").iterdir()]
        except OSError:
            continue
        if any(link.startswith(prefix) for link in links):
            found.append(int(proc.name))
    return found


# -- what the kernel prints (spec tracefs.md section 3) ---------------------------

HEADER = """\
# tracer: nop
#
# entries-in-buffer/entries-written: {e}/{w}   #P:{p}
#
#                                _-----=> irqs-off/BH-disabled
#                               / _----=> need-resched
#                              | / _---=> hardirq/softirq
#                              || / _--=> preempt-depth
#                              ||| / _-=> migrate-disable
#                              |||| /     delay
#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
#              | |         |   |||||     |         |
"""

MARKER_LINE = re.compile(r" {11}<\.\.\.>-(\d+) *\[(\d{3})\] \.\.\.1\. +(\d+)\.(\d{6}): tracing_mark_write: (.*)")


def header(entries: int, written: int, cpus: int = 2) -> str:
    return HEADER.format(e=entries, w=written, p=cpus)


def assert_marker_line(line: str, pid: int, text: str, cpus: int = 2) -> None:
    """Assert ``line`` is, byte for byte, the kernel's nop line for a marker by ``pid``."""
    m = MARKER_LINE.fullmatch(line)
    assert m, f"not a marker line: {line!r}"
    cpu, sec, usec = int(m[2]), int(m[3]), m[4]
    assert cpu < cpus
    assert line == f"{'<...>':>16}-{pid:<7} [{cpu:03d}] ...1. {sec:>5}.{usec}: tracing_mark_write: {text}"
