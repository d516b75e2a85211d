/* Spinlocks and rwlocks on a uniprocessor kernel.
 *
 * With one CPU a spinlock only has to keep out what could run on that CPU:
 * interrupts (the _irq/_irqsave forms clear EFLAGS.IF, and interrupts are
 * only taken when it is set) and bottom halves (the _bh forms raise the
 * softirq-disable count, so timers do not run).  Taking a lock also
 * disables preemption, as on the kernel, so sleeping while holding one is
 * "scheduling while atomic".  The lock word records the holder state:
 * taking a lock already held, which on one CPU never ends, is reported as
 * CONFIG_DEBUG_SPINLOCK reports it ("BUG: spinlock recursion") and the
 * driver goes on; so is releasing a lock that is not held.
 */
#ifndef _LINUX_SPINLOCK_H
#define _LINUX_SPINLOCK_H

#include <linux/compiler.h>
#include <linux/types.h>
#include <linux/spinlock_types.h>
#include <linux/cleanup.h>

#include <linux/irqflags.h>
#include <linux/preempt.h>
#if __has_include(<linux/bottom_half.h>)
#include <linux/bottom_half.h>
#endif

#ifndef local_bh_disable
/* Bottom halves off: timers (softirq) do not run until enabled again. */
#define local_bh_disable() do { __preempt_count_add(SOFTIRQ_DISABLE_OFFSET); barrier(); } while (0)
#define local_bh_enable() do { barrier(); __preempt_count_sub(SOFTIRQ_DISABLE_OFFSET); } while (0)
#endif

/* Out of line in kernel/core/sched.c: one dmesg report, then go on. */
void __spin_bug(const void *lock, const char *msg);

static __always_inline void __spin_acquire(int *word, const void *lock)
{
	if (unlikely(*word))
		__spin_bug(lock, "recursion");
	*word = 1;
	barrier();
}

static __always_inline void __spin_release(int *word, const void *lock)
{
	barrier();
	if (unlikely(!*word))
		__spin_bug(lock, "already unlocked");
	*word = 0;
}

#define raw_spin_lock_init(l) do { (l)->locked = 0; } while (0)
#define spin_lock_init(l) do { (l)->locked = 0; } while (0)
#define raw_spin_is_locked(l) ((l)->locked != 0)
#define spin_is_locked(l) ((l)->locked != 0)
#define assert_spin_locked(l) do { if (unlikely(!(l)->locked)) __spin_bug((l), "not held"); } while (0)
#define assert_raw_spin_locked assert_spin_locked
#ifndef lockdep_assert_held
#define lockdep_assert_held(l) do { (void)(l); } while (0)
#define lockdep_assert_held_once(l) do { (void)(l); } while (0)
#define lockdep_set_class(l, k) do { (void)(l); } while (0)
#endif

#define raw_spin_lock(l) do { preempt_disable(); __spin_acquire(&(l)->locked, (l)); } while (0)
#define raw_spin_unlock(l) do { __spin_release(&(l)->locked, (l)); preempt_enable(); } while (0)
#define raw_spin_trylock(l) ({ int __got = 0; preempt_disable(); \
	if (!(l)->locked) { (l)->locked = 1; __got = 1; } else preempt_enable(); __got; })
#define raw_spin_lock_irq(l) do { local_irq_disable(); raw_spin_lock(l); } while (0)
#define raw_spin_unlock_irq(l) do { raw_spin_unlock(l); local_irq_enable(); } while (0)
#define raw_spin_lock_irqsave(l, flags) do { local_irq_save(flags); raw_spin_lock(l); } while (0)
#define raw_spin_unlock_irqrestore(l, flags) do { raw_spin_unlock(l); local_irq_restore(flags); } while (0)
#define raw_spin_lock_bh(l) do { local_bh_disable(); raw_spin_lock(l); } while (0)
#define raw_spin_unlock_bh(l) do { raw_spin_unlock(l); local_bh_enable(); } while (0)

static __always_inline void spin_lock(spinlock_t *l) { raw_spin_lock(l); }
static __always_inline void spin_unlock(spinlock_t *l) { raw_spin_unlock(l); }
static __always_inline int spin_trylock(spinlock_t *l) { return raw_spin_trylock(l); }
static __always_inline void spin_lock_irq(spinlock_t *l) { raw_spin_lock_irq(l); }
static __always_inline void spin_unlock_irq(spinlock_t *l) { raw_spin_unlock_irq(l); }
static __always_inline void spin_lock_bh(spinlock_t *l) { raw_spin_lock_bh(l); }
static __always_inline void spin_unlock_bh(spinlock_t *l) { raw_spin_unlock_bh(l); }
#define spin_lock_irqsave(l, flags) raw_spin_lock_irqsave(l, flags)
#define spin_unlock_irqrestore(l, flags) raw_spin_unlock_irqrestore(l, flags)
#define spin_trylock_irqsave(l, flags) ({ local_irq_save(flags); \
	spin_trylock(l) ? 1 : ({ local_irq_restore(flags); 0; }); })
