"""``ftrace-mmio diff``: aligning two dumps and saying where and how they differ."""

from __future__ import annotations

import io
import json
from pathlib import Path

from analysis_util import CORPUS, cli, line_of, nv  # noqa: F401 - nv is a fixture
from ftrace_mmio.analysis.diff import DiffOptions, diff_dumps


def shifted(path: Path, tmp_path: Path, name: str, *, us: int = 0, map_id: int = 0) -> Path:
    """The same dump with every timestamp moved by ``us`` and every map id by ``map_id``."""
    out = []
    for text in path.read_text().splitlines(keepends=True):
        f = text.split(" ")
        if f[0] in ("R", "W"):
            secs, usec = f[2].split(".")
            t = int(secs) * 1_000_000 + int(usec) + us
            f[2], f[3] = f"{t // 1_000_000}.{t % 1_000_000:06d}", str(int(f[3]) + map_id)
        elif f[0] in ("MAP", "UNMAP"):
            secs, usec = f[1].split(".")
            t = int(secs) * 1_000_000 + int(usec) + us
            f[1], f[2] = f"{t // 1_000_000}.{t % 1_000_000:06d}", str(int(f[2]) + map_id)
        out.append(" ".join(f))
    p = tmp_path / name
    p.write_text("".join(out))
    return p


def test_timestamps_and_map_ids_are_ignored_unless_asked(nv, tmp_path: Path) -> None:
    other = shifted(nv.original, tmp_path, "later.txt", us=5_000_000, map_id=10)
    assert diff_dumps(nv.original, other).same
    ts = diff_dumps(nv.original, other, DiffOptions(timestamps=True))
    first_event = line_of(nv.original, lambda t: t.startswith("MAP "))
    assert (ts.first.kind, ts.first.a_line) == ("changed", first_event)
    ids = diff_dumps(nv.original, shifted(nv.original, tmp_path, "ids.txt", map_id=1), DiffOptions(map_ids=True))
    assert ids.first.a_line == first_event and ids.same is False
    assert diff_dumps(nv.original, shifted(nv.original, tmp_path, "ts.txt", us=7), DiffOptions(map_ids=True)).same


def test_a_changed_value_is_shown_in_context(nv) -> None:
    result = diff_dumps(nv.original, nv.changed, a_name="a", b_name="b")
    line = line_of(nv.original, lambda t: " 0xf6009200 " in t)
    text = result.render()
    original = nv.original.read_text().splitlines()
    changed = nv.changed.read_text().splitlines()
    assert text.splitlines()[0] == f"first difference: line {line} of a, line {line} of b: " \
                                   "nvlike BAR0+0x009200 PTIMER_NUMERATOR"
    blank = "  "   # the other side's line-number column (two digits wide here)
    assert f"- {line:>2} {blank}  {original[line - 1]}" in text
    assert f"+ {blank} {line:>2}  {changed[line - 1]}" in text
    # Three lines of context on each side, common to both.
    assert f"  {line - 1:>2} {line - 1:>2}  {original[line - 2]}" in text
    assert f"  {line + 3:>2} {line + 3:>2}  {original[line + 2]}" in text
    assert "summary: 1 changed, 0 only in a, 0 only in b; " in text
    assert "  nvlike BAR0+0x009200 PTIMER_NUMERATOR: 1 changed" in text


def test_insertions_and_deletions_realign(nv, tmp_path: Path) -> None:
    lines = nv.original.read_text().splitlines(keepends=True)
    temp = line_of(nv.original, lambda t: " 0xf6020400 " in t)
    boot = line_of(nv.original, lambda t: " 0xf6000000 0xe4000a1 " in t)
    extra = "W 4 0.000050 1 0xf6000140 0x3 0x0 0\n"
    edited = lines[:boot - 1] + lines[boot:temp - 1] + [extra] + lines[temp - 1:]
    b = tmp_path / "edited.txt"
    b.write_text("".join(edited))
    result = diff_dumps(nv.original, b)
    assert (result.changed, result.only_a, result.only_b) == (0, 1, 1)
    assert (result.first.kind, result.first.a_line, result.first.b_line) == ("only_a", boot, boot)
    assert result.by_register["nvlike BAR0+0x000000 PMC_BOOT_0"].only_a == 1
    assert result.by_register["nvlike BAR0+0x000140 PMC_INTR_EN_0"].only_b == 1
    assert result.equal == len(lines) - 1


def test_diff_cli_exit_status(nv) -> None:
    same = cli("diff", str(nv.original), str(nv.original))
    assert same.returncode == 0 and b"no differences" in same.stdout
    different = cli("diff", str(nv.original), str(nv.changed), "--json")
    assert different.returncode == 1
    data = json.loads(different.stdout)
    assert data["first"]["register"] == "nvlike BAR0+0x009200 PTIMER_NUMERATOR" and data["changed"] == 1
    quiet = cli("diff", "-q", str(nv.original), str(nv.changed))
    assert quiet.returncode == 1 and quiet.stdout == b""
    missing = cli("diff", str(nv.original), "/nonexistent")
    assert missing.returncode == 2 and missing.stderr == b"diff: /nonexistent: no such file\n"


def test_a_trace_file_against_its_pipe_capture_differs_only_in_the_header() -> None:
    # The trace file has the # header and no VERSION/PCIDEV; the comparison skips the # lines.
    pipe = CORPUS / "ipu4_apollolake_trace.trimmed.mmiotrace"
    data = pipe.read_text().splitlines(keepends=True)
    header = (CORPUS / "lkml_trace_file_empty.excerpt.txt").read_text()
    as_trace_file = header + "".join(data[24:])
    result = diff_dumps(pipe, io.StringIO(as_trace_file))
    assert (result.changed, result.only_a, result.only_b) == (0, 24, 0)
    assert result.equal == len(data) - 24
