"""The ring buffer: page accounting, overwrite and drop, readers, counters."""

from __future__ import annotations

import errno
import itertools
import threading
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftrace_mmio.trace.entries import (
    Entry,
    event_size,
    marker_size,
    printk_size,
)
from ftrace_mmio.trace.ring_buffer import RingBuffer, pages_for


@dataclass(slots=True, eq=False)
class Seq(Entry):
    """A test entry carrying a sequence number."""

    n: int = 0


def make_buffer(nr_cpus: int = 1, nr_pages: int = 2, overwrite: bool = True) -> RingBuffer:
    ticks = itertools.count(1000, 1000)
    return RingBuffer(nr_cpus, nr_pages, clock=lambda: next(ticks), overwrite=overwrite)


def fill(buf: RingBuffer, count: int, size: int = 32, cpu: int = 0, start: int = 0) -> list[bool]:
    return [buf.commit(Seq(size=size, n=start + i), cpu) for i in range(count)]


def drain(reader) -> tuple[list[int], list[int]]:
    """(sequence numbers delivered, lost counts reported) until empty."""
    got, lost = [], []
    while (item := reader.take()) is not None:
        _, entry, n = item
        if n:
            lost.append(n)
        got.append(entry.n)
    return got, lost


# -- sizes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "count,size",
    [(9, 32), (5, 28), (3, 28), (0, 24), (94, 116), (95, 124), (96, 124), (4054, 4080)],
)
def test_marker_sizes_follow_the_kernel(count: int, size: int) -> None:
    # align4(len + 18) + 4, or + 8 once the aligned payload passes 112 bytes.
    assert marker_size(count) == size


def test_event_and_printk_sizes() -> None:
    assert event_size(0) == 8  # an empty payload still takes a word
    assert event_size(112) == 116
    assert event_size(113) == 124
    assert printk_size(5) == event_size(16 + 5 + 1)


@pytest.mark.parametrize(
    "kb,pages,shown",
    [(1, 2, 7), (7, 2, 7), (8, 3, 11), (1408, 354, 1410), (128000, 32126, 128002)],
)
def test_kb_arithmetic(kb: int, pages: int, shown: int) -> None:
    assert pages_for(kb * 1024) == pages
    assert pages * 4080 // 1024 == shown


def test_default_size_is_354_pages() -> None:
    buf = make_buffer()
    buf.resize(1441792)
    assert buf.nr_pages(0) == 354
    assert buf.size_bytes(0) >> 10 == 1410


# -- overwrite -----------------------------------------------------------------------


def test_observed_300_markers_on_two_pages() -> None:
    # 127 entries of 32 bytes fill a 4080-byte page; the first page goes whole.
    buf = make_buffer()
    assert all(fill(buf, 300))
    stats = buf.stats(0)
    assert (stats.entries, stats.overrun, stats.dropped) == (173, 127, 0)
    assert stats.bytes == 173 * 32
    assert [e.n for e in buf.snapshot()][:2] == [127, 128]


def test_overruns_come_in_whole_pages() -> None:
    buf = make_buffer()
    fill(buf, 127 * 2)
    assert buf.stats(0).overrun == 0
    fill(buf, 1, start=254)
    assert buf.stats(0).overrun == 127
    fill(buf, 126, start=255)
    assert buf.stats(0).overrun == 127
    fill(buf, 1, start=381)
    assert buf.stats(0).overrun == 254


def test_reader_page_adds_one_page_of_capacity() -> None:
    # Observed: "first" consumed, then 400 markers of 28 bytes on 2 pages: nothing lost.
    buf = make_buffer()
    reader = buf.open_reader()
    fill(buf, 1, size=28)
    assert reader.take()[1].n == 0
    fill(buf, 400, size=28, start=1)
    got, lost = drain(reader)
    assert got == list(range(1, 401))
    assert lost == []
    assert buf.stats(0).overrun == 0


def test_observed_1000_markers_with_a_reader() -> None:
    # Observed: 143 entries, then CPU:0 [LOST 580 EVENTS], then the newest 277.
    buf = make_buffer()
    reader = buf.open_reader()
    fill(buf, 2, size=28, start=-2)
    drain(reader)
    fill(buf, 1000, size=28)
    got, lost = drain(reader)
    assert got == list(range(143)) + list(range(723, 1000))
    assert lost == [580]
    assert buf.stats(0).overrun == 580


