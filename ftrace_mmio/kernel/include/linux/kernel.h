/* The grab bag every driver includes: it pulls in what the kernel's
 * kernel.h pulls in (limits, minmax, math, container_of, bit operations,
 * string-to-number, printk, build-time checks, byte order), plus bug.h,
 * errno.h and string.h, which drivers also get through it on the kernel
 * by way of other headers. */
#ifndef _LINUX_KERNEL_H
#define _LINUX_KERNEL_H

#include <linux/stdarg.h>
#include <linux/align.h>
#include <linux/array_size.h>
#include <linux/limits.h>
#include <linux/stddef.h>
#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/container_of.h>
#include <linux/bitops.h>
#include <linux/kstrtox.h>
#include <linux/log2.h>
#include <linux/math.h>
#include <linux/minmax.h>
#include <linux/typecheck.h>
#include <linux/printk.h>
#include <linux/build_bug.h>
#include <linux/bug.h>
#include <linux/errno.h>
#include <linux/bits.h>
#include <linux/string.h>
#include <linux/mm.h>
#include <asm/byteorder.h>
#include <asm/processor.h>

#define STACK_MAGIC 0xdeadbeef

/* 0x0101...01 times x: a byte repeated across a long. */
#define REPEAT_BYTE(x) ((~0ul / 0xff) * (x))

#define upper_32_bits(n) ((u32)(((n) >> 16) >> 16))
#define lower_32_bits(n) ((u32)((n) & 0xffffffff))
#define upper_16_bits(n) ((u16)((n) >> 16))
#define lower_16_bits(n) ((u16)((n) & 0xffff))

#define u64_to_user_ptr(x) ((void __user *)(uintptr_t)(x))

#define _RET_IP_ (unsigned long)__builtin_return_address(0)
#define _THIS_IP_ ({ __label__ __here; __here: (unsigned long)&&__here; })

/* No preemption and no sleeping-in-atomic checks on this machine. */
#define might_sleep() do { } while (0)
#define might_sleep_if(cond) do { (void)(cond); } while (0)
#define might_resched() do { } while (0)
#define cant_sleep() do { } while (0)
#define sched_annotate_sleep() do { } while (0)
#define non_block_start() do { } while (0)
#define non_block_end() do { } while (0)

#define TAINT_PROPRIETARY_MODULE 0
#define TAINT_OOT_MODULE 12

__printf(3, 4) int snprintf(char *buf, size_t size, const char *fmt, ...);
__printf(3, 0) int vsnprintf(char *buf, size_t size, const char *fmt, va_list args);
__printf(3, 4) int scnprintf(char *buf, size_t size, const char *fmt, ...);
__printf(2, 3) int sprintf(char *buf, const char *fmt, ...);
__printf(1, 2) void panic(const char *fmt, ...) __noreturn __cold;

#endif
