"""``ftrace-mmio annotate``: the device models' register maps put on a dump."""

from __future__ import annotations

import io
from pathlib import Path

from analysis_util import CORPUS, cli, nv, sh  # noqa: F401 - nv is a fixture
from ftrace_mmio.analysis.annotate import annotate
from ftrace_mmio.analysis.regmaps import load_regmaps
from ftrace_mmio.analysis.resolve import Resolver


def annotated(source, resolver: Resolver | None = None) -> list[str]:
    out = io.StringIO()
    annotate(source, resolver or Resolver(), out.write)
    return out.getvalue().splitlines()


def test_nvlike_trace_names_the_chip_id_and_the_timer(nv) -> None:
    lines = annotated(nv.original)
    boot = [line for line in lines if "PMC_BOOT_0" in line]
    assert len(boot) == 1
    assert boot[0].startswith("R 4 ") and " 0xf6000000 0xe4000a1 " in boot[0]
    assert boot[0].endswith("  # nvlike BAR0+0x000000 PMC_BOOT_0 = 0xe4000a1 (STEPPING=0xa1, CHIPSET=GK104)")
    timer = [line for line in lines if "PTIMER_TIME_" in line]
    assert timer and all(" 0xf60094" in line for line in timer)
    assert any(line.endswith("# nvlike BAR0+0x009400 PTIMER_TIME_0 = " + line.split()[5]) for line in timer)
    assert any("# nvlike BAR0+0x009410 PTIMER_TIME_1 = 0x0" in line for line in timer)
    numerator = next(line for line in lines if "PTIMER_NUMERATOR" in line)
    assert numerator.startswith("W 4 ") and numerator.endswith("PTIMER_NUMERATOR = 0x3e8")
    # The PRAMIN window and the BAR1 aperture are places too, with and without a register map.
    assert any(line.endswith("# nvlike BAR0+0x700000 PRAMIN = 0xdeadbeef") for line in lines)
    assert any(line.startswith("MAP ") and line.endswith("# map2 = nvlike BAR1+0x0200000, 4 KiB") for line in lines)


def test_annotation_keeps_every_original_line(nv) -> None:
    lines = annotated(nv.original)
    original = nv.original.read_text().splitlines()
    assert [line.split("  # ")[0] for line in lines] == original


def test_annotate_cli_output_is_greppable_and_cuts_back_to_the_dump(nv, tmp_path: Path) -> None:
    result = sh(f"ftrace-mmio annotate {nv.original} | grep -c 'PTIMER_TIME_[01] = '")
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == sum(1 for line in nv.original.read_text().splitlines()
                                     if line.startswith("R ") and " 0xf60094" in line)
    out = tmp_path / "a.txt"
    result = sh(f"ftrace-mmio annotate {nv.original} -o {out} && sed 's/  # .*//' {out} | cmp - {nv.original}")
    assert result.returncode == 0, result.stderr + result.stdout


def test_a_users_regmap_file_bound_by_pci_ids(tmp_path: Path) -> None:
    regs = tmp_path / "ipu4_regs.py"
    regs.write_text(
        "from ftrace_mmio.machine.regmap import RegMap, Register32, irange\n"
        "class R_CTRL(Register32):\n"
        "    ENABLE = 0\n"
        "    MODE = 7, 4\n"
        "class Ipu4Regs(RegMap):\n"
        "    BUTTRESS_CTRL = 0x00030c, R_CTRL\n"
        "    MMU_L1 = irange(0x4b0100, 64, 4), Register32\n"
        "REGMAPS = {0: Ipu4Regs}\n")
    dump = CORPUS / "ipu4_apollolake_trace.trimmed.mmiotrace"
    lines = annotated(dump, Resolver(bind={(0x8086, 0x5A88): load_regmaps(str(regs))}))
    assert lines[30] == ("R 4 1037.681783 1 0x9000030c 0x0 0x0 0  "
                         "# ipu4_regs BAR0+0x00030c BUTTRESS_CTRL = 0x0 (ENABLE=0, MODE=0x0)")
    assert lines[56] == "W 4 1037.802710 1 0x904b0104 0x12155 0x0 0  # ipu4_regs BAR0+0x4b0104 MMU_L1[1] = 0x12155"
    # Offsets the map does not declare keep their place, without a name.
    assert lines[25] == "R 4 1037.681772 1 0x90000300 0x37002 0x0 0  # ipu4_regs BAR0+0x000300"
    # Other devices are not touched by a map bound to these ids.
    assert lines[2].endswith(" i915")

    result = cli("annotate", str(dump), "--regmap", f"8086:5a88={regs}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().splitlines()[30] == lines[30]


def test_forced_regmap_names_offsets_in_a_dump_without_pcidev() -> None:
    dump = CORPUS / "demmio-validation" / "nomatch.mmiotrace"
    result = cli("annotate", str(dump), "--regmap", "uart16550")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert lines[0].endswith("# map1 = uart16550 map1+0x0000, 4 KiB")
    assert lines[1] == "R 4 0.000100 1 0xfebc0000 0x12345678 0x0 0  # uart16550 map1+0x0000 RBR = 0x12345678"
    assert lines[2] == "W 4 0.000200 1 0xfebc0004 0x00000001 0x0 0  # uart16550 map1+0x0004 MCR = 0x1"
    assert lines[3] == "UNMAP 0.000300 1 0x0 0"


def test_bad_regmap_arguments_are_refused_with_a_reason(nv, tmp_path: Path) -> None:
    result = cli("annotate", str(nv.original), "--regmap", "nosuchmodel")
    assert result.returncode == 2
    assert b"unknown register map 'nosuchmodel'" in result.stderr
    broken = tmp_path / "broken.py"
    broken.write_text("def (:\n")
    result = cli("annotate", str(nv.original), "--regmap", str(broken))
    assert result.returncode == 2 and b"SyntaxError" in result.stderr
    result = cli("annotate", str(nv.original), "--regmap", "10de=nvlike")
    assert result.returncode == 2 and result.stdout == b""
    assert result.stderr == b"annotate: --regmap 10de=nvlike: '10de' is not VVVV:DDDD (hex PCI ids)\n"


def test_annotate_reads_stdin_and_reports_damage_on_stderr() -> None:
    dump = (CORPUS / "lkml_baytrail_trace_pipe_header.excerpt.txt").read_bytes()
    result = cli("annotate", "-", stdin=dump)
    assert result.returncode == 0
    assert b"annotate: -: line 7: PCIDEV line wrapped onto line 8; joined" in result.stderr
    # The wrapped lines stay as they were (two lines), annotated on the last one only if known.
    assert result.stdout.decode().splitlines()[6:8] == [
        "PCIDEV 0010 80860f31 61 b0000000 0 a0000008 0 e081 0 c0002 400000 0", "10000000 0 8 0 20000 i915"]
