/* kexec and kdump: not on this machine.  A crash kernel is never loaded,
 * so kexec_crash_loaded() is false (kernel/core/notifier.c). */
#ifndef LINUX_KEXEC_H
#define LINUX_KEXEC_H

#include <linux/types.h>

int kexec_crash_loaded(void);

#endif
