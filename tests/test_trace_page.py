"""The binary page format (trace/page.py) and RingBuffer.read_page.

The reference is the real 6.1 kernel's first trace_pipe_raw page
(../shared/kernel-6.1/raw/raw-page1.bin, copied to tests/data/).
"""

from __future__ import annotations

import itertools
import struct
from pathlib import Path

import pytest

from ftrace_mmio.mmiotrace.tracer import MmioMapEntry, MmioRwEntry, RW_EVENT_SIZE, MAP_EVENT_SIZE
from ftrace_mmio.trace import page as pg
from ftrace_mmio.trace.entries import MARKER_FLAGS, PrintEntry, marker_size
from ftrace_mmio.trace.ring_buffer import RingBuffer

RAW_PAGE = Path(__file__).parent / "data" / "kernel-6.1" / "raw" / "raw-page1.bin"


def kernel_page() -> bytes:
    return RAW_PAGE.read_bytes()


def reencode(events: list[pg.PageEvent]) -> list[tuple[int, bytes, int]]:
    out = []
    for e in events:
        f = dict(e.fields)
        if e.type == pg.TRACE_MMIO_RW:
            data = pg.rw_record(e.pid, **f)
        elif e.type == pg.TRACE_MMIO_MAP:
            f["length"] = f.pop("len")
            data = pg.map_record(e.pid, **f)
        else:
            data = pg.print_record(e.pid, f["ip"], f["buf"], 0, e.flags, e.preempt_count)
            # the kernel reserves room for a newline it may add
            out.append((e.ts, data, pg.marker_data_len(len(f["buf"]))))
            continue
        out.append((e.ts, data, len(data)))
    return out


def test_kernel_page_decodes() -> None:
    raw = kernel_page()
    head = pg.page_header(raw)
    assert (head.ts, head.commit, head.missed) == (2202339838, 440, False)
    events = pg.decode_page(raw)
    assert [e.type for e in events] == [8] + [7] * 7 + [8, 5]
    first = events[0]
    assert first.fields == {"phys": 0xFD000000, "virt": 0xFFFFD4488004D000, "len": 0x1000,
                            "map_id": 1, "opcode": 3}
    assert (first.flags, first.preempt_count, first.pid) == (pg.MMIO_MAP_FLAGS, pg.MMIO_MAP_PREEMPT, 144)
    rw = events[1]
    assert (rw.flags, rw.preempt_count) == (pg.MMIO_RW_FLAGS, pg.MMIO_RW_PREEMPT)
    assert rw.fields == {"phys": 0xFD000000, "value": 0x5A, "pc": 0, "map_id": 1, "opcode": 2, "width": 1}
    assert rw.ts == 2202339838 + 6976931
    mark = events[-1]
    assert mark.fields == {"ip": pg.TRACING_MARK_WRITE_IP, "buf": b"raw session marker\n"}


def test_kernel_page_reencodes_byte_for_byte() -> None:
    raw = kernel_page()
    events = pg.decode_page(raw)
    assert pg.encode_page(events[0].ts, reencode(events)) == raw


def test_event_lengths() -> None:
    assert pg.event_length(pg.RW_DATA_SIZE) == RW_EVENT_SIZE == 44
    assert pg.event_length(pg.MAP_DATA_SIZE) == MAP_EVENT_SIZE == 44
    assert pg.event_length(112) == 116
    assert pg.event_length(113) == 124  # length in array[0]
    assert pg.event_length(8) == 16  # never 12
    for n in (0, 9, 94, 95, 1000):
        assert pg.event_length(pg.marker_data_len(n)) == marker_size(n)


def test_time_extend_and_big_event_roundtrip() -> None:
    t0 = 5_000_000_000
    big = pg.print_record(7, 0, b"x" * 300, 0)
    events = [
        (t0, pg.rw_record(1, 0x10, 2, 3, 4, 1, 4), pg.RW_DATA_SIZE),
        (t0 + (1 << 27) + 5, pg.rw_record(1, 0x14, 2, 3, 4, 2, 4), pg.RW_DATA_SIZE),  # extend
        (t0 + (1 << 27) + 9, big, len(big)),
    ]
    raw = pg.encode_page(t0, events)
    kinds = [k for k, _, _ in pg.iter_events(raw)]
    assert kinds == ["data", "extend", "data", "data"]
    # the extend word: type 30, then the high bits
    word, high = struct.unpack_from("<II", raw, 16 + 44)
    assert word & 0x1F == pg.TYPE_TIME_EXTEND and high == 1
    decoded = pg.decode_page(raw)
    assert [e.ts for e in decoded] == [t for t, _, _ in events]
    assert decoded[2].fields["buf"] == b"x" * 300
    # big event: type_len 0, array[0] = data + 4
    off = 16 + 44 + 8 + 44
    word, alen = struct.unpack_from("<II", raw, off)
    assert word & 0x1F == 0 and alen == ((len(big) + 3) & ~3) + 4


