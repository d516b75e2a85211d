/* Device-id tables: what a driver says it can drive.  The layout is the
 * kernel's, so MODULE_DEVICE_TABLE data and designated initialisers written
 * for Linux compile unchanged. */
#ifndef _LINUX_MOD_DEVICETABLE_H
#define _LINUX_MOD_DEVICETABLE_H

#include <linux/types.h>

typedef unsigned long kernel_ulong_t;

#ifndef PCI_ANY_ID
#define PCI_ANY_ID (~0)
#endif

/* One entry of a pci_driver's id_table; the table ends with an all-zero
 * entry.  A field equal to PCI_ANY_ID matches anything; class is compared
 * under class_mask (24 bits: base class, sub class, prog-if). */
struct pci_device_id {
	__u32 vendor, device;
	__u32 subvendor, subdevice;
	__u32 class, class_mask;
	kernel_ulong_t driver_data;	/* handed to probe() untouched */
	__u32 override_only;		/* match only through driver_override (never, here) */
};

#endif
