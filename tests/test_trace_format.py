"""Exact output formats: the trace header and its variants, nop lines, stats,
trace_pipe, and the tracer hooks the mmiotrace tracer builds on. Byte for byte,
with the deterministic ``det`` clock (1 µs per reading)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from ftrace_mmio.trace.array import TraceArray
from ftrace_mmio.trace.entries import Entry, event_size
from ftrace_mmio.trace.output import format_ts, ns_to_sec_usec
from ftrace_mmio.trace.tracer import Tracer, register_tracer, unregister_tracer
from trace_util import Tree

from analysis_util import CORPUS  # noqa: E402 - shared/ beside the work tree

HEADER_LEGEND = """\
#                                _-----=> irqs-off/BH-disabled
#                               / _----=> need-resched
#                              | / _---=> hardirq/softirq
#                              || / _--=> preempt-depth
#                              ||| / _-=> migrate-disable
#                              |||| /     delay
#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
#              | |         |   |||||     |         |
"""


def header(entries: int, written: int, cpus: int = 2, tracer: str = "nop") -> str:
    return (
        f"# tracer: {tracer}\n#\n"
        f"# entries-in-buffer/entries-written: {entries}/{written}   #P:{cpus}\n#\n"
        + HEADER_LEGEND
    )


@pytest.fixture
def tree() -> Tree:
    return Tree()


# -- header and nop lines (§3.1, §3.2) ------------------------------------------------------


def test_empty_trace_is_exactly_the_header(tree: Tree) -> None:
    assert tree.text("trace") == header(0, 0)


def test_one_marker(tree: Tree) -> None:
    tree.marker(b"hello world\n")
    assert tree.text("trace") == header(1, 1) + (
        "           <...>-6016    [000] ...1.     0.000001: tracing_mark_write: hello world\n"
    )


def test_seconds_column_grows_and_pid_column(tree: Tree) -> None:
    # The two lines of the spec, to the byte.
    tb = tree.array.time_base
    tree.array.marker_cpu = 1
    tb.advance(1496_354_081_000)
    tree.marker(b"hello\n", pid=12393)
    tree.array.marker_cpu = 0
    tree.marker(b"hello world\n", pid=6016)
    tb.advance(99_000_000_000_000)
    tree.marker(b"wide\n", pid=7)
    assert tree.text("trace").split("\n")[12:] == [
        "           <...>-12393   [001] ...1.  1496.354082: tracing_mark_write: hello",
        "           <...>-6016    [000] ...1.  1496.354083: tracing_mark_write: hello world",
        "           <...>-7       [000] ...1. 100496.354084: tracing_mark_write: wide",
        "",
    ]


@pytest.mark.parametrize(
    "ns,text",
    [(0, "    0.000000"), (499, "    0.000000"), (500, "    0.000001"), (1499, "    0.000001"),
     (1500, "    0.000002"), (123_456_789_500, "  123.456790"), (4321_000_000_000, " 4321.000000")],
)
def test_timestamps_round_to_the_nearest_microsecond(ns: int, text: str) -> None:
    assert format_ts(ns, in_ns=True) == text


def test_raw_clock_timestamps_are_12_wide() -> None:
    assert format_ts(42, in_ns=False) == "          42"
    assert ns_to_sec_usec(123_456_789_500) == (123, 456790)
    tree = Tree(TraceArray(clock="counter"))
    tree.marker(b"x")
    tree.marker(b"y")
    lines = tree.text("trace").split("\n")[12:]
    assert lines[:2] == [
        "           <...>-6016    [000] ...1.            1: tracing_mark_write: x",
        "           <...>-6016    [000] ...1.            2: tracing_mark_write: y",
    ]


def test_marker_text_shapes(tree: Tree) -> None:
    tree.marker(b"line1\nline2\n")
    tree.marker(b"two\n\n")
    tree.marker(b"\n")
    tree.marker(b"nul\0after")
    tree.marker(b"end")
    assert tree.text("trace")[len(header(5, 5)):] == (
        "           <...>-6016    [000] ...1.     0.000001: tracing_mark_write: line1\n"
        "line2\n"
        "           <...>-6016    [000] ...1.     0.000002: tracing_mark_write: two\n"
        "\n"
        "           <...>-6016    [000] ...1.     0.000003: tracing_mark_write: \n"
        "           <...>-6016    [000] ...1.     0.000004: tracing_mark_write: nul"
        "           <...>-6016    [000] ...1.     0.000005: tracing_mark_write: end\n"
    )


def test_non_utf8_marker_bytes_come_back_unchanged(tree: Tree) -> None:
    tree.marker(b"\xff\xfe caf\xc3\xa9")
    assert tree.read("trace").endswith(b"tracing_mark_write: \xff\xfe caf\xc3\xa9\n")


# -- header variants (§3.1) -------------------------------------------------------------------


def test_irq_info_off(tree: Tree) -> None:
    tree.write("options/irq-info", b"0")
    tree.marker(b"hi")
    assert tree.text("trace") == (
        "# tracer: nop\n#\n"
        "# entries-in-buffer/entries-written: 1/1   #P:2\n#\n"
        "#           TASK-PID     CPU#     TIMESTAMP  FUNCTION\n"
        "#              | |         |         |         |\n"
        "           <...>-6016    [000]      0.000001: tracing_mark_write: hi\n"
    )


def test_context_info_off(tree: Tree) -> None:
    tree.write("options/context-info", b"0")
    tree.marker(b"hi")
    assert tree.text("trace") == "# tracer: nop\n#\ntracing_mark_write: hi\n"


def test_verbose_drops_the_column_header(tree: Tree) -> None:
    tree.write("options/verbose", b"1")
    assert tree.text("trace") == "# tracer: nop\n#\n"


def test_record_tgid(tree: Tree) -> None:
    tree.write("options/record-tgid", b"1")
    tree.marker(b"hi")
    assert tree.text("trace") == (
        "# tracer: nop\n#\n"
        "# entries-in-buffer/entries-written: 1/1   #P:2\n#\n"
        # The legend moves right by the 10 columns of "(-------) ".
        "#                                          _-----=> irqs-off/BH-disabled\n"
        "#                                         / _----=> need-resched\n"
        "#                                        | / _---=> hardirq/softirq\n"
        "#                                        || / _--=> preempt-depth\n"
        "#                                        ||| / _-=> migrate-disable\n"
        "#                                        |||| /     delay\n"
        "#           TASK-PID       TGID    CPU#  |||||  TIMESTAMP  FUNCTION\n"
        "#              | |           |       |   |||||     |         |\n"
        "           <...>-6016    (-------) [000] ...1.     0.000001: tracing_mark_write: hi\n"
    )
    tree.write("options/irq-info", b"0")
    assert tree.text("trace").split("\n")[4:6] == [
        "#           TASK-PID       TGID    CPU#     TIMESTAMP  FUNCTION",
        "#              | |           |       |         |         |",
    ]


def test_online_cpus_shows_in_header() -> None:
    array = TraceArray(clock="det")
    array.online_cpus = 1
    assert Tree(array).text("trace") == header(0, 0, cpus=1)


# -- annotations (§3.3) -----------------------------------------------------------------------


def test_cpu_buffer_started_annotation(tree: Tree) -> None:
    # Observed: cpu1 had 3 entries, then cpu0 (overrun 127).
    tree.array.marker_cpu = 1
    for i in range(3):
        tree.marker(b"c%d\n" % i)
    tree.array.marker_cpu = 0
    for i in range(300):
        tree.marker(b"msg %04d\n" % i)
    lines = tree.text("trace").split("\n")
    assert lines[2] == "# entries-in-buffer/entries-written: 176/303   #P:2"
    assert lines[12:17] == [
        "           <...>-6016    [001] ...1.     0.000001: tracing_mark_write: c0",
        "           <...>-6016    [001] ...1.     0.000002: tracing_mark_write: c1",
        "           <...>-6016    [001] ...1.     0.000003: tracing_mark_write: c2",
        "##### CPU 0 buffer started ####",
        "           <...>-6016    [000] ...1.     0.000131: tracing_mark_write: msg 0127",
    ]
    assert sum(line.startswith("#####") for line in lines) == 1
    tree.write("options/annotate", b"0")
    assert not any(line.startswith("#####") for line in tree.text("trace").split("\n"))


def test_no_annotation_on_the_first_two_entries(tree: Tree) -> None:
    # CPU 0 overran, but its first line is the first of the output: no
    # annotation there. CPU 1 did not overrun, yet gets one: the flag is
    # "the buffer had overruns", for every CPU.
    for i in range(300):
        tree.marker(b"msg %04d\n" % i)
    tree.array.marker_cpu = 1
    tree.marker(b"late")
    lines = tree.text("trace").split("\n")[12:]
    assert [line for line in lines if line.startswith("#####")] == ["##### CPU 1 buffer started ####"]
    assert lines[-3:] == [
        "##### CPU 1 buffer started ####",
        "           <...>-6016    [001] ...1.     0.000301: tracing_mark_write: late",
        "",
    ]


# -- trace_pipe (§2) --------------------------------------------------------------------------


def test_pipe_lines_are_the_trace_body(tree: Tree) -> None:
    for i in range(5):
        tree.marker(b"m%d\n" % i)
    body = tree.read("trace")[len(header(5, 5)):]
    with tree.opened("trace_pipe", os.O_RDONLY | os.O_NONBLOCK) as h:
        assert h.read(65536, 0, h._req) == body


def test_pipe_lost_line_then_the_next_entry(tree: Tree) -> None:
    for i in range(300):
        tree.marker(b"msg %04d\n" % i)
    with tree.opened("trace_pipe") as h:
        data = h.read(140, 0, h._req)
    # 104 bytes of LOST line and first entry, then 36 of the second line.
    assert data == (
        b"CPU:0 [LOST 127 EVENTS]\n"
        b"           <...>-6016    [000] ...1.     0.000128: tracing_mark_write: msg 0127\n"
        b"           <...>-6016    [000] ...1."
    )


# -- stats (§5.2) -----------------------------------------------------------------------------


def test_stats_at_boot(tree: Tree) -> None:
    assert tree.text("per_cpu/cpu0/stats") == (
        "entries: 0\noverrun: 0\ncommit overrun: 0\nbytes: 0\n"
        "oldest event ts:     0.000000\nnow ts:     0.000000\n"
        "dropped events: 0\nread events: 0\n"
    )


def test_stats_exact(tree: Tree) -> None:
    for i in range(300):
        tree.marker(b"msg %04d\n" % i)
    with tree.opened("trace_pipe") as h:
        h.read(80, 0, h._req)
    assert tree.text("per_cpu/cpu0/stats") == (
        # The reader took the page starting at 128; the oldest stamp is now
        # that of the head page of the ring, the one after it.
        "entries: 172\noverrun: 127\ncommit overrun: 0\nbytes: 5504\n"
        "oldest event ts:     0.000255\nnow ts:     0.000300\n"
        "dropped events: 0\nread events: 1\n"
    )
    tree.echo("trace", b"")
    assert tree.text("per_cpu/cpu0/stats") == (
        "entries: 0\noverrun: 0\ncommit overrun: 0\nbytes: 0\n"
        "oldest event ts:     0.000255\nnow ts:     0.000300\n"
        "dropped events: 0\nread events: 0\n"
    )


def test_stats_with_a_raw_clock() -> None:
    tree = Tree(TraceArray(clock="counter"))
    tree.marker(b"x")
    stats = tree.text("per_cpu/cpu0/stats").split("\n")
    assert stats[4] == "oldest event ts: 1"
    assert stats[5].startswith("now ts: ") and stats[5][8:].isdigit()


# -- in-kernel prints -----------------------------------------------------------------------------


def test_trace_printk(tree: Tree) -> None:
    assert tree.array.trace_printk("no newline", cpu=1)
    assert tree.array.trace_printk("second\n")
    assert tree.text("trace")[len(header(2, 2)):] == (
        "          <idle>-0       [001] .....     0.000001: 0: no newline"
        "          <idle>-0       [000] .....     0.000002: 0: second\n"
    )
    tree.array.trace_printk("x" * 2000)
    assert tree.array.buffer.stats(0).entries == 2
    assert tree.text("trace").endswith("0: " + "x" * 1023)


def test_trace_printk_option_off(tree: Tree) -> None:
    tree.write("options/trace_printk", b"0")
    assert tree.array.trace_printk("x") is False
    assert tree.array.buffer.entries() == 0


def test_printk_msg_only(tree: Tree) -> None:
    tree.write("options/printk-msg-only", b"1")
    tree.marker(b"only this")
    assert tree.text("trace") == header(1, 1) + "only this\n"


# -- tracer hooks: what the mmiotrace tracer builds on ----------------------------------------------


@dataclass(slots=True, eq=False)
class RwEntry(Entry):
    """Shaped like mmiotrace's rw entry, for the hook tests."""

    op: str = "W"
    width: int = 4
    map_id: int = 0
    phys: int = 0
    value: int = 0


