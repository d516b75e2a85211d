// SPDX-License-Identifier: GPL-2.0-only
/*
 * Notifier chains and the panic notifier list.
 *
 * A chain is a singly linked list kept sorted by priority, highest first;
 * a new block goes after the ones of equal priority, so equal priorities
 * run in registration order (the kernel's rule).  Calling the chain walks
 * it, taking each block's successor before the call so a callback may
 * unregister itself, and stops at a return value with NOTIFY_STOP_MASK.
 *
 * The atomic chain's lock is an irq-disabling spinlock around updates; the
 * walk itself takes no lock (the kernel's walk is under RCU; on one CPU
 * without preemption nothing can change the list under a callback except
 * the callback).  Registering a block twice WARNs and fails with -EEXIST
 * (the kernel's "notifier callback ... already registered").
 *
 * Files of the core are one translation unit: statics carry "notifier_".
 */
#include <linux/kernel.h>
#include <linux/notifier.h>
#include <linux/panic_notifier.h>
#include <linux/kexec.h>
#include <linux/spinlock.h>
#include <linux/bug.h>
#include <linux/printk.h>
#include <linux/irqflags.h>
#include <linux/stdarg.h>

static int notifier_chain_insert(struct notifier_block **nl, struct notifier_block *n,
				 bool unique_priority)
{
	while (*nl != NULL) {
		if (unlikely(*nl == n)) {
			WARN(1, "notifier callback %ps already registered", n->notifier_call);
			return -EEXIST;
		}
		if (n->priority > (*nl)->priority)
			break;
		if (n->priority == (*nl)->priority && unique_priority)
			return -EBUSY;
		nl = &((*nl)->next);
	}
	n->next = *nl;
	*nl = n;
	return 0;
}

static int notifier_chain_remove(struct notifier_block **nl, struct notifier_block *n)
{
	while (*nl != NULL) {
		if (*nl == n) {
			*nl = n->next;
			n->next = NULL;
			return 0;
		}
		nl = &((*nl)->next);
	}
	return -ENOENT;
}

static int notifier_call_chain(struct notifier_block **nl, unsigned long val, void *v)
{
	int ret = NOTIFY_DONE;
	struct notifier_block *nb = *nl, *next_nb;

	while (nb) {
		next_nb = nb->next;
		ret = nb->notifier_call(nb, val, v);
		if (ret & NOTIFY_STOP_MASK)
			break;
		nb = next_nb;
	}
	return ret;
}

int atomic_notifier_chain_register(struct atomic_notifier_head *nh, struct notifier_block *n)
{
	unsigned long flags;
	int ret;

	spin_lock_irqsave(&nh->lock, flags);
	ret = notifier_chain_insert(&nh->head, n, false);
	spin_unlock_irqrestore(&nh->lock, flags);
	return ret;
}

int atomic_notifier_chain_register_unique_prio(struct atomic_notifier_head *nh,
					       struct notifier_block *n)
{
	unsigned long flags;
	int ret;

	spin_lock_irqsave(&nh->lock, flags);
	ret = notifier_chain_insert(&nh->head, n, true);
	spin_unlock_irqrestore(&nh->lock, flags);
	return ret;
}

int atomic_notifier_chain_unregister(struct atomic_notifier_head *nh, struct notifier_block *n)
{
	unsigned long flags;
	int ret;

	spin_lock_irqsave(&nh->lock, flags);
	ret = notifier_chain_remove(&nh->head, n);
	spin_unlock_irqrestore(&nh->lock, flags);
	return ret;
}

int atomic_notifier_call_chain(struct atomic_notifier_head *nh, unsigned long val, void *v)
{
	return notifier_call_chain(&nh->head, val, v);
}

bool atomic_notifier_call_chain_is_empty(struct atomic_notifier_head *nh)
{
	return !nh->head;
}

int raw_notifier_chain_register(struct raw_notifier_head *nh, struct notifier_block *n)
{
	return notifier_chain_insert(&nh->head, n, false);
}

int raw_notifier_chain_unregister(struct raw_notifier_head *nh, struct notifier_block *n)
{
	return notifier_chain_remove(&nh->head, n);
}

int raw_notifier_call_chain(struct raw_notifier_head *nh, unsigned long val, void *v)
{
	return notifier_call_chain(&nh->head, val, v);
}

/* What panic() calls before the machine stops: pvpanic tells the host. */
ATOMIC_NOTIFIER_HEAD(panic_notifier_list);
bool crash_kexec_post_notifiers;

/* kernel/api.py: stops the machine with the panic report. */
void __panic_stop(const char *msg, void *caller) __noreturn;

static char notifier_panic_buf[1024];
static int notifier_panic_in_progress;

/*
 * panic(): format the message, tell the panic notifiers (the kernel's
 * order: they run before the machine stops; a notifier that panics in
 * turn skips them), then stop.  Interrupts stay off, as the kernel turns
 * them off on entry.  The report names panic()'s caller.
 */
void panic(const char *fmt, ...)
{
	va_list args;

	local_irq_disable();
	va_start(args, fmt);
	vsnprintf(notifier_panic_buf, sizeof(notifier_panic_buf), fmt, args);
	va_end(args);
	if (!notifier_panic_in_progress++)
		atomic_notifier_call_chain(&panic_notifier_list, 0, notifier_panic_buf);
	notifier_panic_in_progress = 0;
	__panic_stop(notifier_panic_buf, __builtin_return_address(0));
}

int kexec_crash_loaded(void)
{
	return 0;
}
