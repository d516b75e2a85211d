"""Serve a ``nodes.Dir`` tree over FUSE (libfuse2, through fusepy's ctypes bindings).

Two layers:

* ``TreeOps``: the filesystem operations in plain Python (path in, dict or
  bytes or ``OSError`` out). It holds the table of open handles, keyed by the
  ``fh`` FUSE gives back on every later request.
* ``FuseServer``: the ctypes plumbing. It builds libfuse2's operations table
  (fusepy's, plus ``poll``, which fusepy leaves out), mounts with
  ``fuse_setup``, runs the multi-threaded loop, and unmounts with
  ``fuse_teardown``. Owning the ``struct fuse *`` lets a blocked read notice
  that the loop is exiting.

Things the kernel makes us do (spec tracefs.md section 8):

* Contents are computed per open, so every open sets ``direct_io``: read,
  pread and readv then reach ``read`` whatever size the file reports.
* sendfile, splice and copy_file_range do not: on the kernels we run on,
  FUSE serves them from the page cache even for ``direct_io`` files
  (``filemap_splice_read``), bounded by the inode size. With the size 0
  that tracefs reports, every one of them returns 0 bytes at once — busybox
  ``cat`` and Python's ``shutil.copyfile`` then copy nothing. So regular
  files report ``SPLICE_SIZE`` (1 byte, below one 512-byte block so ``cp``
  does not treat it as sparse), which makes the kernel ask us for page 0;
  we tell those page-cache reads apart (they carry no lock owner, direct
  reads always do) and refuse them with EINVAL. Every such tool takes
  EINVAL as "no fast path here" and falls back to read(), exactly as it
  does on a real tracefs file without splice support. See docs/differences.md.
* Stream handles (``Handle.stream``: a pipe-like file) are opened
  ``nonseekable``: the kernel then answers lseek/pread/pwrite with ESPIPE itself.
* libfuse2 does not negotiate atomic O_TRUNC: ``echo x > file`` arrives as
  open, then a truncate carrying the new file handle, then write.
* A read blocked in the daemon holds the reader in the kernel until we
  answer, whatever signal it gets. See ``_Interruption`` for how we notice.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import select
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .nodes import Dir, File, Handle, Node, Request

log = logging.getLogger(__name__)

FUSE_SUPER_MAGIC = 0x65735546
# st_size of every regular file: see the module docstring (sendfile, splice).
SPLICE_SIZE = 1
TRACEFS_MAGIC = 0x74726163

FIX_HINT = (
    "install the FUSE packages (apt-get install libfuse2 fuse3) and run where "
    "/dev/fuse is available (in a container: --device /dev/fuse --cap-add SYS_ADMIN)"
)

# Signals that stop or continue a reader without ending its read: a Ctrl-Z
# must not turn a blocked `cat trace_pipe` into an "Interrupted system call".
_JOB_CONTROL = {signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU, signal.SIGCONT}
# Signals the daemon's own helper threads keep blocked, so that libfuse's
# handlers run in the loop thread and wake it.
_LOOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}

_DEFAULT_POLLMASK = select.POLLIN | select.POLLOUT | select.POLLRDNORM | select.POLLWRNORM


class FuseUnavailable(RuntimeError):
    """FUSE cannot be used here; the message names the fix."""


class MountFailed(OSError):
    """libfuse could not mount; it has printed its reason on stderr."""


def _load_fusepy():
    try:
        import fuse as fusepy  # fusepy: ctypes bindings for libfuse2
    except OSError as exc:  # fusepy raises EnvironmentError when libfuse.so.2 is missing
        raise FuseUnavailable(f"libfuse2 not found ({exc}): {FIX_HINT}") from None
    except ImportError as exc:
        raise FuseUnavailable(f"fusepy is not installed ({exc}): pip install fusepy") from None
    return fusepy


def check_fuse(device: str = "/dev/fuse") -> None:
    """Raise FuseUnavailable, naming the fix, unless a mount can work here."""
    if not os.path.exists(device):
        raise FuseUnavailable(f"{device} does not exist: {FIX_HINT}")
    try:
        fd = os.open(device, os.O_RDWR)
    except OSError as exc:
        raise FuseUnavailable(f"cannot open {device} ({exc.strerror}): {FIX_HINT}") from None
    os.close(fd)
    _load_fusepy()
    if os.getuid() != 0 and not any(
        Path(d, name).exists() for d in ("/usr/bin", "/bin", "/usr/local/bin") for name in ("fusermount", "fusermount3")
    ):
        raise FuseUnavailable(f"fusermount is missing, so a non-root user cannot mount: {FIX_HINT}")


class _StatFs(ctypes.Structure):
    # struct statfs on Linux x86-64; only f_type is used.
    _fields_ = [
        ("f_type", ctypes.c_long),
        ("f_bsize", ctypes.c_long),
        ("f_blocks", ctypes.c_ulong),
        ("f_bfree", ctypes.c_ulong),
        ("f_bavail", ctypes.c_ulong),
        ("f_files", ctypes.c_ulong),
        ("f_ffree", ctypes.c_ulong),
        ("f_fsid", ctypes.c_int * 2),
        ("f_namelen", ctypes.c_long),
        ("f_frsize", ctypes.c_long),
        ("f_flags", ctypes.c_long),
        ("f_spare", ctypes.c_long * 4),
    ]


_libc = ctypes.CDLL(None, use_errno=True)


def statfs_type(path: str | os.PathLike) -> int:
    """The f_type of the filesystem holding ``path`` (os.statvfs does not give it)."""
    buf = _StatFs()
    if _libc.statfs(os.fsencode(path), ctypes.byref(buf)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(path))
    return buf.f_type & 0xFFFFFFFF


def is_fuse_mount(path: str | os.PathLike) -> bool:
    """True only if ``path`` is a mount point and the filesystem there is FUSE."""
    try:
        return os.path.ismount(path) and statfs_type(path) == FUSE_SUPER_MAGIC
    except OSError:
        return False


# ---------------------------------------------------------------------------
# Interruption: when must a blocked read give up?


def _pending_signals(pid: int) -> set[int] | None:
    """Signals pending and unblocked for task ``pid``; None if /proc cannot tell.

    A reader stuck in a FUSE request keeps its signal pending until we answer,
    so the pending set is exactly "was this reader signalled".
    Raises ProcessLookupError when the task is gone.
    """
    if pid <= 0:
        return None
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        raise ProcessLookupError(pid) from None
    except OSError:
        return None
    masks: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("SigPnd", "ShdPnd", "SigBlk"):
            masks[key] = int(value.strip(), 16)
    if len(masks) < 3:
        return None
    bits = (masks["SigPnd"] | masks["ShdPnd"]) & ~masks["SigBlk"]
    return {n + 1 for n in range(64) if bits >> n & 1}


@dataclass
class _Interruption:
    """``Request.interrupted`` for one FUSE request.

    True when the loop is exiting (unmount, SIGTERM to the daemon), when the
    reader is gone, or when it has a pending signal other than job control.
    libfuse's own ``fuse_interrupted()`` (set by FUSE_INTERRUPT) is the
    fallback when /proc cannot see the reader (pid 0, another pid namespace):
    it is true for Ctrl-Z too, which is why it is not the first choice.
    """

    pid: int
    exiting: Callable[[], bool]
    fuse_flag: Callable[[], bool] | None
    thread: int = field(default_factory=threading.get_ident)

    def __call__(self) -> bool:
        if self.exiting():
            return True
        try:
            pending = _pending_signals(self.pid)
        except ProcessLookupError:
            return True
        if pending is not None:
            return bool(pending - _JOB_CONTROL)
        # fuse_interrupted() reads the calling thread's request context.
        if self.fuse_flag is not None and threading.get_ident() == self.thread:
            return self.fuse_flag()
        return False


# ---------------------------------------------------------------------------
# The operations, in Python.


@dataclass
class _Open:
    path: str
    node: File
    handle: Handle
    flags: int
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Caller:
    """Who sent the current FUSE request (fuse_get_context)."""

    pid: int = 0
    uid: int = 0
    gid: int = 0


class TreeOps:
    """Filesystem operations on a node tree, FUSE-shaped but free of ctypes."""

    def __init__(self, root: Dir, uid: int | None = None, gid: int | None = None) -> None:
        self.root = root
        self.uid = os.getuid() if uid is None else uid
        self.gid = os.getgid() if gid is None else gid
        self.mount_time = time.time()
        self._opens: dict[int, _Open] = {}
        self._next_fh = 1
        self._lock = threading.Lock()

    # -- lookups

    def node(self, path: str) -> Node:
        return self.root.lookup(path)

    def _parent(self, path: str) -> tuple[Dir, str]:
        head, _, name = path.rstrip("/").rpartition("/")
        parent = self.root.lookup(head)
        if not isinstance(parent, Dir):
            raise OSError(errno.ENOTDIR, head)
        return parent, name

    def _open(self, fh: int) -> _Open:
        try:
            return self._opens[fh]
        except KeyError:
            raise OSError(errno.EBADF, f"no open file {fh}") from None

    def open_count(self) -> int:
        with self._lock:
            return len(self._opens)

    # -- attributes

    def getattr(self, path: str) -> dict:
        node = self.node(path)
        t = self.mount_time
        return {
            "st_mode": node.mode,
            "st_nlink": 2 if node.is_dir else 1,
            "st_uid": self.uid,
            "st_gid": self.gid,
            "st_size": 0 if node.is_dir else SPLICE_SIZE,
            "st_blocks": 0,
            "st_atime": t,
            "st_mtime": t,
            "st_ctime": t,
        }

    def readdir(self, path: str) -> list[str]:
        node = self.node(path)
        if not isinstance(node, Dir):
            raise OSError(errno.ENOTDIR, path)
        return [".", "..", *node.children]

    def statfs(self) -> dict:
        return {"f_bsize": 4096, "f_frsize": 4096, "f_namemax": 255}

    # -- files

    def open(self, path: str, req: Request) -> tuple[int, bool]:
        """Open ``path``; returns (fh, stream)."""
        node = self.node(path)
        if not isinstance(node, File):
            raise OSError(errno.EISDIR, path)
        handle = node.open(req)
        with self._lock:
            fh = self._next_fh
            self._next_fh += 1
            self._opens[fh] = _Open(path, node, handle, req.flags)
        return fh, handle.stream

    def read(self, fh: int, size: int, offset: int, req: Request) -> bytes:
        op = self._open(fh)
        with op.lock:
            data = op.handle.read(size, offset, req)
        return data[:size]

    def write(self, fh: int, data: bytes, offset: int, req: Request) -> int:
        op = self._open(fh)
        with op.lock:
            return op.handle.write(data, offset, req)

    def poll(self, fh: int) -> bool:
        return self._open(fh).handle.poll()

    def ioctl(self, fh: int, cmd: int, arg: int, data: bytes, out_size: int, req: Request) -> tuple[int, bytes]:
        op = self._open(fh)
        with op.lock:
            return op.handle.ioctl(cmd, arg, data, out_size, req)

    def flush(self, fh: int) -> None:
        with self._lock:
            op = self._opens.get(fh)
        if op is not None:
            op.handle.flush()

    def release(self, fh: int) -> None:
        with self._lock:
            op = self._opens.pop(fh, None)
        if op is not None:
            op.handle.release()

    def truncate(self, path: str, length: int, req: Request) -> None:
        node = self.node(path)
        if node.is_dir:
            raise OSError(errno.EISDIR, path)
        # Only a truncate to 0 (O_TRUNC, `: > file`) means anything to a control file.
        if length == 0 and isinstance(node, File):
            node.truncate(req)

    # -- namespace changes: tracefs refuses them with the kernel's errnos

    def create(self, path: str) -> None:
        parent, name = self._parent(path)
        if name in parent.children:
            raise OSError(errno.EEXIST, path)
        parent.create(name)
        raise OSError(errno.EACCES, path)  # a Dir that allowed it must also open it

    def mkdir(self, path: str) -> None:
        parent, name = self._parent(path)
        if name in parent.children:
            raise OSError(errno.EEXIST, path)
        parent.mkdir(name)

    def rmdir(self, path: str) -> None:
        parent, name = self._parent(path)
        child = parent.children.get(name)
        if child is None:
            raise OSError(errno.ENOENT, path)
        if not child.is_dir:
            raise OSError(errno.ENOTDIR, path)
        parent.rmdir(name)

    def unlink(self, path: str) -> None:
        self.node(path)
        raise OSError(errno.EPERM, path)

    def rename(self, old: str, new: str) -> None:
        self.node(old)
        raise OSError(errno.EPERM, old)

    def setattr_denied(self, path: str) -> None:
        """chmod/chown: the modes are the kernel's, fixed."""
        self.node(path)
        raise OSError(errno.EPERM, path)


