/* printk and the pr_* helpers.  A message starts with an optional level
 * (KERN_SOH + digit); define pr_fmt before including this to prefix every
 * pr_* message, e.g. #define pr_fmt(fmt) KBUILD_MODNAME ": " fmt */
#ifndef _LINUX_PRINTK_H
#define _LINUX_PRINTK_H

#include <linux/compiler.h>
#include <linux/stdarg.h>
#include <linux/types.h>
#include <linux/init.h>

#define KERN_SOH "\001"
#define KERN_SOH_ASCII '\001'
#define KERN_EMERG KERN_SOH "0"
#define KERN_ALERT KERN_SOH "1"
#define KERN_CRIT KERN_SOH "2"
#define KERN_ERR KERN_SOH "3"
#define KERN_WARNING KERN_SOH "4"
#define KERN_NOTICE KERN_SOH "5"
#define KERN_INFO KERN_SOH "6"
#define KERN_DEBUG KERN_SOH "7"
#define KERN_DEFAULT ""
#define KERN_CONT KERN_SOH "c"

#define LOGLEVEL_EMERG 0
#define LOGLEVEL_ALERT 1
#define LOGLEVEL_CRIT 2
#define LOGLEVEL_ERR 3
#define LOGLEVEL_WARNING 4
#define LOGLEVEL_NOTICE 5
#define LOGLEVEL_INFO 6
#define LOGLEVEL_DEBUG 7

#ifndef pr_fmt
#define pr_fmt(fmt) fmt
#endif

__printf(1, 2) int printk(const char *fmt, ...);
__printf(1, 0) int vprintk(const char *fmt, va_list args);

#define no_printk(fmt, ...) ({ if (0) printk(fmt, ##__VA_ARGS__); 0; })

#define pr_emerg(fmt, ...) printk(KERN_EMERG pr_fmt(fmt), ##__VA_ARGS__)
#define pr_alert(fmt, ...) printk(KERN_ALERT pr_fmt(fmt), ##__VA_ARGS__)
#define pr_crit(fmt, ...) printk(KERN_CRIT pr_fmt(fmt), ##__VA_ARGS__)
#define pr_err(fmt, ...) printk(KERN_ERR pr_fmt(fmt), ##__VA_ARGS__)
#define pr_warn(fmt, ...) printk(KERN_WARNING pr_fmt(fmt), ##__VA_ARGS__)
#define pr_warning pr_warn
#define pr_notice(fmt, ...) printk(KERN_NOTICE pr_fmt(fmt), ##__VA_ARGS__)
#define pr_info(fmt, ...) printk(KERN_INFO pr_fmt(fmt), ##__VA_ARGS__)
#define pr_cont(fmt, ...) printk(KERN_CONT fmt, ##__VA_ARGS__)
#ifdef DEBUG
#define pr_debug(fmt, ...) printk(KERN_DEBUG pr_fmt(fmt), ##__VA_ARGS__)
#else
#define pr_debug(fmt, ...) no_printk(KERN_DEBUG pr_fmt(fmt), ##__VA_ARGS__)
#endif
#define pr_devel pr_debug

/* Once per call site: the first time the statement runs. */
#define printk_once(fmt, ...) ({ \
	static bool __print_once; \
	bool __ret_print_once = !__print_once; \
	if (!__print_once) { \
		__print_once = true; \
		printk(fmt, ##__VA_ARGS__); \
	} \
	unlikely(__ret_print_once); })
