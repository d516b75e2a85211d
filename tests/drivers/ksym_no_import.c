/* Uses a namespaced export without MODULE_IMPORT_NS: refused (EINVAL). */
#include <linux/module.h>

int ksym_secret(void);

int ksym_no_import_call(void)
{
	return ksym_secret();
}

MODULE_LICENSE("GPL");