# ---------------------------------------------------------------------------
# The ctypes plumbing.


@dataclass
class MountOptions:
    fsname: str = "ftrace-mmio"
    subtype: str = "tracefs"
    allow_other: bool = False
    # Needed only over a non-empty directory (libfuse2 refuses those otherwise).
    nonempty: bool = False
    debug: bool = False

    def fuse_args(self) -> list[str]:
        opts = [f"fsname={self.fsname}", f"subtype={self.subtype}", "default_permissions", "big_writes"]
        if self.allow_other:
            opts.append("allow_other")
        elif os.getuid() != 0 and _user_allow_other():
            # The mounting user, plus root; needs user_allow_other in /etc/fuse.conf.
            opts.append("allow_root")
        if self.nonempty:
            opts.append("nonempty")
        args = ["-f", "-o", ",".join(opts)]
        if self.debug:
            args.append("-d")
        return args


def _user_allow_other() -> bool:
    try:
        lines = Path("/etc/fuse.conf").read_text().splitlines()
    except OSError:
        return False
    return any(line.strip() == "user_allow_other" for line in lines)


def block_loop_signals() -> None:
    """Call first thing in any helper thread of a process that runs ``serve``."""
    signal.pthread_sigmask(signal.SIG_BLOCK, _LOOP_SIGNALS)


