"""The dump parser on the real corpus, on our own traces, and on damaged input."""

from __future__ import annotations

import io
import itertools
import re
from pathlib import Path

import pytest

from analysis_util import CORPUS, GOLDEN, cli, nv  # noqa: F401 - nv is a fixture
from ftrace_mmio.analysis.parse import (Access, BufferStarted, Comment, CpuLost, DumpError, DumpParser,
                                        FtraceEvent, Garbage, LineTooBig, Lost, Map, Mark, PciDev, Unknown,
                                        Unmap, Version, parse, write_records)

# Kernel-printed dumps: parsing and printing them again gives the same bytes.
CLEAN = ["ipu4_apollolake_trace.trimmed.mmiotrace", "ftrace_trace_file_variant.excerpt.txt",
         "lkml_trace_file_empty.excerpt.txt"]


def reprint(source) -> bytes:
    out = io.BytesIO()
    write_records(parse(source), out)
    return out.getvalue()


def corpus_files() -> list[Path]:
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file())
    assert files, f"no corpus at {CORPUS}"
    return files


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: str(p.relative_to(CORPUS)))
def test_every_corpus_file_parses_tolerantly_and_loses_nothing(path: Path) -> None:
    parser = DumpParser()
    records = list(parser.parse(path))
    # Every line is in some record: garbage is kept, markers and joined lines count theirs.
    lines = path.read_bytes().count(b"\n") + (0 if path.read_bytes().endswith(b"\n") else 1)
    covered = sum(r.nlines if isinstance(r, Mark) else 1 for r in records) \
        + sum(1 for p in parser.problems if "wrapped" in p.message)
    assert covered == lines == parser.lines
    assert parser.problem_count == sum(isinstance(r, Garbage) for r in records) \
        + sum(1 for p in parser.problems if "PCIDEV" in p.message)


@pytest.mark.parametrize("name", CLEAN)
def test_clean_corpus_dumps_round_trip_byte_for_byte(name: str) -> None:
    path = CORPUS / name
    parser = DumpParser(strict=True)
    out = io.BytesIO()
    write_records(parser.parse(path), out)
    assert out.getvalue() == path.read_bytes()


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.mmiotrace")), ids=lambda p: p.name)
def test_our_golden_traces_round_trip_byte_for_byte(path: Path) -> None:
    assert reprint(path) == path.read_bytes()


def test_a_fresh_nvlike_trace_round_trips(nv) -> None:
    assert reprint(nv.original) == nv.original.read_bytes()


def test_ipu4_records_are_typed_with_their_fields() -> None:
    records = list(parse(CORPUS / "ipu4_apollolake_trace.trimmed.mmiotrace", strict=True))
    assert records[0] == Version(1, "20070824")
    devs = [r for r in records if isinstance(r, PciDev)]
    assert len(devs) == 23
    # The three devices with no driver end in a trailing space, kept by format().
    assert [d.slot for d in devs if d.driver is None] == ["00:00.0", "00:03.0", "00:1a.0"]
    assert devs[0].format().endswith(" 0 \n")
    i915 = devs[1]
    assert (i915.vendor, i915.device, i915.irq, i915.driver) == (0x8086, 0x5A84, 0x86, "i915")
    assert [(b.name, hex(b.start), hex(b.size), b.flags) for b in i915.bars()] == [
        ("BAR0", "0x91000000", "0x1000000", 4), ("BAR2", "0x80000000", "0x10000000", 0xC),
        ("BAR4", "0xf000", "0x40", 1), ("ROM", "0xc0000", "0x20000", 2)]
    m = records[24]
    assert m == Map(25, 1037681661, 1, 0x90000000, 0xFFFFB7B187000000, 0x1000000, 0, 0)
    assert records[25] == Access(26, "R", 4, 1037681772, 1, 0x90000300, 0x37002, 0, 0)
    assert sum(isinstance(r, Access) for r in records) == 238


def test_trace_file_header_is_typed() -> None:
    records = list(parse(CORPUS / "ftrace_trace_file_variant.excerpt.txt", strict=True))
    header = [r for r in records if isinstance(r, Comment)]
    assert len(header) == 12 and header[0].tracer == "mmiotrace"
    assert header[2].entries == (15, 15, 1)
    first = records[12]
    assert isinstance(first, Access) and first.phys == 0x3FFA01C90048 and first.map_id == 4


