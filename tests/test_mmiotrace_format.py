"""The mmiotrace tracer's output and hooks, without a machine.

Lines are checked byte for byte against the kernel's printf formats
(mmiotrace.md §1), including the spec's real examples; the pipe hooks
(VERSION at open, Lost lines at read boundaries) and the tracer's lifecycle
are driven through the real tracing tree. Records are committed through the
tracer's own entry points, the ones mmio-mod calls.
"""

from __future__ import annotations

import errno
import os

import pytest

from ftrace_mmio.machine.pci import PcidevFields
from ftrace_mmio.mmiotrace.mmio_mod import (
    MMIO_PROBE,
    MMIO_READ,
    MMIO_UNKNOWN_OP,
    MMIO_UNPROBE,
    MMIO_WRITE,
    MmiotraceParams,
)
from ftrace_mmio.mmiotrace.tracer import (
    MAP_EVENT_SIZE,
    RW_EVENT_SIZE,
    MmioMapEntry,
    MmioRwEntry,
    MmiotraceTracer,
    format_map,
    format_pcidev,
    format_rw,
    format_ts,
)
from ftrace_mmio.trace.entries import Entry, PrintEntry
from ftrace_mmio.trace.tracer import tracer_names
from mmiotrace_util import GRAMMAR, drain, line_kind
from trace_util import Tree, raises_errno


@pytest.mark.parametrize(
    "ns, text",
    [
        (0, "0.000000"),
        (499, "0.000000"),
        (500, "0.000001"),
        (1000, "0.000001"),
        (123_456_789_500, "123.456790"),    # the spec's rounding example
        (123_456_789_499, "123.456789"),
        (4321 * 10**9, "4321.000000"),
        (999_999_500, "1.000000"),         # rounding carries into the seconds
        ((1 << 32) * 10**9 + 5000, "0.000005"),  # %u: seconds wrap at 32 bits
    ],
)
def test_timestamps_round_to_the_microsecond(ns: int, text: str) -> None:
    assert format_ts(ns) == text


def _rw(opcode: int, width: int, phys: int, value: int, pc: int = 0, map_id: int = 1, ts: int = 0) -> MmioRwEntry:
    e = MmioRwEntry(RW_EVENT_SIZE, phys=phys, value=value, pc=pc, map_id=map_id, opcode=opcode, width=width)
    e.ts = ts
    return e


def _map(opcode: int, phys: int, virt: int, length: int, map_id: int, ts: int = 0) -> MmioMapEntry:
    e = MmioMapEntry(MAP_EVENT_SIZE, phys=phys, virt=virt, len=length, map_id=map_id, opcode=opcode)
    e.ts = ts
    return e


def test_rw_lines_are_the_kernels_printf() -> None:
    # The spec's constructed examples (§1.6), value and pc as %lx.
    assert format_rw(_rw(MMIO_WRITE, 1, 0xFD0000FF, 0xFF, ts=512_000_129_000)) == \
        "W 1 512.000129 1 0xfd0000ff 0xff 0x0 0\n"
    assert format_rw(_rw(MMIO_WRITE, 2, 0xFD000400, 0x3007, ts=512_000_132_000)) == \
        "W 2 512.000132 1 0xfd000400 0x3007 0x0 0\n"
    assert format_rw(_rw(MMIO_READ, 4, 0xFD003FFC, 0xCF57C9C1, ts=512_000_152_000)) == \
        "R 4 512.000152 1 0xfd003ffc 0xcf57c9c1 0x0 0\n"
    assert format_rw(_rw(MMIO_WRITE, 8, 0xFE001008, 0x123456789ABCDEF0, pc=0xFFFFFFFFC0A0124A,
                         map_id=3, ts=512_000_171_000)) == \
        "W 8 512.000171 3 0xfe001008 0x123456789abcdef0 0xffffffffc0a0124a 0\n"
    assert format_rw(_rw(MMIO_READ, 4, 0, 0)) == "R 4 0.000000 1 0x0 0x0 0x0 0\n"


def test_unknown_lines_show_three_raw_bytes() -> None:
    assert format_rw(_rw(MMIO_UNKNOWN_OP, 0, 0xFE001000, 0xF3A548, map_id=3, ts=512_000_169_000)) == \
        "UNKNOWN 512.000169 3 0xfe001000 f3,a5,48 0x0 0\n"
    assert format_rw(_rw(MMIO_UNKNOWN_OP, 0, 0xFE001004, 0x0FC31E, pc=0xFFFFFFFFC0A01234, map_id=3,
                         ts=512_000_170_000)) == \
        "UNKNOWN 512.000170 3 0xfe001004 0f,c3,1e 0xffffffffc0a01234 0\n"