def test_lost_count_comes_with_the_first_entry_after_the_gap() -> None:
    buf = make_buffer()
    fill(buf, 300)
    reader = buf.open_reader()
    cpu, entry, lost = reader.peek()
    assert (cpu, entry.n, lost) == (0, 127, 127)
    # Peeking again reports it again until the entry is consumed.
    assert reader.peek()[2] == 127
    assert reader.consume(0, entry)
    assert reader.peek()[2] == 0


# -- drop mode -----------------------------------------------------------------------


def test_drop_mode_refuses_new_entries() -> None:
    buf = make_buffer(overwrite=False)
    results = fill(buf, 300)
    assert results == [True] * 254 + [False] * 46
    stats = buf.stats(0)
    assert (stats.entries, stats.overrun, stats.dropped) == (254, 0, 46)
    got, lost = drain(buf.open_reader())
    assert got == list(range(254))
    assert lost == []


def test_event_too_big_for_a_page_is_dropped() -> None:
    buf = make_buffer()
    assert not buf.commit(Seq(size=4081), 0)
    assert buf.commit(Seq(size=4080), 0)
    assert buf.stats(0).dropped == 1


# -- time extends ------------------------------------------------------------------------


def test_time_extend_after_a_long_gap() -> None:
    times = iter([0, 1000, 1000 + (1 << 27), 2000 + (1 << 27)])
    buf = RingBuffer(1, 2, clock=lambda: next(times))
    fill(buf, 4)
    # Only the event after the 2^27 ns gap carries an 8-byte extend.
    assert buf.stats(0).bytes == 4 * 32 + 8
    drain(buf.open_reader())
    assert buf.stats(0).bytes == 0


def test_first_event_on_a_page_needs_no_extend() -> None:
    now = [0]

    def clock() -> int:
        now[0] += 1 << 28
        return now[0]

    buf = RingBuffer(1, 4, clock=clock)
    fill(buf, 127)  # every event is >= 2^27 after the previous one
    # 126 extends on the first page push the last entries to a second page,
    # whose first event needs no extend.
    assert buf.stats(0).bytes == 127 * 32 + 8 * (127 - 1 - 1)


# -- reset, resize, stats -----------------------------------------------------------------


def test_reset_zeroes_counters_but_keeps_oldest_ts() -> None:
    buf = make_buffer(nr_cpus=2)
    fill(buf, 300)
    fill(buf, 5, cpu=1)
    drain(buf.open_reader((1,)))
    oldest = buf.stats(0).oldest_ts
    assert oldest > 0
    buf.reset()
    for cpu in (0, 1):
        s = buf.stats(cpu)
        assert (s.entries, s.overrun, s.bytes, s.dropped, s.read) == (0, 0, 0, 0, 0)
    assert buf.stats(0).oldest_ts == oldest


def test_reset_one_cpu_only() -> None:
    buf = make_buffer(nr_cpus=2)
    fill(buf, 3, cpu=0)
    fill(buf, 4, cpu=1)
    buf.reset(1)
    assert (buf.entries(0), buf.entries(1)) == (3, 0)


def test_resize_keeps_data_and_shrinking_drops_the_oldest() -> None:
    buf = make_buffer()
    buf.resize(4 * 4080)
    fill(buf, 400)
    assert buf.stats(0).overrun == 0
    buf.resize(8 * 4080)
    assert [e.n for e in buf.snapshot()] == list(range(400))
    buf.resize(0)  # the minimum: two pages
    assert buf.nr_pages(0) == 2
    s = buf.stats(0)
    assert (s.entries, s.overrun) == (400 - 254, 254)
    assert [e.n for e in buf.snapshot()][0] == 254


def test_read_events_count_consumed_entries() -> None:
    buf = make_buffer()
    fill(buf, 5)
    reader = buf.open_reader()
    reader.take()
    s = buf.stats(0)
    assert (s.entries, s.read) == (4, 1)


def test_cpu_disabled_and_record_off() -> None:
    buf = make_buffer(nr_cpus=2)
    buf.set_cpu_enabled(1, False)
    assert not buf.commit(Seq(size=32), 1)
    assert buf.commit(Seq(size=32), 0)
    buf.record_on = False
    assert not buf.commit(Seq(size=32), 0)
    buf.record_on = True
    buf.record_disable()
    buf.record_disable()
    buf.record_enable()
    assert not buf.commit(Seq(size=32), 0)
    buf.record_enable()
    assert buf.commit(Seq(size=32), 0)
    assert buf.entries() == 2


