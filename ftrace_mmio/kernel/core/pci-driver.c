// SPDX-License-Identifier: GPL-2.0-only
/*
 * The PCI driver model: registering a struct pci_driver probes every
 * matching unbound device in bus order; unregistering removes it from its
 * devices, last bound first.  Around probe() and remove() the device's
 * managed resources are released as the kernel's driver core does: after
 * remove(), and after a probe() that failed.  BAR ownership
 * (pci_request_region and friends) and managed PCI (pcim_*) live here too.
 *
 * The machine learns of a binding through __pci_bind_driver() (the name
 * lspci -k and PCIDEV lines show) and of registered drivers through
 * __pci_driver_registered() (so a module that goes away with its driver
 * still registered is cleaned up: kernel/pci.py).
 *
 * Files of the core are one translation unit: statics carry "pcidrv_"; this
 * file uses devres_res_str() from devres.c (included first).
 */
#include <linux/pci.h>
#include <linux/device.h>
#include <linux/slab.h>
#include <linux/list.h>
#include <linux/string.h>

/* Hypercalls (kernel/pci.py). */
void __pci_bind_driver(struct pci_dev *pdev, const char *name);
void __pci_driver_registered(struct pci_driver *drv, const char *name, int registered);

struct bus_type pci_bus_type = { .name = "pci" };

static LIST_HEAD(pcidrv_drivers);

/* Bound devices, newest first: unregistering walks it so that the device
 * bound last is removed first. */
struct pcidrv_binding {
	struct pcidrv_binding *next;
	struct pci_dev *pdev;
	struct pci_driver *drv;
};
static struct pcidrv_binding *pcidrv_bindings;

const char *dev_driver_string(const struct device *dev)
{
	if (dev->driver && dev->driver->name)
		return dev->driver->name;
	if (dev->bus && dev->bus->name)
		return dev->bus->name;
	return "";
}

/* ---- matching ---------------------------------------------------------------- */

static bool pcidrv_id_matches(const struct pci_device_id *id, const struct pci_dev *dev)
{
	return (id->vendor == PCI_ANY_ID || id->vendor == dev->vendor) &&
	       (id->device == PCI_ANY_ID || id->device == dev->device) &&
	       (id->subvendor == PCI_ANY_ID || id->subvendor == dev->subsystem_vendor) &&
	       (id->subdevice == PCI_ANY_ID || id->subdevice == dev->subsystem_device) &&
	       !((id->class ^ dev->class) & id->class_mask);
}

const struct pci_device_id *pci_match_id(const struct pci_device_id *ids, struct pci_dev *dev)
{
	if (!ids)
		return NULL;
	for (; ids->vendor || ids->subvendor || ids->class_mask; ids++)
		if (pcidrv_id_matches(ids, dev))
			return ids;
	return NULL;
}

/* As pci_match_id, minus the entries only driver_override may use. */
static const struct pci_device_id *pcidrv_match(struct pci_driver *drv, struct pci_dev *dev)
{
	const struct pci_device_id *ids = drv->id_table;

	if (!ids)
		return NULL;
	for (; ids->vendor || ids->subvendor || ids->class_mask; ids++)
		if (!ids->override_only && pcidrv_id_matches(ids, dev))
			return ids;
	return NULL;
}

/* ---- binding ----------------------------------------------------------------- */

static void pcidrv_clear(struct pci_dev *pdev)
{
	pdev->dev.driver = NULL;
	pdev->driver = NULL;
	dev_set_drvdata(&pdev->dev, NULL);
	__pci_bind_driver(pdev, NULL);
}

