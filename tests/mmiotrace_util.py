"""Helpers for the mmiotrace tests: a traced machine, pipe draining, goldens,
and the kernel's printf grammar for every line mmiotrace can print."""

from __future__ import annotations

import errno
import functools
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ftrace_mmio.machine.machine import Machine
from ftrace_mmio.mmiotrace.mmio_mod import MmiotraceParams
from ftrace_mmio.mmiotrace.tracer import MmiotraceTracer, attach
from ftrace_mmio.trace.array import TraceArray
from ftrace_mmio.trace.clock import TimeBase
from ftrace_mmio.trace.pipe import PipeReader

GOLDEN = Path(__file__).resolve().parent / "golden"
DRIVERS = Path(__file__).resolve().parent / "drivers"
# Regenerate goldens with FTRACE_MMIO_UPDATE_GOLDEN=1 (then review the diff).
UPDATE = os.environ.get("FTRACE_MMIO_UPDATE_GOLDEN") == "1"

TESTMMIO_BAR0 = 0xFD000000
NVLIKE_BAR0 = 0xF6000000
UART_BAR0 = 0xFE000000

# -- the kernel's formats (mmiotrace.md §1), as regular expressions -------------

_TS = r"\d+\.\d{6}"
_HEX = r"0x(?:0|[1-9a-f][0-9a-f]*)"
_X = r"(?:0|[1-9a-f][0-9a-f]*)"
GRAMMAR: dict[str, re.Pattern[str]] = {
    "VERSION": re.compile(r"VERSION 20070824\n"),
    "PCIDEV": re.compile(rf"PCIDEV [0-9a-f]{{4}} [0-9a-f]{{8}} {_X}(?: {_X}){{14}} (?:\S+)?\n"),
    "RW": re.compile(rf"[RW] [1248] {_TS} \d+ {_HEX} {_HEX} {_HEX} 0\n"),
    "MAP": re.compile(rf"MAP {_TS} \d+ {_HEX} {_HEX} {_HEX} 0x0 0\n"),
    "UNMAP": re.compile(rf"UNMAP {_TS} (?:\d+|-1) 0x0 0\n"),
    "UNKNOWN": re.compile(rf"UNKNOWN {_TS} \d+ {_HEX} [0-9a-f]{{2}},[0-9a-f]{{2}},[0-9a-f]{{2}} {_HEX} 0\n"),
    "LOST": re.compile(r"MARK 0\.000000 Lost [1-9]\d* events\.\n"),
    "MARK": re.compile(rf"MARK {_TS} [^\n]*\n"),
    "CPU_LOST": re.compile(r"CPU:\d+ \[LOST \d+ EVENTS\]\n"),
}


def line_kind(line: str) -> str | None:
    """Which kernel format ``line`` (with its newline) matches, or None."""
    for kind, pattern in GRAMMAR.items():
        if pattern.fullmatch(line):
            return kind
    return None


def check_grammar(text: str) -> list[str]:
    """Every line of a trace_pipe stream matches one of the kernel's formats."""
    lines = text.splitlines(keepends=True)
    bad = [line for line in lines if line_kind(line) is None]
    assert not bad, f"{len(bad)} lines match no kernel format, first: {bad[0]!r}"
    return lines


@dataclass(frozen=True)
class Event:
    kind: str          # R W MAP UNMAP UNKNOWN MARK LOST
    fields: tuple[str, ...]

    @property
    def width(self) -> int:
        return int(self.fields[0])

    @property
    def phys(self) -> int:
        return int(self.fields[3], 16)

    @property
    def value(self) -> int:
        return int(self.fields[4], 16)

    @property
    def pc(self) -> int:
        return int(self.fields[5], 16)

    @property
    def ts(self) -> float:
        """Seconds, as printed (the second field of R/W lines, the first of the others)."""
        return float(self.fields[1] if self.kind in ("R", "W") else self.fields[0])

    @property
    def map_id(self) -> int:
        return int(self.fields[2] if self.kind in "RW" else self.fields[1])


def events(text: str) -> list[Event]:
    """The event lines of a trace (header and generic LOST lines left out)."""
    out = []
    for line in check_grammar(text):
        kind = line_kind(line)
        if kind in ("VERSION", "PCIDEV", "CPU_LOST"):
            continue
        parts = line.rstrip("\n").split(" ")
        if kind == "RW":
            out.append(Event(parts[0], tuple(parts[1:])))
        elif kind == "LOST":
            out.append(Event("LOST", (parts[3],)))
        else:
            out.append(Event(parts[0], tuple(parts[1:])))
    return out


def rw(evs: list[Event]) -> list[tuple[str, int, int, int]]:
    """(kind, width, phys, value) of the R and W events."""
    return [(e.kind, e.width, e.phys, e.value) for e in evs if e.kind in ("R", "W")]


