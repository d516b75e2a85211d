/* The chain panic() calls before the machine stops (kernel/core/notifier.c
 * defines it; callbacks get the panic message as their data). */
#ifndef _LINUX_PANIC_NOTIFIERS_H
#define _LINUX_PANIC_NOTIFIERS_H

#include <linux/notifier.h>
#include <linux/types.h>

extern struct atomic_notifier_head panic_notifier_list;

/* There is no kdump here: nothing runs after the notifiers either way. */
extern bool crash_kexec_post_notifiers;

#endif
