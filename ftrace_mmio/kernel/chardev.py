"""Character devices as user space sees them: nodes, and file operations that
reach the driver.

The guest side (core/chardev.c) keeps device numbers, cdevs and misc devices,
and tells this side when a node appears or goes (``__chardev_node``): the
node table here is what the mount's ``dev/`` lists (``DevNodes``).  A user
process's open/read/write/ioctl/close on such a file becomes, on the
machine's CPU thread, a call of ``__chardev_open`` ... ``__chardev_release``,
which build struct file and struct inode and call the driver's
file_operations.  Data goes through user pages the machine maps in the lower
(user) half of the address space, so ``copy_from_user`` and friends work on
real user addresses and refuse kernel ones, as on Linux.

docs/kernel/chardev.md says what exists and how it differs from Linux.
"""

from __future__ import annotations

import errno
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from ..machine.mm import PAGE_SIZE
from .api import Subsystem, export
from .module import ModuleOops

if TYPE_CHECKING:
    from ..kernel.module import Module

MINORBITS = 20
MISC_MAJOR = 10

#: Where the user pages are: the lower half, far from anything else mapped.
USER_BASE = 0x0000_7F00_0000_0000
USER_PAGES = 32                      # 128 KiB: the largest single transfer
USER_SIZE = USER_PAGES * PAGE_SIZE
#: How long an open that finds the device busy waits for a closed file's
#: release still on its way through FUSE (a safety bound, rarely reached).
RELEASE_WAIT_S = 2.0


def mkdev(major: int, minor: int) -> int:
    return (major << MINORBITS) | minor


def major(devt: int) -> int:
    return devt >> MINORBITS


def minor(devt: int) -> int:
    return devt & ((1 << MINORBITS) - 1)


