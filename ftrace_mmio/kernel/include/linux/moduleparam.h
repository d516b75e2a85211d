/* module_param(name, type, perm): insmod NAME name=value sets the variable
 * before module_init runs.  Types: byte, short, ushort, int, uint, long,
 * ulong, hexint, charp, bool, invbool.  Each parameter is described by an
 * entry in the "__param" section, which the loader reads. */
#ifndef _LINUX_MODULEPARAM_H
#define _LINUX_MODULEPARAM_H

#include <linux/compiler.h>
#include <linux/types.h>

struct kernel_param {
	const char *name;
	void *arg;
	unsigned int type;
	unsigned short perm;
};

#define __PARAM_TYPE_byte 1
#define __PARAM_TYPE_short 2
#define __PARAM_TYPE_ushort 3
#define __PARAM_TYPE_int 4
#define __PARAM_TYPE_uint 5
#define __PARAM_TYPE_long 6
#define __PARAM_TYPE_ulong 7
#define __PARAM_TYPE_charp 8
#define __PARAM_TYPE_bool 9
#define __PARAM_TYPE_invbool 10
#define __PARAM_TYPE_hexint 11

/* The C type each parameter type expects, checked at compile time. */
#define __PARAM_CTYPE_byte unsigned char
#define __PARAM_CTYPE_short short
#define __PARAM_CTYPE_ushort unsigned short
#define __PARAM_CTYPE_int int
#define __PARAM_CTYPE_uint unsigned int
#define __PARAM_CTYPE_long long
#define __PARAM_CTYPE_ulong unsigned long
#define __PARAM_CTYPE_charp char *
#define __PARAM_CTYPE_bool bool
#define __PARAM_CTYPE_invbool bool
#define __PARAM_CTYPE_hexint unsigned int

#define module_param_named(name, value, type, perm) \
	static inline __PARAM_CTYPE_##type __maybe_unused *__param_check_##name(void) \
	{ return &(value); } \
	static const char __param_str_##name[] = #name; \
	static const struct kernel_param __param_##name \
		__used __section("__param") __aligned(8) = \
		{ __param_str_##name, (void *)&(value), __PARAM_TYPE_##type, (perm) }

#define module_param(name, type, perm) module_param_named(name, name, type, perm)

#define __MODULE_INFO_ID2(a, b) a##b
#define __MODULE_INFO_ID1(a, b) __MODULE_INFO_ID2(a, b)
#define MODULE_INFO(tag, info) \
	static const char __MODULE_INFO_ID1(__modinfo_##tag##_, __COUNTER__)[] \
		__used __section(".modinfo") __aligned(1) = #tag "=" info

/* A macro's value as a string, in parameter descriptions. */
#include <linux/stringify.h>
#define __MODULE_STRING(x) __stringify(x)

#define MODULE_PARM_DESC(_parm, desc) MODULE_INFO(parm, #_parm ":" desc)

#endif
