// SPDX-License-Identifier: GPL-2.0-only
/* The less common managed-resource calls, each checked from probe(). */
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/io.h>
#include <linux/slab.h>

#define DISPI_ID 0x500

static void dma_log(void *data)
{
	pr_info("dm_api: action %s\n", (const char *)data);
}

struct dma_counter {
	int value;
};

static void dma_counter_release(struct device *dev, void *res)
{
	pr_info("dm_api: counter %d released\n", ((struct dma_counter *)res)->value);
}

static int dma_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct device *dev = &pdev->dev;
	struct dma_counter *c, *again;
	void __iomem *p, *q;
	void __iomem * const *tbl;
	char *s;
	int *arr;
	int ret;

	/* actions: removed (never runs), released now, kept (runs at unbind) */
	devm_add_action(dev, dma_log, "removed");
	devm_add_action(dev, dma_log, "released early");
	devm_add_action(dev, dma_log, "kept");
	devm_remove_action(dev, dma_log, "removed");
	devm_release_action(dev, dma_log, "released early");

	/* memory */
	arr = devm_kcalloc(dev, 4, sizeof(*arr), GFP_KERNEL);
	s = devm_kasprintf(dev, GFP_KERNEL, "%s-%d", pci_name(pdev), 42);
	pr_info("dm_api: kcalloc zero %d kasprintf %s\n", arr[0] + arr[1] + arr[2] + arr[3], s);
	devm_kfree(dev, arr);
	pr_info("dm_api: kmalloc(0) %px\n", devm_kmalloc(dev, 0, GFP_KERNEL));

	/* devres_get finds the existing node of a type */
	c = devres_alloc(dma_counter_release, sizeof(*c), GFP_KERNEL);
	c->value = 1;
	devres_add(dev, c);
	again = devres_alloc(dma_counter_release, sizeof(*again), GFP_KERNEL);
	again->value = 2;
	pr_info("dm_api: get same %d find same %d\n", devres_get(dev, again, NULL, NULL) == c,
		devres_find(dev, dma_counter_release, NULL, NULL) == c);

	/* mappings */
	p = devm_ioremap(dev, pci_resource_start(pdev, 2), pci_resource_len(pdev, 2));
	pr_info("dm_api: devm_ioremap dispi %04x\n", readw(p + DISPI_ID));
	devm_iounmap(dev, p);
	q = pci_iomap_range(pdev, 2, 0x500, 0x10);
	pr_info("dm_api: iomap_range dispi %04x\n", readw(q));
	pci_iounmap(pdev, q);
	pr_info("dm_api: iomap_range past end %d\n", pci_iomap_range(pdev, 2, 0x1000, 0) == NULL);
	q = pci_ioremap_bar(pdev, 2);
	pr_info("dm_api: ioremap_bar dispi %04x\n", readw(q + DISPI_ID));
	iounmap(q);

	/* pcim: request every BAR, map BAR2 only, then give BAR2 back early */
	ret = pcim_enable_device(pdev);
	pr_info("dm_api: enable %d\n", ret);
	ret = pcim_iomap_regions_request_all(pdev, BIT(2), "dm_api");
	pr_info("dm_api: request_all %d\n", ret);
	tbl = pcim_iomap_table(pdev);
	pr_info("dm_api: table %d %d dispi %04x\n", tbl[0] == NULL, tbl[2] != NULL,
		readw(tbl[2] + DISPI_ID));
	pr_info("dm_api: map twice %d\n", pcim_iomap(pdev, 2, 0) == NULL);
	pcim_iounmap_regions(pdev, BIT(2));
	pr_info("dm_api: BAR2 free %d BAR0 held %d\n",
		pci_request_region(pdev, 2, "again") == 0, pci_request_region(pdev, 0, "x") == -EBUSY);
	dev_WARN_ONCE(dev, 1, "once %d\n", 1);
	return 0;
}

static const struct pci_device_id dma_ids[] = {
	{ PCI_DEVICE_SUB(0x1234, 0x1111, 0x1af4, 0x1100) },
	{ }
};

static struct pci_driver dma_driver = {
	.name = "dm_api",
	.id_table = dma_ids,
	.probe = dma_probe,
};
module_pci_driver(dma_driver);
MODULE_LICENSE("GPL");