#define pr_emerg_once(fmt, ...) printk_once(KERN_EMERG pr_fmt(fmt), ##__VA_ARGS__)
#define pr_alert_once(fmt, ...) printk_once(KERN_ALERT pr_fmt(fmt), ##__VA_ARGS__)
#define pr_crit_once(fmt, ...) printk_once(KERN_CRIT pr_fmt(fmt), ##__VA_ARGS__)
#define pr_err_once(fmt, ...) printk_once(KERN_ERR pr_fmt(fmt), ##__VA_ARGS__)
#define pr_warn_once(fmt, ...) printk_once(KERN_WARNING pr_fmt(fmt), ##__VA_ARGS__)
#define pr_notice_once(fmt, ...) printk_once(KERN_NOTICE pr_fmt(fmt), ##__VA_ARGS__)
#define pr_info_once(fmt, ...) printk_once(KERN_INFO pr_fmt(fmt), ##__VA_ARGS__)
#ifdef DEBUG
#define pr_debug_once(fmt, ...) printk_once(KERN_DEBUG pr_fmt(fmt), ##__VA_ARGS__)
#else
#define pr_debug_once(fmt, ...) no_printk(KERN_DEBUG pr_fmt(fmt), ##__VA_ARGS__)
#endif
#define pr_devel_once pr_debug_once

/* At most DEFAULT_RATELIMIT_BURST messages per DEFAULT_RATELIMIT_INTERVAL
 * per call site (linux/ratelimit.h). */
