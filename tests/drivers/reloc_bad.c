// SPDX-License-Identifier: GPL-2.0-only
/* A relocation type the loader does not handle (GOTPCREL). */
#include <linux/module.h>

__asm__(".pushsection .data.reloc_bad, \"aw\"\n"
	".reloc ., R_X86_64_GOTPCREL, printk\n"
	".long 0\n"
	".popsection\n");

MODULE_LICENSE("GPL");
