// SPDX-License-Identifier: GPL-2.0-only
/*
 * testmmiotrace: the mmiotrace self-test, ported to ftrace-mmio's kernel model.
 *
 * It maps a stretch of bus memory, writes a known pattern through it at 8,
 * 16 and 32 bits, reads the pattern back, reads once far into the mapping,
 * and then maps and unmaps one page ten times. Under mmiotrace every one of
 * those accesses becomes a trace record, so the trace of this module is a
 * fixed, checkable sequence (mmiotrace.md §6). The markers and messages are
 * the ones the kernel's module prints; tools look for them.
 *
 * Only point it at memory that may be scribbled on: on the default machine,
 * testmmio's BAR0 (see `ftrace-mmio lspci`).
 *
 *   ftrace-mmio insmod testmmiotrace mmio_address=0xfd000000
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/errno.h>
#include <linux/module.h>
#include <linux/io.h>
#include <linux/mmiotrace.h>

static unsigned long mmio_address;
module_param(mmio_address, ulong, 0);
MODULE_PARM_DESC(mmio_address, " Start address of the mapping of 16 kB "
		 "(or 8 MB if read_far is non-zero).");

static unsigned long read_far = 0x400100;
module_param(read_far, ulong, 0);
MODULE_PARM_DESC(read_far, " Offset of a 32-bit read within 8 MB "
		 "(default: 0x400100).");

/*
 * The pattern covers the first 16 KiB: bytes 0..255 hold their own offset,
 * 16-bit words fill [1 KiB, 5 KiB) and 32-bit words fill [5 KiB, 16 KiB).
 * The word values come from the offset so that a word landing in the wrong
 * place, or a wrong width, reads back as a mismatch.
 */
#define BYTES_END	256
#define WORDS_START	(1 * 1024)
#define WORDS_END	(5 * 1024)
#define DWORDS_START	(5 * 1024)
#define DWORDS_END	(16 * 1024)

static unsigned int word_at(unsigned int offset)
{
	return offset * 12 + 7;
}

static unsigned int dword_at(unsigned int offset)
{
	return offset * 212371 + 13;
}

static void write_pattern(void __iomem *base)
{
	unsigned int off;

	pr_info("write test.\n");
	mmiotrace_printk("Write test.\n");

	for (off = 0; off < BYTES_END; off++)
		iowrite8(off, base + off);
	for (off = WORDS_START; off < WORDS_END; off += 2)
		iowrite16(word_at(off), base + off);
	for (off = DWORDS_START; off < DWORDS_END; off += 4)
		iowrite32(dword_at(off), base + off);
}

static void check_pattern(void __iomem *base)
{
	unsigned int off;
	int bad8 = 0, bad16 = 0, bad32 = 0;

	pr_info("read test.\n");
	mmiotrace_printk("Read test.\n");

	for (off = 0; off < BYTES_END; off++)
		if (ioread8(base + off) != off)
			bad8++;
	for (off = WORDS_START; off < WORDS_END; off += 2)
		if (ioread16(base + off) != word_at(off))
			bad16++;
	for (off = DWORDS_START; off < DWORDS_END; off += 4)
		if (ioread32(base + off) != dword_at(off))
			bad32++;

	mmiotrace_printk("Read errors: 8-bit %d, 16-bit %d, 32-bit %d.\n",
			 bad8, bad16, bad32);
}

static void read_far_away(void __iomem *base)
{
	pr_info("read far test.\n");
	mmiotrace_printk("Read far test.\n");
	/* Only the access matters: it lands in the middle of the 8 MiB mapping. */
	ioread32(base + read_far);
}

static void pattern_test(unsigned long size)
{
	void __iomem *base = ioremap(mmio_address, size);

	if (!base) {
		pr_err("could not ioremap, aborting.\n");
		return;
	}
	mmiotrace_printk("ioremap returned %p.\n", base);

	write_pattern(base);
	check_pattern(base);
	if (read_far && read_far < size - 4)
		read_far_away(base);

	iounmap(base);
}

/*
 * Map and unmap the same page repeatedly. The kernel's version exists
 * because releasing fault pages used to be deferred and could free twice;
 * here it checks that every map id is announced and retired in turn.
 */
static void remap_test(void)
{
	int round;

	for (round = 0; round < 10; round++) {
		void __iomem *page = ioremap(mmio_address, PAGE_SIZE);

		if (page)
			iounmap(page);
	}
}

static int __init testmmiotrace_init(void)
{
	unsigned long size = read_far ? (8 << 20) : (16 << 10);

	if (!mmio_address) {
		pr_err("you have to use the module argument mmio_address.\n");
		pr_err("DO NOT LOAD THIS MODULE UNLESS YOU REALLY KNOW WHAT YOU ARE DOING!\n");
		return -ENXIO;
	}

	pr_warn("WARNING: mapping %lu kB @ 0x%08lx in PCI address space, "
		"and writing 16 kB of rubbish in there.\n",
		size >> 10, mmio_address);
	pattern_test(size);
	remap_test();
	pr_info("All done.\n");
	return 0;
}

static void __exit testmmiotrace_exit(void)
{
	/* Nothing is held between init and exit. */
}

module_init(testmmiotrace_init);
module_exit(testmmiotrace_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Test module for mmiotrace");
