"""What tracing costs: figures for scripts/bench (and ``python -m ftrace_mmio.mmiotrace.bench``).

Each function boots its own default machine, loads a small driver compiled
from the source below, and returns a dict of figures with the method in
words. Timings are CPU time of the machine's CPU thread (less disturbed by
other processes than wall time), best of several rounds; they are printed,
never asserted.

* :func:`traced_access_cost`: µs per traced MMIO access, from the page
  fault to the record in the ring buffer (mmiotrace selected, trace_pipe
  not read), minus the same loop untraced; the kmmio mechanism alone
  (fault, step, trap, no decode or record) is reported beside it.
* :func:`non_mmio_slowdown`: a RAM-only loop with mmiotrace enabled and a
  mapping armed, against the same loop with the nop tracer.
* :func:`rss_over_accesses`: resident set size sampled while N accesses are
  traced with the default buffer: flat once the ring buffer is full.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from ..machine.machine import Machine
from ..trace.array import TraceArray
from ..trace.clock import TimeBase
from .mmio_mod import MmiotraceParams
from .tracer import MmiotraceTracer, attach

BENCH_DRIVER = r"""
#include <linux/module.h>
#include <linux/io.h>

static void __iomem *base;

static int __init bench_init(void)
{
	base = ioremap(0xfd000000, 0x4000);
	return base ? 0 : -ENOMEM;
}

static void __exit bench_exit(void)
{
	iounmap(base);
}

/* 2n traced accesses: a dword store and a dword load per round. */
unsigned long mmio_loop(unsigned long n)
{
	unsigned long i, sum = 0;

	for (i = 0; i < n; i++) {
		writel(i, base + (i & 0xffc));
		sum += readl(base + (i & 0xffc));
	}
	return sum;
}

/* A realistic driver: one MMIO access per ~100 instructions of compute. */
unsigned long driver_loop(unsigned long n)
{
	static volatile unsigned int work[256];
	unsigned long i, j, sum = 0;

	for (i = 0; i < n; i++) {
		for (j = 0; j < 12; j++) {
			work[(i + j) & 255] = sum + j;
			sum = sum * 31 + work[(i * 3 + j) & 255];
		}
		writel(sum, base + (i & 0xffc));
	}
	return sum;
}

/* No MMIO at all: stores and loads to a RAM array. */
unsigned long ram_loop(unsigned long n)
{
	static volatile unsigned int buf[1024];
	unsigned long i, sum = 0;

	for (i = 0; i < n; i++) {
		buf[i & 1023] = i;
		sum += buf[(i * 7) & 1023];
	}
	return sum;
}

