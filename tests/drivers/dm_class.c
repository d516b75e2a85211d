// SPDX-License-Identifier: GPL-2.0-only
/* Class matching and driver_data: serial controllers (16550) and VGA
 * controllers, whatever their vendor; the table's order decides. */
#include <linux/module.h>
#include <linux/pci.h>

static int dmc_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	dev_info(&pdev->dev, "probe class %06x driver_data %lu\n", pdev->class, id->driver_data);
	return 0;
}

static void dmc_remove(struct pci_dev *pdev)
{
	dev_info(&pdev->dev, "remove\n");
}

static const struct pci_device_id dmc_ids[] = {
	{ PCI_DEVICE_CLASS(0x070002, 0xffffff), .driver_data = 2 },
	{ PCI_DEVICE_CLASS(PCI_CLASS_DISPLAY_VGA << 8, 0xffff00), .driver_data = 1 },
	{ PCI_VDEVICE(REDHAT, 0x0002), 3 },		/* also the 16550: first match wins */
	{ }
};
MODULE_DEVICE_TABLE(pci, dmc_ids);

static struct pci_driver dmc_driver = {
	.name = "dm_class",
	.id_table = dmc_ids,
	.probe = dmc_probe,
	.remove = dmc_remove,
};
module_pci_driver(dmc_driver);

MODULE_LICENSE("GPL");
