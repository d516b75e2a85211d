// SPDX-License-Identifier: GPL-2.0-only
/* Uses a function and a variable no kernel exports. */
#include <linux/module.h>

extern int no_such_function(int);
extern int no_such_variable;

static int __init unknown_init(void)
{
	return no_such_function(no_such_variable);
}

module_init(unknown_init);
MODULE_LICENSE("GPL");
