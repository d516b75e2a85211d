/* PCI devices and drivers.
 *
 * Two ways to find a device, as on Linux:
 *  - the driver model: a struct pci_driver with an id_table, registered with
 *    pci_register_driver() (or module_pci_driver()); probe() runs for every
 *    matching unbound device, remove() at unregister, and managed resources
 *    (pcim_*, devm_*) are released after remove() or a failed probe()
 *    (kernel/core/pci-driver.c, kernel/core/devres.c);
 *  - pci_get_device(): the driver looks the device up itself; enabling it
 *    binds it to the calling module (the name PCIDEV lines and lspci show).
 * BARs are mapped with pci_iomap()/pcim_iomap() or ioremap(pci_resource_start()). */
#ifndef _LINUX_PCI_H
#define _LINUX_PCI_H

#include <linux/types.h>
#include <linux/ioport.h>
#include <linux/device.h>
#include <linux/pci_ids.h>
#include <linux/io.h>
#include <linux/list.h>
#include <linux/pm.h>
#include <linux/mod_devicetable.h>
/* The rest of what the kernel's pci.h brings in (drivers rely on it). */
#include <linux/init.h>
#include <linux/errno.h>
#include <linux/atomic.h>
#include <linux/interrupt.h>
#include <linux/dma-mapping.h>
#if __has_include(<linux/dmapool.h>)
#include <linux/dmapool.h>
#endif

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

struct pci_driver;

/* The layout is a contract with kernel/pci.py, which fills these structures
 * in at boot (PCI_DEV_* there); the asserts below keep both sides honest.
 * New members go at the end (or into a __spare area, renamed). */
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
	u8 pin;				/* interrupt pin: 1..4 = INTA..INTD, 0 none */
	unsigned int irq;		/* the INTx line; pci_irq_vector() for MSI */
	struct resource resource[DEVICE_COUNT_RESOURCE];
	struct device dev;
	struct pci_bus bus_storage;
	struct pci_driver *driver;	/* the bound pci_driver, or NULL */
	u64 dma_mask;			/* dev.dma_mask points here */
	unsigned int is_busmaster:1;	/* bit 0 */
	unsigned int is_managed:1;	/* bit 1: pcim_enable_device() was called */
	unsigned int msi_enabled:1;	/* bit 2 */
	unsigned int msix_enabled:1;	/* bit 3 */
	unsigned int no_msi:1;		/* bit 4 */
	unsigned int __flag_spare:27;
	unsigned int __pad;
	unsigned long __irq_spare[4];	/* for the interrupt slice (MSI state) */
	unsigned long __spare[4];
};

_Static_assert(__builtin_offsetof(struct pci_dev, pin) == 26, "pci_dev layout");
_Static_assert(__builtin_offsetof(struct pci_dev, irq) == 28, "pci_dev layout");
_Static_assert(__builtin_offsetof(struct pci_dev, resource) == 32, "pci_dev layout");
_Static_assert(__builtin_offsetof(struct pci_dev, dev) == 256, "pci_dev layout");
_Static_assert(__builtin_offsetof(struct pci_dev, bus_storage) == 384, "pci_dev layout");
_Static_assert(__builtin_offsetof(struct pci_dev, driver) == 392, "pci_dev layout");
_Static_assert(__builtin_offsetof(struct pci_dev, dma_mask) == 400, "pci_dev layout");
_Static_assert(__builtin_offsetof(struct pci_dev, __irq_spare) == 416, "pci_dev layout");
_Static_assert(sizeof(struct pci_dev) == 480, "pci_dev layout");

extern struct bus_type pci_bus_type;

struct pci_error_handlers;

struct pci_driver {
	struct list_head node;		/* on the core's list of registered drivers */
	const char *name;
	const struct pci_device_id *id_table;	/* ends with an all-zero entry */
	int (*probe)(struct pci_dev *dev, const struct pci_device_id *id);
	void (*remove)(struct pci_dev *dev);
	int (*suspend)(struct pci_dev *dev, pm_message_t state);	/* never called */
	int (*resume)(struct pci_dev *dev);				/* never called */
	void (*shutdown)(struct pci_dev *dev);				/* never called */
	int (*sriov_configure)(struct pci_dev *dev, int num_vfs);
	int (*sriov_set_msix_vec_count)(struct pci_dev *vf, int msix_vec_count);
	u32 (*sriov_get_vf_total_msix)(struct pci_dev *pf);
	const struct pci_error_handlers *err_handler;
	const struct attribute_group **groups;
	const struct attribute_group **dev_groups;
	struct device_driver driver;
	bool driver_managed_dma;
};

