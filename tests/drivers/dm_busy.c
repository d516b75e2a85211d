// SPDX-License-Identifier: GPL-2.0-only
/* BAR ownership: a region held cannot be reserved again until released. */
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/ioport.h>

static int dmb_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	resource_size_t start = pci_resource_start(pdev, 0);
	struct resource *r;
	void __iomem *p;

	pr_info("dm_busy: first %d\n", pci_request_region(pdev, 0, "dm_busy"));
	pr_info("dm_busy: second %d\n", pci_request_region(pdev, 0, "dm_busy"));
	r = request_mem_region(start + 0x1000, 0x100, "inside");
	pr_info("dm_busy: inside BAR0 %s\n", r ? "granted" : "refused");
	pr_info("dm_busy: regions %d\n", pci_request_regions(pdev, "dm_busy"));
	pci_release_region(pdev, 0);
	pr_info("dm_busy: after release %d\n", pci_request_regions(pdev, "dm_busy"));
	r = request_mem_region(start + 0x1000, 0x100, "inside");
	pr_info("dm_busy: inside again %s\n", r ? "granted" : "refused");
	pci_release_regions(pdev);
	release_mem_region(start, 0x100);		/* never reserved */
	r = devm_request_mem_region(&pdev->dev, start, 0x1000, "managed");
	pr_info("dm_busy: managed %s %s busy %d\n", r ? "granted" : "refused", r ? r->name : "-",
		r ? !!(r->flags & IORESOURCE_BUSY) : -1);
	pr_info("dm_busy: select mem %x io %x\n", pci_select_bars(pdev, IORESOURCE_MEM),
		pci_select_bars(pdev, IORESOURCE_IO));
	p = devm_ioremap_resource(&pdev->dev, &pdev->resource[2]);
	pr_info("dm_busy: ioremap_resource %s\n", IS_ERR(p) ? "error" : "mapped");
	p = devm_ioremap_resource(&pdev->dev, &pdev->resource[2]);
	pr_info("dm_busy: again %ld\n", IS_ERR(p) ? PTR_ERR(p) : 0L);
	return 0;
}

static const struct pci_device_id dmb_ids[] = {
	{ PCI_DEVICE(0x1234, 0x1111) },
	{ }
};

static struct pci_driver dmb_driver = {
	.name = "dm_busy",
	.id_table = dmb_ids,
	.probe = dmb_probe,
};
module_pci_driver(dmb_driver);

MODULE_LICENSE("GPL");
