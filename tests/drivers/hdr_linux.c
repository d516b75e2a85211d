// SPDX-License-Identifier: GPL-2.0
/*
 * A driver with only the includes a Linux driver of this kind has: every
 * helper below must come from them, as on the kernel.  Its init logs one
 * line per helper family; tests/test_kernel_headers.py checks the values.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/pci.h>
#include <linux/io.h>
#include <linux/iopoll.h>
#include <linux/bitfield.h>
#include <linux/delay.h>
#include <linux/slab.h>
#include <linux/err.h>
#include <asm/unaligned.h>
#include <linux/sizes.h>

#define REG_CTRL_MODE GENMASK(7, 4)
#define REG_CTRL_EN BIT(0)
#define REG_WIDE GENMASK_ULL(47, 40)

struct hdr_item {
	int id;
	struct list_head node;
	u16 n;
	u32 vals[];
};

static DEFINE_SPINLOCK(hdr_lock);
static DEFINE_MUTEX(hdr_mutex);

static int __init hdr_init(void)
{
	u8 buf[12] = { 0x78, 0x56, 0x34, 0x12, 0xaa, 0xbb, 0xcc, 0xdd, 0x01, 0x02, 0x03, 0x04 };
	struct hdr_item *item;
	unsigned long flags;
	u32 reg;
	u8 small;
	int rc, i;

	reg = FIELD_PREP(REG_CTRL_MODE, 0xa) | REG_CTRL_EN;
	pr_info("bitfield %#x %lu %lu %d %d %#llx\n", reg, FIELD_GET(REG_CTRL_MODE, reg),
		FIELD_MAX(REG_CTRL_MODE), FIELD_FIT(REG_CTRL_MODE, 16), FIELD_FIT(REG_CTRL_MODE, 15),
		(unsigned long long)FIELD_PREP(REG_WIDE, 0x5a));
	pr_info("encode %#x %u %#x\n", u32_encode_bits(3, GENMASK(9, 8)),
		le32_get_bits(cpu_to_le32(0x300), GENMASK(9, 8)), be16_encode_bits(1, BIT(0)));
	pr_info("bits %#lx %#llx %#lx %d\n", GENMASK(15, 8), GENMASK_ULL(63, 60), BIT(31), BITS_PER_LONG);
	pr_info("endian %#x %#x %#x %#x %#llx\n", le32_to_cpu(cpu_to_le32(0x11223344)),
		be32_to_cpu(0x11223344), cpu_to_be16(0x1234), swab32(0xaabbccdd),
		(unsigned long long)swab64(0x0102030405060708ULL));
	pr_info("unaligned %#x %#x %#llx %#x\n", get_unaligned_le32(buf + 1), get_unaligned_be16(buf + 3),
		(unsigned long long)get_unaligned_le64(buf + 4), get_unaligned_be24(buf + 9));
	put_unaligned_be32(0xcafef00d, buf + 1);
	pr_info("put %02x %02x %02x %02x\n", buf[1], buf[2], buf[3], buf[4]);
	pr_info("minmax %d %u %d %d %ld %d\n", min(3, -4), max_t(u32, 7, 9), clamp(15, 0, 10),
		min3(5, 2, 8), (long)abs(-42L), max(-1, -2));
	pr_info("math %lu %d %u %lu %d %llu\n", DIV_ROUND_UP(10UL, 4), DIV_ROUND_CLOSEST(7, 2),
		roundup(13, 5), round_down(0x1234UL, 0x100), (int)ALIGN(13, 8),
		(unsigned long long)div_u64(1000000000000ULL, 7));
	pr_info("log2 %d %d %lu %lu %d %d\n", ilog2(4096), ilog2(4097), roundup_pow_of_two(100UL),
		rounddown_pow_of_two(100UL), order_base_2(9), is_power_of_2(64));
	pr_info("limits %d %u %lld %#x %#llx %zu\n", INT_MAX, U16_MAX, (long long)S64_MIN, U32_MAX,
		(unsigned long long)U64_MAX, ARRAY_SIZE(buf));
	pr_info("sizes %#x %#x %#llx\n", SZ_4K, SZ_1M, (unsigned long long)SZ_4G);
	pr_info("overflow %zu %zu %d\n", struct_size(item, vals, 4), array_size(SIZE_MAX / 2, 3),
		check_add_overflow(U32_MAX, 1U, &reg));
	rc = kstrtou8("300", 10, &small);
	pr_info("kstrtox %d %d", rc, kstrtou8("0x7f", 16, &small));
	pr_cont(" %u\n", small);
	pr_info("split %#x %#x %#x %#x\n", upper_32_bits(0x1122334455667788ULL),
		lower_32_bits(0x1122334455667788ULL), upper_16_bits(0xaabbccdd), lower_16_bits(0xaabbccdd));
	pr_info("config %d %d %d\n", IS_ENABLED(CONFIG_PCI), IS_ENABLED(CONFIG_NOT_A_THING), HZ);

	item = kzalloc(struct_size(item, vals, 4), GFP_KERNEL);
	if (!item)
		return -ENOMEM;
	item->n = 4;
	INIT_LIST_HEAD(&item->node);
	pr_info("container_of %d\n", container_of(&item->n, struct hdr_item, n) == item);
	spin_lock_irqsave(&hdr_lock, flags);
	item->id = 7;
	spin_unlock_irqrestore(&hdr_lock, flags);
	mutex_lock(&hdr_mutex);
	mutex_unlock(&hdr_mutex);
	kfree(item);

	pr_info("err %d %ld %d\n", IS_ERR(ERR_PTR(-EIO)), PTR_ERR(ERR_PTR(-EBUSY)), IS_ERR_OR_NULL(NULL));
	pr_info("time %d\n", time_before(jiffies, jiffies + HZ) && ktime_get_ns() > 0);
	for (i = 0; i < 3; i++)
		pr_info_once("once %d\n", i);
	print_hex_dump(KERN_INFO, "dump: ", DUMP_PREFIX_OFFSET, 16, 1, buf, sizeof(buf), true);
	print_hex_dump(KERN_INFO, "", DUMP_PREFIX_NONE, 16, 4, buf, 8, false);
	BUILD_BUG_ON(sizeof(u64) != 8);
	static_assert(sizeof(__le32) == 4);
	return 0;
}

static void __exit hdr_exit(void)
{
}

module_init(hdr_init);
module_exit(hdr_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("helpers from the kernel's common headers");
