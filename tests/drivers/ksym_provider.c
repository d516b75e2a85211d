/* A module that exports to later modules: a counter behind one function,
 * a table of data, a GPL-only function and a namespaced one. */
#include <linux/module.h>
#include <linux/kernel.h>

static int ksym_calls;

int ksym_add(int a, int b)
{
	ksym_calls++;
	return a + b;
}
EXPORT_SYMBOL(ksym_add);

int ksym_calls_so_far(void)
{
	return ksym_calls;
}
EXPORT_SYMBOL_GPL(ksym_calls_so_far);

const int ksym_table[4] = { 2, 3, 5, 7 };
EXPORT_SYMBOL_GPL(ksym_table);

int ksym_secret(void)
{
	return 42;
}
EXPORT_SYMBOL_NS_GPL(ksym_secret, KSYM_TEST);

static int __init ksym_provider_init(void)
{
	pr_info("ksym_provider: up\n");
	return 0;
}
module_init(ksym_provider_init);

static void __exit ksym_provider_exit(void)
{
	pr_info("ksym_provider: down after %d calls\n", ksym_calls);
}
module_exit(ksym_provider_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("exports for tests/test_kernel_modules_deps.py");
