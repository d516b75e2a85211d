// SPDX-License-Identifier: GPL-2.0-only
/* A 32-bit absolute reference to a kernel address, which cannot fit. */
#include <linux/module.h>

__asm__(".pushsection .data.reloc_overflow, \"aw\"\n"
	".long printk\n"
	".popsection\n");

MODULE_LICENSE("GPL");
