// SPDX-License-Identifier: GPL-2.0-only
/*
 * PCI memory-write-invalidate and power states, as drivers call them.
 *
 * pci_set_mwi: the cache line size register must hold the system's line
 * (64 bytes = 16 dwords) or a multiple; if not it is written and read back
 * (a device that ignores it refuses MWI with -EINVAL, logged at debug
 * level), then PCI_COMMAND_INVALIDATE is set in the command register.  A
 * device whose command register does not implement the bit (QEMU's do
 * not) keeps it clear, and the call still succeeds, as on Linux.
 *
 * Power management: our devices have no PM capability, so they are always
 * in D0; pci_set_power_state and pci_enable_wake succeed without doing
 * anything, as the kernel's do for such a device.
 *
 * Files of the core are one translation unit: statics carry "pcipm_".
 */
#include <linux/pci.h>
#include <linux/device.h>

#define PCIPM_CACHE_LINE_DWORDS (64 >> 2)

int pci_set_cacheline_size(struct pci_dev *dev)
{
	u8 cacheline_size;

	pci_read_config_byte(dev, PCI_CACHE_LINE_SIZE, &cacheline_size);
	if (cacheline_size >= PCIPM_CACHE_LINE_DWORDS &&
	    (cacheline_size % PCIPM_CACHE_LINE_DWORDS) == 0)
		return 0;
	pci_write_config_byte(dev, PCI_CACHE_LINE_SIZE, PCIPM_CACHE_LINE_DWORDS);
	pci_read_config_byte(dev, PCI_CACHE_LINE_SIZE, &cacheline_size);
	if (cacheline_size == PCIPM_CACHE_LINE_DWORDS)
		return 0;
	pci_dbg(dev, "cache line size of %d is not supported\n", PCIPM_CACHE_LINE_DWORDS << 2);
	return -EINVAL;
}

int pci_set_mwi(struct pci_dev *dev)
{
	int rc;
	u16 cmd;

	rc = pci_set_cacheline_size(dev);
	if (rc)
		return rc;
	pci_read_config_word(dev, PCI_COMMAND, &cmd);
	if (!(cmd & PCI_COMMAND_INVALIDATE)) {
		pci_dbg(dev, "enabling Mem-Wr-Inval\n");
		cmd |= PCI_COMMAND_INVALIDATE;
		pci_write_config_word(dev, PCI_COMMAND, cmd);
	}
	return 0;
}

int pci_try_set_mwi(struct pci_dev *dev)
{
	return pci_set_mwi(dev);
}

void pci_clear_mwi(struct pci_dev *dev)
{
	u16 cmd;

	pci_read_config_word(dev, PCI_COMMAND, &cmd);
	if (cmd & PCI_COMMAND_INVALIDATE) {
		cmd &= ~PCI_COMMAND_INVALIDATE;
		pci_write_config_word(dev, PCI_COMMAND, cmd);
	}
}

static void pcipm_clear_mwi_action(void *data)
{
	pci_clear_mwi(data);
}

/* Managed: MWI is cleared again when the driver goes. */
int pcim_set_mwi(struct pci_dev *dev)
{
	int rc = devm_add_action(&dev->dev, pcipm_clear_mwi_action, dev);

	if (rc)
		return rc;
	return pci_set_mwi(dev);
}

int pci_set_power_state(struct pci_dev *dev, pci_power_t state)
{
	return 0;
}

int pci_enable_wake(struct pci_dev *dev, pci_power_t state, bool enable)
{
	return 0;
}

int pci_wake_from_d3(struct pci_dev *dev, bool enable)
{
	return 0;
}