def test_unknown_opcodes_print_what_the_kernel_prints() -> None:
    assert format_rw(_rw(9, 4, 0, 0)) == "rw what?\n"
    assert format_map(_map(9, 0, 0, 0, 1)) == "map what?\n"


def test_map_and_unmap_lines() -> None:
    # Real MAP lines from vgpu_unlock issue #6 (§1.5).
    assert format_map(_map(MMIO_PROBE, 0xFA000000, 0xFFFFA524801AB000, 0x1000, 1, ts=432_175_965_000)) == \
        "MAP 432.175965 1 0xfa000000 0xffffa524801ab000 0x1000 0x0 0\n"
    assert format_map(_map(MMIO_PROBE, 0xFA000000, 0xFFFFA52487000000, 0x1000000, 3, ts=432_251_520_000)) == \
        "MAP 432.251520 3 0xfa000000 0xffffa52487000000 0x1000000 0x0 0\n"
    assert format_map(_map(MMIO_UNPROBE, 0, 0xFFFFC90000800000, 0, 1, ts=512_000_165_000)) == \
        "UNMAP 512.000165 1 0x0 0\n"
    assert format_map(_map(MMIO_UNPROBE, 0, 0xFFFFC90000800000, 0, -1, ts=512_000_168_000)) == \
        "UNMAP 512.000168 -1 0x0 0\n"


def test_pcidev_lines_match_the_real_examples() -> None:
    # §1.4, from a 2025 linux-trace post and vgpu_unlock issue #6.
    i915 = PcidevFields(0x0010, 0x80860F31, 0x61,
                        (0xB0000000, 0, 0xA0000008, 0, 0xE081, 0, 0xC0002),
                        (0x400000, 0, 0x10000000, 0, 0x8, 0, 0x20000), "i915")
    assert format_pcidev(i915) == \
        "PCIDEV 0010 80860f31 61 b0000000 0 a0000008 0 e081 0 c0002 400000 0 10000000 0 8 0 20000 i915\n"
    fpga = PcidevFields(0x0100, 0x15565555, 0xB, (0xB0400000, 0, 0, 0, 0, 0, 0),
                        (0x400000, 0, 0, 0, 0, 0, 0), None)
    assert format_pcidev(fpga) == "PCIDEV 0100 15565555 b b0400000 0 0 0 0 0 0 400000 0 0 0 0 0 0 \n"
    nvidia = PcidevFields(0xC100, 0x10DE2206, 0x7D,
                          (0xFA000000, 0x1800000000C, 0, 0x1801000000C, 0, 0xF001, 0xFB000000),
                          (0x1000000, 0x10000000, 0, 0x2000000, 0, 0x80, 0x80000), "")
    assert format_pcidev(nvidia) == ("PCIDEV c100 10de2206 7d fa000000 1800000000c 0 1801000000c 0 f001 "
                                     "fb000000 1000000 10000000 0 2000000 0 80 80000 \n")
    for line in (format_pcidev(i915), format_pcidev(fpga), format_pcidev(nvidia)):
        assert line_kind(line) == "PCIDEV"


def test_entries_take_the_kernels_bytes() -> None:
    # trace_entry (8) + struct mmiotrace_rw/map (32 with padding) + a 4-byte event header.
    assert RW_EVENT_SIZE == 44
    assert MAP_EVENT_SIZE == 44


def test_grammar_accepts_the_real_capture() -> None:
    # A real trace_pipe capture (Intel IPU4 driver load), every line.
    from pathlib import Path

    from analysis_util import CORPUS

    corpus = CORPUS / "ipu4_apollolake_trace.trimmed.mmiotrace"
    if not corpus.exists():
        pytest.skip("the shared corpus is not on this machine")
    text = corpus.read_text()
    kinds = {line_kind(line) for line in text.splitlines(keepends=True)}
    assert None not in kinds
    assert {"VERSION", "PCIDEV", "MAP", "RW"} <= kinds


def test_grammar_rejects_near_misses() -> None:
    for bad in ("R 3 0.000001 1 0x0 0x0 0x0 0\n", "W 4 0.00001 1 0x0 0x0 0x0 0\n",
                "R 4 0.000001 1 0x00 0x0 0x0 0\n", "MAP 0.000001 1 0x1 0x2 0x3 0x1 0\n",
                "UNKNOWN 0.000001 1 0x1 f3,a5 0x0 0\n", "R 4 0.000001 1 0x0 0x0 0x0 0 \n"):
        assert line_kind(bad) is None, bad
    assert GRAMMAR["LOST"].fullmatch("MARK 0.000000 Lost 7 events.\n")


# -- the tracer in the tracing tree, no machine attached -----------------------------


