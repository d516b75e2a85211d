/* Device I/O: the x86 accessors (asm/io.h: readl/writel..., port I/O,
 * ioread/iowrite on iomap cookies, the memcpy_*io copies, ioremap) and the
 * generic helpers around them. */
#ifndef _LINUX_IO_H
#define _LINUX_IO_H

#include <linux/types.h>
#include <linux/init.h>
#include <linux/bug.h>
#include <linux/err.h>
#include <linux/mm.h>
#include <asm/io.h>
#include <asm/page.h>

#define IOMEM_ERR_PTR(err) ((__force void __iomem *)ERR_PTR(err))

/* Write-combining hints: nothing to set up on this machine (no MTRRs);
 * a handle of 0 means "not added", which drivers accept. */
static inline int arch_phys_wc_add(unsigned long base, unsigned long size)
{
	(void)base;
	(void)size;
	return 0;
}
static inline void arch_phys_wc_del(int handle)
{
	(void)handle;
}
#define arch_phys_wc_index(handle) (-1)
static inline int arch_io_reserve_memtype_wc(resource_size_t base, resource_size_t size)
{
	(void)base;
	(void)size;
	return 0;
}
static inline void arch_io_free_memtype_wc(resource_size_t base, resource_size_t size)
{
	(void)base;
	(void)size;
}

#endif
