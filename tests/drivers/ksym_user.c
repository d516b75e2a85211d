/* Links against ksym_provider's exports (plain, GPL-only, data, namespaced). */
#include <linux/module.h>
#include <linux/kernel.h>

int ksym_add(int a, int b);
int ksym_calls_so_far(void);
extern const int ksym_table[4];
int ksym_secret(void);

MODULE_IMPORT_NS(KSYM_TEST);

int ksym_user_sum(void)
{
	return ksym_add(ksym_table[2], ksym_table[3]);
}

int ksym_user_calls(void)
{
	return ksym_calls_so_far();
}

static int __init ksym_user_init(void)
{
	pr_info("ksym_user: 5 + 7 = %d, secret %d\n", ksym_user_sum(), ksym_secret());
	return 0;
}
module_init(ksym_user_init);

static void __exit ksym_user_exit(void)
{
}
module_exit(ksym_user_exit);

MODULE_LICENSE("GPL v2");
