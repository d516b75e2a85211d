/* Resources: what a PCI BAR decodes, and who owns which range.  Flag
 * values are the kernel's.  request_region()/request_mem_region() really
 * reserve: a second request of an overlapping range fails (NULL) until the
 * first is released (kernel/pci.py keeps the tree).  struct resource stops
 * at flags: the kernel's tree links (parent, sibling, child) are kept on the
 * machine's side, not here. */
#ifndef _LINUX_IOPORT_H
#define _LINUX_IOPORT_H

#include <linux/types.h>

struct resource {
	resource_size_t start;
	resource_size_t end;
	const char *name;
	unsigned long flags;
};

#define IORESOURCE_BITS 0x000000ff
#define IORESOURCE_TYPE_BITS 0x00001f00
#define IORESOURCE_IO 0x00000100
#define IORESOURCE_MEM 0x00000200
#define IORESOURCE_REG 0x00000300
#define IORESOURCE_IRQ 0x00000400
#define IORESOURCE_DMA 0x00000800
#define IORESOURCE_PREFETCH 0x00002000
#define IORESOURCE_READONLY 0x00004000
#define IORESOURCE_CACHEABLE 0x00008000
#define IORESOURCE_SIZEALIGN 0x00040000
#define IORESOURCE_MEM_64 0x00100000
#define IORESOURCE_UNSET 0x20000000
#define IORESOURCE_BUSY 0x80000000

#define IORESOURCE_ROM_ENABLE (1 << 0)
#define IORESOURCE_ROM_SHADOW (1 << 1)

static inline resource_size_t resource_size(const struct resource *res)
{
	return res->end - res->start + 1;
}

static inline unsigned long resource_type(const struct resource *res)
{
	return res->flags & IORESOURCE_TYPE_BITS;
}

#define IORESOURCE_EXCLUSIVE 0x08000000
#define IORESOURCE_DISABLED 0x10000000
#define IORESOURCE_WINDOW 0x00200000
#define IORESOURCE_MUXED 0x00400000

#define DEFINE_RES_NAMED(_start, _size, _name, _flags) \
	{ .start = (_start), .end = (_start) + (_size) - 1, .name = (_name), .flags = (_flags) }
#define DEFINE_RES_MEM(_start, _size) DEFINE_RES_NAMED((_start), (_size), NULL, IORESOURCE_MEM)
#define DEFINE_RES_IO(_start, _size) DEFINE_RES_NAMED((_start), (_size), NULL, IORESOURCE_IO)

/* The roots: all of memory space and all of I/O port space. */
extern struct resource iomem_resource;
extern struct resource ioport_resource;

struct device;

struct resource *__request_region(struct resource *parent, resource_size_t start,
				  resource_size_t n, const char *name, int flags);
void __release_region(struct resource *parent, resource_size_t start, resource_size_t n);

#define request_region(start, n, name) __request_region(&ioport_resource, (start), (n), (name), 0)
#define request_muxed_region(start, n, name) \
	__request_region(&ioport_resource, (start), (n), (name), IORESOURCE_MUXED)
#define request_mem_region(start, n, name) __request_region(&iomem_resource, (start), (n), (name), 0)
#define request_mem_region_exclusive(start, n, name) \
	__request_region(&iomem_resource, (start), (n), (name), IORESOURCE_EXCLUSIVE)
#define release_region(start, n) __release_region(&ioport_resource, (start), (n))
#define release_mem_region(start, n) __release_region(&iomem_resource, (start), (n))

/* Managed: released when the driver is unbound (kernel/core/devres.c). */
struct resource *__devm_request_region(struct device *dev, struct resource *parent,
				       resource_size_t start, resource_size_t n, const char *name);
void __devm_release_region(struct device *dev, struct resource *parent,
			   resource_size_t start, resource_size_t n);
#define devm_request_region(dev, start, n, name) \
	__devm_request_region(dev, &ioport_resource, (start), (n), (name))
#define devm_request_mem_region(dev, start, n, name) \
	__devm_request_region(dev, &iomem_resource, (start), (n), (name))
#define devm_release_region(dev, start, n) __devm_release_region(dev, &ioport_resource, (start), (n))
#define devm_release_mem_region(dev, start, n) __devm_release_region(dev, &iomem_resource, (start), (n))

static inline bool resource_contains(const struct resource *r1, const struct resource *r2)
{
	if (resource_type(r1) != resource_type(r2))
		return false;
	return r1->start <= r2->start && r1->end >= r2->end;
}

#endif
