"""The control channel: commands to a mounted machine over a Unix socket.

A mount's daemon listens on a Unix stream socket (mode 0600) in the runtime
directory and leaves a registry file next to it, so that ``ftrace-mmio
insmod`` and friends can find "the" running mount without being told.

Wire format, one JSON object per line each way::

    -> {"op": "lsmod", "args": {}}
    <- {"ok": true, ...}                                  on success
    <- {"ok": false, "error": "...", "errno": 2}          on failure

Handlers are plain functions ``fn(system, **args) -> dict | None``; an
``OSError`` they raise travels back with its errno, and ``call`` raises it
again on the client side as ``ControlError`` (an OSError).

Only the mounting user and root may talk to a daemon: the socket mode says
so, and the server checks the peer's SO_PEERCRED uid as well.

Runtime directory: ``$FTRACE_MMIO_RUNTIME_DIR`` if set (tests use it),
else ``$XDG_RUNTIME_DIR/ftrace-mmio``, else ``/tmp/ftrace-mmio-<uid>``;
created 0700 and refused if another user owns it.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import stat
import struct
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)

Handler = Callable[..., "dict[str, Any] | None"]

#: One request or response line may not be longer than this.
MAX_LINE = 1 << 20
REGISTRY_PREFIX = "mount-"


class ControlError(OSError):
    """A command failed; ``errno`` and ``strerror`` say how."""


# ---------------------------------------------------------------------------
# Runtime directory and the registry of running mounts.


def runtime_dir(create: bool = True) -> Path:
    env = os.environ.get("FTRACE_MMIO_RUNTIME_DIR")
    if env:
        path = Path(env)
    elif os.environ.get("XDG_RUNTIME_DIR"):
        path = Path(os.environ["XDG_RUNTIME_DIR"]) / "ftrace-mmio"
    else:
        path = Path(f"/tmp/ftrace-mmio-{os.getuid()}")
    if create:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = path.lstat()
        # In a shared /tmp someone else could have made it first: refuse.
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            raise ControlError(errno.EPERM, f"runtime directory {path} is not a directory owned by you")
        if stat.S_IMODE(st.st_mode) & 0o077:
            path.chmod(0o700)
    return path


@dataclass
class MountEntry:
    """One running mount, as its daemon registered it."""

    pid: int
    mountpoint: str
    socket: str
    uid: int
    log: str = ""

    @property
    def registry_file(self) -> Path:
        return Path(self.socket).parent / f"{REGISTRY_PREFIX}{self.pid}.json"


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs. A zombie counts as gone: a background daemon's
    parent has usually exited, and whoever inherits it reaps when it likes."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    # The state letter follows the parenthesised command name.
    state = stat_line.rpartition(")")[2].split()[:1]
    return state != ["Z"]


def socket_answers(path: str | Path) -> bool:
    """True if something listens on the Unix socket ``path``.

    A registry entry whose pid is alive can still be stale: after a kill -9
    the pid may be reused by an unrelated process. Its socket then refuses
    connections (or is gone), which is what tells the two apart.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.setblocking(False)
        try:
            sock.connect(str(path))
        except BlockingIOError:
            return True  # listening, backlog full: a busy daemon is still a daemon
        except OSError:
            return False
    return True


def register_mount(mountpoint: str, socket_path: str | Path, log_path: str = "") -> MountEntry:
    entry = MountEntry(os.getpid(), str(mountpoint), str(socket_path), os.getuid(), log_path)
    path = entry.registry_file
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(entry)) + "\n")
    tmp.chmod(0o600)
    tmp.replace(path)
    return entry


def unregister_mount(entry: MountEntry) -> None:
    entry.registry_file.unlink(missing_ok=True)
    Path(entry.socket).unlink(missing_ok=True)


