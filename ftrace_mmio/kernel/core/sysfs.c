// SPDX-License-Identifier: GPL-2.0-only
/*
 * sysfs_emit, sysfs_emit_at: what a show() callback formats into its
 * page-sized buffer.  As in the kernel, the buffer must be page aligned
 * (WARN and 0 otherwise) and the result is cut at PAGE_SIZE - 1 bytes;
 * the return value is what was written, not what would have been.
 *
 * Files of the core are one translation unit: statics carry "sysfs_".
 */
#include <linux/kernel.h>
#include <linux/sysfs.h>
#include <linux/bug.h>
#include <linux/mm.h>
#include <linux/stdarg.h>

static int sysfs_vemit_at(char *buf, int at, const char *fmt, va_list args)
{
	int len;

	if (WARN(!buf || offset_in_page(buf) || at < 0 || at >= PAGE_SIZE,
		 "invalid sysfs_emit_at: buf:%p at:%d\n", buf, at))
		return 0;
	len = vsnprintf(buf + at, PAGE_SIZE - at, fmt, args);
	/* scnprintf's rule: count what fits, not what was wanted */
	if (len >= PAGE_SIZE - at)
		len = PAGE_SIZE - at - 1;
	return len;
}

int sysfs_emit(char *buf, const char *fmt, ...)
{
	va_list args;
	int len;

	va_start(args, fmt);
	len = sysfs_vemit_at(buf, 0, fmt, args);
	va_end(args);
	return len;
}

int sysfs_emit_at(char *buf, int at, const char *fmt, ...)
{
	va_list args;
	int len;

	va_start(args, fmt);
	len = sysfs_vemit_at(buf, at, fmt, args);
	va_end(args);
	return len;
}
