/* Annotations the kernel's checkers (sparse) read and gcc ignores, plus the
 * type helpers compiler.h and the accessors build on.  The kernel forces
 * this header (and kconfig.h) into every unit; here compiler.h includes it. */
#ifndef __LINUX_COMPILER_TYPES_H
#define __LINUX_COMPILER_TYPES_H

#include <linux/kconfig.h>
#include <linux/compiler_attributes.h>

/* sparse address spaces and endian types: no-ops for gcc */
#define __user
#define __kernel
#define __iomem
#define __percpu
#define __rcu
#define __force
#define __safe
#define __nocast
#define __bitwise
#define __private
#define __chk_user_ptr(x) (void)0
#define __chk_io_ptr(x) (void)0
#define __must_hold(x)
#define __acquires(x)
#define __releases(x)
#define __acquire(x) (void)0
#define __release(x) (void)0
#define __cond_lock(x, c) (c)
#define ACCESS_PRIVATE(p, member) ((p)->member)

#define notrace __attribute__((__no_instrument_function__))
#define __naked __attribute__((__naked__)) notrace
#define __inline_maybe_unused __maybe_unused
#define noinline_for_stack noinline
#define noinstr noinline notrace
#define __no_kcsan
#define __no_sanitize_or_inline __always_inline
#define asm_volatile_goto(x...) asm goto(x)
#define asm_inline asm __inline

#define ___PASTE(a, b) a##b
#define __PASTE(a, b) ___PASTE(a, b)

/* Are two expressions of the same type? */
#define __same_type(a, b) __builtin_types_compatible_p(__typeof__(a), __typeof__(b))

/* The type of x without qualifiers, for locals that must not be volatile. */
#define __unqual_scalar_typeof(x) __typeof__(_Generic((x), \
	char: (char)0, \
	unsigned char: (unsigned char)0, signed char: (signed char)0, \
	unsigned short: (unsigned short)0, signed short: (signed short)0, \
	unsigned int: (unsigned int)0, signed int: (signed int)0, \
	unsigned long: (unsigned long)0, signed long: (signed long)0, \
	unsigned long long: (unsigned long long)0, signed long long: (signed long long)0, \
	default: (x)))

#define __native_word(t) \
	(sizeof(t) == sizeof(char) || sizeof(t) == sizeof(short) || \
	 sizeof(t) == sizeof(int) || sizeof(t) == sizeof(long))

/* A condition gcc can prove at compile time fails the build with msg. */
#define __compiletime_error(msg) __attribute__((__error__(msg)))
#define __compiletime_assert(condition, msg, prefix, suffix) \
	do { \
		extern void prefix##suffix(void) __compiletime_error(msg); \
		if (!(condition)) \
			prefix##suffix(); \
	} while (0)
#define _compiletime_assert(condition, msg, prefix, suffix) \
	__compiletime_assert(condition, msg, prefix, suffix)
#define compiletime_assert(condition, msg) \
	_compiletime_assert(condition, msg, __compiletime_assert_, __COUNTER__)
#define compiletime_assert_atomic_type(t) \
	compiletime_assert(__native_word(t), "Need native word sized stores/loads for atomicity.")

#define __diag_push()
#define __diag_pop()
#define __diag_ignore(compiler, version, option, comment)
#define __diag_ignore_all(option, comment)

#endif
