/* The lock types.  One CPU and no preemption: a lock is never contended
 * between CPUs; its word records whether it is held so that the kernel's
 * debug checks (recursion, unlock of an unlocked lock) can be made. */
#ifndef _LINUX_SPINLOCK_TYPES_H
#define _LINUX_SPINLOCK_TYPES_H

typedef struct raw_spinlock { int locked; } raw_spinlock_t;
typedef struct spinlock { int locked; } spinlock_t;
typedef struct { int readers; int writer; } rwlock_t;

#define __RAW_SPIN_LOCK_UNLOCKED(name) { 0 }
#define __SPIN_LOCK_UNLOCKED(name) { 0 }
#define __RW_LOCK_UNLOCKED(name) { 0, 0 }
#define DEFINE_RAW_SPINLOCK(x) raw_spinlock_t x = __RAW_SPIN_LOCK_UNLOCKED(x)
#define DEFINE_SPINLOCK(x) spinlock_t x = __SPIN_LOCK_UNLOCKED(x)
#define DEFINE_RWLOCK(x) rwlock_t x = __RW_LOCK_UNLOCKED(x)

#endif