#define to_pci_driver(drv) container_of(drv, struct pci_driver, driver)

/* Id-table entries, as the kernel writes them. */
#define PCI_DEVICE(vend, dev) \
	.vendor = (vend), .device = (dev), .subvendor = PCI_ANY_ID, .subdevice = PCI_ANY_ID
#define PCI_DEVICE_SUB(vend, dev, subvend, subdev) \
	.vendor = (vend), .device = (dev), .subvendor = (subvend), .subdevice = (subdev)
#define PCI_DEVICE_CLASS(dev_class, dev_class_mask) \
	.class = (dev_class), .class_mask = (dev_class_mask), \
	.vendor = PCI_ANY_ID, .device = PCI_ANY_ID, .subvendor = PCI_ANY_ID, .subdevice = PCI_ANY_ID
#define PCI_VDEVICE(vend, dev) \
	.vendor = PCI_VENDOR_ID_##vend, .device = (dev), \
	.subvendor = PCI_ANY_ID, .subdevice = PCI_ANY_ID, 0, 0
#define PCI_DEVICE_DATA(vend, dev, data) \
	.vendor = PCI_VENDOR_ID_##vend, .device = PCI_DEVICE_ID_##vend##_##dev, \
	.subvendor = PCI_ANY_ID, .subdevice = PCI_ANY_ID, 0, 0, \
	.driver_data = (kernel_ulong_t)(data)

/* Registering probes every matching unbound device, in bus order; it
 * returns 0 even when no device matched or a probe failed, as the kernel
 * does.  Unregistering removes the driver from its devices (last bound,
 * first removed) and releases their managed resources. */
int __pci_register_driver(struct pci_driver *drv, struct module *owner, const char *mod_name);
#define pci_register_driver(driver) __pci_register_driver(driver, THIS_MODULE, KBUILD_MODNAME)
void pci_unregister_driver(struct pci_driver *drv);
const struct pci_device_id *pci_match_id(const struct pci_device_id *ids, struct pci_dev *dev);

#define module_pci_driver(__pci_driver) \
	module_driver(__pci_driver, pci_register_driver, pci_unregister_driver)
#define builtin_pci_driver(__pci_driver) module_pci_driver(__pci_driver)

#define to_pci_dev(d) ((struct pci_dev *)((char *)(d) - __builtin_offsetof(struct pci_dev, dev)))
#define dev_is_pci(d) ((d)->bus == &pci_bus_type)

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
void pci_clear_master(struct pci_dev *dev);
int pci_enable_device_mem(struct pci_dev *dev);
bool pci_is_enabled(struct pci_dev *pdev);

/* BAR ownership (kernel/core/pci-driver.c): a BAR requested twice is -EBUSY
 * with "BAR n: can't reserve [mem ...]" in the log.  After
 * pcim_enable_device() the requests are managed (released at unbind). */
int pci_request_region(struct pci_dev *dev, int bar, const char *name);
void pci_release_region(struct pci_dev *dev, int bar);
int pci_request_regions(struct pci_dev *dev, const char *name);
int pci_request_regions_exclusive(struct pci_dev *dev, const char *name);
void pci_release_regions(struct pci_dev *dev);
int pci_request_selected_regions(struct pci_dev *dev, int bars, const char *name);
int pci_request_selected_regions_exclusive(struct pci_dev *dev, int bars, const char *name);
void pci_release_selected_regions(struct pci_dev *dev, int bars);
int pci_select_bars(struct pci_dev *dev, unsigned long flags);

static inline int pci_request_mem_regions(struct pci_dev *pdev, const char *name)
{
	return pci_request_selected_regions(pdev, pci_select_bars(pdev, IORESOURCE_MEM), name);
}

