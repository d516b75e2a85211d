"""Machine files: the built-in machine as data, TOML files for other machines,
errors that name the line and key, and --machine on run and mount."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ftrace_mmio.machine.config import (DEFAULT_HEADER, MachineFileError, default_config,
                                        load_machine_file, parse_machine_text)
from ftrace_mmio.machine.pci import default_bus
from ftrace_mmio.mmiotrace.tracer import format_pcidev
from fuse_util import mount, needs_fuse, runtime_dir, unmount_and_check  # noqa: F401 - fixtures
from mmiotrace_util import GOLDEN, check_grammar

ROOT = Path(__file__).resolve().parent.parent
TWO_NVLIKE = ROOT / "docs" / "examples" / "two-nvlike.toml"
TIMEOUT = 120  # a safety net against a hang, not a measurement
_TS = re.compile(r" \d+\.\d{6} ")
SECOND_NVLIKE_PCIDEV = ("PCIDEV 0028 10de1180 13 f8000000 c000000c 0 d000000c 0 e081 f7080000 "
                        "1000000 8000000 0 2000000 0 80 80000 \n")


def ftrace_mmio(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ftrace_mmio", *args], capture_output=True, text=True,
                          timeout=TIMEOUT, cwd=cwd)


def _timeless(text: str) -> str:
    """Timestamps, and the values of nvlike's timer registers, masked."""
    text = _TS.sub(" TS ", text)
    return re.sub(r"(0xf60094[0-2]0) 0x[0-9a-f]+ ", r"\1 VALUE ", text)


def pcidev_lines(config) -> list[str]:
    return [format_pcidev(f) for f in config.build_bus().pcidev_fields()]


# --- the built-in machine as data -----------------------------------------------------------


def test_default_config_is_the_default_machine() -> None:
    config = default_config()
    assert (config.cpus, config.buffer_size_kb, config.clock) == (2, 1408, "local")
    assert [d.model for d in config.devices] == ["nvlike", "testmmio", "uart16550"]
    assert [d.slot for d in config.devices] == ["00:02.0", "00:03.0", "00:04.0"]
    assert pcidev_lines(config) == [format_pcidev(f) for f in default_bus().pcidev_fields()]


def test_show_default_prints_a_file_that_loads_back_to_the_default(tmp_path: Path) -> None:
    result = ftrace_mmio("machine", "--show-default")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(DEFAULT_HEADER)
    path = tmp_path / "default.toml"
    path.write_text(result.stdout)
    assert load_machine_file(path) == default_config().replace(source=str(path))


def test_the_example_file_has_two_nvlike_at_different_addresses() -> None:
    config = load_machine_file(TWO_NVLIKE)
    nv = [d for d in config.devices if d.model == "nvlike"]
    assert len(nv) == 2 and nv[0].addresses[0] != nv[1].addresses[0]
    lines = pcidev_lines(config)
    assert lines[:3] == pcidev_lines(default_config())
    assert lines[3] == SECOND_NVLIKE_PCIDEV


def test_everything_a_file_can_say_reaches_the_machine(tmp_path: Path) -> None:
    config = parse_machine_text(textwrap.dedent("""\
        [machine]
        cpus = 3
        buffer_size_kb = 64
        clock = "det"
        ram_mb = 64
        [mmiotrace]
        filter_offset = 0xfd000000
        nommiotrace = true
        trace_pc = true
        decoder = "pf_in"
        [[device]]
        model = "uart16550"
        slot = "00:07.0"
        irq = 5
        bar0 = 0xfe100000
        [[device]]
        model = "nvlike"
        rom = "shadow"
        """))
    assert (config.cpus, config.buffer_size_kb, config.clock, config.ram_mb) == (3, 64, "det", 64)
    p = config.mmiotrace
    assert (p.filter_offset, p.nommiotrace, p.trace_pc, p.decoder) == (0xfd000000, True, True, "pf_in")
    bus = config.build_bus()
    uart = bus.get("00:07.0")
    assert uart.irq == 5 and uart.resources[0].start == 0xfe100000
    (nv,) = [d for d in bus.devices if d.model.name == "nvlike"]
    # Unassigned: the first free slot, the bus's windows, the next IRQ, the shadow ROM.
    assert nv.name == "00:01.0" and nv.resources[6].start == 0xc0000
    assert nv.resources[0].start >= 0xc0000000


