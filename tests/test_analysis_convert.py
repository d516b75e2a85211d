"""``ftrace-mmio convert``: the Parquet table, read back with the queries docs/analysis.md shows.

The queries are taken from the page itself, so the documented SQL is the
one that must give `stats`' answers.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analysis_util import CORPUS, GOLDEN, cli
from ftrace_mmio.analysis.convert import SCHEMA_COLUMNS, convert
from ftrace_mmio.analysis.gendump import generate
from ftrace_mmio.analysis.parse import DumpParser
from ftrace_mmio.analysis.stats import collect

duckdb = pytest.importorskip("duckdb")
pq = pytest.importorskip("pyarrow.parquet")

DOC = Path(__file__).resolve().parents[1] / "docs" / "analysis.md"


def doc_query(marker: str, table: Path) -> str:
    """The ```sql block of docs/analysis.md that starts with ``-- marker``, on our table."""
    blocks = re.findall(r"```sql\n(.*?)```", DOC.read_text(), re.S)
    (sql,) = [b for b in blocks if b.startswith(f"-- {marker}\n")]
    assert "'trace.parquet'" in sql
    return sql.replace("'trace.parquet'", f"'{table}'")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("convert") / "gen.txt"
    generate(path, 40_000, seed=3)
    return path


DUMPS = [GOLDEN / "nvlike.det.mmiotrace", GOLDEN / "testmmiotrace.det.mmiotrace",
         CORPUS / "ipu4_apollolake_trace.trimmed.mmiotrace", CORPUS / "lkml_baytrail_trace_pipe_header.excerpt.txt"]


@pytest.mark.parametrize("which", ["nvlike", "testmmiotrace", "ipu4", "baytrail", "generated"])
def test_a_row_per_record_and_the_documented_hot_registers_query_equals_stats(
        which: str, generated: Path, tmp_path: Path) -> None:
    dump = generated if which == "generated" else next(d for d in DUMPS if which in d.name)
    out = tmp_path / "t.parquet"
    result = convert([(dump.name, dump)], out)
    records = list(DumpParser().parse(dump))
    table = pq.read_table(out)
    assert table.column_names == list(SCHEMA_COLUMNS)
    assert result.rows == table.num_rows == len(records)
    assert table.column("line").to_pylist() == [r.line for r in records]

    stats = collect(dump)
    rows = duckdb.sql(doc_query("hot registers", out)).fetchall()
    expected = [(r.device or None, r.space or None, r.offset, r.name, r.accesses, r.reads, r.writes)
                for r in stats.hot(10)]
    assert rows == expected


@pytest.mark.parametrize("which", ["nvlike", "testmmiotrace", "generated"])
def test_the_documented_polling_loop_query_finds_stats_loops_of_one_register(
        which: str, generated: Path, tmp_path: Path) -> None:
    dump = generated if which == "generated" else next(d for d in DUMPS if which in d.name)
    out = tmp_path / "t.parquet"
    convert([(dump.name, dump)], out)
    rows = duckdb.sql(doc_query("polling loops", out)).fetchall()
    stats = collect(dump)
    single = [lp for lp in stats.loops if len(lp.registers) == 1]
    assert [(r[5], r[6], r[7], r[8], r[9], r[10]) for r in rows] == \
        [(lp.reads, lp.first_line, lp.last_line, lp.duration_us, lp.slots[0].first_value, lp.slots[0].last_value)
         for lp in single]
    if which == "generated":
        assert len(single) > 100


def test_typed_rows_for_every_kind(tmp_path: Path) -> None:
    out = tmp_path / "nv.parquet"
    convert([("nv", GOLDEN / "nvlike.det.mmiotrace")], out)
    con = duckdb.connect()
    first = con.sql(f"SELECT type, width, timestamp_us, map_id, address, device, bar, \"offset\", register, value "
                    f"FROM '{out}' WHERE type = 'R' ORDER BY line LIMIT 1").fetchall()[0]
    assert first == ("R", 4, 10, 1, 0xF6000000, "nvlike", "BAR0", 0, "PMC_BOOT_0", 0xE4000A1)
    mp = con.sql(f"SELECT address, value, length, bar FROM '{out}' WHERE type = 'MAP' ORDER BY line LIMIT 1").fetchall()[0]
    assert mp == (0xF6000000, 0xFFFFC90001000000, 0x1000000, "BAR0")
    pcidev = con.sql(f"SELECT text FROM '{out}' WHERE type = 'PCIDEV' ORDER BY line LIMIT 1").fetchall()[0][0]
    assert pcidev.startswith("PCIDEV 0010 10de1180")


def test_a_directory_of_dumps_is_one_table_with_a_dump_column(tmp_path: Path, generated: Path) -> None:
    d = tmp_path / "traces"
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_bytes((GOLDEN / "nvlike.det.mmiotrace").read_bytes())
    (d / "sub" / "b.txt").write_bytes(generated.read_bytes())
    out = tmp_path / "all.parquet"
    result = cli("convert", str(d), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert b"rows from 2 dumps" in result.stderr
    counts = dict(duckdb.sql(f"SELECT dump, count(*) FROM '{out}' GROUP BY dump").fetchall())
    assert counts == {"a.txt": 43, "sub/b.txt": sum(1 for _ in DumpParser().parse(generated))}


def test_convert_errors_exit_2(tmp_path: Path) -> None:
    missing = cli("convert", str(tmp_path / "nope.txt"), "-o", str(tmp_path / "x.parquet"))
    assert missing.returncode == 2 and b"no such file" in missing.stderr
    unwritable = cli("convert", str(GOLDEN / "nvlike.det.mmiotrace"), "-o", str(tmp_path / "no" / "x.parquet"))
    assert unwritable.returncode == 2 and b"cannot write" in unwritable.stderr


def test_convert_has_help_with_an_example() -> None:
    result = cli("convert", "--help")
    assert result.returncode == 0
    assert b"ftrace-mmio convert " in result.stdout[result.stdout.index(b"examples:"):]


@pytest.mark.parametrize("name, demmio", [("ipu4_apollolake_trace.trimmed.mmiotrace", "ipu4.demmio.out"),
                                          ("demmio-validation/handmade.mmiotrace", "handmade.demmio.out"),
                                          ("demmio-validation/nomatch.mmiotrace", "nomatch.demmio.out")])
def test_gaps_between_accesses_match_demmios_sleep_lines(name: str, demmio: str, tmp_path: Path) -> None:
    # demmio prints "SLEEP x.xxxms" when two R/W lines are more than 100 us apart: the
    # table's timestamps, read back, must find the same gaps in its recorded output.
    out = tmp_path / "t.parquet"
    convert([(name, CORPUS / name)], out)
    gaps = duckdb.sql(f"""
        SELECT gap FROM (SELECT timestamp_us - lag(timestamp_us) OVER (ORDER BY line) AS gap
                         FROM '{out}' WHERE type IN ('R', 'W'))
        WHERE gap > 100 ORDER BY gap""").fetchall()
    text = (CORPUS / "demmio-validation" / demmio).read_text()
    sleeps = sorted(round(float(ms) * 1000) for ms in re.findall(r"^SLEEP ([0-9.]+)ms$", text, re.M))
    assert [g[0] for g in gaps] == sleeps
