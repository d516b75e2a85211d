"""Unmodified trace-cmd on the emulated machine, through ``ftrace-mmio exec``.

``exec`` runs a command in a private mount namespace where a mount's tracefs
is /sys/kernel/tracing (tracefs.md §8). The host's real tracefs is only ever
read here, to check it is the same after the tests as before; when the host
has none mounted, the tests check that it stays that way.
"""

from __future__ import annotations

import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Iterator

import pytest

from ftrace_mmio.cli import nsexec
from ftrace_mmio.control import call_socket
from fuse_util import Mount, mount, needs_fuse, unmount_and_check

TRACE_CMD = shutil.which("trace-cmd")
pytestmark = [
    needs_fuse,
    pytest.mark.skipif(os.geteuid() != 0, reason="ftrace-mmio exec needs root (a mount namespace)"),
]
# ./scripts/test installs trace-cmd; under CI a missing one fails the tests instead of skipping them.
needs_trace_cmd = pytest.mark.skipif(TRACE_CMD is None and os.environ.get("CI") != "true",
                                     reason="trace-cmd is not installed (Debian: apt-get install trace-cmd)")

TIMEOUT = 60  # a safety net against a hang, not a measurement
CPUS = 3      # not the host's count: trace-cmd must see the machine's, via cpu/possible
REAL_FILES = ("current_tracer", "tracing_on", "buffer_size_kb", "trace_clock", "available_tracers")


# --- the host's real tracefs: read-only snapshots ------------------------------------------


def host_tracefs_state() -> dict[str, object]:
    """What the host's tracefs looks like: its mount lines and, for each mounted one,
    the control files (read, never written). Paths are only read where /proc/mounts
    says a tracefs is mounted, so nothing gets automounted by looking."""
    lines = [line for line in Path("/proc/self/mounts").read_text().splitlines()
             if line.split()[2:3] == ["tracefs"]]
    state: dict[str, object] = {"tracefs lines": lines,
                                "/sys/kernel/tracing is a mount point": os.path.ismount("/sys/kernel/tracing")}
    for point in dict.fromkeys(line.split()[1] for line in lines):
        for name in REAL_FILES:
            try:
                with open(os.path.join(point, name), "rb") as f:   # read-only
                    state[f"{point}/{name}"] = f.read()
            except OSError as exc:
                state[f"{point}/{name}"] = f"error {exc.errno}"
    return state


@pytest.fixture(scope="module", autouse=True)
def host_unchanged() -> Iterator[dict[str, object]]:
    before = host_tracefs_state()
    yield before
    after = host_tracefs_state()
    assert after == before, "the host's real tracefs changed"
    if not before["tracefs lines"]:
        # Recorded: the host has no tracefs mounted. It must still have none.
        assert not after["tracefs lines"] and not after["/sys/kernel/tracing is a mount point"]


@pytest.fixture(scope="module")
def m(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mount]:
    base = tmp_path_factory.mktemp("exec")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FTRACE_MMIO_RUNTIME_DIR", str(base / "run"))
        mounted = mount(base / "tracing", "--cpus", str(CPUS))
        try:
            yield mounted
        finally:
            unmount_and_check(mounted)


@pytest.fixture
def fresh(m: Mount) -> Mount:
    m.ok("echo 1 > tracing_on; echo nop > current_tracer; echo local > trace_clock; echo > trace")
    return m


def ftrace_mmio(*args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ftrace_mmio", *args], capture_output=True, text=True,
                          timeout=timeout)


def in_namespace(m: Mount, *command: str) -> subprocess.CompletedProcess[str]:
    return ftrace_mmio("exec", "--mount", str(m.path), "--", *command)


# --- trace-cmd ------------------------------------------------------------------------------


@needs_trace_cmd
def test_list_t_shows_mmiotrace(fresh: Mount) -> None:
    result = in_namespace(fresh, "trace-cmd", "list", "-t")
    assert result.returncode == 0, result.stderr
    assert result.stdout == fresh.ok("cat available_tracers")
    assert result.stdout.split() == ["mmiotrace", "nop"]


@needs_trace_cmd
def test_show_prints_our_trace_file(fresh: Mount) -> None:
    fresh.ok("echo 'seen by trace-cmd' > trace_marker")
    result = in_namespace(fresh, "trace-cmd", "show")
    assert result.returncode == 0, result.stderr
    assert result.stdout == fresh.ok("cat trace")
    assert f"#P:{CPUS}" in result.stdout and result.stdout.endswith(": tracing_mark_write: seen by trace-cmd\n")


