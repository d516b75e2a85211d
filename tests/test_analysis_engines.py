"""The C engine (fastparse.c) and the pure-Python one give the same records and statistics.

Every corpus file, every golden trace, our oracle dumps, a generated
driver-shaped dump and a set of damaged lines go through both: the records
(with their raw text), the problems, the line count, the statistics (JSON
and text), and the plot's timeline must be equal.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from analysis_util import CORPUS, GOLDEN
from ftrace_mmio.analysis import native, stats as stats_mod
from ftrace_mmio.analysis.gendump import generate
from ftrace_mmio.analysis.parse import Batch, DumpError, DumpParser
from ftrace_mmio.analysis.resolve import Resolver
from ftrace_mmio.analysis.stats import NativeStatsCollector, StatsCollector, make_collector

DATA = Path(__file__).resolve().parent / "data"

# Numbers beyond 64 bits, timestamps beyond 63 (no kernel prints them): parsed the same, but the C engine's statistics
# see them modulo 2**64 (docs/performance.md), so they are left out of the statistics files.
BEYOND_64 = [
    b"W 8 0.000010 1 0xf6000000 0x1ffffffffffffffff 0x0 0\n",
    b"W 8 99999999999999999999.000010 1 0xf6000000 0x1 0x0 0\n",
    b"W 8 9999999999999.000010 1 0xf6000000 0x1 0x0 0\n",
]

# Lines that look like what the C tokenizer reads, but are not what the kernel prints (or are
# on its edge): each must come out of both engines the same, damaged or not.
EDGE_LINES = [
    b"R 4 0.000010 1 0xf6000000 0xe4000a1 0x0 0\n",
    b"R 4 0.000010 1 0xf6000000 0xe4000a1 0x0 0\r\n",                 # CR-LF
    b"R  4 0.000010 1 0xf6000000 0xe4000a1 0x0 0\n",                  # two spaces
    b"R 4 0.000010 1 0xf6000000 0xe4000a1 0x0 0 \n",                  # trailing space
    b"R 4\t0.000010 1 0xf6000000 0xe4000a1 0x0 0\n",                  # a tab
    b"R 3 0.000010 1 0xf6000000 0xe4000a1 0x0 0\n",                   # width 3
    b"R 0004 0.000010 1 0xf6000000 0xe4000a1 0x0 0\n",                # zero-padded width (Python takes it)
    b"R 00000000000000000000004 0.000010 1 0xf6 0x1 0x0 0\n",         # a width too long for C
    b"W 8 0.0000100 1 0xf6000000 0x1 0x0 0\n",                        # 7 microsecond digits
    b"W 8 0.00001 1 0xf6000000 0x1 0x0 0\n",                          # 5
    b"W 8 .000010 1 0xf6000000 0x1 0x0 0\n",                          # no seconds
    b"W 8 1000000000000.000010 1 0xf6000000 0x1 0x0 0\n",             # seconds too long for C
    b"W 1 0.000010 -1 0xf6000000 0xff 0x0 0\n",                       # negative map id
    b"W 1 0.000010 - 0xf6000000 0xff 0x0 0\n",
    b"W 2 0.000010 1 0XF6000000 0xff 0x0 0\n",                        # 0X
    b"W 2 0.000010 1 0xF6000ABC 0xFF 0x0 0\n",                        # upper-case hex
    b"W 2 0.000010 1 0x 0xff 0x0 0\n",                                # no digits
    b"W 8 0.000010 1 0xf6000000 0x00000000000000000000ff 0x0 0\n",    # 22 digits, value fits
    b"W 8 0.000010 1 0xf6000000 0xffffffffffffffff 0x0 0\n",          # all ones
    b"W 4 0.000010 1 0xf6000000 0x1 0x0\n",                           # a field short
    b"W 4 0.000010 1 0xf6000000 0x1 0x0 0 7\n",                       # a field more
    b"W 4 0.000010 1 0xf6000000 0x1 0x0 +7\n",
    b"R 4 0.000010 1 0xf6000000 0x1 0x0 0\xff\n",                     # a byte that is not UTF-8
    b"MAP 0.000008 1 0xf6000000 0xffffc90001000000 0x1000000 0x0 0\n",
    b"MAP 0.000008 1 0xf6000000 0xffffc90001000000 0x1000000 0x0\n",
    b"UNMAP 0.000020 1 0x0 0\n",
    b"UNMAP 0.000020 -1 0x0 0\n",
    b"UNMAP 0.000020 1 0x0\n",
    b"MARK 0.000021 hello\n",
    b"R 4 0.000022 1 0xf6000000 0x1 0x0 0\n",                         # a valid line after a MARK
    b"MARK 0.000023 two\n", b"lines\n", b"R 4 0.000024 1 0xf6000004 0x2 0x0 0\n",
    b"PCIDEV 0010 10de1180 10 f6000000 e000000c 0 f000000c 0 e001 f7000000 1000000\n",   # wrapped...
    b"8000000 0 2000000 0 80 80000 \n",                                                 # ...and its tail
    b"PCIDEV 0018 12341111 11 fd000008 0 fd800000 0 0 0 0 800000 0 1000 0 0\n",         # wrapped, no tail
    b"R 4 0.000025 1 0xfd000000 0x3 0x0 0\n",
    b"R 4 0.000026 1 0xfd000000 0x3 0x0 0\n",
    b"R 4 0.000027 1 0xfd000000 0x3 0x0 0\n",
    b"W 4 0.000028 1 0xfd000000 0x3 0x0 0\n",
    b"garbage\n",
    b"R 4 0.000029 1 0xf6000000 0x1 0x0 0",                            # no newline at the end
]


@pytest.fixture(scope="module")
def dumps(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("engines")
    generate(d / "generated.txt", 60_000, seed=7)
    (d / "edges.txt").write_bytes(b"".join(EDGE_LINES))
    # Every edge line alone after a clean header, so each meets the tokenizer at a chunk's start.
    (d / "edges_mixed.txt").write_bytes(b"".join(line if line.endswith(b"\n") else line + b"\n"
                                                 for line in EDGE_LINES * 3))
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file())
    files += sorted(GOLDEN.glob("*.mmiotrace"))
    files += sorted(p for p in (DATA / "oracle").rglob("dump*.txt"))
    (d / "beyond64.txt").write_bytes(b"".join(EDGE_LINES[:-1] + BEYOND_64))
    files += [d / "generated.txt", d / "edges.txt", d / "edges_mixed.txt", d / "beyond64.txt"]
    assert len(files) > 10
    return files


def lib_required() -> None:
    if shutil.which("gcc") is None:
        pytest.skip("no gcc: the C engine cannot be built")
    assert native.library() is not None, "gcc is here but fastparse.c did not build or load"


def _parse(path: Path, fast: bool, strict: bool) -> tuple:
    parser = DumpParser(strict, keep_raw=True)
    parser.fast = fast
    try:
        records = [(r, r.raw) for r in parser.parse(path)]
    except DumpError as exc:
        return ("error", str(exc), parser.lines)
    return records, [str(p) for p in parser.problems], parser.problem_count, parser.lines


def test_the_c_engine_builds_here() -> None:
    lib_required()


@pytest.mark.parametrize("strict", [False, True], ids=["tolerant", "strict"])
def test_both_engines_parse_every_file_the_same(dumps: list[Path], strict: bool) -> None:
    lib_required()
    for path in dumps:
        assert _parse(path, True, strict) == _parse(path, False, strict), path


def test_the_c_engine_reads_runs_of_accesses_as_batches(dumps: list[Path]) -> None:
    lib_required()
    path = next(p for p in dumps if p.name == "generated.txt")
    parser = DumpParser()
    items = list((len(i), i.first_line) if type(i) is Batch else i for i in parser.items(path))
    batches = [i for i in items if isinstance(i, tuple)]
    # Nearly every line of a driver's trace is in a batch, and batches account for every R/W.
    assert sum(n for n, _ in batches) > 0.95 * parser.lines
    slow = DumpParser()
    slow.fast = False
    rw = sum(1 for r in slow.parse(path) if r.kind == "RW")
    assert sum(n for n, _ in batches) + sum(1 for i in items if not isinstance(i, tuple) and i.kind == "RW") == rw


def test_a_binary_stream_goes_through_the_c_engine_too(dumps: list[Path]) -> None:
    lib_required()
    path = next(p for p in dumps if p.name == "edges.txt")
    a = DumpParser(keep_raw=True)
    b = DumpParser(keep_raw=True)
    b.fast = False
    assert [(r, r.raw) for r in a.parse(io.BytesIO(path.read_bytes()))] == \
        [(r, r.raw) for r in b.parse(path.read_bytes().splitlines(keepends=True))]


def _stats(path: Path, engine: str, plot: bool = True) -> tuple:
    collector = make_collector(Resolver(), 100, 3, plot=plot, engine=engine)
    assert isinstance(collector, NativeStatsCollector) == (engine == "native")
    parser = DumpParser()
    parser.fast = engine == "native"
    for item in parser.items(path):
        collector.feed_item(item)
    st = collector.finish()
    st.lines, st.problems, st.problem_count = parser.lines, parser.problems, parser.problem_count
    tl = collector.timeline
    assert (tl is not None) == plot
    return (json.dumps(st.as_dict()), st.render()) + ((tl.t0, tl.width, tl.rows) if tl is not None else ())


def test_both_engines_count_the_same(dumps: list[Path]) -> None:
    lib_required()
    for path in dumps:
        if path.name != "beyond64.txt":
            assert _stats(path, "native") == _stats(path, "python"), path


def test_beyond_max_loops_both_engines_count_all_and_keep_the_first(dumps: list[Path],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    lib_required()
    monkeypatch.setattr(stats_mod, "MAX_LOOPS", 5)
    path = next(p for p in dumps if p.name == "generated.txt")
    native_, python_ = _stats(path, "native", plot=False), _stats(path, "python", plot=False)
    assert native_ == python_
    d = json.loads(native_[0])
    assert len(d["loops"]) == 5 and d["loop_count"] > 100
    assert f"polling loops: {d['loop_count']} (the first 5 listed)" in native_[1]


def test_a_generated_dump_has_the_loops_it_was_made_with(dumps: list[Path]) -> None:
    path = next(p for p in dumps if p.name == "generated.txt")
    st = stats_mod.collect(path)
    periods = {len(lp.registers) for lp in st.loops}
    # gendump: STATUS alone (period 1), status and timer (2), a 64-bit counter's halves (2).
    assert {1, 2} <= periods
    assert st.hot(1)[0].label == "nvlike PTIMER_TIME_1"
    assert st.problem_count == 0


def test_without_the_library_everything_is_python() -> None:
    code = ("from ftrace_mmio.analysis import native, stats; "
            "assert native.library() is None; "
            "assert type(stats.make_collector(stats.Resolver())) is stats.StatsCollector; print('ok')")
    env = dict(os.environ, FTRACE_MMIO_NATIVE="0")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


def test_plain_collector_still_takes_records() -> None:
    # The record-at-a-time API (and its on_access hook) stays as it was.
    seen = []
    collector = StatsCollector(Resolver(), on_access=lambda rec, where, reg: seen.append(reg.label))
    for rec in DumpParser().parse(GOLDEN / "nvlike.det.mmiotrace"):
        collector.feed(rec)
    st = collector.finish()
    assert len(seen) == sum(r.accesses for r in st.registers.values()) > 0


def test_mutated_lines_come_out_of_both_engines_the_same(tmp_path: Path) -> None:
    """Random damage (a byte dropped, doubled, replaced) to kernel-printed lines, many times over."""
    lib_required()
    import random

    rng = random.Random(16)
    clean = [line for line in (GOLDEN / "nvlike.det.mmiotrace").read_bytes().splitlines(keepends=True)]
    alphabet = b" 0123456789abcdefxXRWMAPUN.-\r\t\n\xff"
    lines = []
    for _ in range(3000):
        line = bytearray(rng.choice(clean))
        for _ in range(rng.randint(1, 2)):
            i = rng.randrange(len(line))
            what = rng.randrange(3)
            if what == 0:
                del line[i]
            elif what == 1:
                line.insert(i, line[i])
            else:
                line[i] = rng.choice(alphabet)
        lines.append(bytes(line))
        lines.append(rng.choice(clean))
    path = tmp_path / "mutated.txt"
    path.write_bytes(b"".join(lines))
    for strict in (False, True):
        assert _parse(path, True, strict) == _parse(path, False, strict)
    assert _stats(path, "native") == _stats(path, "python")


def test_the_plot_of_a_long_dump_is_bounded_and_drawn(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from analysis_util import cli

    dump = tmp_path / "long.txt"
    generate(dump, 300_000, seed=5, fast=True)
    collector = make_collector(Resolver(), plot=True)
    for item in DumpParser().items(dump):
        collector.feed_item(item)
    st = collector.finish()
    tl = collector.timeline
    # Three seconds of trace in at most 2048 bins a row: the bins widened, none overflowed.
    assert tl.width > 1 and all(len(s) <= 2048 and max(s, default=0) < 2048 for row in tl.rows.values() for s in row)
    assert st.loop_count > 1000 and tl.spans(st.hot(1)[0].key)
    png = tmp_path / "long.png"
    result = cli("stats", str(dump), "--plot", str(png), "--rows", "12")
    assert result.returncode == 0, result.stderr
    assert b"plot of 12 registers" in result.stderr and png.stat().st_size > 10_000


def test_annotate_writes_the_same_with_and_without_the_c_engine(dumps: list[Path]) -> None:
    lib_required()
    for path in dumps:
        if path.suffix not in (".txt", ".mmiotrace"):
            continue
        outs = []
        for flag in ("1", "0"):
            env = dict(os.environ, FTRACE_MMIO_NATIVE=flag)
            r = subprocess.run([sys.executable, "-m", "ftrace_mmio", "annotate", str(path)], capture_output=True,
                               env=env, timeout=120)
            outs.append((r.returncode, r.stdout, r.stderr))
        assert outs[0] == outs[1], path