def test_missed_events_flags_and_count() -> None:
    raw = pg.encode_page(10, [(10, pg.rw_record(1, 0, 0, 0, 0, 1, 1), 40)], lost=17)
    commit = struct.unpack_from("<Q", raw, 8)[0]
    assert commit & pg.MISSED_EVENTS and commit & pg.MISSED_STORED
    head = pg.page_header(raw)
    assert (head.commit, head.missed, head.missed_count) == (44, True, 17)


@pytest.mark.parametrize("text", ["dNh1.", ".....", "...1.", "dNZ3.", "D.s.2", "X.H9f", "bnz.."])
def test_lat_flags_roundtrip(text: str) -> None:
    text = text[:5]
    assert pg.bits_to_lat(*pg.lat_to_bits(text)) == text


# -- RingBuffer.read_page -------------------------------------------------------------


def make_buffer(nr_pages: int = 4, overwrite: bool = True, step: int = 1000) -> RingBuffer:
    ticks = itertools.count(1000, step)
    return RingBuffer(1, nr_pages, clock=lambda: next(ticks), overwrite=overwrite)


def rw(n: int) -> MmioRwEntry:
    return MmioRwEntry(RW_EVENT_SIZE, 0, ".....", 0, 0, 0x1000 + n, n, 0, 1, 1, 4)


PER_PAGE = 4080 // 44  # 92


def test_read_page_whole_pages_then_partial() -> None:
    buf = make_buffer()
    for n in range(PER_PAGE + 10):
        assert buf.commit(rw(n))
    first = buf.read_page(0, full_only=True)
    assert first is not None and len(first) == 4096
    evs = pg.decode_page(first)
    assert [e.fields["value"] for e in evs] == list(range(PER_PAGE))
    assert pg.page_header(first).commit == PER_PAGE * 44
    assert buf.stats(0).entries == 10
    assert buf.stats(0).read == PER_PAGE
    # the writer is on the next page: a full-page reader gets nothing
    assert buf.read_page(0, full_only=True) is None
    part = buf.read_page(0, full_only=False)
    assert part is not None
    assert [e.fields["value"] for e in pg.decode_page(part)] == list(range(PER_PAGE, PER_PAGE + 10))
    assert buf.read_page(0, full_only=False) is None
    assert buf.stats(0).entries == 0 and buf.stats(0).bytes == 0
    # new events after a partial read: the page starts at the last event read
    last_ts = pg.decode_page(part)[-1].ts
    buf.commit(rw(999))
    nxt = buf.read_page(0)
    assert nxt is not None
    assert pg.page_header(nxt).ts == last_ts
    (e,) = pg.decode_page(nxt)
    assert e.fields["value"] == 999 and e.ts == last_ts + 1000


def test_read_page_reports_overwritten_events() -> None:
    buf = make_buffer(nr_pages=2)
    total = PER_PAGE * 4
    for n in range(total):
        buf.commit(rw(n))
    lost = buf.overruns()
    assert lost > 0
    page = buf.read_page(0, full_only=True)
    head = pg.page_header(page)
    assert head.missed and head.missed_count == lost
    values = [e.fields["value"] for e in pg.decode_page(page)]
    assert values[0] == lost
    # reported once
    rest = buf.read_page(0)
    assert rest is not None and not pg.page_header(rest).missed


def test_read_page_markers_and_pipe_agree() -> None:
    buf = make_buffer()
    text = "hello\n"
    buf.commit(PrintEntry(size=marker_size(6), pid=42, flags=MARKER_FLAGS, text=text, ip="tracing_mark_write"))
    buf.commit(MmioMapEntry(44, 0, ".....", 0, 0, 0xFD000000, 0xFFFF0000, 0x1000, 1, 3))
    raw = buf.read_page(0)
    mark, mp = pg.decode_page(raw)
    assert mark.type == pg.TRACE_PRINT and mark.pid == 42 and mark.lat == MARKER_FLAGS
    assert mark.fields == {"ip": pg.TRACING_MARK_WRITE_IP, "buf": b"hello\n"}
    assert mp.fields["opcode"] == 3 and mp.fields["len"] == 0x1000
    assert buf.empty()


