/* struct device, drivers, dev_* printing and managed resources (devres).
 *
 * Messages are prefixed as the kernel prefixes them: the bound driver's
 * name (else the bus name) and the device's name, e.g.
 * "nvlike 0000:00:02.0: chip id 0x...".  Managed resources (devm_*) are
 * released in reverse order when the driver is unbound or its probe fails
 * (kernel/core/devres.c). */
#ifndef _LINUX_DEVICE_H
#define _LINUX_DEVICE_H

#include <linux/compiler.h>
#include <linux/types.h>
#include <linux/printk.h>
#include <linux/bug.h>
#include <linux/err.h>
#include <linux/gfp.h>
#include <linux/ioport.h>
#include <linux/module.h>

#ifndef EPROBE_DEFER
#define EPROBE_DEFER 517
#endif

struct device;
struct devres;
struct dev_pm_ops;
struct device_dma_parameters;
struct of_device_id;
struct attribute_group;

struct bus_type {
	const char *name;
};

struct device_driver {
	const char *name;
	const struct bus_type *bus;
	struct module *owner;
	const char *mod_name;
	bool suppress_bind_attrs;
	int probe_type;
	const struct of_device_id *of_match_table;
	const void *acpi_match_table;
	int (*probe)(struct device *dev);
	void (*sync_state)(struct device *dev);
	int (*remove)(struct device *dev);
	void (*shutdown)(struct device *dev);
	const struct attribute_group **groups;
	const struct attribute_group **dev_groups;
	const struct dev_pm_ops *pm;
};

enum probe_type {
	PROBE_DEFAULT_STRATEGY,
	PROBE_PREFER_ASYNCHRONOUS,
	PROBE_FORCE_SYNCHRONOUS,
};

/* The layout is a contract with kernel/pci.py (struct pci_dev embeds one;
 * offsets are checked in pci.h).  New members go into __spare, renamed. */
struct device {
	const char *init_name;			/*   0: dev_name() */
	void *driver_data;			/*   8: dev_get/set_drvdata */
	struct device *parent;			/*  16 */
	struct device_driver *driver;		/*  24: the bound driver, or NULL */
	const struct bus_type *bus;		/*  32 */
	u64 *dma_mask;				/*  40: points at pci_dev.dma_mask */
	u64 coherent_dma_mask;			/*  48 */
	u64 bus_dma_limit;			/*  56 */
	struct device_dma_parameters *dma_parms; /* 64 */
	struct devres *devres_head;		/*  72: newest first (core/devres.c) */
	void (*release)(struct device *dev);	/*  80 */
	void *platform_data;			/*  88 */
	unsigned long __spare[4];		/*  96: for the irq/dma slices */
};						/* 128 bytes */

_Static_assert(__builtin_offsetof(struct device, driver) == 24, "device layout");
_Static_assert(__builtin_offsetof(struct device, bus) == 32, "device layout");
_Static_assert(__builtin_offsetof(struct device, devres_head) == 72, "device layout");
_Static_assert(sizeof(struct device) == 128, "device layout");

static inline const char *dev_name(const struct device *dev) { return dev->init_name; }
static inline void *dev_get_drvdata(const struct device *dev) { return dev->driver_data; }
static inline void dev_set_drvdata(struct device *dev, void *data) { dev->driver_data = data; }
static inline struct device *get_device(struct device *dev) { return dev; }
static inline void put_device(struct device *dev) { }
static inline bool device_is_bound(struct device *dev) { return dev->driver != NULL; }
/* The driver's name if one is bound, else the bus's (kernel/core/pci-driver.c). */
const char *dev_driver_string(const struct device *dev);

/* ---- attributes (declared, not shown anywhere: linux/sysfs.h) ------------ */

#include <linux/sysfs.h>

struct device_attribute {
	struct attribute attr;
	ssize_t (*show)(struct device *dev, struct device_attribute *attr, char *buf);
	ssize_t (*store)(struct device *dev, struct device_attribute *attr,
			 const char *buf, size_t count);
};

#define DEVICE_ATTR(_name, _mode, _show, _store) \
	struct device_attribute dev_attr_##_name = __ATTR(_name, _mode, _show, _store)