static inline void pci_release_mem_regions(struct pci_dev *pdev)
{
	pci_release_selected_regions(pdev, pci_select_bars(pdev, IORESOURCE_MEM));
}

#define PCI_DEVID(bus, devfn) ((((u16)(bus)) << 8) | (devfn))
static inline u16 pci_dev_id(struct pci_dev *dev) { return PCI_DEVID(dev->bus->number, dev->devfn); }
static inline int pci_domain_nr(struct pci_bus *bus) { return 0; }

/* Managed PCI (released when the driver is unbound). */
int pcim_enable_device(struct pci_dev *pdev);
void pcim_pin_device(struct pci_dev *pdev);
void __iomem *pcim_iomap(struct pci_dev *pdev, int bar, unsigned long maxlen);
void pcim_iounmap(struct pci_dev *pdev, void __iomem *addr);
void __iomem * const *pcim_iomap_table(struct pci_dev *pdev);
int pcim_iomap_regions(struct pci_dev *pdev, int mask, const char *name);
int pcim_iomap_regions_request_all(struct pci_dev *pdev, int mask, const char *name);
void pcim_iounmap_regions(struct pci_dev *pdev, int mask);
#define PCIM_IOMAP_MAX PCI_STD_NUM_BARS

#define pci_err(pdev, fmt, ...) dev_err(&(pdev)->dev, fmt, ##__VA_ARGS__)
#define pci_warn(pdev, fmt, ...) dev_warn(&(pdev)->dev, fmt, ##__VA_ARGS__)
#define pci_notice(pdev, fmt, ...) dev_notice(&(pdev)->dev, fmt, ##__VA_ARGS__)
#define pci_info(pdev, fmt, ...) dev_info(&(pdev)->dev, fmt, ##__VA_ARGS__)
#define pci_dbg(pdev, fmt, ...) dev_dbg(&(pdev)->dev, fmt, ##__VA_ARGS__)
#define pci_err_ratelimited(pdev, fmt, ...) dev_err(&(pdev)->dev, fmt, ##__VA_ARGS__)
#define pci_warn_once(pdev, fmt, ...) dev_warn_once(&(pdev)->dev, fmt, ##__VA_ARGS__)

int pci_read_config_byte(const struct pci_dev *dev, int where, u8 *val);
int pci_read_config_word(const struct pci_dev *dev, int where, u16 *val);
int pci_read_config_dword(const struct pci_dev *dev, int where, u32 *val);
int pci_write_config_byte(const struct pci_dev *dev, int where, u8 val);
int pci_write_config_word(const struct pci_dev *dev, int where, u16 val);
int pci_write_config_dword(const struct pci_dev *dev, int where, u32 val);

void __iomem *pci_iomap(struct pci_dev *dev, int bar, unsigned long maxlen);
void pci_iounmap(struct pci_dev *dev, void __iomem *addr);
void __iomem *pci_iomap_range(struct pci_dev *dev, int bar, unsigned long offset, unsigned long maxlen);
void __iomem *pci_iomap_wc(struct pci_dev *dev, int bar, unsigned long maxlen);
void __iomem *pci_iomap_wc_range(struct pci_dev *dev, int bar, unsigned long offset, unsigned long maxlen);
void __iomem *pci_ioremap_bar(struct pci_dev *pdev, int bar);
void __iomem *pci_ioremap_wc_bar(struct pci_dev *pdev, int bar);

/* Interrupt vectors: INTx, MSI, MSI-X (kernel/core/irq.c, kernel/irq.py).
 * Enabling MSI sets dev->irq to the MSI interrupt, as the kernel does. */
