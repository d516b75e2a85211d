// SPDX-License-Identifier: GPL-2.0
/*
 * The watchdog core: registration of struct watchdog_device, and the
 * character devices /dev/watchdogN (cdev on a dynamic major, minor N) and
 * /dev/watchdog (misc, minor 130, for the first watchdog) with the kernel's
 * user-space semantics:
 *
 *   open     starts the watchdog (EBUSY if the device is already open)
 *   write    any write pings; a 'V' among the bytes arms the magic close
 *            (unless nowayout)
 *   close    stops it if the magic close was armed (or the card has no
 *            WDIOF_MAGICCLOSE); otherwise "watchdog did not stop!" and a
 *            last ping: the timer runs on and the machine would reset
 *   ioctl    WDIOC_GETSUPPORT ... WDIOC_GETTIMELEFT
 *
 * What is not here: the worker that pings hardware whose maximum heartbeat is
 * shorter than the timeout, pretimeout governors, sysfs attributes, reboot
 * and pm notifiers.  docs/kernel/chardev.md.
 */
#include <linux/types.h>
#include <linux/kernel.h>
#include <linux/errno.h>
#include <linux/slab.h>
#include <linux/mutex.h>
#include <linux/fs.h>
#include <linux/cdev.h>
#include <linux/miscdevice.h>
#include <linux/uaccess.h>
#include <linux/ktime.h>
#include <linux/timekeeping.h>
#include <linux/watchdog.h>

#define WATCHDOG_MAX_DOGS	32

/* wd_data->status bits (the core's own, not the driver's) */
#define WATCHDOG_DEV_OPEN	0	/* opened: one user at a time */
#define WATCHDOG_ALLOW_RELEASE	1	/* 'V' seen: close may stop it */
#define WATCHDOG_KEEPALIVE	2	/* pinged since the last GETSTATUS */

struct watchdog_core_data {
	struct device dev;		/* "watchdogN", parent = the driver's device */
	struct cdev cdev;
	struct watchdog_device *wdd;	/* NULL once unregistered */
	struct mutex lock;
	ktime_t last_keepalive;
	ktime_t last_hw_keepalive;
	unsigned long status;
	char name[16];
};

static dev_t watchdog_devt;
static unsigned long watchdog_ids;
static struct watchdog_core_data *watchdog_old_wd_data;	/* behind /dev/watchdog */

static int watchdog_dev_open(struct inode *inode, struct file *file);
static int watchdog_dev_release(struct inode *inode, struct file *file);
static ssize_t watchdog_dev_write(struct file *file, const char __user *data, size_t len,
				  loff_t *ppos);
static long watchdog_dev_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

static const struct file_operations watchdog_fops = {
	.owner = THIS_MODULE,
	.write = watchdog_dev_write,
	.unlocked_ioctl = watchdog_dev_ioctl,
	.compat_ioctl = watchdog_dev_ioctl,
	.open = watchdog_dev_open,
	.release = watchdog_dev_release,
};

static struct miscdevice watchdog_miscdev = {
	.minor = WATCHDOG_MINOR,
	.name = "watchdog",
	.fops = &watchdog_fops,
};

/* ---- the operations, as the core drives them ------------------------------- */

static int watchdog_hw_ping(struct watchdog_device *wdd)
{
	struct watchdog_core_data *wd_data = wdd->wd_data;
	int err;

	if (wdd->ops->ping)
		err = wdd->ops->ping(wdd);
	else
		err = wdd->ops->start(wdd);	/* restarting is pinging */
	if (err == 0)
		wd_data->last_hw_keepalive = ktime_get();
	return err;
}

static int watchdog_ping(struct watchdog_device *wdd)
{
	struct watchdog_core_data *wd_data = wdd->wd_data;

	if (!watchdog_active(wdd) && !watchdog_hw_running(wdd))
		return 0;
	set_bit(WATCHDOG_KEEPALIVE, &wd_data->status);
	wd_data->last_keepalive = ktime_get();
	return watchdog_hw_ping(wdd);
}

