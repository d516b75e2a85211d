// SPDX-License-Identifier: GPL-2.0-only
/*
 * printk and mmiotrace_printk with formats and arguments a careless or
 * hostile driver might pass (tests/test_reliability_machine.py): Python's
 * own format syntax ({}, %(name)s), %n, bad string pointers, widths and
 * precisions far past the kernel's limits, a format longer than a record.
 * The kernel's vsnprintf decides what each prints; nothing may reach Python
 * formatting, and nothing may grow without bound.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/mmiotrace.h>

static char big[3000];

static int __init rel_printk_init(void)
{
	int n = 7;
	int i;

	printk(KERN_INFO "py {} {0} {0.__class__} {x!r:>10} %%(name)s %%r %s\n", "{}");
	printk(KERN_INFO "n [%n] c [%c]\n", &n, 'z');
	printk(KERN_INFO "bad [%s] null [%s] low [%s]\n",
	       (char *)0xdead000000000000UL, (char *)0, (char *)0x10);
	printk(KERN_INFO "width [%99999999999d]\n", 5);
	printk(KERN_INFO "star [%*d]\n", -2147483647 - 1, 5);
	printk(KERN_INFO "prec [%.99999999999s]\n", "abc");
	printk(KERN_INFO "unknown [%y] [%", 1);
	printk(KERN_CONT "]\n");
	for (i = 0; i < (int)sizeof(big) - 1; i++)
		big[i] = 'a' + i % 26;
	printk(KERN_INFO "%s\n", big);
	mmiotrace_printk("mark {} %%s [%s] [%n] [%99999999d]\n", (char *)0xdead000000000000UL, &n, 1);
	return 0;
}

static void __exit rel_printk_exit(void) {}

module_init(rel_printk_init);
module_exit(rel_printk_exit);
MODULE_LICENSE("GPL");
