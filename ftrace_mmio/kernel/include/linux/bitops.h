#ifndef _LINUX_BITOPS_H
#define _LINUX_BITOPS_H

#include <linux/bits.h>
#include <linux/types.h>

static inline int fls(unsigned int x) { return x ? 32 - __builtin_clz(x) : 0; }
static inline unsigned long __ffs(unsigned long word) { return __builtin_ctzl(word); }
static inline int hweight32(unsigned int w) { return __builtin_popcount(w); }

#endif