static int watchdog_start(struct watchdog_device *wdd)
{
	struct watchdog_core_data *wd_data = wdd->wd_data;
	ktime_t started_at;
	int err;

	if (watchdog_active(wdd))
		return 0;
	set_bit(WATCHDOG_KEEPALIVE, &wd_data->status);
	started_at = ktime_get();
	if (watchdog_hw_running(wdd) && wdd->ops->ping) {
		err = watchdog_hw_ping(wdd);
		if (err == 0)
			set_bit(WDOG_ACTIVE, &wdd->status);
	} else {
		err = wdd->ops->start(wdd);
		if (err == 0) {
			set_bit(WDOG_ACTIVE, &wdd->status);
			wd_data->last_keepalive = started_at;
			wd_data->last_hw_keepalive = started_at;
		}
	}
	return err;
}

static int watchdog_stop(struct watchdog_device *wdd)
{
	int err = 0;

	if (!watchdog_active(wdd))
		return 0;
	if (test_bit(WDOG_NO_WAY_OUT, &wdd->status)) {
		pr_info("watchdog: watchdog%d: nowayout prevents watchdog being stopped!\n", wdd->id);
		return -EBUSY;
	}
	if (wdd->ops->stop) {
		clear_bit(WDOG_HW_RUNNING, &wdd->status);
		err = wdd->ops->stop(wdd);
	} else {
		set_bit(WDOG_HW_RUNNING, &wdd->status);
	}
	if (err == 0)
		clear_bit(WDOG_ACTIVE, &wdd->status);
	return err;
}

static unsigned int watchdog_get_status(struct watchdog_device *wdd)
{
	struct watchdog_core_data *wd_data = wdd->wd_data;
	unsigned int status;

	if (wdd->ops->status)
		status = wdd->ops->status(wdd);
	else
		status = wdd->bootstatus & (WDIOF_CARDRESET | WDIOF_OVERHEAT | WDIOF_FANFAULT |
					    WDIOF_EXTERN1 | WDIOF_EXTERN2 | WDIOF_POWERUNDER |
					    WDIOF_POWEROVER);
	if (test_bit(WATCHDOG_ALLOW_RELEASE, &wd_data->status))
		status |= WDIOF_MAGICCLOSE;
	if (test_and_clear_bit(WATCHDOG_KEEPALIVE, &wd_data->status))
		status |= WDIOF_KEEPALIVEPING;
	return status;
}

static int watchdog_set_timeout(struct watchdog_device *wdd, unsigned int timeout)
{
	int err = 0;

	if (!(wdd->info->options & WDIOF_SETTIMEOUT))
		return -EOPNOTSUPP;
	if (watchdog_timeout_invalid(wdd, timeout))
		return -EINVAL;
	if (wdd->ops->set_timeout) {
		err = wdd->ops->set_timeout(wdd, timeout);
	} else {
		wdd->timeout = timeout;
		if (wdd->pretimeout >= wdd->timeout)
			wdd->pretimeout = 0;
	}
	return err;
}

static int watchdog_set_pretimeout(struct watchdog_device *wdd, unsigned int timeout)
{
	int err = 0;

	if (!(wdd->info->options & WDIOF_PRETIMEOUT))
		return -EOPNOTSUPP;
	if (watchdog_pretimeout_invalid(wdd, timeout))
		return -EINVAL;
	if (wdd->ops->set_pretimeout)
		err = wdd->ops->set_pretimeout(wdd, timeout);
	else
		wdd->pretimeout = timeout;
	return err;
}

/* ---- the file operations of /dev/watchdog and /dev/watchdogN -------------- */

static int watchdog_dev_open(struct inode *inode, struct file *file)
{
	struct watchdog_core_data *wd_data;
	struct watchdog_device *wdd;
	int err;

	if (imajor(inode) == MISC_MAJOR)
		wd_data = watchdog_old_wd_data;
	else
		wd_data = container_of(inode->i_cdev, struct watchdog_core_data, cdev);
	if (!wd_data)
		return -ENODEV;
	if (test_and_set_bit(WATCHDOG_DEV_OPEN, &wd_data->status))
		return -EBUSY;
	mutex_lock(&wd_data->lock);
	wdd = wd_data->wdd;
	err = wdd ? watchdog_start(wdd) : -ENODEV;
	mutex_unlock(&wd_data->lock);
	if (err < 0) {
		clear_bit(WATCHDOG_DEV_OPEN, &wd_data->status);
		return err;
	}
	file->private_data = wd_data;
	return stream_open(inode, file);
}

