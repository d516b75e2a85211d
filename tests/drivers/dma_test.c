// SPDX-License-Identifier: GPL-2.0-only
/*
 * Drives tests/dma_model.py (the "dmaeng" DMA engine, 1234:daa0) through the
 * DMA mapping API.  Probe enables the device (pcim_*); the test then calls
 * the dmat_* functions one step at a time and checks guest memory, the
 * device's buffer and the kernel log between the steps.
 *
 * Parameters: master=0 leaves bus mastering off; mask_bits=N sets the DMA
 * masks; fail_init=1 takes a dmam_ buffer and then fails probe with -ENODEV.
 */
#define pr_fmt(fmt) "dma_test: " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/pci.h>
#include <linux/io.h>
#include <linux/slab.h>
#include <linux/dma-mapping.h>
#include <linux/dmapool.h>
#include <linux/scatterlist.h>

#define REG_ADDR_LO	0x08
#define REG_ADDR_HI	0x0c
#define REG_OFF		0x10
#define REG_LEN		0x14
#define REG_CMD		0x18
#define  CMD_START	0x1
#define  CMD_TO_RAM	0x2
#define REG_DONE	0x1c

static int master = 1;
module_param(master, int, 0444);
static int mask_bits;
module_param(mask_bits, int, 0444);
static int fail_init;
module_param(fail_init, int, 0444);

static struct pci_dev *pdev;
static struct device *dev;
static void __iomem *regs;
static dma_addr_t last_handle;
static struct sg_table table;
static struct dma_pool *pool;

u64 dmat_last_handle(void)
{
	return last_handle;
}

long dmat_set_mask(int bits)
{
	return dma_set_mask_and_coherent(dev, DMA_BIT_MASK(bits));
}

u64 dmat_get_mask(void)
{
	return dma_get_mask(dev);
}

void *dmat_kmalloc(size_t size)
{
	return kmalloc(size, GFP_KERNEL);
}

void dmat_kfree(void *p)
{
	kfree(p);
}

void *dmat_alloc_coherent(size_t size)
{
	return dma_alloc_coherent(dev, size, &last_handle, GFP_KERNEL);
}

void dmat_free_coherent(void *va, size_t size, dma_addr_t handle)
{
	dma_free_coherent(dev, size, va, handle);
}

void *dmat_dmam_alloc(size_t size)
{
	return dmam_alloc_coherent(dev, size, &last_handle, GFP_KERNEL);
}

void dmat_dmam_free(void *va, size_t size, dma_addr_t handle)
{
	dmam_free_coherent(dev, size, va, handle);
}

dma_addr_t dmat_map_single(void *p, size_t size, int dir)
{
	return dma_map_single(dev, p, size, dir);
}

void dmat_unmap_single(dma_addr_t addr, size_t size, int dir)
{
	dma_unmap_single(dev, addr, size, dir);
}

dma_addr_t dmat_map_page(void *p, size_t size, int dir)
{
	return dma_map_page(dev, virt_to_page(p), offset_in_page(p), size, dir);
}

void dmat_unmap_page(dma_addr_t addr, size_t size, int dir)
{
	dma_unmap_page(dev, addr, size, dir);
}

long dmat_mapping_error(dma_addr_t addr)
{
	return dma_mapping_error(dev, addr);
}

void dmat_sync_for_cpu(dma_addr_t addr, size_t size, int dir)
{
	dma_sync_single_for_cpu(dev, addr, size, dir);
}

void dmat_sync_for_device(dma_addr_t addr, size_t size, int dir)
{
	dma_sync_single_for_device(dev, addr, size, dir);
}

/* A buffer on the (vmapped) kernel stack may not be DMA-mapped. */
long dmat_map_stack(void)
{
	char buf[64];
	dma_addr_t a;

	memset(buf, 0, sizeof(buf));
	a = dma_map_single(dev, buf, sizeof(buf), DMA_TO_DEVICE);
	return dma_mapping_error(dev, a);
}

/* One transfer: to_ram=1 copies device buffer[off..] to bus address addr. */
u32 dmat_xfer(dma_addr_t addr, u32 off, u32 len, int to_ram)
{
	writel(lower_32_bits(addr), regs + REG_ADDR_LO);
	writel(upper_32_bits(addr), regs + REG_ADDR_HI);
	writel(off, regs + REG_OFF);
	writel(len, regs + REG_LEN);
	writel(CMD_START | (to_ram ? CMD_TO_RAM : 0), regs + REG_CMD);
	return readl(regs + REG_DONE);
}

/* Split buf into nents equal pieces of one table and map it. */
long dmat_map_sg(void *buf, size_t size, unsigned int nents, int dir)
{
	struct scatterlist *sg;
	unsigned int i, piece = size / nents;
	int rc;

	rc = sg_alloc_table(&table, nents, GFP_KERNEL);
	if (rc)
		return rc;
	for_each_sg(table.sgl, sg, nents, i)
		sg_set_buf(sg, (char *)buf + i * piece, piece);
	rc = dma_map_sgtable(dev, &table, dir, 0);
	if (rc) {
		sg_free_table(&table);
		return rc;
	}
	return table.nents;
}