def test_a_user_model_file_next_to_the_machine_file_and_a_bar_size(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "scratch.py").write_text(textwrap.dedent("""\
        from ftrace_mmio.machine.devices.base import BarSpec, DeviceModel

        class Scratch(DeviceModel):
            name = "scratch"
            vendor, device = 0x1234, 0xbeef
            class_code = 0x058000
            bars = (BarSpec(0, 0x1000),)      # plain memory: any size works
        """))
    machine = tmp_path / "m.toml"
    machine.write_text('[[device]]\nmodel = "models/scratch.py"\nslot = "00:06.0"\n'
                       "bar0 = { address = 0xfb000000, size = 0x10000 }\n")
    # Loaded from elsewhere: the model path is relative to the machine file.
    result = ftrace_mmio("machine", "--check", str(machine), cwd=Path("/"))
    assert result.returncode == 0, result.stderr
    assert "PCIDEV 0030 1234beef 10 fb000000 0 0 0 0 0 0 10000 0 0 0 0 0 0 \n" in result.stdout


# --- mistakes: FILE:LINE: key: problem ----------------------------------------------------


BAD_FILES = [
    ("[machine]\ncpus = 0\n", 2, "machine.cpus", "outside 1..256"),
    ("[machine]\n\ncpu = 2\n", 3, "machine.cpu", "did you mean 'cpus'?"),
    ('[machine]\nclock = "sundial"\n', 2, "machine.clock", "unknown trace clock"),
    ('[mmiotrace]\ndecoder = "capstone"\n', 2, "mmiotrace.decoder", "one of full, pf_in"),
    ("[mmiotrace]\nnommiotrace = 1\n", 2, "mmiotrace.nommiotrace", "expected true or false"),
    ("[[device]]\nslot = '00:05.0'\n", 1, "device[0]", "no model"),
    ("[[device]]\nmodel = 'nvlik'\n", 2, "device[0].model", "unknown device model 'nvlik'"),
    ("[[device]]\nmodel = 'nvlike'\nbar2 = 0xf8000000\n", 3, "device[0].bar2", "nvlike has no BAR2"),
    ("[[device]]\nmodel = 'nvlike'\nbar0 = 0xf6000100\n", 3, "device[0].bar0", "aligned to its size"),
    ("[[device]]\nmodel = 'nvlike'\nslot = '00:20.0'\n", 3, "device[0].slot", "expected BB:DD.F"),
    ("[[device]]\nmodel = 'uart16550'\nrom = 0xf7000000\n", 3, "device[0].rom", "has no expansion ROM"),
    ("[[device]]\nmodel = 'nvlike'\nbar0 = { address = 0xf6000000, size = 0x1000 }\n", 3,
     "device[0].bar0.size", "fixed size of 0x1000000"),
    ("[[device]]\nmodel = 'nvlike'\n\n[device.bar0]\naddress = 'here'\n", 5,
     "device[0].bar0.address", "expected an integer"),
    ("[[device]]\nmodel = 'nvlike'\nslot = '00:02.0'\n\n[[device]]\nmodel = 'uart16550'\nslot = '00:02.0'\n",
     7, "device[1].slot", "taken by nvlike (device[0])"),
    ("[[device]]\nmodel = 'nvlike'\nbar0 = 0xf6000000\n\n[[device]]\nmodel = 'testmmio'\n"
     "bar0 = 0xf6000000\n", 7, "device[1].bar0", "overlaps BAR0 of nvlike"),
    ("[[device]]\nmodel = 'nvlike'\nirq = 300\n", 3, "device[0].irq", "outside 0..255"),
    ("[machine\ncpus = 2\n", 1, "", "not valid TOML"),
    ("[[device]]\nmodel = './missing.py'\n", 2, "device[0].model", "no such file"),
]