static ssize_t watchdog_dev_write(struct file *file, const char __user *data, size_t len,
				  loff_t *ppos)
{
	struct watchdog_core_data *wd_data = file->private_data;
	struct watchdog_device *wdd;
	size_t i;
	char c;
	int err;

	if (len == 0)
		return 0;
	/* Only the last write decides: a 'V' anywhere in it arms the magic close. */
	clear_bit(WATCHDOG_ALLOW_RELEASE, &wd_data->status);
	for (i = 0; i != len; i++) {
		if (get_user(c, data + i))
			return -EFAULT;
		if (c == 'V')
			set_bit(WATCHDOG_ALLOW_RELEASE, &wd_data->status);
	}
	err = -ENODEV;
	mutex_lock(&wd_data->lock);
	wdd = wd_data->wdd;
	if (wdd)
		err = watchdog_ping(wdd);
	mutex_unlock(&wd_data->lock);
	if (err < 0)
		return err;
	return len;
}

static long watchdog_dev_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct watchdog_core_data *wd_data = file->private_data;
	void __user *argp = (void __user *)arg;
	struct watchdog_device *wdd;
	int __user *p = argp;
	unsigned int val;
	int err;

	mutex_lock(&wd_data->lock);
	wdd = wd_data->wdd;
	if (!wdd) {
		err = -ENODEV;
		goto out;
	}
	if (wdd->ops->ioctl) {
		err = wdd->ops->ioctl(wdd, cmd, arg);
		if (err != -ENOIOCTLCMD)
			goto out;
	}
	switch (cmd) {
	case WDIOC_GETSUPPORT:
		err = copy_to_user(argp, wdd->info, sizeof(struct watchdog_info)) ? -EFAULT : 0;
		break;
	case WDIOC_GETSTATUS:
		val = watchdog_get_status(wdd);
		err = put_user(val, p);
		break;
	case WDIOC_GETBOOTSTATUS:
		err = put_user(wdd->bootstatus, p);
		break;
	case WDIOC_SETOPTIONS:
		if (get_user(val, p)) {
			err = -EFAULT;
			break;
		}
		err = 0;
		if (val & WDIOS_DISABLECARD) {
			err = watchdog_stop(wdd);
			if (err < 0)
				break;
		}
		if (val & WDIOS_ENABLECARD)
			err = watchdog_start(wdd);
		break;
	case WDIOC_KEEPALIVE:
		if (!(wdd->info->options & WDIOF_KEEPALIVEPING)) {
			err = -EOPNOTSUPP;
			break;
		}
		err = watchdog_ping(wdd);
		break;
	case WDIOC_SETTIMEOUT:
		if (get_user(val, p)) {
			err = -EFAULT;
			break;
		}
		err = watchdog_set_timeout(wdd, val);
		if (err < 0)
			break;
		/* The new timeout takes effect with a ping; then report it. */
		err = watchdog_ping(wdd);
		if (err < 0)
			break;
		fallthrough;
	case WDIOC_GETTIMEOUT:
		if (wdd->timeout == 0) {
			err = -EOPNOTSUPP;
			break;
		}
		err = put_user(wdd->timeout, p);
		break;
	case WDIOC_GETTIMELEFT:
		if (!wdd->ops->get_timeleft) {
			err = -EOPNOTSUPP;
			break;
		}
		err = put_user(wdd->ops->get_timeleft(wdd), p);
		break;
	case WDIOC_SETPRETIMEOUT:
		if (get_user(val, p)) {
			err = -EFAULT;
			break;
		}
		err = watchdog_set_pretimeout(wdd, val);
		break;
	case WDIOC_GETPRETIMEOUT:
		err = put_user(wdd->pretimeout, p);
		break;
	default:
		err = -ENOTTY;
		break;
	}
out:
	mutex_unlock(&wd_data->lock);
	return err;
}

