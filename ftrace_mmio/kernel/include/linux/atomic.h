/* atomic_t, atomic64_t, atomic_long_t with the kernel's operations.
 *
 * Built on GCC's __atomic builtins, which on x86-64 compile to the same
 * lock-prefixed instructions (lock xadd, lock cmpxchg, xchg) as the kernel's
 * inline assembly.  The machine has one CPU, but the instructions are the
 * real ones so code reads and disassembles as it would on the kernel.
 * Fully ordered (SEQ_CST) unless the name says _relaxed/_acquire/_release,
 * which map to the matching builtin order.
 */
#ifndef _LINUX_ATOMIC_H
#define _LINUX_ATOMIC_H

#include <linux/types.h>
#include <linux/compiler.h>

#ifndef _LINUX_ATOMIC_TYPES_DEFINED
#define _LINUX_ATOMIC_TYPES_DEFINED
typedef struct { int counter; } atomic_t;
typedef struct { s64 counter; } atomic64_t;
#endif
typedef atomic64_t atomic_long_t;

#define ATOMIC_INIT(i) { (i) }
#define ATOMIC64_INIT(i) { (i) }
#define ATOMIC_LONG_INIT(i) ATOMIC64_INIT(i)

#define __ATOMIC_OPS(pfx, atype, ctype) \
static __always_inline ctype pfx##_read(const atype *v) { return READ_ONCE(v->counter); } \
static __always_inline ctype pfx##_read_acquire(const atype *v) \
	{ return __atomic_load_n(&v->counter, __ATOMIC_ACQUIRE); } \
static __always_inline void pfx##_set(atype *v, ctype i) { WRITE_ONCE(v->counter, i); } \
static __always_inline void pfx##_set_release(atype *v, ctype i) \
	{ __atomic_store_n(&v->counter, i, __ATOMIC_RELEASE); } \
static __always_inline void pfx##_add(ctype i, atype *v) \
	{ __atomic_add_fetch(&v->counter, i, __ATOMIC_SEQ_CST); } \
static __always_inline void pfx##_sub(ctype i, atype *v) \
	{ __atomic_sub_fetch(&v->counter, i, __ATOMIC_SEQ_CST); } \
static __always_inline void pfx##_inc(atype *v) { pfx##_add(1, v); } \
static __always_inline void pfx##_dec(atype *v) { pfx##_sub(1, v); } \
static __always_inline void pfx##_and(ctype i, atype *v) \
	{ __atomic_and_fetch(&v->counter, i, __ATOMIC_SEQ_CST); } \
static __always_inline void pfx##_or(ctype i, atype *v) \
	{ __atomic_or_fetch(&v->counter, i, __ATOMIC_SEQ_CST); } \
static __always_inline void pfx##_xor(ctype i, atype *v) \
	{ __atomic_xor_fetch(&v->counter, i, __ATOMIC_SEQ_CST); } \
static __always_inline void pfx##_andnot(ctype i, atype *v) \
	{ __atomic_and_fetch(&v->counter, ~i, __ATOMIC_SEQ_CST); } \
static __always_inline ctype pfx##_add_return(ctype i, atype *v) \
	{ return __atomic_add_fetch(&v->counter, i, __ATOMIC_SEQ_CST); } \
static __always_inline ctype pfx##_sub_return(ctype i, atype *v) \
	{ return __atomic_sub_fetch(&v->counter, i, __ATOMIC_SEQ_CST); } \
static __always_inline ctype pfx##_add_return_relaxed(ctype i, atype *v) \
	{ return __atomic_add_fetch(&v->counter, i, __ATOMIC_RELAXED); } \
static __always_inline ctype pfx##_sub_return_relaxed(ctype i, atype *v) \
	{ return __atomic_sub_fetch(&v->counter, i, __ATOMIC_RELAXED); } \
