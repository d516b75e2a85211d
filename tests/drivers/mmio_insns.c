// SPDX-License-Identifier: GPL-2.0-only
/*
 * Every instruction class mmiotrace's decoders know, against the testmmio
 * framebuffer (RAM-like: it reads back what was written, so every value in
 * the trace is predictable).
 *
 * Each class is its own function so a test can call one and look at exactly
 * its records (Machine.call); module init runs them all in order, which is
 * what the golden traces record. The instructions are written in asm so the
 * encodings (SIB bytes, REX.W immediates, prefixes) are the ones under test,
 * whatever the compiler would have chosen.
 *
 *   ftrace-mmio run tests/drivers/mmio_insns.c --clock det
 */
#include <linux/module.h>
#include <linux/io.h>
#include <linux/mmiotrace.h>

#define FB_PHYS		0xfd000000UL	/* testmmio BAR0 on the default machine */
#define MAP_SIZE	0x3000UL	/* three pages: room for page-spanning accesses */
#define UNALIGNED_OFF	0x4100UL	/* a mapping that starts inside a page */

static void __iomem *base;
static void __iomem *ubase;
static u8 ram[64];

u64 plain_moves(void)
{
	u64 sum = 0;

	writeb(0x11, base + 0x10);
	writew(0x2222, base + 0x12);
	writel(0x33333333, base + 0x14);
	writeq(0x4444444455555555ULL, base + 0x18);
	sum += readb(base + 0x10);
	sum += readw(base + 0x12);
	sum += readl(base + 0x14);
	sum += readq(base + 0x18);
	return sum;
}

u64 extending_loads(void)
{
	u32 zb, sb, zw, sw;

	writel(0x8081f0f1, base + 0x20);
	asm volatile("movzbl (%1), %0" : "=r"(zb) : "r"(base + 0x20) : "memory");
	asm volatile("movsbl (%1), %0" : "=r"(sb) : "r"(base + 0x20) : "memory");
	asm volatile("movzwl (%1), %0" : "=r"(zw) : "r"(base + 0x22) : "memory");
	asm volatile("movswl (%1), %0" : "=r"(sw) : "r"(base + 0x22) : "memory");
	return (u64)zb + sb + zw + sw;
}

void immediate_stores(void)
{
	void __iomem *p = base + 0x30;
	unsigned long idx = 1;

	asm volatile("movb $0x5a, (%0)" : : "r"(p) : "memory");
	asm volatile("movw $0x1234, 2(%0)" : : "r"(p) : "memory");
	asm volatile("movl $0x600dcafe, 4(%0)" : : "r"(p) : "memory");
	/* A SIB byte: the kernel's decoder reads the immediate one byte early. */
	asm volatile("movl $0x01020304, 8(%0,%1,4)" : : "r"(p), "r"(idx) : "memory");
	/* REX.W C7: the kernel logs width 4 and 8 immediate bytes, the last
	 * four from the next instruction (a fixed 4-byte nop here). */
	asm volatile("movq $-2, 16(%0)\n\t.byte 0x0f, 0x1f, 0x40, 0x00" : : "r"(p) : "memory");
}

void read_modify_write(void)
{
	void __iomem *p = base + 0x40;
	u32 r = 0x0f0f0000, old = 0x77, neu = 0x99;

	writel(0x10, p);
	asm volatile("orl $0x100, (%0)" : : "r"(p) : "memory");
	asm volatile("andl $0xff0, (%0)" : : "r"(p) : "memory");
	asm volatile("addl %1, (%0)" : : "r"(p), "r"(r) : "memory", "cc");
	asm volatile("subw $3, (%0)" : : "r"(p) : "memory", "cc");
	asm volatile("xorb $0x5a, (%0)" : : "r"(p) : "memory", "cc");
	asm volatile("incl (%0)" : : "r"(p) : "memory", "cc");
	asm volatile("decq (%0)" : : "r"(p) : "memory", "cc");
	asm volatile("notl (%0)" : : "r"(p) : "memory");
	asm volatile("negl (%0)" : : "r"(p) : "memory", "cc");
	asm volatile("shll $3, (%0)" : : "r"(p) : "memory", "cc");
	asm volatile("btsl $5, (%0)" : : "r"(p) : "memory", "cc");
	asm volatile("btrl $3, (%0)" : : "r"(p) : "memory", "cc");
	asm volatile("btcl $31, (%0)" : : "r"(p) : "memory", "cc");
	asm volatile("xchgl %0, (%1)" : "+r"(r) : "r"(p) : "memory");
	writel(0x77, p + 4);
	/* One cmpxchg that succeeds, one that fails. */
	asm volatile("lock cmpxchgl %2, (%1)" : "+a"(old) : "r"(p + 4), "r"(neu) : "memory", "cc");
	asm volatile("lock cmpxchgl %2, (%1)" : "+a"(old) : "r"(p + 4), "r"(neu) : "memory", "cc");
	asm volatile("lock xaddl %0, (%1)" : "+r"(neu) : "r"(p + 4) : "memory", "cc");
}