#define DEVICE_ATTR_PREALLOC(_name, _mode, _show, _store) DEVICE_ATTR(_name, _mode, _show, _store)
#define DEVICE_ATTR_RW(_name) struct device_attribute dev_attr_##_name = __ATTR_RW(_name)
#define DEVICE_ATTR_ADMIN_RW(_name) \
	struct device_attribute dev_attr_##_name = __ATTR_RW_MODE(_name, 0600)
#define DEVICE_ATTR_RO(_name) struct device_attribute dev_attr_##_name = __ATTR_RO(_name)
#define DEVICE_ATTR_ADMIN_RO(_name) \
	struct device_attribute dev_attr_##_name = __ATTR_RO_MODE(_name, 0400)
#define DEVICE_ATTR_WO(_name) struct device_attribute dev_attr_##_name = __ATTR_WO(_name)

/* ---- printing ------------------------------------------------------------ */

__printf(3, 4) int dev_printk(const char *level, const struct device *dev, const char *fmt, ...);
/* Logs "error -ENOMEM: <message>" at KERN_ERR (KERN_DEBUG for -EPROBE_DEFER)
 * and returns err, so "return dev_err_probe(dev, ret, ...);" works. */
__printf(3, 4) int dev_err_probe(const struct device *dev, int err, const char *fmt, ...);

#ifndef dev_fmt
#define dev_fmt(fmt) fmt
#endif

#define dev_emerg(dev, fmt, ...) dev_printk(KERN_EMERG, dev, dev_fmt(fmt), ##__VA_ARGS__)
#define dev_alert(dev, fmt, ...) dev_printk(KERN_ALERT, dev, dev_fmt(fmt), ##__VA_ARGS__)
#define dev_crit(dev, fmt, ...) dev_printk(KERN_CRIT, dev, dev_fmt(fmt), ##__VA_ARGS__)
#define dev_err(dev, fmt, ...) dev_printk(KERN_ERR, dev, dev_fmt(fmt), ##__VA_ARGS__)
#define dev_warn(dev, fmt, ...) dev_printk(KERN_WARNING, dev, dev_fmt(fmt), ##__VA_ARGS__)
#define dev_notice(dev, fmt, ...) dev_printk(KERN_NOTICE, dev, dev_fmt(fmt), ##__VA_ARGS__)
#define dev_info(dev, fmt, ...) dev_printk(KERN_INFO, dev, dev_fmt(fmt), ##__VA_ARGS__)
#ifdef DEBUG
#define dev_dbg(dev, fmt, ...) dev_printk(KERN_DEBUG, dev, dev_fmt(fmt), ##__VA_ARGS__)
#else
#define dev_dbg(dev, fmt, ...) ({ if (0) dev_printk(KERN_DEBUG, dev, dev_fmt(fmt), ##__VA_ARGS__); 0; })
#endif
#define dev_vdbg(dev, fmt, ...) ({ if (0) dev_printk(KERN_DEBUG, dev, dev_fmt(fmt), ##__VA_ARGS__); 0; })

#define __dev_once(call) ({ static bool __print_once; \
	if (!__print_once) { __print_once = true; call; } })
#define dev_err_once(dev, fmt, ...) __dev_once(dev_err(dev, fmt, ##__VA_ARGS__))
#define dev_warn_once(dev, fmt, ...) __dev_once(dev_warn(dev, fmt, ##__VA_ARGS__))
#define dev_info_once(dev, fmt, ...) __dev_once(dev_info(dev, fmt, ##__VA_ARGS__))
#define dev_notice_once(dev, fmt, ...) __dev_once(dev_notice(dev, fmt, ##__VA_ARGS__))
#define dev_dbg_once(dev, fmt, ...) dev_dbg(dev, fmt, ##__VA_ARGS__)
/* No rate limit: one CPU, one driver; every message is kept. */
#define dev_err_ratelimited dev_err
#define dev_warn_ratelimited dev_warn
#define dev_info_ratelimited dev_info
#define dev_notice_ratelimited dev_notice
#define dev_dbg_ratelimited dev_dbg

