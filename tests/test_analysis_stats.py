"""``ftrace-mmio stats`` and ``--plot`` on nvlike traces and on a polling driver."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis_util import CORPUS, cli, nv, record  # noqa: F401 - nv is a fixture
from ftrace_mmio.analysis.parse import Access, parse
from ftrace_mmio.analysis.stats import LoopDetector, collect

# A driver that waits for nvlike's PTIMER alarm by polling PTIMER_INTR_0, udelay(1) between reads.
NVPOLL_C = r"""
#include <linux/delay.h>
#include <linux/errno.h>
#include <linux/io.h>
#include <linux/module.h>
#include <linux/pci.h>

static void __iomem *mmio;

static int __init nvpoll_init(void)
{
	struct pci_dev *pdev = pci_get_device(0x10de, PCI_ANY_ID, NULL);
	int i;

	if (!pdev || pci_enable_device(pdev))
		return -ENODEV;
	mmio = ioremap(pci_resource_start(pdev, 0), 0x10000);
	if (!mmio)
		return -ENOMEM;
	writel(1, mmio + 0x9100);
	writel(readl(mmio + 0x9400) + 30000, mmio + 0x9420);
	for (i = 0; i < 1000 && !(readl(mmio + 0x9100) & 1); i++)
		udelay(1);
	pr_info("alarm after %d polls\n", i);
	writel(1, mmio + 0x9100);
	pci_dev_put(pdev);
	return 0;
}

static void __exit nvpoll_exit(void)
{
	iounmap(mmio);
}

