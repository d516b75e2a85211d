// SPDX-License-Identifier: GPL-2.0-only
/*
 * sysfs_emit, sysfs_emit_at: what a show() callback formats into its
 * page-sized buffer.  As in the kernel, the buffer must be page aligned
 * (WARN and 0 otherwise) and the result is cut at PAGE_SIZE - 1 bytes;
 * the return value is what was written, not what would have been.
 *
 * The mount shows the attributes a bound driver declared (kernel/sysfs.py):
 * __sysfs_dev_attrs lists them, __sysfs_show/__sysfs_store call the
 * driver's callbacks with sysfs_page, the page-aligned buffer sysfs gives
 * them.
 *
 * Files of the core are one translation unit: statics carry "sysfs_".
 */
#include <linux/kernel.h>
#include <linux/sysfs.h>
#include <linux/bug.h>
#include <linux/mm.h>
#include <linux/stdarg.h>
#include <linux/device.h>
#include <linux/pci.h>

static int sysfs_vemit_at(char *buf, int at, const char *fmt, va_list args)
{
	int len;

	if (WARN(!buf || offset_in_page(buf) || at < 0 || at >= PAGE_SIZE,
		 "invalid sysfs_emit_at: buf:%p at:%d\n", buf, at))
		return 0;
	len = vsnprintf(buf + at, PAGE_SIZE - at, fmt, args);
	/* scnprintf's rule: count what fits, not what was wanted */
	if (len >= PAGE_SIZE - at)
		len = PAGE_SIZE - at - 1;
	return len;
}

int sysfs_emit(char *buf, const char *fmt, ...)
{
	va_list args;
	int len;

	va_start(args, fmt);
	len = sysfs_vemit_at(buf, 0, fmt, args);
	va_end(args);
	return len;
}

int sysfs_emit_at(char *buf, int at, const char *fmt, ...)
{
	va_list args;
	int len;

	va_start(args, fmt);
	len = sysfs_vemit_at(buf, at, fmt, args);
	va_end(args);
	return len;
}

/* The page show() formats into and store() reads from. */
char sysfs_page[PAGE_SIZE] __aligned(PAGE_SIZE);

static int sysfs_collect(const struct attribute_group **groups, struct device_attribute **out,
			 int n, int max)
{
	if (!groups)
		return n;
	for (; *groups; groups++) {
		struct attribute **a;

		/* Named groups are sub-directories: not shown (docs/kernel/netdev.md). */
		if ((*groups)->name || !(*groups)->attrs)
			continue;
		for (a = (*groups)->attrs; *a; a++)
			if (n < max)
				out[n++] = container_of(*a, struct device_attribute, attr);
	}
	return n;
}

/* The device attributes of dev's driver: its device_driver's dev_groups,
 * and its pci_driver's for a PCI device; at most max. */
int __sysfs_dev_attrs(struct device *dev, struct device_attribute **out, int max)
{
	const struct attribute_group **pci_groups = NULL;
	int n = 0;

	if (!dev->driver)
		return 0;
	if (dev_is_pci(dev))
		pci_groups = to_pci_driver(dev->driver)->dev_groups;
	n = sysfs_collect(dev->driver->dev_groups, out, n, max);
	if (pci_groups != dev->driver->dev_groups)
		n = sysfs_collect(pci_groups, out, n, max);
	return n;
}

long __sysfs_show(struct device *dev, struct device_attribute *attr)
{
	ssize_t n;

	memset(sysfs_page, 0, PAGE_SIZE);
	if (!attr->show)
		return -EIO;
	n = attr->show(dev, attr, sysfs_page);
	if (n > (ssize_t)PAGE_SIZE) {
		pr_warn("fill_read_buffer: %ps returned bad count\n", attr->show);
		n = PAGE_SIZE;
	}
	return n;
}

long __sysfs_store(struct device *dev, struct device_attribute *attr, size_t count)
{
	if (!attr->store)
		return -EIO;
	sysfs_page[count < PAGE_SIZE ? count : PAGE_SIZE - 1] = '\0';
	return attr->store(dev, attr, sysfs_page, count);
}