u64 dmat_sg_addr(unsigned int n)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sgtable_dma_sg(&table, sg, i)
		if (i == n)
			return sg_dma_address(sg);
	return 0;
}

u64 dmat_sg_len(unsigned int n)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sgtable_dma_sg(&table, sg, i)
		if (i == n)
			return sg_dma_len(sg);
	return 0;
}

void dmat_unmap_sg(int dir)
{
	dma_sync_sgtable_for_cpu(dev, &table, dir);
	dma_unmap_sgtable(dev, &table, dir, 0);
	sg_free_table(&table);
}

/* Three pieces of buf in two chained arrays: a[0], then (a[1] links to) b[0], b[1]. */
static struct scatterlist *chain_a, *chain_b;

long dmat_map_sg_chain(void *buf, size_t piece, int dir)
{
	chain_a = kmalloc_array(2, sizeof(*chain_a), GFP_KERNEL);
	chain_b = kmalloc_array(2, sizeof(*chain_b), GFP_KERNEL);
	if (!chain_a || !chain_b)
		return -ENOMEM;
	sg_init_table(chain_a, 2);
	sg_init_table(chain_b, 2);
	sg_set_buf(&chain_a[0], buf, piece);
	sg_chain(chain_a, 2, chain_b);
	sg_set_buf(&chain_b[0], (char *)buf + piece, piece);
	sg_set_buf(&chain_b[1], (char *)buf + 2 * piece, piece);
	if (sg_nents(chain_a) != 3)
		return -EINVAL;
	return dma_map_sg(dev, chain_a, 3, dir);
}

u64 dmat_sg_chain_addr(unsigned int n)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sg(chain_a, sg, 3, i)
		if (i == n)
			return sg_dma_address(sg);
	return 0;
}

void dmat_unmap_sg_chain(int dir)
{
	dma_unmap_sg(dev, chain_a, 3, dir);
	kfree(chain_a);
	kfree(chain_b);
}

/* Two entries: low, then high (a test puts high above the mask). */
long dmat_map_sg_pair(void *low, void *high, unsigned int len, int dir)
{
	struct scatterlist sg[2];

	sg_init_table(sg, 2);
	sg_set_buf(&sg[0], low, len);
	sg_set_buf(&sg[1], high, len);
	return dma_map_sg(dev, sg, 2, dir);
}

long dmat_pool_create(size_t size, size_t align, size_t boundary)
{
	pool = dma_pool_create("dmat", dev, size, align, boundary);
	return pool ? 0 : -ENOMEM;
}

void *dmat_pool_alloc(void)
{
	return dma_pool_zalloc(pool, GFP_KERNEL, &last_handle);
}

void dmat_pool_free(void *va, dma_addr_t handle)
{
	dma_pool_free(pool, va, handle);
}

long dmat_dmam_pool_create(size_t size)
{
	pool = dmam_pool_create("dmat", dev, size, 8, 0);
	return pool ? 0 : -ENOMEM;
}

void dmat_dmam_pool_destroy(void)
{
	dmam_pool_destroy(pool);
	pool = NULL;
}

void dmat_pool_destroy(void)
{
	dma_pool_destroy(pool);
	pool = NULL;
}

static int dmat_probe(struct pci_dev *pd, const struct pci_device_id *id)
{
	int rc;

	pdev = pd;
	dev = &pd->dev;
	rc = pcim_enable_device(pd);
	if (rc)
		return rc;
	if (master)
		pci_set_master(pd);
	if (mask_bits) {
		rc = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(mask_bits));
		if (rc) {
			dev_err(dev, "no usable DMA mask of %d bits\n", mask_bits);
			return rc;
		}
	}
	if (fail_init) {
		void *va = dmam_alloc_coherent(dev, 8192, &last_handle, GFP_KERNEL);

		dev_info(dev, "dmam buffer at bus %#llx (%s), failing probe\n",
			 (unsigned long long)last_handle, va ? "ok" : "none");
		return -ENODEV;
	}
	regs = pcim_iomap(pd, 0, 0);
	if (!regs)
		return -ENOMEM;
	return 0;
}

static const struct pci_device_id dmat_ids[] = {
	{ PCI_DEVICE(0x1234, 0xdaa0) },
	{ }
};
MODULE_DEVICE_TABLE(pci, dmat_ids);

static struct pci_driver dmat_driver = {
	.name = "dma_test",
	.id_table = dmat_ids,
	.probe = dmat_probe,
};
module_pci_driver(dmat_driver);

MODULE_DESCRIPTION("DMA API test driver for the dmaeng model");
MODULE_LICENSE("GPL");