static int pcidrv_probe_one(struct pci_driver *drv, struct pci_dev *pdev,
			    const struct pci_device_id *id)
{
	struct pcidrv_binding *b;
	int ret;

	if (pdev->dev.devres_head) {
		dev_crit(&pdev->dev, "Resources present before probing\n");
		return -EBUSY;
	}
	b = kzalloc(sizeof(*b), GFP_KERNEL);
	if (!b)
		return -ENOMEM;
	/* Bound before probe() runs, so its messages carry the driver's name. */
	pdev->dev.driver = &drv->driver;
	pdev->driver = drv;
	__pci_bind_driver(pdev, drv->driver.name);
	ret = drv->probe ? drv->probe(pdev, id) : 0;
	if (ret > 0) {
		pci_warn(pdev, "Driver probe function unexpectedly returned %d\n", ret);
		ret = 0;
	}
	if (ret < 0) {
		/* The kernel says so first, then cleans up (really_probe). */
		if (ret != -EPROBE_DEFER && ret != -ENODEV && ret != -ENXIO)
			pr_warn("%s: probe of %s failed with error %d\n", drv->driver.name,
				dev_name(&pdev->dev), ret);
		devres_release_all(&pdev->dev);
		pcidrv_clear(pdev);
		kfree(b);
		return ret;
	}
	pci_dev_get(pdev);
	b->pdev = pdev;
	b->drv = drv;
	b->next = pcidrv_bindings;
	pcidrv_bindings = b;
	return 0;
}

static void pcidrv_unbind(struct pcidrv_binding *b)
{
	struct pci_dev *pdev = b->pdev;
	struct pci_driver *drv = b->drv;

	if (drv->remove)
		drv->remove(pdev);
	devres_release_all(&pdev->dev);
	pcidrv_clear(pdev);
	pci_dev_put(pdev);
}

static bool pcidrv_registered(struct pci_driver *drv)
{
	struct pci_driver *d;

	list_for_each_entry(d, &pcidrv_drivers, node)
		if (d == drv)
			return true;
	return false;
}

int __pci_register_driver(struct pci_driver *drv, struct module *owner, const char *mod_name)
{
	struct pci_driver *other;
	struct pci_dev *pdev = NULL;

	drv->driver.name = drv->name;
	drv->driver.bus = &pci_bus_type;
	drv->driver.owner = owner;
	drv->driver.mod_name = mod_name;
	if (!drv->name) {
		pr_err("Error: Driver without a name, aborting...\n");
		return -EINVAL;
	}
	list_for_each_entry(other, &pcidrv_drivers, node) {
		if (other == drv || !strcmp(other->name, drv->name)) {
			pr_err("Error: Driver '%s' is already registered, aborting...\n", drv->name);
			return -EBUSY;
		}
	}
	list_add_tail(&drv->node, &pcidrv_drivers);
	__pci_driver_registered(drv, drv->name, 1);
	/* Every device, in bus order; the walk drops its references as it goes. */
	while ((pdev = pci_get_device(PCI_ANY_ID, PCI_ANY_ID, pdev)) != NULL) {
		const struct pci_device_id *id;

		if (pdev->dev.driver)
			continue;
		id = pcidrv_match(drv, pdev);
		if (id)
			pcidrv_probe_one(drv, pdev, id);
	}
	return 0;
}

void pci_unregister_driver(struct pci_driver *drv)
{
	struct pcidrv_binding **link = &pcidrv_bindings;

	if (!pcidrv_registered(drv)) {
		pr_warn("Unexpected driver unregister: '%s' is not registered\n",
			drv->name ? drv->name : "(null)");
		return;
	}
	while (*link) {
		struct pcidrv_binding *b = *link;

		if (b->drv != drv) {
			link = &b->next;
			continue;
		}
		*link = b->next;
		pcidrv_unbind(b);
		kfree(b);
	}
	list_del(&drv->node);
	__pci_driver_registered(drv, drv->name, 0);
}

/* The machine's clean-up when a module is unloaded with drv registered. */
void __pci_driver_module_gone(struct pci_driver *drv)
{
	if (pcidrv_registered(drv))
		pci_unregister_driver(drv);
}

/* ---- managed PCI ------------------------------------------------------------- */

struct pcidrv_pcim {
	unsigned int region_mask;	/* BARs requested while managed */
	bool enabled;
	bool pinned;			/* pcim_pin_device: stay enabled at release */
};

static void pcidrv_pcim_release(struct device *gendev, void *res)
{
	struct pci_dev *pdev = to_pci_dev(gendev);
	struct pcidrv_pcim *this = res;
	int i;

	for (i = 0; i < DEVICE_COUNT_RESOURCE; i++)
		if (this->region_mask & (1u << i))
			pci_release_region(pdev, i);
	if (this->enabled && !this->pinned)
		pci_disable_device(pdev);
	pdev->is_managed = 0;
}