def _s64(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >> 63 else v


@dataclass
class OpenFile:
    """A struct file the driver's open returned, until its release."""

    file: int                        # guest address of struct file
    devt: int
    name: str
    stream: bool
    module: "Module | None"          # whose code the file_operations are
    gone: bool = False               # the module was unloaded under it


class Chardev(Subsystem):
    name = "chardev"

    def __init__(self, api) -> None:
        super().__init__(api)
        self._lock = threading.Lock()
        self._nodes: dict[str, int] = {}            # node name -> dev_t
        self._open: dict[int, OpenFile] = {}         # struct file -> OpenFile
        self._user_mapped = False
        #: Called (from the CPU thread) after a node appears or goes: name, devt, added.
        self.listeners: list[Callable[[str, int, bool], None]] = []

    # ---- the node table ------------------------------------------------------------

    @export("__chardev_node", nargs=3)
    def node(self, name_va: int, devt: int, add: int) -> None:
        name = self.mm.read_cstring(name_va, 256).decode("utf-8", "replace")
        devt &= 0xFFFF_FFFF
        if not name or "/" in name or name in (".", ".."):
            # Sub-directories (e.g. "input/event0") are not served: say so.
            self.machine.log.log(4, f"chardev: node name {name!r} not shown under dev/")
            return
        with self._lock:
            if add & 0xFFFF_FFFF:
                self._nodes[name] = devt
            elif self._nodes.get(name) == devt:
                del self._nodes[name]
            else:
                return
        for fn in list(self.listeners):
            fn(name, devt, bool(add & 0xFFFF_FFFF))

    def nodes(self) -> dict[str, int]:
        """Name -> dev_t of every node (any thread)."""
        with self._lock:
            return dict(self._nodes)

    def open_files(self) -> list[OpenFile]:
        with self._lock:
            return list(self._open.values())

    # ---- user memory -------------------------------------------------------------------

    def _map_user(self) -> None:
        """Map the user pages once, on first use (a machine that never opens
        a node keeps its exact memory layout: golden traces)."""
        if self._user_mapped:
            return
        self.mm.map_new_pages(USER_BASE, USER_PAGES, writable=True, executable=False)
        resolve = self.machine.resolve
        self.mm.write_uint(resolve("chardev_user_lo"), 8, USER_BASE)
        self.mm.write_uint(resolve("chardev_user_hi"), 8, USER_BASE + USER_SIZE)
        self._user_mapped = True

    # ---- file operations (any thread: each runs on the CPU thread) ---------------

    def open(self, name: str, flags: int = os.O_RDWR, comm: str = "sh") -> OpenFile:
        """open(2) of ``dev/<name>``: OSError with the driver's errno if it fails."""
        with self._lock:
            devt = self._nodes.get(name)
        if devt is None:
            raise OSError(errno.ENOENT, f"no device node {name}")
        return self.machine.run_on_cpu(self._open_cpu, name, devt, flags, comm)

    def open_devt(self, devt: int, flags: int = os.O_RDWR, comm: str = "sh") -> OpenFile:
        """open(2) of a node made with mknod: by number."""
        return self.machine.run_on_cpu(self._open_cpu, f"{major(devt)}:{minor(devt)}", devt, flags, comm)

    def read(self, f: OpenFile, size: int, offset: int = 0, comm: str = "sh") -> bytes:
        return self.machine.run_on_cpu(self._read_cpu, f, size, offset, comm)

    def write(self, f: OpenFile, data: bytes, offset: int = 0, comm: str = "sh") -> int:
        return self.machine.run_on_cpu(self._write_cpu, f, bytes(data), offset, comm)

    def ioctl(self, f: OpenFile, cmd: int, arg: int = 0, data: bytes | None = None,
              out_size: int = 0, comm: str = "sh") -> tuple[int, bytes]:
        """ioctl(2).  With ``data`` or ``out_size`` the argument is a user
        pointer to a buffer holding ``data``; the result is (return value,
        the buffer's first ``out_size`` bytes afterwards)."""
        return self.machine.run_on_cpu(self._ioctl_cpu, f, cmd, arg, data, out_size, comm)

    def release(self, f: OpenFile, comm: str = "sh") -> None:
        """The last close."""
        self.machine.run_on_cpu(self._release_cpu, f, comm)

    # ---- on the CPU thread --------------------------------------------------------------

    def _owner(self, fops: int) -> "Module | None":
        for mod in self.machine.modules.values():
            if mod.contains(fops):
                return mod
        return None

    def _call(self, fn: str, args: tuple[int, ...], module: "Module | None", comm: str) -> int:
        va = self.machine.resolve(fn)
        try:
            ret = _s64(self.machine._call(va, args, module, comm))
        except ModuleOops as oops:
            # Linux kills the process that oopsed in a system call; the caller
            # here sees EIO and dmesg has the report.
            raise OSError(errno.EIO, str(oops)) from None
        finally:
            self.machine._run_deferred()
        return ret

    def _open_cpu(self, name: str, devt: int, flags: int, comm: str) -> OpenFile:
        self._map_user()
        out = self.mm.kmalloc(8)
        try:
            ret = self._call("__chardev_open", (devt, flags & 0xFFFF_FFFF, out), None, comm)
            if ret < 0:
                raise OSError(-ret, os.strerror(-ret))
            file = self.mm.read_uint(out, 8)
        finally:
            self.mm.kfree(out)
        fops = self.mm.read_uint(file, 8)                 # struct file: f_op first
        stream = bool(self._call("__chardev_is_stream", (file,), None, comm))
        f = OpenFile(file, devt, name, stream, self._owner(fops))
        with self._lock:
            self._open[file] = f
        return f

    def _check(self, f: OpenFile) -> None:
        if f.gone or f.file not in self._open:
            raise OSError(errno.ENODEV if f.gone else errno.EBADF, f"{f.name}: file is gone")

    def _read_cpu(self, f: OpenFile, size: int, offset: int, comm: str) -> bytes:
        self._check(f)
        size = min(size, USER_SIZE)
        ret = self._call("__chardev_read", (f.file, USER_BASE, size, offset), f.module, comm)
        if ret < 0:
            raise OSError(-ret, os.strerror(-ret))
        return self.mm.read(USER_BASE, min(ret, size))

    def _write_cpu(self, f: OpenFile, data: bytes, offset: int, comm: str) -> int:
        # One call per user-buffer's worth, as a writer looping on short writes.
        self._check(f)
        done = 0
        while done < len(data) or not data:
            chunk = data[done:done + USER_SIZE]
            self.mm.write(USER_BASE, chunk)
            ret = self._call("__chardev_write", (f.file, USER_BASE, len(chunk), offset + done),
                             f.module, comm)
            if ret < 0:
                if done:
                    return done
                raise OSError(-ret, os.strerror(-ret))
            done += min(ret, len(chunk))
            if ret < len(chunk) or not data:
                break
        return done

    def _ioctl_cpu(self, f: OpenFile, cmd: int, arg: int, data: bytes | None, out_size: int,
                   comm: str) -> tuple[int, bytes]:
        self._check(f)
        if data is not None or out_size:
            buf = bytes(data or b"")[:USER_SIZE]
            self.mm.write(USER_BASE, buf + bytes(max(0, min(out_size, USER_SIZE) - len(buf))))
            arg = USER_BASE
        ret = self._call("__chardev_ioctl", (f.file, cmd & 0xFFFF_FFFF, arg), f.module, comm)
        if ret < 0:
            raise OSError(-ret, os.strerror(-ret))
        out = self.mm.read(USER_BASE, min(out_size, USER_SIZE)) if out_size else b""
        return ret, out

    def _release_cpu(self, f: OpenFile, comm: str) -> None:
        with self._lock:
            known = self._open.pop(f.file, None)
        if known is None or f.gone:
            return
        self._call("__chardev_release", (f.file,), f.module, comm)

    def module_unloaded(self, module: Any) -> None:
        """A module went while files of it were open (Linux would have refused
        the rmmod: the open file holds a reference; here THIS_MODULE is NULL).
        Their release would run freed code: they are dropped, with a word."""
        with self._lock:
            dead = [f for f in self._open.values() if f.module is module]
            for f in dead:
                f.gone = True
                del self._open[f.file]
        for f in dead:
            self.machine.log.log(4, f"chardev: {module.name} unloaded with {f.name} open; "
                                    "the file is dead (the kernel refuses such an rmmod)")


# ---- the mount's dev/ ---------------------------------------------------------------

def _comm(pid: int) -> str:
    """The caller's process name (current->comm), for dmesg and oops reports."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()[:15] or "sh"
    except OSError:
        return "sh"


def dev_dir(chardev: Chardev, name: str = "dev") -> Any:
    """``dev/``: one file per node the kernel has (a regular file, not a
    device special file: the host kernel must not open its own device of that
    number); opening it opens the driver's device."""
    from tracefs.nodes import DynamicDir, File, Handle, Request

    # FUSE sends the release of a closed file after close(2) has returned, and
    # it may reach us after the next open of the same node: `echo V > wd; echo
    # V > wd` would see the watchdog still open (EBUSY) now and then. Linux has
    # released it by then. So an open that fails with EBUSY waits (bounded)
    # for the release of files of that node whose descriptor was closed
    # (flushed), then tries once more.
    closing: dict[str, int] = {}
    cv = threading.Condition()

    class ChardevHandle(Handle):
        def __init__(self, f: OpenFile, comm: str) -> None:
            self.f = f
            self.comm = comm
            self.stream = f.stream
            self.flushed = False

        def read(self, size: int, offset: int, req: Request) -> bytes:
            return chardev.read(self.f, size, offset, self.comm)

        def write(self, data: bytes, offset: int, req: Request) -> int:
            return chardev.write(self.f, data, offset, self.comm)

        def ioctl(self, cmd: int, arg: int, data: bytes, out_size: int, req: Request) -> tuple[int, bytes]:
            pointer = (cmd >> 30) != 0                  # the number says the argument is a buffer
            return chardev.ioctl(self.f, cmd, arg, data if pointer else None, out_size, self.comm)

        def flush(self) -> None:
            with cv:
                if not self.flushed:
                    self.flushed = True
                    closing[self.f.name] = closing.get(self.f.name, 0) + 1

        def release(self) -> None:
            try:
                chardev.release(self.f, self.comm)
            finally:
                with cv:
                    if self.flushed:
                        closing[self.f.name] -= 1
                    cv.notify_all()

    files: dict[tuple[str, int], File] = {}

    def opener(node: str) -> Callable[[Request], Handle]:
        def open_node(req: Request) -> Handle:
            comm = _comm(req.pid)
            try:
                return ChardevHandle(chardev.open(node, req.flags, comm), comm)
            except OSError as exc:
                if exc.errno != errno.EBUSY:
                    raise
                with cv:
                    if not cv.wait_for(lambda: not closing.get(node), timeout=RELEASE_WAIT_S):
                        raise
                return ChardevHandle(chardev.open(node, req.flags, comm), comm)
        return open_node

    def entries() -> dict[str, File]:
        out: dict[str, File] = {}
        for node, devt in sorted(chardev.nodes().items()):
            f = files.get((node, devt))
            if f is None:
                # O_TRUNC (the shell's `>`) means nothing to a device: accepted.
                f = files[(node, devt)] = File(node, 0o600, opener(node), truncate=lambda req: None)
            out[node] = f
        return out

    return DynamicDir(name, 0o755, entries)
