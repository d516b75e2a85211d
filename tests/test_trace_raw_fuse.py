"""trace_pipe_raw over FUSE: the reads the 6.1 kernel answered
(tests/data/kernel-6.1/raw/raw-reads.txt: 4096 gives a page, a second read blocks
until new data, 100-byte reads give the start of a page, 8192 gives one page),
O_NONBLOCK set after open (what trace-cmd does to flush), a blocked reader ended
by a signal, and splice: EINVAL with nothing consumed, except under
``ftrace-mmio exec``, whose helper moves whole pages.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Iterator

import pytest

from ftrace_mmio.trace.entries import TRACE_PRINT
from ftrace_mmio.trace.page import decode_page
from fuse_util import Mount, mount, needs_fuse, unmount_and_check, users_of

pytestmark = needs_fuse
PAGE = 4096
TIMEOUT = 60  # a safety net against a hang, not a measurement


@pytest.fixture(scope="module")
def one_cpu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mount]:
    """One CPU, so every marker lands on cpu0."""
    base = tmp_path_factory.mktemp("raw")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FTRACE_MMIO_RUNTIME_DIR", str(base / "run"))
        m = mount(base / "tracing", "--cpus", "1")
        try:
            yield m
        finally:
            unmount_and_check(m)


@pytest.fixture
def m(one_cpu: Mount) -> Iterator[Mount]:
    one_cpu.ok("echo 1 > tracing_on; echo nop > current_tracer; echo > trace")
    yield one_cpu
    assert not users_of(one_cpu.path), "processes still have files open in the mount"


def raw(m: Mount) -> Path:
    return m.path / "per_cpu" / "cpu0" / "trace_pipe_raw"


def markers(page: bytes) -> list[bytes]:
    return [e.fields["buf"] for e in decode_page(page) if e.type == TRACE_PRINT]


def test_reads_as_the_kernels(m: Mount) -> None:
    m.ok("echo one > trace_marker; echo two > trace_marker")
    fd = os.open(raw(m), os.O_RDONLY | os.O_NONBLOCK)
    try:
        page = os.read(fd, 8192)             # one page, not two
        assert len(page) == PAGE and markers(page) == [b"one\n", b"two\n"]
        with pytest.raises(BlockingIOError):
            os.read(fd, PAGE)
        m.ok("echo three > trace_marker")
        pieces = [os.read(fd, 100) for _ in range(3)]   # dd bs=100 count=3: 300 bytes
        assert [len(p) for p in pieces] == [100, 100, 100]
        rest = os.read(fd, PAGE)
        assert len(rest) == PAGE - 300
        assert markers(b"".join(pieces) + rest) == [b"three\n"]
    finally:
        os.close(fd)


def test_nonblock_set_after_open_is_honoured(m: Mount) -> None:
    """trace-cmd flushes by setting O_NONBLOCK with fcntl and reading until EAGAIN."""
    fd = os.open(raw(m), os.O_RDONLY)
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
        with pytest.raises(BlockingIOError):
            os.read(fd, PAGE)
    finally:
        os.close(fd)


def test_a_blocked_read_waits_for_data_and_a_signal_ends_it(m: Mount) -> None:
    code = textwrap.dedent(f"""\
        import os, sys
        fd = os.open({str(raw(m))!r}, os.O_RDONLY)
        print("open", flush=True)
        data = os.read(fd, {PAGE})
        print(len(data), flush=True)
        print("open", flush=True)
        os.read(fd, {PAGE})
        """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "open\n"
        time.sleep(0.2)   # not needed for correctness: the read blocks whenever it starts
        m.ok("echo wake > trace_marker")
        assert proc.stdout.readline() == f"{PAGE}\n"
        assert proc.stdout.readline() == "open\n"
        # Blocked on an empty buffer, as on the kernel (raw-reads.txt: read 2, rc=143).
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(TIMEOUT) == -signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(TIMEOUT)


def test_splice_is_einval_and_consumes_nothing(m: Mount) -> None:
    m.ok("echo kept > trace_marker")
    fd = os.open(raw(m), os.O_RDONLY | os.O_NONBLOCK)
    r, w = os.pipe()
    try:
        with pytest.raises(OSError) as exc:
            os.splice(fd, w, 65536)
        assert exc.value.errno == 22   # EINVAL
        assert markers(os.read(fd, PAGE)) == [b"kept\n"]
    finally:
        for f in (fd, r, w):
            os.close(f)


@pytest.mark.skipif(os.geteuid() != 0, reason="ftrace-mmio exec needs root (a mount namespace)")
def test_splice_under_exec_moves_whole_pages(m: Mount) -> None:
    """The helper exec preloads: splice from trace_pipe_raw into a pipe gives one page per call."""
    m.ok("echo spliced > trace_marker")
    # Runs under `ftrace-mmio exec`: the path below is our FUSE mount, bound in
    # a private mount namespace that exec verifies before running the code; it
    # is only read. The host's tracefs is never reached.
    code = textwrap.dedent("""\
        import os
        fd = os.open("/sys/kernel/tracing/per_cpu/cpu0/trace_pipe_raw", os.O_RDONLY | os.O_NONBLOCK)
        r, w = os.pipe()
        n = os.splice(fd, w, 65536, flags=os.SPLICE_F_MOVE)
        page = os.read(r, 65536)
        try:
            os.splice(fd, w, 65536)
        except BlockingIOError:
            again = "EAGAIN"
        os.write(1, n.to_bytes(4, "little") + page + again.encode())
        """)
    result = subprocess.run([sys.executable, "-m", "ftrace_mmio", "exec", "--mount", str(m.path), "--",
                             sys.executable, "-c", code], capture_output=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout
    assert int.from_bytes(out[:4], "little") == PAGE
    assert markers(out[4:4 + PAGE]) == [b"spliced\n"]
    assert out[4 + PAGE:] == b"EAGAIN"
