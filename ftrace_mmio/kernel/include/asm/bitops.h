/* x86 bit operations.  The atomic ones are lock-prefixed bts/btr/btc with
 * a register bit offset, as the kernel's: the offset may reach past the
 * first word of the bitmap.  The __-prefixed ones are the non-atomic forms.
 * Include <linux/bitops.h>, not this file. */
#ifndef _ASM_X86_BITOPS_H
#define _ASM_X86_BITOPS_H

#include <linux/types.h>
#include <linux/compiler.h>

#define __BITOPS_ADDR(addr) "+m" (*(volatile long *)(addr))

static __always_inline void set_bit(long nr, volatile unsigned long *addr)
{
	__asm__ __volatile__("lock btsq %1, %0" : __BITOPS_ADDR(addr) : "r"(nr) : "memory");
}

static __always_inline void clear_bit(long nr, volatile unsigned long *addr)
{
	__asm__ __volatile__("lock btrq %1, %0" : __BITOPS_ADDR(addr) : "r"(nr) : "memory");
}

static __always_inline void change_bit(long nr, volatile unsigned long *addr)
{
	__asm__ __volatile__("lock btcq %1, %0" : __BITOPS_ADDR(addr) : "r"(nr) : "memory");
}

#define __BITOPS_TEST_AND(name, insn) \
static __always_inline bool name(long nr, volatile unsigned long *addr) \
{ \
	bool old; \
	__asm__ __volatile__(insn " %2, %0" : __BITOPS_ADDR(addr), "=@ccc"(old) \
			     : "r"(nr) : "memory"); \
	return old; \
}
__BITOPS_TEST_AND(test_and_set_bit, "lock btsq")
__BITOPS_TEST_AND(test_and_clear_bit, "lock btrq")
__BITOPS_TEST_AND(test_and_change_bit, "lock btcq")
__BITOPS_TEST_AND(__test_and_set_bit, "btsq")
__BITOPS_TEST_AND(__test_and_clear_bit, "btrq")
__BITOPS_TEST_AND(__test_and_change_bit, "btcq")
#undef __BITOPS_TEST_AND

#define test_and_set_bit_lock test_and_set_bit

static __always_inline void clear_bit_unlock(long nr, volatile unsigned long *addr)
{
	barrier();
	clear_bit(nr, addr);
}

static __always_inline void __set_bit(long nr, volatile unsigned long *addr)
{
	addr[nr / 64] |= 1UL << (nr % 64);
}

static __always_inline void __clear_bit(long nr, volatile unsigned long *addr)
{
	addr[nr / 64] &= ~(1UL << (nr % 64));
}

static __always_inline void __change_bit(long nr, volatile unsigned long *addr)
{
	addr[nr / 64] ^= 1UL << (nr % 64);
}

static __always_inline bool test_bit(long nr, const volatile unsigned long *addr)
{
	return (addr[nr / 64] >> (nr % 64)) & 1;
}

/* Index of the lowest set bit; undefined if word is 0 (as bsf). */
static __always_inline unsigned long __ffs(unsigned long word)
{
	return __builtin_ctzl(word);
}

/* Index of the highest set bit; undefined if word is 0 (as bsr). */
static __always_inline unsigned long __fls(unsigned long word)
{
	return 63 - __builtin_clzl(word);
}

/* Index of the lowest clear bit; undefined if word is ~0. */
static __always_inline unsigned long ffz(unsigned long word)
{
	return __builtin_ctzl(~word);
}

/* 1-based, 0 for 0: the libc ffs. */
static __always_inline int ffs(int x)
{
	return __builtin_ffs(x);
}

/* 1-based index of the highest set bit, 0 for 0. */
static __always_inline int fls(unsigned int x)
{
	return x ? 32 - __builtin_clz(x) : 0;
}

static __always_inline int fls64(u64 x)
{
	return x ? 64 - __builtin_clzll(x) : 0;
}

#endif
