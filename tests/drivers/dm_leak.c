// SPDX-License-Identifier: GPL-2.0-only
/* A module whose init registers a driver and then fails without
 * unregistering it (a bug): the machine must not keep a driver whose code
 * is gone. Also prints through a NULL device. */
#include <linux/module.h>
#include <linux/pci.h>

static int dml_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	dev_info(&pdev->dev, "probe\n");
	return 0;
}

static void dml_remove(struct pci_dev *pdev)
{
	dev_info(&pdev->dev, "remove\n");
}

static const struct pci_device_id dml_ids[] = {
	{ PCI_DEVICE(PCI_ANY_ID, 0x1111) },
	{ }
};

static struct pci_driver dml_driver = {
	.name = "dm_leak",
	.id_table = dml_ids,
	.probe = dml_probe,
	.remove = dml_remove,
};

static int __init dml_init(void)
{
	int ret = pci_register_driver(&dml_driver);

	dev_info(NULL, "registered %d, again %d\n", ret, pci_register_driver(&dml_driver));
	return -EINVAL;
}
module_init(dml_init);

MODULE_LICENSE("GPL");
