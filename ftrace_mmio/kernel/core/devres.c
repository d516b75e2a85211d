// SPDX-License-Identifier: GPL-2.0-only
/*
 * Managed device resources (devres): what a driver allocated or mapped
 * "for this device", released by the driver core when the driver is
 * unbound or its probe fails.
 *
 * Each resource is a node in front of its data; a device keeps its nodes
 * on a singly linked list, newest first (struct device.devres_head), so
 * releasing everything is popping the list: reverse order of acquisition,
 * as the kernel does.  A release callback may add new resources; they are
 * released in turn.
 *
 * Files of the core are one translation unit: statics carry "devres_".
 */
#include <linux/device.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/kernel.h>
#include <linux/interrupt.h>

struct devres {
	struct devres *next;
	dr_release_t release;
	size_t size;
	unsigned long __pad;
	/* the data handed out; 16-byte aligned like kmalloc memory */
	unsigned long long data[] __aligned(16);
};

#define devres_node(res) ((struct devres *)((char *)(res) - offsetof(struct devres, data)))

#ifndef IOMEM_ERR_PTR
#define IOMEM_ERR_PTR(err) ((void __force __iomem *)ERR_PTR(err))
#endif
#define DEVRES_ZERO_SIZE_PTR ((void *)16)

/* "[mem 0xfd000000-0xfd7fffff 64bit pref]", the kernel's %pR. */
static const char *devres_res_str(char *buf, size_t size, const struct resource *r)
{
	if (!r)
		return "(null)";
	if (r->flags & IORESOURCE_IO)
		snprintf(buf, size, "[io  0x%04llx-0x%04llx]", r->start, r->end);
	else
		snprintf(buf, size, "[%s 0x%08llx-0x%08llx%s%s%s%s]",
			 (r->flags & IORESOURCE_MEM) ? "mem" : "??? ", r->start, r->end,
			 (r->flags & IORESOURCE_MEM_64) ? " 64bit" : "",
			 (r->flags & IORESOURCE_PREFETCH) ? " pref" : "",
			 (r->flags & IORESOURCE_WINDOW) ? " window" : "",
			 (r->flags & IORESOURCE_DISABLED) ? " disabled" : "");
	return buf;
}

/* ---- the list -------------------------------------------------------------- */

/* A node with room for size bytes; the data is zeroed only if gfp asks. */
static void *devres_alloc_node_data(dr_release_t release, size_t size, gfp_t gfp)
{
	struct devres *dr;

	if (size > (size_t)-1 - sizeof(*dr))
		return NULL;
	dr = kmalloc(sizeof(*dr) + size, gfp);
	if (!dr)
		return NULL;
	memset(dr, 0, sizeof(*dr));
	dr->release = release;
	dr->size = size;
	return dr->data;
}

/* As in the kernel, devres_alloc() data starts zeroed (devm_kmalloc's
 * only with __GFP_ZERO). */
void *devres_alloc(dr_release_t release, size_t size, gfp_t gfp)
{
	return devres_alloc_node_data(release, size, gfp | __GFP_ZERO);
}

void devres_free(void *res)
{
	if (res)
		kfree(devres_node(res));
}

void devres_add(struct device *dev, void *res)
{
	struct devres *dr = devres_node(res);

	dr->next = dev->devres_head;
	dev->devres_head = dr;
}

/* The newest node of dev with this release function that match() accepts;
 * *linkp is left pointing at the link that holds it. */
static struct devres *devres_lookup(struct device *dev, dr_release_t release, dr_match_t match,
				    void *match_data, struct devres ***linkp)
{
	struct devres **link;

	for (link = &dev->devres_head; *link; link = &(*link)->next) {
		struct devres *dr = *link;

		if (dr->release != release)
			continue;
		if (match && !match(dev, dr->data, match_data))
			continue;
		if (linkp)
			*linkp = link;
		return dr;
	}
	return NULL;
}

void *devres_find(struct device *dev, dr_release_t release, dr_match_t match, void *match_data)
{
	struct devres *dr = devres_lookup(dev, release, match, match_data, NULL);

	return dr ? dr->data : NULL;
}

void *devres_get(struct device *dev, void *new_res, dr_match_t match, void *match_data)
{
	struct devres *dr = devres_lookup(dev, devres_node(new_res)->release, match, match_data, NULL);

	if (dr) {
		devres_free(new_res);
		return dr->data;
	}
	devres_add(dev, new_res);
	return new_res;
}

void *devres_remove(struct device *dev, dr_release_t release, dr_match_t match, void *match_data)
{
	struct devres **link;
	struct devres *dr = devres_lookup(dev, release, match, match_data, &link);

	if (!dr)
		return NULL;
	*link = dr->next;
	dr->next = NULL;
	return dr->data;
}

