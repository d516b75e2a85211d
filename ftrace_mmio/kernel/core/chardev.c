// SPDX-License-Identifier: GPL-2.0
/*
 * Character devices: device numbers, struct cdev, misc devices, and the
 * file operations user space reaches through the mount's dev/ nodes.
 *
 * The Python side (kernel/chardev.py) keeps the node table (name -> number)
 * the mount shows, maps the user pages, and calls the __chardev_* entry points
 * below on the CPU thread for open, read, write, ioctl and release.  Here is
 * what the kernel's fs/char_dev.c and drivers/char/misc.c do for them: find
 * the file_operations for a number, make struct file and struct inode, call
 * the driver.  docs/kernel/chardev.md.
 */
#include <linux/types.h>
#include <linux/kernel.h>
#include <linux/errno.h>
#include <linux/err.h>
#include <linux/list.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/mutex.h>
#include <linux/fs.h>
#include <linux/cdev.h>
#include <linux/miscdevice.h>
#include <linux/device.h>
#include <linux/uaccess.h>

/* kernel/chardev.py: a node appears in (add) or leaves (!add) the mount's dev/. */
void __chardev_node(const char *name, dev_t devt, int add);

/* ---- device-number regions (fs/char_dev.c's chrdevs) -------------------- */

struct chardev_region {
	struct list_head list;
	unsigned int major;
	unsigned int baseminor;
	unsigned int count;
	char name[64];
	struct cdev *cdev;		/* __register_chrdev's own */
};

static LIST_HEAD(chardev_regions);
static LIST_HEAD(chardev_cdevs);
static DEFINE_MUTEX(chardev_lock);

/* The user pages of the current file operation: kernel/chardev.py sets them. */
unsigned long chardev_user_lo;
unsigned long chardev_user_hi;

static bool chardev_overlaps(unsigned int major, unsigned int first, unsigned int count)
{
	struct chardev_region *r;

	list_for_each_entry(r, &chardev_regions, list) {
		if (r->major != major)
			continue;
		if (first < r->baseminor + r->count && r->baseminor < first + count)
			return true;
	}
	return false;
}

static bool chardev_major_used(unsigned int major)
{
	struct chardev_region *r;

	list_for_each_entry(r, &chardev_regions, list)
		if (r->major == major)
			return true;
	return false;
}

/* A free major, 254 down to 234 then 511 down to 384, as the kernel searches. */
static int chardev_dynamic_major(void)
{
	int i;

	for (i = 254; i >= CHRDEV_MAJOR_DYN_END; i--)
		if (!chardev_major_used(i))
			return i;
	for (i = 511; i >= 384; i--)
		if (!chardev_major_used(i))
			return i;
	return -EBUSY;
}

static struct chardev_region *chardev_region_add(unsigned int major, unsigned int baseminor,
						 unsigned int count, const char *name)
{
	struct chardev_region *r;
	int ret;

	if (major >= CHRDEV_MAJOR_MAX) {
		pr_err("CHRDEV \"%s\" major requested (%u) is greater than the maximum (%u)\n",
		       name, major, CHRDEV_MAJOR_MAX - 1);
		return ERR_PTR(-EINVAL);
	}
	if (baseminor + count > MINORMASK + 1 || count == 0)
		return ERR_PTR(-EINVAL);
	if (major == 0) {
		ret = chardev_dynamic_major();
		if (ret < 0) {
			pr_err("CHRDEV \"%s\" dynamic allocation region is full\n", name);
			return ERR_PTR(ret);
		}
		major = ret;
	}
	if (chardev_overlaps(major, baseminor, count))
		return ERR_PTR(-EBUSY);
	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return ERR_PTR(-ENOMEM);
	r->major = major;
	r->baseminor = baseminor;
	r->count = count;
	strscpy(r->name, name ? name : "", sizeof(r->name));
	list_add_tail(&r->list, &chardev_regions);
	return r;
}

static struct chardev_region *chardev_region_find(unsigned int major, unsigned int baseminor,
						  unsigned int count)
{
	struct chardev_region *r;

	list_for_each_entry(r, &chardev_regions, list)
		if (r->major == major && r->baseminor == baseminor && r->count == count)
			return r;
	return NULL;
}

