"""Several mounts of one user: which one a command acts on, dead mounts, lazy umount.

Commands without --mount use the mount the current directory is in, then
$FTRACE_MMIO_MOUNT, then the only one running; else they refuse with the list.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fuse_util import holds_open, SHELL_TIMEOUT, mount, needs_fuse, runtime_dir, unmount_and_check, wait_until  # noqa: F401
from ftrace_mmio.cli.fs import STOP_TIMEOUT, mounts_at
from ftrace_mmio.control import MOUNT_ENV, find_mount, mount_of_cwd, pid_alive, running_mounts

pytestmark = [needs_fuse, pytest.mark.fuse]


def cli_in(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != MOUNT_ENV}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "ftrace_mmio", *args], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=SHELL_TIMEOUT)


def status_mountpoint(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_which_mount_a_command_uses(tmp_path: Path, runtime_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = mount(tmp_path / "a")
    b = mount(tmp_path / "b")
    try:
        outside = tmp_path / "elsewhere"
        outside.mkdir()
        # Two mounts, no hint: refuse and list both.
        result = cli_in(outside, "lsmod")
        assert result.returncode == 1
        assert str(a.path) in result.stderr and str(b.path) in result.stderr and MOUNT_ENV in result.stderr
        # Inside a mount (or below it): that one. A marker shows which daemon answered.
        for m in (a, b):
            m.ok("echo 1 > tracing_on")
        monkeypatch.delenv(MOUNT_ENV, raising=False)
        monkeypatch.chdir(b.path / "per_cpu")
        assert find_mount().pid == b.pid
        monkeypatch.chdir(a.path)
        assert find_mount().pid == a.pid
        # The environment variable, from outside both.
        monkeypatch.chdir(outside)
        monkeypatch.setenv(MOUNT_ENV, str(b.path))
        assert find_mount().pid == b.pid
        # The current directory wins over the variable; --mount over both.
        monkeypatch.chdir(a.path)
        assert find_mount().pid == a.pid
        assert find_mount(str(b.path)).pid == b.pid
        # Through the CLI, as the README workflow runs it: insmod from inside a.
        loaded = cli_in(a.path, "lsmod")
        assert loaded.returncode == 0, loaded.stderr
        wrong = cli_in(outside, "lsmod", env={MOUNT_ENV: str(tmp_path / "nothing")})
        assert wrong.returncode == 1 and MOUNT_ENV in wrong.stderr
    finally:
        os.chdir(tmp_path)   # out of the mounts before unmounting them
        unmount_and_check(a)
        unmount_and_check(b)


def test_mount_of_cwd_prefers_the_innermost() -> None:
    class E:
        def __init__(self, point: str) -> None:
            self.mountpoint = point

    outer, inner = E("/x/t"), E("/x/t/instances/foo")
    assert mount_of_cwd([outer, inner], "/x/t/instances/foo/trace") is inner  # type: ignore[list-item]
    assert mount_of_cwd([outer, inner], "/x/t/per_cpu") is outer  # type: ignore[list-item]
    assert mount_of_cwd([outer, inner], "/x/tt") is None  # type: ignore[list-item]


def test_dead_mount_is_listed_then_cleaned(tmp_path: Path, runtime_dir: Path) -> None:
    m = mount(tmp_path / "t")
    os.kill(m.pid, signal.SIGKILL)
    assert wait_until(lambda: not pid_alive(m.pid))
    assert mounts_at(str(m.path)), "the kernel keeps the dead mount"
    result = cli_in(tmp_path, "mounts")
    assert result.returncode == 0, result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.startswith(str(m.path))]
    assert line.split("\t")[1] == "dead" and f"ftrace-mmio umount {m.path}" in line
    cleaned = cli_in(tmp_path, "umount", str(m.path))
    assert cleaned.returncode == 0, cleaned.stderr
    assert not mounts_at(str(m.path))
    assert str(m.path) not in cli_in(tmp_path, "mounts").stdout
    assert not any(e.pid == m.pid for e in running_mounts())
    assert not Path(m.socket).exists()


def test_lazy_umount_ends_a_blocked_reader_at_once(tmp_path: Path, runtime_dir: Path) -> None:
    m = mount(tmp_path / "t")
    reader = subprocess.Popen(["cat", str(m.path / "trace_pipe")], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        assert wait_until(lambda: holds_open(reader.pid, m.path / "trace_pipe")), "reader never opened trace_pipe"
        busy = cli_in(tmp_path, "umount", str(m.path))
        assert busy.returncode == 1 and "--lazy" in busy.stderr
        started = time.monotonic()
        result = cli_in(tmp_path, "umount", "--lazy", str(m.path))
        took = time.monotonic() - started
        assert result.returncode == 0, result.stderr
        # Before, umount waited STOP_TIMEOUT (10 s, always) for a daemon that
        # kept serving the blocked reader, then sent SIGTERM. Now the daemon is
        # ended at once: the bound is that fixed wait, not a speed measurement.
        assert took < STOP_TIMEOUT, f"umount --lazy took {took:.1f} s"
        assert not pid_alive(m.pid)
        assert reader.wait(timeout=SHELL_TIMEOUT) != 0   # its read ended with an error, not with data
        assert reader.stdout is not None and reader.stdout.read() == b""
    finally:
        if reader.poll() is None:
            reader.kill()
        reader.wait()
    assert not mounts_at(str(m.path))
    assert not any(e.pid == m.pid for e in running_mounts())


def readme_workflow() -> str:
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = text.split("## The workflow", 1)[1]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def test_readme_workflow_with_another_mount_running(tmp_path: Path, runtime_dir: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    other = mount(tmp_path / "elsewhere" / "other")
    try:
        work = tmp_path / "work"
        work.mkdir()
        env = {k: v for k, v in os.environ.items() if k != MOUNT_ENV}
        env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
        script = readme_workflow()
        assert "ftrace-mmio insmod nvlike" in script
        result = subprocess.run(["bash", "-e", "-c", script], cwd=work, env=env, capture_output=True,
                                text=True, timeout=SHELL_TIMEOUT * 3)
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
        assert int(result.stdout.split()[-1]) > 0, result.stdout   # grep -c '^[RW] ' dump.txt
        # The module went into t's machine, not the other one.
        assert "nvlike" not in cli_in(tmp_path, "lsmod", "--mount", str(other.path)).stdout
    finally:
        unmount_and_check(other)