static int watchdog_dev_release(struct inode *inode, struct file *file)
{
	struct watchdog_core_data *wd_data = file->private_data;
	struct watchdog_device *wdd;
	int err = -EBUSY;

	mutex_lock(&wd_data->lock);
	wdd = wd_data->wdd;
	if (!wdd)
		goto done;
	if (!watchdog_active(wdd))
		err = 0;
	else if (test_and_clear_bit(WATCHDOG_ALLOW_RELEASE, &wd_data->status) ||
		 !(wdd->info->options & WDIOF_MAGICCLOSE))
		err = watchdog_stop(wdd);
	if (err < 0) {
		pr_crit("watchdog: watchdog%d: watchdog did not stop!\n", wdd->id);
		watchdog_ping(wdd);
	}
done:
	clear_bit(WATCHDOG_DEV_OPEN, &wd_data->status);
	mutex_unlock(&wd_data->lock);
	return 0;
}

/* ---- registration --------------------------------------------------------- */

static void watchdog_check_min_max_timeout(struct watchdog_device *wdd)
{
	if (wdd->min_timeout > wdd->max_timeout) {
		pr_info("watchdog: Invalid min and max timeout values, resetting to 0!\n");
		wdd->min_timeout = 0;
		wdd->max_timeout = 0;
	}
}

static const char *watchdog_dev_str(struct watchdog_device *wdd)
{
	return wdd->parent ? dev_name(wdd->parent) : (const char *)wdd->info->identity;
}

int watchdog_init_timeout(struct watchdog_device *wdd, unsigned int timeout_parm,
			  struct device *dev)
{
	int ret = 0;

	watchdog_check_min_max_timeout(wdd);
	if (timeout_parm) {
		if (!watchdog_timeout_invalid(wdd, timeout_parm)) {
			wdd->timeout = timeout_parm;
			return 0;
		}
		pr_err("watchdog: %s: driver supplied timeout (%u) out of range\n",
		       watchdog_dev_str(wdd), timeout_parm);
		ret = -EINVAL;
	}
	/* No device tree here: a "timeout-sec" property never exists. */
	if (ret < 0 && wdd->timeout)
		pr_warn("watchdog: %s: falling back to default timeout (%u)\n",
			watchdog_dev_str(wdd), wdd->timeout);
	return ret;
}

static int watchdog_id_get(int from)
{
	int id;

	for (id = from; id < WATCHDOG_MAX_DOGS; id++)
		if (!test_and_set_bit(id, &watchdog_ids))
			return id;
	return -ENOSPC;
}

static int watchdog_cdev_register(struct watchdog_device *wdd)
{
	struct watchdog_core_data *wd_data;
	int err;

	if (!watchdog_devt) {
		err = alloc_chrdev_region(&watchdog_devt, 0, WATCHDOG_MAX_DOGS, "watchdog");
		if (err < 0) {
			pr_err("watchdog: unable to allocate char dev region\n");
			return err;
		}
	}
	wd_data = kzalloc(sizeof(*wd_data), GFP_KERNEL);
	if (!wd_data)
		return -ENOMEM;
	mutex_init(&wd_data->lock);
	wd_data->wdd = wdd;
	wdd->wd_data = wd_data;
	snprintf(wd_data->name, sizeof(wd_data->name), "watchdog%d", wdd->id);
	wd_data->dev.init_name = wd_data->name;
	wd_data->dev.parent = wdd->parent;
	wd_data->dev.driver_data = wdd;

	if (wdd->id == 0) {
		watchdog_old_wd_data = wd_data;
		watchdog_miscdev.parent = wdd->parent;
		err = misc_register(&watchdog_miscdev);
		if (err != 0) {
			pr_err("watchdog: %s: cannot register miscdev on minor=%d (err=%d).\n",
			       wdd->info->identity, WATCHDOG_MINOR, err);
			if (err == -EBUSY)
				pr_err("watchdog: %s: a legacy watchdog module is probably present.\n",
				       wdd->info->identity);
			watchdog_old_wd_data = NULL;
			wdd->wd_data = NULL;
			kfree(wd_data);
			return err;
		}
	}

	cdev_init(&wd_data->cdev, &watchdog_fops);
	wd_data->cdev.dev = MKDEV(MAJOR(watchdog_devt), wdd->id);
	err = cdev_device_add(&wd_data->cdev, &wd_data->dev);
	if (err) {
		pr_err("watchdog: watchdog%d unable to add device %d:%d\n",
		       wdd->id, MAJOR(watchdog_devt), wdd->id);
		if (wdd->id == 0) {
			misc_deregister(&watchdog_miscdev);
			watchdog_old_wd_data = NULL;
		}
		wdd->wd_data = NULL;
		kfree(wd_data);
		return err;
	}
	if (watchdog_hw_running(wdd))
		pr_info("watchdog: watchdog%d running and kernel based pre-userspace handler disabled\n",
			wdd->id);
	return 0;
}