#ifndef PCI_STATUS_INTERRUPT
#define  PCI_STATUS_INTERRUPT 0x08
#define  PCI_STATUS_CAP_LIST 0x10
#endif
#ifndef PCI_CAPABILITY_LIST
#define PCI_CAPABILITY_LIST 0x34
#endif
#ifndef PCI_CAP_ID_MSI
#define PCI_CAP_ID_MSI 0x05
#define PCI_CAP_ID_MSIX 0x11
#define PCI_MSI_FLAGS 0x02
#define  PCI_MSI_FLAGS_ENABLE 0x0001
#define  PCI_MSI_FLAGS_QMASK 0x000e
#define  PCI_MSI_FLAGS_QSIZE 0x0070
#define  PCI_MSI_FLAGS_64BIT 0x0080
#define  PCI_MSI_FLAGS_MASKBIT 0x0100
#define PCI_MSI_ADDRESS_LO 0x04
#define PCI_MSI_ADDRESS_HI 0x08
#define PCI_MSI_DATA_32 0x08
#define PCI_MSI_DATA_64 0x0c
#define PCI_MSI_MASK_64 0x10
#define PCI_MSI_PENDING_64 0x14
#define PCI_MSIX_FLAGS 0x02
#define  PCI_MSIX_FLAGS_QSIZE 0x07ff
#define  PCI_MSIX_FLAGS_MASKALL 0x4000
#define  PCI_MSIX_FLAGS_ENABLE 0x8000
#define PCI_MSIX_TABLE 0x04
#define PCI_MSIX_PBA 0x08
#endif

#define PCI_IRQ_INTX (1 << 0)
#define PCI_IRQ_LEGACY PCI_IRQ_INTX
#define PCI_IRQ_MSI (1 << 1)
#define PCI_IRQ_MSIX (1 << 2)
#define PCI_IRQ_AFFINITY (1 << 3)
#define PCI_IRQ_ALL_TYPES (PCI_IRQ_INTX | PCI_IRQ_MSI | PCI_IRQ_MSIX)

struct msix_entry {
	u32 vector;	/* the interrupt, filled in by the kernel */
	u16 entry;	/* the table entry, filled in by the driver */
};

int pci_alloc_irq_vectors(struct pci_dev *dev, unsigned int min_vecs,
			  unsigned int max_vecs, unsigned int flags);
void pci_free_irq_vectors(struct pci_dev *dev);
int pci_irq_vector(struct pci_dev *dev, unsigned int nr);
int pci_msi_vec_count(struct pci_dev *dev);
int pci_msix_vec_count(struct pci_dev *dev);
int pci_enable_msi(struct pci_dev *dev);
void pci_disable_msi(struct pci_dev *dev);
int pci_enable_msix_range(struct pci_dev *dev, struct msix_entry *entries, int minvec, int maxvec);
static inline int pci_enable_msix_exact(struct pci_dev *dev, struct msix_entry *entries, int nvec)
{
	int rc = pci_enable_msix_range(dev, entries, nvec, nvec);

	return rc < 0 ? rc : 0;
}
void pci_disable_msix(struct pci_dev *dev);
void pci_intx(struct pci_dev *dev, int enable);
int pci_find_capability(struct pci_dev *dev, int cap);

/* Memory-write-invalidate and power states (kernel/core/pci-pm.c).  MWI
 * programs the cache line size and sets the command bit as the kernel
 * does; devices without a power-management capability (no PCI PM here)
 * stay in D0: pci_set_power_state and pci_enable_wake change nothing. */
#ifndef PCI_COMMAND_INVALIDATE
#define  PCI_COMMAND_INVALIDATE 0x10
#endif
typedef int pci_power_t;
#define PCI_D0		((pci_power_t)0)
#define PCI_D1		((pci_power_t)1)
#define PCI_D2		((pci_power_t)2)
#define PCI_D3hot	((pci_power_t)3)
#define PCI_D3cold	((pci_power_t)4)
#define PCI_UNKNOWN	((pci_power_t)5)
#define PCI_POWER_ERROR	((pci_power_t)-1)
int pci_set_mwi(struct pci_dev *dev);
int pcim_set_mwi(struct pci_dev *dev);
int pci_try_set_mwi(struct pci_dev *dev);
void pci_clear_mwi(struct pci_dev *dev);
int pci_set_cacheline_size(struct pci_dev *dev);
int pci_set_power_state(struct pci_dev *dev, pci_power_t state);
int pci_enable_wake(struct pci_dev *dev, pci_power_t state, bool enable);
int pci_wake_from_d3(struct pci_dev *dev, bool enable);

#endif
