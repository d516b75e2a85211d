/* Copying to and from user memory.
 *
 * User buffers are pages the machine maps below the kernel half for the
 * duration of a file operation (kernel/chardev.py); a copy that leaves them
 * (a kernel pointer, an unmapped user address) copies nothing of the bad part
 * and reports it, as the kernel's exception-table fix-up would: the copy
 * functions return the number of bytes NOT copied, get_user/put_user -EFAULT. */
#ifndef _LINUX_UACCESS_H
#define _LINUX_UACCESS_H

#include <linux/types.h>
#include <linux/errno.h>
#include <linux/compiler.h>
#include <linux/string.h>
#include <linux/minmax.h>

#define TASK_SIZE_MAX	((1UL << 47) - 4096)
#define USER_DS		TASK_SIZE_MAX

/* Whether [addr, addr+size) lies in the user half at all (the kernel's check;
 * what is mapped there is found out by the copy). */
static inline bool access_ok(const void __user *addr, unsigned long size)
{
	unsigned long a = (unsigned long)addr;

	return size <= TASK_SIZE_MAX && a <= TASK_SIZE_MAX - size;
}

/* kernel/core/chardev.c: both return the number of bytes not copied. */
unsigned long _copy_from_user(void *to, const void __user *from, unsigned long n);
unsigned long _copy_to_user(void __user *to, const void *from, unsigned long n);
long strncpy_from_user(char *dst, const char __user *src, long count);
long strnlen_user(const char __user *str, long n);
unsigned long clear_user(void __user *to, unsigned long n);

static __always_inline unsigned long __must_check
copy_from_user(void *to, const void __user *from, unsigned long n)
{
	return _copy_from_user(to, from, n);
}

static __always_inline unsigned long __must_check
copy_to_user(void __user *to, const void *from, unsigned long n)
{
	return _copy_to_user(to, from, n);
}

#define __copy_from_user copy_from_user
#define __copy_to_user copy_to_user
#define raw_copy_from_user copy_from_user
#define raw_copy_to_user copy_to_user
#define __clear_user clear_user

/* get_user(x, ptr): one object of *ptr's size into x; 0 or -EFAULT (x = 0). */
#define get_user(x, ptr) ({						\
	unsigned char __gu_buf[sizeof(*(ptr))] __aligned(8);		\
	int __gu_err = copy_from_user(__gu_buf, (ptr), sizeof(*(ptr))) ? -EFAULT : 0; \
	if (__gu_err)							\
		__builtin_memset(__gu_buf, 0, sizeof(__gu_buf));	\
	(x) = (__typeof__(x))*(const __typeof__(*(ptr)) *)__gu_buf;	\
	__gu_err;							\
})

/* put_user(x, ptr): x converted to *ptr's type, stored there; 0 or -EFAULT. */
#define put_user(x, ptr) ({						\
	__typeof__(*(ptr)) __pu_val = (x);				\
	copy_to_user((ptr), &__pu_val, sizeof(__pu_val)) ? -EFAULT : 0;	\
})

#define __get_user(x, ptr) get_user(x, ptr)
#define __put_user(x, ptr) put_user(x, ptr)

static inline void pagefault_disable(void) { }
static inline void pagefault_enable(void) { }
static inline bool pagefault_disabled(void) { return false; }

#endif
