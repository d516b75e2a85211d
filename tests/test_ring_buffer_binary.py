"""Records written straight into binary pages (RingBuffer.commit_records), read
back every way: entries, the bulk text path of trace_pipe and trace, raw pages.

The bulk paths format from the page bytes (rbpage.c or its Python twin); the
per-entry path formats Python objects decoded from the same bytes. Both must
give the same text, with the same LOST accounting, in every mode.
"""

from __future__ import annotations

import itertools

import pytest

from ftrace_mmio.mmiotrace.tracer import MAP_EVENT_SIZE, MmioMapEntry, MmiotraceTracer
from ftrace_mmio.trace import page as pg
from ftrace_mmio.trace.array import TraceArray
from ftrace_mmio.trace.entries import MARKER_FLAGS, PrintEntry, marker_size
from ftrace_mmio.trace.rbnative import RECORD
from ftrace_mmio.trace.ring_buffer import RingBuffer
from ftrace_mmio.trace.snapshot import TraceText


def records(first: int, n: int, step: int = 1000, t0: int = 1_000_000) -> bytes:
    return b"".join(RECORD.pack(t0 + (first + i) * step, 0xFD000000 + ((first + i) * 4 & 0xFFC), first + i,
                                0xFFFFFFFFC0001000 + i, 1, 1 + (i % 3 == 0) + 3 * (i % 7 == 0), 4)
                    for i in range(n))


def test_records_come_back_as_entries() -> None:
    buf = RingBuffer(1, 4, clock=itertools.count().__next__)
    assert buf.commit_records(records(0, 10), 10, 0, offset=5) == 10
    assert buf.stats(0).entries == 10 and buf.stats(0).bytes == 10 * 44
    reader = buf.open_reader()
    got = []
    while (item := reader.take()) is not None:
        got.append(item[1])
    assert [e.value for e in got] == list(range(10))
    assert [e.ts for e in got] == [1_000_005 + i * 1000 for i in range(10)]
    assert all(e.map_id == 1 and e.width == 4 for e in got)
    assert buf.stats(0).read == 10 and buf.stats(0).bytes == 0


@pytest.mark.parametrize("overwrite", [True, False])
def test_records_fill_pages_and_count_like_entries(overwrite: bool) -> None:
    buf = RingBuffer(1, 2, clock=itertools.count().__next__, overwrite=overwrite)
    n = 92 * 5 + 3
    stored = buf.commit_records(records(0, n), n, 0)
    s = buf.stats(0)
    if overwrite:
        assert stored == n
        assert s.entries + s.overrun == n and s.overrun == 92 * 4
    else:
        assert stored == 92 * 2 and s.dropped == n - stored and s.overrun == 0
    assert s.bytes == s.entries * 44


def test_time_extends_between_records() -> None:
    buf = RingBuffer(1, 4, clock=itertools.count().__next__)
    raw = records(0, 5, step=1 << 28)
    buf.commit_records(raw, 5, 0)
    assert buf.stats(0).bytes == 44 + 4 * 52
    page = buf.read_page(0)
    assert [e.ts for e in pg.decode_page(page)] == [1_000_000 + i * (1 << 28) for i in range(5)]


def mmio_array(nr_pages_kb: int = 16) -> TraceArray:
    array = TraceArray(nr_cpus=2, buffer_size_kb=nr_pages_kb)
    array.set_tracer("mmiotrace")
    return array


def fill_mixed(array: TraceArray) -> None:
    buf = array.buffer
    buf.commit_records(records(0, 50), 50, 0)
    array.commit(MmioMapEntry(MAP_EVENT_SIZE, 0, ".....", 0, 0, 0xFD000000, 0xFFFFC90000001000, 0x4000, 2, 3), 0)
    buf.commit_records(records(50, 150, t0=10_000_000_000), 150, 0)
    array.commit(PrintEntry(size=marker_size(6), pid=3, flags=MARKER_FLAGS, text="hello\n",
                            ip="tracing_mark_write"), 0)
    buf.commit_records(records(200, 400, t0=20_000_000_000), 400, 0)


def per_entry_text(array: TraceArray) -> str:
    tracer = array.tracer
    return "".join(tracer.print_line(e) for e in array.buffer.snapshot())


