"""Who may use a mount and its control channel, and how big a request may be.

* A mount is usable only by the user who mounted it: another user cannot
  even stat the mount point (FUSE refuses before any mode check).
  ``--allow-other`` lifts that gate, and then the kernel's own modes (top
  directory 0700, files 0640/0440/0220, owned by the mounting user) still
  keep everyone else out, as on a real tracefs.
* The control socket lives in a 0700 directory with mode 0600; and even when
  someone loosens those modes, the daemon checks the peer's credentials
  (SO_PEERCRED) and answers anyone else with EACCES.
* Sizes are bounded with clear errors: a control request line over 1 MiB is
  answered E2BIG and the connection closed (the daemon keeps serving); a
  marker write is cut at 4054 bytes (a short write) so ``cat big >
  trace_marker`` becomes several entries with every byte kept.

"Another user" is the unprivileged ``nobody`` account (no host changes); if
it does not exist a throwaway user is created with useradd and removed.
Tests that act as another user need root, and skip with that reason otherwise.
"""

from __future__ import annotations

import errno
import json
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from fuse_util import (  # noqa: F401 - fixtures
    MARKER_LINE,
    Mount,
    mount,
    mounted,
    needs_fuse,
    shared_mount,
    unmount_and_check,
)
from ftrace_mmio.control import MAX_LINE, call_socket

pytestmark = [needs_fuse, pytest.mark.fuse]
needs_root = pytest.mark.skipif(os.getuid() != 0, reason="acting as another user needs root")

# The other user runs only system tools: the project's venv may live under a
# directory that user cannot enter (/root).
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin")


@pytest.fixture(scope="module")
def other_user() -> Iterator[tuple[int, int]]:
    """(uid, gid) of an unprivileged user that is not us."""
    try:
        pw = pwd.getpwnam("nobody")
        yield pw.pw_uid, pw.pw_gid
        return
    except KeyError:
        pass
    name = "ftmio-rel-test"
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                   check=True, capture_output=True)
    try:
        pw = pwd.getpwnam(name)
        yield pw.pw_uid, pw.pw_gid
    finally:
        subprocess.run(["userdel", name], capture_output=True)


def as_user(user: tuple[int, int], *argv: str) -> subprocess.CompletedProcess[str]:
    uid, gid = user
    return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *argv],
                          capture_output=True, text=True, timeout=60, cwd="/")