def running_mounts(clean: bool = True) -> list[MountEntry]:
    """Registered mounts whose daemon is alive; stale entries are removed."""
    entries = []
    for path in sorted(runtime_dir().glob(f"{REGISTRY_PREFIX}*.json")):
        try:
            entry = MountEntry(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            if clean:
                path.unlink(missing_ok=True)
            continue
        if pid_alive(entry.pid) and socket_answers(entry.socket):
            entries.append(entry)
        elif clean:
            unregister_mount(entry)
    return entries


#: Names the mount for commands run without --mount (after the current directory).
MOUNT_ENV = "FTRACE_MMIO_MOUNT"


def _cwd() -> str | None:
    try:
        return os.path.realpath(os.getcwd())
    except OSError:  # a deleted directory, or a dead FUSE mount
        return None


def mount_of_cwd(entries: list[MountEntry], cwd: str | None = None) -> MountEntry | None:
    """The running mount the current directory is in (the innermost), if any."""
    cwd = _cwd() if cwd is None else cwd
    if cwd is None:
        return None
    best: MountEntry | None = None
    for entry in entries:
        point = os.path.realpath(entry.mountpoint)
        if (cwd == point or cwd.startswith(point.rstrip("/") + "/")) and (
                best is None or len(point) > len(os.path.realpath(best.mountpoint))):
            best = entry
    return best


def mounts_below_cwd(entries: list[MountEntry], cwd: str | None = None) -> list[MountEntry]:
    """The running mounts whose mount point is under the current directory."""
    cwd = _cwd() if cwd is None else cwd
    if cwd is None:
        return []
    prefix = cwd.rstrip("/") + "/"
    return [e for e in entries if os.path.realpath(e.mountpoint).startswith(prefix)]


def find_mount(mount: str | None = None) -> MountEntry:
    """The mount a command acts on.

    ``mount`` (``--mount``) names it by its mount point. Without it: the mount
    the current directory is in, then ``$FTRACE_MMIO_MOUNT``, then the only
    one below the current directory (``ftrace-mmio mount t`` then
    ``ftrace-mmio insmod ...`` from the same place), then the only one
    running; with several and none of these, refuse and list them.
    """
    entries = running_mounts()
    if mount is None:
        here = mount_of_cwd(entries)
        if here is not None:
            return here
        mount = os.environ.get(MOUNT_ENV) or None
        named_by = f"${MOUNT_ENV}"
        if mount is None:
            below = mounts_below_cwd(entries)
            if len(below) == 1:
                return below[0]
    else:
        named_by = "--mount"
    if mount is not None:
        want = os.path.realpath(mount)
        for entry in entries:
            if os.path.realpath(entry.mountpoint) == want:
                return entry
        raise ControlError(errno.ENOENT, f"no ftrace-mmio mount at {mount} ({named_by}; "
                                         "see: ftrace-mmio mounts, ftrace-mmio mount --help)")
    if not entries:
        raise ControlError(errno.ENOENT, "no ftrace-mmio mount is running; start one: ftrace-mmio mount DIR")
    if len(entries) > 1:
        where = ", ".join(e.mountpoint for e in entries)
        raise ControlError(errno.EINVAL, f"several ftrace-mmio mounts are running ({where}); name one with "
                                         f"--mount, set ${MOUNT_ENV}, or run from inside the mount")
    return entries[0]


def dead_mounts(exclude: list[MountEntry] | None = None) -> list[str]:
    """Mount points of this user's ftrace-mmio mounts whose daemon is gone.

    /proc/mounts still lists them (until ``ftrace-mmio umount``); every access
    fails with ENOTCONN. Found from /proc/mounts, not the registry, so a
    daemon killed with -9 (which never unregistered) is seen too.
    """
    live = {os.path.realpath(e.mountpoint) for e in (exclude or [])}
    found = []
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        parts = line.split()
        if len(parts) < 4 or parts[0] != "ftrace-mmio" or parts[2] != "fuse.tracefs":
            continue
        if f"user_id={os.getuid()}" not in parts[3].split(","):
            continue
        point = _unescape_mount_field(parts[1])
        if point in live or point in found:
            continue
        try:
            os.statvfs(point)   # statfs always reaches the daemon (stat may be cached)
        except OSError as exc:
            if exc.errno in (errno.ENOTCONN, errno.ECONNABORTED):
                found.append(point)
    return found


def _unescape_mount_field(field: str) -> str:
    # /proc/mounts writes space, tab, newline and backslash as \ooo.
    out, i = [], 0
    while i < len(field):
        code = field[i + 1:i + 4]
        if field[i] == "\\" and len(code) == 3 and code.isdigit():
            out.append(chr(int(code, 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


# ---------------------------------------------------------------------------
# Server.


def _peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid


def _error(exc: BaseException, err: int) -> dict[str, Any]:
    message = getattr(exc, "strerror", None) or str(exc) or os.strerror(err)
    return {"ok": False, "error": message, "errno": err}


class ControlServer:
    """Answers JSON-lines requests on a Unix socket with registered handlers.

    ``system`` is handed to every handler as its first argument. Built-in ops:
    ``ping`` (answers ``{"pid": ...}``) and ``ops`` (the registered names).
    """

    def __init__(self, system: Any, handlers: dict[str, Handler] | None = None,
                 path: str | Path | None = None,
                 thread_setup: Callable[[], None] | None = None) -> None:
        self.system = system
        self.handlers: dict[str, Handler] = {}
        self.register("ping", lambda _system: {"pid": os.getpid()})
        self.register("ops", lambda _system: {"ops": sorted(self.handlers)})
        for op, fn in (handlers or {}).items():
            self.register(op, fn)
        self.path = Path(path) if path else runtime_dir() / f"ctl-{os.getpid()}.sock"
        self.uid = os.getuid()
        self._thread_setup = thread_setup
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def register(self, op: str, fn: Handler) -> None:
        self.handlers[op] = fn

    def start(self) -> Path:
        self.path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # Create the socket file 0600 from the start, not chmod it afterwards.
        old = os.umask(0o177)
        try:
            sock.bind(str(self.path))
        finally:
            os.umask(old)
        sock.listen(16)
        self._sock = sock
        self._thread = threading.Thread(target=self._accept_loop, name="control", daemon=True)
        self._thread.start()
        return self.path

    def stop(self) -> None:
        self._stopping.set()
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> ControlServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        if self._thread_setup:
            self._thread_setup()
        assert self._sock is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve_conn, args=(conn,), name="control-conn", daemon=True).start()

    def _serve_conn(self, conn: socket.socket) -> None:
        with conn:
            uid = _peer_uid(conn)
            if uid not in (self.uid, 0):
                self._send(conn, {"ok": False, "error": "permission denied: not the mounting user",
                                  "errno": errno.EACCES})
                return
            reader = conn.makefile("rb")
            while True:
                line = reader.readline(MAX_LINE + 1)
                if not line:
                    return
                if len(line) > MAX_LINE:
                    self._send(conn, {"ok": False, "error": "request line too long", "errno": errno.E2BIG})
                    return
                if not self._send(conn, self.handle_line(line)):
                    return

    @staticmethod
    def _send(conn: socket.socket, reply: dict[str, Any]) -> bool:
        try:
            conn.sendall(json.dumps(reply).encode() + b"\n")
            return True
        except OSError:
            return False

    def handle_line(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
            op = request["op"]
            args = request.get("args") or {}
            if not isinstance(op, str) or not isinstance(args, dict):
                raise TypeError("op must be a string and args an object")
        except (ValueError, KeyError, TypeError) as exc:
            return _error(ValueError(f"bad request: {exc}"), errno.EINVAL)
        return self.dispatch(op, args)

    def dispatch(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        fn = self.handlers.get(op)
        if fn is None:
            return _error(LookupError(f"unknown command {op!r}"), errno.EOPNOTSUPP)
        try:
            result = fn(self.system, **args)
        except OSError as exc:
            return _error(exc, exc.errno or errno.EIO)
        except (TypeError, ValueError) as exc:
            return _error(exc, errno.EINVAL)
        except Exception as exc:  # a handler bug must not kill the daemon
            log.exception("control op %s failed", op)
            return _error(exc, errno.EIO)
        reply: dict[str, Any] = {"ok": True}
        reply.update(result or {})
        return reply


# ---------------------------------------------------------------------------
# Client.


def call(op: str, mount: str | None = None, timeout: float | None = 60.0, **args: Any) -> dict[str, Any]:
    """Send one command to a running mount's daemon and return its reply.

    ``mount`` names the mount point; without it the only running mount is
    used. Raises ControlError with the daemon's errno when the command fails.
    """
    entry = find_mount(mount)
    return call_socket(entry.socket, op, timeout=timeout, **args)


def call_socket(path: str | Path, op: str, timeout: float | None = 60.0, **args: Any) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except OSError as exc:
            raise ControlError(exc.errno or errno.ECONNREFUSED,
                               f"cannot reach the daemon at {path}: {exc.strerror}") from None
        sock.sendall(json.dumps({"op": op, "args": args}).encode() + b"\n")
        reply_line = sock.makefile("rb").readline(MAX_LINE + 1)
    if not reply_line:
        raise ControlError(errno.ECONNRESET, f"the daemon at {path} closed the connection")
    reply = json.loads(reply_line)
    if not reply.get("ok"):
        raise ControlError(int(reply.get("errno") or errno.EIO), reply.get("error") or "command failed")
    return reply
