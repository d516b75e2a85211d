"""Machine benchmarks (printed by scripts/bench).

* compute: a driver's arithmetic loop over a stack array, no MMIO, run as
  module code on the machine and as the very same bytes on a bare unicorn
  with no hooks, both flat (no paging) and paged like the machine.  The
  machine's hooks are bounded (stub page, BARs) or fire only on
  exceptions, so it should run as fast as the faster bare set-up (the
  issue asks for at most 1.10 times).
* kernel API: µs per call of a stub-page function, measured as the time of
  a loop of calls minus the same loop calling an empty local function.
* MMIO: µs per untraced readl through the device path.

Times are the best of a few wall-clock runs after a warm-up; run-to-run
noise on a shared host is easily 10-15 %.
"""

from __future__ import annotations

import io
import time
from typing import Any, Callable

from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection
from unicorn import UC_ARCH_X86, UC_MODE_64, UC_PROT_EXEC, UC_PROT_READ, UC_PROT_WRITE, Uc
from unicorn import x86_const as x86

BENCH_SOURCE = r"""
#include <linux/module.h>
#include <linux/io.h>
#include <linux/pci.h>

/* Self-contained: no relocations, so the same bytes run anywhere. */
noinline unsigned long compute(unsigned long n)
{
	unsigned int buf[64];
	unsigned long i, acc = 0;

	for (i = 0; i < 64; i++)
		buf[i] = i * 2654435761u;
	for (i = 0; i < n; i++) {
		unsigned int x = buf[i & 63];

		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[(i * 7) & 63] = x;
		acc += x;
	}
	return acc;
}

static noinline void nothing(void *p)
{
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

unsigned long local_calls(unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		nothing(0);
	return n;
}

unsigned long api_calls(unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		pci_dev_put(0);
	return n;
}

unsigned long mmio_reads(unsigned long n)
{
	void __iomem *p = ioremap(0xfd000000, 4096);
	unsigned long i, acc = 0;

	if (!p)
		return 0;
	for (i = 0; i < n; i++)
		acc += readl(p + ((i & 63) << 2));
	iounmap(p);
	return acc;
}

MODULE_LICENSE("GPL");
"""