#define spin_lock_nested(l, subclass) spin_lock(l)
#define spin_lock_irqsave_nested(l, flags, subclass) spin_lock_irqsave(l, flags)

/* rwlocks: readers share, a writer excludes everyone. */
#define rwlock_init(l) do { (l)->readers = 0; (l)->writer = 0; } while (0)
#define read_lock(l) do { preempt_disable(); \
	if (unlikely((l)->writer)) __spin_bug((l), "read_lock while write-locked"); \
	(l)->readers++; } while (0)
#define read_unlock(l) do { (l)->readers--; preempt_enable(); } while (0)
#define write_lock(l) do { preempt_disable(); \
	if (unlikely((l)->writer || (l)->readers)) __spin_bug((l), "write_lock while locked"); \
	(l)->writer = 1; } while (0)
#define write_unlock(l) do { (l)->writer = 0; preempt_enable(); } while (0)
#define read_lock_irq(l) do { local_irq_disable(); read_lock(l); } while (0)
#define read_unlock_irq(l) do { read_unlock(l); local_irq_enable(); } while (0)
#define write_lock_irq(l) do { local_irq_disable(); write_lock(l); } while (0)
#define write_unlock_irq(l) do { write_unlock(l); local_irq_enable(); } while (0)
#define read_lock_irqsave(l, flags) do { local_irq_save(flags); read_lock(l); } while (0)
#define read_unlock_irqrestore(l, flags) do { read_unlock(l); local_irq_restore(flags); } while (0)
#define write_lock_irqsave(l, flags) do { local_irq_save(flags); write_lock(l); } while (0)
#define write_unlock_irqrestore(l, flags) do { write_unlock(l); local_irq_restore(flags); } while (0)
#define read_lock_bh(l) do { local_bh_disable(); read_lock(l); } while (0)
#define read_unlock_bh(l) do { read_unlock(l); local_bh_enable(); } while (0)
#define write_lock_bh(l) do { local_bh_disable(); write_lock(l); } while (0)
#define write_unlock_bh(l) do { write_unlock(l); local_bh_enable(); } while (0)

/* guard(spinlock_irqsave)(&lock); scoped_guard(spinlock, &lock) { } (linux/cleanup.h) */
DEFINE_LOCK_GUARD_1(raw_spinlock, raw_spinlock_t, raw_spin_lock(_T->lock), raw_spin_unlock(_T->lock))
DEFINE_LOCK_GUARD_1(raw_spinlock_irq, raw_spinlock_t, raw_spin_lock_irq(_T->lock),
		    raw_spin_unlock_irq(_T->lock))
DEFINE_LOCK_GUARD_1(raw_spinlock_irqsave, raw_spinlock_t,
		    raw_spin_lock_irqsave(_T->lock, _T->flags),
		    raw_spin_unlock_irqrestore(_T->lock, _T->flags), unsigned long flags)
DEFINE_LOCK_GUARD_1_COND(raw_spinlock, _try, raw_spin_trylock(_T->lock))
DEFINE_LOCK_GUARD_1(spinlock, spinlock_t, spin_lock(_T->lock), spin_unlock(_T->lock))
DEFINE_LOCK_GUARD_1(spinlock_irq, spinlock_t, spin_lock_irq(_T->lock), spin_unlock_irq(_T->lock))
DEFINE_LOCK_GUARD_1(spinlock_irqsave, spinlock_t, spin_lock_irqsave(_T->lock, _T->flags),
		    spin_unlock_irqrestore(_T->lock, _T->flags), unsigned long flags)
DEFINE_LOCK_GUARD_1(spinlock_bh, spinlock_t, spin_lock_bh(_T->lock), spin_unlock_bh(_T->lock))
DEFINE_LOCK_GUARD_1_COND(spinlock, _try, spin_trylock(_T->lock))
DEFINE_LOCK_GUARD_1(read_lock, rwlock_t, read_lock(_T->lock), read_unlock(_T->lock))
DEFINE_LOCK_GUARD_1(read_lock_irq, rwlock_t, read_lock_irq(_T->lock), read_unlock_irq(_T->lock))
DEFINE_LOCK_GUARD_1(read_lock_irqsave, rwlock_t, read_lock_irqsave(_T->lock, _T->flags),
		    read_unlock_irqrestore(_T->lock, _T->flags), unsigned long flags)
DEFINE_LOCK_GUARD_1(write_lock, rwlock_t, write_lock(_T->lock), write_unlock(_T->lock))
DEFINE_LOCK_GUARD_1(write_lock_irq, rwlock_t, write_lock_irq(_T->lock), write_unlock_irq(_T->lock))
DEFINE_LOCK_GUARD_1(write_lock_irqsave, rwlock_t, write_lock_irqsave(_T->lock, _T->flags),
		    write_unlock_irqrestore(_T->lock, _T->flags), unsigned long flags)

#endif
