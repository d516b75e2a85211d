/* Wait queues.  A sleeper puts an entry naming its task on the queue and
 * sleeps (schedule_timeout); wake_up() calls each entry's wake function,
 * which makes the task runnable again; the sleeper then re-checks its
 * condition.  As on the kernel, a condition that becomes true without a
 * wake_up() is only seen when the sleep times out.  kernel/core/wait.c. */
#ifndef _LINUX_WAIT_H
#define _LINUX_WAIT_H

#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/sched.h>

struct wait_queue_entry;
typedef int (*wait_queue_func_t)(struct wait_queue_entry *wq_entry, unsigned int mode,
				 int flags, void *key);

#define WQ_FLAG_EXCLUSIVE 0x01
#define WQ_FLAG_WOKEN 0x02
#define WQ_FLAG_CUSTOM 0x04
#define WQ_FLAG_DONE 0x08
#define WQ_FLAG_PRIORITY 0x10

struct wait_queue_entry {
	unsigned int flags;
	void *private;
	wait_queue_func_t func;
	struct list_head entry;
};
typedef struct wait_queue_entry wait_queue_entry_t;

struct wait_queue_head {
	spinlock_t lock;
	struct list_head head;
};
typedef struct wait_queue_head wait_queue_head_t;

int default_wake_function(struct wait_queue_entry *wq_entry, unsigned int mode, int flags,
			  void *key);
int autoremove_wake_function(struct wait_queue_entry *wq_entry, unsigned int mode, int flags,
			     void *key);
int woken_wake_function(struct wait_queue_entry *wq_entry, unsigned int mode, int flags,
			void *key);

#define __WAIT_QUEUE_HEAD_INITIALIZER(name) { \
	.lock = __SPIN_LOCK_UNLOCKED(name.lock), \
	.head = LIST_HEAD_INIT(name.head), \
}
#define DECLARE_WAIT_QUEUE_HEAD(name) \
	struct wait_queue_head name = __WAIT_QUEUE_HEAD_INITIALIZER(name)
#define DECLARE_WAIT_QUEUE_HEAD_ONSTACK(name) DECLARE_WAIT_QUEUE_HEAD(name)

static inline void init_waitqueue_head(struct wait_queue_head *wq_head)
{
	spin_lock_init(&wq_head->lock);
	INIT_LIST_HEAD(&wq_head->head);
}

#define __WAITQUEUE_INITIALIZER(name, tsk) { \
	.private = (tsk), \
	.func = default_wake_function, \
	.entry = { NULL, NULL }, \
}
#define DECLARE_WAITQUEUE(name, tsk) \
	struct wait_queue_entry name = __WAITQUEUE_INITIALIZER(name, tsk)
#define DEFINE_WAIT_FUNC(name, function) \
	struct wait_queue_entry name = { \
		.private = current, \
		.func = (function), \
		.entry = LIST_HEAD_INIT((name).entry), \
	}
#define DEFINE_WAIT(name) DEFINE_WAIT_FUNC(name, autoremove_wake_function)

static inline void init_waitqueue_entry(struct wait_queue_entry *wq_entry, struct task_struct *p)
{
	wq_entry->flags = 0;
	wq_entry->private = p;
	wq_entry->func = default_wake_function;
}

static inline void init_waitqueue_func_entry(struct wait_queue_entry *wq_entry,
					     wait_queue_func_t func)
{
	wq_entry->flags = 0;
	wq_entry->private = NULL;
	wq_entry->func = func;
}

void init_wait_entry(struct wait_queue_entry *wq_entry, int flags);
#define init_wait(wait) do { \
	(wait)->private = current; \
	(wait)->func = autoremove_wake_function; \
	INIT_LIST_HEAD(&(wait)->entry); \
	(wait)->flags = 0; \
} while (0)

static inline int waitqueue_active(struct wait_queue_head *wq_head)
{
	return !list_empty(&wq_head->head);
}
static inline bool wq_has_sleeper(struct wait_queue_head *wq_head)
{
	return waitqueue_active(wq_head);
}
static inline bool wq_has_single_sleeper(struct wait_queue_head *wq_head)
{
	return list_is_singular(&wq_head->head);
}

void add_wait_queue(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry);
void add_wait_queue_exclusive(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry);
void remove_wait_queue(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry);
void prepare_to_wait(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry, int state);
bool prepare_to_wait_exclusive(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry,
			       int state);
long prepare_to_wait_event(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry,
			   int state);
void finish_wait(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry);
long wait_woken(struct wait_queue_entry *wq_entry, unsigned int mode, long timeout);

/* Wake up to nr_exclusive exclusive waiters (0: all) and every
 * non-exclusive one whose task is in a state in mode. */
void __wake_up(struct wait_queue_head *wq_head, unsigned int mode, int nr_exclusive, void *key);
void __wake_up_locked(struct wait_queue_head *wq_head, unsigned int mode, int nr);
void __wake_up_sync(struct wait_queue_head *wq_head, unsigned int mode);

#define wake_up(x) __wake_up(x, TASK_NORMAL, 1, NULL)
#define wake_up_nr(x, nr) __wake_up(x, TASK_NORMAL, nr, NULL)
#define wake_up_all(x) __wake_up(x, TASK_NORMAL, 0, NULL)
#define wake_up_locked(x) __wake_up_locked((x), TASK_NORMAL, 1)
#define wake_up_all_locked(x) __wake_up_locked((x), TASK_NORMAL, 0)
#define wake_up_interruptible(x) __wake_up(x, TASK_INTERRUPTIBLE, 1, NULL)
#define wake_up_interruptible_nr(x, nr) __wake_up(x, TASK_INTERRUPTIBLE, nr, NULL)
#define wake_up_interruptible_all(x) __wake_up(x, TASK_INTERRUPTIBLE, 0, NULL)
#define wake_up_interruptible_sync(x) __wake_up_sync((x), TASK_INTERRUPTIBLE)
#define wake_up_poll(x, m) __wake_up(x, TASK_NORMAL, 1, (void *)(unsigned long)(m))
#define wake_up_interruptible_poll(x, m) \
	__wake_up(x, TASK_INTERRUPTIBLE, 1, (void *)(unsigned long)(m))

