"""The trace path's figures for scripts/bench: end to end, and the readers.

* :func:`run_cost`: ``ftrace-mmio run DRIVER -o FILE`` done in process (the
  function behind the command: boot, insmod, read trace_pipe from a second
  thread, write the file), for a driver whose init makes ``accesses``
  traced accesses, with mmiotrace and then with nop in the same process;
  the difference per access is what tracing costs end to end.
* :func:`mmio_array`: a trace array with mmiotrace selected and ``events``
  mmiotrace_rw records written into its pages the way the engines write
  them (RingBuffer.commit_records), for the readers' figures (trace_pipe
  and trace, in process or over FUSE).

Wall-clock figures, printed, never asserted (tests never time anything).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from .rbnative import RECORD

E2E_DRIVER = r"""
#include <linux/module.h>
#include <linux/io.h>

static unsigned long rounds = 100000;
module_param(rounds, ulong, 0);

/* 2 * rounds traced accesses at load time, then nothing. */
static int __init e2e_init(void)
{
	void __iomem *base = ioremap(0xfd000000, 0x4000);
	unsigned long i, sum = 0;

	if (!base)
		return -ENOMEM;
	for (i = 0; i < rounds; i++) {
		writel(i, base + (i & 0xffc));
		sum += readl(base + (i & 0xffc));
	}
	iounmap(base);
	return sum == 1 ? -EINVAL : 0;
}

static void __exit e2e_exit(void)
{
}

module_init(e2e_init);
module_exit(e2e_exit);
MODULE_LICENSE("GPL");
"""


def run_cost(engine: str = "faithful", accesses: int = 200_000, pairs: int = 3) -> dict[str, Any]:
    """µs per traced access of ``run DRIVER -o FILE``: mmiotrace minus nop, same process
    (``pairs`` runs of each, interleaved, the best of each kind)."""
    from ..cli.run import trace_run
    from ..mmiotrace.mmio_mod import MmiotraceParams

    with tempfile.TemporaryDirectory(prefix="ftrace-mmio-e2e-") as tmp:
        src = Path(tmp, "e2e.c")
        src.write_text(E2E_DRIVER)
        out_path = Path(tmp, "out.txt")
        params = MmiotraceParams(engine=engine)
        arg = [f"rounds={accesses // 2}"]

        def one(tracer: str) -> tuple[float, float]:
            with out_path.open("wb") as out:
                start, cpu = time.perf_counter(), time.process_time()
                failure, _ = trace_run(str(src), arg, out, tracer=tracer, params=params)
                elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
            if failure:
                raise RuntimeError(failure)
            return elapsed, cpu

        one("nop")                       # compiles the driver and the kernel core (cached)
        # Booting costs ~10x what the accesses do: pairs, best of each, so
        # that a stall of the loaded machine in one run does not decide.
        nops, traces = [], []
        for _ in range(pairs):
            nops.append(one("nop"))
            traces.append(one("mmiotrace"))
        lines = out_path.read_bytes().count(b"\n")
        nop = (min(t[0] for t in nops), min(t[1] for t in nops))
        traced = (min(t[0] for t in traces), min(t[1] for t in traces))
    return {
        "us_per_access": (traced[1] - nop[1]) / accesses * 1e6,
        "wall_us_per_access": (traced[0] - nop[0]) / accesses * 1e6,
        "traced_s": traced[0],
        "nop_s": nop[0],
        "lines": lines,
        "method": f"trace_run (ftrace-mmio run) of a driver making {accesses} accesses at load, "
                  f"{engine} engine, output to a file, {pairs} runs of each; best CPU time of the process (all its threads: "
                  "the machine and the trace_pipe reader) with mmiotrace minus with nop, and the "
                  "same in best wall time (on a loaded machine, CPU time is the steadier figure)",
    }


def mmio_array(events: int) -> Any:
    """A trace array, mmiotrace selected (no machine), holding ``events`` R/W records."""
    from ..mmiotrace import tracer as _registers_mmiotrace  # noqa: F401
    from .array import TraceArray

    array = TraceArray(nr_cpus=1, buffer_size_kb=events * 44 // 1024 + 64)
    array.set_tracer("mmiotrace")
    pack = RECORD.pack
    batch = 4096
    for first in range(0, events, batch):
        n = min(batch, events - first)
        raw = b"".join([pack(1_000_000 + (first + i) * 1000, 0xFD000000 + ((first + i) & 0xFFC), first + i,
                             0, 1, 1 + (i & 1), 4) for i in range(n)])
        array.buffer.commit_records(raw, n, 0, 0)
    return array
