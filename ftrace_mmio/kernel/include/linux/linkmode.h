/* Link-mode masks (bitmaps of ETHTOOL_LINK_MODE_*_BIT) and their helpers. */
#ifndef __LINKMODE_H
#define __LINKMODE_H

#include <linux/bitops.h>
#include <linux/string.h>
#include <linux/ethtool.h>

#define __LINKMODE_LONGS BITS_TO_LONGS(__ETHTOOL_LINK_MODE_MASK_NBITS)

static inline void linkmode_zero(unsigned long *dst)
{
	memset(dst, 0, __LINKMODE_LONGS * sizeof(long));
}

static inline void linkmode_copy(unsigned long *dst, const unsigned long *src)
{
	memcpy(dst, src, __LINKMODE_LONGS * sizeof(long));
}

static inline void linkmode_and(unsigned long *dst, const unsigned long *a, const unsigned long *b)
{
	for (unsigned int i = 0; i < __LINKMODE_LONGS; i++)
		dst[i] = a[i] & b[i];
}

static inline void linkmode_or(unsigned long *dst, const unsigned long *a, const unsigned long *b)
{
	for (unsigned int i = 0; i < __LINKMODE_LONGS; i++)
		dst[i] = a[i] | b[i];
}

static inline bool linkmode_empty(const unsigned long *src)
{
	for (unsigned int i = 0; i < __LINKMODE_LONGS; i++)
		if (src[i])
			return false;
	return true;
}

static inline void linkmode_set_bit(int nr, volatile unsigned long *addr)
{
	addr[nr / BITS_PER_LONG] |= 1UL << (nr % BITS_PER_LONG);
}

static inline void linkmode_clear_bit(int nr, volatile unsigned long *addr)
{
	addr[nr / BITS_PER_LONG] &= ~(1UL << (nr % BITS_PER_LONG));
}

static inline void linkmode_mod_bit(int nr, volatile unsigned long *addr, int set)
{
	if (set)
		linkmode_set_bit(nr, addr);
	else
		linkmode_clear_bit(nr, addr);
}

static inline int linkmode_test_bit(int nr, const volatile unsigned long *addr)
{
	return (addr[nr / BITS_PER_LONG] >> (nr % BITS_PER_LONG)) & 1;
}

#endif
