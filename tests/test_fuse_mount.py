"""The tracing directory over a real FUSE mount, driven by real shell commands.

Every test mounts through ``ftrace-mmio mount`` (see fuse_util) and the
fixtures unmount through ``ftrace-mmio umount``, checking that nothing stays
mounted or running.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from fuse_util import (  # noqa: F401 - fixtures
    Mount,
    assert_marker_line,
    cli,
    fresh_mount,
    header,
    mounted,
    needs_fuse,
    runtime_dir,
    shared_mount,
    unmount_and_check,
    wait_until,
)
from ftrace_mmio.cli.fs import mounts_at
from ftrace_mmio.control import ControlError, call, pid_alive
from ftrace_mmio.trace.array import TraceArray
from ftrace_mmio.trace.files import build_tree
from tracefs.nodes import Request

pytestmark = [needs_fuse, pytest.mark.fuse]

# bash: wait until process $reader sleeps inside a read() (syscall 0), i.e. is blocked on trace_pipe.
WAIT_BLOCKED = (
    "blocked() { [ \"$(cut -d' ' -f1 /proc/$1/syscall 2>/dev/null)\" = 0 ]; }\n"
    "until blocked $reader; do sleep 0.02; done\n"
)


def in_process(path: str) -> bytes:
    """What a fresh tree serves in process: the FUSE bytes must be the same."""
    tree = build_tree(TraceArray())
    node = tree.lookup(path)
    req = Request()
    handle = node.open(req)
    try:
        return handle.read(1 << 16, 0, req)
    finally:
        handle.release()


# -- reading and writing control files ----------------------------------------


def test_available_tracers_matches_the_tree(mounted: Mount) -> None:
    out = subprocess.run(["cat", "available_tracers"], cwd=mounted.path, capture_output=True).stdout
    # A mount carries a machine, so mmiotrace is registered, newest first.
    assert out == b"mmiotrace nop\n"


def test_unknown_tracer_is_invalid_argument(mounted: Mount) -> None:
    result = mounted.sh("echo bogus > current_tracer")
    assert result.returncode == 1
    assert "Invalid argument" in result.stderr
    assert mounted.ok("cat current_tracer") == "nop\n"


def test_marker_shows_in_trace_with_the_writers_pid(mounted: Mount) -> None:
    out = mounted.ok("echo $$; echo hi > trace_marker; cat trace")
    pid_line, rest = out.split("\n", 1)
    lines = rest.splitlines()
    assert "\n".join(lines[:12]) + "\n" == header(1, 1)
    assert len(lines) == 13
    assert_marker_line(lines[12], int(pid_line), "hi")


def test_trace_pipe_returns_an_entry_once(mounted: Mount) -> None:
    pid = int(mounted.ok("echo $$; echo once > trace_marker").strip())
    first = mounted.sh("timeout 1 cat trace_pipe")
    assert first.returncode == 124  # still blocking when timeout ended it: trace_pipe never gives EOF
    (line,) = first.stdout.splitlines()
    assert_marker_line(line, pid, "once")
    again = mounted.sh("timeout 0.5 cat trace_pipe")
    assert (again.returncode, again.stdout) == (124, "")
    assert mounted.ok("cat trace") == header(0, 0)


def test_echo_into_trace_clears_it(mounted: Mount) -> None:
    mounted.ok("echo a > trace_marker; echo b > trace_marker")
    assert header(2, 2).splitlines()[2] in mounted.ok("cat trace")
    mounted.ok("echo > trace")  # O_TRUNC reaches us as a truncate request of its own
    assert mounted.ok("cat trace") == header(0, 0)


def test_short_marker_write_passes_through(mounted: Mount) -> None:
    result = mounted.py(
        "import os\n"
        "fd = os.open('trace_marker', os.O_WRONLY)\n"
        "print(os.write(fd, b'x' * 5000))\n"
    )
    assert result.stdout == "4054\n"  # the kernel's largest marker with 4 KiB sub-buffers


# -- trace_pipe: exclusivity, blocking, signals ---------------------------------


def test_second_trace_pipe_reader_is_busy(mounted: Mount) -> None:
    result = mounted.sh(
        "cat trace_pipe > /dev/null & reader=$!\n"
        + WAIT_BLOCKED +
        "cat trace_pipe; status=$?\n"
        "kill $reader; wait $reader\n"
        "exit $status\n"
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "cat: trace_pipe: Device or resource busy"


def test_blocked_reader_is_woken_by_a_marker(mounted: Mount, tmp_path: Path) -> None:
    out = tmp_path / "pipe.out"
    result = mounted.sh(
        f"cat trace_pipe > {out} & reader=$!\n"
        + WAIT_BLOCKED +
        "echo $$; echo wake > trace_marker\n"
        f"while ! grep -q wake {out}; do sleep 0.02; done\n"
        "kill $reader; wait $reader; echo status=$?\n"
    )
    pid_line, status = result.stdout.splitlines()
    assert status == "status=143"  # ended by our SIGTERM, never by EOF
    (line,) = out.read_text().splitlines()
    assert_marker_line(line, int(pid_line), "wake")


def test_sigint_ends_a_blocked_cat(mounted: Mount) -> None:
    result = mounted.sh("timeout -s INT 1 cat trace_pipe; echo status=$?")
    assert result.stdout == "status=124\n"


def test_caught_signal_interrupts_a_blocked_read(mounted: Mount) -> None:
    # A reader that handles the signal gets EINTR back from read(), so its
    # handler runs; here the handler raises, which ends the read for good.
    result = mounted.py(
        "import os, signal\n"
        "class Alarm(Exception): pass\n"
        "def on_alarm(sig, frame): raise Alarm\n"
        "signal.signal(signal.SIGALRM, on_alarm)\n"
        "fd = os.open('trace_pipe', os.O_RDONLY)\n"
        "signal.setitimer(signal.ITIMER_REAL, 0.3)\n"
        "try:\n"
        "    os.read(fd, 4096)\n"
        "except Alarm:\n"
        "    print('interrupted')\n"
    )
    assert result.stdout == "interrupted\n"


def test_job_control_stop_does_not_end_the_read(mounted: Mount, tmp_path: Path) -> None:
    out = tmp_path / "pipe.out"
    result = mounted.sh(
        f"cat trace_pipe > {out} & reader=$!\n"
        + WAIT_BLOCKED +
        "kill -TSTP $reader\n"
        "while ! grep -q '^ShdPnd:.*80000$' /proc/$reader/status; do sleep 0.02; done\n"
        "kill -CONT $reader\n"
        "echo after-stop > trace_marker\n"
        f"while ! grep -q after-stop {out}; do sleep 0.02; done\n"
        "kill $reader; wait $reader; echo status=$?\n"
    )
    assert result.stdout == "status=143\n", result.stderr
    assert out.read_text().endswith(": tracing_mark_write: after-stop\n")


def test_nonblocking_read_of_empty_pipe_is_eagain(mounted: Mount) -> None:
    result = mounted.py(
        "import errno, os\n"
        "fd = os.open('trace_pipe', os.O_RDONLY | os.O_NONBLOCK)\n"
        "for op in (lambda: os.read(fd, 100), lambda: os.lseek(fd, 0, os.SEEK_SET)):\n"
        "    try:\n"
        "        op()\n"
        "    except OSError as e:\n"
        "        print(errno.errorcode[e.errno])\n"
    )
    assert result.stdout == "EAGAIN\nESPIPE\n"


def test_poll_reports_readable_only_with_data(mounted: Mount) -> None:
    result = mounted.py(
        "import os, select\n"
        "fd = os.open('trace_pipe', os.O_RDONLY | os.O_NONBLOCK)\n"
        "p = select.poll(); p.register(fd, select.POLLIN)\n"
        "print(bool(p.poll(200)))\n"
        "w = os.open('trace_marker', os.O_WRONLY); os.write(w, b'ping')\n"
        "print(bool(p.poll(20000)))\n"
        "print(os.read(fd, 4096).decode().endswith('tracing_mark_write: ping\\n'))\n"
    )
    assert result.stdout == "False\nTrue\nTrue\n"


# -- the directory itself ------------------------------------------------------


def test_modes_owner_and_sizes(mounted: Mount) -> None:
    listing = {line.split()[-1]: line.split() for line in mounted.ok("ls -l").splitlines()[1:]}
    assert listing["available_tracers"][0] == "-r--r-----"
    assert listing["trace_pipe"][0] == "-r--r-----"
    assert listing["current_tracer"][0] == "-rw-r-----"
    assert listing["trace"][0] == "-rw-r-----"
    assert listing["trace_marker"][0] == "--w--w----"
    # 1, not tracefs's 0: what makes sendfile ask the daemon (tracefs/fuse.py).
    assert {fields[4] for fields in listing.values() if fields[0][0] == "-"} == {"1"}
    top = mounted.ok("ls -ld .").split()
    assert top[0] == "drwx------"
    st = os.stat(mounted.path / "trace")
    assert (st.st_uid, st.st_gid, st.st_nlink, st.st_blocks) == (os.getuid(), os.getgid(), 1, 0)
    assert os.stat(mounted.path / "per_cpu").st_nlink == 2
    assert stat.S_IMODE(os.stat(mounted.path / "per_cpu").st_mode) == 0o750


def test_statfs_type_is_fuse(mounted: Mount) -> None:
    assert mounted.ok("stat -f -c %t .") == "65735546\n"
    (line,) = mounts_at(str(mounted.path))
    assert (line.source, line.fstype) == ("ftrace-mmio", "fuse.tracefs")


def test_namespace_changes_are_refused(mounted: Mount) -> None:
    result = mounted.sh("mkdir newdir")
    assert "Operation not permitted" in result.stderr and result.returncode == 1
    result = mounted.sh("touch newfile")
    assert "Permission denied" in result.stderr and result.returncode == 1
    result = mounted.sh("rm trace")
    assert "Operation not permitted" in result.stderr
    result = mounted.sh("mv trace trace2")
    assert "Operation not permitted" in result.stderr
    result = mounted.sh("chmod 666 trace")
    assert "Operation not permitted" in result.stderr
    result = mounted.sh("rm nosuchfile")
    assert "No such file or directory" in result.stderr
    assert mounted.sh("touch trace").returncode == 0  # an existing file: times only


# -- the control channel ---------------------------------------------------------


def test_control_socket(mounted: Mount, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTRACE_MMIO_RUNTIME_DIR", str(Path(mounted.socket).parent))
    sock = Path(mounted.socket)
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
    assert call("ping") == {"ok": True, "pid": mounted.pid}
    status = call("status", mount=str(mounted.path))
    assert (status["mountpoint"], status["tracer"], status["cpus"]) == (str(mounted.path), "nop", 2)
    with pytest.raises(ControlError) as err:
        call("no-such-op")
    assert err.value.errno == errno.EOPNOTSUPP
    with pytest.raises(ControlError) as err:
        call("status", mount="/nonexistent")
    assert err.value.errno == errno.ENOENT


# -- mount and umount ------------------------------------------------------------


def test_umount_of_a_busy_mount_says_so(fresh_mount: Mount) -> None:
    reader = subprocess.Popen(["cat", "trace_pipe"], cwd=fresh_mount.path, stdout=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: any(os.readlink(f"/proc/{reader.pid}/fd/{fd}").endswith("trace_pipe")
                                      for fd in os.listdir(f"/proc/{reader.pid}/fd")))
        result = cli("umount", str(fresh_mount.path))
        assert result.returncode == 1
        assert "Device or resource busy" in result.stderr and "--lazy" in result.stderr
        assert pid_alive(fresh_mount.pid)
    finally:
        reader.terminate()
        reader.wait()


def test_sigterm_to_the_daemon_unmounts(fresh_mount: Mount) -> None:
    os.kill(fresh_mount.pid, signal.SIGTERM)
    assert wait_until(lambda: not pid_alive(fresh_mount.pid))
    assert not mounts_at(str(fresh_mount.path))


def test_dead_daemon_mount_is_recovered(fresh_mount: Mount) -> None:
    os.kill(fresh_mount.pid, signal.SIGKILL)
    assert wait_until(lambda: not pid_alive(fresh_mount.pid))
    with pytest.raises(OSError) as err:
        os.listdir(fresh_mount.path)
    # "Transport endpoint is not connected" (while the abort is still settling:
    # "Software caused connection abort").
    assert err.value.errno in (errno.ENOTCONN, errno.ECONNABORTED)
    result = cli("umount", str(fresh_mount.path))
    assert result.returncode == 0, result.stderr
    assert not mounts_at(str(fresh_mount.path))


def test_mount_refuses_real_tracefs_and_umount_refuses_foreign_mounts(runtime_dir: Path) -> None:
    for path in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        result = cli("mount", path)
        assert result.returncode == 1
        assert "refusing to mount over the host's tracing directory" in result.stderr
    result = cli("umount", "/proc")
    assert result.returncode == 1
    assert "not an ftrace-mmio mount" in result.stderr


def test_mount_options_reach_the_daemon(tmp_path: Path, runtime_dir: Path) -> None:
    from fuse_util import mount

    m = mount(tmp_path / "t", "--cpus", "4", "--clock", "det", "--buffer-size-kb", "7")
    try:
        assert "#P:4" in m.ok("cat trace")
        assert m.ok("cat trace_clock").split()[-1] == "[det]"
        m.ok("echo nop > current_tracer")  # expands to the --buffer-size-kb default
        assert m.ok("cat buffer_size_kb") == "7\n"
    finally:
        unmount_and_check(m)


def test_mount_point_must_be_a_directory(tmp_path: Path, runtime_dir: Path) -> None:
    result = cli("mount", str(tmp_path / "missing"))
    assert result.returncode == 1
    assert "not a directory" in result.stderr


def test_cli_help_has_examples() -> None:
    for command in ("mount", "umount", "mounts"):
        result = cli(command, "--help")
        assert result.returncode == 0
        assert "example:" in result.stdout


def test_foreground_mount_ends_on_sigint(tmp_path: Path, runtime_dir: Path) -> None:
    from tracefs.fuse import is_fuse_mount

    mnt = tmp_path / "fg"
    mnt.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "ftrace_mmio", "mount", "-f", str(mnt)],
                            stderr=subprocess.PIPE, text=True)
    try:
        assert "control socket" in proc.stderr.readline()  # printed once the mount answers
        assert is_fuse_mount(mnt)
        assert (mnt / "current_tracer").read_text() == "nop\n"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
        assert not mounts_at(str(mnt))
        assert not list(runtime_dir.glob("mount-*.json"))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if mounts_at(str(mnt)):
            cli("umount", "--lazy", str(mnt))
