/* Not GPL, uses only the plain export: loads. */
#include <linux/module.h>

int ksym_add(int a, int b);

int ksym_plain_two(void)
{
	return ksym_add(1, 1);
}

MODULE_LICENSE("Proprietary");
