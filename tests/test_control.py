"""The control channel in process: a real Unix socket, a real registry directory."""

from __future__ import annotations

import errno
import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ftrace_mmio import control
from ftrace_mmio.control import ControlError, ControlServer, call, call_socket


@pytest.fixture
def rundir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "run"
    monkeypatch.setenv("FTRACE_MMIO_RUNTIME_DIR", str(path))
    return path


@pytest.fixture
def server(rundir: Path):
    system = {"loaded": []}

    def insmod(system: dict, name: str) -> dict:
        if name == "missing":
            raise OSError(errno.ENOENT, f"module {name} not found")
        system["loaded"].append(name)
        return {"loaded": list(system["loaded"])}

    with ControlServer(system, {"insmod": insmod}) as srv:
        yield srv


def raw_exchange(path: Path, payload: bytes) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(path))
        sock.sendall(payload)
        return json.loads(sock.makefile("rb").readline())


def test_requests_and_replies(server: ControlServer) -> None:
    assert call_socket(server.path, "ping") == {"ok": True, "pid": os.getpid()}
    assert call_socket(server.path, "insmod", name="uart")["loaded"] == ["uart"]
    assert server.system["loaded"] == ["uart"]
    assert "insmod" in call_socket(server.path, "ops")["ops"]


@pytest.mark.parametrize("op, args, code, text", [
    ("insmod", {"name": "missing"}, errno.ENOENT, "module missing not found"),
    ("insmod", {}, errno.EINVAL, "missing 1 required"),
    ("nope", {}, errno.EOPNOTSUPP, "unknown command 'nope'"),
])
def test_errors_carry_errno(server: ControlServer, op: str, args: dict, code: int, text: str) -> None:
    with pytest.raises(ControlError) as err:
        call_socket(server.path, op, **args)
    assert err.value.errno == code
    assert text in err.value.strerror


def test_bad_request_lines(server: ControlServer) -> None:
    assert raw_exchange(server.path, b"not json\n")["errno"] == errno.EINVAL
    assert raw_exchange(server.path, b'{"args": {}}\n')["errno"] == errno.EINVAL
    reply = raw_exchange(server.path, b'{"op": "ping"}\n')  # args may be left out
    assert reply["ok"] is True


def test_several_requests_on_one_connection(server: ControlServer) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(server.path))
        sock.sendall(b'{"op": "ping"}\n{"op": "insmod", "args": {"name": "a"}}\n')
        reader = sock.makefile("rb")
        assert json.loads(reader.readline())["ok"] is True
        assert json.loads(reader.readline())["loaded"] == ["a"]


def test_socket_and_directory_modes(server: ControlServer, rundir: Path) -> None:
    assert stat.S_IMODE(server.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(rundir.stat().st_mode) == 0o700
    assert server.path.parent == rundir


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to act as another user")
def test_other_users_are_refused() -> None:
    # A socket everyone may open, so that only the SO_PEERCRED check stands in the way.
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        with ControlServer(None, path=Path(tmp, "open.sock")) as srv:
            srv.path.chmod(0o666)
            code = (
                "import json, os, socket, sys\n"
                "os.setgid(65534); os.setuid(65534)\n"
                "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
                "s.sendall(b'{\"op\": \"ping\"}\\n')\n"
                "print(json.loads(s.makefile('rb').readline())['errno'])\n"
            )
            result = subprocess.run([sys.executable, "-c", code, str(srv.path)], capture_output=True, text=True)
    assert result.stdout.strip() == str(errno.EACCES), result.stderr


def test_registry_finds_the_only_mount_and_cleans_stale_ones(server: ControlServer, rundir: Path) -> None:
    with pytest.raises(ControlError) as err:
        call("ping")
    assert err.value.errno == errno.ENOENT and "no ftrace-mmio mount is running" in err.value.strerror

    entry = control.register_mount("/tmp/somewhere", server.path)
    assert stat.S_IMODE(entry.registry_file.stat().st_mode) == 0o600
    assert call("ping")["pid"] == os.getpid()
    assert call("ping", mount="/tmp/somewhere")["pid"] == os.getpid()

    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = control.MountEntry(dead.pid, "/tmp/gone", str(rundir / "ctl-x.sock"), os.getuid())
    stale.registry_file.write_text(json.dumps(stale.__dict__))
    assert [e.mountpoint for e in control.running_mounts()] == ["/tmp/somewhere"]
    assert not stale.registry_file.exists()

    other = control.MountEntry(1, "/tmp/other", str(server.path), os.getuid())  # pid 1 is alive
    other.registry_file.write_text(json.dumps(other.__dict__))
    with pytest.raises(ControlError) as err:
        call("ping")
    assert err.value.errno == errno.EINVAL and "name one with --mount" in err.value.strerror
    other.registry_file.unlink()
    control.unregister_mount(entry)
    assert not server.path.exists() and not entry.registry_file.exists()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to make a directory owned by someone else")
def test_runtime_dir_owned_by_someone_else_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "theirs"
    path.mkdir(mode=0o700)
    os.chown(path, 65534, 65534)
    monkeypatch.setenv("FTRACE_MMIO_RUNTIME_DIR", str(path))
    with pytest.raises(ControlError) as err:
        control.runtime_dir()
    assert err.value.errno == errno.EPERM


def test_unreachable_daemon(rundir: Path) -> None:
    rundir.mkdir(mode=0o700)
    with pytest.raises(ControlError) as err:
        call_socket(rundir / "nothing.sock", "ping")
    assert err.value.errno == errno.ENOENT and "cannot reach the daemon" in err.value.strerror
