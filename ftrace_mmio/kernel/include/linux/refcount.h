/* refcount_t: an atomic_t that warns (once) instead of wrapping or
 * resurrecting from zero, and then saturates, as the kernel's does. */
#ifndef _LINUX_REFCOUNT_H
#define _LINUX_REFCOUNT_H

#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/atomic.h>
#include <linux/bug.h>

typedef struct refcount_struct {
	atomic_t refs;
} refcount_t;

#define REFCOUNT_INIT(n) { .refs = ATOMIC_INIT(n) }
#define REFCOUNT_MAX 0x7fffffff
#define REFCOUNT_SATURATED (-0x40000000)

static inline void __refcount_warn(refcount_t *r, const char *what)
{
	atomic_set(&r->refs, REFCOUNT_SATURATED);
	WARN(1, "refcount_t: %s.\n", what);
}

static inline void refcount_set(refcount_t *r, int n) { atomic_set(&r->refs, n); }
static inline unsigned int refcount_read(const refcount_t *r) { return atomic_read(&r->refs); }

static inline bool refcount_add_not_zero(int i, refcount_t *r)
{
	int old = atomic_fetch_add_unless(&r->refs, i, 0);

	if (unlikely(old < 0 || old + i < 0))
		__refcount_warn(r, "saturated; leaking memory");
	return old != 0;
}
static inline bool refcount_inc_not_zero(refcount_t *r) { return refcount_add_not_zero(1, r); }

static inline void refcount_add(int i, refcount_t *r)
{
	int old = atomic_fetch_add(i, &r->refs);

	if (unlikely(!old))
		__refcount_warn(r, "addition on 0; use-after-free");
	else if (unlikely(old < 0 || old + i < 0))
		__refcount_warn(r, "saturated; leaking memory");
}
static inline void refcount_inc(refcount_t *r) { refcount_add(1, r); }

static inline bool refcount_sub_and_test(int i, refcount_t *r)
{
	int old = atomic_fetch_sub(i, &r->refs);

	if (old == i)
		return true;
	if (unlikely(old < 0 || old - i < 0))
		__refcount_warn(r, "underflow; use-after-free");
	return false;
}
static inline bool refcount_dec_and_test(refcount_t *r) { return refcount_sub_and_test(1, r); }
static inline void refcount_dec(refcount_t *r)
{
	if (unlikely(atomic_fetch_sub(1, &r->refs) <= 1))
		__refcount_warn(r, "decrement hit 0; leaking memory");
}
static inline bool refcount_dec_if_one(refcount_t *r)
{
	return atomic_cmpxchg(&r->refs, 1, 0) == 1;
}

#endif
