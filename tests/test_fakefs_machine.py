"""The pyfakefs fixture hosting the whole system: a machine with mmiotrace.

A user's test selects mmiotrace through the fake control files, loads a
bundled driver or its own C file, and reads R/W/MAP lines from trace_pipe;
or, for a tool that only parses, puts chosen records in the buffer.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest

from tracefs.fakefs import FakeTracefs

T = "/sys/kernel/tracing"
DRIVERS = Path(__file__).parent / "drivers"

MY_DRIVER = r"""
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/io.h>

static int __init mine_init(void)
{
	struct pci_dev *pdev = pci_get_device(0x10de, PCI_ANY_ID, NULL);
	void __iomem *regs;

	if (!pdev)
		return -ENODEV;
	regs = ioremap(pci_resource_start(pdev, 0), 0x1000);
	if (!regs)
		return -ENOMEM;
	writel(0x1234, regs + 0x10);
	(void)readl(regs + 0x10);
	iounmap(regs);
	pci_dev_put(pdev);
	return 0;
}

static void __exit mine_exit(void)
{
}

module_init(mine_init);
module_exit(mine_exit);
MODULE_LICENSE("GPL");
"""


def drain(path: str) -> list[str]:
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    out = b""
    try:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(fd)
    return out.decode().splitlines()


def select_mmiotrace() -> None:
    with open(f"{T}/current_tracer", "w") as f:
        f.write("mmiotrace\n")
    with open(f"{T}/current_tracer") as f:
        assert f.read() == "mmiotrace\n"


@pytest.mark.tracefs(machine=True)
def test_bundled_driver_load_gives_rw_and_map(tracefs: FakeTracefs) -> None:
    assert "mmiotrace" in open(f"{T}/available_tracers").read().split()
    select_mmiotrace()
    tracefs.insmod("nvlike")
    lines = drain(f"{T}/trace_pipe")
    assert lines[0] == "VERSION 20070824"
    kinds = {line.split()[0] for line in lines}
    assert {"PCIDEV", "MAP", "R", "W"} <= kinds, kinds
    assert "nvlike" in tracefs.dmesg()
    assert not Path(T, "no-such").exists()
    # Nothing was written outside the fake filesystem's tracing tree.
    assert tracefs.open_fds() == []


@pytest.mark.tracefs(machine=True)
def test_own_driver_from_the_real_filesystem(tracefs: FakeTracefs) -> None:
    # The driver source is a real file: written with pyfakefs paused.
    with tracefs.real_world():
        real_dir = Path(tempfile.mkdtemp(prefix="fakefs-mine-"))
        source = real_dir / "mine.c"
        source.write_text(MY_DRIVER)
    select_mmiotrace()
    tracefs.insmod(source)
    lines = drain(f"{T}/trace_pipe")
    rw = [line for line in lines if line[:2] in ("R ", "W ")]
    assert len(rw) == 2, lines
    assert rw[0].startswith("W 4 ") and rw[0].split()[5] == "0x1234"
    assert rw[1].startswith("R 4 ")
    assert any(line.startswith("MAP ") for line in lines)
    assert any(line.startswith("UNMAP ") for line in lines)
    tracefs.rmmod("mine")
    with tracefs.real_world():
        source.unlink()
        real_dir.rmdir()


def test_fs_requested_first_then_machine(fs, request: pytest.FixtureRequest) -> None:
    """pyfakefs already active when the system is built: built paused, works."""
    with FakeTracefs(filesystem=fs, machine=True) as tfs:
        select_mmiotrace()
        tfs.insmod("nvlike")
        assert any(line.startswith("W ") for line in drain(f"{T}/trace_pipe"))


@pytest.mark.tracefs(machine=True, clock="det")
def test_chosen_records_for_a_parser(tracefs: FakeTracefs) -> None:
    select_mmiotrace()
    tracefs.add_map(0xFD000000, 0x1000, virt=0xFFFFC90000010000, map_id=7)
    tracefs.add_write(0xFD000010, 0xCAFE, width=4, map_id=7, pc=0xFFFFFFFFA0001234)
    tracefs.add_read(0xFD000014, 0x5, width=1, map_id=7)
    tracefs.add_marker("my tool sees this")
    tracefs.add_unmap(map_id=7)
    lines = [line for line in drain(f"{T}/trace_pipe") if not line.startswith(("VERSION", "PCIDEV"))]
    assert [line.split()[0] for line in lines] == ["MAP", "W", "R", "MARK", "UNMAP"], lines
    assert re.fullmatch(r"MAP \d+\.\d{6} 7 0xfd000000 0xffffc90000010000 0x1000 0x0 0", lines[0]), lines[0]
    assert re.fullmatch(r"W 4 \d+\.\d{6} 7 0xfd000010 0xcafe 0xffffffffa0001234 0", lines[1]), lines[1]
    assert re.fullmatch(r"R 1 \d+\.\d{6} 7 0xfd000014 0x5 0x0 0", lines[2]), lines[2]
    assert re.fullmatch(r"MARK \d+\.\d{6} my tool sees this", lines[3]), lines[3]
    assert re.fullmatch(r"UNMAP \d+\.\d{6} 7 0x0 0", lines[4]), lines[4]


def test_records_need_mmiotrace(tracefs: FakeTracefs) -> None:
    with pytest.raises(RuntimeError, match="select mmiotrace"):
        tracefs.add_read(0, 0)
    with pytest.raises(RuntimeError, match="machine=True"):
        tracefs.insmod("nvlike")
