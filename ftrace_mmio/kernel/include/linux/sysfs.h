/* sysfs attributes as drivers declare them.
 *
 * The kernel's types and macros.  A bound driver's device attributes
 * (dev_groups of its device_driver and pci_driver, unnamed groups) are
 * files in the mount, sys/bus/pci/devices/<slot>/<name>: a read calls
 * show(), a write store() (kernel/sysfs.py, kernel/core/sysfs.c).  There
 * are no kobjects, so is_visible is not consulted, named groups are not
 * shown, and nothing else of sysfs exists.  sysfs_emit/sysfs_emit_at
 * format into a PAGE_SIZE buffer as the kernel's do. */
#ifndef _SYSFS_H_
#define _SYSFS_H_

#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/stat.h>
#include <linux/stringify.h>

struct kobject;
struct module;
struct file;
struct bin_attribute;

struct attribute {
	const char *name;
	umode_t mode;
};

struct attribute_group {
	const char *name;
	umode_t (*is_visible)(struct kobject *, struct attribute *, int);
	umode_t (*is_bin_visible)(struct kobject *, struct bin_attribute *, int);
	struct attribute **attrs;
	struct bin_attribute **bin_attrs;
};

#define __ATTR(_name, _mode, _show, _store) {				\
	.attr = { .name = __stringify(_name), .mode = (_mode) },	\
	.show = _show,							\
	.store = _store,						\
}
#define __ATTR_PREALLOC(_name, _mode, _show, _store) __ATTR(_name, _mode, _show, _store)
#define __ATTR_RO_MODE(_name, _mode) {					\
	.attr = { .name = __stringify(_name), .mode = (_mode) },	\
	.show = _name##_show,						\
}
#define __ATTR_RO(_name) __ATTR_RO_MODE(_name, 0444)
#define __ATTR_RW_MODE(_name, _mode) {					\
	.attr = { .name = __stringify(_name), .mode = (_mode) },	\
	.show = _name##_show,						\
	.store = _name##_store,						\
}
#define __ATTR_RW(_name) __ATTR(_name, 0644, _name##_show, _name##_store)
#define __ATTR_WO(_name) {						\
	.attr = { .name = __stringify(_name), .mode = 0200 },		\
	.store = _name##_store,						\
}
#define __ATTR_NULL { .attr = { .name = NULL } }

#define __ATTRIBUTE_GROUPS(_name)					\
static const struct attribute_group *_name##_groups[] = {		\
	&_name##_group,							\
	NULL,								\
}

#define ATTRIBUTE_GROUPS(_name)						\
static const struct attribute_group _name##_group = {			\
	.attrs = _name##_attrs,						\
};									\
__ATTRIBUTE_GROUPS(_name)

__printf(2, 3) int sysfs_emit(char *buf, const char *fmt, ...);
__printf(3, 4) int sysfs_emit_at(char *buf, int at, const char *fmt, ...);

#endif