static struct pcidrv_pcim *pcidrv_pcim_find(struct pci_dev *pdev)
{
	if (!pdev->is_managed)
		return NULL;
	return devres_find(&pdev->dev, pcidrv_pcim_release, NULL, NULL);
}

int pcim_enable_device(struct pci_dev *pdev)
{
	struct pcidrv_pcim *dr = devres_find(&pdev->dev, pcidrv_pcim_release, NULL, NULL);
	int rc;

	if (!dr) {
		dr = devres_alloc(pcidrv_pcim_release, sizeof(*dr), GFP_KERNEL);
		if (!dr)
			return -ENOMEM;
		devres_add(&pdev->dev, dr);
	}
	if (dr->enabled)
		return 0;
	rc = pci_enable_device(pdev);
	if (!rc) {
		pdev->is_managed = 1;
		dr->enabled = true;
	}
	return rc;
}

void pcim_pin_device(struct pci_dev *pdev)
{
	struct pcidrv_pcim *dr = pcidrv_pcim_find(pdev);

	WARN_ON(!dr || !dr->enabled);
	if (dr)
		dr->pinned = true;
}

struct pcidrv_iomap {
	void __iomem *table[PCIM_IOMAP_MAX];
};

static void pcidrv_iomap_release(struct device *gendev, void *res)
{
	struct pci_dev *pdev = to_pci_dev(gendev);
	struct pcidrv_iomap *this = res;
	int i;

	for (i = 0; i < PCIM_IOMAP_MAX; i++)
		if (this->table[i])
			pci_iounmap(pdev, this->table[i]);
}

void __iomem * const *pcim_iomap_table(struct pci_dev *pdev)
{
	struct pcidrv_iomap *dr = devres_find(&pdev->dev, pcidrv_iomap_release, NULL, NULL);

	if (dr)
		return dr->table;
	dr = devres_alloc(pcidrv_iomap_release, sizeof(*dr), GFP_KERNEL | __GFP_ZERO);
	if (!dr)
		return NULL;
	devres_add(&pdev->dev, dr);
	return dr->table;
}

void __iomem *pcim_iomap(struct pci_dev *pdev, int bar, unsigned long maxlen)
{
	void __iomem **tbl;

	if (bar < 0 || bar >= PCIM_IOMAP_MAX)
		return NULL;
	tbl = (void __iomem **)pcim_iomap_table(pdev);
	if (!tbl || tbl[bar])		/* duplicate mappings not allowed */
		return NULL;
	tbl[bar] = pci_iomap(pdev, bar, maxlen);
	return tbl[bar];
}

void pcim_iounmap(struct pci_dev *pdev, void __iomem *addr)
{
	void __iomem **tbl = (void __iomem **)pcim_iomap_table(pdev);
	int i;

	if (!tbl || !addr)
		return;
	pci_iounmap(pdev, addr);
	for (i = 0; i < PCIM_IOMAP_MAX; i++) {
		if (tbl[i] == addr) {
			tbl[i] = NULL;
			return;
		}
	}
	WARN_ON(1);
}

int pcim_iomap_regions(struct pci_dev *pdev, int mask, const char *name)
{
	void __iomem * const *iomap = pcim_iomap_table(pdev);
	int i, rc;

	if (!iomap)
		return -ENOMEM;
	for (i = 0; i < PCIM_IOMAP_MAX; i++) {
		if (!(mask & (1 << i)))
			continue;
		rc = -EINVAL;
		if (!pci_resource_len(pdev, i))
			goto undo;
		rc = pci_request_region(pdev, i, name);
		if (rc)
			goto undo;
		rc = -ENOMEM;
		if (!pcim_iomap(pdev, i, 0)) {
			pci_release_region(pdev, i);
			goto undo;
		}
	}
	return 0;

undo:
	while (--i >= 0) {
		if (!(mask & (1 << i)))
			continue;
		pcim_iounmap(pdev, iomap[i]);
		pci_release_region(pdev, i);
	}
	return rc;
}

int pcim_iomap_regions_request_all(struct pci_dev *pdev, int mask, const char *name)
{
	int request_mask = ((1 << PCI_STD_NUM_BARS) - 1) & ~mask;
	int rc = pci_request_selected_regions(pdev, request_mask, name);

	if (rc)
		return rc;
	rc = pcim_iomap_regions(pdev, mask, name);
	if (rc)
		pci_release_selected_regions(pdev, request_mask);
	return rc;
}