def test_the_mail_wrapped_header_is_repaired_and_each_problem_has_its_line() -> None:
    path = CORPUS / "lkml_baytrail_trace_pipe_header.excerpt.txt"
    parser = DumpParser()
    records = list(parser.parse(path))
    assert [(p.line, p.message) for p in parser.problems] == [
        (7, "PCIDEV line wrapped onto line 8; joined"),
        (9, "PCIDEV line wrapped onto line 10; joined"),
        (12, "PCIDEV line wrapped onto line 13; joined"),
        (14, "PCIDEV line wrapped onto line 15; joined"),
        (22, "PCIDEV line with no driver lacks its trailing space"),
    ]
    devs = [r for r in records if isinstance(r, PciDev)]
    assert len(devs) == 14 and not any(isinstance(r, Garbage) for r in records)
    i915 = next(d for d in devs if d.driver == "i915")
    assert i915.line == 7 and i915.sizes == (0x400000, 0, 0x10000000, 0, 0x8, 0, 0x20000)
    fpga = next(d for d in devs if d.vendor == 0x1556)
    assert fpga.driver is None and fpga.format().endswith(" 0 \n")
    # Repaired, it prints as the kernel printed it before the mail client got it.
    assert "PCIDEV 0010 80860f31 61 b0000000 0 a0000008 0 e081 0 c0002 400000 0 10000000 0 8 0 20000 i915\n" \
        in reprint(path).decode()


def test_strict_mode_fails_on_the_first_problem_with_its_line() -> None:
    with pytest.raises(DumpError) as info:
        list(parse(CORPUS / "lkml_baytrail_trace_pipe_header.excerpt.txt", strict=True))
    assert info.value.problem.line == 7
    assert str(info.value).startswith("line 7: PCIDEV has 12 fields, expected 18")


def test_a_truncated_last_line_is_reported_and_the_rest_kept() -> None:
    data = (CORPUS / "ipu4_apollolake_trace.trimmed.mmiotrace").read_bytes()
    cut = data[:data.rindex(b"\n", 0, len(data) - 1) + 20]     # 19 bytes into the last line
    parser = DumpParser()
    records = list(parser.parse(io.BytesIO(cut)))
    assert len(records) == 263
    assert isinstance(records[-1], Garbage) and records[-1].line == 263
    assert [p.line for p in parser.problems] == [263, 263]
    assert "no newline" in parser.problems[0].message
    with pytest.raises(DumpError) as info:
        list(parse(io.BytesIO(cut), strict=True))
    assert info.value.problem.line == 263


def test_multi_line_markers_lost_events_and_ring_buffer_lines() -> None:
    text = ("VERSION 20070824\n"
            "MARK 12.000001 first line\nsecond line\n\nfourth\n"
            "R 4 12.000002 1 0xfd000000 0x1 0x0 0\n"
            "MARK 0.000000 Lost 42 events.\n"
            "CPU:0 [LOST 580 EVENTS]\n"
            "CPU:1 [LOST EVENTS]\n"
            "[LINE TOO BIG]\n"
            "##### CPU 0 buffer started ####\n"
            "UNKNOWN 12.000003 3 0xfe001000 f3,a5,48 0x0 0\n"
            "UNMAP 12.000004 -1 0x0 0\n"
            "MARK 12.000005 \n")
    records = list(parse(text.splitlines(keepends=True), strict=True))
    assert records == [
        Version(1, "20070824"),
        Mark(2, 12000001, "first line\nsecond line\n\nfourth"),
        Access(6, "R", 4, 12000002, 1, 0xFD000000, 1, 0, 0),
        Lost(7, 42), CpuLost(8, 0, 580), CpuLost(9, 1, None), LineTooBig(10), BufferStarted(11, 0),
        Unknown(12, 12000003, 3, 0xFE001000, (0xF3, 0xA5, 0x48), 0, 0),
        Unmap(13, 12000004, -1, 0, 0),
        Mark(14, 12000005, ""),
    ]
    assert "".join(r.format() for r in records) == text


