"""A tree of directories and files whose operations are handlers.

This is the whole contract between a pseudo-filesystem's *content* (for
tracing: ``ftrace_mmio.trace.files``) and the adapters that serve it (FUSE in
``tracefs.fuse``, pyfakefs in ``tracefs.fakefs``). Nothing here knows about
tracing.

Errors cross this boundary as ``OSError(errno, ...)``; adapters pass the errno
through unchanged.

Semantics the adapters rely on (they are the kernel's tracefs rules):

* Every regular file reports size 0 (the FUSE adapter says 1, so that
  sendfile and splice reach it at all: see ``tracefs.fuse``); adapters must
  not cache contents (FUSE: ``direct_io``, and page-cache reads refused).
* ``File.open`` is called for every open, with the open flags. O_TRUNC is
  *not* acted on by ``open``: adapters call ``File.truncate`` separately
  (libfuse2 sends it as its own request anyway).
* ``Handle.read``/``Handle.write`` get the file offset; seekable handles
  decide what it means. A ``stream`` handle has no position: adapters report
  ESPIPE for lseek/pread/pwrite where they can see them.
* ``Handle.read`` may block (trace_pipe). It must wait on a condition
  variable in short slices and return early with EINTR when
  ``req.interrupted()`` turns true, so that a signal can end the reader.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from typing import Callable, Iterator


def _never() -> bool:
    return False


@dataclass
class Request:
    """Who is asking, and how. One per open(); handles keep theirs."""

    flags: int = os.O_RDONLY
    pid: int = 0
    uid: int = 0
    gid: int = 0
    # Returns True once the caller was interrupted (signal); blocking reads poll it.
    interrupted: Callable[[], bool] = field(default=_never, repr=False)

    @property
    def nonblock(self) -> bool:
        return bool(self.flags & os.O_NONBLOCK)

    @property
    def accmode(self) -> int:
        return self.flags & os.O_ACCMODE

    @property
    def readable(self) -> bool:
        return self.accmode in (os.O_RDONLY, os.O_RDWR)

    @property
    def writable(self) -> bool:
        return self.accmode in (os.O_WRONLY, os.O_RDWR)


class Handle:
    """An open file. Subclass and override what the file supports."""

    #: True for files with no position (trace_pipe, trace_marker): lseek,
    #: pread and pwrite give ESPIPE.
    stream: bool = False

    def read(self, size: int, offset: int, req: Request) -> bytes:
        raise OSError(errno.EINVAL, "file has no read method")

    def write(self, data: bytes, offset: int, req: Request) -> int:
        raise OSError(errno.EINVAL, "file has no write method")

    def seek_end(self) -> int:
        """The offset lseek(SEEK_END) gives; raise OSError to refuse."""
        return 0

    def poll(self) -> bool:
        """True when a read would not block."""
        return True

    def ioctl(self, cmd: int, arg: int, data: bytes, out_size: int, req: Request) -> tuple[int, bytes]:
        """ioctl(2): ``data`` is what the caller passed in (the size the
        command number encodes), the result is (return value, ``out_size``
        bytes to hand back). Files without ioctls say ENOTTY, as Linux."""
        raise OSError(errno.ENOTTY, "inappropriate ioctl for device")

    def flush(self) -> None:
        """A close(2) of one descriptor of the open file (there may be others:
        dup, fork). ``release`` follows when the last one goes; over FUSE it
        arrives after close(2) has returned."""

    def release(self) -> None:
        """Called once when the last reference to the open file goes."""


class Node:
    mode: int

    def __init__(self, name: str, mode: int) -> None:
        self.name = name
        self.mode = mode

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)


class File(Node):
    """A regular file. ``opener`` builds the handle for each open."""

    def __init__(
        self,
        name: str,
        perm: int,
        opener: Callable[[Request], Handle],
        truncate: Callable[[Request], None] | None = None,
    ) -> None:
        super().__init__(name, stat.S_IFREG | perm)
        self._opener = opener
        self._truncate = truncate

    def open(self, req: Request) -> Handle:
        return self._opener(req)

    def truncate(self, req: Request) -> None:
        """O_TRUNC or truncate(2) to 0. Most files accept it and do nothing."""
        if self._truncate is not None:
            self._truncate(req)


class Dir(Node):
    def __init__(self, name: str, perm: int = 0o750) -> None:
        super().__init__(name, stat.S_IFDIR | perm)
        self.children: dict[str, Node] = {}

    def add(self, node: Node) -> Node:
        self.children[node.name] = node
        return node

    def mkdir(self, name: str) -> Dir:
        raise OSError(errno.EPERM, "mkdir not allowed here")

    def rmdir(self, name: str) -> None:
        raise OSError(errno.EPERM, "rmdir not allowed here")

    def create(self, name: str) -> None:
        """A new regular file by O_CREAT/mknod: tracefs refuses with EACCES."""
        raise OSError(errno.EACCES, "cannot create files in tracefs")

    def lookup(self, path: str) -> Node:
        """Resolve a '/'-separated path relative to this directory."""
        node: Node = self
        for part in (p for p in path.split("/") if p):
            if not isinstance(node, Dir):
                raise OSError(errno.ENOTDIR, path)
            try:
                node = node.children[part]
            except KeyError:
                raise OSError(errno.ENOENT, path) from None
        return node

    def walk(self, prefix: str = "") -> Iterator[tuple[str, Node]]:
        for name, child in self.children.items():
            path = f"{prefix}/{name}"
            yield path, child
            if isinstance(child, Dir):
                yield from child.walk(path)


class DynamicDir(Dir):
    """A directory whose entries come from ``entries()`` at every lookup
    (device nodes that appear and go while mounted: the mount's ``dev/``)."""

    def __init__(self, name: str, perm: int, entries: Callable[[], dict[str, Node]]) -> None:
        super().__init__(name, perm)
        self._entries = entries

    @property  # type: ignore[override]
    def children(self) -> dict[str, Node]:
        return self._entries()

    @children.setter
    def children(self, value: dict) -> None:
        pass  # computed


class StaticHandle(Handle):
    """Serves bytes built once at open time, with "read from buffer at offset"."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, size: int, offset: int, req: Request) -> bytes:
        return self.data[offset : offset + size]
