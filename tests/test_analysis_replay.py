"""``ftrace-mmio replay``: drivers run against a recording of nvlike, on the real emulator."""

from __future__ import annotations

import io
import json
from pathlib import Path

from analysis_util import CORPUS, cli, line_of, nv  # noqa: F401 - nv is a fixture
from ftrace_mmio.analysis.diff import diff_dumps
from ftrace_mmio.analysis.replay import Recording, ReplayError, ReplaySession, replay, replay_bus


def numerator_line(path: Path) -> int:
    return line_of(path, lambda t: t.startswith("W 4 ") and " 0xf6009200 " in t)


def test_the_same_driver_meets_no_divergence(nv) -> None:
    result = replay(nv.original, "nvlike")
    assert result.failure is None, result.dmesg
    assert result.ok and result.divergences == []
    accesses = sum(1 for t in nv.original.read_text().splitlines() if t[:2] in ("R ", "W "))
    assert result.session.served == accesses
    # The driver saw the recorded hardware: the chip id and the PTIMER readings it printed.
    assert "nvlike: NVIDIA GK104 (0e4000a1), chipset 0e4 stepping a1" in result.dmesg
    assert "no divergence" in result.report()


def test_a_driver_writing_one_different_value_is_caught_at_that_write(nv) -> None:
    result = replay(nv.original, str(nv.changed_driver))
    assert result.failure is None
    assert result.session.divergence_count == 1
    (d,) = result.divergences
    line = numerator_line(nv.original)
    assert (d.kind, d.line) == ("value", line)
    assert d.expected == "W 4 0xf6009200 0x3e8" and d.got == "W 4 0xf6009200 0x3e9"
    assert d.register == "nvlike BAR0+0x009200 PTIMER_NUMERATOR"
    original = nv.original.read_text().splitlines()
    assert f">  {line:>5}: {original[line - 1]}" in d.context
    assert len(d.context) == 7


def test_diff_of_the_two_traces_points_at_the_same_line(nv) -> None:
    replayed = replay(nv.original, str(nv.changed_driver)).divergences[0]
    result = diff_dumps(nv.original, nv.changed)
    assert not result.same
    assert (result.first.kind, result.first.a_line, result.first.b_line) == ("changed", replayed.line, replayed.line)
    assert (result.changed, result.only_a, result.only_b) == (1, 0, 0)
    assert list(result.by_register) == ["nvlike BAR0+0x009200 PTIMER_NUMERATOR"]


def test_a_traced_replay_reproduces_the_recording(nv) -> None:
    out = io.BytesIO()
    result = replay(nv.original, "nvlike", trace_out=out)
    assert result.ok
    trace = out.getvalue()
    # Same header (the bus was rebuilt from it), same accesses; only time may differ.
    assert trace.splitlines()[:4] == nv.original.read_bytes().splitlines()[:4]
    assert diff_dumps(nv.original, io.BytesIO(trace)).same


def test_accesses_the_recording_lacks_or_has_in_excess(nv, tmp_path: Path) -> None:
    lines = nv.original.read_text().splitlines(keepends=True)
    boot = line_of(nv.original, lambda t: " 0xf6000000 0xe4000a1 " in t)
    # The recording without the chip-id read: the driver's read is out of the recording.
    fewer = tmp_path / "fewer.txt"
    fewer.write_text("".join(lines[:boot - 1] + lines[boot:]))
    result = replay(fewer, "nvlike")
    first = result.divergences[0]
    assert (first.kind, first.line) == ("extra", None)
    assert first.got == "R 4 0xf6000000 (answered 0x0)" and first.register.endswith("PMC_BOOT_0")
    # The recording with one more read at the end: it never comes.
    more = tmp_path / "more.txt"
    temp = lines[-2]
    assert " 0xf6020400 " in temp
    more.write_text("".join(lines[:-1] + [temp, lines[-1]]))
    result = replay(more, "nvlike")
    order, missing = result.divergences
    # The driver went on to its iounmap while the second read was still due...
    assert (order.kind, order.line) == ("order", len(lines))
    assert order.got == f"iounmap of the mapping of 0xf6000000 (recorded at line {len(lines) + 1})"
    # ...and once it was unloaded, that read had never come.
    assert (missing.kind, missing.line, missing.count) == ("missing", len(lines), 1)
    assert missing.register == "nvlike BAR0+0x020400 PTHERM_TEMP"


def test_replay_cli_exit_status_and_report(nv) -> None:
    same = cli("replay", str(nv.original), "nvlike")
    assert same.returncode == 0, same.stderr
    assert b"0 divergences" in same.stdout and b"no divergence" in same.stdout
    changed = cli("replay", str(nv.original), str(nv.changed_driver), "--json")
    assert changed.returncode == 1
    data = json.loads(changed.stdout)
    assert data["divergence_count"] == 1
    assert data["divergences"][0]["line"] == numerator_line(nv.original)
    summary = cli("replay", str(nv.original))
    assert summary.returncode == 0
    assert b"00:02.0 10de:1180 irq 0x10" in summary.stdout


def test_a_dump_without_devices_cannot_be_replayed() -> None:
    recording = Recording.load(CORPUS / "ftrace_trace_file_variant.excerpt.txt")
    try:
        replay_bus(ReplaySession(recording))
    except ReplayError as exc:
        assert "no PCIDEV lines" in str(exc)
    else:
        raise AssertionError("replay_bus accepted a dump with no devices")
    result = cli("replay", str(CORPUS / "ftrace_trace_file_variant.excerpt.txt"), "nvlike")
    assert result.returncode == 2 and b"no PCIDEV lines" in result.stderr


def test_a_real_kernel_bus_is_rebuilt_from_its_pcidev_lines() -> None:
    recording = Recording.load(CORPUS / "ipu4_apollolake_trace.trimmed.mmiotrace")
    bus = replay_bus(ReplaySession(recording))
    assert len(bus.devices) == 23
    ipu = bus.get("00:03.0")
    assert (ipu.vendor, ipu.device, ipu.irq) == (0x8086, 0x5A88, 0x15)
    region, offset = bus.region_at(0x9000030C)
    assert offset == 0x30C
    # The recorded values come back, in order, per register.
    assert [region.read(0x5C, 4) for _ in range(3)] == [0xA72433, 0x72443, 0xA72433]
    assert bus.pcidev_fields()[1].starts == recording.devices[1].starts


def test_run_replay_traces_against_the_recording(nv, tmp_path: Path) -> None:
    out = tmp_path / "replayed.txt"
    same = cli("run", "nvlike", "--replay", str(nv.original), "-o", str(out))
    assert same.returncode == 0, same.stderr
    assert b"no divergence" in same.stderr
    # The trace of the replayed run has the recording's accesses, values included.
    def accesses(path: Path) -> list[list[str]]:
        return [line.split()[:2] + line.split()[4:6] for line in path.read_text().splitlines()
                if line[:2] in ("R ", "W ")]
    assert accesses(out) == accesses(nv.original)
    changed = cli("run", str(nv.changed_driver), "--replay", str(nv.original))
    assert changed.returncode == 1
    assert b"1 divergence" in changed.stderr
