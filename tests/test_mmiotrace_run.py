"""``ftrace-mmio run`` as a user runs it: the real command in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mmiotrace_util import DRIVERS, GOLDEN, TESTMMIO_BAR0, check_grammar, events

TIMEOUT = 120  # a safety net against a hang, not a measurement


def ftrace_mmio(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "ftrace_mmio", *args], capture_output=True, timeout=TIMEOUT)


def test_run_writes_exactly_the_golden_trace(tmp_path: Path) -> None:
    out = tmp_path / "t.txt"
    result = ftrace_mmio("run", "testmmiotrace", f"mmio_address={TESTMMIO_BAR0:#x}", "--clock", "det",
                         "-o", str(out))
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b""
    assert out.read_bytes() == (GOLDEN / "testmmiotrace.det.mmiotrace").read_bytes()


def test_run_to_stdout_with_a_c_file_and_the_kernels_decoder() -> None:
    result = ftrace_mmio("run", str(DRIVERS / "mmio_insns.c"), "--clock", "det", "--decoder", "pf_in")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == (GOLDEN / "mmio_insns.pf_in.det.mmiotrace").read_bytes()


def test_run_reports_a_failing_driver_and_still_writes_the_header(tmp_path: Path) -> None:
    out = tmp_path / "t.txt"
    result = ftrace_mmio("run", "testmmiotrace", "--clock", "det", "-o", str(out), "--dmesg")
    assert result.returncode == 1
    err = result.stderr.decode()
    assert "ftrace-mmio run: insmod testmmiotrace: testmmiotrace: init_module returned -6" in err
    assert "testmmiotrace: you have to use the module argument mmio_address." in err
    lines = check_grammar(out.read_text())
    assert lines[0] == "VERSION 20070824\n" and len(lines) == 4 and events("".join(lines)) == []


def test_run_nop_tracer_traces_nothing() -> None:
    result = ftrace_mmio("run", "nvlike", "--tracer", "nop", "--clock", "det")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b""


def test_run_parameters_reach_mmiotrace() -> None:
    result = ftrace_mmio("run", "nvlike", "--clock", "det", "--filter-offset", "0xe0200000", "--trace-pc")
    assert result.returncode == 0, result.stderr.decode()
    evs = events(result.stdout.decode())
    # nvlike maps BAR0 (filtered out) and a page of BAR1 at 0xe0200000.
    assert [e.kind for e in evs] == ["MAP", "R", "UNMAP", "UNMAP"]
    assert evs[0].fields[2] == "0xe0200000" and evs[0].map_id == 1
    assert evs[1].pc >= 0xFFFFFFFFC0000000
    assert [e.map_id for e in evs[2:]] == [1, -1]


@pytest.mark.parametrize("args, message", [
    (["nvlike", "--decoder", "capstone"], "invalid choice"),
    (["nvlike", "--filter-offset", "zero"], "not a number"),
    (["nvlike", "--clock", "sundial"], "unknown trace clock"),
    (["no_such_driver"], "no_such_driver"),
])
def test_run_rejects_bad_input_with_a_reason(args: list[str], message: str) -> None:
    result = ftrace_mmio("run", *args)
    assert result.returncode in (1, 2)
    assert message in result.stderr.decode()


def test_run_help_has_an_example() -> None:
    result = ftrace_mmio("run", "--help")
    assert result.returncode == 0
    text = result.stdout.decode()
    assert "ftrace-mmio run testmmiotrace mmio_address=0xfd000000 -o t.txt" in text
    for option in ("--decoder", "--filter-offset", "--nommiotrace", "--trace-pc", "--clock", "-o"):
        assert option in text
