// SPDX-License-Identifier: GPL-2.0-only
/*
 * ioremap, iounmap and single accesses on demand, for the mmiotrace tests:
 * each exported function is called by the test (Machine.call) with the
 * addresses it wants, so a test controls exactly which mappings exist when
 * tracing starts and stops, and which accesses go through them.
 */
#include <linux/module.h>
#include <linux/io.h>
#include <linux/delay.h>
#include <linux/mmiotrace.h>

unsigned long map(unsigned long phys, unsigned long size)
{
	return (unsigned long)ioremap(phys, size);
}

void unmap(unsigned long cookie)
{
	iounmap((void __iomem *)cookie);
}

u64 rd32(unsigned long addr)
{
	return readl((void __iomem *)addr);
}

void wr32(unsigned long addr, u64 v)
{
	writel(v, (void __iomem *)addr);
}

u64 rd64(unsigned long addr)
{
	return readq((void __iomem *)addr);
}

/* n dword writes of i at addr + 4*i, then n reads back: 2n accesses. */
u64 burst(unsigned long addr, unsigned long n)
{
	unsigned long i;
	u64 sum = 0;

	for (i = 0; i < n; i++)
		writel(i, (void __iomem *)addr + 4 * (i & 0x3ff));
	for (i = 0; i < n; i++)
		sum += readl((void __iomem *)addr + 4 * (i & 0x3ff));
	return sum;
}

/* A plain RAM loop: what tracing must not slow down. */
u64 ram_work(unsigned long n)
{
	static volatile u32 buf[1024];
	unsigned long i;
	u64 sum = 0;

	for (i = 0; i < n; i++) {
		buf[i & 1023] = i;
		sum += buf[(i * 7) & 1023];
	}
	return sum;
}

/* A read with the trap flag already set, as under a debugger: the CPU traps
 * after every instruction between the two popfs. */
u64 rd32_single_stepped(unsigned long addr)
{
	u32 v;

	asm volatile("pushfq\n\t"
		     "orq $0x100, (%%rsp)\n\t"
		     "popfq\n\t"
		     "movl (%1), %0\n\t"
		     "pushfq\n\t"
		     "andq $~0x100, (%%rsp)\n\t"
		     "popfq"
		     : "=r"(v) : "r"(addr) : "memory", "cc");
	return v;
}

int mark(unsigned long n)
{
	return mmiotrace_printk("mark %lu\n", n);
}

/* A write, a delay of us microseconds, a write (the delay moves trace time). */
void wr_delay_wr(unsigned long addr, unsigned long us)
{
	writel(1, (void __iomem *)addr);
	udelay(us);
	writel(2, (void __iomem *)addr);
}

/* Set by the test, in RAM, while burst_then_wait spins on it. */
static volatile u32 release;

unsigned long release_flag(void)
{
	return (unsigned long)&release;
}

/* n dword writes, then spin (no MMIO, no kernel calls) until released. */
u64 burst_then_wait(unsigned long addr, unsigned long n)
{
	unsigned long i;
	u64 spins = 0;

	release = 0;
	for (i = 0; i < n; i++)
		writel(i, (void __iomem *)addr + 4 * (i & 0x3ff));
	while (!release)
		spins++;
	return spins;
}

static int __init maps_init(void)
{
	return 0;
}

static void __exit maps_exit(void)
{
}

module_init(maps_init);
module_exit(maps_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("ioremap and accesses on demand, for the mmiotrace tests");