u64 reads_only(void)
{
	void __iomem *p = base + 0x50;
	u64 flags = 0;
	u8 ok;

	writel(0x1234, p);
	asm volatile("testl $4, (%1)\n\tsetnz %0" : "=r"(ok) : "r"(p) : "memory", "cc");
	flags = flags << 1 | ok;
	asm volatile("cmpl $0x1234, (%1)\n\tsete %0" : "=r"(ok) : "r"(p) : "memory", "cc");
	flags = flags << 1 | ok;
	asm volatile("btl $12, (%1)\n\tsetc %0" : "=r"(ok) : "r"(p) : "memory", "cc");
	flags = flags << 1 | ok;
	return flags;
}

u64 string_ops(void)
{
	void __iomem *p = base + 0x60;
	unsigned long i;
	u64 sum = 0;

	for (i = 0; i < sizeof(ram); i++)
		ram[i] = 0xa0 + i;
	/* RAM to MMIO, MMIO to RAM: the RAM side is not traced. */
	memcpy_toio(p, ram, 8);
	memcpy_fromio(ram + 16, p, 8);
	/* rep stos, rep lods, one element per record. */
	memset_io(p + 0x10, 0x3c, 4);
	{
		void *d = p + 0x14;
		unsigned long n = 2, v = 0xabcd;

		asm volatile("rep stosw" : "+D"(d), "+c"(n) : "a"(v) : "memory");
	}
	{
		const void *s = p;
		unsigned long n = 2, v = 0;

		asm volatile("rep lodsl" : "+S"(s), "+c"(n), "=a"(v) : : "memory");
		sum += v;
	}
	/* cmps stops at the first difference; scas at the first match. */
	{
		const void *s = p, *d = ram;
		unsigned long n = 4;

		asm volatile("repe cmpsb" : "+S"(s), "+D"(d), "+c"(n) : : "memory", "cc");
		sum += n;
	}
	{
		const void *d = p;
		unsigned long n = 8, v = 0xa2;

		asm volatile("repne scasb" : "+D"(d), "+c"(n) : "a"(v) : "memory", "cc");
		sum += n;
	}
	return sum;
}

void other_moves(void)
{
	void __iomem *p = base + 0x80;
	u32 v = 0x01020304, be = 0;

	asm volatile("movnti %1, (%0)" : : "r"(p), "r"(v) : "memory");
	asm volatile("movbe %1, 4(%0)" : : "r"(p), "r"(v) : "memory");
	asm volatile("movbe 4(%1), %0" : "=r"(be) : "r"(p) : "memory");
	/* 16 bytes through xmm0: two 8-byte records each way. Built with
	 * -mgeneral-regs-only, the compiler keeps nothing in xmm0, so it need
	 * not (and cannot) be listed as clobbered. */
	asm volatile("movdqu (%0), %%xmm0\n\tmovdqu %%xmm0, 0x10(%0)" : : "r"(p) : "memory");
}

u64 page_spanning(void)
{
	u32 v;

	/* A 4-byte store and load across the boundary of the first two pages. */
	writel(0xc0ffee11, base + 0xffe);
	v = readl(base + 0xffe);
	/* movs from one armed page to the next: both are touched in one step. */
	{
		const void *s = base + 0x100;
		void *d = base + 0x1100;

		writel(0x5eed5eed, base + 0x100);
		asm volatile("movsl" : "+S"(s), "+D"(d) : : "memory");
	}
	return v;
}

u64 unaligned_mapping(void)
{
	/* The first page of a mapping that starts at +0x100 in it: the kernel
	 * finds no probe for faults there and loses these two. */
	writel(0x0dd0f00d, ubase + 0x10);
	return readl(ubase + 0x10);
}

static int __init insns_init(void)
{
	base = ioremap(FB_PHYS, MAP_SIZE);
	if (!base)
		return -ENOMEM;
	ubase = ioremap(FB_PHYS + UNALIGNED_OFF, 0x200);
	if (!ubase) {
		iounmap(base);
		return -ENOMEM;
	}
	mmiotrace_printk("plain moves\n");
	plain_moves();
	mmiotrace_printk("extending loads\n");
	extending_loads();
	mmiotrace_printk("immediate stores\n");
	immediate_stores();
	mmiotrace_printk("read-modify-write\n");
	read_modify_write();
	mmiotrace_printk("reads only\n");
	reads_only();
	mmiotrace_printk("string ops\n");
	string_ops();
	mmiotrace_printk("other moves\n");
	other_moves();
	mmiotrace_printk("page spanning\n");
	page_spanning();
	mmiotrace_printk("unaligned mapping\n");
	unaligned_mapping();
	return 0;
}

static void __exit insns_exit(void)
{
	iounmap(ubase);
	iounmap(base);
}

module_init(insns_init);
module_exit(insns_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("mmiotrace instruction-class test driver");
