// SPDX-License-Identifier: GPL-2.0-only
/*
 * Accessor functions over the probe device's BAR0, called one by one by
 * the test (Machine.call), so each test sees exactly the device accesses
 * one C statement makes.
 */
#include <linux/module.h>
#include <linux/io.h>
#include <linux/pci.h>

static struct pci_dev *pdev;
static void __iomem *base;

static int __init probe_init(void)
{
	pdev = pci_get_device(0x5150, 0x0001, NULL);
	if (!pdev)
		return -ENODEV;
	if (pci_enable_device(pdev))
		return -EIO;
	base = pci_iomap(pdev, 0, 0);
	return base ? 0 : -ENOMEM;
}

static void __exit probe_exit(void)
{
	pci_iounmap(pdev, base);
	pci_dev_put(pdev);
}

u64 rd8(unsigned long off) { return readb(base + off); }
u64 rd16(unsigned long off) { return readw(base + off); }
u64 rd32(unsigned long off) { return readl(base + off); }
u64 rd64(unsigned long off) { return readq(base + off); }
void wr8(unsigned long off, u64 v) { writeb(v, base + off); }
void wr16(unsigned long off, u64 v) { writew(v, base + off); }
void wr32(unsigned long off, u64 v) { writel(v, base + off); }
void wr64(unsigned long off, u64 v) { writeq(v, base + off); }

u64 io_rd32(unsigned long off) { return ioread32(base + off); }
void io_wr16(unsigned long off, u64 v) { iowrite16(v, base + off); }

static u8 pattern[64];

/* memcpy_toio from a RAM pattern 0x40, 0x41, ...; returns nothing. */
void to_io(unsigned long off, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < sizeof(pattern); i++)
		pattern[i] = 0x40 + i;
	memcpy_toio(base + off, pattern, n);
}

/* memcpy_fromio into RAM; returns the bytes folded into one number. */
u64 from_io(unsigned long off, unsigned long n)
{
	u8 buf[64];
	u64 sum = 0;
	unsigned long i;

	memcpy_fromio(buf, base + off, n);
	for (i = 0; i < n; i++)
		sum = sum * 31 + buf[i];
	return sum;
}

void set_io(unsigned long off, int value, unsigned long n)
{
	memset_io(base + off, value, n);
}

/* A string instruction straight from the driver: n dwords of v. */
void stosl(unsigned long off, u64 v, unsigned long n)
{
	void *dst = (void __force *)(base + off);

	__asm__ __volatile__("rep stosl" : "+c"(n), "+D"(dst) : "a"((u32)v) : "memory");
}

/* memcpy() (the kernel library's, rep movsb) into MMIO. */
void plain_memcpy(unsigned long off, unsigned long n)
{
	memcpy((void __force *)(base + off), pattern, n);
}

/* Read-modify-write in one instruction. */
void or32(unsigned long off, u64 bits)
{
	__asm__ __volatile__("orl %1, %0" : "+m"(*(volatile u32 __force *)(base + off)) : "r"((u32)bits));
}

module_init(probe_init);
module_exit(probe_exit);
MODULE_LICENSE("GPL");
