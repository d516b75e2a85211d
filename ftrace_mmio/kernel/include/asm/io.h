/*
 * x86 device access: MMIO accessors, port I/O, and the iomap cookies that
 * let ioread*()/iowrite*() reach either.
 *
 * MMIO: each readX/writeX is one volatile mov of exactly its width into the
 * ioremap'd page, so the CPU -- and mmiotrace, whose decoder and golden
 * traces depend on it -- sees the instruction a kernel build emits.  Every
 * accessor then calls irq_check(): on this machine interrupts are taken at
 * such points (asm/irq_check.h), and an MMIO access is where a device most
 * often raises one.  The _relaxed and __raw_ forms are the same accesses
 * (x86 orders MMIO itself).
 *
 * Port I/O: inb..outl are the in/out instructions; the machine routes them
 * to device models' I/O BARs (machine/ioport.py).  As on the kernel,
 * mmiotrace does not see them.
 *
 * iomap cookies (ioport_map, pci_iomap of an I/O BAR): a port number plus
 * PIO_OFFSET, all below PIO_RESERVED, which no MMIO mapping ever is; the
 * ioread/iowrite family looks at the cookie and does port or memory I/O,
 * as the kernel's lib/iomap does.
 */
#ifndef _ASM_X86_IO_H
#define _ASM_X86_IO_H

#include <linux/compiler.h>
#include <linux/types.h>
#include <linux/printk.h>
#include <linux/string.h>
#include <asm/barrier.h>
#include <asm/byteorder.h>
#include <asm/irq_check.h>

#define __MMIO_READ(name, suffix, type, constraint) \
static __always_inline type name(const volatile void __iomem *addr) \
{ \
	type val; \
	__asm__ __volatile__("mov" suffix " %1, %0" \
			     : constraint(val) \
			     : "m"(*(const volatile type __force *)addr) \
			     : "memory"); \
	irq_check(); \
	return val; \
}

#define __MMIO_WRITE(name, suffix, type, constraint) \
static __always_inline void name(type val, volatile void __iomem *addr) \
{ \
	__asm__ __volatile__("mov" suffix " %0, %1" \
			     : \
			     : constraint(val), "m"(*(volatile type __force *)addr) \
			     : "memory"); \
	irq_check(); \
}

__MMIO_READ(readb, "b", u8, "=q")
__MMIO_READ(readw, "w", u16, "=r")
__MMIO_READ(readl, "l", u32, "=r")
__MMIO_READ(readq, "q", u64, "=r")
__MMIO_WRITE(writeb, "b", u8, "q")
__MMIO_WRITE(writew, "w", u16, "r")
__MMIO_WRITE(writel, "l", u32, "r")
__MMIO_WRITE(writeq, "q", u64, "r")

/* The kernel tests "#ifdef readq" to know a 64-bit access exists. */
#define readb readb
#define readw readw
#define readl readl
#define readq readq
#define writeb writeb
#define writew writew
#define writel writel
#define writeq writeq

#define readb_relaxed readb
#define readw_relaxed readw
#define readl_relaxed readl
#define readq_relaxed readq
#define writeb_relaxed writeb
#define writew_relaxed writew
#define writel_relaxed writel
#define writeq_relaxed writeq
#define __raw_readb readb
#define __raw_readw readw
#define __raw_readl readl
#define __raw_readq readq
#define __raw_writeb writeb
#define __raw_writew writew
#define __raw_writel writel
#define __raw_writeq writeq
#define __readb readb
#define __readw readw
#define __readl readl
#define __readq readq
#define __writeb writeb
#define __writew writew
#define __writel writel
#define __writeq writeq

/* readsX/writesX: count accesses to the same register (a FIFO), from or
 * into consecutive buffer elements. */
#define __MMIO_READS(name, rd, type) \
static inline void name(const volatile void __iomem *addr, void *buffer, unsigned int count) \
{ \
	type *buf = buffer; \
	while (count--) \
		*buf++ = rd(addr); \
}
#define __MMIO_WRITES(name, wr, type) \
static inline void name(volatile void __iomem *addr, const void *buffer, unsigned int count) \
{ \
	const type *buf = buffer; \
	while (count--) \
		wr(*buf++, addr); \
}
__MMIO_READS(readsb, readb, u8)
__MMIO_READS(readsw, readw, u16)
__MMIO_READS(readsl, readl, u32)
__MMIO_READS(readsq, readq, u64)
__MMIO_WRITES(writesb, writeb, u8)
__MMIO_WRITES(writesw, writew, u16)
__MMIO_WRITES(writesl, writel, u32)
__MMIO_WRITES(writesq, writeq, u64)

/* ---- port I/O -------------------------------------------------------- */

