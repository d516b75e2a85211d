/* String to integer conversions.  They return 0 or -EINVAL (not a
 * number, trailing junk other than one newline) / -ERANGE (too big for the
 * type).  kstrtoul and kstrtoint are the kernel's own; the other widths
 * narrow one of them with the same range check. */
#ifndef _LINUX_KSTRTOX_H
#define _LINUX_KSTRTOX_H

#include <linux/compiler.h>
#include <linux/types.h>
#include <linux/errno.h>

int __must_check kstrtoul(const char *s, unsigned int base, unsigned long *res);
int __must_check kstrtoint(const char *s, unsigned int base, int *res);

static inline int __must_check kstrtoull(const char *s, unsigned int base, unsigned long long *res)
{
	unsigned long v;
	int rc = kstrtoul(s, base, &v);

	if (!rc)
		*res = v;
	return rc;
}

static inline int __must_check kstrtou64(const char *s, unsigned int base, u64 *res)
{
	return kstrtoull(s, base, (unsigned long long *)res);
}

#define __KSTRTO_UNSIGNED(name, type, limit) \
static inline int __must_check name(const char *s, unsigned int base, type *res) \
{ \
	unsigned long v; \
	int rc = kstrtoul(s, base, &v); \
	if (rc) \
		return rc; \
	if (v > (limit)) \
		return -ERANGE; \
	*res = (type)v; \
	return 0; \
}

#define __KSTRTO_SIGNED(name, type, lo, hi) \
static inline int __must_check name(const char *s, unsigned int base, type *res) \
{ \
	int v; \
	int rc = kstrtoint(s, base, &v); \
	if (rc) \
		return rc; \
	if (v < (lo) || v > (hi)) \
		return -ERANGE; \
	*res = (type)v; \
	return 0; \
}

__KSTRTO_UNSIGNED(kstrtouint, unsigned int, 0xffffffffUL)
__KSTRTO_UNSIGNED(kstrtou32, u32, 0xffffffffUL)
__KSTRTO_UNSIGNED(kstrtou16, u16, 0xffffUL)
__KSTRTO_UNSIGNED(kstrtou8, u8, 0xffUL)
__KSTRTO_SIGNED(kstrtos32, s32, -0x7fffffff - 1, 0x7fffffff)
__KSTRTO_SIGNED(kstrtos16, s16, -0x8000, 0x7fff)
__KSTRTO_SIGNED(kstrtos8, s8, -0x80, 0x7f)

/* Longs beyond int range are not parsed: kstrtoint is the signed base. */
static inline int __must_check kstrtol(const char *s, unsigned int base, long *res)
{
	int v;
	int rc = kstrtoint(s, base, &v);

	if (!rc)
		*res = v;
	return rc;
}

/* y/Y/1/on -> true, n/N/0/off -> false (the kernel's spellings). */
static inline int __must_check kstrtobool(const char *s, bool *res)
{
	if (!s)
		return -EINVAL;
	switch (s[0]) {
	case 'y': case 'Y': case '1':
		*res = true;
		return 0;
	case 'n': case 'N': case '0':
		*res = false;
		return 0;
	case 'o': case 'O':
		if (s[1] == 'n' || s[1] == 'N') {
			*res = true;
			return 0;
		}
		if (s[1] == 'f' || s[1] == 'F') {
			*res = false;
			return 0;
		}
		break;
	}
	return -EINVAL;
}

#endif
