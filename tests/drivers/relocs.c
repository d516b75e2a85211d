// SPDX-License-Identifier: GPL-2.0-only
/*
 * References of every kind the loader relocates, each checked at run time:
 * R_X86_64_PLT32 (calls to the kernel), PC32 (RIP-relative data),
 * 32S (absolute addresses in instructions: jump tables, array bases),
 * 64 (pointers in data), and, from assembler, PC64 and 32 (against a weak
 * symbol nobody defines, which resolves to 0).
 */
#include <linux/module.h>
#include <linux/jiffies.h>

static int counter = 5;
int table[8] = { 10, 11, 12, 13, 14, 15, 16, 17 };
int *table_ptr = &table[2];
static const char *greeting = "hello";

static noinline int add(int a, int b) { return a + b; }
static noinline int mul(int a, int b) { return a * b; }
static int (*ops[])(int, int) = { add, mul };

extern const long pc64_delta;
extern const unsigned int weak_abs32;
__asm__(".pushsection .rodata.reloc_test, \"a\"\n"
	".balign 8\n"
	".globl pc64_delta\n"
	"pc64_delta: .quad counter - pc64_delta\n"
	".globl weak_abs32\n"
	".weak undefined_weak_symbol\n"
	"weak_abs32: .long undefined_weak_symbol\n"
	".popsection\n");

static noinline int pick(int i)
{
	/* a switch dense enough for a jump table */
	switch (i) {
	case 0: return 100;
	case 1: return 101;
	case 2: return 102;
	case 3: return 103;
	case 4: return 104;
	case 5: return 105;
	default: return -1;
	}
}

static noinline int index_table(volatile int i)
{
	return table[i];
}

static int __init relocs_init(void)
{
	unsigned long j = jiffies;

	counter++;
	pr_info("relocs: counter %d table %d ptr %d greeting %s\n",
		counter, index_table(3), *table_ptr, greeting);
	pr_info("relocs: ops %d %d switch %d %d %d\n",
		ops[0](6, 7), ops[1](6, 7), pick(0), pick(4), pick(9));
	pr_info("relocs: pc64 %d weak32 %u jiffies %d\n",
		(long)&counter - (long)&pc64_delta == pc64_delta, weak_abs32, j != 0);
	return 0;
}

module_init(relocs_init);
MODULE_LICENSE("GPL");