void pcim_iounmap_regions(struct pci_dev *pdev, int mask)
{
	void __iomem * const *iomap = pcim_iomap_table(pdev);
	int i;

	if (!iomap)
		return;
	for (i = 0; i < PCIM_IOMAP_MAX; i++) {
		if (!(mask & (1 << i)))
			continue;
		pcim_iounmap(pdev, iomap[i]);
		pci_release_region(pdev, i);
	}
}

/* ---- BAR ownership ----------------------------------------------------------- */

static int pcidrv_request_region(struct pci_dev *pdev, int bar, const char *name, int excl)
{
	struct resource *res = &pdev->resource[bar];
	struct pcidrv_pcim *dr;
	char buf[80];

	if (pci_resource_len(pdev, bar) == 0)
		return 0;
	if (res->flags & IORESOURCE_IO) {
		if (!request_region(res->start, resource_size(res), name))
			goto busy;
	} else if (res->flags & IORESOURCE_MEM) {
		if (!__request_region(&iomem_resource, res->start, resource_size(res), name, excl))
			goto busy;
	}
	dr = pcidrv_pcim_find(pdev);
	if (dr)
		dr->region_mask |= 1u << bar;
	return 0;

busy:
	pci_warn(pdev, "BAR %d: can't reserve %s\n", bar, devres_res_str(buf, sizeof(buf), res));
	return -EBUSY;
}

int pci_request_region(struct pci_dev *pdev, int bar, const char *name)
{
	if (bar < 0 || bar >= DEVICE_COUNT_RESOURCE)
		return -EINVAL;
	return pcidrv_request_region(pdev, bar, name, 0);
}

void pci_release_region(struct pci_dev *pdev, int bar)
{
	struct resource *res;
	struct pcidrv_pcim *dr;

	if (bar < 0 || bar >= DEVICE_COUNT_RESOURCE || pci_resource_len(pdev, bar) == 0)
		return;
	res = &pdev->resource[bar];
	if (res->flags & IORESOURCE_IO)
		release_region(res->start, resource_size(res));
	else if (res->flags & IORESOURCE_MEM)
		release_mem_region(res->start, resource_size(res));
	dr = pcidrv_pcim_find(pdev);
	if (dr)
		dr->region_mask &= ~(1u << bar);
}

static int pcidrv_request_selected(struct pci_dev *pdev, int bars, const char *name, int excl)
{
	int i;

	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		if (!(bars & (1 << i)))
			continue;
		if (pcidrv_request_region(pdev, i, name, excl))
			goto undo;
	}
	return 0;

undo:
	while (--i >= 0)
		if (bars & (1 << i))
			pci_release_region(pdev, i);
	return -EBUSY;
}

int pci_request_selected_regions(struct pci_dev *pdev, int bars, const char *name)
{
	return pcidrv_request_selected(pdev, bars, name, 0);
}

int pci_request_selected_regions_exclusive(struct pci_dev *pdev, int bars, const char *name)
{
	return pcidrv_request_selected(pdev, bars, name, IORESOURCE_EXCLUSIVE);
}

void pci_release_selected_regions(struct pci_dev *pdev, int bars)
{
	int i;

	for (i = 0; i < PCI_STD_NUM_BARS; i++)
		if (bars & (1 << i))
			pci_release_region(pdev, i);
}

int pci_request_regions(struct pci_dev *pdev, const char *name)
{
	return pci_request_selected_regions(pdev, (1 << PCI_STD_NUM_BARS) - 1, name);
}

int pci_request_regions_exclusive(struct pci_dev *pdev, const char *name)
{
	return pci_request_selected_regions_exclusive(pdev, (1 << PCI_STD_NUM_BARS) - 1, name);
}

void pci_release_regions(struct pci_dev *pdev)
{
	pci_release_selected_regions(pdev, (1 << PCI_STD_NUM_BARS) - 1);
}

int pci_select_bars(struct pci_dev *dev, unsigned long flags)
{
	int i, bars = 0;

	for (i = 0; i < DEVICE_COUNT_RESOURCE; i++)
		if (pci_resource_flags(dev, i) & flags)
			bars |= 1 << i;
	return bars;
}