def pipe_text(array: TraceArray, size: int) -> bytes:
    pipe = array.open_pipe()
    out = []
    try:
        while True:
            try:
                out.append(pipe.read(size, nonblock=True))
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == 11:
                    break
                raise
    finally:
        pipe.close()
    return b"".join(out)


@pytest.mark.parametrize("size", [1, 77, 4096, 8192, 131072])
def test_bulk_pipe_text_equals_per_entry_text(size: int) -> None:
    array = mmio_array(kb := 64)
    fill_mixed(array)
    expect = per_entry_text(array)
    assert "MAP " in expect and "MARK " in expect and "W 4 " in expect and "UNKNOWN " in expect
    text = pipe_text(array, size).decode()
    assert text == "VERSION 20070824\n" + expect
    assert kb and array.buffer.entries() == 0


def test_bulk_pipe_reports_lost_events_like_the_per_entry_path() -> None:
    array = mmio_array(8)   # 2 pages
    fill_mixed(array)
    over = array.buffer.overruns()
    assert over > 0
    expect = per_entry_text(array)
    text = pipe_text(array, 131072).decode()
    lines = text.splitlines(keepends=True)
    assert lines[0] == "VERSION 20070824\n"
    assert lines[1] == f"MARK 0.000000 Lost {over} events.\n"
    # the pipe's own report, before the first entry after the loss, as for every tracer
    assert lines[2] == f"CPU:0 [LOST {over} EVENTS]\n"
    assert "".join(lines[3:]) == expect


def test_trace_file_bulk_equals_per_entry() -> None:
    array = mmio_array(64)
    fill_mixed(array)
    t = TraceText(array)
    bulk = b"".join(t.chunks()).decode()
    assert bulk == t.text()
    assert bulk.endswith(per_entry_text(array))


def test_raw_page_of_mixed_entries_decodes() -> None:
    array = mmio_array(64)
    fill_mixed(array)
    events = []
    while (page := array.buffer.read_page(0)) is not None:
        events += pg.decode_page(page)
    kinds = [e.type for e in events]
    assert kinds.count(pg.TRACE_MMIO_RW) == 600
    assert kinds.count(pg.TRACE_MMIO_MAP) == 1 and kinds.count(pg.TRACE_PRINT) == 1
    mark = next(e for e in events if e.type == pg.TRACE_PRINT)
    assert mark.fields["buf"] == b"hello\n" and mark.pid == 3 and mark.lat == MARKER_FLAGS
    ts = [e.ts for e in events]
    assert ts == sorted(ts)
    assert MmiotraceTracer.binary_lines


# -- default-format print lines from the pages (nop tracer) ----------------------------------


def marker_array(kb: int = 64, clock: str | None = None) -> TraceArray:
    array = TraceArray(nr_cpus=2, buffer_size_kb=kb)
    if clock:
        array.set_clock(clock)
    for i in range(700):
        pid = 4242 if i % 50 < 40 else i % 3          # runs of one pid, pid 0 (<idle>) too
        text = f"event {i:06d}" + ("\n" if i % 5 else "") + ("\0hidden" if i % 97 == 0 else "")
        flags = MARKER_FLAGS if i % 7 else "dNh2."
        array.commit(PrintEntry(size=marker_size(len(text) + 1), pid=pid, flags=flags, text=text,
                                ip="tracing_mark_write" if i % 11 else "0"), 0)
    array.saved_cmdlines[1] = "worker"
    return array


def per_entry_default(array: TraceArray) -> str:
    from ftrace_mmio.trace.output import LineFormat

    fmt = LineFormat.from_options(array.options, array.clock_in_ns)
    return "".join(fmt.line(e, array.saved_cmdlines) for e in array.buffer.snapshot())


@pytest.mark.parametrize("size", [1, 100, 8192, 131072])
@pytest.mark.parametrize("kb", [8, 64])
def test_marker_pipe_bulk_equals_per_entry(size: int, kb: int) -> None:
    array = marker_array(kb)
    over = array.buffer.overruns()
    expect = per_entry_default(array)
    text = pipe_text(array, size).decode("utf-8", "surrogateescape")
    if over:
        assert text == f"CPU:0 [LOST {over} EVENTS]\n" + expect
    else:
        assert text == expect
    assert "worker-1" in text and "<idle>-0" in text and "dNh2." in text and " 0: event" in text


