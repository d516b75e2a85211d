// SPDX-License-Identifier: GPL-2.0-only
/*
 * time_loops: the time idioms of real drivers, for tests/test_kernel_time.py.
 *
 * Each function is called by the test (Machine.call); init and exit do
 * nothing unless `gap_test=1`, which makes init access testmmio's BAR0 with
 * a udelay(100) and straight-line code in between (traced by the test).
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/io.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <asm/processor.h>

void __hv_idle(u64 deadline_ns);
u64 __jiffies_to_ktime_ns(unsigned long j);

static unsigned long mmio_address = 0xfd000000;
module_param(mmio_address, ulong, 0);
static int gap_test;
module_param(gap_test, int, 0);
static int hang;
module_param(hang, int, 0);
static unsigned long init_reads;
module_param(init_reads, ulong, 0);

u64 now_ns(void)
{
	return ktime_get_ns();
}

/* How far the next jiffy is, by __jiffies_to_ktime_ns: (0, one jiffy]. */
u64 next_jiffy_in(void)
{
	return __jiffies_to_ktime_ns(jiffies + 1) - ktime_get_ns();
}

/* Idle until `delta` ns from now (or an earlier device event); the ns that passed. */
u64 idle_for(u64 delta)
{
	u64 start = ktime_get_ns();

	__hv_idle(start + delta);
	return ktime_get_ns() - start;
}

void sleep_ms(unsigned int ms)
{
	msleep(ms);
}

/* The most common timeout idiom: ends when `n` jiffies have passed. */
long jiffies_wait(unsigned long n)
{
	unsigned long start = jiffies, end = start + n;
	long spins = 0;

	while (time_before(jiffies, end)) {
		cpu_relax();
		spins++;
	}
	pr_info("time_loops: jiffies_wait(%lu): %lu jiffies passed, %ld spins\n", n, jiffies - start, spins);
	return spins;
}

/* A ktime deadline with cpu_relax(); returns the ns that passed. */
u64 ktime_wait(unsigned long us)
{
	ktime_t start = ktime_get(), end = ktime_add_us(start, us);

	while (ktime_before(ktime_get(), end))
		cpu_relax();
	return ktime_to_ns(ktime_sub(ktime_get(), start));
}

/* The same without cpu_relax(): only the clock reads let time pass. */
u64 ktime_spin(unsigned long us)
{
	u64 start = ktime_get_ns(), end = start + us * 1000;

	while (ktime_get_ns() < end)
		;
	return ktime_get_ns() - start;
}

/* Spin for `secs` seconds of machine time without sleeping. */
long spin_seconds(unsigned long secs)
{
	unsigned long end = jiffies + secs * HZ;
	long spins = 0;

	while (time_before(jiffies, end)) {
		cpu_relax();
		spins++;
	}
	return spins;
}

/* Never returns. */
void spin_forever(void)
{
	for (;;)
		__asm__ __volatile__("" ::: "memory");
}

/* udelay, then the clock: what the delay moved it by. */
u64 udelay_ns(unsigned long us)
{
	u64 start = ktime_get_ns();

	udelay(us);
	return ktime_get_ns() - start;
}

/* Sleep with nothing that could wake the CPU. */
void idle_forever(void)
{
	__hv_idle(~0ULL);
}

/* `n` MMIO reads of testmmio's BAR0 (a firmware-upload-sized loop); the
 * machine time they took, in ns. */
u64 mmio_loop(unsigned long n)
{
	void __iomem *p = ioremap(mmio_address, 0x1000);
	u64 start;
	u32 sum = 0;

	if (!p)
		return 0;
	start = ktime_get_ns();
	while (n--)
		sum += readl(p + 4);
	start = ktime_get_ns() - start;
	iounmap(p);
	return sum == 0x12345678 ? 0 : start;
}

/* Poll a device register until `n` jiffies pass: the reads move the clock. */
long mmio_jiffies(unsigned long n)
{
	void __iomem *p = ioremap(mmio_address, 0x1000);
	unsigned long end = jiffies + n;
	long reads = 0;

	if (!p)
		return -1;
	while (time_before(jiffies, end)) {
		(void)readl(p + 4);
		reads++;
	}
	iounmap(p);
	return reads;
}

static int __init time_loops_init(void)
{
	void __iomem *p;

	if (hang)
		spin_forever();
	if (init_reads)
		pr_info("time_loops: %lu reads took %llu ns\n", init_reads, mmio_loop(init_reads));
	if (!gap_test)
		return 0;
	p = ioremap(mmio_address, 0x1000);
	if (!p)
		return -ENOMEM;
	writel(1, p);
	udelay(100);
	writel(2, p);
	(void)readl(p);
	writel(3, p + 4);
	writel(4, p + 8);
	(void)readl(p + 4);
	mdelay(2);
	(void)readl(p + 8);
	iounmap(p);
	return 0;
}

static void __exit time_loops_exit(void)
{
}

module_init(time_loops_init);
module_exit(time_loops_exit);
MODULE_LICENSE("GPL");