#define printk_ratelimited(fmt, ...) ({ \
	static DEFINE_RATELIMIT_STATE(_rs, DEFAULT_RATELIMIT_INTERVAL, DEFAULT_RATELIMIT_BURST); \
	if (__ratelimit(&_rs)) \
		printk(fmt, ##__VA_ARGS__); })
#define pr_emerg_ratelimited(fmt, ...) printk_ratelimited(KERN_EMERG pr_fmt(fmt), ##__VA_ARGS__)
#define pr_alert_ratelimited(fmt, ...) printk_ratelimited(KERN_ALERT pr_fmt(fmt), ##__VA_ARGS__)
#define pr_crit_ratelimited(fmt, ...) printk_ratelimited(KERN_CRIT pr_fmt(fmt), ##__VA_ARGS__)
#define pr_err_ratelimited(fmt, ...) printk_ratelimited(KERN_ERR pr_fmt(fmt), ##__VA_ARGS__)
#define pr_warn_ratelimited(fmt, ...) printk_ratelimited(KERN_WARNING pr_fmt(fmt), ##__VA_ARGS__)
#define pr_notice_ratelimited(fmt, ...) printk_ratelimited(KERN_NOTICE pr_fmt(fmt), ##__VA_ARGS__)
#define pr_info_ratelimited(fmt, ...) printk_ratelimited(KERN_INFO pr_fmt(fmt), ##__VA_ARGS__)
#ifdef DEBUG
#define pr_debug_ratelimited(fmt, ...) printk_ratelimited(KERN_DEBUG pr_fmt(fmt), ##__VA_ARGS__)
#else
#define pr_debug_ratelimited(fmt, ...) no_printk(KERN_DEBUG pr_fmt(fmt), ##__VA_ARGS__)
#endif
#define printk_ratelimit() 1

/* Hex dumps, one printk line per row, in the kernel's layout: groups of
 * groupsize bytes (1, 2, 4 or 8, shown as CPU-order numbers) separated by
 * one space, then optionally the printable characters from column
 * rowsize * 2 + rowsize / groupsize + 1.  rowsize is 16 or 32. */
enum {
	DUMP_PREFIX_NONE,
	DUMP_PREFIX_ADDRESS,
	DUMP_PREFIX_OFFSET
};

#define hex_asc "0123456789abcdef"
#define hex_asc_upper "0123456789ABCDEF"
#define hex_asc_lo(x) ("0123456789abcdef"[((x) & 0x0f)])
#define hex_asc_hi(x) ("0123456789abcdef"[((x) & 0xf0) >> 4])
#define hex_asc_upper_lo(x) ("0123456789ABCDEF"[((x) & 0x0f)])
#define hex_asc_upper_hi(x) ("0123456789ABCDEF"[((x) & 0xf0) >> 4])

static inline char *hex_byte_pack(char *buf, unsigned char byte)
{
	*buf++ = hex_asc_hi(byte);
	*buf++ = hex_asc_lo(byte);
	return buf;
}

static inline int hex_to_bin(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch |= 0x20;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* Formats one row of at most rowsize bytes into linebuf (always
 * terminated); returns the length the whole row needs. */
static inline int hex_dump_to_buffer(const void *buf, unsigned long len, int rowsize, int groupsize,
				     char *linebuf, unsigned long linebuflen, bool ascii)
{
	const unsigned char *ptr = buf;
	unsigned long need = 0, lx = 0;
	int ngroups, i, j, ascii_column;

#define __HD_PUT(c) do { if (lx + 1 < linebuflen) linebuf[lx++] = (c); need++; } while (0)
	if (rowsize != 16 && rowsize != 32)
		rowsize = 16;
	if (len > (unsigned long)rowsize)
		len = rowsize;
	if ((groupsize != 1 && groupsize != 2 && groupsize != 4 && groupsize != 8) ||
	    (len % groupsize) != 0)
		groupsize = 1;
	ngroups = len / groupsize;
	ascii_column = rowsize * 2 + rowsize / groupsize + 1;
	for (i = 0; i < ngroups; i++) {
		if (i)
			__HD_PUT(' ');
		/* little-endian CPU: the group's last byte is its most significant */
		for (j = groupsize - 1; j >= 0; j--) {
			unsigned char ch = ptr[i * groupsize + j];

			__HD_PUT(hex_asc_hi(ch));
			__HD_PUT(hex_asc_lo(ch));
		}
	}
	if (ascii && len) {
		while (need < (unsigned long)ascii_column)
			__HD_PUT(' ');
		for (i = 0; i < (int)len; i++) {
			unsigned char ch = ptr[i];

			__HD_PUT((ch >= 0x20 && ch < 0x7f) ? ch : '.');
		}
	}
#undef __HD_PUT
	if (linebuflen)
		linebuf[lx < linebuflen ? lx : linebuflen - 1] = '\0';
	return need;
}

static inline void print_hex_dump(const char *level, const char *prefix_str, int prefix_type,
				  int rowsize, int groupsize, const void *buf, size_t len, bool ascii)
{
	const unsigned char *ptr = buf;
	char linebuf[32 * 3 + 2 + 32 + 1];
	size_t i, linelen, remaining = len;

	if (rowsize != 16 && rowsize != 32)
		rowsize = 16;
	for (i = 0; i < len; i += rowsize) {
		linelen = remaining < (size_t)rowsize ? remaining : (size_t)rowsize;
		remaining -= rowsize;
		hex_dump_to_buffer(ptr + i, linelen, rowsize, groupsize, linebuf, sizeof(linebuf), ascii);
		switch (prefix_type) {
		case DUMP_PREFIX_ADDRESS:
			printk("%s%s%p: %s\n", level, prefix_str, ptr + i, linebuf);
			break;
		case DUMP_PREFIX_OFFSET:
			printk("%s%s%.8x: %s\n", level, prefix_str, (unsigned int)i, linebuf);
			break;
		default:
			printk("%s%s%s\n", level, prefix_str, linebuf);
			break;
		}
		if (remaining > len)
			break;
	}
}

#define print_hex_dump_bytes(prefix_str, prefix_type, buf, len) \
	print_hex_dump(KERN_DEBUG, prefix_str, prefix_type, 16, 1, buf, len, true)
#ifdef DEBUG
#define print_hex_dump_debug(prefix_str, prefix_type, rowsize, groupsize, buf, len, ascii) \
	print_hex_dump(KERN_DEBUG, prefix_str, prefix_type, rowsize, groupsize, buf, len, ascii)
#else
#define print_hex_dump_debug(prefix_str, prefix_type, rowsize, groupsize, buf, len, ascii) \
	do { if (0) print_hex_dump(KERN_DEBUG, prefix_str, prefix_type, rowsize, groupsize, \
				   buf, len, ascii); } while (0)
#endif

#include <linux/ratelimit.h>

#endif