int devres_destroy(struct device *dev, dr_release_t release, dr_match_t match, void *match_data)
{
	void *res = devres_remove(dev, release, match, match_data);

	if (!res)
		return -ENOENT;
	devres_free(res);
	return 0;
}

int devres_release(struct device *dev, dr_release_t release, dr_match_t match, void *match_data)
{
	void *res = devres_remove(dev, release, match, match_data);

	if (!res)
		return -ENOENT;
	release(dev, res);
	devres_free(res);
	return 0;
}

int devres_release_all(struct device *dev)
{
	struct devres *dr;
	int n = 0;

	if (!dev)
		return -ENODEV;
	while ((dr = dev->devres_head) != NULL) {
		dev->devres_head = dr->next;
		if (dr->release)
			dr->release(dev, dr->data);
		kfree(dr);
		n++;
	}
	return n;
}

/* ---- actions --------------------------------------------------------------- */

struct devres_action {
	void (*action)(void *);
	void *data;
};

static void devres_action_release(struct device *dev, void *res)
{
	struct devres_action *a = res;

	a->action(a->data);
}

static int devres_action_match(struct device *dev, void *res, void *p)
{
	struct devres_action *a = res, *want = p;

	return a->action == want->action && a->data == want->data;
}

int devm_add_action(struct device *dev, void (*action)(void *), void *data)
{
	struct devres_action *a = devres_alloc(devres_action_release, sizeof(*a), GFP_KERNEL);

	if (!a)
		return -ENOMEM;
	a->action = action;
	a->data = data;
	devres_add(dev, a);
	return 0;
}

int devm_add_action_or_reset(struct device *dev, void (*action)(void *), void *data)
{
	int ret = devm_add_action(dev, action, data);

	if (ret)
		action(data);
	return ret;
}

void devm_remove_action(struct device *dev, void (*action)(void *), void *data)
{
	struct devres_action want = { action, data };

	WARN_ON(devres_destroy(dev, devres_action_release, devres_action_match, &want));
}

void devm_release_action(struct device *dev, void (*action)(void *), void *data)
{
	struct devres_action want = { action, data };

	WARN_ON(devres_release(dev, devres_action_release, devres_action_match, &want));
}

/* ---- memory ---------------------------------------------------------------- */

static void devres_kmalloc_release(struct device *dev, void *res)
{
	/* the memory is the node's own: freeing the node frees it */
}

static int devres_kmalloc_match(struct device *dev, void *res, void *p)
{
	return res == p;
}

void *devm_kmalloc(struct device *dev, size_t size, gfp_t gfp)
{
	void *p;

	if (!size)
		return DEVRES_ZERO_SIZE_PTR;
	p = devres_alloc_node_data(devres_kmalloc_release, size, gfp);
	if (!p)
		return NULL;
	devres_add(dev, p);
	return p;
}

void devm_kfree(struct device *dev, const void *p)
{
	if (!p || p == DEVRES_ZERO_SIZE_PTR)
		return;
	WARN_ON(devres_destroy(dev, devres_kmalloc_release, devres_kmalloc_match, (void *)p));
}

void *devm_kmemdup(struct device *dev, const void *src, size_t len, gfp_t gfp)
{
	void *p = devm_kmalloc(dev, len, gfp);

	if (p && len)
		memcpy(p, src, len);
	return p;
}

char *devm_kstrdup(struct device *dev, const char *s, gfp_t gfp)
{
	if (!s)
		return NULL;
	return devm_kmemdup(dev, s, strlen(s) + 1, gfp);
}

char *devm_kasprintf(struct device *dev, gfp_t gfp, const char *fmt, ...)
{
	va_list args, again;
	char *p;
	int len;

	va_start(args, fmt);
	va_copy(again, args);
	len = vsnprintf(NULL, 0, fmt, again);
	va_end(again);
	p = devm_kmalloc(dev, len + 1, gfp);
	if (p)
		vsnprintf(p, len + 1, fmt, args);
	va_end(args);
	return p;
}

/* ---- I/O mappings and regions --------------------------------------------- */

static void devres_ioremap_release(struct device *dev, void *res)
{
	iounmap(*(void __iomem **)res);
}

static int devres_ioremap_match(struct device *dev, void *res, void *p)
{
	return *(void **)res == p;
}

static void __iomem *devres_ioremap(struct device *dev, resource_size_t offset,
				    resource_size_t size,
				    void __iomem *(*map)(resource_size_t, unsigned long))
{
	void __iomem **slot = devres_alloc(devres_ioremap_release, sizeof(*slot), GFP_KERNEL);
	void __iomem *addr;

	if (!slot)
		return NULL;
	addr = map(offset, size);
	if (!addr) {
		devres_free(slot);
		return NULL;
	}
	*slot = addr;
	devres_add(dev, slot);
	return addr;
}

void __iomem *devm_ioremap(struct device *dev, resource_size_t offset, resource_size_t size)
{
	return devres_ioremap(dev, offset, size, ioremap);
}

