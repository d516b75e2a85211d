// SPDX-License-Identifier: GPL-2.0
/*
 * Every I/O accessor family once, on testmmio's RAM-like BAR0 (traced)
 * and nvlike's I/O BAR (port I/O, untraced), plus a read of a physical
 * address nothing decodes.  tests/test_kernel_io.py calls the functions
 * one by one and checks the trace lines and return values.
 */
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/io.h>
#include <linux/iopoll.h>
#include <linux/io-64-nonatomic-lo-hi.h>
#include <linux/io-64-nonatomic-hi-lo.h>

static unsigned long fb_phys = 0xfd000000;
module_param(fb_phys, ulong, 0444);

static void __iomem *fb;

u64 io_widths(void)
{
	u64 sum;

	writeb(0x11, fb + 0x0);
	writew(0x2233, fb + 0x2);
	writel(0x44556677, fb + 0x4);
	writeq(0x8899aabbccddeeffULL, fb + 0x8);
	sum = readb(fb + 0x0);
	sum += readw(fb + 0x2);
	sum += readl(fb + 0x4);
	sum += readq(fb + 0x8);
	return sum;
}

u64 io_relaxed(void)
{
	u64 sum;

	writel_relaxed(0x01020304, fb + 0x10);
	__raw_writew(0x0506, fb + 0x14);
	sum = readl_relaxed(fb + 0x10);
	sum += __raw_readw(fb + 0x14);
	return sum;
}

u64 io_iomap(void)
{
	u64 sum;

	iowrite8(0xa1, fb + 0x18);
	iowrite16(0xb2c3, fb + 0x1a);
	iowrite32(0xd4e5f607, fb + 0x1c);
	iowrite64(0x1122334455667788ULL, fb + 0x20);
	sum = ioread8(fb + 0x18);
	sum += ioread16(fb + 0x1a);
	sum += ioread32(fb + 0x1c);
	sum += ioread64(fb + 0x20);
	return sum;
}

/* n 4-byte writes to one register from a buffer, then n reads back. */
u64 io_rep(unsigned long n)
{
	u32 out[16], in[16] = { 0 };
	u64 sum = 0;
	unsigned long i;

	if (n > 16)
		n = 16;
	for (i = 0; i < n; i++)
		out[i] = 0x1000 + i;
	iowrite32_rep(fb + 0x100, out, n);
	ioread32_rep(fb + 0x100, in, n);
	for (i = 0; i < n; i++)
		sum += in[i];
	return sum;
}

u64 io_rep_small(void)
{
	u8 b[3] = { 1, 2, 3 }, bi[3];
	u16 w[2] = { 0x4142, 0x4344 }, wi[2];

	iowrite8_rep(fb + 0x110, b, 3);
	ioread8_rep(fb + 0x110, bi, 3);
	writesw(fb + 0x112, w, 2);
	readsw(fb + 0x112, wi, 2);
	writesl(fb + 0x114, (u32[]){ 7 }, 1);
	return bi[0] + bi[1] + bi[2] + wi[0] + wi[1];
}

u64 io_be(void)
{
	u64 r;

	iowrite32be(0x11223344, fb + 0x40);
	iowrite16be(0x5566, fb + 0x44);
	r = (u64)ioread32be(fb + 0x40) << 16;
	r |= ioread16be(fb + 0x44);
	return r;
}

u64 io_lohi(void)
{
	u64 a, b;

	lo_hi_writeq(0x1122334455667788ULL, fb + 0x50);
	hi_lo_writeq(0x99aabbccddeeff00ULL, fb + 0x58);
	a = lo_hi_readq(fb + 0x50);
	b = hi_lo_readq(fb + 0x58);
	return a ^ b;
}

