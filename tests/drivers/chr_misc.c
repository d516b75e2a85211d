// SPDX-License-Identifier: GPL-2.0
/*
 * Test driver for kernel/core/chardev.c: a misc device "chrtest" (dynamic
 * minor) and an old-style register_chrdev device "chrold".
 *
 * chrtest: read returns what was last written (seekable, simple_*_buffer);
 * ioctl CHR_GET/CHR_SET move an int with get_user/put_user, CHR_BAD hands a
 * kernel pointer to copy_to_user (must fail with EFAULT), CHR_COUNT returns
 * the number of opens, CHR_OOPS dereferences arg + 0x10 (an oops with 0).  open/release log "chrtest: open N" / "release N".
 * chrold: nonseekable; every write logs its bytes; read gives "old\n".
 */
#include <linux/module.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/uaccess.h>
#include <linux/ioctl.h>

#define CHR_GET		_IOR('c', 1, int)
#define CHR_SET		_IOW('c', 2, int)
#define CHR_BAD		_IOR('c', 3, int)
#define CHR_COUNT	_IO('c', 4)
#define CHR_OOPS	_IO('c', 5)

static char chr_buf[256];
static size_t chr_len;
static int chr_value = 42;
static int chr_opens;
static int chr_major;

static int chr_open(struct inode *inode, struct file *file)
{
	chr_opens++;
	pr_info("chrtest: open %d minor %u private %s\n", chr_opens, iminor(inode),
		file->private_data ? "misc" : "none");
	return 0;
}

static int chr_release(struct inode *inode, struct file *file)
{
	pr_info("chrtest: release %d\n", chr_opens);
	return 0;
}

static ssize_t chr_read(struct file *file, char __user *buf, size_t count, loff_t *ppos)
{
	return simple_read_from_buffer(buf, count, ppos, chr_buf, chr_len);
}

static ssize_t chr_write(struct file *file, const char __user *buf, size_t count, loff_t *ppos)
{
	size_t n = min(count, sizeof(chr_buf));

	if (copy_from_user(chr_buf, buf, n))
		return -EFAULT;
	chr_len = n;
	return count;
}

static long chr_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	int __user *p = (int __user *)arg;
	int v = 0;

	switch (cmd) {
	case CHR_GET:
		return put_user(chr_value, p);
	case CHR_SET:
		if (get_user(v, p))
			return -EFAULT;
		chr_value = v;
		return 0;
	case CHR_BAD:
		return copy_to_user((void __user *)&chr_value, &v, sizeof(v)) ? -EFAULT : 0;
	case CHR_COUNT:
		return chr_opens;
	case CHR_OOPS:
		return *(volatile int *)(arg + 0x10);	/* arg 0: a NULL dereference */
	}
	return -ENOTTY;
}

static const struct file_operations chr_fops = {
	.owner = THIS_MODULE,
	.open = chr_open,
	.release = chr_release,
	.read = chr_read,
	.write = chr_write,
	.unlocked_ioctl = chr_ioctl,
	.llseek = default_llseek,
};

static struct miscdevice chr_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "chrtest",
	.fops = &chr_fops,
};

static int old_open(struct inode *inode, struct file *file)
{
	return nonseekable_open(inode, file);
}

static ssize_t old_read(struct file *file, char __user *buf, size_t count, loff_t *ppos)
{
	static const char text[] = "old\n";
	loff_t pos = 0;

	return simple_read_from_buffer(buf, count, &pos, text, sizeof(text) - 1);
}

static ssize_t old_write(struct file *file, const char __user *buf, size_t count, loff_t *ppos)
{
	char tmp[64];
	size_t n = min(count, sizeof(tmp) - 1);

	if (copy_from_user(tmp, buf, n))
		return -EFAULT;
	tmp[n] = 0;
	pr_info("chrold: wrote %zu: %s\n", count, tmp);
	return count;
}

static const struct file_operations old_fops = {
	.owner = THIS_MODULE,
	.open = old_open,
	.read = old_read,
	.write = old_write,
	.llseek = no_llseek,
};

static int __init chr_init(void)
{
	int ret = misc_register(&chr_misc);

	if (ret)
		return ret;
	chr_major = register_chrdev(0, "chrold", &old_fops);
	if (chr_major < 0) {
		misc_deregister(&chr_misc);
		return chr_major;
	}
	pr_info("chrtest: misc minor %d, chrold major %d\n", chr_misc.minor, chr_major);
	return 0;
}

static void __exit chr_exit(void)
{
	unregister_chrdev(chr_major, "chrold");
	misc_deregister(&chr_misc);
}

module_init(chr_init);
module_exit(chr_exit);
MODULE_LICENSE("GPL");
