/* Compiler helpers with the kernel's names: branch hints, barriers, the
 * ONCE accessors and the compile-time type checks other headers use. */
#ifndef _LINUX_COMPILER_H
#define _LINUX_COMPILER_H

#include <linux/compiler_types.h>
#include <linux/stringify.h>

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define likely_notrace(x) likely(x)
#define unlikely_notrace(x) unlikely(x)

#define barrier() __asm__ __volatile__("" : : : "memory")
#define barrier_data(ptr) __asm__ __volatile__("" : : "r"(ptr) : "memory")
#define barrier_before_unreachable() __asm__ __volatile__("")
#define unreachable() do { barrier_before_unreachable(); __builtin_unreachable(); } while (0)

#define RELOC_HIDE(ptr, off) ({ unsigned long __ptr; \
	__asm__ ("" : "=r"(__ptr) : "0"(ptr)); (__typeof__(ptr))(__ptr + (off)); })
#define OPTIMIZER_HIDE_VAR(var) __asm__ ("" : "=r"(var) : "0"(var))
#define absolute_pointer(val) RELOC_HIDE((void *)(val), 0)

/* A volatile access of exactly x's width: one load or store. */
#define __READ_ONCE(x) (*(const volatile __unqual_scalar_typeof(x) *)&(x))
#define READ_ONCE(x) ({ \
	compiletime_assert(__native_word(x) || sizeof(x) == sizeof(long long), \
			   "Unsupported access size for {READ,WRITE}_ONCE()."); \
	(__typeof__(x))__READ_ONCE(x); })
#define __WRITE_ONCE(x, val) do { *(volatile __typeof__(x) *)&(x) = (val); } while (0)
#define WRITE_ONCE(x, val) do { \
	compiletime_assert(__native_word(x) || sizeof(x) == sizeof(long long), \
			   "Unsupported access size for {READ,WRITE}_ONCE()."); \
	__WRITE_ONCE(x, val); } while (0)
#define data_race(expr) ({ __unqual_scalar_typeof(({ expr; })) __v = ({ expr; }); __v; })

/* Zero-sized at compile time; a build error when e is non-zero. */
#define __BUILD_BUG_ON_ZERO_MSG(e, msg) ((int)sizeof(struct { _Static_assert(!(e), msg); }))
/* 0 for arrays, a build error for pointers (ARRAY_SIZE on a pointer). */
#define __must_be_array(a) __BUILD_BUG_ON_ZERO_MSG(__same_type((a), &(a)[0]), "must be array")

/* 1 for an integer constant expression, 0 otherwise, itself a constant. */
#define __is_constexpr(x) \
	(sizeof(int) == sizeof(*(8 ? ((void *)((long)(x) * 0l)) : (int *)8)))

#define is_signed_type(type) (((type)(-1)) < (__force type)1)
#define is_unsigned_type(type) (!is_signed_type(type))

#define ___ADDRESSABLE(sym, section) \
	static void * __section(section) __used __PASTE(__UNIQUE_ID_addressable_, __COUNTER__) = (void *)&sym;
#define __ADDRESSABLE(sym) ___ADDRESSABLE(sym, ".discard.addressable")

#define __UNIQUE_ID(prefix) __PASTE(__PASTE(__UNIQUE_ID_, prefix), __COUNTER__)

#endif
