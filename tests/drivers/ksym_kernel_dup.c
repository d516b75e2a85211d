/* Exports a name the kernel itself exports: refused (ENOEXEC). */
#include <linux/export.h>
#include <linux/module.h>

void msleep(unsigned int msecs)
{
}
EXPORT_SYMBOL(msleep);

MODULE_LICENSE("GPL");
