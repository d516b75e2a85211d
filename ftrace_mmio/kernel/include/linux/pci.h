/* PCI devices.  Drivers find their device with pci_get_device() (there is
 * no probe callback), enable it -- which binds it to the calling module,
 * the name PCIDEV lines and lspci show -- and map BARs with pci_iomap() or
 * ioremap(pci_resource_start(...)). */
#ifndef _LINUX_PCI_H
#define _LINUX_PCI_H

#include <linux/types.h>
#include <linux/ioport.h>
#include <linux/device.h>
#include <linux/pci_ids.h>
#include <linux/io.h>

#define PCI_ANY_ID (~0)
#define PCI_DEVFN(slot, func) ((((slot) & 0x1f) << 3) | ((func) & 0x07))
#define PCI_SLOT(devfn) (((devfn) >> 3) & 0x1f)
#define PCI_FUNC(devfn) ((devfn) & 0x07)

#define PCI_STD_NUM_BARS 6
#define PCI_ROM_RESOURCE 6
#define DEVICE_COUNT_RESOURCE 7

/* Configuration space registers and bits. */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define  PCI_COMMAND_IO 0x1
#define  PCI_COMMAND_MEMORY 0x2
#define  PCI_COMMAND_MASTER 0x4
#define  PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS 0x06
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_REVISION 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_CLASS_DEVICE 0x0a
#define PCI_CACHE_LINE_SIZE 0x0c
#define PCI_LATENCY_TIMER 0x0d
#define PCI_HEADER_TYPE 0x0e
#define PCI_BASE_ADDRESS_0 0x10
#define PCI_BASE_ADDRESS_1 0x14
#define PCI_BASE_ADDRESS_2 0x18
#define PCI_BASE_ADDRESS_3 0x1c
#define PCI_BASE_ADDRESS_4 0x20
#define PCI_BASE_ADDRESS_5 0x24
#define  PCI_BASE_ADDRESS_SPACE_IO 0x01
#define  PCI_BASE_ADDRESS_MEM_TYPE_64 0x04
#define  PCI_BASE_ADDRESS_MEM_PREFETCH 0x08
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_ROM_ADDRESS 0x30
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d

#define PCIBIOS_SUCCESSFUL 0x00
#define PCIBIOS_DEVICE_NOT_FOUND 0x86
#define PCIBIOS_BAD_REGISTER_NUMBER 0x87

struct pci_bus {
	unsigned char number;
};

/* The layout is fixed: the machine fills these structures in (kapi.py). */
struct pci_dev {
	struct pci_bus *bus;
	unsigned int devfn;
	unsigned short vendor;
	unsigned short device;
	unsigned short subsystem_vendor;
	unsigned short subsystem_device;
	unsigned int class;		/* 3 bytes: base, sub, prog-if */
	u8 revision;
	u8 hdr_type;
	unsigned int irq;
	struct resource resource[DEVICE_COUNT_RESOURCE];
	struct device dev;
	struct pci_bus bus_storage;
};

_Static_assert(__builtin_offsetof(struct pci_dev, irq) == 28, "pci_dev layout");
_Static_assert(__builtin_offsetof(struct pci_dev, resource) == 32, "pci_dev layout");
_Static_assert(__builtin_offsetof(struct pci_dev, dev) == 256, "pci_dev layout");
_Static_assert(sizeof(struct pci_dev) == 280, "pci_dev layout");

#define to_pci_dev(d) ((struct pci_dev *)((char *)(d) - __builtin_offsetof(struct pci_dev, dev)))

#define pci_resource_start(dev, bar) ((dev)->resource[(bar)].start)
#define pci_resource_end(dev, bar) ((dev)->resource[(bar)].end)
#define pci_resource_flags(dev, bar) ((dev)->resource[(bar)].flags)
#define pci_resource_len(dev, bar) \
	(pci_resource_end((dev), (bar)) ? resource_size(&(dev)->resource[(bar)]) : 0)

static inline const char *pci_name(const struct pci_dev *pdev) { return pdev->dev.init_name; }
static inline void *pci_get_drvdata(struct pci_dev *pdev) { return pdev->dev.driver_data; }
static inline void pci_set_drvdata(struct pci_dev *pdev, void *data) { pdev->dev.driver_data = data; }

struct pci_dev *pci_get_device(unsigned int vendor, unsigned int device, struct pci_dev *from);
struct pci_dev *pci_dev_get(struct pci_dev *dev);
void pci_dev_put(struct pci_dev *dev);
int pci_enable_device(struct pci_dev *dev);
void pci_disable_device(struct pci_dev *dev);
void pci_set_master(struct pci_dev *dev);
int pci_request_regions(struct pci_dev *dev, const char *name);
void pci_release_regions(struct pci_dev *dev);

int pci_read_config_byte(const struct pci_dev *dev, int where, u8 *val);
int pci_read_config_word(const struct pci_dev *dev, int where, u16 *val);
int pci_read_config_dword(const struct pci_dev *dev, int where, u32 *val);
int pci_write_config_byte(const struct pci_dev *dev, int where, u8 val);
int pci_write_config_word(const struct pci_dev *dev, int where, u16 val);
int pci_write_config_dword(const struct pci_dev *dev, int where, u32 val);

void __iomem *pci_iomap(struct pci_dev *dev, int bar, unsigned long maxlen);
void pci_iounmap(struct pci_dev *dev, void __iomem *addr);

#endif
