// SPDX-License-Identifier: GPL-2.0-only
/* Maps two pages of testmmio's BAR0 and offers accessors for the paging tests. */
#include <linux/module.h>
#include <linux/io.h>

static void __iomem *base;

static int __init pager_init(void)
{
	base = ioremap(0xfd000000, 2 * PAGE_SIZE);
	return base ? 0 : -ENOMEM;
}

static void __exit pager_exit(void)
{
	iounmap(base);
}

unsigned long cookie(void) { return (unsigned long)base; }
u64 rd32(unsigned long off) { return readl(base + off); }
void wr32(unsigned long off, u64 v) { writel(v, base + off); }

/* Three accesses in a row, as a loop would make them. */
u64 rd32x3(unsigned long off)
{
	return readl(base + off) + readl(base + off + 4) + readl(base + off + 8);
}

module_init(pager_init);
module_exit(pager_exit);
MODULE_LICENSE("GPL");