@needs_trace_cmd
def test_show_p_streams_trace_pipe_while_a_driver_loads(fresh: Mount) -> None:
    """trace-cmd show -p copies trace_pipe with fread() of BUFSIZ (8 KiB), so it
    prints in 8 KiB steps, on a real kernel too; one nvlike load is ~1.8 KiB, so
    the driver is loaded and unloaded (from another process) until the first
    step arrives, while trace-cmd keeps running."""
    fresh.ok("echo mmiotrace > current_tracer")
    # A terminal, as the user's.
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "ftrace_mmio", "exec", "--mount", str(fresh.path), "--",
                             "trace-cmd", "show", "-p"], stdin=slave, stdout=slave, stderr=slave,
                            start_new_session=True)
    os.close(slave)
    seen = ""

    def read_until(text: str, wait: float) -> bool:
        nonlocal seen
        deadline = time.monotonic() + wait
        while text not in seen and time.monotonic() < deadline and proc.poll() is None:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    seen += os.read(master, 65536).decode(errors="replace").replace("\r\n", "\n")
                except OSError:
                    break
        return text in seen

    loads = 0
    try:
        read_until("no output is expected yet", 0.5)  # let trace-cmd open trace_pipe
        while loads < 20 and not read_until(" 0xf6020400 ", 0.3):
            assert proc.poll() is None, f"trace-cmd show -p ended: {seen!r}"
            # What `ftrace-mmio insmod nvlike; ftrace-mmio rmmod nvlike` send, from this process.
            call_socket(fresh.socket, "insmod", target="nvlike", params=[])
            call_socket(fresh.socket, "rmmod", name="nvlike")
            loads += 1
        # nvlike's last access in init, the temperature register, arrived while trace-cmd ran.
        assert " 0xf6020400 " in seen, f"nothing streamed after {loads} loads: {seen!r}"
        assert proc.poll() is None, "trace-cmd show -p ended by itself"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        proc.wait(TIMEOUT)
        os.close(master)
    assert 2 <= loads <= 8   # 8 KiB is several loads' worth, not one and not dozens
    lines = [line for line in seen.splitlines() if not line.startswith("ftrace-mmio exec:")]
    assert lines[0] == "VERSION 20070824"
    assert sum(line.startswith("PCIDEV ") for line in lines) == 3
    events = [line for line in lines if line.split()[:1] in (["MAP"], ["R"], ["W"], ["UNMAP"])]
    assert events[0].startswith("MAP ") and events[0].split()[3] == "0xf6000000"
    assert events[1].startswith("R 4 ") and events[1].split()[4:6] == ["0xf6000000", "0xe4000a1"]
    assert any(line.split()[4:6] == ["0xf6700000", "0xdeadbeef"] for line in events if line.startswith("W "))
    fresh.ok("echo nop > current_tracer")   # the reader is gone, so nop is allowed again


@needs_trace_cmd
def test_stat_reports_our_state(fresh: Mount) -> None:
    fresh.ok("echo mmiotrace > current_tracer; echo global > trace_clock")
    result = in_namespace(fresh, "trace-cmd", "stat")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "\nTracer: mmiotrace\n" in out
    assert "\nEvents:\n All disabled\n" in out
    # Printed only when the clock is not local.
    assert "global" in out
    assert out.endswith("\nTracing is enabled\n\n")
    fresh.ok("echo nop > current_tracer; echo local > trace_clock")


@needs_trace_cmd
def test_reset_exits_0_and_resets_our_files(fresh: Mount) -> None:
    fresh.ok("echo mmiotrace > current_tracer; echo mono > trace_clock; echo 1 > tracing_cpumask; "
             "echo 'to be cleared' > trace_marker")
    result = in_namespace(fresh, "trace-cmd", "reset")
    assert result.returncode == 0, result.stderr
    assert fresh.ok("cat current_tracer") == "nop\n"
    assert fresh.ok("cat tracing_on") == "1\n"
    assert "[local]" in fresh.ok("cat trace_clock")
    # All CPUs again: trace-cmd counted the machine's 3, not the host's.
    assert fresh.ok("cat tracing_cpumask") == "7\n"
    assert "to be cleared" not in fresh.ok("cat trace")


# --- what the namespace is and is not ---------------------------------------------------------


