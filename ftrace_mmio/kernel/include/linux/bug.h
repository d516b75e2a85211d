/* BUG and WARN.  BUG() ends the module's call in an oops naming the file
 * and line; WARN_ON() logs a warning with the caller and carries on. */
#ifndef _LINUX_BUG_H
#define _LINUX_BUG_H

#include <linux/compiler.h>
#include <linux/types.h>
#include <linux/printk.h>
#include <linux/build_bug.h>

void __bug_at(const char *file, int line) __noreturn;
void __warn_at(const char *file, int line);

#define BUG() do { __bug_at(__FILE__, __LINE__); } while (0)
#define BUG_ON(cond) do { if (unlikely(cond)) BUG(); } while (0)

#define WARN_ON(cond) ({ \
	int __warn_cond = !!(cond); \
	if (unlikely(__warn_cond)) \
		__warn_at(__FILE__, __LINE__); \
	unlikely(__warn_cond); \
})
#define WARN_ON_ONCE(cond) ({ \
	static bool __warned; \
	int __warn_cond = !!(cond); \
	if (unlikely(__warn_cond && !__warned)) { \
		__warned = true; \
		__warn_at(__FILE__, __LINE__); \
	} \
	unlikely(__warn_cond); \
})
#define WARN(cond, fmt, ...) ({ \
	int __warn_cond = !!(cond); \
	if (unlikely(__warn_cond)) { \
		printk(KERN_WARNING fmt, ##__VA_ARGS__); \
		__warn_at(__FILE__, __LINE__); \
	} \
	unlikely(__warn_cond); \
})

#define WARN_ONCE(cond, fmt, ...) ({ \
	static bool __warned_once; \
	int __warn_cond = !!(cond); \
	if (unlikely(__warn_cond && !__warned_once)) { \
		__warned_once = true; \
		printk(KERN_WARNING fmt, ##__VA_ARGS__); \
		__warn_at(__FILE__, __LINE__); \
	} \
	unlikely(__warn_cond); \
})
#define WARN_ON_SMP(cond) WARN_ON(cond)

#endif