#define dev_WARN(dev, format, ...) \
	WARN(1, "%s %s: " format, dev_driver_string(dev), dev_name(dev), ##__VA_ARGS__)
#define dev_WARN_ONCE(dev, condition, format, ...) ({ \
	static bool __dev_warned; \
	int __dev_warn_cond = !!(condition); \
	if (unlikely(__dev_warn_cond && !__dev_warned)) { \
		__dev_warned = true; \
		dev_WARN(dev, format, ##__VA_ARGS__); \
	} \
	unlikely(__dev_warn_cond); \
})

/* ---- managed resources (kernel/core/devres.c) ---------------------------- */

typedef void (*dr_release_t)(struct device *dev, void *res);
typedef int (*dr_match_t)(struct device *dev, void *res, void *match_data);

void *devres_alloc(dr_release_t release, size_t size, gfp_t gfp);
#define devres_alloc_node(release, size, gfp, nid) devres_alloc(release, size, gfp)
void devres_free(void *res);
void devres_add(struct device *dev, void *res);
void *devres_find(struct device *dev, dr_release_t release, dr_match_t match, void *match_data);
void *devres_get(struct device *dev, void *new_res, dr_match_t match, void *match_data);
void *devres_remove(struct device *dev, dr_release_t release, dr_match_t match, void *match_data);
int devres_destroy(struct device *dev, dr_release_t release, dr_match_t match, void *match_data);
int devres_release(struct device *dev, dr_release_t release, dr_match_t match, void *match_data);
/* Releases every managed resource of dev, newest first; returns how many. */
int devres_release_all(struct device *dev);

int devm_add_action(struct device *dev, void (*action)(void *), void *data);
int devm_add_action_or_reset(struct device *dev, void (*action)(void *), void *data);
void devm_remove_action(struct device *dev, void (*action)(void *), void *data);
void devm_release_action(struct device *dev, void (*action)(void *), void *data);

void *devm_kmalloc(struct device *dev, size_t size, gfp_t gfp) __attribute__((alloc_size(2)));
void devm_kfree(struct device *dev, const void *p);
char *devm_kstrdup(struct device *dev, const char *s, gfp_t gfp);
void *devm_kmemdup(struct device *dev, const void *src, size_t len, gfp_t gfp);
__printf(3, 4) char *devm_kasprintf(struct device *dev, gfp_t gfp, const char *fmt, ...);

static inline void *devm_kzalloc(struct device *dev, size_t size, gfp_t gfp)
{
	return devm_kmalloc(dev, size, gfp | __GFP_ZERO);
}

static inline void *devm_kmalloc_array(struct device *dev, size_t n, size_t size, gfp_t flags)
{
	size_t bytes;

	if (__builtin_mul_overflow(n, size, &bytes))
		return NULL;
	return devm_kmalloc(dev, bytes, flags);
}

static inline void *devm_kcalloc(struct device *dev, size_t n, size_t size, gfp_t flags)
{
	return devm_kmalloc_array(dev, n, size, flags | __GFP_ZERO);
}

void __iomem *devm_ioremap(struct device *dev, resource_size_t offset, resource_size_t size);
void __iomem *devm_ioremap_uc(struct device *dev, resource_size_t offset, resource_size_t size);
void __iomem *devm_ioremap_wc(struct device *dev, resource_size_t offset, resource_size_t size);
void devm_iounmap(struct device *dev, void __iomem *addr);
void __iomem *devm_ioremap_resource(struct device *dev, const struct resource *res);

/* ---- module boilerplate --------------------------------------------------- */

/* One driver per module: init registers it, exit unregisters it. */
#define module_driver(__driver, __register, __unregister, ...) \
static int __init __driver##_init(void) \
{ \
	return __register(&(__driver), ##__VA_ARGS__); \
} \
module_init(__driver##_init); \
static void __exit __driver##_exit(void) \
{ \
	__unregister(&(__driver), ##__VA_ARGS__); \
} \
module_exit(__driver##_exit);


/* Wake-up capability (no power management here: linux/pm_wakeup.h). */
#include <linux/pm_wakeup.h>

#endif
