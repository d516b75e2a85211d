"""Our dumps read by the tools that already consume mmiotrace dumps.

envytools' demmio and nvammiotracereplay read the trace with fixed-order
sscanf calls (mmiotrace.md §7.2). The tiny parsers below do exactly what
those calls do, and are first checked against demmio's real output on the
corpus trace; then they read a dump of the nvlike driver, and demmio's view
of it must identify the same chip as the corpus trace (PMC_BOOT_0).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from ftrace_mmio.cli.run import trace_run

CORPUS = Path("/work/shared/corpus/demmio-validation")
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"{CORPUS} (the demmio corpus) is absent")

NVIDIA = 0x10DE


# --- sscanf, as far as these tools use it -------------------------------------------------

_CONV = re.compile(r"%(\*?)(?:l|ll)?([udfx])")
_NUM = {"u": r"\d+", "d": r"[-+]?\d+", "f": r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?",
        "x": r"(?:0[xX])?[0-9a-fA-F]+"}


def sscanf(text: str, fmt: str) -> list[int | float]:
    """The values ``sscanf(text, fmt, ...)`` assigns, in order, until the first mismatch.

    Conversions: %u %d %f %x with l/ll and * (skip); blanks in fmt match any
    whitespace, and every conversion skips leading whitespace, as C's does.
    """
    values: list[int | float] = []
    pos = 0
    for piece in fmt.split():
        m = _CONV.fullmatch(piece)
        assert m, f"unsupported format piece {piece!r}"
        skip, conv = m.groups()
        while pos < len(text) and text[pos].isspace():
            pos += 1
        token = re.match(_NUM[conv], text[pos:])
        if not token:
            break
        pos += token.end()
        if skip:
            continue
        raw = token.group()
        values.append(float(raw) if conv == "f" else int(raw, 16) if conv == "x" else int(raw))
    return values


# --- demmio (envytools rnn/demmio.c) -------------------------------------------------------


@dataclass
class Card:
    pciid: int
    bar: list[int]
    length: list[int]


def demmio(lines: list[str]) -> list[str]:
    """The MMIO lines demmio prints for NVIDIA cards, without the register names it adds.

    PCIDEV: skip bus/devfn, read the pciid, skip the irq, read BAR0-3, skip
    three, read len0-3; keep 0x10de devices. R/W: after the first two
    characters read width, timestamp (double), skip the map id, read address
    and value; decode ``addr - BAR0`` for the card whose BAR0 holds it; a gap
    of more than 100 us since the previous access prints ``SLEEP``.
    """
    cards: list[Card] = []
    out: list[str] = []
    last_ts: float | None = None
    for line in lines:
        if line.startswith("PCIDEV "):
            v = sscanf(line[7:], "%*x %x %*x %x %x %x %x %*x %*x %*x %x %x %x %x")
            assert len(v) == 9, f"demmio cannot read {line!r}"
            if int(v[0]) >> 16 == NVIDIA:
                cards.append(Card(int(v[0]), [int(x) for x in v[1:5]], [int(x) for x in v[5:9]]))
        elif line[:2] in ("R ", "W "):
            v = sscanf(line[2:], "%d %lf %*d %llx %llx")
            assert len(v) == 4, f"demmio cannot read {line!r}"
            width, ts, addr, value = int(v[0]), float(v[1]), int(v[2]), int(v[3])
            for i, card in enumerate(cards):
                base = card.bar[0] & ~0xF
                if base <= addr < base + card.length[0]:
                    if last_ts is not None and ts - last_ts > 0.0001:
                        out.append(f"SLEEP {(ts - last_ts) * 1000:.6f}ms")
                    last_ts = ts
                    out.append(f"[{i}] {ts:.6f} MMIO{width * 8} {line[0]} 0x{addr - base:06x} 0x{value:08x}")
    return out


# --- nvammiotracereplay (envytools nva/nvammiotracereplay.c) -------------------------------


def nvammiotracereplay(lines: list[str]) -> list[tuple[int, int, int]]:
    """The writes it would replay: ``"%u %f %u %x %x"`` after ``"W "``, reg masked to 24 bits."""
    writes = []
    for line in lines:
        if line.startswith("W "):
            v = sscanf(line[2:], "%u %f %u %x %x")
            assert len(v) == 5, f"nvammiotracereplay cannot read {line!r}"
            writes.append((int(v[0]), int(v[3]) & 0xFFFFFF, int(v[4])))
    return writes


# --- the parsers against the real tool's output --------------------------------------------


def test_the_demmio_parser_matches_real_demmio_on_the_corpus() -> None:
    trace = (CORPUS / "handmade.mmiotrace").read_text().splitlines()
    real = (CORPUS / "handmade.demmio.out").read_text().splitlines()
    # demmio prints its MMIO lines with register names after them; PRAMIN (MEM) and echoed
    # lines are not MMIO lines.
    real_mmio = [line for line in real if re.match(r"\[\d+\] [\d.]+ MMIO|SLEEP ", line)]
    # The PRAMIN window (BAR0 + 0x700000) demmio shows as MEM lines, through the window.
    ours_mmio = [line for line in demmio(trace) if not re.search(r"MMIO\d+ [RW] 0x7[0-9a-f]{5} ", line)]
    assert len(ours_mmio) == len(real_mmio) == 7
    for mine, theirs in zip(ours_mmio, real_mmio):
        assert theirs.startswith(mine + (" " if not mine.startswith("SLEEP") else "")), (mine, theirs)


def test_the_replay_parser_reads_the_corpus_writes() -> None:
    trace = (CORPUS / "handmade.mmiotrace").read_text().splitlines()
    assert nvammiotracereplay(trace) == [(4, 0x000200, 0xFFFFFFFF), (4, 0x001700, 0x20),
                                         (4, 0x700000, 0xDEADBEEF)]


def test_sscanf_stops_where_c_would() -> None:
    assert sscanf("4 0.000100 1 0xf6000000 0x0e4000a1 0x0 0", "%d %lf %*d %llx %llx") == \
        [4, 0.0001, 0xF6000000, 0x0E4000A1]
    assert sscanf("4 0.5 -1 0x10", "%u %f %u %x") == [4, 0.5]


# --- our dumps -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nvlike_dump() -> list[str]:
    out = io.BytesIO()
    failure, _dmesg = trace_run("nvlike", [], out, clock="det")
    assert failure is None
    return out.getvalue().decode().splitlines()


def _pmc_boot_0_in_corpus() -> tuple[str, int, str]:
    text = (CORPUS / "handmade.demmio.out").read_text()
    m = re.search(r"^(\[0\] \S+ MMIO32 R 0x000000 (0x[0-9a-f]{8})) PMC\.ID => .*CHIPSET = (\w+)", text, re.M)
    assert m, "the corpus demmio output has no PMC.ID read"
    return m.group(1), int(m.group(2), 16), m.group(3)


def test_demmio_identifies_nvlike_as_the_corpus_chip(nvlike_dump: list[str]) -> None:
    line, boot_0, chipset = _pmc_boot_0_in_corpus()
    assert chipset == "GK104"
    ours = demmio(nvlike_dump)
    # demmio found the card from our PCIDEV line and decodes our accesses.
    assert ours, "demmio would find no NVIDIA card (or no access in its BAR0)"
    first = ours[0]
    # The first thing nvlike does is read PMC_BOOT_0: the same value, so the same chip.
    assert first.startswith("[0] ") and first.split()[2:] == line.split()[2:]
    assert int(first.split()[-1], 16) == boot_0
    assert (boot_0 >> 20) & 0x1FF == 0x0E4


def test_demmio_reads_every_pcidev_and_access_line_of_ours(nvlike_dump: list[str]) -> None:
    pcidev = [line for line in nvlike_dump if line.startswith("PCIDEV ")]
    assert pcidev and all(len(sscanf(line[7:], "%*x %x %*x %x %x %x %x %*x %*x %*x %x %x %x %x")) == 9
                          for line in pcidev)
    accesses = [line for line in nvlike_dump if line[:2] in ("R ", "W ")]
    ours = [line for line in demmio(nvlike_dump) if not line.startswith("SLEEP")]
    in_bar0 = [line for line in accesses if 0xF6000000 <= int(line.split()[4], 16) < 0xF7000000]
    # Every access to the card's BAR0 becomes a decoded line; the BAR1 read is not BAR0.
    assert len(ours) == len(in_bar0) == len(accesses) - 1


def test_nvammiotracereplay_replays_our_writes(nvlike_dump: list[str]) -> None:
    writes = nvammiotracereplay(nvlike_dump)
    expected = [(int(t[1]), int(t[4], 16) & 0xFFFFFF, int(t[5], 16))
                for t in (line.split() for line in nvlike_dump) if t[0] == "W"]
    assert writes == expected and len(writes) == 12
    assert (4, 0x000200, 0xFFFFFFFF) in writes and (4, 0x700000, 0xDEADBEEF) in writes
