"""Serve a ``nodes.Dir`` tree inside pyfakefs's fake filesystem; a pytest plugin.

Inside a test that uses the ``tracefs`` fixture, ``/sys/kernel/tracing`` in
the fake filesystem behaves like a mounted tracefs: ``open``, ``os.open``
(with O_NONBLOCK), ``os.read``, ``os.write``, ``os.lseek``, ``truncate``,
``os.listdir``, ``os.stat``, ``pathlib`` all reach the tree's handlers, with
the kernel's errnos. Nothing is written outside the fake filesystem.

How it hooks into pyfakefs (which has no notion of a file whose contents are
computed per open): the tree is mirrored as ``NodeDir``/``NodeFile`` entries
of the fake directory tree, so lookups, listdir and stat work unchanged; opens
of a ``NodeFile`` are routed to ``NodeRawIO`` (an ``io.RawIOBase`` holding the
node's ``Handle``) by patching, while a ``FakeTracefs`` is active,
``FakeFileOpen.call`` and the ``FakeOsModule`` methods that would otherwise
treat the file as stored bytes (open, write, lseek, ftruncate). Each patch
handles only our files and passes everything else to pyfakefs unchanged.
``open()`` layers ``BufferedReader``/``TextIOWrapper`` on the raw file just
as the real ``open()`` does on ``FileIO``, so buffering behaves the same:
one ``write()`` through a buffered file reaches the handler at flush time.

Plugin: the ``tracefs`` fixture (uses pyfakefs's ``fs``) yields a
``FakeTracefs``; ``tracefs.array`` is the TraceArray behind the files.
Configure it with ``@pytest.mark.tracefs(path=..., nr_cpus=..., clock=...,
buffer_size_kb=..., machine=...)`` or by overriding the ``tracefs_path`` fixture.
Outside pytest: ``with FakeTracefs() as tfs: ...`` starts pyfakefs itself.

With ``machine=`` the tree is a whole ftrace-mmio system (the one
``ftrace-mmio mount`` serves): an emulated machine with mmiotrace attached.
Building it compiles C with gcc and reads the package's own files, so it
happens in the real filesystem: before pyfakefs starts, or with pyfakefs
paused (``real_world()``). Module loads (``insmod``) run paused too; the
trace they produce is read through the fake files as usual.

Nothing in this module imports the rest of ftrace-mmio while pyfakefs is
active: an import then would look for the package in the fake filesystem
(ModuleNotFoundError once the package is installed outside the test's tree).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import threading
import weakref
from typing import Any, Callable, Iterator
from unittest import mock

from .nodes import Dir, File, Handle, Node, Request

try:
    from pyfakefs import helpers as _helpers
    from pyfakefs.fake_file import FakeDirectory, FakeFile
    from pyfakefs.fake_filesystem import FakeFilesystem
    from pyfakefs.fake_open import FakeFileOpen
    from pyfakefs.fake_os import FakeOsModule
except ImportError:  # the plugin loads in every pytest run; fail only when used
    FakeFile = FakeDirectory = object  # type: ignore[assignment,misc]
    _PYFAKEFS_MISSING = True
else:
    _PYFAKEFS_MISSING = False

DEFAULT_PATH = "/sys/kernel/tracing"


@contextlib.contextmanager
def _as_kernel(path: str | None = None) -> Iterator[None]:
    """Handlers explain their errors; a kernel gives only the errno. Say what it
    says, naming the path where Python would (open, mkdir) and not elsewhere."""
    try:
        yield
    except OSError as exc:
        if exc.errno is None:
            raise
        args = (exc.errno, os.strerror(exc.errno)) + ((path,) if path is not None else ())
        raise OSError(*args) from exc


def _require_pyfakefs() -> None:
    if _PYFAKEFS_MISSING:
        raise RuntimeError("the tracefs fixture needs pyfakefs: pip install 'ftrace-mmio[test]' (or pyfakefs)")


# ---------------------------------------------------------------------------
# The tree, mirrored as fake directory entries.


class NodeFile(FakeFile):
    """A tracefs file in the fake tree: size 0, fixed mode, no stored bytes."""

    def __init__(self, node: File, filesystem: FakeFilesystem, owner: FakeTracefs) -> None:
        super().__init__(node.name, st_mode=node.mode, contents=b"", filesystem=filesystem)
        self.node = node
        self.owner = owner
        self.stat_result.st_nlink = 1
        self.__dict__["_frozen"] = True

    def __setattr__(self, key: str, value: Any) -> None:
        # pyfakefs's os.open chmods every file it opens, and directory
        # bookkeeping bumps link counts: tracefs modes and counts stay put.
        if key in ("st_mode", "st_nlink", "st_size") and self.__dict__.get("_frozen"):
            return
        super().__setattr__(key, value)

    @property
    def byte_contents(self) -> bytes:
        return b""

    @property
    def size(self) -> int:
        return 0

    @size.setter
    def size(self, st_size: int) -> None:
        # truncate(2): only a truncate to 0 means anything (it clears `trace`).
        if st_size == 0:
            with _as_kernel():
                self.node.truncate(self.owner.request(os.O_WRONLY))

    def set_contents(self, contents: Any, encoding: str | None = None) -> bool:
        raise OSError(errno.EINVAL, "tracefs files have no stored contents", self.name)


class NodeDir(FakeDirectory):
    """A tracefs directory; its entries follow the node's children."""

    def __init__(self, node: Dir, filesystem: FakeFilesystem, owner: FakeTracefs) -> None:
        super().__init__(node.name, perm_bits=stat.S_IMODE(node.mode), filesystem=filesystem)
        self.node = node
        self.owner = owner
        self.stat_result.st_nlink = 2
        self.__dict__["_frozen"] = True

    def __setattr__(self, key: str, value: Any) -> None:
        if key in ("st_mode", "st_nlink") and self.__dict__.get("_frozen"):
            return
        super().__setattr__(key, value)

    def _mirror(self, child: Node) -> FakeFile:
        if isinstance(child, Dir):
            return NodeDir(child, self.filesystem, self.owner)
        if isinstance(child, File):
            return NodeFile(child, self.filesystem, self.owner)
        raise TypeError(f"unknown node type {type(child).__name__}")

    def _sync(self) -> None:
        # Mirror lazily, on lookup, so a tree that grows (instances/) is seen.
        entries = self._entries
        children = self.node.children
        if entries.keys() == children.keys():
            return
        for name in [n for n in entries if n not in children]:
            del entries[name]
        for name, child in children.items():
            if name not in entries:
                mirror = self._mirror(child)
                mirror.parent_dir = weakref.ref(self)
                self.filesystem.last_ino += 1
                mirror.stat_result.st_ino = self.filesystem.last_ino
                mirror.stat_result.st_dev = self.st_dev
                entries[name] = mirror

    @property
    def entries(self) -> dict[str, FakeFile]:
        self._sync()
        return self._entries

    def add_entry(self, path_object: FakeFile) -> None:
        # Only a node that accepts mkdir (instances/) grows; files: EACCES.
        name = str(path_object.name)
        if name in self.node.children:
            raise OSError(errno.EEXIST, os.strerror(errno.EEXIST), name)
        with _as_kernel(f"{self.path}/{name}"):
            if isinstance(path_object, FakeDirectory):
                self.node.mkdir(name)
                self._sync()
                return
            self.node.create(name)
        raise OSError(errno.EACCES, os.strerror(errno.EACCES), f"{self.path}/{name}")

    def remove_entry(self, pathname_name: str, recursive: bool = True) -> None:
        child = self.node.children.get(pathname_name)
        if child is None:
            raise KeyError(pathname_name)
        if isinstance(child, Dir):
            with _as_kernel(f"{self.path}/{pathname_name}"):
                self.node.rmdir(pathname_name)
            self._sync()
            return
        raise OSError(errno.EPERM, os.strerror(errno.EPERM), f"{self.path}/{pathname_name}")