def test_prefixed_ftrace_lines_round_trip() -> None:
    # trace_marker under nop, as tracefs.md §3.2 shows it; then irq-info off and record-tgid on.
    text = ("           <...>-12393   [001] ...1.  1496.354082: tracing_mark_write: hello\n"
            "           <...>-6016    [000] ...1.   357.833716: tracing_mark_write: two\nlines\n"
            "     kworker/0:1-12      [003]  123456.000001: some_event: x=1\n"
            "           <...>-7       (      7) [000] d..1.     1.000002: foo: bar\n")
    records = list(parse(io.StringIO(text), strict=True))
    assert [type(r) for r in records] == [FtraceEvent] * 4
    assert records[0].comm == "<...>" and records[0].pid == 12393 and records[0].cpu == 1
    assert records[0].flags == "...1." and records[0].ts_us == 1496354082 and records[0].marker == "hello"
    assert records[1].marker == "two\nlines"
    assert records[2].comm == "kworker/0:1" and records[2].flags is None
    assert records[3].tgid == "7"
    assert "".join(r.format() for r in records) == text


def test_bad_lines_are_garbage_with_a_reason_and_reprint_unchanged() -> None:
    text = ("R 4 1.000000 1 0xfd000000 0x1 0x0 0\n"
            "R 3 1.000001 1 0xfd000000 0x1 0x0 0\n"       # no such width
            "W 4 1.00002 1 0xfd000000 0x1 0x0 0\n"        # 5-digit microseconds
            "W 4 1.000002 1 fd000000 0x1 0x0 0\n"         # address without 0x
            "MAP 1.000003 1 0x1000 0xffff0000 0x1000 0x0\n"  # a field short
            "got new mmap at 0x77770000, len: 0x00001000, offset: 0x2000, serial: 1\n")
    parser = DumpParser()
    records = list(parser.parse(io.StringIO(text)))
    assert [type(r) for r in records] == [Access] + [Garbage] * 5
    assert [(p.line, p.message) for p in parser.problems] == [
        (2, "width 3 is not 1, 2, 4 or 8"),
        (3, "timestamp '1.00002' is not SECONDS.MICROSECONDS (6 digits)"),
        (4, "address 'fd000000' is not 0x-prefixed hex"),
        (5, "MAP has 6 fields, expected 7"),
        (6, "valgrind-mmt text output, not mmiotrace"),
    ]
    assert "".join(r.format() for r in records) == text


def test_zero_padded_handmade_values_parse_and_reprint_in_kernel_form() -> None:
    path = CORPUS / "demmio-validation" / "handmade.mmiotrace"
    records = list(parse(path, strict=True))
    assert records[3] == Access(4, "R", 4, 100, 1, 0xF6000000, 0x0E4000A1, 0, 0)
    # The kernel prints %lx: the reprint differs from the handmade file only in the padding.
    unpadded = re.sub(r"0x0+([0-9a-f])", r"0x\1", path.read_text())
    assert reprint(path).decode() == unpadded


def test_marker_bytes_that_are_not_utf8_survive() -> None:
    data = b"MARK 1.000000 caf\xe9 \xff\xfe\n"
    records = list(parse(io.BytesIO(data), strict=True))
    assert isinstance(records[0], Mark)
    out = io.BytesIO()
    write_records(records, out)
    assert out.getvalue() == data


def test_parsing_streams_lazily() -> None:
    read = 0

    def lines():
        nonlocal read
        for i in itertools.count():
            read += 1
            yield f"R 4 0.{i % 1000000:06d} 1 0x{0xfd000000 + 4 * (i % 1024):x} 0x{i:x} 0x0 0\n"

    records = parse(lines())
    first = list(itertools.islice(records, 1000))
    assert first[999].value == 999
    # At most one line of lookahead, however long the input is.
    assert read <= 1001


def test_check_command_reports_problems_and_reprints() -> None:
    path = CORPUS / "lkml_baytrail_trace_pipe_header.excerpt.txt"
    result = cli("check", str(path), "--reprint", "-")
    assert result.returncode == 1
    err = result.stderr.decode()
    assert "line 7: PCIDEV line wrapped onto line 8; joined" in err
    assert "23 lines, 4 COMMENT, 14 PCIDEV, 1 VERSION; 5 problems" in err
    assert result.stdout == reprint(path)
    ok = cli("check", "--strict", str(CORPUS / "ipu4_apollolake_trace.trimmed.mmiotrace"))
    assert ok.returncode == 0 and b"0 problems" in ok.stdout
    strict = cli("check", "--strict", str(path))
    assert strict.returncode == 2 and b"line 7: PCIDEV has 12 fields" in strict.stderr
    missing = cli("check", "/nonexistent/dump.txt")
    assert missing.returncode == 2 and missing.stderr == b"check: /nonexistent/dump.txt: no such file\n"
