/* Loadable modules: module_init names the function insmod runs (non-zero
 * return fails the load), module_exit the one rmmod runs. */
#ifndef _LINUX_MODULE_H
#define _LINUX_MODULE_H

/* What the kernel's module.h brings in, directly or through its own
 * includes (kobject, srcu, kmod ...): drivers rely on getting these from it. */
#include <linux/compiler.h>
#include <linux/types.h>
#include <linux/stat.h>
#include <linux/cache.h>
#include <linux/init.h>
#include <linux/stringify.h>
#include <linux/kernel.h>
#include <linux/moduleparam.h>
#include <linux/export.h>
#include <linux/err.h>
#include <linux/errno.h>
#include <linux/gfp.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/timekeeping.h>
#include <linux/list.h>
#include <linux/atomic.h>
#include <linux/spinlock.h>
#include <linux/mutex.h>
#if __has_include(<linux/wait.h>)
#include <linux/wait.h>
#endif
#if __has_include(<linux/workqueue.h>)
#include <linux/workqueue.h>
#endif
#if __has_include(<linux/timer.h>)
#include <linux/timer.h>
#endif

struct module;
#define THIS_MODULE ((struct module *)0)

typedef int (*initcall_t)(void);
typedef void (*exitcall_t)(void);

/* The loader looks for init_module and cleanup_module; these aliases give
 * the driver's own functions those names (the type check is the inline). */
#define module_init(initfn) \
	static inline initcall_t __maybe_unused __inittest(void) { return initfn; } \
	int init_module(void) __attribute__((alias(#initfn)))

#define module_exit(exitfn) \
	static inline exitcall_t __maybe_unused __exittest(void) { return exitfn; } \
	void cleanup_module(void) __attribute__((alias(#exitfn)))

#define MODULE_LICENSE(x) MODULE_INFO(license, x)
#define MODULE_AUTHOR(x) MODULE_INFO(author, x)
#define MODULE_DESCRIPTION(x) MODULE_INFO(description, x)
#define MODULE_VERSION(x) MODULE_INFO(version, x)
#define MODULE_ALIAS(x) MODULE_INFO(alias, x)
#define MODULE_SOFTDEP(x) MODULE_INFO(softdep, x)
#define MODULE_FIRMWARE(x) MODULE_INFO(firmware, x)
#define MODULE_DEVICE_TABLE(type, name)
/* The loader checks a namespaced export's user imports its namespace. */
#define MODULE_IMPORT_NS(ns) MODULE_INFO(import_ns, __stringify(ns))

#endif
