/* Byte swapping.  gcc turns the builtins into bswap/rol, constants fold. */
#ifndef _LINUX_SWAB_H
#define _LINUX_SWAB_H

#include <linux/types.h>

#define ___constant_swab16(x) ((u16)__builtin_bswap16((u16)(x)))
#define ___constant_swab32(x) ((u32)__builtin_bswap32((u32)(x)))
#define ___constant_swab64(x) ((u64)__builtin_bswap64((u64)(x)))

static inline __attribute__((const)) u16 __fswab16(u16 val) { return __builtin_bswap16(val); }
static inline __attribute__((const)) u32 __fswab32(u32 val) { return __builtin_bswap32(val); }
static inline __attribute__((const)) u64 __fswab64(u64 val) { return __builtin_bswap64(val); }
static inline __attribute__((const)) u32 __fswahw32(u32 val) { return (val << 16) | (val >> 16); }
static inline __attribute__((const)) u32 __fswahb32(u32 val)
{
	return ((val & 0x00ff00ffU) << 8) | ((val & 0xff00ff00U) >> 8);
}

#define __swab16(x) ((u16)__builtin_bswap16((u16)(x)))
#define __swab32(x) ((u32)__builtin_bswap32((u32)(x)))
#define __swab64(x) ((u64)__builtin_bswap64((u64)(x)))
#define __swahw32(x) __fswahw32(x)
#define __swahb32(x) __fswahb32(x)

#define swab16 __swab16
#define swab32 __swab32
#define swab64 __swab64
#define swahw32 __swahw32
#define swahb32 __swahb32

static inline u16 __swab16p(const u16 *p) { return __swab16(*p); }
static inline u32 __swab32p(const u32 *p) { return __swab32(*p); }
static inline u64 __swab64p(const u64 *p) { return __swab64(*p); }
static inline void __swab16s(u16 *p) { *p = __swab16(*p); }
static inline void __swab32s(u32 *p) { *p = __swab32(*p); }
static inline void __swab64s(u64 *p) { *p = __swab64(*p); }
#define swab16p __swab16p
#define swab32p __swab32p
#define swab64p __swab64p
#define swab16s __swab16s
#define swab32s __swab32s
#define swab64s __swab64s

#endif
