"""docs/analysis.md: the worked example runs as written and prints what the page shows."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from analysis_util import NVLIKE_C, sh

DOC = Path(__file__).resolve().parents[1] / "docs" / "analysis.md"


def worked_example() -> str:
    text = DOC.read_text()
    section = text[text.index("## Worked example"):]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def test_the_worked_example_runs_and_finds_the_changed_write(tmp_path: Path) -> None:
    # The block is run from "the top of the source tree": give it the driver where it says.
    drivers = tmp_path / "ftrace_mmio" / "drivers"
    drivers.mkdir(parents=True)
    shutil.copy(NVLIKE_C, drivers / "nvlike.c")
    result = sh("set -e\n" + worked_example(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "# nvlike BAR0+0x000000 PMC_BOOT_0 = 0xe4000a1 (STEPPING=0xa1, CHIPSET=GK104)" in out
    assert "nvlike: PTIMER_TIME_1, PTIMER_TIME_0, PTIMER_TIME_1: 4 iterations" in out
    assert "no divergence: the driver did what the recording did" in out
    assert "line 9: write value differs (nvlike BAR0+0x009200 PTIMER_NUMERATOR)" in out
    assert "replay exit status 1" in out
    assert "first difference: line 9 of nv.txt, line 9 of nv2.txt: nvlike BAR0+0x009200 PTIMER_NUMERATOR" in out
    assert "diff exit status 1" in out
    assert (tmp_path / "nv.png").stat().st_size > 10_000
    # The page quotes these outputs: they must still be what the commands print.
    doc = DOC.read_text()
    for block in ("replay nv.txt changed/nvlike.c", "diff nv.txt nv2.txt"):
        shown = doc[doc.index(f"$ ftrace-mmio {block}\n"):]
        shown = shown[shown.index("\n") + 1:shown.index("```")]
        assert shown.strip() in out, block


def test_every_analysis_command_has_help_with_an_example() -> None:
    for command in ("check", "annotate", "stats", "replay", "diff"):
        result = sh(f"ftrace-mmio {command} --help")
        assert result.returncode == 0, result.stderr
        examples = result.stdout[result.stdout.index("examples:"):]
        assert f"ftrace-mmio {command} " in examples, command
