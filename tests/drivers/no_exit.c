// SPDX-License-Identifier: GPL-2.0-only
/* Has module_init but no module_exit: it cannot be unloaded. */
#include <linux/module.h>

static int __init no_exit_init(void)
{
	return 0;
}

module_init(no_exit_init);
MODULE_LICENSE("GPL");