int register_chrdev_region(dev_t from, unsigned count, const char *name)
{
	dev_t to = from + count, n, next;
	struct chardev_region *r;

	mutex_lock(&chardev_lock);
	for (n = from; n < to; n = next) {
		next = MKDEV(MAJOR(n) + 1, 0);
		if (next > to)
			next = to;
		r = chardev_region_add(MAJOR(n), MINOR(n), next - n, name);
		if (IS_ERR(r)) {
			dev_t m;

			for (m = from; m < n; m = next) {
				struct chardev_region *q;

				next = MKDEV(MAJOR(m) + 1, 0);
				q = chardev_region_find(MAJOR(m), MINOR(m), min(next, to) - m);
				if (q) {
					list_del(&q->list);
					kfree(q);
				}
			}
			mutex_unlock(&chardev_lock);
			return PTR_ERR(r);
		}
	}
	mutex_unlock(&chardev_lock);
	return 0;
}

int alloc_chrdev_region(dev_t *dev, unsigned baseminor, unsigned count, const char *name)
{
	struct chardev_region *r;

	mutex_lock(&chardev_lock);
	r = chardev_region_add(0, baseminor, count, name);
	mutex_unlock(&chardev_lock);
	if (IS_ERR(r))
		return PTR_ERR(r);
	*dev = MKDEV(r->major, r->baseminor);
	return 0;
}

void unregister_chrdev_region(dev_t from, unsigned count)
{
	dev_t to = from + count, n, next;

	mutex_lock(&chardev_lock);
	for (n = from; n < to; n = next) {
		struct chardev_region *r;

		next = MKDEV(MAJOR(n) + 1, 0);
		if (next > to)
			next = to;
		r = chardev_region_find(MAJOR(n), MINOR(n), next - n);
		if (r) {
			list_del(&r->list);
			kfree(r);
		}
	}
	mutex_unlock(&chardev_lock);
}

/* ---- struct cdev ----------------------------------------------------------- */

void cdev_init(struct cdev *cdev, const struct file_operations *fops)
{
	memset(cdev, 0, sizeof(*cdev));
	INIT_LIST_HEAD(&cdev->list);
	cdev->ops = fops;
}

struct cdev *cdev_alloc(void)
{
	struct cdev *p = kzalloc(sizeof(*p), GFP_KERNEL);

	if (p) {
		INIT_LIST_HEAD(&p->list);
		p->allocated = true;
	}
	return p;
}

int cdev_add(struct cdev *p, dev_t dev, unsigned count)
{
	p->dev = dev;
	p->count = count;
	mutex_lock(&chardev_lock);
	list_add(&p->list, &chardev_cdevs);	/* newest first: it wins a lookup */
	p->added = true;
	mutex_unlock(&chardev_lock);
	return 0;
}

void cdev_set_parent(struct cdev *p, struct kobject *kobj)
{
}

void cdev_del(struct cdev *p)
{
	mutex_lock(&chardev_lock);
	if (p->added) {
		list_del_init(&p->list);
		p->added = false;
	}
	mutex_unlock(&chardev_lock);
	if (p->allocated)
		kfree(p);
}

int cdev_device_add(struct cdev *cdev, struct device *dev)
{
	int rc = cdev_add(cdev, cdev->dev, 1);

	if (rc)
		return rc;
	cdev->node_dev = dev;
	if (dev && dev_name(dev))
		__chardev_node(dev_name(dev), cdev->dev, 1);
	return 0;
}

void cdev_device_del(struct cdev *cdev, struct device *dev)
{
	if (dev && dev_name(dev))
		__chardev_node(dev_name(dev), cdev->dev, 0);
	cdev->node_dev = NULL;
	cdev_del(cdev);
}

static struct cdev *chardev_cdev_lookup(dev_t devt)
{
	struct cdev *p;

	list_for_each_entry(p, &chardev_cdevs, list)
		if (devt >= p->dev && devt < p->dev + p->count)
			return p;
	return NULL;
}