/* ---- wait_event*: sleep until a condition holds -----------------------------------
 *
 * The condition is evaluated before sleeping and after every wake-up.  The
 * _timeout forms take jiffies and return 0 if the condition is still false
 * when the time is up, else the jiffies left (at least 1).  No signal ever
 * arrives, so the _interruptible and _killable forms return as the
 * uninterruptible ones do (0 or the jiffies left). */

/* The condition as the _timeout forms see it: true also when time is up;
 * a condition met exactly at the deadline counts as 1 jiffy left. */
#define ___wait_cond_timeout(condition, left) ({ \
	bool __wc_cond = (condition); \
	if (__wc_cond && !(left)) \
		(left) = 1; \
	__wc_cond || !(left); \
})

#define ___wait_event(wq_head, condition, state, exclusive, timeout, cmd_before, cmd_after) ({ \
	struct wait_queue_entry __we_entry; \
	long __we_left = (timeout); \
	init_wait_entry(&__we_entry, (exclusive) ? WQ_FLAG_EXCLUSIVE : 0); \
	for (;;) { \
		prepare_to_wait_event(&(wq_head), &__we_entry, (state)); \
		if (___wait_cond_timeout(condition, __we_left)) \
			break; \
		cmd_before; \
		__we_left = schedule_timeout(__we_left); \
		cmd_after; \
	} \
	finish_wait(&(wq_head), &__we_entry); \
	__we_left; \
})

#define __wait_event_state_timeout(wq_head, condition, state, timeout) ({ \
	long __wet_left = (timeout); \
	might_sleep(); \
	if (!___wait_cond_timeout(condition, __wet_left)) \
		__wet_left = ___wait_event(wq_head, condition, state, 0, __wet_left, , ); \
	__wet_left; \
})

#define wait_event(wq_head, condition) \
	do { (void)__wait_event_state_timeout(wq_head, condition, TASK_UNINTERRUPTIBLE, \
					      MAX_SCHEDULE_TIMEOUT); } while (0)
#define wait_event_idle(wq_head, condition) \
	do { (void)__wait_event_state_timeout(wq_head, condition, TASK_IDLE, \
					      MAX_SCHEDULE_TIMEOUT); } while (0)
#define wait_event_freezable(wq_head, condition) \
	({ (void)__wait_event_state_timeout(wq_head, condition, TASK_INTERRUPTIBLE, \
					    MAX_SCHEDULE_TIMEOUT); 0; })
#define wait_event_timeout(wq_head, condition, timeout) \
	__wait_event_state_timeout(wq_head, condition, TASK_UNINTERRUPTIBLE, (long)(timeout))
#define wait_event_idle_timeout(wq_head, condition, timeout) \
	__wait_event_state_timeout(wq_head, condition, TASK_IDLE, (long)(timeout))
#define wait_event_interruptible(wq_head, condition) \
	({ (void)__wait_event_state_timeout(wq_head, condition, TASK_INTERRUPTIBLE, \
					    MAX_SCHEDULE_TIMEOUT); 0; })
#define wait_event_interruptible_timeout(wq_head, condition, timeout) \
	__wait_event_state_timeout(wq_head, condition, TASK_INTERRUPTIBLE, (long)(timeout))
#define wait_event_killable(wq_head, condition) \
	({ (void)__wait_event_state_timeout(wq_head, condition, TASK_KILLABLE, \
					    MAX_SCHEDULE_TIMEOUT); 0; })
#define wait_event_killable_timeout(wq_head, condition, timeout) \
	__wait_event_state_timeout(wq_head, condition, TASK_KILLABLE, (long)(timeout))
#define wait_event_interruptible_exclusive(wq_head, condition) \
	wait_event_interruptible(wq_head, condition)
#define wait_event_state(wq_head, condition, state) \
	({ (void)__wait_event_state_timeout(wq_head, condition, state, MAX_SCHEDULE_TIMEOUT); 0; })

/* With a spinlock held (taken _irq): dropped while sleeping. */
#define wait_event_lock_irq(wq_head, condition, lock) do { \
	if (!(condition)) \
		(void)___wait_event(wq_head, condition, TASK_UNINTERRUPTIBLE, 0, \
				    MAX_SCHEDULE_TIMEOUT, spin_unlock_irq(&(lock)), \
				    spin_lock_irq(&(lock))); \
} while (0)
#define wait_event_interruptible_lock_irq(wq_head, condition, lock) \
	({ wait_event_lock_irq(wq_head, condition, lock); 0; })
#define wait_event_lock_irq_timeout(wq_head, condition, lock, timeout) ({ \
	long __welt_left = (timeout); \
	if (!___wait_cond_timeout(condition, __welt_left)) \
		__welt_left = ___wait_event(wq_head, condition, TASK_UNINTERRUPTIBLE, 0, \
					    __welt_left, spin_unlock_irq(&(lock)), \
					    spin_lock_irq(&(lock))); \
	__welt_left; \
})
#define wait_event_interruptible_lock_irq_timeout(wq_head, condition, lock, timeout) \
	wait_event_lock_irq_timeout(wq_head, condition, lock, timeout)

#endif