def test_inside_the_namespace(fresh: Mount) -> None:
    script = textwrap.dedent("""\
        grep ' /sys/kernel/tracing ' /proc/self/mounts | tail -1
        stat -f -c %t /sys/kernel/tracing
        cat /sys/devices/system/cpu/possible
        cat /sys/kernel/tracing/available_tracers
        echo "$FTRACE_MMIO_EXEC_MOUNT"
        if echo x > /proc/sys/kernel/domainname 2>/dev/null; then echo "/proc/sys writable"; fi
        if mount -t tmpfs none /mnt 2>/dev/null; then echo "could mount"; fi
        echo done
        """)
    result = in_namespace(fresh, "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    top, magic, possible, tracers, where, last = result.stdout.splitlines()
    assert top.split()[:3] == ["ftrace-mmio", "/sys/kernel/tracing", "fuse.tracefs"]
    assert magic == "65735546"
    assert possible == f"0-{CPUS - 1}"
    assert tracers == "mmiotrace nop"
    assert where == str(fresh.path)
    assert last == "done"   # neither /proc/sys nor mount() let anything through
    # Outside, nothing changed.
    assert not any(line.split()[1] == "/sys/kernel/tracing"
                   for line in Path("/proc/self/mounts").read_text().splitlines())


def test_proc_sys_files_trace_cmd_writes_are_private(fresh: Mount) -> None:
    """kernel/ftrace_enabled and kernel/kptr_restrict are writable inside, and the
    host's stay as they were; /proc/kallsyms is the emulated kernel's."""
    host = {name: Path(f"/proc/sys/kernel/{name}").read_text() for name in ("ftrace_enabled", "kptr_restrict")
            if Path(f"/proc/sys/kernel/{name}").exists()}
    if "ftrace_enabled" not in host:
        pytest.skip("this host kernel has no /proc/sys/kernel/ftrace_enabled")
    script = textwrap.dedent("""\
        cat /proc/sys/kernel/ftrace_enabled
        echo 0 > /proc/sys/kernel/ftrace_enabled && cat /proc/sys/kernel/ftrace_enabled
        echo 2 > /proc/sys/kernel/kptr_restrict && cat /proc/sys/kernel/kptr_restrict
        grep -c . /proc/kallsyms
        grep ' tracing_mark_write$' /proc/kallsyms | cut -d' ' -f2-
        """)
    result = in_namespace(fresh, "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["1", "0", "2", "2", "T tracing_mark_write"]
    assert {name: Path(f"/proc/sys/kernel/{name}").read_text() for name in host} == host


def test_exit_status_of_the_command_comes_back(fresh: Mount) -> None:
    assert in_namespace(fresh, "sh", "-c", "exit 7").returncode == 7


@pytest.mark.parametrize("args, message", [
    (["--", "no-such-command-here"], "no-such-command-here: command not found"),
    ([], "no command given"),
    (["--mount", "/nonexistent/dir", "--", "true"], "no ftrace-mmio mount at /nonexistent/dir"),
])
def test_refusals_say_why(fresh: Mount, args: list[str], message: str) -> None:
    result = ftrace_mmio("exec", *(["--mount", str(fresh.path)] if "--mount" not in args else []), *args)
    assert result.returncode == 1
    assert message in result.stderr


def test_a_bind_that_is_not_our_filesystem_runs_nothing(tmp_path: Path) -> None:
    """enter() verifies after binding: a plain directory is refused (in a child: it unshares)."""
    plain = tmp_path / "plain"
    plain.mkdir()
    code = textwrap.dedent(f"""\
        from ftrace_mmio.cli.nsexec import NamespaceError, Plan, enter
        try:
            enter(Plan(mountpoint={str(plain)!r}, targets=["/sys/kernel/tracing"], method="preload", cpus=None))
        except NamespaceError as exc:
            print(exc)
        else:
            print("verified a plain directory")
        """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert "/sys/kernel/tracing is not our FUSE filesystem after binding" in result.stdout


def test_with_a_host_tracefs_ours_covers_every_tracefs_line(fresh: Mount,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The "mounts" method, planned as if the host had tracefs at both usual places."""
    monkeypatch.setenv("FTRACE_MMIO_RUNTIME_DIR", str(fresh.path.parent / "run"))
    monkeypatch.setattr(nsexec, "tracefs_mount_points",
                        lambda: ["/sys/kernel/debug/tracing", "/sys/kernel/tracing"])
    plan = nsexec.plan(str(fresh.path))
    assert plan.method == "mounts"
    assert plan.targets == ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
    assert plan.cpus == CPUS
    assert "LD_PRELOAD" not in nsexec.command_env(plan) or \
        nsexec.command_env(plan)["LD_PRELOAD"] == os.environ.get("LD_PRELOAD")
    monkeypatch.setattr(nsexec, "tracefs_mount_points", lambda: [])
    assert nsexec.plan(str(fresh.path)).method == "preload"