@pytest.fixture
def tree() -> Tree:
    t = Tree(nr_cpus=2)
    yield t
    if t.array.tracer.name != "nop" and not t.array.pipes_open:
        t.array.set_tracer("nop")


def _tracer(tree: Tree) -> MmiotraceTracer:
    tracer = tree.array.tracer
    assert isinstance(tracer, MmiotraceTracer)
    return tracer


def test_mmiotrace_is_available_and_selectable(tree: Tree) -> None:
    assert "mmiotrace" in tracer_names()
    assert "mmiotrace" in tree.text("available_tracers").split()
    tree.echo("current_tracer", b"mmiotrace\n")
    assert tree.text("current_tracer") == "mmiotrace\n"


def test_pipe_open_queues_version_alone(tree: Tree) -> None:
    tree.echo("current_tracer", b"mmiotrace\n")
    tracer = _tracer(tree)
    tracer.trace_map(MMIO_PROBE, 0xFD000000, 0xFFFFC90000800000, 0x4000, 1)
    with tree.opened("trace_pipe", os.O_RDONLY | os.O_NONBLOCK) as h:
        # The first read returns only VERSION, however much was asked for.
        assert h.read(65536, 0, h._req) == b"VERSION 20070824\n"
        # No machine: no PCI devices, so the events come next.
        assert h.read(65536, 0, h._req) == b"MAP 0.000001 1 0xfd000000 0xffffc90000800000 0x4000 0x0 0\n"
        with raises_errno(errno.EAGAIN):
            h.read(65536, 0, h._req)


def test_version_is_not_in_the_trace_file(tree: Tree) -> None:
    tree.echo("current_tracer", b"mmiotrace\n")
    tracer = _tracer(tree)
    tracer.trace_rw(MMIO_WRITE, 4, 0xFD000010, 0x1234, 0, 1)
    text = tree.text("trace")
    lines = text.splitlines(keepends=True)
    assert lines[0] == "# tracer: mmiotrace\n"
    assert lines[2] == "# entries-in-buffer/entries-written: 1/1   #P:1\n"
    assert "VERSION" not in text
    # The event line has no task/CPU prefix: the tracer prints it whole.
    assert lines[-1] == "W 4 0.000001 1 0xfd000010 0x1234 0x0 0\n"
    assert all(line.startswith("#") for line in lines[:-1])


def test_one_cpu_online_while_enabled(tree: Tree) -> None:
    assert tree.array.online_cpus == 2
    tree.echo("current_tracer", b"mmiotrace\n")
    assert tree.array.online_cpus == 1
    assert "#P:1\n" in tree.text("trace")
    tree.echo("current_tracer", b"nop\n")
    assert tree.array.online_cpus == 2


def test_markers_print_as_mark_lines(tree: Tree) -> None:
    tree.echo("current_tracer", b"mmiotrace\n")
    tree.marker(b"X is up")
    tree.marker(b"two\nlines\n")
    tree.marker(b"nul\0after")
    tree.marker(b"y\n")
    with tree.opened("trace_pipe", os.O_RDONLY | os.O_NONBLOCK) as h:
        h.read(65536, 0, h._req)
        text = h.read(65536, 0, h._req)
    # The newline is the stored text's; an embedded one starts a bare line;
    # %s stops at a NUL and then there is no newline at all.
    assert text == (b"MARK 0.000001 X is up\n"
                    b"MARK 0.000002 two\nlines\n"
                    b"MARK 0.000003 nulMARK 0.000004 y\n")


def test_other_entry_types_are_swallowed(tree: Tree) -> None:
    tree.echo("current_tracer", b"mmiotrace\n")
    tracer = _tracer(tree)
    assert tracer.print_line(Entry(16)) == ""
    entry = PrintEntry(24, text="hello\n")
    entry.ts = 2_000_000_000
    assert tracer.print_line(entry) == "MARK 2.000000 hello\n"


def test_lost_events_overwrite_mode(tree: Tree) -> None:
    """Overruns come back as one Lost line at the next read boundary."""
    tree.echo("buffer_size_kb", b"1\n")            # two 4080-byte pages
    tree.echo("current_tracer", b"mmiotrace\n")
    tracer = _tracer(tree)
    produced = 1000
    for i in range(produced):
        tracer.trace_rw(MMIO_READ, 4, 0xFD000000 + 4 * (i % 1024), i, 0, 1)
    with tree.opened("trace_pipe", os.O_RDONLY | os.O_NONBLOCK) as h:
        text = b""
        while True:
            try:
                text += h.read(4096, 0, h._req)
            except OSError as exc:
                assert exc.errno == errno.EAGAIN
                break
    lines = text.decode().splitlines(keepends=True)
    assert lines[0] == "VERSION 20070824\n"
    lost = [int(line.split()[3]) for line in lines if GRAMMAR["LOST"].fullmatch(line)]
    delivered = [line for line in lines if GRAMMAR["RW"].fullmatch(line)]
    # The Lost line comes right after VERSION: it was the second read.
    assert GRAMMAR["LOST"].fullmatch(lines[1])
    assert len(delivered) + sum(lost) == produced
    # The survivors are the newest ones, in order.
    assert [int(line.split()[5], 16) for line in delivered] == list(range(produced - len(delivered), produced))


