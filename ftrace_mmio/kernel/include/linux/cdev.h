/* struct cdev: a range of character-device numbers served by one
 * file_operations (kernel/core/chardev.c keeps the added ones in a list). */
#ifndef _LINUX_CDEV_H
#define _LINUX_CDEV_H

#include <linux/kdev_t.h>
#include <linux/list.h>
#include <linux/fs.h>

struct device;
struct kobject;

struct cdev {
	struct module *owner;
	const struct file_operations *ops;
	struct list_head list;		/* chardev.c: every added cdev */
	dev_t dev;
	unsigned int count;
	bool added;
	bool allocated;			/* from cdev_alloc: freed by cdev_del */
	struct device *node_dev;	/* cdev_device_add: the node's name */
};

void cdev_init(struct cdev *cdev, const struct file_operations *fops);
struct cdev *cdev_alloc(void);
int cdev_add(struct cdev *p, dev_t dev, unsigned count);
void cdev_del(struct cdev *p);
void cdev_set_parent(struct cdev *p, struct kobject *kobj);
/* cdev_add, and a node named dev_name(dev) for the number dev->devt; in this
 * kernel struct device has no devt, so the number is the cdev's. */
int cdev_device_add(struct cdev *cdev, struct device *dev);
void cdev_device_del(struct cdev *cdev, struct device *dev);

#endif
