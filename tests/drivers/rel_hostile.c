// SPDX-License-Identifier: GPL-2.0-only
/*
 * A driver that tries to reach the host (tests/test_reliability_machine.py).
 *
 * Each mode loads the registers for a real Linux system call with a visible
 * effect, then issues it the way that ABI does: `syscall` (x86-64 mkdir),
 * `int $0x80` (i386 mkdir), `sysenter`; or talks to host hardware: `out` to
 * the keyboard controller's reset port, `in` from it, `hlt`, `cli`. On the
 * emulator each must be an oops in this module and nothing on the host.
 * "path" is the directory the system calls would create.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/string.h>

static char *mode = "none";
module_param(mode, charp, 0);
static char *path = "/nonexistent";
module_param(path, charp, 0);

static noinline long host_syscall_mkdir(void)
{
	long ret;

	asm volatile("syscall" : "=a"(ret) : "a"(83L), "D"(path), "S"(0777L) : "rcx", "r11", "memory");
	return ret;
}

static noinline long host_int80_mkdir(void)
{
	long ret;

	asm volatile("int $0x80" : "=a"(ret) : "a"(39L), "b"(path), "c"(0777L) : "memory");
	return ret;
}

static noinline long host_sysenter(void)
{
	asm volatile("sysenter" : : "a"(39L), "b"(path) : "memory");
	return 0;
}

static noinline long host_reset(void)
{
	asm volatile("outb %0, $0x64" : : "a"((char)0xfe));
	return 0;
}

static noinline long host_inb(void)
{
	unsigned char v;

	asm volatile("inb $0x64, %0" : "=a"(v));
	return v;
}

static noinline long host_hlt(void)
{
	asm volatile("cli; hlt");
	return 0;
}

static int __init hostile_init(void)
{
	long ret = 0;

	if (!strcmp(mode, "syscall"))
		ret = host_syscall_mkdir();
	else if (!strcmp(mode, "int80"))
		ret = host_int80_mkdir();
	else if (!strcmp(mode, "sysenter"))
		ret = host_sysenter();
	else if (!strcmp(mode, "reset"))
		ret = host_reset();
	else if (!strcmp(mode, "inb"))
		ret = host_inb();
	else if (!strcmp(mode, "hlt"))
		ret = host_hlt();
	pr_info("hostile: %s came back with %ld\n", mode, ret);
	return 0;
}

static void __exit hostile_exit(void) {}

module_init(hostile_init);
module_exit(hostile_exit);
MODULE_LICENSE("GPL");