# ---------------------------------------------------------------------------
# Open files.


class _Description:
    """An open file description: what dup'ed and re-opened fds share."""

    def __init__(self, node: File, handle: Handle, req: Request) -> None:
        self.node = node
        self.handle = handle
        self.req = req
        self.pos = 0
        self.lock = threading.Lock()
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.handle.release()


def _mode_string(flags: int) -> str:
    acc = flags & os.O_ACCMODE
    if acc == os.O_RDONLY:
        return "rb"
    if acc == os.O_WRONLY:
        return "ab" if flags & os.O_APPEND else "wb"
    return "ab+" if flags & os.O_APPEND else "rb+"


class NodeRawIO(io.RawIOBase):
    """One fake fd's view of an open tracefs file (the FileIO of the fake world).

    pyfakefs keeps it in its fd table; ``read``/``write``/``seek`` go to the
    node's handle with the kernel's rules: stream handles have no position
    (ESPIPE), a read on a write-only fd is EBADF.
    """

    def __init__(self, owner: FakeTracefs, desc: _Description, file_object: NodeFile, name: str,
                 closefd: bool = True) -> None:
        super().__init__()
        self.owner = owner
        self.desc = desc
        self.file_object = file_object
        self.name = name
        self.mode = _mode_string(desc.req.flags)
        self.filedes: int | None = None
        self._closefd = closefd

    # -- pyfakefs's open-file protocol

    def get_object(self) -> NodeFile:
        return self.file_object

    def fileno(self) -> int:
        if self.filedes is None:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        return self.filedes

    def close_fd(self, fd: int | None) -> None:
        """os.close(fd): the fd goes away with every wrapper on it."""
        if fd is None:
            return
        self.owner.close_fd(fd)

    def _detach(self) -> None:
        io.RawIOBase.close(self)

    # -- io.RawIOBase

    def close(self) -> None:
        if self.closed:
            return
        if self._closefd and self.filedes is not None:
            self.owner.close_fd(self.filedes)
        else:
            self.owner.forget(self)
        io.RawIOBase.close(self)

    def readable(self) -> bool:
        return self.desc.req.readable

    def writable(self) -> bool:
        return self.desc.req.writable

    def seekable(self) -> bool:
        return not self.desc.handle.stream

    def _check(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")

    def read(self, size: int = -1) -> bytes:
        self._check()
        if size is None or size < 0:
            return self.readall()
        if not self.readable():
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        desc = self.desc
        req = self.owner.request(desc.req.flags)
        with desc.lock, _as_kernel():
            data = desc.handle.read(size, desc.pos, req)[:size]
            if not desc.handle.stream:
                desc.pos += len(data)
        return data

    def readall(self) -> bytes:
        chunks = []
        while True:
            chunk = self.read(io.DEFAULT_BUFFER_SIZE)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def write(self, data: Any) -> int:
        self._check()
        if not self.writable():
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        desc = self.desc
        req = self.owner.request(desc.req.flags)
        with desc.lock, _as_kernel():
            count = desc.handle.write(bytes(data), desc.pos, req)
            if not desc.handle.stream:
                desc.pos += count
        return count

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._check()
        desc = self.desc
        if desc.handle.stream:
            raise OSError(errno.ESPIPE, os.strerror(errno.ESPIPE))
        with desc.lock:
            if whence == os.SEEK_SET:
                pos = offset
            elif whence == os.SEEK_CUR:
                pos = desc.pos + offset
            elif whence == os.SEEK_END:
                with _as_kernel():
                    pos = desc.handle.seek_end() + offset
            else:
                raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
            if pos < 0:
                raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
            desc.pos = pos
        return pos

    def tell(self) -> int:
        return self.seek(0, os.SEEK_CUR)

    def truncate(self, size: int | None = None) -> int:
        self._check()
        if not self.writable():
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        size = self.desc.pos if size is None else size
        if size == 0:
            with _as_kernel():
                self.desc.node.truncate(self.owner.request(self.desc.req.flags))
        return size


def _flags_from_mode(mode: str) -> tuple[int, bool]:
    """open()'s mode string to (os flags, binary), with open()'s own checks."""
    chars = set(mode)
    if len(chars) != len(mode) or not chars <= set("rwaxb+t") or len(chars & set("rwax")) != 1:
        raise ValueError(f"invalid mode: {mode!r}")
    if "b" in chars and "t" in chars:
        raise ValueError("can't have text and binary mode at once")
    plus = "+" in chars
    if "r" in chars:
        flags = os.O_RDWR if plus else os.O_RDONLY
    else:
        flags = (os.O_RDWR if plus else os.O_WRONLY) | os.O_CREAT
        flags |= {"w": os.O_TRUNC, "a": os.O_APPEND, "x": os.O_EXCL}[(chars & set("wax")).pop()]
    return flags | os.O_CLOEXEC, "b" in chars


# ---------------------------------------------------------------------------
# The patches. Each one serves our files and hands everything else back.


def _ours(filesystem: FakeFilesystem, fd: Any) -> NodeRawIO | None:
    if not isinstance(fd, int) or fd < 0 or fd >= len(filesystem.open_files):
        return None
    wrappers = filesystem.open_files[fd]
    if wrappers and isinstance(wrappers[0], NodeRawIO):
        return wrappers[0]
    return None


def _node_file(filesystem: FakeFilesystem, path: Any) -> NodeFile | None:
    if isinstance(path, int):
        return None
    try:
        path = os.fspath(path)
        if not filesystem.exists(path):
            return None
        obj = filesystem.resolve(path)
    except (OSError, TypeError):
        return None
    return obj if isinstance(obj, NodeFile) else None


def _patched_file_open_call(original: Callable) -> Callable:
    def call(self: FakeFileOpen, file_: Any, mode: str = "r", buffering: int = -1,
             encoding: str | None = None, errors: str | None = None, newline: str | None = None,
             closefd: bool = True, opener: Any = None, open_modes: Any = None) -> Any:
        fs = self.filesystem
        target = _ours(fs, file_)
        node_file = None if target is not None else _node_file(fs, file_)
        if (target is None and node_file is None) or open_modes is not None:
            return original(self, file_, mode, buffering, encoding, errors, newline,
                            closefd, opener, open_modes)
        flags, binary = _flags_from_mode(mode)
        if target is not None:
            raw = NodeRawIO(target.owner, target.desc, target.file_object, str(file_), closefd=closefd)
            raw.filedes = file_
            fs.open_files[file_].append(raw)
        else:
            owner = node_file.owner
            if opener is not None:
                fd = opener(file_, flags)
                return call(self, fd, mode, buffering, encoding, errors, newline, True, None, None)
            raw = owner.open_raw(node_file, os.fspath(file_), flags)
        return _layer(raw, mode, buffering, encoding, errors, newline, binary)

    return call


def _layer(raw: NodeRawIO, mode: str, buffering: int, encoding: str | None, errors: str | None,
           newline: str | None, binary: bool) -> Any:
    """What io.open stacks on a FileIO, stacked on ours."""
    line_buffering = buffering == 1 and not binary
    if buffering == 1 or buffering < 0:
        buffering = io.DEFAULT_BUFFER_SIZE
    if buffering == 0:
        if binary:
            return raw
        raise ValueError("can't have unbuffered text I/O")
    if "+" in mode:
        buffer: Any = io.BufferedRandom(raw, buffering)
    elif raw.writable():
        buffer = io.BufferedWriter(raw, buffering)
    else:
        buffer = io.BufferedReader(raw, buffering)
    if binary:
        return buffer
    text = io.TextIOWrapper(buffer, encoding, errors, newline, line_buffering)
    text.mode = mode
    return text


def _patched_os_open(original: Callable) -> Callable:
    def open_(self: FakeOsModule, path: Any, flags: int, mode: int | None = None, *,
              dir_fd: int | None = None) -> int:
        if FakeOsModule.use_original:
            return original(self, path, flags, mode, dir_fd=dir_fd)
        full = self._path_with_dir_fd(path, self.open, dir_fd) if dir_fd is not None else path
        node_file = _node_file(self.filesystem, full)
        if node_file is None:
            return original(self, path, flags, mode, dir_fd=dir_fd)
        raw = node_file.owner.open_raw(node_file, os.fspath(full), flags)
        return raw.fileno()

    return open_


def _patched_fd_op(original: Callable, ours: Callable) -> Callable:
    def op(self: FakeOsModule, fd: Any, *args: Any) -> Any:
        raw = None if FakeOsModule.use_original else _ours(self.filesystem, fd)
        if raw is None:
            return original(self, fd, *args)
        return ours(raw, *args)

    return op


# ---------------------------------------------------------------------------
# The public face.


class FakeTracefs:
    """A tracefs tree mounted at ``path`` inside pyfakefs.

    ``tree`` is any ``nodes.Dir``; by default a fresh ftrace-mmio TraceArray
    (``nr_cpus``, ``clock``, ``buffer_size_kb``) and its control files, the
    array being ``self.array``. ``filesystem`` is an active pyfakefs
    FakeFilesystem (the ``fs`` fixture); without one, entering the context
    starts pyfakefs (a ``Patcher``) and leaving stops it.

    ``interrupted`` is what blocking reads poll to give up (EINTR); set it to
    e.g. ``event.is_set`` to end a reader blocked in another thread. Leaving
    the context makes it true, so blocked readers end then.
    """

    def __init__(self, path: str = DEFAULT_PATH, *, filesystem: FakeFilesystem | None = None,
                 tree: Dir | None = None, nr_cpus: int = 2, clock: str = "local",
                 buffer_size_kb: int | None = None, array: Any = None, machine: Any = None) -> None:
        _require_pyfakefs()
        self.path = path
        self.filesystem = filesystem
        self.array = array
        #: The ftrace-mmio System (machine, array, time base) when ``machine=`` was given.
        self.system: Any = None
        self._paused = 0
        with self.real_world():
            if machine is not None and machine is not False:
                if tree is not None or array is not None:
                    raise ValueError("machine= builds its own tree and array")
                self.system = _build_system(machine, nr_cpus=nr_cpus, clock=clock, buffer_size_kb=buffer_size_kb)
                self.array = self.system.array
                tree = _system_tree(self.system)
            elif tree is None:
                tree, self.array = _default_tree(array, nr_cpus=nr_cpus, clock=clock,
                                                 buffer_size_kb=buffer_size_kb)
        self.tree = tree
        self.interrupted: Callable[[], bool] = lambda: False
        self._closing = threading.Event()
        self._patcher: Any = None
        self._patches: list[Any] = []
        self._root: NodeDir | None = None

    # -- lifecycle

    def __enter__(self) -> FakeTracefs:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self.filesystem is None:
            from pyfakefs.fake_filesystem_unittest import Patcher

            self._patcher = Patcher()
            self._patcher.setUp()
            self.filesystem = self._patcher.fs
        fs = self.filesystem
        parent, name = os.path.split(os.path.normpath(self.path))
        if fs.exists(self.path):
            raise FileExistsError(errno.EEXIST, f"{self.path} already exists in the fake filesystem")
        fs.makedirs(parent, exist_ok=True)
        self.tree.name = name
        root = NodeDir(self.tree, fs, self)
        fs.resolve(parent).add_entry(root)
        self._root = root
        self._install_patches()

    def stop(self) -> None:
        self._closing.set()
        fs = self.filesystem
        if fs is not None:
            for fd, wrappers in enumerate(list(fs.open_files)):
                if wrappers and any(isinstance(w, NodeRawIO) and w.owner is self for w in wrappers):
                    self.close_fd(fd)
            if self._root is not None:
                parent = self._root.parent_dir() if self._root.parent_dir else None
                if parent is not None:
                    parent._entries.pop(self._root.name, None)
                self._root = None
        for patch in reversed(self._patches):
            patch.stop()
        self._patches.clear()
        if self._patcher is not None:
            self._patcher.tearDown()
            self._patcher = None
            self.filesystem = None
        if self.system is not None:
            with self.real_world():   # the pytest fixture's fs is still active here
                self.system.close()
            self.system = None

    def _install_patches(self) -> None:
        plan = [
            (FakeFileOpen, "call", _patched_file_open_call),
            (FakeOsModule, "open", _patched_os_open),
            (FakeOsModule, "write", lambda orig: _patched_fd_op(orig, lambda raw, data: raw.write(data))),
            (FakeOsModule, "lseek", lambda orig: _patched_fd_op(orig, lambda raw, pos, how: raw.seek(pos, how))),
            (FakeOsModule, "ftruncate", lambda orig: _patched_fd_op(orig, lambda raw, n: raw.truncate(n))),
            # A dup'ed fd gets a view of its own on the same open file description.
            (FakeOsModule, "dup", lambda orig: _patched_fd_op(orig, lambda raw: raw.owner.dup(raw))),
            (FakeOsModule, "dup2", lambda orig: _patched_fd_op(
                orig, lambda raw, fd2, inheritable=True: raw.owner.dup(raw, fd2))),
        ]
        for cls, name, make in plan:
            patch = mock.patch.object(cls, name, make(getattr(cls, name)))
            patch.start()
            self._patches.append(patch)

    # -- the machine (machine=...)

    @contextlib.contextmanager
    def real_world(self) -> Iterator[None]:
        """pyfakefs paused: the real filesystem, for code that compiles or reads
        the package's files (building a machine, loading a module)."""
        fs = self.filesystem
        pause = fs is not None and getattr(fs, "has_patcher", False) and self._paused == 0
        if pause:
            fs.pause()
        self._paused += 1
        try:
            yield
        finally:
            self._paused -= 1
            if pause:
                fs.resume()

    @property
    def machine(self) -> Any:
        """The emulated ``Machine`` (``machine=`` only)."""
        if self.system is None:
            raise RuntimeError("this tracefs has no machine: use machine=True "
                               "(@pytest.mark.tracefs(machine=True))")
        return self.system.machine

    def insmod(self, target: str | os.PathLike, *params: str) -> Any:
        """Load a module: a bundled driver's name (``nvlike``) or a path to your
        own ``.c`` in the real filesystem. Returns its ``ModuleInfo``. Raises
        ``OSError`` with the kernel's errno (ENOENT, EEXIST, ...) as insmod would."""
        machine = self.machine
        with self.real_world():
            return machine.insmod(os.fspath(target), [str(p) for p in params])

    def rmmod(self, name: str) -> None:
        machine = self.machine
        with self.real_world():
            machine.rmmod(name)

    def dmesg(self) -> str:
        """The machine's kernel log, as ``dmesg`` prints it."""
        return self.machine.dmesg_text()

    # -- chosen mmiotrace records, for tools that only parse

    @property
    def mmiotrace(self) -> Any:
        """The mmiotrace tracer, once it is the current tracer."""
        tracer = self.array.tracer if self.array is not None else None
        if tracer is None or tracer.name != "mmiotrace":
            raise RuntimeError("select mmiotrace first: write 'mmiotrace' to current_tracer "
                               "(needs machine=True)")
        return tracer

    def add_map(self, phys: int, length: int, *, virt: int = 0xFFFFC90000000000, map_id: int = 1) -> None:
        """A MAP record: ``ioremap(phys, length)`` returned ``virt``."""
        self.mmiotrace.trace_map(_MMIO_PROBE, phys, virt, length, map_id)

    def add_unmap(self, *, map_id: int = 1) -> None:
        """An UNMAP record for the mapping ``map_id``."""
        self.mmiotrace.trace_map(_MMIO_UNPROBE, 0, 0, 0, map_id)

    def add_read(self, phys: int, value: int, *, width: int = 4, pc: int = 0, map_id: int = 1) -> None:
        """An R record: ``width`` bytes (1, 2, 4, 8) read at ``phys``."""
        self.mmiotrace.trace_rw(_MMIO_READ, width, phys, value, pc, map_id)

    def add_write(self, phys: int, value: int, *, width: int = 4, pc: int = 0, map_id: int = 1) -> None:
        """A W record: ``value`` written with ``width`` bytes at ``phys``."""
        self.mmiotrace.trace_rw(_MMIO_WRITE, width, phys, value, pc, map_id)

    def add_marker(self, text: str) -> None:
        """A MARK record, as ``mmiotrace_printk`` (or a write to trace_marker) makes."""
        if not self.mmiotrace.printk(text if text.endswith("\n") else text + "\n"):
            raise RuntimeError("mmiotrace is not tracing: no marker recorded")

    # -- used by the fake files

    def request(self, flags: int) -> Request:
        return Request(flags=flags, pid=os.getpid(), uid=_helpers.get_uid(), gid=_helpers.get_gid(),
                       interrupted=lambda: self._closing.is_set() or self.interrupted())

    def open_raw(self, node_file: NodeFile, path: str, flags: int) -> NodeRawIO:
        if flags & os.O_CREAT and flags & os.O_EXCL:
            raise OSError(errno.EEXIST, os.strerror(errno.EEXIST), path)
        if flags & getattr(os, "O_DIRECTORY", 0):
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
        req = self.request(flags)
        with _as_kernel(path):
            handle = node_file.node.open(req)
        desc = _Description(node_file.node, handle, req)
        if flags & os.O_TRUNC and req.writable:
            try:
                with _as_kernel(path):
                    node_file.node.truncate(req)
            except BaseException:
                desc.release()
                raise
        raw = NodeRawIO(self, desc, node_file, path)
        assert self.filesystem is not None
        raw.filedes = self.filesystem.add_open_file(raw)
        return raw

    def dup(self, raw: NodeRawIO, fd2: int = -1) -> int:
        assert self.filesystem is not None
        if fd2 == raw.filedes:
            return fd2
        view = NodeRawIO(self, raw.desc, raw.file_object, raw.name)
        view.filedes = self.filesystem.add_open_file(view, fd2)
        return view.filedes

    def close_fd(self, fd: int) -> None:
        fs = self.filesystem
        assert fs is not None
        wrappers = fs.open_files[fd] if fd < len(fs.open_files) else None
        if not wrappers:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        fs.close_open_file(fd)
        for wrapper in wrappers:
            if isinstance(wrapper, NodeRawIO):
                wrapper._detach()
                self._release_if_unused(wrapper.desc)

    def forget(self, raw: NodeRawIO) -> None:
        """A closefd=False view closes: the fd stays."""
        fs = self.filesystem
        if fs is not None and raw.filedes is not None and raw.filedes < len(fs.open_files):
            wrappers = fs.open_files[raw.filedes]
            if wrappers and raw in wrappers and len(wrappers) > 1:
                wrappers.remove(raw)

    def _release_if_unused(self, desc: _Description) -> None:
        fs = self.filesystem
        assert fs is not None
        for wrappers in fs.open_files:
            if wrappers and any(isinstance(w, NodeRawIO) and w.desc is desc for w in wrappers):
                return
        desc.release()

    def open_fds(self) -> list[int]:
        """The fake fds open on this tree (a test can assert none leaked)."""
        fs = self.filesystem
        if fs is None:
            return []
        return [fd for fd, ws in enumerate(fs.open_files)
                if ws and any(isinstance(w, NodeRawIO) and w.owner is self for w in ws)]


# The kernel's mmiotrace opcodes (enum mm_io_opcode), as the records carry them.
_MMIO_READ, _MMIO_WRITE, _MMIO_PROBE, _MMIO_UNPROBE = 1, 2, 3, 4


def _default_tree(array: Any, **kwargs: Any) -> tuple[Dir, Any]:
    # The one place this generic package reaches for tracing: the default content.
    # Called with pyfakefs paused (FakeTracefs.real_world), so the import finds
    # the installed package.
    from ftrace_mmio.trace.array import TraceArray

    if array is None:
        array = TraceArray(**kwargs)
    return _tree_of(array), array


def _tree_of(array: Any) -> Dir:
    from ftrace_mmio.trace import rbnative
    from ftrace_mmio.trace.files import build_tree

    # The formatting helper is built (or found in its cache) now, while the
    # real filesystem is in view: under pyfakefs it could not be, and reads
    # would take the slower Python loops.
    rbnative.library()
    return build_tree(array)


def _system_tree(system: Any) -> Dir:
    """What a mount of ``system`` serves: the tracing files and ``dev/``."""
    from ftrace_mmio.daemon import system_tree

    return system_tree(system)


def _build_system(machine: Any, *, nr_cpus: int, clock: str, buffer_size_kb: int | None) -> Any:
    """A whole system, the way ``ftrace-mmio mount`` builds one: ``machine`` is
    True (the default machine), a machine file's path, or a ``MachineConfig``.
    A machine file's own ``cpus``/``clock`` win over the defaults here."""
    from ftrace_mmio.daemon import system_from_config
    from ftrace_mmio.machine.config import MachineConfig, default_config, load_machine_file

    if machine is True:
        config = default_config().replace(cpus=nr_cpus, clock=clock, buffer_size_kb=buffer_size_kb)
    elif isinstance(machine, MachineConfig):
        config = machine
    elif isinstance(machine, (str, os.PathLike)):
        config = load_machine_file(machine)
    else:
        raise TypeError(f"machine= wants True, a machine file or a MachineConfig, not {machine!r}")
    return system_from_config(config)


# ---------------------------------------------------------------------------
# pytest plugin (entry point ``tracefs = "tracefs.fakefs"``).

try:
    import pytest
except ImportError:  # pragma: no cover - FakeTracefs still works as a context manager
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    def pytest_configure(config: Any) -> None:
        config.addinivalue_line(
            "markers",
            "tracefs(path=..., nr_cpus=2, clock='local', buffer_size_kb=None, machine=None): "
            "configure the tracefs fixture (machine=True: an emulated machine with mmiotrace)",
        )

    def _marker_kwargs(request: Any) -> dict[str, Any]:
        marker = request.node.get_closest_marker("tracefs")
        return dict(marker.kwargs) if marker else {}

    @pytest.fixture
    def tracefs_path(request: Any) -> str:
        """Where the ``tracefs`` fixture mounts (default /sys/kernel/tracing)."""
        return _marker_kwargs(request).get("path", DEFAULT_PATH)

    @pytest.fixture
    def tracefs(request: Any, tracefs_path: str) -> Iterator[FakeTracefs]:
        """A tracefs look-alike at ``tracefs_path`` in pyfakefs's fake filesystem."""
        _require_pyfakefs()
        # ``fs`` may already be active (a test asking for fs before tracefs):
        # FakeTracefs builds its content with pyfakefs paused either way.
        fake_fs = request.getfixturevalue("fs")
        kwargs = {k: v for k, v in _marker_kwargs(request).items() if k != "path"}
        with FakeTracefs(tracefs_path, filesystem=fake_fs, **kwargs) as tfs:
            yield tfs
