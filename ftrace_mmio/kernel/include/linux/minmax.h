/* min/max and friends.  min() and max() insist both sides have the same
 * type (a comparison of distinct pointer types warns, as on the kernel);
 * the _t forms convert first.  Every argument is evaluated once. */
#ifndef _LINUX_MINMAX_H
#define _LINUX_MINMAX_H

#include <linux/compiler.h>
#include <linux/const.h>

#define __typecheck(x, y) (!!(sizeof((__typeof__(x) *)1 == (__typeof__(y) *)1)))

#define __cmp_op_min <
#define __cmp_op_max >
#define __cmp(op, x, y) ((x) __cmp_op_##op (y) ? (x) : (y))
#define __cmp_once(op, x, y, ux, uy) ({ \
	__typeof__(x) ux = (x); __typeof__(y) uy = (y); \
	(void)__typecheck(ux, uy); __cmp(op, ux, uy); })
#define __careful_cmp(op, x, y) \
	__cmp_once(op, x, y, __UNIQUE_ID(__x), __UNIQUE_ID(__y))

#define min(x, y) __careful_cmp(min, x, y)
#define max(x, y) __careful_cmp(max, x, y)
#define umin(x, y) __careful_cmp(min, (x) + 0u + 0ul + 0ull, (y) + 0u + 0ul + 0ull)
#define umax(x, y) __careful_cmp(max, (x) + 0u + 0ul + 0ull, (y) + 0u + 0ul + 0ull)
#define min3(x, y, z) min((__typeof__(x))min(x, y), z)
#define max3(x, y, z) max((__typeof__(x))max(x, y), z)
#define min_not_zero(x, y) ({ __typeof__(x) __mnz_x = (x); __typeof__(y) __mnz_y = (y); \
	__mnz_x == 0 ? __mnz_y : ((__mnz_y == 0) ? __mnz_x : min(__mnz_x, __mnz_y)); })

#define min_t(type, x, y) __careful_cmp(min, (type)(x), (type)(y))
#define max_t(type, x, y) __careful_cmp(max, (type)(x), (type)(y))

#define clamp(val, lo, hi) min((__typeof__(val))max(val, lo), hi)
#define clamp_t(type, val, lo, hi) min_t(type, max_t(type, val, lo), hi)
#define clamp_val(val, lo, hi) clamp_t(__typeof__(val), val, lo, hi)

#define swap(a, b) do { __typeof__(a) __swap_tmp = (a); (a) = (b); (b) = __swap_tmp; } while (0)

#endif
