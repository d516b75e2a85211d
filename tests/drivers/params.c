// SPDX-License-Identifier: GPL-2.0-only
/* One parameter of every type; init prints them all. */
#include <linux/module.h>

static unsigned char p_byte = 1;
static short p_short = -2;
static unsigned short p_ushort = 3;
static int p_int = -4;
static unsigned int p_uint = 5;
static long p_long = -6;
static unsigned long p_ulong = 7;
static char *p_charp = "default";
static bool p_bool;
static bool p_invbool;
static unsigned int p_hexint = 0x10;
static int renamed_internal = 9;

module_param(p_byte, byte, 0444);
module_param(p_short, short, 0444);
module_param(p_ushort, ushort, 0444);
module_param(p_int, int, 0644);
module_param(p_uint, uint, 0444);
module_param(p_long, long, 0444);
module_param(p_ulong, ulong, 0444);
module_param(p_charp, charp, 0444);
module_param(p_bool, bool, 0444);
module_param(p_invbool, invbool, 0444);
module_param(p_hexint, hexint, 0444);
module_param_named(renamed, renamed_internal, int, 0);
MODULE_PARM_DESC(p_int, "an int");
MODULE_DESCRIPTION("parameters of every type");

static int __init params_init(void)
{
	pr_info("params: byte %u short %d ushort %u int %d uint %u long %ld ulong %lu\n",
		p_byte, p_short, p_ushort, p_int, p_uint, p_long, p_ulong);
	pr_info("params: charp %s bool %d invbool %d hexint %#x renamed %d\n",
		p_charp, p_bool, p_invbool, p_hexint, renamed_internal);
	return 0;
}

static void __exit params_exit(void)
{
}

module_init(params_init);
module_exit(params_exit);
MODULE_LICENSE("GPL");