/* register_chrdev: a region, a cdev over it, and (unlike the kernel, where
 * the user runs mknod) a node named after the driver for its first minor. */
int __register_chrdev(unsigned int major, unsigned int baseminor, unsigned int count,
		      const char *name, const struct file_operations *fops)
{
	struct chardev_region *r;
	struct cdev *cdev;

	mutex_lock(&chardev_lock);
	r = chardev_region_add(major, baseminor, count, name);
	mutex_unlock(&chardev_lock);
	if (IS_ERR(r))
		return PTR_ERR(r);
	cdev = cdev_alloc();
	if (!cdev) {
		mutex_lock(&chardev_lock);
		list_del(&r->list);
		mutex_unlock(&chardev_lock);
		kfree(r);
		return -ENOMEM;
	}
	cdev->ops = fops;
	cdev_add(cdev, MKDEV(r->major, baseminor), count);
	r->cdev = cdev;
	__chardev_node(r->name, MKDEV(r->major, baseminor), 1);
	return major ? 0 : r->major;
}

void __unregister_chrdev(unsigned int major, unsigned int baseminor, unsigned int count,
			 const char *name)
{
	struct chardev_region *r;

	mutex_lock(&chardev_lock);
	r = chardev_region_find(major, baseminor, count);
	if (r)
		list_del(&r->list);
	mutex_unlock(&chardev_lock);
	if (!r)
		return;
	__chardev_node(r->name, MKDEV(r->major, baseminor), 0);
	if (r->cdev)
		cdev_del(r->cdev);
	kfree(r);
}

/* ---- misc devices (drivers/char/misc.c) ----------------------------------- */

#define CHARDEV_MISC_DYNAMIC 128	/* dynamic minors: 127 downwards */

static LIST_HEAD(chardev_misc_list);
static unsigned long chardev_misc_minors[CHARDEV_MISC_DYNAMIC / BITS_PER_LONG];

int misc_register(struct miscdevice *misc)
{
	bool dynamic = misc->minor == MISC_DYNAMIC_MINOR;
	struct miscdevice *c;
	struct device *dev;
	int i = 0;

	INIT_LIST_HEAD(&misc->list);
	mutex_lock(&chardev_lock);
	if (dynamic) {
		for (i = 0; i < CHARDEV_MISC_DYNAMIC; i++)
			if (!test_bit(i, chardev_misc_minors))
				break;
		if (i >= CHARDEV_MISC_DYNAMIC) {
			mutex_unlock(&chardev_lock);
			return -EBUSY;
		}
		misc->minor = CHARDEV_MISC_DYNAMIC - i - 1;
	} else {
		list_for_each_entry(c, &chardev_misc_list, list) {
			if (c->minor == misc->minor) {
				mutex_unlock(&chardev_lock);
				return -EBUSY;
			}
		}
	}
	/* device_create's device: named after the misc device, drvdata = it. */
	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev) {
		mutex_unlock(&chardev_lock);
		if (dynamic)
			misc->minor = MISC_DYNAMIC_MINOR;
		return -ENOMEM;
	}
	dev->init_name = misc->name;
	dev->parent = misc->parent;
	dev->driver_data = misc;
	misc->this_device = dev;
	if (dynamic)
		set_bit(i, chardev_misc_minors);
	list_add(&misc->list, &chardev_misc_list);
	mutex_unlock(&chardev_lock);
	__chardev_node(misc->nodename ? misc->nodename : misc->name, MKDEV(MISC_MAJOR, misc->minor), 1);
	return 0;
}

void misc_deregister(struct miscdevice *misc)
{
	int i = CHARDEV_MISC_DYNAMIC - misc->minor - 1;

	if (WARN_ON(list_empty(&misc->list)))
		return;
	__chardev_node(misc->nodename ? misc->nodename : misc->name, MKDEV(MISC_MAJOR, misc->minor), 0);
	mutex_lock(&chardev_lock);
	list_del(&misc->list);
	kfree(misc->this_device);
	misc->this_device = NULL;
	if (i < CHARDEV_MISC_DYNAMIC && i >= 0)
		clear_bit(i, chardev_misc_minors);
	mutex_unlock(&chardev_lock);
}