# -- whole runs ----------------------------------------------------------------------

#: Every bundled driver and the instruction-class driver, with their arguments:
#: what the engine and hot-path comparisons run.
DRIVERS_UNDER_TEST = [
    ("testmmiotrace", [f"mmio_address={TESTMMIO_BAR0:#x}"]),
    ("nvlike", []),
    ("uart16550", []),
    (str(DRIVERS / "mmio_insns.c"), []),
]


def trace_dump(cache: Path, target: str, args: list[str], **params) -> bytes:
    """``ftrace-mmio run`` of one driver with the deterministic clock: the whole trace_pipe stream."""
    from ftrace_mmio.cli.run import trace_run

    out = io.BytesIO()
    failure, _ = trace_run(target, args, out, clock="det", params=MmiotraceParams(**params),
                           machine_factory=functools.partial(Machine, cache_dir=cache))
    assert failure is None, failure
    return out.getvalue()


def first_difference(a: bytes, b: bytes, names: tuple[str, str]) -> str:
    """Where two traces part, for a failure message."""
    x, y = a.decode().splitlines(), b.decode().splitlines()
    i = next((i for i, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y)))
    return (f"line {i + 1}: {names[0]} {x[i] if i < len(x) else '<end>'!r}, "
            f"{names[1]} {y[i] if i < len(y) else '<end>'!r} ({len(x)} vs {len(y)} lines)")


# -- a traced machine ---------------------------------------------------------------


class Traced:
    """A machine with its trace array and the mmiotrace tracer attached."""

    def __init__(self, cache_dir: Path, params: MmiotraceParams = MmiotraceParams(),
                 clock: str = "det", nr_cpus: int = 2, buffer_size_kb: int | None = None) -> None:
        self.time_base = TimeBase()
        self.array = TraceArray(nr_cpus=nr_cpus, time_base=self.time_base,
                                buffer_size_kb=buffer_size_kb, clock=clock)
        self.machine = Machine(time_base=self.time_base, cache_dir=cache_dir)
        self.tracer: MmiotraceTracer = attach(self.array, self.machine, params)

    def enable(self) -> None:
        self.array.set_tracer("mmiotrace")

    def disable(self) -> None:
        self.array.set_tracer("nop")

    def open_pipe(self) -> PipeReader:
        return self.array.open_pipe()

    def dmesg(self, since: int = 0) -> list[str]:
        return [r.text for r in self.machine.dmesg(since)]

    def last_seq(self) -> int:
        records = self.machine.dmesg()
        return records[-1].seq if records else 0

    def call(self, fn: str, *args: int, module: str = "mmio_maps") -> int:
        return self.machine.call(module, fn, *args)

    def close(self) -> None:
        if self.array.tracer.name != "nop" and not self.array.pipes_open:
            self.disable()
        self.machine.close()


def drain(pipe: PipeReader, size: int = 128 * 1024) -> str:
    """Read trace_pipe like cat until it would block; the text read."""
    out = bytearray()
    while True:
        try:
            out += pipe.read(size, nonblock=True)
        except OSError as exc:
            if exc.errno == errno.EAGAIN:
                return out.decode("utf-8", "surrogateescape")
            raise


def golden(name: str, produced: bytes) -> None:
    """``produced`` equals tests/golden/NAME byte for byte (or becomes it with UPDATE)."""
    path = GOLDEN / name
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_bytes(produced)
    expected = path.read_bytes()
    if produced != expected:
        exp = expected.decode(errors="replace").splitlines(keepends=True)
        got = produced.decode(errors="replace").splitlines(keepends=True)
        first = next((i for i, (a, b) in enumerate(zip(exp, got)) if a != b), min(len(exp), len(got)))
        raise AssertionError(
            f"{name}: differs from the golden at line {first + 1}: "
            f"expected {exp[first] if first < len(exp) else '<end>'!r}, "
            f"got {got[first] if first < len(got) else '<end>'!r} "
            f"({len(exp)} lines expected, {len(got)} produced)")


def expected_testmmiotrace(base: int = TESTMMIO_BAR0, read_far: int = 0x400100) -> list[tuple[str, int, int, int]]:
    """The R/W sequence the kernel's testmmiotrace makes (mmiotrace.md §6.2)."""
    seq: list[tuple[str, int, int, int]] = []
    for kind in ("W", "R"):
        seq += [(kind, 1, base + i, i) for i in range(256)]
        seq += [(kind, 2, base + i, (12 * i + 7) & 0xFFFF) for i in range(1024, 5120, 2)]
        seq += [(kind, 4, base + i, (212371 * i + 13) & 0xFFFFFFFF) for i in range(5120, 16384, 4)]
    # The far read: nothing was written there, the framebuffer reads 0.
    seq.append(("R", 4, base + read_far, 0))
    return seq
