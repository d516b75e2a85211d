/* Base-2 logarithms and powers of two. */
#ifndef _LINUX_LOG2_H
#define _LINUX_LOG2_H

#include <linux/types.h>

static inline __attribute__((const)) int __ilog2_u32(u32 n) { return 31 - __builtin_clz(n); }
static inline __attribute__((const)) int __ilog2_u64(u64 n) { return 63 - __builtin_clzll(n); }

static inline __attribute__((const)) bool is_power_of_2(unsigned long n)
{
	return n != 0 && ((n & (n - 1)) == 0);
}

static inline __attribute__((const)) unsigned long __roundup_pow_of_two(unsigned long n)
{
	return n <= 1 ? 1UL : 1UL << (64 - __builtin_clzl(n - 1));
}

static inline __attribute__((const)) unsigned long __rounddown_pow_of_two(unsigned long n)
{
	return 1UL << (63 - __builtin_clzl(n));
}

/* Floor of log2(n); a constant for constant n.  n == 0 is undefined
 * (the kernel gives -1 for a constant 0; so does this). */
#define const_ilog2(n) ((n) < 1 ? -1 : 63 - __builtin_clzll((u64)(n)))
#define ilog2(n) (__builtin_constant_p(n) ? const_ilog2(n) : \
	(sizeof(n) <= 4) ? __ilog2_u32(n) : __ilog2_u64(n))

#define roundup_pow_of_two(n) (__builtin_constant_p(n) ? \
	((n) == 1 ? 1 : (1UL << (ilog2((n) - 1) + 1))) : __roundup_pow_of_two(n))
#define rounddown_pow_of_two(n) (__builtin_constant_p(n) ? \
	(1UL << ilog2(n)) : __rounddown_pow_of_two(n))

static inline __attribute__((const)) int __order_base_2(unsigned long n)
{
	return n > 1 ? ilog2(n - 1) + 1 : 0;
}
#define order_base_2(n) (__builtin_constant_p(n) ? \
	(((n) == 0 || (n) == 1) ? 0 : ilog2((n) - 1) + 1) : __order_base_2(n))

static inline __attribute__((const)) int __bits_per(unsigned long n)
{
	if (n < 2)
		return 1;
	if (is_power_of_2(n))
		return order_base_2(n) + 1;
	return order_base_2(n);
}
#define bits_per(n) __bits_per(n)

#endif