/* ---- helpers drivers call from their file operations ---------------------- */

int nonseekable_open(struct inode *inode, struct file *filp)
{
	filp->f_mode &= ~(FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE);
	return 0;
}

int stream_open(struct inode *inode, struct file *filp)
{
	filp->f_mode &= ~(FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE | FMODE_ATOMIC_POS);
	filp->f_mode |= FMODE_STREAM;
	return 0;
}

int simple_open(struct inode *inode, struct file *file)
{
	if (inode->i_private)
		file->private_data = inode->i_private;
	return 0;
}

loff_t no_llseek(struct file *file, loff_t offset, int whence)
{
	return -ESPIPE;
}

loff_t noop_llseek(struct file *file, loff_t offset, int whence)
{
	return file->f_pos;
}

loff_t fixed_size_llseek(struct file *file, loff_t offset, int whence, loff_t size)
{
	loff_t pos;

	switch (whence) {
	case SEEK_SET: pos = offset; break;
	case SEEK_CUR: pos = file->f_pos + offset; break;
	case SEEK_END: pos = size + offset; break;
	default: return -EINVAL;
	}
	if (pos < 0 || pos > size)
		return -EINVAL;
	file->f_pos = pos;
	return pos;
}

loff_t default_llseek(struct file *file, loff_t offset, int whence)
{
	return fixed_size_llseek(file, offset, whence, MAX_LFS_FILESIZE);
}

ssize_t simple_read_from_buffer(void __user *to, size_t count, loff_t *ppos,
				const void *from, size_t available)
{
	loff_t pos = *ppos;
	size_t ret;

	if (pos < 0)
		return -EINVAL;
	if (pos >= available || !count)
		return 0;
	if (count > available - pos)
		count = available - pos;
	ret = copy_to_user(to, from + pos, count);
	if (ret == count)
		return -EFAULT;
	count -= ret;
	*ppos = pos + count;
	return count;
}

ssize_t simple_write_to_buffer(void *to, size_t available, loff_t *ppos,
			       const void __user *from, size_t count)
{
	loff_t pos = *ppos;
	size_t res;

	if (pos < 0)
		return -EINVAL;
	if (pos >= available || !count)
		return 0;
	if (count > available - pos)
		count = available - pos;
	res = copy_from_user(to + pos, from, count);
	if (res == count)
		return -EFAULT;
	count -= res;
	*ppos = pos + count;
	return count;
}

/* ---- user memory ------------------------------------------------------------ */

/* How many of the n bytes at user address a lie in the mapped user pages. */
static unsigned long chardev_user_span(unsigned long a, unsigned long n)
{
	if (!access_ok((const void __user *)a, n))
		return 0;
	if (a < chardev_user_lo || a >= chardev_user_hi)
		return 0;
	return min(n, chardev_user_hi - a);
}

unsigned long _copy_from_user(void *to, const void __user *from, unsigned long n)
{
	unsigned long ok = chardev_user_span((unsigned long)from, n);

	memcpy(to, (const void __force *)from, ok);
	if (ok < n)
		memset(to + ok, 0, n - ok);	/* the kernel zeroes the rest */
	return n - ok;
}

unsigned long _copy_to_user(void __user *to, const void *from, unsigned long n)
{
	unsigned long ok = chardev_user_span((unsigned long)to, n);

	memcpy((void __force *)to, from, ok);
	return n - ok;
}

unsigned long clear_user(void __user *to, unsigned long n)
{
	unsigned long ok = chardev_user_span((unsigned long)to, n);

	memset((void __force *)to, 0, ok);
	return n - ok;
}

long strncpy_from_user(char *dst, const char __user *src, long count)
{
	unsigned long ok;
	long i;

	if (count <= 0)
		return 0;
	ok = chardev_user_span((unsigned long)src, count);
	for (i = 0; i < (long)ok; i++) {
		dst[i] = ((const char __force *)src)[i];
		if (!dst[i])
			return i;
	}
	return ok < (unsigned long)count ? -EFAULT : count;
}