@pytest.mark.parametrize("text, line, key, problem", BAD_FILES)
def test_a_bad_file_names_the_line_and_key(tmp_path: Path, text: str, line: int, key: str,
                                           problem: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(MachineFileError) as info:
        load_machine_file(path)
    err = info.value
    assert (err.line, err.key) == (line, key)
    assert problem in err.problem
    assert str(err).startswith(f"{path}:{line}: " + (f"{key}: " if key else ""))


def test_unreadable_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(MachineFileError, match="cannot read it"):
        load_machine_file(tmp_path / "nope.toml")


def test_cli_reports_a_bad_file_and_runs_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[machine]\ncpus = 0\n")
    for args in (["run", "nvlike", "--machine", str(bad)], ["machine", "--check", str(bad)]):
        result = ftrace_mmio(*args)
        assert result.returncode in (1, 2)
        assert f"{bad}:2: machine.cpus: 0 is outside 1..256" in result.stderr
        assert result.stdout == ""


# --- run --machine ----------------------------------------------------------------------------


def test_run_with_two_nvlike_lists_both_in_the_pcidev_lines() -> None:
    result = subprocess.run([sys.executable, "-m", "ftrace_mmio", "run", "nvlike", "--machine", str(TWO_NVLIKE),
                             "--clock", "det"], capture_output=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr.decode()
    golden = (GOLDEN / "nvlike.det.mmiotrace").read_bytes().decode()
    # The same trace as on the built-in machine, with the second GPU's PCIDEV line added
    # (the deterministic clock counts the boot's work too, so timestamps move a little).
    lines = golden.splitlines(keepends=True)
    expected = "".join(lines[:4] + [SECOND_NVLIKE_PCIDEV] + lines[4:])
    assert _timeless(result.stdout.decode()) == _timeless(expected)


def test_run_options_override_the_file(tmp_path: Path) -> None:
    machine = tmp_path / "m.toml"
    machine.write_text('[machine]\nclock = "det"\n[mmiotrace]\ntrace_pc = true\n'
                       '[[device]]\nmodel = "nvlike"\nslot = "00:02.0"\nbar0 = 0xf6000000\nbar1 = 0xe0000000\n')
    out = tmp_path / "t.txt"
    result = ftrace_mmio("run", "nvlike", "--machine", str(machine), "--filter-offset", "0xe0200000",
                         "-o", str(out))
    assert result.returncode == 0, result.stderr
    lines = check_grammar(out.read_text())
    assert sum(line.startswith("PCIDEV ") for line in lines) == 1
    # The file's det clock and trace_pc stay; the command line's filter applies.
    maps = [line.split() for line in lines if line.startswith("MAP ")]
    assert len(maps) == 1 and maps[0][3] == "0xe0200000"
    assert all(re.fullmatch(r"0\.0\d{5}", line.split()[1 if line.startswith(("MAP", "UNMAP")) else 2])
               for line in lines[2:])   # det: microseconds from boot, not wall time
    reads = [line.split() for line in lines if line.startswith("R ")]
    assert reads and all(int(r[6], 16) >= 0xFFFFFFFFC0000000 for r in reads)


# --- mount --machine (a real FUSE mount) ------------------------------------------------------


@needs_fuse
def test_mount_with_a_machine_file_traces_both_gpus(tmp_path: Path, runtime_dir: Path) -> None:  # noqa: F811
    m = mount(tmp_path / "tracing", "--machine", str(TWO_NVLIKE), "--cpus", "3")
    try:
        dump = tmp_path / "dump.txt"
        cli = f"{sys.executable} -m ftrace_mmio"
        m.ok(f"""
            set -e
            echo mmiotrace > current_tracer
            cat trace_pipe > {dump} &
            {cli} insmod nvlike
            echo "both GPUs listed" > trace_marker
            for i in $(seq 600); do grep -q "both GPUs" {dump} && break; sleep 0.05; done
            kill %1; wait %1 || true
            echo nop > current_tracer
            """)
        lines = check_grammar(dump.read_text())
        pcidev = [line for line in lines if line.startswith("PCIDEV ")]
        assert len(pcidev) == 4
        assert pcidev[3] == SECOND_NVLIKE_PCIDEV
        assert pcidev[0].startswith("PCIDEV 0010 10de1180 10 f6000000 ")
        assert lines[-1].endswith(" both GPUs listed\n")
        # --cpus on the command line overrode the file's 2.
        assert "#P:3" in m.ok("head -3 trace")
        assert m.ok("ls per_cpu").split() == ["cpu0", "cpu1", "cpu2"]
        lspci = m.ok(f"{cli} lspci")
        assert lspci.count("NVIDIA") == 2 and lspci.splitlines()[-1].startswith("00:05.0 ")
    finally:
        unmount_and_check(m)


@needs_fuse
def test_mount_refuses_a_bad_machine_file_before_mounting(tmp_path: Path, runtime_dir: Path) -> None:  # noqa: F811
    bad = tmp_path / "bad.toml"
    bad.write_text('[[device]]\nmodel = "nvlike"\nbar0 = 0x1234\n')
    target = tmp_path / "tracing"
    target.mkdir()
    result = ftrace_mmio("mount", str(target), "--machine", str(bad))
    assert result.returncode == 1
    assert f"{bad}:3: device[0].bar0: " in result.stderr
    assert not Path("/proc/self/mounts").read_text().count(f" {target} ")
    assert not list(runtime_dir.glob("mount-*.json")) if runtime_dir.exists() else True
