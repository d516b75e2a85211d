#!/usr/bin/env python3
"""The design users would otherwise pick: unicorn memory hooks over the MMIO range.

``UC_HOOK_MEM_READ_AFTER`` + ``UC_HOOK_MEM_WRITE`` bounded to the device BAR
(physical addresses, emulation.md P12), registered raw through ctypes (the
stock binding rejects READ_AFTER, P9). Each callback reads RIP and appends
``(pc, kind, phys, width, value)`` to a list: no decoding, no ring buffer,
no formatting -- the cheapest honest version of that design. The catch
(emulation.md P5): while such a hook exists every load and store of the
guest, RAM included, takes unicorn's slow path.

Same machine, driver and workloads as ftrace_mmio.mmiotrace.bench, so
scripts/bench can print the ratio in the same run.

example:
  .venv/bin/python scripts/baseline_memhooks.py --rounds 20000
"""

from __future__ import annotations

import argparse
import ctypes
import sys
from typing import Any

from unicorn import unicorn_const as ucc
from unicorn import x86_const as x86
from unicorn.unicorn_py3.unicorn import HOOK_MEM_ACCESS_CFUNC, uc_hook_h, uclib

from ftrace_mmio.mmiotrace.bench import _Bench

BAR = 0xFD00_0000     # what the bench driver ioremaps (testmmio BAR0)
BAR_SIZE = 0x4000


class MemHookTracer:
    """Records every access to [BAR, BAR+size) from memory hooks."""

    def __init__(self, bench: _Bench, start: int = BAR, size: int = BAR_SIZE) -> None:
        self.cpu = bench.machine.cpu
        self.records: list[tuple[int, str, int, int, int]] = []
        self._cb = HOOK_MEM_ACCESS_CFUNC(self._on_access)
        self._handles: list[uc_hook_h] = []
        self._range = (start, start + size - 1)

    def _on_access(self, _uch, access: int, addr: int, size: int, value: int, _ud) -> None:
        rip = ctypes.c_uint64()
        uclib.uc_reg_read(self.cpu.uch, x86.UC_X86_REG_RIP, ctypes.byref(rip))
        self.records.append((rip.value, "W" if access == ucc.UC_MEM_WRITE else "R", addr, size,
                             value & ((1 << 8 * size) - 1)))

    def install(self) -> None:
        for kind in (ucc.UC_HOOK_MEM_READ_AFTER, ucc.UC_HOOK_MEM_WRITE):
            h = uc_hook_h()
            status = uclib.uc_hook_add(self.cpu.uch, ctypes.byref(h), kind, self._cb, None,
                                       ctypes.c_uint64(self._range[0]), ctypes.c_uint64(self._range[1]))
            if status != ucc.UC_ERR_OK:
                raise RuntimeError(f"uc_hook_add failed: {status}")
            self._handles.append(h)
        # Code translated before the hooks existed would not call them.
        self.cpu.flush_code_cache()

    def remove(self) -> None:
        for h in self._handles:
            uclib.uc_hook_del(self.cpu.uch, h)
        self._handles.clear()
        self.cpu.flush_code_cache()


def _timed(function: str, n: int, rounds: int) -> dict[str, float]:
    """CPU time of ``function(n)`` without hooks, then with the memory hooks."""
    b = _Bench()
    try:
        b.load()
        plain = b.cpu_time(function, n, rounds)
        tracer = MemHookTracer(b)
        b.machine.run_on_cpu(tracer.install)
        hooked = b.cpu_time(function, n, rounds)
        b.machine.run_on_cpu(tracer.remove)
        recorded = len(tracer.records)
    finally:
        b.close()
    return {"plain_s": plain, "hooked_s": hooked, "records": recorded}


def access_cost(n: int = 20000, rounds: int = 3, function: str = "mmio_loop") -> dict[str, Any]:
    t = _timed(function, n, rounds)
    accesses = 2 * n if function == "mmio_loop" else n
    return {"function": function, "accesses": accesses, "untraced_s": t["plain_s"], "traced_s": t["hooked_s"],
            "traced_us_per_access": t["hooked_s"] / accesses * 1e6,
            "tracing_cost_us_per_access": (t["hooked_s"] - t["plain_s"]) / accesses * 1e6}


def non_mmio_slowdown(n: int = 5_000_000, rounds: int = 3) -> dict[str, Any]:
    t = _timed("ram_loop", n, rounds)
    return {"iterations": n, "plain_ms": t["plain_s"] * 1e3, "hooked_ms": t["hooked_s"] * 1e3,
            "slowdown_percent": (t["hooked_s"] / t["plain_s"] - 1) * 100}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Trace the bench driver with unicorn memory hooks (the baseline design).",
        epilog="example:\n  .venv/bin/python scripts/baseline_memhooks.py --rounds 20000",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20000, help="loop rounds per workload")
    args = parser.parse_args(argv)
    for function in ("mmio_loop", "driver_loop"):
        r = access_cost(args.rounds, function=function)
        print(f"{function}: {r['traced_us_per_access']:.2f} us per traced access "
              f"({r['tracing_cost_us_per_access']:.2f} over untraced)")
    print(f"non-MMIO slowdown: {non_mmio_slowdown()['slowdown_percent']:+.0f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
