// SPDX-License-Identifier: GPL-2.0-only
/*
 * Crashes on purpose, in the way the "mode" parameter names; mode=none
 * loads cleanly.  Each crash lives in its own function so the oops's RIP
 * names it.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/delay.h>
#include <linux/pci.h>

static char *mode = "none";
module_param(mode, charp, 0);
static char *exit_mode = "none";
module_param(exit_mode, charp, 0);

static const char rodata[16] = "read only";

static noinline int crash_null(void) { return *(volatile int *)8; }
static noinline int crash_unmapped(void) { return *(volatile int *)0xffff999900000000UL; }
static noinline int crash_noncanonical(void) { return *(volatile int *)0x1234567812345678UL; }
static noinline int crash_write_ro(void) { *(volatile char *)&rodata[3] = 'x'; return 0; }

static noinline int crash_exec_nx(void)
{
	unsigned char *buf = kmalloc(16, GFP_KERNEL);
	int (*fn)(void) = (int (*)(void))buf;

	buf[0] = 0xc3;		/* ret: harmless, if it could run */
	return fn();
}

static noinline int crash_div0(void)
{
	volatile int zero = 0;

	return 100 / zero;
}

static noinline int crash_ud2(void) { __builtin_trap(); }

static noinline int crash_stack(int depth)
{
	volatile char frame[512];

	frame[0] = depth;
	return crash_stack(depth + 1) + frame[0];
}

static noinline int crash_loop(void)
{
	volatile int spin = 1;

	while (spin)
		;
	return 0;
}

static noinline int crash_loop_delay(void)
{
	for (;;)
		udelay(1);
	return 0;
}

static noinline int crash_syscall(void) { __asm__ __volatile__("syscall" ::: "rcx", "r11", "memory"); return 0; }
static noinline int crash_int80(void) { __asm__ __volatile__("int $0x80" ::: "memory"); return 0; }
static noinline int crash_int3(void) { __asm__ __volatile__("int3" ::: "memory"); return 0; }
static noinline int crash_inb(void) { unsigned char v; __asm__ __volatile__("inb $0x60, %0" : "=a"(v)); return v; }
static noinline int crash_outb(void) { __asm__ __volatile__("outb %0, $0x80" : : "a"((char)1)); return 0; }
static noinline int crash_hlt(void) { __asm__ __volatile__("hlt"); return 0; }
static noinline int crash_bug(void) { BUG(); return 0; }
static noinline int crash_panic(void) { panic("the %s mode", "panic"); return 0; }
static noinline int crash_kfree(void) { kfree((void *)0xffff888000123456UL); return 0; }
static noinline int crash_double_free(void) { void *p = kmalloc(8, GFP_KERNEL); kfree(p); kfree(p); return 0; }
static noinline int crash_pci(void) { return pci_enable_device((struct pci_dev *)rodata) + 1; }
static noinline int crash_snprintf_ro(void) { return snprintf((char *)rodata, 16, "%d", 1); }

static noinline int harmless_bad_string(void)
{
	printk(KERN_INFO "crash: string %s\n", (char *)0xffff999900000000UL);
	return 0;
}

static int run(const char *what)
{
	if (!strcmp(what, "none")) return 0;
	if (!strcmp(what, "fail")) return -ENODEV;
	if (!strcmp(what, "null")) return crash_null();
	if (!strcmp(what, "unmapped")) return crash_unmapped();
	if (!strcmp(what, "noncanonical")) return crash_noncanonical();
	if (!strcmp(what, "write_ro")) return crash_write_ro();
	if (!strcmp(what, "exec_nx")) return crash_exec_nx();
	if (!strcmp(what, "div0")) return crash_div0();
	if (!strcmp(what, "ud2")) return crash_ud2();
	if (!strcmp(what, "stack")) return crash_stack(0);
	if (!strcmp(what, "loop")) return crash_loop();
	if (!strcmp(what, "loop_delay")) return crash_loop_delay();
	if (!strcmp(what, "syscall")) return crash_syscall();
	if (!strcmp(what, "int80")) return crash_int80();
	if (!strcmp(what, "int3")) return crash_int3();
	if (!strcmp(what, "inb")) return crash_inb();
	if (!strcmp(what, "outb")) return crash_outb();
	if (!strcmp(what, "hlt")) return crash_hlt();
	if (!strcmp(what, "bug")) return crash_bug();
	if (!strcmp(what, "panic")) return crash_panic();
	if (!strcmp(what, "kfree")) return crash_kfree();
	if (!strcmp(what, "double_free")) return crash_double_free();
	if (!strcmp(what, "pci")) return crash_pci();
	if (!strcmp(what, "snprintf_ro")) return crash_snprintf_ro();
	if (!strcmp(what, "bad_string")) return harmless_bad_string();
	pr_err("crash: unknown mode %s\n", what);
	return -EINVAL;
}

static int __init crash_init(void)
{
	return run(mode);
}

static void __exit crash_exit(void)
{
	run(exit_mode);
}

module_init(crash_init);
module_exit(crash_exit);
MODULE_LICENSE("GPL");