u64 io_memcpy(void)
{
	u8 out[16], in[16];
	u64 sum = 0;
	int i;

	for (i = 0; i < 16; i++)
		out[i] = 0x20 + i;
	memcpy_toio(fb + 0x80, out, 16);
	memcpy_fromio(in, fb + 0x80, 16);
	memset_io(fb + 0xa0, 0xab, 8);
	for (i = 0; i < 16; i++)
		sum += in[i];
	return sum;
}

/* readl_poll_timeout on a register that already has bit 0 set: 0. */
long io_poll_ok(void)
{
	u32 v;

	writel(0x3, fb + 0xc0);
	return readl_poll_timeout(fb + 0xc0, v, v & 1, 10, 1000);
}

/* ... on one that never gets it: -ETIMEDOUT after the timeout. */
long io_poll_timeout(unsigned long atomic)
{
	u32 v;

	writel(0x2, fb + 0xc4);
	if (atomic)
		return readl_poll_timeout_atomic(fb + 0xc4, v, v & 1, 5, 100);
	return readl_poll_timeout(fb + 0xc4, v, v & 1, 20, 200);
}

/* readx_poll_timeout with another accessor and a condition on the value. */
long io_pollx(void)
{
	u16 v;

	writew(0x42, fb + 0xc8);
	return readx_poll_timeout(ioread16, fb + 0xc8, v, v == 0x42, 0, 100) ?: v;
}

/* Port I/O on an I/O BAR at port base: in/out of each width, the string
 * forms, and the same through an ioport_map cookie. */
u64 io_ports(unsigned long base)
{
	void __iomem *cookie;
	u32 outbuf[4] = { 0x01010101, 0x02020202, 0x03030303, 0x04040404 }, inbuf[4];
	u64 sum;

	outb(0x5a, base + 0);
	outw(0x1234, base + 2);
	outl(0xdeadbeef, base + 4);
	sum = inb(base + 0);
	sum += inw(base + 2);
	sum += inl(base + 4);
	outsl(base + 8, outbuf, 1);
	insl(base + 8, inbuf, 1);
	sum += inbuf[0];
	cookie = ioport_map(base, 0x80);
	iowrite32(0xcafef00d, cookie + 0x10);
	sum += ioread32(cookie + 0x10);
	iowrite32be(0x11223344, cookie + 0x14);
	sum += inl(base + 0x14);
	ioport_unmap(cookie);
	return sum;
}

/* pci_iomap of nvlike's I/O BAR (5): a port cookie, then ioread/iowrite. */
u64 io_pci_iomap_io_bar(void)
{
	struct pci_dev *pdev = pci_get_device(0x10de, 0x1180, NULL);
	void __iomem *io;
	u64 r;

	if (!pdev)
		return 1;
	if (pci_enable_device(pdev))
		return 2;
	io = pci_iomap(pdev, 5, 0);
	if (!io)
		return 3;
	iowrite16(0x6789, io + 0x20);
	r = ioread16(io + 0x20);
	r = r << 32 | (unsigned long)io;
	pci_iounmap(pdev, io);
	pci_dev_put(pdev);
	return r;
}

/* Port reads of a port nobody claims: all ones. */
u64 io_port_unclaimed(unsigned long port)
{
	outl(0x12345678, port);
	return (u64)inb(port) << 32 | inl(port);
}

/* A physical address no device decodes: reads all ones, writes vanish. */
u64 io_unclaimed(unsigned long phys)
{
	void __iomem *p = ioremap(phys, 0x1000);
	u32 a, b;

	if (!p)
		return 0;
	a = readl(p);
	writel(0x12345678, p + 4);
	b = readl(p + 4);
	b &= readb(p + 8) | 0xffffff00;
	iounmap(p);
	return (u64)a << 32 | b;
}

static int __init io_access_init(void)
{
	fb = ioremap(fb_phys, 0x1000);
	return fb ? 0 : -ENOMEM;
}

static void __exit io_access_exit(void)
{
	iounmap(fb);
}

module_init(io_access_init);
module_exit(io_access_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("every I/O accessor once");
