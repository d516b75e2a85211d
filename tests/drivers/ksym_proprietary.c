/* Not GPL: may use ksym_add, not the GPL-only ksym_calls_so_far. */
#include <linux/module.h>

int ksym_add(int a, int b);
int ksym_calls_so_far(void);

int ksym_proprietary_calls(void)
{
	return ksym_add(1, 1) + ksym_calls_so_far();
}

MODULE_LICENSE("Proprietary");
