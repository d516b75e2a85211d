/* One CPU, no preemption: a mutex only records its state. */
#ifndef _LINUX_MUTEX_H
#define _LINUX_MUTEX_H

struct mutex { int locked; };

#define DEFINE_MUTEX(m) struct mutex m = { 0 }

static inline void mutex_init(struct mutex *m) { m->locked = 0; }
static inline void mutex_lock(struct mutex *m) { m->locked = 1; }
static inline void mutex_unlock(struct mutex *m) { m->locked = 0; }
static inline int mutex_trylock(struct mutex *m) { if (m->locked) return 0; m->locked = 1; return 1; }
static inline int mutex_is_locked(struct mutex *m) { return m->locked; }

#endif