class FakeMmio(Tracer):
    name = "fakemmio"

    def init(self) -> None:
        self.array.online_cpus = 1

    def reset(self) -> None:
        self.array.online_cpus = self.array.nr_cpus

    def pipe_open(self, pipe) -> None:
        pipe.queue("VERSION 20070824\n")
        pipe.private = ["PCIDEV 0000 80865af0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 \n"]

    def read(self, pipe) -> str | None:
        pending = pipe.private
        return pending.pop(0) if pending else None

    def print_line(self, entry: Entry) -> str | None:
        if isinstance(entry, RwEntry):
            sec, usec = ns_to_sec_usec(entry.ts)
            return (
                f"{entry.op} {entry.width} {sec}.{usec:06d} {entry.map_id} "
                f"0x{entry.phys:x} 0x{entry.value:x} 0x0 0\n"
            )
        if entry.type == 5:
            sec, usec = ns_to_sec_usec(entry.ts)
            return f"MARK {sec}.{usec:06d} {entry.message()}"
        return ""  # everything else is swallowed


@pytest.fixture
def fake() -> Tree:
    register_tracer(FakeMmio)
    tree = Tree()
    tree.echo("current_tracer", b"fakemmio")
    yield tree
    unregister_tracer(FakeMmio)


def commit_at(tree: Tree, entry: Entry, us: int) -> None:
    """Commit so that the det clock stamps exactly ``us`` microseconds."""
    tb = tree.array.time_base
    tb.advance(us * 1000 - tb.virtual_ns(tick=False) - 1000)
    assert tree.array.commit(entry, 0)


