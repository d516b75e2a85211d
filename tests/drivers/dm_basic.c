// SPDX-License-Identifier: GPL-2.0-only
/*
 * A PCI driver written as on Linux: an id table, probe/remove, managed
 * resources.  Drives the bochs-like testmmio (1234:1111); the driver's name
 * ("dmbasic") differs from the module's to show which one messages carry.
 */
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/io.h>
#include <linux/slab.h>

#define DISPI_ID 0x500

struct dm_priv {
	struct pci_dev *pdev;
	void __iomem *regs;
	char *label;
	int index;
};

static int dm_count;

static void dm_release(void *data)
{
	struct dm_priv *priv = data;

	dev_info(&priv->pdev->dev, "release action %d\n", priv->index);
}

static int dm_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct dm_priv *priv;
	void __iomem * const *table;
	int ret;

	priv = devm_kzalloc(&pdev->dev, sizeof(*priv), GFP_KERNEL);
	if (!priv)
		return -ENOMEM;
	priv->pdev = pdev;
	priv->index = dm_count++;
	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	ret = pcim_iomap_regions(pdev, BIT(2), "dmbasic");
	if (ret)
		return dev_err_probe(&pdev->dev, ret, "cannot map BAR2\n");
	table = pcim_iomap_table(pdev);
	priv->regs = table[2];
	priv->label = devm_kstrdup(&pdev->dev, pci_name(pdev), GFP_KERNEL);
	pci_set_drvdata(pdev, priv);
	ret = devm_add_action_or_reset(&pdev->dev, dm_release, priv);
	if (ret)
		return ret;
	dev_info(&pdev->dev, "probe %d: id %04x:%04x data %lu dispi %04x label %s\n", priv->index,
		 id->vendor, id->device, id->driver_data, readw(priv->regs + DISPI_ID), priv->label);
	dev_info(&pdev->dev, "driver %s bound %d drvdata ok %d irq %u pin %u dma_mask %llx\n",
		 pdev->dev.driver->name, pdev->dev.driver != NULL,
		 dev_get_drvdata(&pdev->dev) == priv, pdev->irq, pdev->pin, *pdev->dev.dma_mask);
	return 0;
}

static void dm_remove(struct pci_dev *pdev)
{
	struct dm_priv *priv = pci_get_drvdata(pdev);

	dev_info(&pdev->dev, "remove %d: dispi %04x\n", priv->index, readw(priv->regs + DISPI_ID));
}

static const struct pci_device_id dm_ids[] = {
	{ PCI_DEVICE(0x10de, 0x9999), .driver_data = 1 },	/* no such device */
	{ PCI_DEVICE(0x1234, 0x1111), .driver_data = 7 },
	{ }
};
MODULE_DEVICE_TABLE(pci, dm_ids);

static struct pci_driver dm_driver = {
	.name = "dmbasic",
	.id_table = dm_ids,
	.probe = dm_probe,
	.remove = dm_remove,
};
module_pci_driver(dm_driver);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("driver-model test: probe/remove with managed resources");
