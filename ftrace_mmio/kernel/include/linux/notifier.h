/* Notifier chains: lists of callbacks, called in priority order (highest
 * first; equal priorities in registration order), each may stop the walk.
 *
 * Atomic chains (callbacks run in any context, e.g. the panic notifiers)
 * and raw chains (the caller locks) exist; blocking and SRCU chains do
 * not.  On one CPU without preemption the atomic chain's spinlock only
 * disables interrupts around the list update, as the kernel's does.
 * The code is kernel/core/notifier.c. */
#ifndef _LINUX_NOTIFIER_H
#define _LINUX_NOTIFIER_H

#include <linux/types.h>
#include <linux/errno.h>
#include <linux/spinlock.h>

struct notifier_block;

typedef int (*notifier_fn_t)(struct notifier_block *nb, unsigned long action, void *data);

struct notifier_block {
	notifier_fn_t notifier_call;
	struct notifier_block __rcu *next;
	int priority;
};

struct atomic_notifier_head {
	spinlock_t lock;
	struct notifier_block __rcu *head;
};

struct raw_notifier_head {
	struct notifier_block __rcu *head;
};

#define ATOMIC_INIT_NOTIFIER_HEAD(name) do {		\
		spin_lock_init(&(name)->lock);		\
		(name)->head = NULL;			\
	} while (0)
#define RAW_INIT_NOTIFIER_HEAD(name) do {		\
		(name)->head = NULL;			\
	} while (0)

#define ATOMIC_NOTIFIER_INIT(name) {				\
		.lock = __SPIN_LOCK_UNLOCKED(name.lock),	\
		.head = NULL }
#define RAW_NOTIFIER_INIT(name) { .head = NULL }

#define ATOMIC_NOTIFIER_HEAD(name)				\
	struct atomic_notifier_head name = ATOMIC_NOTIFIER_INIT(name)
#define RAW_NOTIFIER_HEAD(name)					\
	struct raw_notifier_head name = RAW_NOTIFIER_INIT(name)

int atomic_notifier_chain_register(struct atomic_notifier_head *nh, struct notifier_block *nb);
int atomic_notifier_chain_register_unique_prio(struct atomic_notifier_head *nh,
					       struct notifier_block *nb);
int atomic_notifier_chain_unregister(struct atomic_notifier_head *nh, struct notifier_block *nb);
int atomic_notifier_call_chain(struct atomic_notifier_head *nh, unsigned long val, void *v);
bool atomic_notifier_call_chain_is_empty(struct atomic_notifier_head *nh);

int raw_notifier_chain_register(struct raw_notifier_head *nh, struct notifier_block *nb);
int raw_notifier_chain_unregister(struct raw_notifier_head *nh, struct notifier_block *nb);
int raw_notifier_call_chain(struct raw_notifier_head *nh, unsigned long val, void *v);

#define NOTIFY_DONE		0x0000		/* don't care */
#define NOTIFY_OK		0x0001		/* suits me */
#define NOTIFY_STOP_MASK	0x8000		/* don't call further */
#define NOTIFY_BAD		(NOTIFY_STOP_MASK | 0x0002)	/* bad/veto action */
#define NOTIFY_STOP		(NOTIFY_OK | NOTIFY_STOP_MASK)	/* clean way to return from the notifier and stop further calls */

/* An errno carried through a chain, and back. */
static inline int notifier_from_errno(int err)
{
	if (err)
		return NOTIFY_STOP_MASK | (NOTIFY_OK - err);
	return NOTIFY_OK;
}

static inline int notifier_to_errno(int ret)
{
	ret &= ~NOTIFY_STOP_MASK;
	return ret > NOTIFY_OK ? NOTIFY_OK - ret : 0;
}

#endif
