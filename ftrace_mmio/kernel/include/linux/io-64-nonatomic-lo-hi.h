/* 64-bit register access as two 32-bit ones, low half first (for devices
 * that latch on the high half, or buses without 8-byte accesses).  Not
 * atomic: something may change the register between the halves. */
#ifndef _LINUX_IO_64_NONATOMIC_LO_HI_H_
#define _LINUX_IO_64_NONATOMIC_LO_HI_H_

#include <linux/io.h>

static inline u64 lo_hi_readq(const volatile void __iomem *addr)
{
	const volatile u32 __iomem *p = addr;
	u32 low, high;

	low = readl(p);
	high = readl(p + 1);
	return low + ((u64)high << 32);
}

static inline void lo_hi_writeq(u64 val, volatile void __iomem *addr)
{
	writel(val, addr);
	writel(val >> 32, (volatile u8 __iomem *)addr + 4);
}

#define lo_hi_readq_relaxed lo_hi_readq
#define lo_hi_writeq_relaxed lo_hi_writeq

/* x86-64 has readq/writeq: these only fill in where it did not. */
#ifndef readq
#define readq lo_hi_readq
#endif
#ifndef writeq
#define writeq lo_hi_writeq
#endif

static inline u64 ioread64_lo_hi(const void __iomem *addr)
{
	u32 low, high;

	low = ioread32(addr);
	high = ioread32((const u8 __iomem *)addr + 4);
	return low + ((u64)high << 32);
}

static inline void iowrite64_lo_hi(u64 val, void __iomem *addr)
{
	iowrite32(val, addr);
	iowrite32(val >> 32, (u8 __iomem *)addr + 4);
}

static inline u64 ioread64be_lo_hi(const void __iomem *addr)
{
	u32 low, high;

	low = ioread32be((const u8 __iomem *)addr + 4);
	high = ioread32be(addr);
	return low + ((u64)high << 32);
}

static inline void iowrite64be_lo_hi(u64 val, void __iomem *addr)
{
	iowrite32be(val, (u8 __iomem *)addr + 4);
	iowrite32be(val >> 32, addr);
}

#endif
