"""per_cpu/cpuN/trace_pipe_raw in process: whole binary pages, the kernel's partial
reads, blocking and O_NONBLOCK (tests/data/kernel-6.1/raw/raw-reads.txt says what
the 6.1 kernel does), decoded with trace/page.py.
"""

from __future__ import annotations

import errno
import os
import threading

import pytest

from ftrace_mmio.trace.entries import TRACE_PRINT
from ftrace_mmio.trace.page import TRACING_MARK_WRITE_IP, decode_page, page_header
from tracefs.nodes import Request
from trace_util import PID, Tree, raises_errno

RAW = "per_cpu/cpu0/trace_pipe_raw"
PAGE = 4096
JOIN = 60  # a safety net against a hang, not a measurement


@pytest.fixture
def tree() -> Tree:
    t = Tree(nr_cpus=2)
    t.array.marker_cpu = 0
    return t


def read(h, size: int, nonblock: bool = True, interrupted=lambda: False) -> bytes:
    flags = os.O_RDONLY | (os.O_NONBLOCK if nonblock else 0)
    return h.read(size, 0, Request(flags=flags, pid=PID, interrupted=interrupted))


def markers(page: bytes) -> list[bytes]:
    return [e.fields["buf"] for e in decode_page(page) if e.type == TRACE_PRINT]


def test_a_read_returns_one_whole_page_and_consumes_it(tree: Tree) -> None:
    for i in range(3):
        tree.marker(f"raw {i}".encode())
    stats = tree.text("per_cpu/cpu0/stats")
    assert "entries: 3\n" in stats
    with tree.opened(RAW) as h:
        page = read(h, PAGE)
        assert len(page) == PAGE
        assert markers(page) == [b"raw 0\n", b"raw 1\n", b"raw 2\n"]
        events = decode_page(page)
        assert all(e.fields["ip"] == TRACING_MARK_WRITE_IP and e.pid == PID for e in events)
        # Timestamps: the page's stamp plus the deltas, never going back.
        assert page_header(page).ts <= events[0].ts <= events[1].ts <= events[2].ts
        # Consumed: the buffer is empty and the next read has nothing.
        with raises_errno(errno.EAGAIN):
            read(h, PAGE)
    stats = tree.text("per_cpu/cpu0/stats")
    assert "entries: 0\n" in stats and "read events: 3\n" in stats
    assert "raw 0" not in tree.text("trace")


def test_a_read_bigger_than_a_page_returns_one_page(tree: Tree) -> None:
    tree.marker(b"one")
    with tree.opened(RAW) as h:
        assert len(read(h, 2 * PAGE)) == PAGE


