/* Reaches pvpanic's sysfs attributes (through the exported
 * pvpanic_dev_groups, as the driver core would) and the panic notifier
 * chain, for tests/test_intree_pvpanic.py. */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/pci.h>
#include <linux/string.h>
#include <linux/device.h>
#include <linux/panic_notifier.h>

extern const struct attribute_group *pvpanic_dev_groups[];

static char poke_page[PAGE_SIZE] __aligned(PAGE_SIZE);

static struct device *poke_device(void)
{
	struct pci_dev *pdev = pci_get_device(0x1b36, 0x0011, NULL);

	return pdev ? &pdev->dev : NULL;
}

static struct device_attribute *poke_attr(const char *name)
{
	struct attribute **a;

	for (a = pvpanic_dev_groups[0]->attrs; *a; a++)
		if (!strcmp((*a)->name, name))
			return container_of(*a, struct device_attribute, attr);
	return NULL;
}

/* show(): the value it printed (hex), or a negative errno. */
long poke_show(int which)
{
	struct device_attribute *attr = poke_attr(which ? "events" : "capability");
	unsigned int v;
	ssize_t n;

	if (!attr || !attr->show)
		return -ENOENT;
	n = attr->show(poke_device(), attr, poke_page);
	if (n <= 0 || poke_page[n - 1] != '\n')
		return -EINVAL;
	poke_page[n - 1] = '\0';
	if (kstrtouint(poke_page, 16, &v))
		return -EINVAL;
	return v;
}

/* store() of "<value in hex>\n" into events: what it returned. */
long poke_store(unsigned int value)
{
	struct device_attribute *attr = poke_attr("events");
	int n;

	if (!attr || !attr->store)
		return -ENOENT;
	n = snprintf(poke_page, PAGE_SIZE, "%x\n", value);
	return attr->store(poke_device(), attr, poke_page, n);
}

long poke_mode(int which)
{
	struct device_attribute *attr = poke_attr(which ? "events" : "capability");

	return attr ? attr->attr.mode : -ENOENT;
}

/* What panic() does first: tell the panic notifiers. */
int poke_panic_notifiers(void)
{
	return atomic_notifier_call_chain(&panic_notifier_list, 0, "test panic");
}

/* The real thing: the machine stops, after pvpanic told the device. */
int poke_real_panic(void)
{
	panic("pvpanic test: %s", "going down");
	return 0;
}

static int __init poke_init(void)
{
	return 0;
}
module_init(poke_init);

static void __exit poke_exit(void)
{
}
module_exit(poke_exit);

MODULE_LICENSE("GPL");
