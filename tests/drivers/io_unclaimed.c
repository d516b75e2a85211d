// SPDX-License-Identifier: GPL-2.0
/* Reads and writes a physical address no device decodes, and an unclaimed
 * port: run on the real kernel (tests/data/oracle/io_unclaimed) and here. */
#include <linux/module.h>
#include <linux/io.h>

static unsigned long phys = 0xc0000000;
module_param(phys, ulong, 0444);

static int __init io_unclaimed_init(void)
{
	void __iomem *p = ioremap(phys, 0x1000);
	u32 a, b;
	u8 c;

	if (!p)
		return -ENOMEM;
	a = readl(p);
	writel(0x12345678, p + 4);
	b = readl(p + 4);
	c = readb(p + 8);
	iounmap(p);
	pr_info("io_unclaimed: %#x %#x %#x port %#x %#x\n", a, b, c, inb(0x300), inl(0x300));
	return 0;
}

static void __exit io_unclaimed_exit(void)
{
}

module_init(io_unclaimed_init);
module_exit(io_unclaimed_exit);
MODULE_LICENSE("GPL");