def test_lost_events_drop_mode(tree: Tree) -> None:
    """Without overwrite the refused records are counted by the tracer itself."""
    tree.echo("buffer_size_kb", b"1\n")
    tree.echo("options/overwrite", b"0\n")
    tree.echo("current_tracer", b"mmiotrace\n")
    tracer = _tracer(tree)
    produced = 1000
    for i in range(produced):
        tracer.trace_rw(MMIO_WRITE, 4, 0xFD000000, i, 0, 1)
    pipe = tree.array.open_pipe()
    text = drain(pipe)
    pipe.close()
    lines = text.splitlines(keepends=True)
    lost = [int(line.split()[3]) for line in lines if GRAMMAR["LOST"].fullmatch(line)]
    delivered = [line for line in lines if GRAMMAR["RW"].fullmatch(line)]
    assert len(lost) == 1 and len(delivered) + lost[0] == produced
    # The oldest are kept: the newest were refused.
    assert [int(line.split()[5], 16) for line in delivered] == list(range(len(delivered)))


def test_lost_count_resets_between_reads(tree: Tree) -> None:
    tree.echo("current_tracer", b"mmiotrace\n")
    tracer = _tracer(tree)
    tree.echo("tracing_on", b"0\n")
    for _ in range(3):
        tracer.trace_rw(MMIO_READ, 4, 0, 0, 0, 1)
    pipe = tree.array.open_pipe()
    try:
        assert pipe.read(4096, nonblock=True) == b"VERSION 20070824\n"
        assert pipe.read(4096, nonblock=True) == b"MARK 0.000000 Lost 3 events.\n"
        with raises_errno(errno.EAGAIN):
            pipe.read(4096, nonblock=True)
        tracer.trace_rw(MMIO_READ, 4, 0, 0, 0, 1)
        assert pipe.read(4096, nonblock=True) == b"MARK 0.000000 Lost 1 events.\n"
    finally:
        pipe.close()


def test_tracing_on_rising_edge_clears_but_keeps_drops(tree: Tree) -> None:
    """The start hook empties the buffer; refusals while off are still reported."""
    tree.echo("current_tracer", b"mmiotrace\n")
    tracer = _tracer(tree)
    tracer.trace_rw(MMIO_READ, 4, 0x10, 1, 0, 1)
    tree.echo("tracing_on", b"0\n")
    tracer.trace_rw(MMIO_READ, 4, 0x20, 2, 0, 1)        # refused: counted
    tree.echo("tracing_on", b"1\n")                     # clears the buffer
    tracer.trace_rw(MMIO_READ, 4, 0x30, 3, 0, 1)
    pipe = tree.array.open_pipe()
    text = drain(pipe)
    pipe.close()
    assert text.splitlines() == [
        "VERSION 20070824",
        "MARK 0.000000 Lost 1 events.",
        "R 4 0.000002 1 0x30 0x3 0x0 0",   # a refused record reads no clock
    ]


def test_switching_tracer_with_an_open_pipe_is_ebusy(tree: Tree) -> None:
    tree.echo("current_tracer", b"mmiotrace\n")
    with tree.opened("trace_pipe"):
        with raises_errno(errno.EBUSY):
            tree.echo("current_tracer", b"nop\n")
        tree.echo("current_tracer", b"mmiotrace\n")   # the same name: a no-op
        assert tree.text("current_tracer") == "mmiotrace\n"
    tree.echo("current_tracer", b"nop\n")
    assert tree.text("current_tracer") == "nop\n"


def test_enable_and_disable_clear_the_buffer(tree: Tree) -> None:
    tree.marker(b"before\n")
    tree.echo("current_tracer", b"mmiotrace\n")
    assert "before" not in tree.text("trace")
    tree.marker(b"during\n")
    tree.echo("current_tracer", b"nop\n")
    assert "during" not in tree.text("trace")


def test_params_reject_unknown_decoders() -> None:
    with pytest.raises(ValueError, match="full"):
        MmiotraceParams(decoder="capstone")
    assert MmiotraceParams(decoder="pf_in").kernel_exact
    assert not MmiotraceParams().kernel_exact
