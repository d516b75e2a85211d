"""The flagship proof: the bundled edu driver on ftrace-mmio traces what the
real Linux kernel traces with the same source on QEMU's edu device.

tests/data/oracle/edu/ holds what the real kernel (Debian's 6.1 in QEMU 7.2)
recorded; its README has the command and the source hash. The comparison is
the one ../shared/oracle/compare makes, reimplemented here so that the tests
need nothing outside the repository:

* R/W records become (type, width, offset inside their MAP, value); MAP
  becomes its size; UNMAP stays; timestamps, pids, pcs, map ids and absolute
  addresses go; MARK lines (the oracle's end marker) are not compared;
* DMA bus addresses differ from machine to machine: values written to the
  DMA source and destination registers compare as "a RAM address" unless they
  point into the device's own buffer (0x40000..0x40fff), which must match;
* the number of polling reads depends on timing: consecutive reads of one
  register count as one, the last (the value the loop stopped on). This also
  covers a poll whose first read already succeeds, which QEMU's threaded
  factorial does in about half the runs (compare the oracle's dumps).
"""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import pytest

from ftrace_mmio import intree

ROOT = Path(__file__).resolve().parent.parent
ORACLE = ROOT / "tests" / "data" / "oracle" / "edu"
DRIVER = ROOT / "ftrace_mmio" / "drivers" / "edu.c"
MACHINE = ROOT / "docs" / "examples" / "edu.toml"

DMA_ADDRESS_REGS = (0x80, 0x88)
DMA_BUFFER = range(0x40000, 0x41000)
RAM = "ram"          # what a bus address normalises to


def normalise(text: str) -> list[tuple]:
    """A dump as the sequence of records that must match (see the module doc):
    the oracle's normalisation (intree.normalise), then edu's own rules."""
    out: list[tuple] = []
    for rec in intree.normalise(text):
        kind = rec[0]
        if kind in ("MARK", "UNKNOWN"):
            continue
        if kind in ("R", "W"):
            _, width, off, value = rec
            assert isinstance(off, int), rec         # every access inside its MAP
            if kind == "W" and off in DMA_ADDRESS_REGS and value not in DMA_BUFFER:
                value = RAM
            rec = (kind, width, off, value)
            if kind == "R" and out and out[-1][:3] == rec[:3]:
                out[-1] = rec            # a poll: the read the loop stopped on
                continue
        out.append(rec)
    return out


def results(dmesg: str) -> list[str]:
    """The driver's own dmesg lines, without timestamps."""
    return [m.group(1) for m in re.finditer(r"^\[[ \d.]+\] (edu \S+: .*)$", dmesg, re.M)]


def oracle_dumps() -> list[Path]:
    return sorted(ORACLE.glob("dump*.txt"))


# ---- the reference itself --------------------------------------------------------------------


def test_oracle_data_is_for_this_driver():
    """The committed real-kernel runs were made from the driver as it is now."""
    readme = (ORACLE / "README.md").read_text()
    digest = hashlib.sha256(DRIVER.read_bytes()).hexdigest()
    assert f"sha256 {digest}" in readme, \
        "ftrace_mmio/drivers/edu.c changed: re-run the oracle (tests/data/oracle/edu/README.md)"


def test_oracle_runs_agree_after_normalisation():
    dumps = [p.read_text() for p in oracle_dumps()]
    assert len(dumps) >= 2
    raw = [[l.split()[:2] + l.split()[4:6] for l in d.splitlines() if l[:2] in ("R ", "W ")] for d in dumps]
    assert any(r != raw[0] for r in raw[1:]), "the runs should show the differences normalised away"
    norm = [normalise(d) for d in dumps]
    for n in norm[1:]:
        assert n == norm[0]


def test_normalised_oracle_shows_the_device_at_work():
    rec = normalise((ORACLE / "dump.txt").read_text())
    assert rec[0] == ("MAP", 0x100000) and rec[-1] == ("UNMAP",)
    assert ("R", 4, 0x00, 0x010000ED) in rec                     # identification
    assert ("R", 4, 0x04, 0xEDCBA987) in rec                     # liveness
    assert ("R", 4, 0x08, 3628800) in rec                        # 10!, polled
    assert ("R", 4, 0x20, 0) in rec and ("R", 4, 0x20, 1) not in rec   # the poll, collapsed
    assert rec.count(("R", 4, 0x24, 0x100)) == 2                 # two DMA interrupts
    assert ("W", 8, 0x80, RAM) in rec and ("W", 8, 0x88, 0x40000) in rec
    assert ("W", 8, 0x80, 0x40000) in rec and ("W", 8, 0x88, RAM) in rec
    dmesg = results((ORACLE / "dmesg.txt").read_text())
    assert "edu 0000:00:02.0: dma: 1024 bytes to the device and back, identical" in dmesg
    assert dmesg[-1] == "edu 0000:00:02.0: removed after 5 interrupts"


def test_normalisation_catches_a_difference():
    text = (ORACLE / "dump.txt").read_text()
    assert normalise(text.replace(" 0x375f00 ", " 0x375f01 ")) != normalise(text)      # a value
    first_fact = re.search(r"^W 4 \S+ 1 0xfeb00008 ", text, re.M)[0]               # the first factorial write
    assert normalise(text.replace(first_fact, first_fact.replace("0xfeb00008", "0xfeb0000c"), 1)) \
        != normalise(text)                                                            # an offset
    assert normalise(text.replace("0xfeb00088 0x40000", "0xfeb00088 0x41000")) != normalise(text)