module_init(nvpoll_init);
module_exit(nvpoll_exit);
MODULE_LICENSE("GPL");
"""


@pytest.fixture(scope="module")
def poll_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("nvpoll")
    (d / "nvpoll.c").write_text(NVPOLL_C)
    return record(d / "nvpoll.c", d / "poll.txt")


def accesses(path: Path) -> list[Access]:
    return [r for r in parse(path, strict=True) if isinstance(r, Access)]


def test_per_register_counts_match_the_dump(nv) -> None:
    stats = collect(nv.original)
    acc = accesses(nv.original)
    regs = {r.name: r for r in stats.registers.values() if r.name}
    for name, phys in (("PMC_BOOT_0", 0xF6000000), ("PTIMER_TIME_0", 0xF6009400),
                       ("PTIMER_TIME_1", 0xF6009410), ("PTIMER_INTR_0", 0xF6009100)):
        mine = [a for a in acc if a.phys == phys]
        r = regs[name]
        assert (r.reads, r.writes) == (sum(a.op == "R" for a in mine), sum(a.op == "W" for a in mine))
        assert r.distinct == len({a.value for a in mine})
        assert (r.first_line, r.last_line) == (mine[0].line, mine[-1].line)
        assert (r.first_us, r.last_us) == (mine[0].ts_us, mine[-1].ts_us)
        assert r.device == "nvlike" and r.space == "BAR0" and r.offset == phys - 0xF6000000
    assert sum(r.accesses for r in stats.registers.values()) == len(acc)
    assert stats.hot(1)[0].name == "PTIMER_TIME_1"
    assert stats.records["RW"] == len(acc) and stats.losses == []


def test_finds_the_nvlike_timer_polling_loop(nv) -> None:
    stats = collect(nv.original)
    assert len(stats.loops) == 1
    loop = stats.loops[0]
    # nv_check_timer reads the 64-bit counter (high, low, high) before and after three udelay(10).
    assert loop.registers == ["nvlike PTIMER_TIME_1", "nvlike PTIMER_TIME_0", "nvlike PTIMER_TIME_1"]
    assert loop.iterations == 4 and loop.reads == 12
    assert loop.changing == ["nvlike PTIMER_TIME_0"]
    acc = {a.line: a for a in accesses(nv.original)}
    assert acc[loop.first_line].phys == 0xF6009410 and acc[loop.last_line].phys == 0xF6009410
    assert loop.duration_us == acc[loop.last_line].ts_us - acc[loop.first_line].ts_us > 30
    text = stats.render()
    assert (f"lines {loop.first_line}-{loop.last_line}: nvlike: PTIMER_TIME_1, PTIMER_TIME_0, PTIMER_TIME_1: "
            f"4 iterations, 12 reads in {loop.duration_us} us") in text


def test_finds_a_driver_waiting_on_one_register_until_it_changes(poll_trace: Path) -> None:
    stats = collect(poll_trace)
    assert len(stats.loops) == 1
    loop = stats.loops[0]
    polls = [a for a in accesses(poll_trace) if a.op == "R" and a.phys == 0xF6009100]
    assert loop.registers == ["nvlike PTIMER_INTR_0"]
    assert loop.reads == loop.iterations == len(polls) >= 4
    assert [a.value for a in polls] == [0] * (len(polls) - 1) + [1]
    (slot,) = loop.slots
    assert slot.changed and slot.same_before_change == len(polls) - 1 and slot.last_value == 1
    assert (loop.first_line, loop.last_line) == (polls[0].line, polls[-1].line)
    assert loop.duration_us == polls[-1].ts_us - polls[0].ts_us
    assert f"PTIMER_INTR_0 0x0 x{len(polls) - 1} then 0x1" in stats.render()


def test_loop_detector_reports_each_loop_once_at_its_own_period() -> None:
    det = LoopDetector(min_iterations=3)
    seq = ["A", "B"] * 4 + ["C"] + ["D", "D"] + ["E"]
    for i, key in enumerate(seq):
        det.read(key, key, i, i, i + 1)
    det.finish()
    assert [(lp.registers, lp.iterations, lp.first_line, lp.last_line) for lp in det.loops] == [
        (["A", "B"], 4, 1, 8)]
    det = LoopDetector(min_iterations=3)
    for i in range(3):
        det.read("S", "S", 0, i, i + 1)
        if i == 1:
            det.interrupt()     # a write between the reads: two runs, neither long enough
    det.finish()
    assert det.loops == []


def test_gaps_and_lost_events_are_reported_with_their_lines(tmp_path: Path) -> None:
    dump = tmp_path / "lossy.txt"
    dump.write_text("VERSION 20070824\n"
                    "R 4 1.000000 1 0xfd000000 0x1 0x0 0\n"
                    "R 4 1.000010 1 0xfd000004 0x1 0x0 0\n"
                    "MARK 0.000000 Lost 12 events.\n"
                    "R 4 1.000510 1 0xfd000008 0x1 0x0 0\n"
                    "CPU:0 [LOST 580 EVENTS]\n"
                    "W 4 1.000520 1 0xfd00000c 0x1 0x0 0\n")
    stats = collect(dump, gap_threshold_us=100)
    assert [(x.line, x.what, x.count) for x in stats.losses] == [(4, "mmiotrace", 12), (6, "ring buffer cpu0", 580)]
    assert stats.lost_events == 592
    assert stats.gaps_over_threshold == 1
    assert (stats.gaps[0].gap_us, stats.gaps[0].line, stats.gaps[0].prev_line) == (500, 5, 3)
    text = stats.render()
    assert "LOST EVENTS: 592 in 2 reports:" in text and "line 6: ring buffer cpu0 lost 580 events" in text
    assert "gaps: 1 of 100 us or more" in text


def test_stats_cli_json_and_plot(nv, tmp_path: Path) -> None:
    png = tmp_path / "nv.png"
    result = cli("stats", str(nv.original), "--json", "--plot", str(png))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [lp["registers"] for lp in data["loops"]] == [
        ["nvlike PTIMER_TIME_1", "nvlike PTIMER_TIME_0", "nvlike PTIMER_TIME_1"]]
    assert data["hot"][0] == "nvlike PTIMER_TIME_1"
    names = {r["name"] for r in data["registers"]}
    assert {"PMC_BOOT_0", "PMC_ENABLE", "PTIMER_TIME_0", "PTHERM_TEMP"} <= names
    assert b"plot of" in result.stderr

    from PIL import Image
    img = Image.open(png).convert("RGB")
    assert img.size[0] == 1200 and img.size[1] >= 300
    assert png.stat().st_size > 20_000
    colours = {c for _, c in img.getcolors(maxcolors=1 << 20)}
    assert len(colours) > 50
    assert (0x1F, 0x77, 0xB4) in colours     # read ticks
    assert (0xD6, 0x27, 0x28) in colours     # write ticks
    # The polling loop's band: green at 25% over white.
    assert any(abs(r - 202) <= 3 and abs(g - 231) <= 3 and abs(b - 202) <= 3 for r, g, b in colours)


def test_stats_on_a_real_kernel_dump() -> None:
    result = cli("stats", str(CORPUS / "ipu4_apollolake_trace.trimmed.mmiotrace"))
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode()
    assert "263 lines; 1 MAP, 23 PCIDEV, 238 RW, 1 VERSION; 1037.681661 .. 1037.817015 (135354 us)" in text
    assert "8086:5a88        00:03.0 8086:5a88  238 accesses  BAR0 0x90000000+0x1000000" in text
    assert "lost events: none reported" in text


def test_stats_refuses_bad_options() -> None:
    result = cli("stats", "/nonexistent", "--gap-us", "0")
    assert result.returncode == 2 and b"must be positive" in result.stderr
    result = cli("stats", "/nonexistent")
    assert result.returncode == 2 and result.stderr == b"stats: /nonexistent: no such file\n"


def test_registers_sharing_an_offset_get_a_row_each(tmp_path: Path) -> None:
    # The 16550's receive buffer (read) and transmit holding register (write) share offset 0.
    dump = tmp_path / "uart.txt"
    dump.write_text("MAP 1.000000 1 0xfebc0000 0xffffc90000080000 0x1000 0x0 0\n"
                    "W 1 1.000001 1 0xfebc0000 0x41 0x0 0\n"
                    "R 1 1.000002 1 0xfebc0000 0x42 0x0 0\n"
                    "W 1 1.000003 1 0xfebc0000 0x43 0x0 0\n")
    from ftrace_mmio.analysis.regmaps import load_regmaps
    from ftrace_mmio.analysis.resolve import Resolver
    stats = collect(dump, Resolver(load_regmaps("uart16550")))
    rows = {r.name: (r.reads, r.writes, r.first_line) for r in stats.registers.values()}
    assert rows == {"THR": (0, 2, 2), "RBR": (1, 0, 3)}
