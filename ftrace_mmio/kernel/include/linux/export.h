/* Exporting a module's symbols to the modules loaded after it.
 *
 * EXPORT_SYMBOL(sym) emits a struct kernel_symbol {value, name, namespace}
 * into __ksymtab (__ksymtab_gpl for the GPL-only kind); the loader
 * (kernel/module.py) reads those entries after relocation and later modules
 * link against them.  The kernel's 6.1 layout without PREL32 references:
 * three absolute words.  Namespaces are bare tokens, as in 6.1
 * (EXPORT_SYMBOL_NS_GPL(sym, FOO) and MODULE_IMPORT_NS(FOO)).
 * The kernel's own code (kernel/core/*.c) need not export: every global
 * function of the core is visible to modules already. */
#ifndef _LINUX_EXPORT_H
#define _LINUX_EXPORT_H

#include <linux/stringify.h>

struct kernel_symbol {
	unsigned long value;
	const char *name;
	const char *namespace;
};

#define __EXPORT_SYMBOL(sym, sec, ns)						\
	extern typeof(sym) sym;							\
	static const char __kstrtab_##sym[]					\
		__attribute__((section("__ksymtab_strings"), used, aligned(1))) = #sym; \
	static const struct kernel_symbol __ksymtab_##sym			\
		__attribute__((section(sec), used, aligned(8))) =		\
		{ (unsigned long)&sym, __kstrtab_##sym, ns }

#define EXPORT_SYMBOL(sym)		__EXPORT_SYMBOL(sym, "__ksymtab", (const char *)0)
#define EXPORT_SYMBOL_GPL(sym)		__EXPORT_SYMBOL(sym, "__ksymtab_gpl", (const char *)0)
#define EXPORT_SYMBOL_NS(sym, ns)	__EXPORT_SYMBOL(sym, "__ksymtab", __stringify(ns))
#define EXPORT_SYMBOL_NS_GPL(sym, ns)	__EXPORT_SYMBOL(sym, "__ksymtab_gpl", __stringify(ns))

#endif
