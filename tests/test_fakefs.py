"""The tracing directory inside pyfakefs, used the way a tool's own tests would.

Same scenario as test_fuse_mount.py, through the ``tracefs`` fixture: plain
``open``, ``os`` and ``pathlib`` calls on /sys/kernel/tracing, which exists
only in the fake filesystem.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from pathlib import Path

import pytest

from fuse_util import assert_marker_line, header
from tracefs.fakefs import FakeTracefs
from tracefs.nodes import Dir, File, StaticHandle

T = "/sys/kernel/tracing"


def read(path: str) -> str:
    with open(path) as f:
        return f.read()


def write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def test_available_tracers(tracefs: FakeTracefs) -> None:
    assert read(f"{T}/available_tracers").endswith("nop\n")
    assert "nop" in read(f"{T}/available_tracers").split()


def test_unknown_tracer_is_einval(tracefs: FakeTracefs) -> None:
    with pytest.raises(OSError) as err:
        write(f"{T}/current_tracer", "bogus\n")
    assert (err.value.errno, err.value.strerror) == (errno.EINVAL, "Invalid argument")
    assert read(f"{T}/current_tracer") == "nop\n"


def test_marker_shows_in_trace(tracefs: FakeTracefs) -> None:
    write(f"{T}/trace_marker", "hi\n")
    lines = read(f"{T}/trace").splitlines()
    assert "\n".join(lines[:12]) + "\n" == header(1, 1)
    (line,) = lines[12:]
    assert_marker_line(line, os.getpid(), "hi")


def test_trace_pipe_consumes_and_clearing_trace(tracefs: FakeTracefs) -> None:
    write(f"{T}/trace_marker", "once\n")
    fd = os.open(f"{T}/trace_pipe", os.O_RDONLY | os.O_NONBLOCK)
    try:
        data = os.read(fd, 4096).decode()
        assert_marker_line(data.rstrip("\n"), os.getpid(), "once")
        with pytest.raises(BlockingIOError):  # EAGAIN: empty, non-blocking
            os.read(fd, 4096)
        with pytest.raises(OSError) as err:
            os.lseek(fd, 0, os.SEEK_SET)
        assert err.value.errno == errno.ESPIPE
    finally:
        os.close(fd)
    assert read(f"{T}/trace") == header(0, 0)
    write(f"{T}/trace_marker", "a")
    write(f"{T}/trace", "")  # "echo > trace": O_TRUNC clears
    assert read(f"{T}/trace") == header(0, 0)


def test_second_trace_pipe_is_busy(tracefs: FakeTracefs) -> None:
    with open(f"{T}/trace_pipe", "rb", buffering=0):
        with pytest.raises(OSError) as err:
            open(f"{T}/trace_pipe", "rb")
        assert err.value.errno == errno.EBUSY
    open(f"{T}/trace_pipe", "rb").close()  # released on close: open again works
    assert tracefs.open_fds() == []


def test_blocked_reader_is_woken_by_a_marker(tracefs: FakeTracefs) -> None:
    got: list[bytes] = []
    fd = os.open(f"{T}/trace_pipe", os.O_RDONLY)
    reader = threading.Thread(target=lambda: got.append(os.read(fd, 4096)))
    reader.start()
    write(f"{T}/trace_marker", "wake")
    reader.join(30)
    os.close(fd)
    assert got and got[0].decode().endswith(": tracing_mark_write: wake\n")


def test_interrupted_hook_ends_a_blocked_read(tracefs: FakeTracefs) -> None:
    stop = threading.Event()
    tracefs.interrupted = stop.is_set
    errors: list[int] = []

    def reader() -> None:
        with open(f"{T}/trace_pipe", "rb", buffering=0) as f:
            try:
                f.read(4096)
            except OSError as exc:
                errors.append(exc.errno)

    thread = threading.Thread(target=reader)
    thread.start()
    stop.set()
    thread.join(30)
    assert errors == [errno.EINTR]


def test_short_marker_write(tracefs: FakeTracefs) -> None:
    fd = os.open(f"{T}/trace_marker", os.O_WRONLY)
    try:
        assert os.write(fd, b"x" * 5000) == 4054
    finally:
        os.close(fd)


def test_modes_sizes_and_listing(tracefs: FakeTracefs) -> None:
    def mode(name: str) -> str:
        return stat.filemode(os.stat(f"{T}/{name}").st_mode)

    assert mode("available_tracers") == "-r--r-----"
    assert mode("current_tracer") == "-rw-r-----"
    assert mode("trace_marker") == "--w--w----"
    assert stat.filemode(os.stat(T).st_mode) == "drwx------"
    st = os.stat(f"{T}/trace")
    assert (st.st_size, st.st_nlink) == (0, 1)
    assert os.stat(f"{T}/per_cpu").st_nlink == 2
    names = os.listdir(T)
    assert {"trace", "trace_pipe", "trace_marker", "per_cpu", "options"} <= set(names)
    assert sorted(os.listdir(f"{T}/per_cpu")) == ["cpu0", "cpu1"]
    fd = os.open(f"{T}/tracing_on", os.O_RDONLY)  # pyfakefs would chmod here; tracefs modes stay
    os.close(fd)
    assert mode("tracing_on") == "-rw-r-----"


def test_namespace_changes_are_refused(tracefs: FakeTracefs) -> None:
    with pytest.raises(PermissionError) as err:
        os.mkdir(f"{T}/newdir")
    assert err.value.errno == errno.EPERM
    with pytest.raises(PermissionError) as err:
        open(f"{T}/newfile", "w")
    assert err.value.errno == errno.EACCES
    with pytest.raises(PermissionError) as err:
        os.unlink(f"{T}/trace")
    assert err.value.errno == errno.EPERM
    with pytest.raises(FileNotFoundError):
        os.unlink(f"{T}/nosuchfile")
    with pytest.raises(FileExistsError):
        open(f"{T}/trace", "x")
    assert os.path.exists(f"{T}/trace")


def test_pathlib_and_control_values(tracefs: FakeTracefs) -> None:
    tracing_on = Path(T, "tracing_on")
    assert tracing_on.read_text() == "1\n"
    tracing_on.write_text("0\n")
    assert tracing_on.read_text() == "0\n"
    assert tracefs.array.tracing_on is False
    with pytest.raises(OSError) as err:  # tracing off: markers are EBADF
        Path(T, "trace_marker").write_text("lost\n")
    assert err.value.errno == errno.EBADF


def test_one_fd_writes_each_value_as_a_command(tracefs: FakeTracefs) -> None:
    fd = os.open(f"{T}/tracing_on", os.O_RDWR)
    try:
        os.write(fd, b"0")
        assert tracefs.array.tracing_on is False
        os.write(fd, b"1")  # at offset 1: control files ignore the offset
        assert tracefs.array.tracing_on is True
    finally:
        os.close(fd)


def test_the_array_is_the_one_behind_the_files(tracefs: FakeTracefs) -> None:
    tracefs.array.set_tracing_on(False)
    assert read(f"{T}/tracing_on") == "0\n"


@pytest.mark.tracefs(path="/sys/kernel/debug/tracing", nr_cpus=4, clock="det")
def test_marker_configures_the_fixture(tracefs: FakeTracefs, tracefs_path: str) -> None:
    assert tracefs_path == tracefs.path == "/sys/kernel/debug/tracing"
    assert "#P:4" in read(f"{tracefs_path}/trace")
    assert read(f"{tracefs_path}/trace_clock").split()[-1] == "[det]"
    assert not os.path.exists(T)


@pytest.mark.parametrize("tracefs_path", ["/tmp/tracing"])
def test_tracefs_path_can_be_overridden(tracefs: FakeTracefs, tracefs_path: str) -> None:
    assert read("/tmp/tracing/current_tracer") == "nop\n"


def test_context_manager_outside_the_fixture() -> None:
    tree = Dir("", 0o700)
    tree.add(File("hello", 0o440, lambda req: StaticHandle(b"hello\n")))
    with FakeTracefs("/x/tracing", tree=tree) as tfs:
        assert open("/x/tracing/hello").read() == "hello\n"
        assert tfs.array is None
    assert not os.path.exists("/x/tracing")  # pyfakefs is gone again


def test_fixture_leaves_no_open_files(tracefs: FakeTracefs) -> None:
    f = open(f"{T}/trace")
    fd = os.open(f"{T}/trace_marker", os.O_WRONLY)
    dup = os.dup(fd)
    os.close(fd)
    os.write(dup, b"via dup")
    high = os.dup2(dup, 40)
    os.close(dup)
    os.write(high, b"via dup2")
    os.close(high)
    f.close()
    assert tracefs.open_fds() == []
    lines = read(f"{T}/trace").splitlines()
    assert lines[-2].endswith(": tracing_mark_write: via dup")
    assert lines[-1].endswith(": tracing_mark_write: via dup2")
