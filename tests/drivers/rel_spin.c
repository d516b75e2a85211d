// SPDX-License-Identifier: GPL-2.0-only
/*
 * Writes a device register in a loop that never ends on its own
 * (tests/test_reliability_faults.py): under mmiotrace a steady stream of W
 * records, until the watchdog stops it or the daemon is killed.
 */
#include <linux/module.h>
#include <linux/io.h>

static unsigned long phys = 0xfd000000;
module_param(phys, ulong, 0);

static int __init rel_spin_init(void)
{
	void __iomem *p = ioremap(phys, 0x1000);
	unsigned int i = 0;

	if (!p)
		return -ENOMEM;
	for (;;)
		writel(i++, p);
	return 0;
}

static void __exit rel_spin_exit(void) {}

module_init(rel_spin_init);
module_exit(rel_spin_exit);
MODULE_LICENSE("GPL");