long strnlen_user(const char __user *str, long n)
{
	unsigned long ok = chardev_user_span((unsigned long)str, n);
	long i;

	for (i = 0; i < (long)ok; i++)
		if (!((const char __force *)str)[i])
			return i + 1;
	return ok < (unsigned long)n ? 0 : n + 1;
}

/* ---- the file operations user space reaches (kernel/chardev.py) --------- */

static struct miscdevice *chardev_misc_find(unsigned int minor)
{
	struct miscdevice *c;

	list_for_each_entry(c, &chardev_misc_list, list)
		if (c->minor == minor)
			return c;
	return NULL;
}

/* open(2) on a node: struct inode and struct file, then the driver's open.
 * 0 and *filp, or a negative errno. */
long __chardev_open(dev_t devt, unsigned int flags, struct file **filp)
{
	const struct file_operations *fops = NULL;
	struct miscdevice *misc = NULL;
	struct inode *inode;
	struct file *file;
	struct cdev *cdev;
	int ret = 0;

	mutex_lock(&chardev_lock);
	cdev = chardev_cdev_lookup(devt);
	if (cdev)
		fops = cdev->ops;
	else if (MAJOR(devt) == MISC_MAJOR) {
		misc = chardev_misc_find(MINOR(devt));
		if (misc)
			fops = misc->fops;
	}
	mutex_unlock(&chardev_lock);
	if (!fops)
		return cdev ? -ENXIO : -ENODEV;

	inode = kzalloc(sizeof(*inode), GFP_KERNEL);
	file = kzalloc(sizeof(*file), GFP_KERNEL);
	if (!inode || !file) {
		kfree(inode);
		kfree(file);
		return -ENOMEM;
	}
	inode->i_mode = S_IFCHR | 0600;
	inode->i_rdev = devt;
	inode->i_cdev = cdev;
	file->f_inode = inode;
	file->f_flags = flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC);
	file->f_mode = FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE;
	if ((flags & O_ACCMODE) != O_WRONLY)
		file->f_mode |= FMODE_READ;
	if ((flags & O_ACCMODE) != O_RDONLY)
		file->f_mode |= FMODE_WRITE;
	atomic_long_set(&file->f_count, 1);
	mutex_init(&file->f_pos_lock);
	file->f_op = fops;
	/* misc_open: the driver finds its miscdevice in private_data. */
	if (misc)
		file->private_data = misc;
	if (fops->open)
		ret = fops->open(inode, file);
	if (ret) {
		kfree(file);
		kfree(inode);
		return ret;
	}
	*filp = file;
	return 0;
}

static loff_t *chardev_ppos(struct file *file, loff_t pos)
{
	if (file->f_mode & FMODE_STREAM)
		return NULL;
	file->f_pos = pos;
	return &file->f_pos;
}

long __chardev_read(struct file *file, char __user *buf, size_t count, loff_t pos)
{
	if (!(file->f_mode & FMODE_READ))
		return -EBADF;
	if (!file->f_op->read)
		return -EINVAL;
	return file->f_op->read(file, buf, count, chardev_ppos(file, pos));
}

long __chardev_write(struct file *file, const char __user *buf, size_t count, loff_t pos)
{
	if (!(file->f_mode & FMODE_WRITE))
		return -EBADF;
	if (!file->f_op->write)
		return -EINVAL;
	return file->f_op->write(file, buf, count, chardev_ppos(file, pos));
}

long __chardev_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	long ret;

	if (!file->f_op->unlocked_ioctl)
		return -ENOTTY;
	ret = file->f_op->unlocked_ioctl(file, cmd, arg);
	return ret == -ENOIOCTLCMD ? -ENOTTY : ret;
}

/* The last close: the driver's release, then the file is gone. */
long __chardev_release(struct file *file)
{
	struct inode *inode = file->f_inode;

	if (file->f_op->flush)
		file->f_op->flush(file, NULL);
	if (file->f_op->release)
		file->f_op->release(inode, file);
	kfree(file);
	kfree(inode);
	return 0;
}

/* Whether the f_mode says the file has no position (for lseek). */
long __chardev_is_stream(struct file *file)
{
	return !(file->f_mode & FMODE_LSEEK);
}