#define __PIO_INOUT(bwl, type, sfx, reg) \
static __always_inline type in##bwl(u16 port) \
{ \
	type val; \
	__asm__ __volatile__("in" sfx " %w1, %" reg "0" : "=a"(val) : "Nd"(port)); \
	return val; \
} \
static __always_inline void out##bwl(type val, u16 port) \
{ \
	__asm__ __volatile__("out" sfx " %" reg "0, %w1" : : "a"(val), "Nd"(port)); \
} \
static __always_inline type in##bwl##_p(u16 port) \
{ \
	type val = in##bwl(port); \
	slow_down_io(); \
	return val; \
} \
static __always_inline void out##bwl##_p(type val, u16 port) \
{ \
	out##bwl(val, port); \
	slow_down_io(); \
} \
static inline void ins##bwl(u16 port, void *addr, unsigned long count) \
{ \
	__asm__ __volatile__("rep ins" sfx : "+D"(addr), "+c"(count) : "d"(port) : "memory"); \
} \
static inline void outs##bwl(u16 port, const void *addr, unsigned long count) \
{ \
	__asm__ __volatile__("rep outs" sfx : "+S"(addr), "+c"(count) : "d"(port)); \
}

/* The ISA-era pause after a port access: a write to the POST port 0x80. */
static __always_inline void slow_down_io(void)
{
	__asm__ __volatile__("outb %%al, $0x80" : : : "memory");
}

__PIO_INOUT(b, u8, "b", "b")
__PIO_INOUT(w, u16, "w", "w")
__PIO_INOUT(l, u32, "l", "k")

#define inb inb
#define inw inw
#define inl inl
#define outb outb
#define outw outw
#define outl outl
#define inb_p inb_p
#define outb_p outb_p

/* ---- iomap cookies: ports below PIO_RESERVED ------------------------- */

#define PIO_OFFSET 0x10000UL
#define PIO_MASK 0x0ffffUL
#define PIO_RESERVED 0x40000UL
#define IO_SPACE_LIMIT 0xffff

/* What the kernel's lib/iomap says about a cookie that is neither. */
static inline void __iomap_bad_access(unsigned long port, const char *access)
{
	static int left = 10;

	if (left) {
		left--;
		printk(KERN_ERR "Bad IO access at port %#lx (%s)\n", port, access);
	}
}

