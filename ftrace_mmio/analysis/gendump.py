"""Large synthetic dumps for benchmarks and tests, shaped like a driver's trace.

An nvlike device (so the registers have names) whose driver, over and over:
writes a few registers, polls a status register until it changes (period
1), polls status and a timer together (period 2), reads the two halves of a
64-bit counter, writes a doorbell, and now and then leaves a marker or goes
quiet for a while (a gap). Timestamps rise by a microsecond or two per line.
Deterministic for a seed; written in blocks, so ``lines`` may be in the
hundreds of millions at a fixed memory cost.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import BinaryIO

__all__ = ["HEADER", "write_dump", "write_repeated", "generate"]

HEADER = (
    "VERSION 20070824\n"
    "PCIDEV 0010 10de1180 10 f6000000 e000000c 0 f000000c 0 e001 f7000000 1000000 8000000 0 2000000 0 80 80000 \n"
    "MAP 0.000008 1 0xf6000000 0xffffc90001000000 0x1000000 0x0 0\n"
)
BAR0 = 0xF6000000
#: nvlike offsets: PMC_BOOT_0, PMC_ENABLE, a PTIMER pair, PFIFO-ish status, a scratch bank.
STATUS, TIMER0, TIMER1, ENABLE, BOOT, DOORBELL = 0x9410, 0x9400, 0x9410, 0x200, 0x0, 0x2500


def _block(rng: random.Random, ts: int, budget: int) -> tuple[list[str], int]:
    out: list[str] = []
    a = out.append

    def line(op: str, off: int, value: int) -> None:
        nonlocal ts
        ts += rng.choice((1, 1, 2))
        a(f"{op} 4 {ts // 1_000_000}.{ts % 1_000_000:06d} 1 0x{BAR0 + off:x} 0x{value:x} 0x0 0\n")

    line("W", ENABLE, 0xFFFFFFFF)
    line("R", BOOT, 0xE4000A1)
    spins = rng.randint(3, 60)
    for _ in range(spins):
        line("R", STATUS, 0)
    line("R", STATUS, 1)
    t = rng.randint(0, 1 << 20)
    for _ in range(rng.randint(2, 30)):
        line("R", TIMER0, t)
        t += 0x40
        line("R", 0x9408, 0)
    hi = rng.randint(0, 7)
    for _ in range(rng.randint(1, 4)):
        line("R", 0x9404, hi)
        line("R", 0x9400, rng.randint(0, 0xFFFFFFFF))
    for i in range(rng.randint(1, 8)):
        line("W", 0x700000 + 4 * rng.randint(0, 255), rng.randint(0, 0xFFFFFFFF))
    line("W", DOORBELL, rng.randint(0, 15))
    if rng.random() < 0.02:
        ts += rng.randint(100, 5000)           # the driver slept
    if rng.random() < 0.01:
        a(f"MARK {ts // 1_000_000}.{ts % 1_000_000:06d} step {rng.randint(0, 1 << 16)}\n")
    return out, ts


def write_dump(out: BinaryIO, lines: int, seed: int = 1) -> int:
    """Write a dump of at least ``lines`` lines (whole driver iterations); returns the count."""
    rng = random.Random(seed)
    out.write(HEADER.encode())
    n = HEADER.count("\n")
    ts = 8
    pending: list[str] = []
    while n < lines:
        block, ts = _block(rng, ts, lines - n)
        pending += block
        n += len(block)
        if len(pending) > 50_000:
            out.write("".join(pending).encode())
            pending.clear()
    out.write("".join(pending).encode())
    return n


def write_repeated(out: BinaryIO, lines: int, seed: int = 1, block_lines: int = 400_000) -> int:
    """Like :func:`write_dump`, fast enough for hundreds of millions of lines.

    One second's worth of driver iterations is made once, with its
    timestamps' seconds left as a placeholder; the dump is that second again
    and again, each copy in the next second (``bytes.replace`` per copy, so
    the cost is the disk's). Timestamps still rise; the traffic repeats.
    """
    rng = random.Random(seed)
    out.write(HEADER.encode())
    n = HEADER.count("\n")
    ts, block = 8, []
    while len(block) < block_lines:
        part, ts = _block(rng, ts, block_lines)
        if ts >= 990_000:
            break
        block += part
    # The seconds field of every line is 0: make it a placeholder.
    template = "".join(block).replace(" 0.", " @.").encode()
    per = len(block)
    second = 0
    while n < lines:
        out.write(template.replace(b"@", str(second).encode()))
        n += per
        second += 1
    return n


def generate(path: str | Path, lines: int, seed: int = 1, *, fast: bool = False) -> int:
    """``write_dump`` (or ``write_repeated`` with ``fast``) into a file."""
    with open(path, "wb") as f:
        return (write_repeated if fast else write_dump)(f, lines, seed)