def _best_time(fn: Callable[[], Any], repeat: int) -> float:
    """The fastest of ``repeat`` runs (after one warm-up that translates
    the code): the least disturbed by whatever else the host does."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _function_bytes(obj: bytes, name: str) -> bytes:
    elf = ELFFile(io.BytesIO(obj))
    symtab = elf.get_section_by_name(".symtab")
    sym = next(s for s in symtab.iter_symbols() if s.name == name)
    text = elf.get_section(sym["st_shndx"])
    start, size = sym["st_value"], sym["st_size"]
    for sec in elf.iter_sections():
        if isinstance(sec, RelocationSection) and sec["sh_info"] == sym["st_shndx"]:
            if any(start <= r["r_offset"] < start + size for r in sec.iter_relocations()):
                raise RuntimeError(f"{name} has relocations; it cannot run bare")
    return text.data()[start:start + size]


def _bare_runner(code: bytes, paged: bool) -> Callable[[int], int]:
    """The function's bytes on a plain unicorn, no hooks.  Flat: code RX,
    stack RW, no paging.  Paged: the same 4-level, NX-data set-up the
    machine uses (which unicorn runs faster, emulation.md P7)."""
    mu = Uc(UC_ARCH_X86, UC_MODE_64)
    code_pa, stack_pa, tables_pa = 0x400000, 0x800000, 0x100000
    code_va, stack_va = (0xFFFFFFFFC0000000, 0xFFFFC90000001000) if paged else (code_pa, stack_pa)
    stack_size = 0x4000
    mu.mem_map(tables_pa, 0x10000, UC_PROT_READ | UC_PROT_WRITE)
    mu.mem_map(code_pa, 0x10000, UC_PROT_READ | UC_PROT_EXEC)
    mu.mem_map(stack_pa, stack_size, UC_PROT_READ | UC_PROT_WRITE)
    mu.mem_write(code_pa + 0x1000, code)
    mu.mem_write(code_pa, b"\xf4" * 0x20)
    if paged:
        free = iter(range(tables_pa + 0x1000, tables_pa + 0x10000, 0x1000))

        def map_page(va: int, pa: int, flags: int) -> None:
            table = tables_pa
            for shift in (39, 30, 21):
                at = table + 8 * ((va >> shift) & 511)
                entry = int.from_bytes(mu.mem_read(at, 8), "little")
                if not entry & 1:
                    entry = next(free) | 0x23
                    mu.mem_write(at, entry.to_bytes(8, "little"))
                table = entry & 0x000F_FFFF_FFFF_F000
            mu.mem_write(table + 8 * ((va >> 12) & 511), (pa | flags | 0x60).to_bytes(8, "little"))
        for off in range(0, 0x10000, 0x1000):
            map_page(code_va + off, code_pa + off, 0x1)
        for off in range(0, stack_size, 0x1000):
            map_page(stack_va + off, stack_pa + off, 0x3 | 1 << 63)
        mu.reg_write(x86.UC_X86_REG_CR3, tables_pa)
        mu.reg_write(x86.UC_X86_REG_CR4, mu.reg_read(x86.UC_X86_REG_CR4) | 1 << 5)
        mu.msr_write(0xC0000080, mu.msr_read(0xC0000080) | 1 << 11)
        mu.reg_write(x86.UC_X86_REG_CR0, mu.reg_read(x86.UC_X86_REG_CR0) | 1 << 31 | 1 << 16 | 1)
    ret = code_va + 0x10

    def run(n: int) -> int:
        mu.mem_write(stack_pa + stack_size - 8, ret.to_bytes(8, "little"))
        mu.reg_write(x86.UC_X86_REG_RSP, stack_va + stack_size - 8)
        mu.reg_write(x86.UC_X86_REG_RDI, n)
        mu.emu_start(code_va + 0x1000, ret)
        return mu.reg_read(x86.UC_X86_REG_RAX)
    return run


def bench_machine(loops: int = 10_000_000, calls: int = 100_000, reads: int = 20_000,
                  repeat: int = 5, machine: Any = None) -> dict[str, float]:
    """Run the benchmarks; returns the figures (seconds and microseconds)."""
    from .machine import Machine

    own = machine is None
    t0 = time.perf_counter()
    m = machine if machine is not None else Machine()
    boot_s = time.perf_counter() - t0
    try:
        result = m.compiler.compile_source(BENCH_SOURCE, "bench")
        m.insmod_object(result.obj, "bench")
        code = _function_bytes(result.obj, "compute")
        flat, paged = _bare_runner(code, False), _bare_runner(code, True)
        expect = m.call("bench", "compute", 1000)
        if flat(1000) != expect or paged(1000) != expect:
            raise RuntimeError("the machine and bare unicorn disagree on compute()")
        machine_s = _best_time(lambda: m.call("bench", "compute", loops), repeat)
        flat_s = _best_time(lambda: flat(loops), repeat)
        paged_s = _best_time(lambda: paged(loops), repeat)
        local_s = _best_time(lambda: m.call("bench", "local_calls", calls), repeat)
        api_s = _best_time(lambda: m.call("bench", "api_calls", calls), repeat)
        mmio_s = _best_time(lambda: m.call("bench", "mmio_reads", reads), repeat)
    finally:
        if own:
            m.close()
    return {
        "boot_s": boot_s,
        "compute_loops": float(loops),
        "compute_machine_s": machine_s,
        "compute_bare_flat_s": flat_s,
        "compute_bare_paged_s": paged_s,
        "compute_ratio": machine_s / min(flat_s, paged_s),
        "kapi_us_per_call": (api_s - local_s) / calls * 1e6,
        "mmio_read_us": mmio_s / reads * 1e6,
    }


def format_figures(fig: dict[str, float]) -> str:
    return "\n".join([
        f"machine boot:                 {fig['boot_s'] * 1000:8.1f} ms",
        f"compute loop ({int(fig['compute_loops'])} iterations):",
        f"  on the machine:             {fig['compute_machine_s'] * 1000:8.1f} ms",
        f"  bare unicorn, flat:         {fig['compute_bare_flat_s'] * 1000:8.1f} ms",
        f"  bare unicorn, paged + NX:   {fig['compute_bare_paged_s'] * 1000:8.1f} ms",
        f"  machine / fastest bare:     {fig['compute_ratio']:8.3f}   (target <= 1.10)",
        f"kernel API call:              {fig['kapi_us_per_call']:8.2f} us   (target <= 2)",
        f"untraced MMIO readl:          {fig['mmio_read_us']:8.2f} us",
    ])

