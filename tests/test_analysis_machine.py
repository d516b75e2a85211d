"""Register names from the machine: a user's own device, traced with --machine, analysed with it.

tests/data/analysis_machine/ holds the user's model (blinker.py, ids
1234:d0a1, not a bundled model) and the machine file that puts it on the
bus; tests/drivers/analysis_blinker.c drives it. The traces are real: the
driver runs on the emulated machine under mmiotrace.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis_util import cli
from ftrace_mmio.analysis.regmaps import builtin_maps, machine_maps
from ftrace_mmio.cli.run import trace_run
from ftrace_mmio.machine.config import load_machine_file

HERE = Path(__file__).resolve().parent
MACHINE = HERE / "data" / "analysis_machine" / "blinker.toml"
MODEL = HERE / "data" / "analysis_machine" / "blinker.py"
DRIVER = HERE / "drivers" / "analysis_blinker.c"


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("blinker")
    out = []
    for led in (1, 2):
        path = d / f"led{led}.txt"
        with path.open("wb") as f:
            failure, dmesg = trace_run(str(DRIVER), [f"led={led}"], f, clock="det",
                                       config=load_machine_file(MACHINE))
        assert failure is None, f"{failure}\n{dmesg}"
        out.append(path)
    return out[0], out[1]


def test_the_machine_file_brings_its_models_maps() -> None:
    maps = {m.name: m for m in machine_maps(MACHINE)}
    assert set(maps) == {"nvlike", "blinker"}
    assert (maps["blinker"].vendor, maps["blinker"].device) == (0x1234, 0xD0A1)
    assert maps["blinker"].regmap(0).__name__ == "BlinkerRegs"


def test_the_bundled_edu_model_has_a_register_map() -> None:
    edu = next(m for m in builtin_maps() if m.name == "edu")
    assert edu.regmap(0) is not None and edu.vendor == 0x1234 and edu.device == 0x11E8


def test_annotate_names_the_user_devices_registers_with_machine(traces: tuple[Path, Path]) -> None:
    dump, _ = traces
    plain = cli("annotate", str(dump))
    assert plain.returncode == 0, plain.stderr
    assert b"# 1234:d0a1 BAR0+0x0008\n" in plain.stdout        # no map for an unknown device
    named = cli("annotate", str(dump), "--machine", str(MACHINE))
    assert named.returncode == 0, named.stderr
    text = named.stdout.decode()
    assert "# blinker BAR0+0x0000 ID = 0x424c4e4b" in text
    assert "# blinker BAR0+0x0004 CTRL = 0x31 (ENABLE=1, RATE=0x3)" in text
    assert "# blinker BAR0+0x0008 STATUS = 0x1 (READY=1)" in text
    assert "# blinker BAR0+0x0010 LED = 0x1" in text
    # --regmap with the model file names it the same way.
    by_file = cli("annotate", str(dump), "--regmap", f"1234:d0a1={MODEL}")
    assert by_file.stdout == named.stdout


def test_stats_names_the_registers_and_the_poll_loop(traces: tuple[Path, Path]) -> None:
    dump, _ = traces
    result = cli("stats", str(dump), "--machine", str(MACHINE), "--json")
    assert result.returncode == 0, result.stderr
    d = json.loads(result.stdout)
    names = {r["name"] for r in d["registers"]}
    assert {"ID", "CTRL", "STATUS", "COUNT", "LED"} <= names
    (loop,) = d["loops"]
    assert loop["registers"] == ["blinker STATUS"] and loop["iterations"] == 4


def test_diff_names_the_register_that_differs(traces: tuple[Path, Path]) -> None:
    a, b = traces
    result = cli("diff", str(a), str(b), "--machine", str(MACHINE))
    assert result.returncode == 1, result.stderr
    out = result.stdout.decode()
    assert ": blinker BAR0+0x0010 LED\n" in out.splitlines()[0] + "\n"
    assert "  blinker BAR0+0x0010 LED: 1 changed" in out


def test_replay_names_the_register_of_the_divergence(traces: tuple[Path, Path]) -> None:
    dump, _ = traces
    same = cli("replay", str(dump), str(DRIVER), "led=1", "--machine", str(MACHINE))
    assert same.returncode == 0, same.stdout + same.stderr
    changed = cli("replay", str(dump), str(DRIVER), "led=2", "--machine", str(MACHINE))
    assert changed.returncode == 1, changed.stderr
    out = changed.stdout.decode()
    assert "write value differs (blinker BAR0+0x0010 LED)" in out
    assert "expected: W 4 " in out and " 0x1\n" in out and "got:      W 4 " in out


def test_convert_takes_the_machine_too(traces: tuple[Path, Path], tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    pytest.importorskip("pyarrow")
    dump, _ = traces
    out = tmp_path / "b.parquet"
    result = cli("convert", str(dump), "-o", str(out), "--machine", str(MACHINE))
    assert result.returncode == 0, result.stderr
    regs = duckdb.sql(f"SELECT DISTINCT register FROM '{out}' "
                      "WHERE device = 'blinker' AND type IN ('R', 'W') ORDER BY 1").fetchall()
    assert [r[0] for r in regs] == ["COUNT", "CTRL", "ID", "LED", "STATUS"]


def test_a_bad_machine_file_is_reported(tmp_path: Path, traces: tuple[Path, Path]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[device]]\nmodel = "nvlik"\n')
    result = cli("annotate", str(traces[0]), "--machine", str(bad))
    assert result.returncode == 2
    assert b"--machine" in result.stderr and b"unknown device model 'nvlik'" in result.stderr