static __always_inline ctype pfx##_inc_return(atype *v) { return pfx##_add_return(1, v); } \
static __always_inline ctype pfx##_dec_return(atype *v) { return pfx##_sub_return(1, v); } \
static __always_inline ctype pfx##_inc_return_relaxed(atype *v) \
	{ return pfx##_add_return_relaxed(1, v); } \
static __always_inline ctype pfx##_dec_return_relaxed(atype *v) \
	{ return pfx##_sub_return_relaxed(1, v); } \
static __always_inline ctype pfx##_fetch_add(ctype i, atype *v) \
	{ return __atomic_fetch_add(&v->counter, i, __ATOMIC_SEQ_CST); } \
static __always_inline ctype pfx##_fetch_sub(ctype i, atype *v) \
	{ return __atomic_fetch_sub(&v->counter, i, __ATOMIC_SEQ_CST); } \
static __always_inline ctype pfx##_fetch_inc(atype *v) { return pfx##_fetch_add(1, v); } \
static __always_inline ctype pfx##_fetch_dec(atype *v) { return pfx##_fetch_sub(1, v); } \
static __always_inline ctype pfx##_fetch_and(ctype i, atype *v) \
	{ return __atomic_fetch_and(&v->counter, i, __ATOMIC_SEQ_CST); } \
static __always_inline ctype pfx##_fetch_or(ctype i, atype *v) \
	{ return __atomic_fetch_or(&v->counter, i, __ATOMIC_SEQ_CST); } \
static __always_inline ctype pfx##_fetch_xor(ctype i, atype *v) \
	{ return __atomic_fetch_xor(&v->counter, i, __ATOMIC_SEQ_CST); } \
static __always_inline ctype pfx##_fetch_andnot(ctype i, atype *v) \
	{ return __atomic_fetch_and(&v->counter, ~i, __ATOMIC_SEQ_CST); } \
static __always_inline bool pfx##_add_negative(ctype i, atype *v) \
	{ return pfx##_add_return(i, v) < 0; } \
static __always_inline bool pfx##_sub_and_test(ctype i, atype *v) \
	{ return pfx##_sub_return(i, v) == 0; } \
static __always_inline bool pfx##_inc_and_test(atype *v) { return pfx##_inc_return(v) == 0; } \
static __always_inline bool pfx##_dec_and_test(atype *v) { return pfx##_dec_return(v) == 0; } \
static __always_inline ctype pfx##_xchg(atype *v, ctype new) \
	{ return __atomic_exchange_n(&v->counter, new, __ATOMIC_SEQ_CST); } \
static __always_inline ctype pfx##_cmpxchg(atype *v, ctype old, ctype new) \
{ \
	__atomic_compare_exchange_n(&v->counter, &old, new, false, \
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); \
	return old; \
} \
static __always_inline bool pfx##_try_cmpxchg(atype *v, ctype *old, ctype new) \
{ \
	return __atomic_compare_exchange_n(&v->counter, old, new, false, \
					   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); \
} \
/* Add a to v unless v is u; returns the old value. */ \
static __always_inline ctype pfx##_fetch_add_unless(atype *v, ctype a, ctype u) \
{ \
	ctype c = pfx##_read(v); \
	do { \
		if (unlikely(c == u)) \
			break; \
	} while (!pfx##_try_cmpxchg(v, &c, c + a)); \
	return c; \
} \
static __always_inline bool pfx##_add_unless(atype *v, ctype a, ctype u) \
	{ return pfx##_fetch_add_unless(v, a, u) != u; } \
static __always_inline bool pfx##_inc_not_zero(atype *v) { return pfx##_add_unless(v, 1, 0); } \
/* Decrement unless that makes it negative; returns old - 1 either way. */ \
static __always_inline ctype pfx##_dec_if_positive(atype *v) \
{ \
	ctype c = pfx##_read(v), d; \
	do { \
		d = c - 1; \
		if (unlikely(d < 0)) \
			break; \
	} while (!pfx##_try_cmpxchg(v, &c, d)); \
	return d; \
}

__ATOMIC_OPS(atomic, atomic_t, int)
__ATOMIC_OPS(atomic64, atomic64_t, s64)
__ATOMIC_OPS(atomic_long, atomic_long_t, long)

#undef __ATOMIC_OPS

#define atomic_set_mask(mask, v) atomic_or((mask), (v))
#define atomic_clear_mask(mask, v) atomic_andnot((mask), (v))

/* The plain-variable forms: xchg(&x, new), cmpxchg(&x, old, new). */
#define xchg(ptr, new) __atomic_exchange_n((ptr), (new), __ATOMIC_SEQ_CST)
#define cmpxchg(ptr, old, new) ({ \
	__typeof__(*(ptr)) __old = (old); \
	__atomic_compare_exchange_n((ptr), &__old, (new), false, \
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); \
	__old; \
})
#define try_cmpxchg(ptr, oldp, new) \
	__atomic_compare_exchange_n((ptr), (oldp), (new), false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)
#define cmpxchg_relaxed cmpxchg
#define cmpxchg64 cmpxchg

/* Barriers: x86 is strongly ordered; the kernel's mb() is an mfence. */
#ifndef mb
#define mb() __asm__ __volatile__("mfence" ::: "memory")
#define rmb() __asm__ __volatile__("lfence" ::: "memory")
#define wmb() __asm__ __volatile__("sfence" ::: "memory")
#define smp_mb() __asm__ __volatile__("lock addl $0,-4(%%rsp)" ::: "memory", "cc")
#define smp_rmb() barrier()
#define smp_wmb() barrier()
#define smp_store_mb(var, value) do { WRITE_ONCE(var, value); smp_mb(); } while (0)
#define smp_mb__before_atomic() barrier()
#define smp_mb__after_atomic() barrier()
#define smp_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define smp_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#endif

#endif