def test_marker_trace_bulk_equals_per_entry() -> None:
    array = marker_array(64)
    t = TraceText(array)
    assert b"".join(t.chunks()).decode("utf-8", "surrogateescape") == t.text()


def test_marker_trace_with_a_counter_clock() -> None:
    array = marker_array(64, clock="counter")
    t = TraceText(array)
    assert b"".join(t.chunks()).decode() == t.text()


@pytest.mark.skipif(__import__("ftrace_mmio.trace.rbnative", fromlist=["x"]).library() is None,
                    reason="no C compiler: only the Python loops exist")
@pytest.mark.parametrize("in_ns", [True, False])
def test_c_and_python_format_the_same_print_lines(in_ns: bool) -> None:
    from ftrace_mmio.trace import rbnative

    array = marker_array(64)
    for _c, slices in array.buffer.snapshot().per_cpu.items():
        for page, off, ts, end, _n in slices:
            for cnt, seqmax in ((1 << 30, 1 << 30), (300, 8156), (8156, 8156)):
                got = []
                for native in (True, False):
                    pp = rbnative.KpPrint()
                    pp.pid, pp.cpu, pp.in_ns, pp.mark_ip = 4242, 0, int(in_ns), pg.TRACING_MARK_WRITE_IP
                    f = pp.f
                    f.off, f.end, f.ts, f.used, f.cnt, f.seqmax, f.outcap = off, end, ts, 0, cnt, seqmax, cnt + 300
                    text = rbnative.format_print(page.data, pp, b"<...>", native=native)
                    got.append((text, f.off, f.ts, f.events, f.used, f.full))
                assert got[0] == got[1]


def test_without_the_c_helper_every_reader_gives_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    from ftrace_mmio.trace import rbnative

    def everything(native: bool) -> list[bytes]:
        if not native:
            monkeypatch.setattr(rbnative, "library", lambda: None)
        out = []
        def mixed() -> TraceArray:
            array = mmio_array(16)
            array.set_clock("counter")      # the same timestamps in both runs
            fill_mixed(array)
            return array

        for make in (lambda: marker_array(8, clock="counter"), mixed):
            array = make()
            out.append(b"".join(TraceText(array).chunks()))
            out.append(pipe_text(array, 4096))
            array = make()
            while (page := array.buffer.read_page(0)) is not None:
                out.append(page)
        return out

    assert everything(True) == everything(False)


# -- the engines' pages: C writer against the Python stepping path ----------------------------


def test_engine_records_in_pages_equal_the_python_paths(tmp_path_factory) -> None:
    """The same driver run traced by the faithful engine's C path (records
    written into pages by rbpage.c) and by its Python stepping path (entries
    written one by one): the raw pages hold the same
    records, field for field and byte for byte (only the times may differ:
    the two paths cost different machine time)."""
    from ftrace_mmio.mmiotrace.mmio_mod import MmiotraceParams
    from mmiotrace_util import DRIVERS, TESTMMIO_BAR0, Traced

    cache = tmp_path_factory.getbasetemp() / "modcache"

    def pages(native: bool) -> list[pg.PageEvent]:
        t = Traced(cache, MmiotraceParams(engine="faithful", native=native), clock="local", nr_cpus=1)
        try:
            t.machine.insmod(str(DRIVERS / "mmio_maps.c"))
            t.enable()
            cookie = t.call("map", TESTMMIO_BAR0, 0x1000)
            t.call("burst", cookie, 300)
            t.call("unmap", cookie)
            assert (t.tracer.mmio.native is not None) == native
            t.tracer.hand_over()
            out = []
            while (page := t.array.buffer.read_page(0)) is not None:
                out += pg.decode_page(page)
            return out
        finally:
            t.close()

    fast_path, python_path = pages(True), pages(False)
    assert [e.type for e in fast_path].count(pg.TRACE_MMIO_RW) == 600
    assert [e.data for e in fast_path] == [e.data for e in python_path]
    assert [e.ts for e in fast_path] == sorted(e.ts for e in fast_path)
