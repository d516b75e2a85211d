/* Exports a name ksym_provider already exports: refused (ENOEXEC). */
#include <linux/module.h>

int ksym_add(int a, int b)
{
	return a - b;
}
EXPORT_SYMBOL(ksym_add);

MODULE_LICENSE("GPL");
