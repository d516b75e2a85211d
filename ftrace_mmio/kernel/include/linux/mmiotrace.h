/* mmiotrace_printk: a marker in the trace (a MARK line) while mmiotrace is
 * the current tracer; nothing otherwise. */
#ifndef _LINUX_MMIOTRACE_H
#define _LINUX_MMIOTRACE_H

#include <linux/compiler.h>

__printf(1, 2) int mmiotrace_printk(const char *fmt, ...);

#endif
