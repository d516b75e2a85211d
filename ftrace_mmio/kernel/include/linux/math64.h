#ifndef _LINUX_MATH64_H
#define _LINUX_MATH64_H

#include <linux/math.h>

static inline u64 mul_u32_u32(u32 a, u32 b) { return (u64)a * b; }
static inline u64 mul_u64_u32_div(u64 a, u32 mul, u32 divisor)
{
	return (u64)(((unsigned __int128)a * mul) / divisor);
}

#endif
