"""Every way of reading a file, on a real mount, against coreutils ``cat``.

Users read tracefs with whatever their system has: busybox (initramfs, small
containers), coreutils, ``tee``, Python's ``shutil``. They use read, pread,
readv, sendfile, splice and copy_file_range. On the kernels we run on, FUSE
serves sendfile/splice from the page cache whatever ``direct_io`` says, so
without care busybox ``cat`` and ``shutil.copyfile`` read 0 bytes (see
tracefs/fuse.py). Each test here compares bytes with coreutils ``cat``
(plain read()), on every readable file of the tree, on ``trace`` with
content, and on ``trace_pipe`` blocking and not.

busybox is a requirement of the test suite (scripts/_setup.sh installs it):
missing, these tests skip on a developer's machine and fail under CI=true.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from fuse_util import holds_open, Mount, mounted, needs_fuse, shared_mount, wait_until  # noqa: F401 - fixtures

pytestmark = [needs_fuse, pytest.mark.fuse]

BUSYBOX = shutil.which("busybox")
COREUTILS_CAT = "/bin/cat"


def require(tool: str | None, name: str, package: str) -> str:
    """The path of a tool the suite needs: skip without it, but never silently in CI."""
    if tool is None:
        message = f"{name} is not installed (Debian: apt-get install {package}; ./scripts/test installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return tool


@pytest.fixture
def busybox() -> str:
    return require(BUSYBOX, "busybox", "busybox")


def run(argv: list[str], cwd: Path, stdin: int | None = None) -> bytes:
    result = subprocess.run(argv, cwd=cwd, stdin=stdin, capture_output=True, timeout=60)
    assert result.returncode == 0, f"{argv} failed: {result.stderr.decode(errors='replace')}"
    return result.stdout


def coreutils(path: Path) -> bytes:
    return run([COREUTILS_CAT, str(path)], path.parent)


def sendfile_copy(path: Path) -> bytes:
    """What a sendfile-first copier does (shutil's own loop, spelled out):
    sendfile until 0; on EINVAL at the start, plain reads instead."""
    out = os.memfd_create("copy")
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            while os.sendfile(out, fd, None, 1 << 20):
                pass
        except OSError as exc:
            assert exc.errno == errno.EINVAL, exc
            assert os.lseek(out, 0, os.SEEK_CUR) == 0, "sendfile failed after copying part"
            while chunk := os.read(fd, 1 << 16):
                os.write(out, chunk)
        os.lseek(out, 0, os.SEEK_SET)
        return Path(f"/proc/self/fd/{out}").read_bytes()
    finally:
        os.close(fd)
        os.close(out)


def readers(path: Path, busybox: str, tmp: Path) -> dict[str, bytes]:
    """Every reader's bytes for ``path`` (a file whose content does not change)."""
    got: dict[str, bytes] = {}
    got["busybox cat"] = run([busybox, "cat", path.name], path.parent)
    got["busybox dd"] = run([busybox, "dd", f"if={path.name}", "bs=7", "status=none"], path.parent) \
        if _dd_has_status(busybox) else run([busybox, "dd", f"if={path.name}", "bs=7"], path.parent)
    got["busybox head"] = run([busybox, "head", "-c", "1000000", path.name], path.parent)
    got["busybox tail"] = run([busybox, "tail", "-c", "+1", path.name], path.parent)
    with open(path, "rb") as src:
        got["busybox tee (stdin)"] = run([busybox, "tee"], path.parent, stdin=src.fileno())
    with open(path, "rb") as src:
        got["coreutils tee (stdin)"] = run(["tee"], path.parent, stdin=src.fileno())
    got["coreutils dd"] = run(["dd", f"if={path.name}", "bs=7", "status=none"], path.parent)
    got["coreutils cp"] = _cp(path, tmp)
    out = tmp / "shutil.copyfile"
    shutil.copyfile(path, out)
    got["shutil.copyfile"] = out.read_bytes()
    with open(path, "rb") as src, open(tmp / "copyfileobj", "wb") as dst:
        shutil.copyfileobj(src, dst)
    got["shutil.copyfileobj"] = (tmp / "copyfileobj").read_bytes()
    got["os.sendfile (with fallback)"] = sendfile_copy(path)
    got["open().read()"] = path.read_bytes()
    got["pread"] = _pread_all(path)
    got["readv"] = _readv_all(path)
    return got


def _dd_has_status(busybox: str) -> bool:
    probe = subprocess.run([busybox, "dd", "if=/dev/null", "status=none"], capture_output=True)
    return probe.returncode == 0


def _cp(path: Path, tmp: Path) -> bytes:
    out = tmp / "cp.out"
    subprocess.run(["cp", str(path), str(out)], check=True, timeout=60)
    return out.read_bytes()


def _pread_all(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        data, offset = b"", 0
        while chunk := os.pread(fd, 5, offset):   # small and odd: offsets must add up
            data += chunk
            offset += len(chunk)
        return data
    finally:
        os.close(fd)


def _readv_all(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        data = b""
        while True:
            bufs = [bytearray(3), bytearray(11)]
            n = os.readv(fd, bufs)
            if not n:
                return data
            data += bytes(bufs[0] + bufs[1])[:n]
    finally:
        os.close(fd)


def readable_files(root: Path) -> list[Path]:
    """Every regular file a reader may open, pipes excepted (they block; tested below)."""
    found = []
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = Path(dirpath, name)
            mode = path.stat().st_mode
            if stat.S_ISREG(mode) and mode & stat.S_IRUSR and not name.startswith("trace_pipe"):
                found.append(path)
    return sorted(found)


def test_every_file_every_reader(mounted: Mount, busybox: str, tmp_path: Path) -> None:
    mounted.ok("echo 'a marker for every reader' > trace_marker")
    files = readable_files(mounted.path)
    assert len(files) > 50 and mounted.path / "trace" in files
    volatile = []
    for path in files:
        expected = coreutils(path)
        if coreutils(path) != expected:
            # A file that changes between two reads (a clock in per_cpu/*/stats):
            # compare the shape only.
            volatile.append(path.name)
            for reader, data in readers(path, busybox, tmp_path).items():
                assert data.count(b"\n") == expected.count(b"\n"), (path, reader)
            continue
        for reader, data in readers(path, busybox, tmp_path).items():
            assert data == expected, f"{reader} on {path.relative_to(mounted.path)}: {data!r} != {expected!r}"
    assert set(volatile) <= {"stats"}, volatile


def test_trace_with_many_entries(mounted: Mount, busybox: str, tmp_path: Path) -> None:
    # More than one page and more than busybox's first read, so the fallback
    # after a refused sendfile has to go on reading where it is.
    mounted.ok("for i in $(seq 400); do echo \"entry $i of a long trace\"; done > trace_marker")
    expected = coreutils(mounted.path / "trace")
    assert expected.count(b"entry ") == 400 and len(expected) > 3 * 4096
    for reader, data in readers(mounted.path / "trace", busybox, tmp_path).items():
        assert data == expected, reader


def test_stat_still_says_regular_file(mounted: Mount) -> None:
    # The one visible cost of the sendfile fix: a size of 1, under one block.
    st = os.stat(mounted.path / "trace")
    assert stat.S_ISREG(st.st_mode) and st.st_size == 1 and st.st_blocks == 0
    assert os.stat(mounted.path / "per_cpu").st_size == 0


def test_sendfile_and_splice_refused_then_read(mounted: Mount) -> None:
    """What the syscalls answer: EINVAL from sendfile and splice, before anything is consumed."""
    mounted.ok("echo spliced > trace_marker")
    fd = os.open(mounted.path / "trace_pipe", os.O_RDONLY | os.O_NONBLOCK)
    r, w = os.pipe()
    try:
        with pytest.raises(OSError) as err:
            os.sendfile(w, fd, None, 4096)
        assert err.value.errno == errno.EINVAL
        with pytest.raises(OSError) as err:
            os.splice(fd, w, 4096)
        assert err.value.errno == errno.EINVAL
        with pytest.raises(OSError) as err:   # a stream: no position to read at
            os.pread(fd, 10, 0)
        assert err.value.errno == errno.ESPIPE
        data = os.read(fd, 65536)            # nothing was consumed by the refusals
        assert data.endswith(b": tracing_mark_write: spliced\n")
        with pytest.raises(BlockingIOError):
            os.read(fd, 65536)
    finally:
        for f in (fd, r, w):
            os.close(f)


def test_trace_pipe_nonblocking_copies(mounted: Mount) -> None:
    mounted.ok("echo one > trace_marker; echo two > trace_marker")
    fd = os.open(mounted.path / "trace_pipe", os.O_RDONLY | os.O_NONBLOCK)
    out = bytearray()
    try:
        with open(fd, "rb", closefd=False) as src:
            try:
                while chunk := src.read1(4096):
                    out += chunk
            except BlockingIOError:
                pass
    finally:
        os.close(fd)
    lines = out.decode().splitlines()
    assert [line.rsplit(": ", 1)[1] for line in lines] == ["one", "two"]


@pytest.mark.parametrize("reader", ["busybox cat", "busybox head", "busybox dd", "coreutils cat",
                                    "busybox tee", "shutil.copyfileobj"])
def test_trace_pipe_blocking(mounted: Mount, busybox: str, tmp_path: Path, reader: str) -> None:
    """A blocked reader gets the marker written after it started, then is stopped.

    Not shutil.copyfile: after its sendfile is refused it reads through a
    64 KiB buffer, which waits for 64 KiB or end of file (on any pipe)."""
    out = tmp_path / "out"
    pipe = str(mounted.path / "trace_pipe")
    argv = {
        "busybox cat": [busybox, "cat", pipe],
        "busybox head": [busybox, "head", "-n", "1", pipe],
        "busybox dd": [busybox, "dd", f"if={pipe}", "bs=1"],
        "coreutils cat": [COREUTILS_CAT, pipe],
        "busybox tee": ["sh", "-c", f'exec {busybox} tee < "{pipe}"'],
        "shutil.copyfileobj": [sys.executable, "-c",
                               f"import shutil,sys; shutil.copyfileobj(open({pipe!r}, 'rb', buffering=0), "
                               "open(1, 'wb', buffering=0), 1)"],
    }[reader]
    with open(out, "wb") as sink:
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.PIPE)
    try:
        # The reader holds trace_pipe open. Asked through /proc, not by opening the
        # pipe ourselves: a probe holding it for a moment would make the reader's
        # own open fail with EBUSY (one reader at a time).
        assert wait_until(lambda: holds_open(proc.pid, pipe)), "the reader never opened trace_pipe"
        mounted.ok("echo 'after the reader' > trace_marker")
        # The whole line (dd bs=1 writes it a byte at a time).
        assert wait_until(lambda: b"after the reader\n" in out.read_bytes()), out.read_bytes()
        if reader == "busybox head":
            assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=60)
    line = out.read_bytes().decode()
    assert line.endswith(": tracing_mark_write: after the reader\n") and line.count("\n") == 1


def test_reader_in_a_thread_sees_every_marker(mounted: Mount) -> None:
    """copyfileobj in this process while markers arrive: nothing lost, nothing twice."""
    got = bytearray()

    def copy() -> None:
        with open(mounted.path / "trace_pipe", "rb", buffering=0) as src:
            while b"marker 9\n" not in got:
                got.extend(src.read(4096))

    worker = threading.Thread(target=copy, daemon=True)
    worker.start()
    assert wait_until(lambda: holds_open(os.getpid(), mounted.path / "trace_pipe"))
    for i in range(10):
        mounted.ok(f"echo 'marker {i}' > trace_marker")
    worker.join(60)
    assert not worker.is_alive()
    assert [line.rsplit(": ", 1)[1] for line in got.decode().splitlines()] == [f"marker {i}" for i in range(10)]