def test_time_extend_counts_the_same_in_stats_and_page() -> None:
    buf = make_buffer(step=1 << 28)
    for n in range(5):
        buf.commit(rw(n))
    assert buf.stats(0).bytes == 44 + 4 * (44 + 8)
    raw = buf.read_page(0)
    assert pg.page_header(raw).commit == 44 + 4 * 52
    assert [e.ts for e in pg.decode_page(raw)] == [1000 + n * (1 << 28) for n in range(5)]
    assert buf.stats(0).bytes == 0


# -- rbpage.c against its pure-Python twin -------------------------------------------------

from ftrace_mmio.trace import rbnative  # noqa: E402


def engine_records(count: int, seed: int = 1) -> bytes:
    import random

    rnd = random.Random(seed)
    ts = 5_000_000_000
    out = []
    for i in range(count):
        # mostly close together, sometimes a gap that needs a time extend, sometimes backwards
        ts += rnd.choice([100, 250, 1000, (1 << 27) + 17, 3 << 30, -50])
        out.append(rbnative.RECORD.pack(ts, 0xFD000000 + rnd.randrange(0, 0x4000, 4), rnd.getrandbits(64),
                                        rnd.getrandbits(64), rnd.choice([1, 2, 0xFFFFFFFF]),
                                        rnd.choice([1, 2, 5, 9]), rnd.choice([1, 2, 4, 8])))
    return b"".join(out)


def fill_pages(raw: bytes, native: bool, offset: int = 12345) -> list[tuple[bytes, int, int, int]]:
    n = len(raw) // rbnative.RECORD.size
    pages = []
    i = 0
    last = 0
    while i < n:
        data = bytearray(pg.PAGE_DATA)
        w = rbnative.KpWrite()
        w.cap, w.last_ts = pg.PAGE_DATA, last
        k = rbnative.write_rw(data, w, raw, i, n - i, offset, 77, native=native)
        assert k > 0
        i += k
        last = w.last_ts
        pages.append((bytes(data), w.used, w.page_ts, w.count))
    return pages


@pytest.mark.skipif(rbnative.library() is None, reason="no C compiler: only the Python loops exist")
def test_c_and_python_write_the_same_pages() -> None:
    raw = engine_records(700)
    assert fill_pages(raw, True) == fill_pages(raw, False)


@pytest.mark.skipif(rbnative.library() is None, reason="no C compiler: only the Python loops exist")
@pytest.mark.parametrize("cnt", [1, 100, 8155, 1 << 20])
def test_c_and_python_format_the_same_lines(cnt: int) -> None:
    raw = engine_records(400, seed=cnt)
    for data, used, page_ts, _count in fill_pages(raw, True):
        # a MAP and an UNMAP written by the Python path, and a marker that stops the formatter
        buf = bytearray(data) + bytes(300)
        off = used
        for rec in (pg.map_record(0, 0xFD000000, 0xFFFFC90000000000, 0x1000, 1, 3),
                    pg.map_record(0, 0, 0xFFFFC90000000000, 0, -1, 4),
                    pg.print_record(1, 0, b"mark\n", 0)):
            off = pg.write_event(buf, off, 5, rec)
        results = []
        for native in (True, False):
            f = rbnative.KpFormat()
            f.off, f.end, f.ts, f.used, f.cnt, f.seqmax, f.outcap = 0, off, page_ts, 0, cnt, 8156, cnt
            text = rbnative.format_mmio(buf, f, native=native)
            results.append((text, f.off, f.ts, f.events, f.used))
        assert results[0] == results[1]
        text = results[0][0]
        assert text.count(b"\n") == results[0][3]
        if cnt >= 8155:
            assert b"MAP " in text or results[0][4] + 100 >= 8156


def test_formatted_lines_match_the_tracers_own() -> None:
    from ftrace_mmio.mmiotrace.tracer import MmiotraceTracer

    raw = engine_records(200, seed=7)
    (data, used, page_ts, count), *_ = fill_pages(raw, rbnative.library() is not None)
    f = rbnative.KpFormat()
    f.off, f.end, f.ts, f.used, f.cnt, f.seqmax, f.outcap = 0, used, page_ts, 0, 1 << 30, 1 << 30, 1 << 30
    text = rbnative.format_mmio(bytearray(data), f)
    page = bytearray(16) + bytearray(data)
    struct.pack_into("<QQ", page, 0, page_ts, used)
    from ftrace_mmio.trace.entries import DECODERS

    tracer = MmiotraceTracer.__new__(MmiotraceTracer)
    expect = []
    for ev in pg.decode_page(bytes(page)):
        entry = DECODERS[ev.type](ev.data, 44, ev.ts)
        expect.append(tracer.print_line(entry))
    assert text.decode() == "".join(expect)
    assert f.events == count