# -- readers ------------------------------------------------------------------------------


def test_consuming_readers_are_exclusive_per_cpu() -> None:
    buf = make_buffer(nr_cpus=2)
    top = buf.open_reader()
    with pytest.raises(OSError) as info:
        buf.open_reader((0,))
    assert info.value.errno == errno.EBUSY
    top.close()
    cpu0 = buf.open_reader((0,))
    cpu1 = buf.open_reader((1,))
    for cpus in (None, (0,), (1,)):
        with pytest.raises(OSError) as info:
            buf.open_reader(cpus)
        assert info.value.errno == errno.EBUSY
    cpu0.close()
    cpu1.close()
    assert not buf.has_readers()


def test_readers_merge_cpus_by_timestamp() -> None:
    buf = make_buffer(nr_cpus=2)
    for n in range(10):
        buf.commit(Seq(size=32, n=n), n % 2)
    assert [e.n for e in buf.snapshot()] == list(range(10))
    assert [e.n for e in buf.snapshot((1,))] == [1, 3, 5, 7, 9]
    got, _ = drain(buf.open_reader())
    assert got == list(range(10))


def test_equal_timestamps_lower_cpu_first() -> None:
    buf = RingBuffer(2, 2, clock=lambda: 5)
    buf.commit(Seq(size=32, n=1), 1)
    buf.commit(Seq(size=32, n=0), 0)
    assert [e.n for e in buf.snapshot()] == [0, 1]
    assert [item[1].n for item in iter(buf.open_reader().take, None)] == [0, 1]


def test_snapshot_is_fixed_when_taken() -> None:
    buf = make_buffer()
    fill(buf, 10)
    snap = buf.snapshot()
    fill(buf, 500, start=10)  # overwrites everything the snapshot saw
    assert [e.n for e in snap] == list(range(10))
    assert (snap.entries, snap.overrun) == (10, 0)


def test_consume_after_reset_is_refused() -> None:
    buf = make_buffer()
    fill(buf, 3)
    reader = buf.open_reader()
    cpu, entry, _ = reader.peek()
    buf.reset()
    assert not reader.consume(cpu, entry)
    assert reader.peek() is None


def test_blocked_reader_is_woken_by_a_commit() -> None:
    buf = make_buffer()
    reader = buf.open_reader()
    waiting = threading.Event()
    result: list[bool] = []

    def wait() -> None:
        waiting.set()
        result.append(reader.wait(timeout=30))

    t = threading.Thread(target=wait)
    t.start()
    waiting.wait()
    while not buf._waiters:  # the waiter is inside Condition.wait
        threading.Event().wait(0.001)
    buf.commit(Seq(size=32), 0)
    t.join()
    assert result == [True]


def test_wait_without_data_returns_false() -> None:
    buf = make_buffer()
    assert buf.wait((0,), timeout=0) is False


# -- properties ---------------------------------------------------------------------------

ops = st.lists(
    st.tuples(
        st.sampled_from(["write", "read"]),
        st.integers(0, 1),  # cpu
        st.integers(1, 400),  # how many
        st.sampled_from([28, 32, 120, 1000, 4080]),  # entry size
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(ops=ops, overwrite=st.booleans(), pages=st.integers(2, 4))
def test_every_entry_is_delivered_once_or_reported_lost(ops, overwrite, pages) -> None:
    buf = make_buffer(nr_cpus=2, nr_pages=pages, overwrite=overwrite)
    reader = buf.open_reader()
    written = {0: [], 1: []}
    stored = {0: 0, 1: 0}
    delivered = {0: [], 1: []}
    lost = {0: 0, 1: 0}
    seq = itertools.count()

    def take(limit: int) -> None:
        for _ in range(limit):
            item = reader.take()
            if item is None:
                return
            cpu, entry, n = item
            lost[cpu] += n
            delivered[cpu].append(entry.n)

    for op, cpu, count, size in ops:
        if op == "write":
            for _ in range(count):
                n = next(seq)
                written[cpu].append(n)
                stored[cpu] += buf.commit(Seq(size=size, n=n), cpu)
        else:
            take(count)
    take(10**9)

    for cpu in (0, 1):
        stats = buf.stats(cpu)
        got = delivered[cpu]
        assert len(set(got)) == len(got), "delivered twice"
        assert got == sorted(got), "out of order"
        assert set(got) <= set(written[cpu])
        if overwrite:
            assert stats.dropped == 0
            assert len(got) + lost[cpu] == len(written[cpu]) == stored[cpu]
            assert lost[cpu] == stats.overrun
        else:
            assert lost[cpu] == 0 and stats.overrun == 0
            assert len(got) + stats.dropped == len(written[cpu])
        assert stats.entries == 0 and stats.read == len(got)


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.sampled_from([28, 32, 64, 200, 4080]), max_size=600), pages=st.integers(2, 5))
def test_pages_never_overflow_and_bytes_add_up(sizes, pages) -> None:
    buf = make_buffer(nr_pages=pages)
    for s in sizes:
        buf.commit(Seq(size=s), 0)
    cb = buf._cpus[0]
    assert len(cb.ring) <= pages
    assert all(p.used <= buf.subbuf_data for p in cb.ring)
    assert buf.stats(0).bytes == sum(p.used for p in cb.ring)
    assert buf.stats(0).entries == sum(p.count for p in cb.ring)
    assert buf.stats(0).entries + buf.stats(0).overrun == len(sizes)


