/* 64-bit register access as two 32-bit ones, high half first (for devices
 * that latch on the low half).  Not atomic. */
#ifndef _LINUX_IO_64_NONATOMIC_HI_LO_H_
#define _LINUX_IO_64_NONATOMIC_HI_LO_H_

#include <linux/io.h>

static inline u64 hi_lo_readq(const volatile void __iomem *addr)
{
	const volatile u32 __iomem *p = addr;
	u32 low, high;

	high = readl(p + 1);
	low = readl(p);
	return low + ((u64)high << 32);
}

static inline void hi_lo_writeq(u64 val, volatile void __iomem *addr)
{
	writel(val >> 32, (volatile u8 __iomem *)addr + 4);
	writel(val, addr);
}

#define hi_lo_readq_relaxed hi_lo_readq
#define hi_lo_writeq_relaxed hi_lo_writeq

#ifndef readq
#define readq hi_lo_readq
#endif
#ifndef writeq
#define writeq hi_lo_writeq
#endif

static inline u64 ioread64_hi_lo(const void __iomem *addr)
{
	u32 low, high;

	high = ioread32((const u8 __iomem *)addr + 4);
	low = ioread32(addr);
	return low + ((u64)high << 32);
}

static inline void iowrite64_hi_lo(u64 val, void __iomem *addr)
{
	iowrite32(val >> 32, (u8 __iomem *)addr + 4);
	iowrite32(val, addr);
}

static inline u64 ioread64be_hi_lo(const void __iomem *addr)
{
	u32 low, high;

	high = ioread32be(addr);
	low = ioread32be((const u8 __iomem *)addr + 4);
	return low + ((u64)high << 32);
}

static inline void iowrite64be_hi_lo(u64 val, void __iomem *addr)
{
	iowrite32be(val >> 32, addr);
	iowrite32be(val, (u8 __iomem *)addr + 4);
}

#endif