void __iomem *devm_ioremap_uc(struct device *dev, resource_size_t offset, resource_size_t size)
{
	return devres_ioremap(dev, offset, size, ioremap_uc);
}

void __iomem *devm_ioremap_wc(struct device *dev, resource_size_t offset, resource_size_t size)
{
	return devres_ioremap(dev, offset, size, ioremap_wc);
}

void devm_iounmap(struct device *dev, void __iomem *addr)
{
	WARN_ON(devres_destroy(dev, devres_ioremap_release, devres_ioremap_match,
			       (void __force *)addr));
	iounmap(addr);
}

struct devres_region {
	struct resource *parent;
	resource_size_t start;
	resource_size_t n;
};

static void devres_region_release(struct device *dev, void *res)
{
	struct devres_region *r = res;

	__release_region(r->parent, r->start, r->n);
}

static int devres_region_match(struct device *dev, void *res, void *p)
{
	struct devres_region *r = res, *want = p;

	return r->parent == want->parent && r->start == want->start && r->n == want->n;
}

struct resource *__devm_request_region(struct device *dev, struct resource *parent,
				       resource_size_t start, resource_size_t n, const char *name)
{
	struct devres_region *dr = devres_alloc(devres_region_release, sizeof(*dr), GFP_KERNEL);
	struct resource *res;

	if (!dr)
		return NULL;
	res = __request_region(parent, start, n, name, 0);
	if (!res) {
		devres_free(dr);
		return NULL;
	}
	dr->parent = parent;
	dr->start = start;
	dr->n = n;
	devres_add(dev, dr);
	return res;
}

void __devm_release_region(struct device *dev, struct resource *parent,
			   resource_size_t start, resource_size_t n)
{
	struct devres_region want = { parent, start, n };

	WARN_ON(devres_release(dev, devres_region_release, devres_region_match, &want));
}

void __iomem *devm_ioremap_resource(struct device *dev, const struct resource *res)
{
	char buf[80];
	const char *name;
	resource_size_t size;
	void __iomem *addr;

	if (!res || resource_type(res) != IORESOURCE_MEM) {
		dev_err(dev, "invalid resource %s\n", devres_res_str(buf, sizeof(buf), res));
		return IOMEM_ERR_PTR(-EINVAL);
	}
	size = resource_size(res);
	name = res->name ? devm_kasprintf(dev, GFP_KERNEL, "%s %s", dev_name(dev), res->name)
			 : dev_name(dev);
	if (!name)
		return IOMEM_ERR_PTR(-ENOMEM);
	if (!devm_request_mem_region(dev, res->start, size, name)) {
		dev_err(dev, "can't request region for resource %s\n",
			devres_res_str(buf, sizeof(buf), res));
		return IOMEM_ERR_PTR(-EBUSY);
	}
	addr = devm_ioremap(dev, res->start, size);
	if (!addr) {
		dev_err(dev, "ioremap failed for resource %s\n", devres_res_str(buf, sizeof(buf), res));
		devm_release_mem_region(dev, res->start, size);
		return IOMEM_ERR_PTR(-ENOMEM);
	}
	return addr;
}

/* ---- interrupts (request_threaded_irq/free_irq live in the irq code) ------ */

#pragma weak request_threaded_irq
#pragma weak free_irq

struct devres_irq {
	unsigned int irq;
	void *dev_id;
};

static void devres_irq_release(struct device *dev, void *res)
{
	struct devres_irq *r = res;

	free_irq(r->irq, r->dev_id);
}

static int devres_irq_match(struct device *dev, void *res, void *p)
{
	struct devres_irq *r = res, *want = p;

	return r->irq == want->irq && r->dev_id == want->dev_id;
}

int devm_request_threaded_irq(struct device *dev, unsigned int irq, irq_handler_t handler,
			      irq_handler_t thread_fn, unsigned long irqflags,
			      const char *devname, void *dev_id)
{
	struct devres_irq *dr;
	int rc;

	if (!request_threaded_irq)
		return -ENOSYS;
	dr = devres_alloc(devres_irq_release, sizeof(*dr), GFP_KERNEL);
	if (!dr)
		return -ENOMEM;
	if (!devname)
		devname = dev_name(dev);
	rc = request_threaded_irq(irq, handler, thread_fn, irqflags, devname, dev_id);
	if (rc) {
		devres_free(dr);
		return rc;
	}
	dr->irq = irq;
	dr->dev_id = dev_id;
	devres_add(dev, dr);
	return 0;
}

void devm_free_irq(struct device *dev, unsigned int irq, void *dev_id)
{
	struct devres_irq want = { irq, dev_id };

	WARN_ON(devres_destroy(dev, devres_irq_release, devres_irq_match, &want));
	free_irq(irq, dev_id);
}