def test_corpus_empty_trace_under_a_one_cpu_tracer(fake: Tree) -> None:
    expected = (CORPUS / "lkml_trace_file_empty.excerpt.txt").read_text()
    assert fake.text("trace") == expected.replace("mmiotrace", "fakemmio")


def test_corpus_trace_file_with_tracer_lines(fake: Tree) -> None:
    expected = (CORPUS / "ftrace_trace_file_variant.excerpt.txt").read_text()
    for line in expected.splitlines()[12:]:
        op, width, ts, map_id, phys, value, _pc, _pid = line.split()
        sec, usec = ts.split(".")
        entry = RwEntry(
            size=event_size(8 + 32), op=op, width=int(width), map_id=int(map_id),
            phys=int(phys, 16), value=int(value, 16),
        )
        commit_at(fake, entry, int(sec) * 1_000_000 + int(usec))
    assert fake.text("trace") == expected.replace("mmiotrace", "fakemmio")


def test_pipe_hooks_come_first_then_entries(fake: Tree) -> None:
    commit_at(fake, RwEntry(size=48, phys=0xFE000000, value=0x1F), 1)
    fake.marker(b"X is up")
    fake.array.commit(Entry(size=16), 0)  # an unknown type: swallowed
    with fake.opened("trace_pipe", os.O_RDONLY | os.O_NONBLOCK) as h:
        reads = [h.read(4096, 0, h._req) for _ in range(3)]
        with pytest.raises(BlockingIOError):
            h.read(4096, 0, h._req)
    assert reads == [
        b"VERSION 20070824\n",
        b"PCIDEV 0000 80865af0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 \n",
        b"W 4 0.000001 0 0xfe000000 0x1f 0x0 0\nMARK 0.000002 X is up\n",
    ]
    # The swallowed entry was consumed all the same.
    assert fake.array.buffer.entries() == 0
    assert fake.array.buffer.stats(0).read == 3


def test_queued_text_obeys_short_reads(fake: Tree) -> None:
    with fake.opened("trace_pipe", os.O_RDONLY | os.O_NONBLOCK) as h:
        assert h.read(4, 0, h._req) == b"VERS"
        assert h.read(100, 0, h._req) == b"ION 20070824\n"
        assert h.read(100, 0, h._req).startswith(b"PCIDEV ")


def test_print_header_hook_replaces_lines_3_to_12(fake: Tree) -> None:
    FakeMmio.print_header = lambda self, entries, written: f"# {entries} of {written}\n"
    try:
        assert fake.text("trace") == "# tracer: fakemmio\n#\n# 0 of 0\n"
    finally:
        del FakeMmio.print_header
