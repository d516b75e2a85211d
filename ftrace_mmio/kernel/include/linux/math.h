/* Integer rounding and division helpers. */
#ifndef _LINUX_MATH_H
#define _LINUX_MATH_H

#include <linux/types.h>
#include <linux/const.h>

#define DIV_ROUND_UP __KERNEL_DIV_ROUND_UP
#define DIV_ROUND_DOWN_ULL(ll, d) ({ unsigned long long _tmp = (ll); _tmp / (d); })
#define DIV_ROUND_UP_ULL(ll, d) DIV_ROUND_DOWN_ULL((unsigned long long)(ll) + (d) - 1, (d))
#define DIV_ROUND_UP_SECTOR_T(ll, d) DIV_ROUND_UP_ULL(ll, d)

/* Nearest integer; for signed values the halves round away from zero. */
#define DIV_ROUND_CLOSEST(x, divisor) ({ \
	__typeof__(x) __x = x; __typeof__(divisor) __d = divisor; \
	(((__typeof__(x))-1) > 0 || ((__typeof__(divisor))-1) > 0 || \
	 (((__x) > 0) == ((__d) > 0))) ? \
		(((__x) + ((__d) / 2)) / (__d)) : \
		(((__x) - ((__d) / 2)) / (__d)); })
#define DIV_ROUND_CLOSEST_ULL(x, divisor) ({ \
	__typeof__(divisor) __d = divisor; \
	unsigned long long _tmp = (x) + (__d) / 2; _tmp / __d; })

/* y a power of two */
#define __round_mask(x, y) ((__typeof__(x))((y) - 1))
#define round_up(x, y) ((((x) - 1) | __round_mask(x, y)) + 1)
#define round_down(x, y) ((x) & ~__round_mask(x, y))
/* any y */
#define roundup(x, y) ({ __typeof__(y) __y = y; (((x) + (__y - 1)) / __y) * __y; })
#define rounddown(x, y) ({ __typeof__(x) __x = (x); __x - (__x % (y)); })

/* x * numer / denom without overflowing the intermediate product. */
#define mult_frac(x, numer, denom) ({ \
	__typeof__(x) quot = (x) / (denom); \
	__typeof__(x) rem = (x) % (denom); \
	(quot * (numer)) + ((rem * (numer)) / (denom)); })

#define abs(x) __builtin_choose_expr(sizeof(x) == sizeof(long long), \
	(long long)__builtin_llabs((long long)(x)), \
	__builtin_choose_expr(sizeof(x) == sizeof(long), (long)__builtin_labs((long)(x)), \
		(int)__builtin_abs((int)(x))))
#define abs_diff(a, b) ({ __typeof__(a) __a = (a); __typeof__(b) __b = (b); \
	(void)(&__a == &__b); __a > __b ? (__a - __b) : (__b - __a); })

#define sector_div(a, b) do_div(a, b)

static inline u32 reciprocal_scale(u32 val, u32 ep_ro)
{
	return (u32)(((u64)val * ep_ro) >> 32);
}

/* do_div(n, base): n becomes n / base (u64), the remainder is returned. */
#define do_div(n, base) ({ \
	u32 __base = (base); u32 __rem = (u32)((n) % __base); \
	(n) = (n) / __base; __rem; })

static inline u64 div_u64_rem(u64 dividend, u32 divisor, u32 *remainder)
{
	*remainder = dividend % divisor;
	return dividend / divisor;
}
static inline u64 div_u64(u64 dividend, u32 divisor) { return dividend / divisor; }
static inline s64 div_s64(s64 dividend, s32 divisor) { return dividend / divisor; }
static inline u64 div64_u64(u64 dividend, u64 divisor) { return dividend / divisor; }
static inline s64 div64_s64(s64 dividend, s64 divisor) { return dividend / divisor; }
static inline u64 div64_ul(u64 dividend, unsigned long divisor) { return dividend / divisor; }
#define DIV64_U64_ROUND_UP(ll, d) ({ u64 _tmp = (d); div64_u64((ll) + _tmp - 1, _tmp); })

#endif
