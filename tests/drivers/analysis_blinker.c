// SPDX-License-Identifier: GPL-2.0-only
/*
 * Drives the blinker user model (tests/data/analysis_machine/blinker.py):
 * checks ID, enables it at a rate, polls STATUS until READY, reads COUNT,
 * writes LED; for the analysis tests' traces of a user's own device.
 */
#include <linux/module.h>
#include <linux/io.h>
#include <linux/pci.h>

static int led = 1;
module_param(led, int, 0444);

static struct pci_dev *pdev;
static void __iomem *base;

static int __init blinker_init(void)
{
	int spins = 0;

	pdev = pci_get_device(0x1234, 0xd0a1, NULL);
	if (!pdev)
		return -ENODEV;
	if (pci_enable_device(pdev))
		return -EIO;
	base = pci_iomap(pdev, 0, 0);
	if (!base)
		return -ENOMEM;
	if (readl(base + 0x00) != 0x424c4e4b)
		return -ENODEV;
	writel(0x31, base + 0x04);             /* ENABLE, RATE 3 */
	while (!(readl(base + 0x08) & 1) && spins < 100)
		spins++;
	pr_info("blinker: ready after %d polls, count %u\n", spins, readl(base + 0x0c));
	writel(led, base + 0x10);
	return 0;
}

static void __exit blinker_exit(void)
{
	writel(0, base + 0x04);
	pci_iounmap(pdev, base);
	pci_dev_put(pdev);
}

module_init(blinker_init);
module_exit(blinker_exit);
MODULE_LICENSE("GPL");