class FuseServer:
    """Mount ``root`` on a directory and serve it until unmounted."""

    POLL_WATCH_INTERVAL = 0.02

    def __init__(self, root: Dir, options: MountOptions | None = None) -> None:
        self.fusepy = _load_fusepy()
        self.lib = self.fusepy._libfuse
        self.ops = TreeOps(root)
        self.options = options or MountOptions()
        self._fuse: int | None = None
        self._exiting = threading.Event()
        self._ready: Callable[[], None] | None = None
        self._pollers: dict[int, int] = {}  # fh -> struct fuse_pollhandle *
        self._poll_cv = threading.Condition()
        self._callbacks: list = []  # keep the ctypes thunks alive while mounted
        self._bind_lib()

    def _bind_lib(self) -> None:
        lib, c = self.lib, ctypes
        lib.fuse_setup.restype = c.c_void_p
        lib.fuse_setup.argtypes = [
            c.c_int, c.POINTER(c.c_char_p), c.c_void_p, c.c_size_t,
            c.POINTER(c.c_char_p), c.POINTER(c.c_int), c.c_void_p,
        ]
        lib.fuse_loop_mt.argtypes = [c.c_void_p]
        lib.fuse_teardown.argtypes = [c.c_void_p, c.c_char_p]
        lib.fuse_teardown.restype = None
        lib.fuse_exited.argtypes = [c.c_void_p]
        lib.fuse_interrupted.argtypes = []
        lib.fuse_interrupted.restype = c.c_int
        lib.fuse_notify_poll.argtypes = [c.c_void_p]
        lib.fuse_pollhandle_destroy.argtypes = [c.c_void_p]
        lib.fuse_pollhandle_destroy.restype = None

    # -- request context

    def _caller(self) -> Caller:
        ctx = self.lib.fuse_get_context().contents
        return Caller(pid=ctx.pid, uid=ctx.uid, gid=ctx.gid)

    def exiting(self) -> bool:
        if self._exiting.is_set():
            return True
        f = self._fuse
        return bool(f and self.lib.fuse_exited(f))

    def _request(self, flags: int) -> Request:
        who = self._caller()
        flag = lambda: bool(self.lib.fuse_interrupted())  # noqa: E731 - bound per request thread
        return Request(
            flags=flags, pid=who.pid, uid=who.uid, gid=who.gid,
            interrupted=_Interruption(who.pid, self.exiting, flag),
        )

    # -- callbacks (C signature in, errno out)

    def _cb_getattr(self, path, st):
        return self._cb_fgetattr(path, st, None)

    def _cb_fgetattr(self, path, st, fip):
        ctypes.memset(st, 0, ctypes.sizeof(self.fusepy.c_stat))
        attrs = self.ops.getattr(path.decode())
        self.fusepy.set_st_attrs(st.contents, attrs, use_ns=False)
        return 0

    def _cb_readdir(self, path, buf, filler, offset, fip):
        for name in self.ops.readdir(path.decode()):
            if filler(buf, name.encode(), None, 0) != 0:
                break
        return 0

    def _cb_open(self, path, fip):
        fi = fip.contents
        fh, stream = self.ops.open(path.decode(), self._request(fi.flags))
        fi.fh = fh
        fi.direct_io = 1
        fi.keep_cache = 0
        if stream:
            fi.nonseekable = 1
        return 0

    def _cb_read(self, path, buf, size, offset, fip):
        fi = fip.contents
        if not fi.lock_owner:
            # A page-cache read: sendfile, splice or copy_file_range (or mmap).
            # Refusing it makes the caller fall back to read(); serving it
            # would cache one open's contents under every later reader.
            return -errno.EINVAL
        data = self.ops.read(fi.fh, size, offset, self._request(fi.flags))
        ctypes.memmove(buf, data, len(data))
        return len(data)

    def _cb_write(self, path, buf, size, offset, fip):
        fi = fip.contents
        return self.ops.write(fi.fh, ctypes.string_at(buf, size), offset, self._request(fi.flags))

    def _cb_truncate(self, path, length):
        self.ops.truncate(path.decode(), length, self._request(os.O_WRONLY))
        return 0

    def _cb_ftruncate(self, path, length, fip):
        # O_TRUNC arrives here, carrying the handle the open just returned.
        fi = fip.contents
        self.ops.truncate(path.decode(), length, self._request(fi.flags))
        return 0

    def _cb_release(self, path, fip):
        fh = fip.contents.fh
        self._drop_poller(fh)
        self.ops.release(fh)
        return 0

    def _cb_ioctl(self, path, cmd, arg, fip, flags, data):
        # Not CUSE: the kernel moves the argument by the size and direction the
        # command number encodes (_IOC_SIZE, _IOC_DIR); data holds it both ways.
        fi = fip.contents
        cmd &= 0xFFFF_FFFF
        size = (cmd >> 16) & 0x3FFF
        direction = cmd >> 30                       # 1: _IOC_WRITE (in), 2: _IOC_READ (out)
        in_size = size if direction & 1 else 0
        out_size = size if direction & 2 else 0
        payload = ctypes.string_at(data, in_size) if in_size and data else b""
        ret, out = self.ops.ioctl(fi.fh, cmd, arg or 0, payload, out_size, self._request(fi.flags))
        if out_size and data:
            ctypes.memmove(data, out[:out_size], min(len(out), out_size))
        return ret

    def _cb_flush(self, path, fip):
        self.ops.flush(fip.contents.fh)
        return 0

    def _cb_fsync(self, path, datasync, fip):
        return 0

    def _cb_statfs(self, path, buf):
        sv = buf.contents
        for key, value in self.ops.statfs().items():
            setattr(sv, key, value)
        return 0

    def _cb_mknod(self, path, mode, dev):
        self.ops.create(path.decode())
        return 0

    def _cb_create(self, path, mode, fip):
        self.ops.create(path.decode())
        return 0

    def _cb_mkdir(self, path, mode):
        self.ops.mkdir(path.decode())
        return 0

    def _cb_rmdir(self, path):
        self.ops.rmdir(path.decode())
        return 0

    def _cb_unlink(self, path):
        self.ops.unlink(path.decode())
        return 0

    def _cb_rename(self, old, new):
        self.ops.rename(old.decode(), new.decode())
        return 0

    def _cb_chmod(self, path, mode):
        self.ops.setattr_denied(path.decode())
        return 0

    def _cb_chown(self, path, uid, gid):
        self.ops.setattr_denied(path.decode())
        return 0

    def _cb_utimens(self, path, times):
        self.ops.node(path.decode())  # times are fixed at mount; touch succeeds
        return 0

    def _cb_init(self, conn):
        if self._ready is not None:
            self._ready()
        return None

    def _cb_poll(self, path, fip, ph, reventsp):
        fh = fip.contents.fh
        ready = self.ops.poll(fh)
        reventsp[0] = _DEFAULT_POLLMASK if ready else 0
        if ph:
            if ready:
                self.lib.fuse_pollhandle_destroy(ph)
            else:
                self._add_poller(fh, ph)
        return 0

    # -- poll notification: libfuse wants a call back when a handle turns ready.

    def _add_poller(self, fh: int, ph: int) -> None:
        with self._poll_cv:
            old = self._pollers.pop(fh, None)
            if old:
                self.lib.fuse_pollhandle_destroy(old)
            self._pollers[fh] = ph
            self._poll_cv.notify()

    def _drop_poller(self, fh: int) -> None:
        with self._poll_cv:
            ph = self._pollers.pop(fh, None)
        if ph:
            self.lib.fuse_pollhandle_destroy(ph)

    def _watch_pollers(self) -> None:
        # Handles have no "became ready" callback, so look at the few that are
        # being polled, often enough that select() feels immediate.
        block_loop_signals()
        while not self._exiting.is_set():
            with self._poll_cv:
                while not self._pollers and not self._exiting.is_set():
                    self._poll_cv.wait()
                waiting = list(self._pollers.items())
            for fh, ph in waiting:
                try:
                    ready = self.ops.poll(fh)
                except OSError:
                    ready = True
                if ready:
                    with self._poll_cv:
                        if self._pollers.get(fh) != ph:
                            continue
                        del self._pollers[fh]
                    self.lib.fuse_notify_poll(ph)
                    self.lib.fuse_pollhandle_destroy(ph)
            self._exiting.wait(self.POLL_WATCH_INTERVAL)

    # -- glue

    def _wrap(self, fn: Callable, default_errno: int = errno.EIO) -> Callable:
        def call(*args):
            try:
                result = fn(*args)
                return 0 if result is None else result
            except OSError as exc:
                return -(exc.errno or default_errno)
            except BaseException:  # never let an exception unwind into libfuse
                log.exception("FUSE %s failed", fn.__name__)
                return -default_errno

        call.__name__ = fn.__name__
        return call

    def _operations(self):
        fusepy, c = self.fusepy, ctypes

        class Operations(fusepy.fuse_operations):
            # libfuse2's struct continues after ioctl; fusepy stops there.
            _fields_ = [
                ("poll", c.CFUNCTYPE(c.c_int, c.c_char_p, c.POINTER(fusepy.fuse_file_info),
                                     c.c_void_p, c.POINTER(c.c_uint))),
            ]

        ops = Operations()
        names = [
            "getattr", "fgetattr", "readdir", "open", "read", "write", "truncate", "ftruncate",
            "release", "flush", "fsync", "statfs", "mknod", "create", "mkdir", "rmdir", "unlink",
            "rename", "chmod", "chown", "utimens", "init", "poll", "ioctl",
        ]
        fields = [*fusepy.fuse_operations._fields_, *Operations._fields_]
        for name, proto in ((f[0], f[1]) for f in fields if f[0] in names):
            thunk = proto(self._wrap(getattr(self, f"_cb_{name}")))
            self._callbacks.append(thunk)
            setattr(ops, name, thunk)
        return ops

    def serve(self, mountpoint: str | os.PathLike, on_ready: Callable[[], None] | None = None) -> None:
        """Mount, serve until unmounted or signalled, unmount. Main thread only.

        ``on_ready`` runs once the kernel has finished the FUSE handshake, i.e.
        when the mount answers requests. SIGINT, SIGTERM and SIGHUP end the loop
        and unmount cleanly (libfuse's handlers: other threads of this process
        must block them, see ``block_loop_signals``).
        """
        check_fuse()
        mountpoint = os.path.abspath(mountpoint)
        self._ready = on_ready
        ops = self._operations()
        argv_list = [b"ftrace-mmio", *(a.encode() for a in self.options.fuse_args()), os.fsencode(mountpoint)]
        argv = (ctypes.c_char_p * len(argv_list))(*argv_list)
        mp = ctypes.c_char_p()
        multithreaded = ctypes.c_int()
        # libfuse installs its handlers only where the disposition is SIG_DFL.
        saved = {s: signal.signal(s, signal.SIG_DFL) for s in _LOOP_SIGNALS}
        watcher = threading.Thread(target=self._watch_pollers, name="fuse-poll", daemon=True)
        try:
            f = self.lib.fuse_setup(len(argv_list), argv, ctypes.byref(ops), ctypes.sizeof(ops),
                                    ctypes.byref(mp), ctypes.byref(multithreaded), None)
            if not f:
                raise MountFailed(errno.EIO, f"libfuse could not mount {mountpoint}")
            self._fuse = f
            watcher.start()
            try:
                self.lib.fuse_loop_mt(f)
            finally:
                # Let blocked reads see the exit before libfuse joins their threads.
                self._exiting.set()
                with self._poll_cv:
                    self._poll_cv.notify_all()
                self.lib.fuse_teardown(f, mp)
                self._fuse = None
        finally:
            self._exiting.set()
            for s, handler in saved.items():
                signal.signal(s, handler)
            for fh in list(self._pollers):
                self._drop_poller(fh)
            for fh in list(self.ops._opens):
                self.ops.release(fh)


def serve(root: Dir, mountpoint: str | os.PathLike, options: MountOptions | None = None,
          on_ready: Callable[[], None] | None = None) -> None:
    """Serve ``root`` at ``mountpoint`` until unmounted (blocks; main thread)."""
    FuseServer(root, options).serve(mountpoint, on_ready)