@pytest.mark.parametrize("overwrite", [True, False])
def test_concurrent_writer_and_reader_lose_nothing_silently(overwrite: bool) -> None:
    buf = RingBuffer(2, 2, clock=itertools.count().__next__, overwrite=overwrite)
    reader = buf.open_reader()
    total = 20000
    stored = [0]
    done = threading.Event()

    def write() -> None:
        for n in range(total):
            stored[0] += buf.commit(Seq(size=32, n=n), n % 2)
        done.set()

    got: list[int] = []
    lost = 0
    writer = threading.Thread(target=write)
    writer.start()
    while True:
        item = reader.take()
        if item is None:
            if done.is_set() and reader.empty():
                break
            reader.wait(0.01)
            continue
        lost += item[2]
        got.append(item[1].n)
    writer.join()
    assert len(set(got)) == len(got)
    assert got == sorted(got)  # one writer: timestamps follow n
    dropped = buf.dropped()
    assert len(got) + lost + dropped == total
    assert stored[0] == total - dropped


# -- batches from a feeder (mmiotrace's C path) -----------------------------------


def test_a_batch_is_stored_like_single_commits() -> None:
    one, batch = make_buffer(nr_pages=2), make_buffer(nr_pages=2)
    fill(one, 300)
    entries = [Seq(size=32, n=i) for i in range(300)]
    assert batch.commit_batch(entries, 0, stamped=False) == 300
    for a, b in ((one.entries(), batch.entries()), (one.overruns(), batch.overruns())):
        assert a == b
    assert drain(batch.open_reader())[0] == list(range(300 - one.entries(), 300))


def test_a_batch_without_overwrite_stops_at_the_full_buffer() -> None:
    buf = make_buffer(nr_pages=2, overwrite=False)
    fits = sum(fill(buf, 1000))
    buf.reset()
    assert buf.commit_batch([Seq(size=32, n=i) for i in range(1000)], 0) == fits
    assert buf.stats(0).dropped == 1000 - fits


def test_stamped_batches_never_go_back_in_time() -> None:
    buf = make_buffer()
    buf.commit(Seq(size=32, n=0))                      # stamped 1000 by the clock
    late = [Seq(size=32, n=1, ts=500), Seq(size=32, n=2, ts=2500)]
    assert buf.commit_batch(late, 0, stamped=True) == 2
    assert [e.ts for e in late] == [1000, 2500]


def test_the_feeder_runs_before_reads_and_commits_and_wakes_a_waiting_reader() -> None:
    buf = make_buffer()
    held: list[Seq] = []

    def feeder() -> None:
        batch, held[:] = list(held), []
        if batch:
            buf.commit_batch(batch, 0, stamped=False)

    buf.feeder = feeder
    held.append(Seq(size=32, n=1))
    assert buf.entries() == 1                          # handed over before counting
    held.append(Seq(size=32, n=2))
    buf.commit(Seq(size=32, n=3))                      # ... and before a direct commit
    reader = buf.open_reader()
    assert drain(reader)[0] == [1, 2, 3]
    # Nothing notifies the reader: it finds the held entry by looking at the feeder.
    threading.Timer(0.1, lambda: held.append(Seq(size=32, n=4))).start()
    assert reader.wait(5.0)
    assert drain(reader)[0] == [4]