module_init(bench_init);
module_exit(bench_exit);
MODULE_LICENSE("GPL");
"""

NAME = "mmiobench"


class _Bench:
    def __init__(self, decoder: str = "full", buffer_size_kb: int | None = None, engine: str = "faithful",
                 native: bool = True) -> None:
        self.time_base = TimeBase()
        self.array = TraceArray(nr_cpus=2, time_base=self.time_base, buffer_size_kb=buffer_size_kb)
        self.machine = Machine(time_base=self.time_base)
        params = MmiotraceParams(decoder=decoder, engine=engine, native=native)
        self.tracer: MmiotraceTracer = attach(self.array, self.machine, params)
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp) / f"{NAME}.c"
            source.write_text(BENCH_DRIVER)
            self._obj = self.machine.compiler.compile_file(source, NAME).obj

    def load(self) -> None:
        if NAME in self.machine.modules:
            self.machine.rmmod(NAME)
        self.machine.insmod_object(self._obj, NAME)

    def cpu_time(self, function: str, n: int, rounds: int = 3) -> float:
        """Best CPU time (s) of ``rounds`` calls, measured on the CPU thread, GC off."""
        machine = self.machine

        def measure() -> float:
            best = float("inf")
            enabled = gc.isenabled()
            gc.disable()
            try:
                for _ in range(rounds):
                    t0 = time.thread_time()
                    machine.call(NAME, function, n)
                    best = min(best, time.thread_time() - t0)
            finally:
                if enabled:
                    gc.enable()
            return best

        return machine.run_on_cpu(measure)

    def close(self) -> None:
        if self.array.tracer.name != "nop":
            self.array.set_tracer("nop")
        self.machine.close()


def traced_access_cost(n: int = 20000, decoder: str = "full", rounds: int = 3,
                       engine: str = "faithful", function: str = "mmio_loop", native: bool = True) -> dict[str, Any]:
    """µs per traced access, the whole path including the ring-buffer commit.

    ``function`` is ``mmio_loop`` (2 accesses per round) or ``driver_loop``
    (1 access per ~100 instructions). ``native``: the faithful engine steps
    plain movs in C (the default) or everything in Python."""
    b = _Bench(decoder, engine=engine, native=native)
    try:
        b.load()
        untraced = b.cpu_time(function, n, rounds)
        b.array.set_tracer("mmiotrace")
        b.load()                                  # ioremap again, now traced
        traced = b.cpu_time(function, n, rounds)
        traced += _drain_cost(b)
        in_c = b.tracer.mmio.native.stepped if b.tracer.mmio.native is not None else 0
        mechanism = float("nan")
        if engine == "faithful" and b.tracer.mmio.native is None:
            for trace in b.tracer.mmio.trace_list:   # the mechanism alone
                trace.probe.pre_handler = None
                trace.probe.post_handler = None
            mechanism = b.cpu_time(function, n, rounds)
    finally:
        b.close()
    accesses = 2 * n if function == "mmio_loop" else n
    per = (traced - untraced) / accesses * 1e6
    return {
        "decoder": decoder,
        "engine": engine,
        "accesses": accesses,
        "untraced_s": untraced,
        "traced_s": traced,
        "untraced_us_per_access": untraced / accesses * 1e6,
        "traced_us_per_access": traced / accesses * 1e6,
        "tracing_cost_us_per_access": per,
        "traced_accesses_per_s": accesses / traced,
        "kmmio_only_cost_us_per_access": (mechanism - untraced) / accesses * 1e6,
        "stepped_in_c": in_c,
        "method": f"{n} rounds of {function} on testmmio BAR0, CPU time of the CPU thread, "
                  f"best of {rounds}, plus handing the last batch of records over; cost = traced - "
                  "untraced; kmmio only (Python path) = the same with the pre/post handlers removed "
                  "(fault, step, trap, re-arm; no decode, no record)",
    }


def _drain_cost(b: _Bench) -> float:
    """CPU time to hand over the records still held back for a batch.

    Both engines hand records to the ring buffer in batches; those of the
    last partial batch are charged here so that every traced access is
    paid for in full."""
    t0 = time.thread_time()
    b.tracer.hand_over()
    return time.thread_time() - t0


def non_mmio_slowdown(n: int = 20_000_000, rounds: int = 3, engine: str = "faithful") -> dict[str, Any]:
    """A RAM-only loop with mmiotrace enabled and pages armed vs. the nop tracer."""
    b = _Bench(engine=engine)
    try:
        b.load()
        plain = b.cpu_time("ram_loop", n, rounds)
        b.array.set_tracer("mmiotrace")
        b.load()
        armed = len(b.tracer.mmio.kmmio.pages)
        traced = b.cpu_time("ram_loop", n, rounds)
    finally:
        b.close()
    return {
        "iterations": n,
        "nop_ms": plain * 1e3,
        "mmiotrace_ms": traced * 1e3,
        "armed_pages": armed,
        "slowdown_percent": (traced / plain - 1) * 100,
        "method": f"{n} RAM store+load iterations, CPU time of the CPU thread, best of {rounds}",
    }


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def rss_over_accesses(n: int = 1_000_000, samples: int = 10,
                      progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """RSS while ``n`` accesses are traced into the default buffer, nobody reading."""
    b = _Bench()
    try:
        b.array.set_tracer("mmiotrace")
        b.load()
        chunk = max(1, n // (2 * samples))
        rss = [_rss_kb()]
        full_at = None
        for i in range(samples):
            b.machine.call(NAME, "mmio_loop", chunk)
            rss.append(_rss_kb())
            if progress is not None:
                progress(i + 1, samples)
            if full_at is None and b.array.buffer.overruns():
                full_at = i + 1            # the buffer was full during this chunk
        entries = b.array.buffer.entries()
        overruns = b.array.buffer.overruns()
    finally:
        b.close()
    return {
        "accesses": 2 * chunk * samples,
        "rss_kb": rss,
        "entries_kept": entries,
        "overruns": overruns,
        # From the first sample taken after a whole chunk ran with the buffer
        # full (allocator warm-up done) to the last.
        "growth_after_buffer_full_kb": (rss[-1] - rss[full_at + 1]) if full_at is not None and full_at < samples else None,
        "peak_rss_kb": max(rss),
        "method": f"RSS sampled every {2 * chunk} traced accesses, default buffer (1408 KB per CPU)",
    }


def _print(name: str, figures: dict[str, Any], out: Callable[[str], None]) -> None:
    out(f"{name}:")
    for key, value in figures.items():
        if isinstance(value, float):
            value = f"{value:.2f}"
        out(f"  {key}: {value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ftrace_mmio.mmiotrace.bench",
        description="Measure what mmiotrace costs on this machine and print the figures.",
        epilog="example:\n  python -m ftrace_mmio.mmiotrace.bench --rss-accesses 10000000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--accesses", type=int, default=20000, help="rounds for the per-access cost")
    parser.add_argument("--rss-accesses", type=int, default=1_000_000, help="traced accesses for the RSS check")
    args = parser.parse_args(argv)
    out = print
    _print("traced access (decoder full)", traced_access_cost(args.accesses, "full"), out)
    _print("traced access (decoder pf_in)", traced_access_cost(args.accesses, "pf_in"), out)
    _print("non-MMIO code with pages armed", non_mmio_slowdown(), out)
    _print("RSS over traced accesses", rss_over_accesses(args.rss_accesses), out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
