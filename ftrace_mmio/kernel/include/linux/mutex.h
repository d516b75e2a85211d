/* Mutexes on ftrace-mmio's one CPU.
 *
 * A mutex records its owner task.  Uncontended locking is the kernel's
 * fast path.  Contention cannot be waited out here: whoever holds the
 * mutex is a context this one interrupted, further down the same stack (a
 * process sleeping while a work item runs), and it only resumes when this
 * one returns.  The kernel would block the second locker until the first
 * unlocked; here it is reported (one warning naming both tasks) and the
 * lock is taken nested, so the driver goes on.  kernel/core/sched.c. */
#ifndef _LINUX_MUTEX_H
#define _LINUX_MUTEX_H

#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/cleanup.h>

struct task_struct;
struct device;

struct mutex {
	struct task_struct *owner;
	unsigned int nested;		/* contended acquisitions taken anyway */
};

#define __MUTEX_INITIALIZER(lockname) { .owner = NULL, .nested = 0 }
#define DEFINE_MUTEX(mutexname) struct mutex mutexname = __MUTEX_INITIALIZER(mutexname)

static inline void __mutex_init(struct mutex *lock, const char *name, void *key)
{
	(void)name; (void)key;
	lock->owner = NULL;
	lock->nested = 0;
}
#define mutex_init(mutex) __mutex_init((mutex), #mutex, NULL)
static inline void mutex_destroy(struct mutex *lock) { (void)lock; }
static inline int devm_mutex_init(struct device *dev, struct mutex *lock)
{
	(void)dev;
	mutex_init(lock);
	return 0;
}

void mutex_lock(struct mutex *lock);
int mutex_lock_interruptible(struct mutex *lock);
int mutex_lock_killable(struct mutex *lock);
void mutex_lock_io(struct mutex *lock);
int mutex_trylock(struct mutex *lock);
void mutex_unlock(struct mutex *lock);
#define mutex_lock_nested(lock, subclass) mutex_lock(lock)
#define mutex_lock_interruptible_nested(lock, subclass) mutex_lock_interruptible(lock)
#define mutex_lock_killable_nested(lock, subclass) mutex_lock_killable(lock)
#define mutex_lock_io_nested(lock, subclass) mutex_lock_io(lock)

static inline bool mutex_is_locked(struct mutex *lock)
{
	return READ_ONCE(lock->owner) != NULL;
}

/* guard(mutex)(&lock); scoped_cond_guard(mutex_intr, return -EINTR, &lock) { } */
DEFINE_GUARD(mutex, struct mutex *, mutex_lock(_T), mutex_unlock(_T))
DEFINE_GUARD_COND(mutex, _try, mutex_trylock(_T))
DEFINE_GUARD_COND(mutex, _intr, mutex_lock_interruptible(_T) == 0)

#endif