@pytest.fixture
def open_base(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory every user can traverse (pytest's tmp_path is 0700 root), with a
    plain sibling directory as a control: the other user *can* reach that one.
    The runtime directory (registry, control sockets) is in it too."""
    base = Path(tempfile.mkdtemp(prefix="ftmio-sec-"))
    monkeypatch.setenv("FTRACE_MMIO_RUNTIME_DIR", str(base / "run"))
    try:
        base.chmod(0o755)
        (base / "plain").mkdir(mode=0o755)
        yield base
    finally:
        for d in base.iterdir():
            assert not os.path.ismount(d), f"{d} still mounted"
        shutil.rmtree(base)


@needs_root
def test_only_the_mounting_user_gets_in(other_user, open_base: Path) -> None:
    m = mount(open_base / "m")
    try:
        assert as_user(other_user, "stat", "-c", "%A", str(open_base / "plain")).returncode == 0
        for argv in (["stat", str(m.path)], ["ls", str(m.path)], ["cat", str(m.path / "trace")],
                     ["sh", "-c", f"echo x > {m.path}/trace_marker"]):
            result = as_user(other_user, *argv)
            assert result.returncode != 0 and "Permission denied" in result.stderr, (argv, result)
        # Not one byte reached the trace.
        assert m.ok("cat trace").count("tracing_mark_write") == 0
        assert m.ok("echo mine > trace_marker; cat trace").count("tracing_mark_write: mine") == 1
    finally:
        unmount_and_check(m)


@needs_root
def test_allow_other_lifts_the_gate_and_the_modes_still_hold(other_user, open_base: Path) -> None:
    m = mount(open_base / "m", "--allow-other")
    try:
        assert "allow_other" in next(line for line in Path("/proc/mounts").read_text().splitlines()
                                     if f" {m.path} " in line)
        seen = as_user(other_user, "stat", "-c", "%A %u", str(m.path))
        assert seen.returncode == 0 and seen.stdout == f"drwx------ {os.getuid()}\n"
        for argv in (["ls", str(m.path)], ["cat", str(m.path / "trace")],
                     ["sh", "-c", f"echo x > {m.path}/trace_marker"]):
            result = as_user(other_user, *argv)
            assert result.returncode != 0 and "Permission denied" in result.stderr, (argv, result)
        assert m.ok("cat trace").count("tracing_mark_write") == 0
    finally:
        unmount_and_check(m)


# -- the control channel ---------------------------------------------------------

RAW_PING = (
    "import json, socket, sys\n"
    "s = socket.socket(socket.AF_UNIX)\n"
    "try:\n"
    "    s.connect(sys.argv[1])\n"
    "except OSError as e:\n"
    "    print('connect', e.errno); sys.exit()\n"
    "try:\n"
    "    s.sendall(b'{\"op\": \"status\"}\\n')\n"
    "except BrokenPipeError:\n"
    "    pass  # refused and closed before the request went out: the reply is there\n"
    "print('reply', json.loads(s.makefile('rb').readline()).get('errno'))\n"
)


@needs_root
@pytest.mark.skipif(SYSTEM_PYTHON is None, reason="no system python3 for the other user")
def test_control_socket_refuses_other_users(other_user, open_base: Path) -> None:
    m = mount(open_base / "m")
    try:
        control_socket_refuses(other_user, m)
    finally:
        unmount_and_check(m)


def control_socket_refuses(other_user, mounted: Mount) -> None:
    sock = Path(mounted.socket)
    rundir = sock.parent
    assert stat.S_IMODE(rundir.stat().st_mode) == 0o700 and stat.S_IMODE(sock.stat().st_mode) == 0o600
    # 1. The modes keep them from connecting at all.
    result = as_user(other_user, SYSTEM_PYTHON, "-c", RAW_PING, str(sock))
    assert result.stdout == f"connect {errno.EACCES}\n", result.stderr
    # 2. With the modes loosened, the daemon itself refuses them (SO_PEERCRED).
    old_dir, old_sock = rundir.stat().st_mode, sock.stat().st_mode
    rundir.chmod(0o711)
    sock.chmod(0o666)
    try:
        result = as_user(other_user, SYSTEM_PYTHON, "-c", RAW_PING, str(sock))
    finally:
        rundir.chmod(stat.S_IMODE(old_dir))
        sock.chmod(stat.S_IMODE(old_sock))
    assert result.stdout == f"reply {errno.EACCES}\n", result.stderr
    # The mounting user is still served.
    assert call_socket(sock, "ping")["pid"] == mounted.pid


def test_oversized_control_request_is_refused_and_the_daemon_goes_on(mounted: Mount) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(60)
        s.connect(mounted.socket)
        reader = s.makefile("rb")
        chunk = b" " * 65536
        sent = 0
        try:
            while sent <= MAX_LINE:  # one line, no newline yet, past the limit
                s.sendall(chunk)
                sent += len(chunk)
            s.sendall(b"\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon may close before we finish: that is the point
        reply = json.loads(reader.readline())
        assert reply == {"ok": False, "error": "request line too long", "errno": errno.E2BIG}
        try:  # and the connection is closed (a reset: our surplus bytes were never read)
            assert reader.readline() == b""
        except ConnectionResetError:
            pass
    assert call_socket(mounted.socket, "ping")["pid"] == mounted.pid


def test_garbage_on_the_control_socket_gets_einval(mounted: Mount) -> None:
    for payload in (b"\xff\xfe\n", b"[]\n", b"5\n", b'"x"\n', b'{"op": 5}\n', b'{"args": {}}\n',
                    b'{"op": "status", "args": [1]}\n', b'{"op": "status", "args": {"bogus": 1}}\n'):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(60)
            s.connect(mounted.socket)
            s.sendall(payload)
            reply = json.loads(s.makefile("rb").readline())
        assert (reply["ok"], reply["errno"]) == (False, errno.EINVAL), payload
    assert call_socket(mounted.socket, "ping")["pid"] == mounted.pid


# -- markers: bounded, nothing lost ---------------------------------------------------


def test_big_marker_writes_are_cut_into_entries_and_keep_every_byte(mounted: Mount, tmp_path: Path) -> None:
    # One write() of 1 MiB takes 4054 bytes (a short write, as the kernel does).
    result = mounted.py(
        "import os\n"
        "fd = os.open('trace_marker', os.O_WRONLY)\n"
        "print(os.write(fd, b'y' * (1 << 20)))\n"
    )
    assert result.stdout == "4054\n"
    mounted.ok("echo > trace")
    # cat retries the rest after each short write: every byte lands, 4054 per entry at most.
    big = tmp_path / "big"
    body = "".join(f"{i:07d} " for i in range(12500))  # 100000 bytes, no newline
    big.write_text(body)
    mounted.ok(f"cat {big} > trace_marker")
    texts = [MARKER_LINE.fullmatch(line)[5] for line in mounted.ok("cat trace").splitlines()[12:]]
    assert all(len(t) <= 4054 for t in texts)
    assert len(texts) == -(-len(body) // 4054)
    assert "".join(texts) == body


def test_marker_flood_cannot_grow_the_buffer_past_its_size(mounted: Mount) -> None:
    mounted.ok("echo 1 > buffer_size_kb")
    try:
        mounted.py(
            "import os\n"
            "fd = os.open('trace_marker', os.O_WRONLY)\n"
            "for i in range(3000):\n"
            "    os.write(fd, b'z' * 4000)\n"
        )
        stats = mounted.ok("cat per_cpu/cpu0/stats")
        nbytes = int(re.search(r"^bytes: (\d+)$", stats, re.M)[1])
        # 2 sub-buffers of 4080 bytes, plus the page a consuming reader may hold.
        assert nbytes <= 3 * 4080
        assert int(re.search(r"^overrun: (\d+)$", stats, re.M)[1]) >= 3000 - 3
    finally:
        mounted.ok("echo 1408 > buffer_size_kb; echo > trace")
