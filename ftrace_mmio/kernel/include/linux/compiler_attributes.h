/* GCC attributes under the names kernel code spells them with. */
#ifndef __LINUX_COMPILER_ATTRIBUTES_H
#define __LINUX_COMPILER_ATTRIBUTES_H

#define __alias(symbol) __attribute__((__alias__(#symbol)))
#define __aligned(x) __attribute__((__aligned__(x)))
#define __aligned_largest __attribute__((__aligned__))
#define __alloc_size(x, ...) __attribute__((__alloc_size__(x, ##__VA_ARGS__)))
#define __always_inline inline __attribute__((__always_inline__))
#define __cleanup(func) __attribute__((__cleanup__(func)))
#define __cold __attribute__((__cold__))
#define __attribute_const__ __attribute__((__const__))
#define __copy(symbol) __attribute__((__copy__(symbol)))
#define __deprecated
#define __designated_init __attribute__((__designated_init__))
#define __visible __attribute__((__externally_visible__))
#define __printf(a, b) __attribute__((__format__(printf, a, b)))
#define __scanf(a, b) __attribute__((__format__(scanf, a, b)))
#define __gnu_inline __attribute__((__gnu_inline__))
#define __malloc __attribute__((__malloc__))
#define __mode(x) __attribute__((__mode__(x)))
#define __no_caller_saved_registers __attribute__((__no_caller_saved_registers__))
#define noinline __attribute__((__noinline__))
#define __nonstring __attribute__((__nonstring__))
#define __noreturn __attribute__((__noreturn__))
#define __packed __attribute__((__packed__))
#define __pure __attribute__((__pure__))
#define __section(section) __attribute__((__section__(section)))
#define __always_unused __attribute__((__unused__))
#define __maybe_unused __attribute__((__unused__))
#define __used __attribute__((__used__))
#define __must_check __attribute__((__warn_unused_result__))
#define __weak __attribute__((__weak__))
#define __noclone __attribute__((__noclone__))
#define __no_sanitize_address
#define __no_stack_protector
#define __counted_by(member)

#if __has_attribute(__fallthrough__)
#define fallthrough __attribute__((__fallthrough__))
#else
#define fallthrough do {} while (0) /* fallthrough */
#endif

#endif