def test_small_reads_return_a_page_in_pieces(tree: Tree) -> None:
    """As the kernel: the first 100-byte read starts a page, the next ones continue it."""
    for i in range(5):
        tree.marker(f"piece {i}".encode())
    with tree.opened(RAW) as h:
        pieces = [read(h, 100) for _ in range(PAGE // 100 + 1)]
        assert [len(p) for p in pieces] == [100] * (PAGE // 100) + [PAGE % 100]
        page = b"".join(pieces)
        assert markers(page) == [f"piece {i}\n".encode() for i in range(5)]
        with raises_errno(errno.EAGAIN):
            read(h, 100)


def test_the_page_of_a_cpu_holds_only_that_cpus_events(tree: Tree) -> None:
    tree.array.marker_cpu = 1
    tree.marker(b"on cpu1")
    with tree.opened(RAW) as h0, tree.opened("per_cpu/cpu1/trace_pipe_raw") as h1:
        with raises_errno(errno.EAGAIN):
            read(h0, PAGE)
        assert markers(read(h1, PAGE)) == [b"on cpu1\n"]


def test_later_events_come_on_a_new_page(tree: Tree) -> None:
    tree.marker(b"first")
    with tree.opened(RAW) as h:
        assert markers(read(h, PAGE)) == [b"first\n"]
        tree.marker(b"second")
        assert markers(read(h, PAGE)) == [b"second\n"]


def test_many_events_fill_pages_without_loss(tree: Tree) -> None:
    tree.echo("buffer_size_kb", b"64")   # room for all of them
    texts = [f"event number {i:05d}".encode() for i in range(400)]   # ~13 pages of markers
    for t in texts:
        tree.marker(t)
    got: list[bytes] = []
    pages = 0
    with tree.opened(RAW) as h:
        while True:
            try:
                page = read(h, PAGE)
            except OSError as exc:
                assert exc.errno == errno.EAGAIN
                break
            assert len(page) == PAGE and page_header(page).commit <= PAGE - 16
            got += markers(page)
            pages += 1
    assert got == [t + b"\n" for t in texts]
    assert pages > 1


def test_an_empty_blocking_read_waits_for_an_event(tree: Tree) -> None:
    result: list[bytes] = []
    with tree.opened(RAW) as h:
        reader = threading.Thread(target=lambda: result.append(read(h, PAGE, nonblock=False)))
        reader.start()
        # The reader is waiting (or about to): an event wakes it.
        tree.marker(b"wake up")
        reader.join(JOIN)
        assert not reader.is_alive()
    assert markers(result[0]) == [b"wake up\n"]


def test_a_signal_ends_a_blocked_read_with_eintr(tree: Tree) -> None:
    with tree.opened(RAW) as h:
        with raises_errno(errno.EINTR):
            read(h, PAGE, nonblock=False, interrupted=lambda: True)


def test_poll_says_readable_only_with_data(tree: Tree) -> None:
    with tree.opened(RAW) as h:
        assert not h.poll()
        tree.marker(b"x")
        assert h.poll()
        read(h, 100)
        assert h.poll()   # the rest of the page is still to be read


def test_the_kernels_raw_page_decodes_the_same_way() -> None:
    """Our decoder on the 6.1 kernel's own page (raw/raw-page1.bin)."""
    from pathlib import Path

    page = (Path(__file__).parent / "data" / "kernel-6.1" / "raw" / "raw-page1.bin").read_bytes()
    events = decode_page(page)
    assert len(page) == PAGE and events
    assert {e.type for e in events} <= {5, 7, 8}


# --- trace_marker_raw ------------------------------------------------------------------


def raw_marker(tree: Tree, data: bytes) -> int:
    with tree.opened("trace_marker_raw", os.O_WRONLY) as h:
        return h.write(data, 0, h._req)  # type: ignore[attr-defined]


def test_trace_marker_raw_is_one_raw_data_event(tree: Tree) -> None:
    import struct

    assert raw_marker(tree, struct.pack("=I", 0x1234) + b"\x01\x02") == 6
    # The event: the entry (12 bytes) plus the write (6), at least 13 for the
    # write: 25 bytes, 28 on the page; the kernel prints every byte after the id.
    assert tree.text("trace").splitlines()[-1].endswith(
        "...1.     0.000001: # 1234 buf: 01 02" + " 00" * 14)
    with tree.opened(RAW) as h:
        (event,) = decode_page(read(h, PAGE))
    assert event.type == 18 and event.pid == PID and event.preempt_count == 1
    assert event.data[8:14] == struct.pack("<I", 0x1234) + b"\x01\x02" and len(event.data) == 28


@pytest.mark.parametrize("size, result", [(0, errno.EINVAL), (3, errno.EINVAL), (4, 4), (1024, 1024),
                                          (3072, 1024), (3073, errno.EINVAL)])
def test_trace_marker_raw_sizes(tree: Tree, size: int, result: int) -> None:
    if result in (errno.EINVAL,):
        with raises_errno(result):
            raw_marker(tree, b"\x07" * size)
    else:
        assert raw_marker(tree, b"\x07" * size) == result


def test_trace_marker_raw_mode_and_markers_option(tree: Tree) -> None:
    assert tree.node("trace_marker_raw").mode & 0o7777 == 0o220
    tree.echo("options/markers", b"0")
    with raises_errno(errno.EINVAL):
        raw_marker(tree, b"\0\0\0\0")


def test_through_the_pyfakefs_fixture(tracefs) -> None:
    """The same files through the ``tracefs`` fixture: pages, formats, raw markers."""
    tracefs.array.marker_cpu = 0
    with open("/sys/kernel/tracing/trace_marker", "w") as f:
        f.write("hello\n")
    with open("/sys/kernel/tracing/trace_marker_raw", "wb") as f:
        f.write(b"\x01\x00\x00\x00ab")
    fd = os.open("/sys/kernel/tracing/per_cpu/cpu0/trace_pipe_raw", os.O_RDONLY | os.O_NONBLOCK)
    try:
        events = decode_page(os.read(fd, PAGE))
        with pytest.raises(BlockingIOError):
            os.read(fd, PAGE)
    finally:
        os.close(fd)
    assert [e.type for e in events] == [TRACE_PRINT, 18]
    assert events[0].fields["buf"] == b"hello\n" and events[1].data[8:14] == b"\x01\x00\x00\x00ab"
    with open("/sys/kernel/tracing/events/ftrace/print/format") as f:
        assert f.read().startswith("name: print\nID: 5\nformat:\n")
