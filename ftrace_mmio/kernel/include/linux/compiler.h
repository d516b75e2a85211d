/* Compiler attributes with the kernel's names. */
#ifndef _LINUX_COMPILER_H
#define _LINUX_COMPILER_H

#define __iomem
#define __user
#define __force
#define __must_check __attribute__((warn_unused_result))
#define __always_inline inline __attribute__((always_inline))
#define noinline __attribute__((noinline))
#define __used __attribute__((used))
#define __maybe_unused __attribute__((unused))
#define __always_unused __attribute__((unused))
#define __section(s) __attribute__((section(s)))
#define __aligned(x) __attribute__((aligned(x)))
#define __packed __attribute__((packed))
#define __printf(a, b) __attribute__((format(printf, a, b)))
#define __noreturn __attribute__((noreturn))
#define __cold __attribute__((cold))
#define __weak __attribute__((weak))

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define barrier() __asm__ __volatile__("" : : : "memory")

#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, val) do { *(volatile __typeof__(x) *)&(x) = (val); } while (0)

#define __stringify_1(x...) #x
#define __stringify(x...) __stringify_1(x)

#endif
