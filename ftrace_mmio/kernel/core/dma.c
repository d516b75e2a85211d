// The guest-side part of the DMA API: scatterlist tables.  The mapping
// calls themselves are kernel/dma.py.
#include <linux/types.h>
#include <linux/errno.h>
#include <linux/slab.h>
#include <linux/scatterlist.h>

/* One array for the whole table: kmalloc has no page-size limit here, so
 * no chaining is needed (drivers walking with sg_next() cannot tell). */
int sg_alloc_table(struct sg_table *table, unsigned int nents, gfp_t gfp_mask)
{
	memset(table, 0, sizeof(*table));
	if (nents == 0)
		return -EINVAL;
	table->sgl = kmalloc_array(nents, sizeof(struct scatterlist), gfp_mask);
	if (!table->sgl)
		return -ENOMEM;
	sg_init_table(table->sgl, nents);
	table->orig_nents = nents;
	table->nents = nents;
	return 0;
}

void sg_free_table(struct sg_table *table)
{
	kfree(table->sgl);
	table->sgl = NULL;
	table->nents = 0;
	table->orig_nents = 0;
}

/* ---- managed coherent buffers and pools, on devres -------------------------- */

#include <linux/device.h>
#include <linux/dma-mapping.h>
#include <linux/dmapool.h>

struct dma_devres {
	size_t size;
	void *vaddr;
	dma_addr_t dma_handle;
	unsigned long attrs;
};

static void dma_devres_release(struct device *dev, void *res)
{
	struct dma_devres *r = res;

	dma_free_attrs(dev, r->size, r->vaddr, r->dma_handle, r->attrs);
}

static int dma_devres_match(struct device *dev, void *res, void *match_data)
{
	struct dma_devres *r = res, *want = match_data;

	if (r->vaddr != want->vaddr)
		return 0;
	WARN_ON(r->size != want->size || r->dma_handle != want->dma_handle);
	return 1;
}

void *dmam_alloc_attrs(struct device *dev, size_t size, dma_addr_t *dma_handle,
		       gfp_t gfp, unsigned long attrs)
{
	struct dma_devres *dr;
	void *vaddr;

	dr = devres_alloc(dma_devres_release, sizeof(*dr), gfp);
	if (!dr)
		return NULL;
	vaddr = dma_alloc_attrs(dev, size, dma_handle, gfp, attrs);
	if (!vaddr) {
		devres_free(dr);
		return NULL;
	}
	dr->size = size;
	dr->vaddr = vaddr;
	dr->dma_handle = *dma_handle;
	dr->attrs = attrs;
	devres_add(dev, dr);
	return vaddr;
}

void dmam_free_coherent(struct device *dev, size_t size, void *vaddr, dma_addr_t dma_handle)
{
	struct dma_devres want = { .size = size, .vaddr = vaddr, .dma_handle = dma_handle };

	/* Drop the record first: its release must not free the buffer twice. */
	WARN_ON(devres_destroy(dev, dma_devres_release, dma_devres_match, &want));
	dma_free_coherent(dev, size, vaddr, dma_handle);
}

/* kernel/dma.py keeps the pool; the object the driver holds starts with its
 * device, which is all the managed variant needs to find its record. */
struct dma_pool {
	struct device *dev;
};

static void dma_pool_devres_release(struct device *dev, void *res)
{
	dma_pool_destroy(*(struct dma_pool **)res);
}

static int dma_pool_devres_match(struct device *dev, void *res, void *match_data)
{
	return *(struct dma_pool **)res == match_data;
}

struct dma_pool *dmam_pool_create(const char *name, struct device *dev,
				  size_t size, size_t align, size_t allocation)
{
	struct dma_pool **ptr, *pool;

	ptr = devres_alloc(dma_pool_devres_release, sizeof(*ptr), GFP_KERNEL);
	if (!ptr)
		return NULL;
	pool = dma_pool_create(name, dev, size, align, allocation);
	if (!pool) {
		devres_free(ptr);
		return NULL;
	}
	*ptr = pool;
	devres_add(dev, ptr);
	return pool;
}

void dmam_pool_destroy(struct dma_pool *pool)
{
	struct device *dev = pool->dev;

	/* devres_release runs the release, which destroys the pool. */
	WARN_ON(devres_release(dev, dma_pool_devres_release, dma_pool_devres_match, pool));
}