#define __IOMAP_READ(name, type, mmio, pio) \
static inline unsigned int name(const void __iomem *addr) \
{ \
	unsigned long __port = (unsigned long __force)addr; \
	if (likely(__port >= PIO_RESERVED)) \
		return mmio; \
	if (__port > PIO_OFFSET) \
		return pio; \
	__iomap_bad_access(__port, #name); \
	return (type)~0U; \
}
#define __IOMAP_WRITE(name, type, mmio, pio) \
static inline void name(type val, void __iomem *addr) \
{ \
	unsigned long __port = (unsigned long __force)addr; \
	if (likely(__port >= PIO_RESERVED)) \
		mmio; \
	else if (__port > PIO_OFFSET) \
		pio; \
	else \
		__iomap_bad_access(__port, #name); \
}

__IOMAP_READ(ioread8, u8, readb(addr), inb(__port & PIO_MASK))
__IOMAP_READ(ioread16, u16, readw(addr), inw(__port & PIO_MASK))
__IOMAP_READ(ioread32, u32, readl(addr), inl(__port & PIO_MASK))
__IOMAP_READ(ioread16be, u16, swab16(readw(addr)), swab16(inw(__port & PIO_MASK)))
__IOMAP_READ(ioread32be, u32, swab32(readl(addr)), swab32(inl(__port & PIO_MASK)))
__IOMAP_WRITE(iowrite8, u8, writeb(val, addr), outb(val, __port & PIO_MASK))
__IOMAP_WRITE(iowrite16, u16, writew(val, addr), outw(val, __port & PIO_MASK))
__IOMAP_WRITE(iowrite32, u32, writel(val, addr), outl(val, __port & PIO_MASK))
__IOMAP_WRITE(iowrite16be, u16, writew(swab16(val), addr), outw(swab16(val), __port & PIO_MASK))
__IOMAP_WRITE(iowrite32be, u32, writel(swab32(val), addr), outl(swab32(val), __port & PIO_MASK))

#define ioread8 ioread8
#define ioread16 ioread16
#define ioread32 ioread32
#define iowrite8 iowrite8
#define iowrite16 iowrite16
#define iowrite32 iowrite32

/* 64 bits: one movq for MMIO; ports have no 64-bit access, so a port
 * cookie takes two 32-bit ones, low first (ioread64 is the lo_hi form). */
static inline u64 ioread64(const void __iomem *addr)
{
	unsigned long port = (unsigned long __force)addr;

	if (likely(port >= PIO_RESERVED))
		return readq(addr);
	return ioread32(addr) | ((u64)ioread32((const u8 __iomem *)addr + 4) << 32);
}
static inline void iowrite64(u64 val, void __iomem *addr)
{
	unsigned long port = (unsigned long __force)addr;

	if (likely(port >= PIO_RESERVED)) {
		writeq(val, addr);
		return;
	}
	iowrite32((u32)val, addr);
	iowrite32((u32)(val >> 32), (u8 __iomem *)addr + 4);
}
#define ioread64 ioread64
#define iowrite64 iowrite64

/* ioreadX_rep/iowriteX_rep: count accesses to the same register. */
#define __IOMAP_REP(bwl, type, reads, writes) \
static inline void ioread##bwl##_rep(const void __iomem *addr, void *dst, unsigned long count) \
{ \
	unsigned long __port = (unsigned long __force)addr; \
	if (likely(__port >= PIO_RESERVED)) \
		reads(addr, dst, count); \
	else if (__port > PIO_OFFSET) \
		ins##type(__port & PIO_MASK, dst, count); \
	else \
		__iomap_bad_access(__port, "ioread" #bwl "_rep"); \
} \
static inline void iowrite##bwl##_rep(void __iomem *addr, const void *src, unsigned long count) \
{ \
	unsigned long __port = (unsigned long __force)addr; \
	if (likely(__port >= PIO_RESERVED)) \
		writes(addr, src, count); \
	else if (__port > PIO_OFFSET) \
		outs##type(__port & PIO_MASK, src, count); \
	else \
		__iomap_bad_access(__port, "iowrite" #bwl "_rep"); \
}
__IOMAP_REP(8, b, readsb, writesb)
__IOMAP_REP(16, w, readsw, writesw)
__IOMAP_REP(32, l, readsl, writesl)

/* A port range as an iomap cookie; nothing to undo. */
static inline void __iomem *ioport_map(unsigned long port, unsigned int nr)
{
	(void)nr;
	if (port > PIO_MASK)
		return NULL;
	return (void __iomem *)(port + PIO_OFFSET);
}
static inline void ioport_unmap(void __iomem *addr)
{
	(void)addr;
}

/* ---- string copies to and from device memory ------------------------- */

/* Copies move the I/O side to a 4-byte boundary with a byte and a word
 * move, do the bulk as 4-byte elements, then the tail: the device sees
 * aligned dwords where it matters. */
#define __IO_MOVS(suffix, to, from) \
	__asm__ __volatile__("movs" suffix : "+D"(to), "+S"(from) : : "memory")

static inline void __io_rep_movs(void *to, const void *from, size_t n)
{
	size_t dwords = n >> 2;

	__asm__ __volatile__("rep movsl"
			     : "+c"(dwords), "+D"(to), "+S"(from) : : "memory");
	if (n & 2)
		__IO_MOVS("w", to, from);
	if (n & 1)
		__IO_MOVS("b", to, from);
}

static inline void memcpy_fromio(void *to, const volatile void __iomem *from, size_t n)
{
	const void *src = (const void __force *)from;

	if (!n)
		return;
	if ((unsigned long)src & 1) {
		__IO_MOVS("b", to, src);
		n--;
	}
	if (n > 1 && ((unsigned long)src & 2)) {
		__IO_MOVS("w", to, src);
		n -= 2;
	}
	__io_rep_movs(to, src, n);
	irq_check();
}

static inline void memcpy_toio(volatile void __iomem *to, const void *from, size_t n)
{
	void *dst = (void __force *)to;

	if (!n)
		return;
	if ((unsigned long)dst & 1) {
		__IO_MOVS("b", dst, from);
		n--;
	}
	if (n > 1 && ((unsigned long)dst & 2)) {
		__IO_MOVS("w", dst, from);
		n -= 2;
	}
	__io_rep_movs(dst, from, n);
	irq_check();
}

static inline void memset_io(volatile void __iomem *addr, int value, size_t n)
{
	void *dst = (void __force *)addr;

	__asm__ __volatile__("rep stosb"
			     : "+c"(n), "+D"(dst) : "a"(value) : "memory");
	irq_check();
}

/* ---- mappings ---------------------------------------------------------- */

void __iomem *ioremap(resource_size_t offset, unsigned long size);
void __iomem *ioremap_wc(resource_size_t offset, unsigned long size);
void __iomem *ioremap_uc(resource_size_t offset, unsigned long size);
void __iomem *ioremap_cache(resource_size_t offset, unsigned long size);
void iounmap(volatile void __iomem *addr);
#define ioremap_wt ioremap
#define ioremap_np(offset, size) ((void __iomem *)NULL)
#define ioremap_nocache ioremap

/* Direct-map addresses (kmalloc memory) and physical addresses. */
#define __IO_PAGE_OFFSET 0xffff888000000000UL
static inline phys_addr_t virt_to_phys(volatile void *address)
{
	return (unsigned long)address - __IO_PAGE_OFFSET;
}
static inline void *phys_to_virt(phys_addr_t address)
{
	return (void *)(unsigned long)(address + __IO_PAGE_OFFSET);
}
#define virt_to_bus virt_to_phys
#define bus_to_virt phys_to_virt

#endif
