// SPDX-License-Identifier: GPL-2.0-only
/*
 * A landing pad for random instructions (tests/test_reliability_machine.py).
 *
 * fuzz_slot(p) points every general register but RSP at p, runs 16 bytes
 * at fuzz_insn that the test overwrites with the instruction under test
 * (padded with NOPs), and comes back. With p inside an ioremap'd BAR that
 * mmiotrace has armed, whatever the instruction touches through a register
 * takes a real #PF on an armed page.
 *
 * fuzz_canary() is one ordinary readl: after each random instruction it
 * proves the tracer still records, with the value the driver got.
 */
#include <linux/module.h>
#include <linux/io.h>

static unsigned long phys = 0xfd000000;
module_param(phys, ulong, 0);

static void __iomem *mmio;

unsigned long fuzz_cookie(void)
{
	return (unsigned long)mmio;
}

unsigned int fuzz_canary(void)
{
	return readl(mmio + 0x10);
}

asm(".pushsection .text\n"
    ".globl fuzz_slot\n"
    ".type fuzz_slot, @function\n"
    "fuzz_slot:\n"
    "	push %rbx\n	push %rbp\n	push %r12\n	push %r13\n	push %r14\n	push %r15\n"
    "	mov %rdi, %rax\n	mov %rdi, %rbx\n	mov %rdi, %rcx\n	mov %rdi, %rdx\n"
    "	mov %rdi, %rsi\n	mov %rdi, %rbp\n	mov %rdi, %r8\n	mov %rdi, %r9\n"
    "	mov %rdi, %r10\n	mov %rdi, %r11\n	mov %rdi, %r12\n	mov %rdi, %r13\n"
    "	mov %rdi, %r14\n	mov %rdi, %r15\n"
    ".globl fuzz_insn\n"
    "fuzz_insn:\n"
    "	.fill 16, 1, 0x90\n"
    "	pop %r15\n	pop %r14\n	pop %r13\n	pop %r12\n	pop %rbp\n	pop %rbx\n"
    "	ret\n"
    ".size fuzz_slot, .-fuzz_slot\n"
    ".popsection\n");

static int __init fuzzpad_init(void)
{
	mmio = ioremap(phys, 0x4000);
	if (!mmio)
		return -ENOMEM;
	writel(0x5afe5afe, mmio + 0x10);
	return 0;
}

static void __exit fuzzpad_exit(void)
{
	iounmap(mmio);
}

module_init(fuzzpad_init);
module_exit(fuzzpad_exit);
MODULE_LICENSE("GPL");
