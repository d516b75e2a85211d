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
