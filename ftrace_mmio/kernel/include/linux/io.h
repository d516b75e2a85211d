/* MMIO accessors.  Each read/write is one volatile mov of exactly its width
 * into the ioremap'd page, so the CPU (and mmiotrace) sees the same
 * instruction a real kernel build emits; ioread/iowrite are the same
 * accesses under their iomap names.  memcpy_toio/memcpy_fromio copy with
 * string instructions (rep movs), memset_io with rep stos. */
#ifndef _LINUX_IO_H
#define _LINUX_IO_H

#include <linux/compiler.h>
#include <linux/types.h>
#include <linux/mm.h>

#define __MMIO_READ(name, suffix, type, constraint) \
static __always_inline type name(const volatile void __iomem *addr) \
{ \
	type val; \
	__asm__ __volatile__("mov" suffix " %1, %0" \
			     : constraint(val) \
			     : "m"(*(const volatile type __force *)addr) \
			     : "memory"); \
	return val; \
}

#define __MMIO_WRITE(name, suffix, type, constraint) \
static __always_inline void name(type val, volatile void __iomem *addr) \
{ \
	__asm__ __volatile__("mov" suffix " %0, %1" \
			     : \
			     : constraint(val), "m"(*(volatile type __force *)addr) \
			     : "memory"); \
}

__MMIO_READ(readb, "b", u8, "=q")
__MMIO_READ(readw, "w", u16, "=r")
__MMIO_READ(readl, "l", u32, "=r")
__MMIO_READ(readq, "q", u64, "=r")
__MMIO_WRITE(writeb, "b", u8, "q")
__MMIO_WRITE(writew, "w", u16, "r")
__MMIO_WRITE(writel, "l", u32, "r")
__MMIO_WRITE(writeq, "q", u64, "r")

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

static __always_inline u8 ioread8(const volatile void __iomem *addr) { return readb(addr); }
static __always_inline u16 ioread16(const volatile void __iomem *addr) { return readw(addr); }
static __always_inline u32 ioread32(const volatile void __iomem *addr) { return readl(addr); }
static __always_inline u64 ioread64(const volatile void __iomem *addr) { return readq(addr); }
static __always_inline void iowrite8(u8 val, volatile void __iomem *addr) { writeb(val, addr); }
static __always_inline void iowrite16(u16 val, volatile void __iomem *addr) { writew(val, addr); }
static __always_inline void iowrite32(u32 val, volatile void __iomem *addr) { writel(val, addr); }
static __always_inline void iowrite64(u64 val, volatile void __iomem *addr) { writeq(val, addr); }

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
}

static inline void memset_io(volatile void __iomem *addr, int value, size_t n)
{
	void *dst = (void __force *)addr;

	__asm__ __volatile__("rep stosb"
			     : "+c"(n), "+D"(dst) : "a"(value) : "memory");
}

static inline void mb(void) { __asm__ __volatile__("mfence" ::: "memory"); }
static inline void rmb(void) { __asm__ __volatile__("lfence" ::: "memory"); }
static inline void wmb(void) { __asm__ __volatile__("sfence" ::: "memory"); }
#define mmiowb() do { } while (0)

void __iomem *ioremap(resource_size_t offset, unsigned long size);
void __iomem *ioremap_wc(resource_size_t offset, unsigned long size);
void __iomem *ioremap_uc(resource_size_t offset, unsigned long size);
void __iomem *ioremap_cache(resource_size_t offset, unsigned long size);
void iounmap(volatile void __iomem *addr);

#endif
