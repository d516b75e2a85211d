// SPDX-License-Identifier: GPL-2.0-only
/* A probe that acquires managed resources and then fails: the driver core
 * must release them newest first and leave the device unbound. */
#include <linux/module.h>
#include <linux/pci.h>

static int fail_err = -EIO;
module_param(fail_err, int, 0);

static void dmf_release(void *data)
{
	pr_info("dm_fail: release %s\n", (const char *)data);
}

static int dmf_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	int ret;

	ret = devm_add_action(&pdev->dev, dmf_release, "first");
	if (ret)
		return ret;
	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	ret = pci_request_region(pdev, 0, "dm_fail");
	if (ret)
		return ret;
	devm_add_action(&pdev->dev, dmf_release, "second");
	if (!devm_kzalloc(&pdev->dev, 64, GFP_KERNEL))
		return -ENOMEM;
	devm_add_action(&pdev->dev, dmf_release, "third");
	dev_info(&pdev->dev, "about to fail, managed %d\n", pdev->is_managed);
	return dev_err_probe(&pdev->dev, fail_err, "giving up\n");
}

static void dmf_remove(struct pci_dev *pdev)
{
	dev_info(&pdev->dev, "remove (must not run)\n");
}

static const struct pci_device_id dmf_ids[] = {
	{ PCI_DEVICE(0x1234, 0x1111) },
	{ }
};

static struct pci_driver dmf_driver = {
	.name = "dm_fail",
	.id_table = dmf_ids,
	.probe = dmf_probe,
	.remove = dmf_remove,
};
module_pci_driver(dmf_driver);

MODULE_LICENSE("GPL");