# ---- ours against it ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def our_run():
    from ftrace_mmio.cli.run import trace_run
    from ftrace_mmio.machine.config import load_machine_file

    out = io.BytesIO()
    failure, dmesg = trace_run("edu", [], out, config=load_machine_file(MACHINE))
    return failure, out.getvalue().decode(), dmesg


def test_edu_loads_and_unloads_cleanly(our_run):
    failure, trace, dmesg = our_run
    assert failure is None, f"{failure}\n{dmesg}"
    assert "PCIDEV 0010 123411e8 a feb00000 0 0 0 0 0 0 100000 " in trace


def test_edu_trace_equals_the_real_kernels(our_run):
    _failure, trace, _dmesg = our_run
    ours = normalise(trace)
    theirs = normalise((ORACLE / "dump.txt").read_text())
    if ours != theirs:
        first = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
        pytest.fail(f"first divergence at record {first}: ours {ours[first:first + 4]} "
                    f"real kernel {theirs[first:first + 4]}")


def test_edu_dmesg_results_equal_the_real_kernels(our_run):
    _failure, _trace, dmesg = our_run
    assert results(dmesg) == results((ORACLE / "dmesg.txt").read_text())


def test_edu_det_clock_is_byte_reproducible(our_run):
    from ftrace_mmio.cli.run import trace_run
    from ftrace_mmio.machine.config import load_machine_file

    runs = []
    for _ in range(2):
        out = io.BytesIO()
        failure, _dmesg = trace_run("edu", [], out, clock="det", config=load_machine_file(MACHINE))
        assert failure is None
        runs.append(out.getvalue())
    assert runs[0] == runs[1]
    assert normalise(runs[0].decode()) == normalise(our_run[1])


# ---- INTx: the same device without its MSI capability --------------------------------------

EDU_INTX_MODEL = '''
from ftrace_mmio.machine.devices.edu import Edu


class EduIntx(Edu):
    """edu with no MSI capability: the driver falls back to INTx."""

    name = "edu-intx"
    msi_vectors = 0
'''


def test_oracle_intx_run_is_the_msi_run():
    """On the real kernel (booted with pci=nomsi) the accesses do not change."""
    assert normalise((ORACLE / "intx" / "dump.txt").read_text()) == normalise((ORACLE / "dump.txt").read_text())
    assert "edu 0000:00:02.0: interrupts: INTx" in results((ORACLE / "intx" / "dmesg.txt").read_text())


def test_edu_on_intx_equals_the_real_kernel_on_intx(tmp_path):
    from ftrace_mmio.cli.run import trace_run
    from ftrace_mmio.machine.config import load_machine_file

    (tmp_path / "edu_intx.py").write_text(EDU_INTX_MODEL)
    machine = tmp_path / "edu-intx.toml"
    machine.write_text(MACHINE.read_text().replace('model = "edu"', 'model = "./edu_intx.py"'))
    out = io.BytesIO()
    failure, dmesg = trace_run("edu", [], out, config=load_machine_file(machine))
    assert failure is None, f"{failure}\n{dmesg}"
    assert normalise(out.getvalue().decode()) == normalise((ORACLE / "intx" / "dump.txt").read_text())
    assert results(dmesg) == results((ORACLE / "intx" / "dmesg.txt").read_text())


@pytest.mark.parametrize("engine, decoder", [("fast", "full"), ("faithful", "pf_in")])
def test_edu_equals_the_real_kernel_in_every_mode(engine, decoder):
    from ftrace_mmio.cli.run import trace_run
    from ftrace_mmio.machine.config import load_machine_file
    from ftrace_mmio.mmiotrace.mmio_mod import MmiotraceParams

    out = io.BytesIO()
    failure, _dmesg = trace_run("edu", [], out, config=load_machine_file(MACHINE),
                                params=MmiotraceParams(engine=engine, decoder=decoder))
    assert failure is None
    assert normalise(out.getvalue().decode()) == normalise((ORACLE / "dump.txt").read_text())


def test_annotate_names_edu_registers_in_the_real_kernels_dump():
    """The model's register map names what the real kernel recorded."""
    from ftrace_mmio.analysis.annotate import annotate
    from ftrace_mmio.analysis.resolve import Resolver

    out = io.StringIO()
    annotate(ORACLE / "dump.txt", Resolver(), out.write)
    lines = out.getvalue().splitlines()
    assert lines[1 + 5 + 1].endswith("# edu BAR0+0x00000 ID = 0x10000ed (MAGIC=0xed, MINOR=0x0, MAJOR=0x1)")
    notes = [line.split("  # ")[1] for line in lines if line[:2] in ("R ", "W ")]
    assert len(notes) == sum(line[:2] in ("R ", "W ") for line in (ORACLE / "dump.txt").read_text().splitlines())
    assert "edu BAR0+0x00098 DMA_CMD = 0x5" in notes           # a 32-bit access: no field decode
    assert "edu BAR0+0x00020 STATUS = 0x80 (BUSY=0, IRQ_FACT=1)" in notes
    assert notes.count("edu BAR0+0x00024 IRQ_STATUS = 0x100 (FACT=0, DMA=1)") == 2
