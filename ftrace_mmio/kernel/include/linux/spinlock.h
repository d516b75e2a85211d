/* One CPU, no preemption, no interrupts: locks only record their state. */
#ifndef _LINUX_SPINLOCK_H
#define _LINUX_SPINLOCK_H

typedef struct { int locked; } spinlock_t;
typedef struct { int locked; } raw_spinlock_t;

#define DEFINE_SPINLOCK(x) spinlock_t x = { 0 }
#define __SPIN_LOCK_UNLOCKED(x) { 0 }

static inline void spin_lock_init(spinlock_t *l) { l->locked = 0; }
static inline void spin_lock(spinlock_t *l) { l->locked = 1; }
static inline void spin_unlock(spinlock_t *l) { l->locked = 0; }
static inline int spin_trylock(spinlock_t *l) { if (l->locked) return 0; l->locked = 1; return 1; }
static inline void spin_lock_irq(spinlock_t *l) { spin_lock(l); }
static inline void spin_unlock_irq(spinlock_t *l) { spin_unlock(l); }
#define spin_lock_irqsave(l, flags) do { (flags) = 0; spin_lock(l); } while (0)
#define spin_unlock_irqrestore(l, flags) do { (void)(flags); spin_unlock(l); } while (0)

#endif