static void watchdog_cdev_unregister(struct watchdog_device *wdd)
{
	struct watchdog_core_data *wd_data = wdd->wd_data;

	cdev_device_del(&wd_data->cdev, &wd_data->dev);
	if (wdd->id == 0) {
		misc_deregister(&watchdog_miscdev);
		watchdog_old_wd_data = NULL;
	}
	if (watchdog_active(wdd) && test_bit(WDOG_STOP_ON_UNREGISTER, &wdd->status))
		watchdog_stop(wdd);
	mutex_lock(&wd_data->lock);
	wd_data->wdd = NULL;
	wdd->wd_data = NULL;
	mutex_unlock(&wd_data->lock);
	/* An open file still points at wd_data: it is left for it (a small leak
	 * where the kernel counts references), and answers -ENODEV. */
	if (!test_bit(WATCHDOG_DEV_OPEN, &wd_data->status))
		kfree(wd_data);
}

static int watchdog_do_register(struct watchdog_device *wdd)
{
	int ret, id;

	if (!wdd || !wdd->info || !wdd->ops)
		return -EINVAL;
	/* start is mandatory, and so is stop unless the core may keep pinging. */
	if (!wdd->ops->start || (!wdd->ops->stop && !wdd->max_hw_heartbeat_ms))
		return -EINVAL;
	watchdog_check_min_max_timeout(wdd);
	INIT_LIST_HEAD(&wdd->deferred);

	id = watchdog_id_get(0);
	if (id < 0)
		return id;
	wdd->id = id;
	ret = watchdog_cdev_register(wdd);
	if (ret) {
		clear_bit(id, &watchdog_ids);
		if (!(id == 0 && ret == -EBUSY))
			return ret;
		/* A legacy driver holds minor 130: retry without /dev/watchdog. */
		id = watchdog_id_get(1);
		if (id < 0)
			return id;
		wdd->id = id;
		ret = watchdog_cdev_register(wdd);
		if (ret) {
			clear_bit(id, &watchdog_ids);
			return ret;
		}
	}
	/* Reboot, restart and pm notifiers: this machine neither reboots nor suspends. */
	return 0;
}

int watchdog_register_device(struct watchdog_device *wdd)
{
	int ret = watchdog_do_register(wdd);

	if (ret)
		pr_err("watchdog: %s: failed to register watchdog device (err = %d)\n",
		       wdd && wdd->info ? watchdog_dev_str(wdd) : "<unknown>", ret);
	return ret;
}

void watchdog_unregister_device(struct watchdog_device *wdd)
{
	if (!wdd || !wdd->wd_data)
		return;
	watchdog_cdev_unregister(wdd);
	clear_bit(wdd->id, &watchdog_ids);
}

static void watchdog_devm_unregister(void *wdd)
{
	watchdog_unregister_device(wdd);
}

int devm_watchdog_register_device(struct device *dev, struct watchdog_device *wdd)
{
	int ret = watchdog_register_device(wdd);

	if (ret)
		return ret;
	return devm_add_action_or_reset(dev, watchdog_devm_unregister, wdd);
}

void watchdog_notify_pretimeout(struct watchdog_device *wdd)
{
	pr_alert("watchdog: watchdog%d: pretimeout event\n", wdd->id);
}

void watchdog_set_restart_priority(struct watchdog_device *wdd, int priority)
{
	wdd->restart_nb.priority = priority;
}

int watchdog_set_last_hw_keepalive(struct watchdog_device *wdd, unsigned int last_ping_ms)
{
	if (!wdd || !wdd->wd_data)
		return -EINVAL;
	wdd->wd_data->last_hw_keepalive = ktime_sub(ktime_get(), ms_to_ktime(last_ping_ms));
	return 0;
}

int watchdog_dev_suspend(struct watchdog_device *wdd)
{
	return 0;
}

int watchdog_dev_resume(struct watchdog_device *wdd)
{
	return 0;
}
