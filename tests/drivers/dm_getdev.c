// SPDX-License-Identifier: GPL-2.0-only
/* No pci_driver: the device is looked up with pci_get_device(), yet the
 * driver uses managed resources on it. */
#include <linux/module.h>
#include <linux/pci.h>

static struct pci_dev *pdev;

static void dmg_release(void *data)
{
	pr_info("dm_getdev: release action\n");
}

static int __init dmg_init(void)
{
	int ret;

	pdev = pci_get_device(0x1234, 0x1111, NULL);
	if (!pdev)
		return -ENODEV;
	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	if (!pcim_iomap(pdev, 2, 0))
		return -ENOMEM;
	dev_info(&pdev->dev, "enabled, managed %d\n", pdev->is_managed);
	return devm_add_action(&pdev->dev, dmg_release, NULL);
}

static void __exit dmg_exit(void)
{
	pci_dev_put(pdev);
}

module_init(dmg_init);
module_exit(dmg_exit);
MODULE_LICENSE("GPL");
