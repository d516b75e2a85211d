/* Bit operations on unsigned long bitmaps: the atomic and non-atomic
 * set/clear/change/test (asm/bitops.h), bit searches, Hamming weights,
 * rotations. */
#ifndef _LINUX_BITOPS_H
#define _LINUX_BITOPS_H

#include <linux/bits.h>
#include <linux/types.h>
#include <asm/bitops.h>

#ifndef BITS_PER_LONG
#define BITS_PER_LONG 64
#endif
#define BITS_PER_LONG_LONG 64
#define BITS_PER_BYTE 8
#define BITS_PER_TYPE(type) (sizeof(type) * BITS_PER_BYTE)
#define BITS_TO_LONGS(nr) (((nr) + BITS_PER_LONG - 1) / BITS_PER_LONG)
#define BITS_TO_U32(nr) (((nr) + 31) / 32)
#define BITS_TO_BYTES(nr) (((nr) + 7) / 8)
#define BIT_MASK(nr) (1UL << ((nr) % BITS_PER_LONG))
#define BIT_WORD(nr) ((nr) / BITS_PER_LONG)
#ifndef DECLARE_BITMAP
#define DECLARE_BITMAP(name, bits) unsigned long name[BITS_TO_LONGS(bits)]
#endif

static inline unsigned int hweight8(unsigned int w) { return __builtin_popcount(w & 0xff); }
static inline unsigned int hweight16(unsigned int w) { return __builtin_popcount(w & 0xffff); }
static inline unsigned int hweight32(unsigned int w) { return __builtin_popcount(w); }
static inline unsigned long hweight64(u64 w) { return __builtin_popcountll(w); }
static inline unsigned long hweight_long(unsigned long w) { return __builtin_popcountl(w); }

static inline u8 rol8(u8 w, unsigned int s) { return (w << (s & 7)) | (w >> ((-s) & 7)); }
static inline u8 ror8(u8 w, unsigned int s) { return (w >> (s & 7)) | (w << ((-s) & 7)); }
static inline u16 rol16(u16 w, unsigned int s) { return (w << (s & 15)) | (w >> ((-s) & 15)); }
static inline u16 ror16(u16 w, unsigned int s) { return (w >> (s & 15)) | (w << ((-s) & 15)); }
static inline u32 rol32(u32 w, unsigned int s) { return (w << (s & 31)) | (w >> ((-s) & 31)); }
static inline u32 ror32(u32 w, unsigned int s) { return (w >> (s & 31)) | (w << ((-s) & 31)); }
static inline u64 rol64(u64 w, unsigned int s) { return (w << (s & 63)) | (w >> ((-s) & 63)); }
static inline u64 ror64(u64 w, unsigned int s) { return (w >> (s & 63)) | (w << ((-s) & 63)); }

/* Sign-extend the value whose sign bit is bit index. */
static inline s32 sign_extend32(u32 value, int index)
{
	u8 shift = 31 - index;

	return (s32)(value << shift) >> shift;
}

static inline s64 sign_extend64(u64 value, int index)
{
	u8 shift = 63 - index;

	return (s64)(value << shift) >> shift;
}

static inline unsigned int fls_long(unsigned long l) { return fls64(l); }

static inline int get_bitmask_order(unsigned int count)
{
	return fls(count);
}

/* ---- searching bitmaps of `size` bits; `size` when nothing is found ---- */

static inline unsigned long __find_next_bit(const unsigned long *addr, unsigned long size,
					    unsigned long start, unsigned long invert)
{
	unsigned long word;

	if (start >= size)
		return size;
	word = (addr[start / BITS_PER_LONG] ^ invert) & (~0UL << (start % BITS_PER_LONG));
	start -= start % BITS_PER_LONG;
	while (!word) {
		start += BITS_PER_LONG;
		if (start >= size)
			return size;
		word = addr[start / BITS_PER_LONG] ^ invert;
	}
	start += __ffs(word);
	return start < size ? start : size;
}

static inline unsigned long find_next_bit(const unsigned long *addr, unsigned long size,
					  unsigned long offset)
{
	return __find_next_bit(addr, size, offset, 0);
}

static inline unsigned long find_next_zero_bit(const unsigned long *addr, unsigned long size,
					       unsigned long offset)
{
	return __find_next_bit(addr, size, offset, ~0UL);
}

static inline unsigned long find_first_bit(const unsigned long *addr, unsigned long size)
{
	return __find_next_bit(addr, size, 0, 0);
}

static inline unsigned long find_first_zero_bit(const unsigned long *addr, unsigned long size)
{
	return __find_next_bit(addr, size, 0, ~0UL);
}

static inline unsigned long find_last_bit(const unsigned long *addr, unsigned long size)
{
	unsigned long i = size;

	while (i) {
		unsigned long word, idx = (i - 1) / BITS_PER_LONG;

		word = addr[idx];
		if ((i - 1) % BITS_PER_LONG != BITS_PER_LONG - 1)
			word &= (2UL << ((i - 1) % BITS_PER_LONG)) - 1;
		if (word)
			return idx * BITS_PER_LONG + __fls(word);
		i = idx * BITS_PER_LONG;
	}
	return size;
}

#define for_each_set_bit(bit, addr, size) \
	for ((bit) = find_first_bit((addr), (size)); (bit) < (size); \
	     (bit) = find_next_bit((addr), (size), (bit) + 1))
#define for_each_set_bit_from(bit, addr, size) \
	for ((bit) = find_next_bit((addr), (size), (bit)); (bit) < (size); \
	     (bit) = find_next_bit((addr), (size), (bit) + 1))
#define for_each_clear_bit(bit, addr, size) \
	for ((bit) = find_first_zero_bit((addr), (size)); (bit) < (size); \
	     (bit) = find_next_zero_bit((addr), (size), (bit) + 1))

#endif
