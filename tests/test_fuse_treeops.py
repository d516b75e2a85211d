"""tracefs.fuse's operations layer on a small tree of its own, in process (no mount).

The FUSE adapter knows nothing of tracing: these nodes are a static file, a
write-only file and a blocking stream, as any pseudo-filesystem might have.
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import threading

import pytest

from tracefs.fuse import FuseUnavailable, MountOptions, TreeOps, _Interruption, check_fuse
from tracefs.nodes import Dir, File, Handle, Request, StaticHandle


class Sink(Handle):
    stream = True

    def __init__(self, log: list[bytes]) -> None:
        self.log = log

    def write(self, data: bytes, offset: int, req: Request) -> int:
        self.log.append(data)
        return len(data)


class Stream(Handle):
    """Blocks until fed, like trace_pipe; honours O_NONBLOCK and interruption."""

    stream = True

    def __init__(self, feed: list[bytes], cv: threading.Condition) -> None:
        self.feed, self.cv = feed, cv
        self.released = False

    def read(self, size: int, offset: int, req: Request) -> bytes:
        with self.cv:
            while not self.feed:
                if req.nonblock:
                    raise OSError(errno.EAGAIN, "empty")
                if req.interrupted():
                    raise OSError(errno.EINTR, "interrupted")
                self.cv.wait(0.01)
            return self.feed.pop(0)

    def poll(self) -> bool:
        return bool(self.feed)

    def release(self) -> None:
        self.released = True


@pytest.fixture
def tree():
    log: list[bytes] = []
    truncated: list[int] = []
    feed: list[bytes] = []
    cv = threading.Condition()
    streams: list[Stream] = []

    def open_stream(req: Request) -> Stream:
        streams.append(Stream(feed, cv))
        return streams[-1]

    root = Dir("", 0o700)
    root.add(File("static", 0o440, lambda req: StaticHandle(b"0123456789\n")))
    root.add(File("sink", 0o220, lambda req: Sink(log), truncate=lambda req: truncated.append(req.pid)))
    root.add(File("stream", 0o440, open_stream))
    sub = root.add(Dir("sub", 0o750))
    sub.add(File("leaf", 0o640, lambda req: StaticHandle(b"leaf\n")))
    return TreeOps(root, uid=1234, gid=5678), log, truncated, feed, cv, streams


def test_getattr_sizes_modes_owner(tree) -> None:
    ops = tree[0]
    attrs = ops.getattr("/static")
    # Size 1, not tracefs's 0: what makes sendfile ask us at all (see tracefs/fuse.py).
    assert (attrs["st_mode"], attrs["st_size"], attrs["st_nlink"]) == (stat.S_IFREG | 0o440, 1, 1)
    assert (attrs["st_uid"], attrs["st_gid"], attrs["st_blocks"]) == (1234, 5678, 0)
    assert ops.getattr("/")["st_nlink"] == 2
    assert ops.getattr("/sub")["st_mode"] == stat.S_IFDIR | 0o750
    assert ops.getattr("/sub")["st_mtime"] == attrs["st_mtime"] == ops.mount_time
    with pytest.raises(OSError) as err:
        ops.getattr("/nope")
    assert err.value.errno == errno.ENOENT
    assert ops.readdir("/") == [".", "..", "static", "sink", "stream", "sub"]


def test_reads_follow_offsets_and_streams_are_flagged(tree) -> None:
    ops = tree[0]
    fh, stream = ops.open("/static", Request())
    assert not stream
    assert ops.read(fh, 4, 2, Request()) == b"2345"
    assert ops.read(fh, 100, 11, Request()) == b""
    ops.release(fh)
    fh, stream = ops.open("/stream", Request())
    assert stream
    ops.release(fh)
    assert ops.open_count() == 0


def test_truncate_only_to_zero_reaches_the_node(tree) -> None:
    ops, _, truncated = tree[:3]
    ops.truncate("/sink", 5, Request(pid=1))
    ops.truncate("/sink", 0, Request(pid=2))
    assert truncated == [2]
    with pytest.raises(OSError) as err:
        ops.truncate("/sub", 0, Request())
    assert err.value.errno == errno.EISDIR


def test_write_goes_to_the_handle(tree) -> None:
    ops, log = tree[:2]
    fh, _ = ops.open("/sink", Request(flags=os.O_WRONLY))
    assert ops.write(fh, b"abc", 0, Request()) == 3
    assert log == [b"abc"]
    with pytest.raises(OSError) as err:
        ops.read(fh, 10, 0, Request())
    assert err.value.errno == errno.EINVAL  # no read method
    ops.release(fh)


def test_namespace_errnos(tree) -> None:
    ops = tree[0]
    for fn, args, code in [
        (ops.create, ("/new",), errno.EACCES),
        (ops.create, ("/static",), errno.EEXIST),
        (ops.mkdir, ("/newdir",), errno.EPERM),
        (ops.rmdir, ("/sub",), errno.EPERM),
        (ops.rmdir, ("/nothing",), errno.ENOENT),
        (ops.unlink, ("/static",), errno.EPERM),
        (ops.unlink, ("/nothing",), errno.ENOENT),
        (ops.rename, ("/static", "/x"), errno.EPERM),
        (ops.setattr_denied, ("/static",), errno.EPERM),
        (ops.open, ("/sub", Request()), errno.EISDIR),
    ]:
        with pytest.raises(OSError) as err:
            fn(*args)
        assert err.value.errno == code, (fn.__name__, args)


def test_blocking_stream_nonblock_poll_and_interrupt(tree) -> None:
    ops, _, _, feed, cv, streams = tree
    fh, _ = ops.open("/stream", Request())
    with pytest.raises(OSError) as err:
        ops.read(fh, 10, 0, Request(flags=os.O_NONBLOCK))
    assert err.value.errno == errno.EAGAIN
    assert ops.poll(fh) is False
    stop = threading.Event()
    with pytest.raises(OSError) as err:
        threading.Timer(0.05, stop.set).start()
        ops.read(fh, 10, 0, Request(interrupted=stop.is_set))
    assert err.value.errno == errno.EINTR
    with cv:
        feed.append(b"data")
    assert ops.poll(fh) is True
    assert ops.read(fh, 10, 0, Request()) == b"data"
    ops.release(fh)
    assert streams[0].released


def test_interruption_rules() -> None:
    exiting = threading.Event()
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert _Interruption(gone.pid, exiting.is_set, None)() is True  # the reader is gone
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        check = _Interruption(sleeper.pid, exiting.is_set, lambda: True)
        # Alive, nothing pending: /proc answers, libfuse's flag is not consulted.
        assert check() is False
        exiting.set()  # the loop is ending: every blocked read gives up
        assert check() is True
    finally:
        sleeper.kill()
        sleeper.wait()
    # No /proc view of the reader (pid 0): libfuse's own flag decides.
    assert _Interruption(0, lambda: False, lambda: True)() is True
    assert _Interruption(0, lambda: False, lambda: False)() is False


def test_mount_options() -> None:
    args = MountOptions().fuse_args()
    assert args[:2] == ["-f", "-o"]
    opts = args[2].split(",")
    assert {"fsname=ftrace-mmio", "subtype=tracefs", "default_permissions"} <= set(opts)
    assert "allow_other" not in opts and "nonempty" not in opts
    assert "allow_other" in MountOptions(allow_other=True).fuse_args()[2].split(",")


def test_missing_fuse_names_the_fix(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(FuseUnavailable) as err:
        check_fuse(str(tmp_path / "no-fuse-device"))
    assert "does not exist" in str(err.value) and "apt-get install libfuse2 fuse3" in str(err.value)
    monkeypatch.setitem(sys.modules, "fuse", None)  # as if fusepy were missing
    with pytest.raises(FuseUnavailable) as err:
        check_fuse("/dev/null")
    assert "pip install fusepy" in str(err.value)
