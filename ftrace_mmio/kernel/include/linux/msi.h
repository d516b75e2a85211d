/* MSI messages as the kernel describes them; the PCI calls are in pci.h. */
#ifndef LINUX_MSI_H
#define LINUX_MSI_H

#include <linux/types.h>

struct msi_msg {
	u32 address_lo;
	u32 address_hi;
	u32 data;
};

#endif
