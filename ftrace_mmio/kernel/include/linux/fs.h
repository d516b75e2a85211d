/* Files as a character-device driver sees them: struct file, struct inode,
 * file_operations, and the char-device number registry (kernel/core/chardev.c).
 *
 * What user space does on a node under the mount's dev/ (open, read, write,
 * ioctl, close) arrives here as calls into the driver's file_operations on the
 * machine's CPU; docs/kernel/chardev.md.  Only what character devices use
 * exists: no filesystems, no page cache, no read_iter/write_iter callers. */
#ifndef _LINUX_FS_H
#define _LINUX_FS_H

#include <linux/types.h>
#include <linux/kdev_t.h>
#include <linux/errno.h>
#include <linux/err.h>
#include <linux/stat.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/atomic.h>
#include <linux/wait.h>
#include <linux/init.h>
#include <linux/compiler.h>
#include <linux/limits.h>

struct module;
struct file;
struct inode;
struct cdev;
struct kiocb;
struct iov_iter;
struct poll_table_struct;
struct vm_area_struct;
struct file_lock;
struct dir_context;
struct seq_file;
struct fasync_struct;
struct page;

typedef void *fl_owner_t;

/* The kernel-internal restart codes a syscall never returns to user space. */
#ifndef ERESTARTSYS
#define ERESTARTSYS	512
#define ERESTARTNOINTR	513
#define ERESTARTNOHAND	514
#define ENOIOCTLCMD	515
#endif

#define FMODE_READ		((fmode_t)0x1)
#define FMODE_WRITE		((fmode_t)0x2)
#define FMODE_LSEEK		((fmode_t)0x4)
#define FMODE_PREAD		((fmode_t)0x8)
#define FMODE_PWRITE		((fmode_t)0x10)
#define FMODE_EXEC		((fmode_t)0x20)
#define FMODE_ATOMIC_POS	((fmode_t)0x8000)
#define FMODE_STREAM		((fmode_t)0x200000)

/* open(2) flags (asm-generic/fcntl.h values, octal as there). */
#ifndef O_ACCMODE
#define O_ACCMODE	00000003
#define O_RDONLY	00000000
#define O_WRONLY	00000001
#define O_RDWR		00000002
#define O_CREAT		00000100
#define O_EXCL		00000200
#define O_NOCTTY	00000400
#define O_TRUNC		00001000
#define O_APPEND	00002000
#define O_NONBLOCK	00004000
#define O_NDELAY	O_NONBLOCK
#define O_DSYNC		00010000
#define O_SYNC		04010000
#endif

#define SEEK_SET	0
#define SEEK_CUR	1
#define SEEK_END	2

#define MAX_LFS_FILESIZE	((loff_t)LLONG_MAX)

struct inode {
	umode_t			i_mode;
	unsigned int		i_flags;
	dev_t			i_rdev;
	unsigned long		i_ino;
	loff_t			i_size;
	struct cdev		*i_cdev;
	void			*i_private;	/* the filesystem's; drivers may use it */
};

struct file {
	const struct file_operations	*f_op;
	struct inode		*f_inode;
	fmode_t			f_mode;
	unsigned int		f_flags;
	loff_t			f_pos;
	void			*private_data;	/* the driver's */
	atomic_long_t		f_count;
	struct mutex		f_pos_lock;
	unsigned long		__spare[4];
};

struct file_operations {
	struct module *owner;
	loff_t (*llseek) (struct file *, loff_t, int);
	ssize_t (*read) (struct file *, char __user *, size_t, loff_t *);
	ssize_t (*write) (struct file *, const char __user *, size_t, loff_t *);
	ssize_t (*read_iter) (struct kiocb *, struct iov_iter *);
	ssize_t (*write_iter) (struct kiocb *, struct iov_iter *);
	int (*iterate_shared) (struct file *, struct dir_context *);
	__poll_t (*poll) (struct file *, struct poll_table_struct *);
	long (*unlocked_ioctl) (struct file *, unsigned int, unsigned long);
	long (*compat_ioctl) (struct file *, unsigned int, unsigned long);
	int (*mmap) (struct file *, struct vm_area_struct *);
	unsigned long mmap_supported_flags;
	int (*open) (struct inode *, struct file *);
	int (*flush) (struct file *, fl_owner_t id);
	int (*release) (struct inode *, struct file *);
	int (*fsync) (struct file *, loff_t, loff_t, int datasync);
	int (*fasync) (int, struct file *, int);
	int (*lock) (struct file *, int, struct file_lock *);
	unsigned long (*get_unmapped_area)(struct file *, unsigned long, unsigned long,
					   unsigned long, unsigned long);
	int (*check_flags)(int);
	int (*flock) (struct file *, int, struct file_lock *);
	int (*show_fdinfo)(struct seq_file *m, struct file *f);
};

static inline struct inode *file_inode(const struct file *f) { return f->f_inode; }
static inline unsigned iminor(const struct inode *inode) { return MINOR(inode->i_rdev); }
static inline unsigned imajor(const struct inode *inode) { return MAJOR(inode->i_rdev); }

/* THIS_MODULE is NULL here (modules are not refcounted objects): taking a
 * reference on the owner always succeeds. */
#define fops_get(fops) (fops)
#define fops_put(fops) do { } while (0)
#define replace_fops(f, fops) do { (f)->f_op = (fops); } while (0)

/* Opening: a file with no position (pipes, watchdogs ...). */
int nonseekable_open(struct inode *inode, struct file *filp);
int stream_open(struct inode *inode, struct file *filp);
int simple_open(struct inode *inode, struct file *file);
loff_t no_llseek(struct file *file, loff_t offset, int whence);
loff_t noop_llseek(struct file *file, loff_t offset, int whence);
loff_t default_llseek(struct file *file, loff_t offset, int whence);
loff_t fixed_size_llseek(struct file *file, loff_t offset, int whence, loff_t size);
ssize_t simple_read_from_buffer(void __user *to, size_t count, loff_t *ppos,
				const void *from, size_t available);
ssize_t simple_write_to_buffer(void *to, size_t available, loff_t *ppos,
			       const void __user *from, size_t count);

/* Character-device numbers (kernel/core/chardev.c).  A dynamic major is
 * taken from 254 downwards, as the kernel does (CHRDEV_MAJOR_DYN_END 234). */
#define CHRDEV_MAJOR_MAX	512
#define CHRDEV_MAJOR_DYN_END	234
int register_chrdev_region(dev_t from, unsigned count, const char *name);
int alloc_chrdev_region(dev_t *dev, unsigned baseminor, unsigned count, const char *name);
void unregister_chrdev_region(dev_t from, unsigned count);
int __register_chrdev(unsigned int major, unsigned int baseminor, unsigned int count,
		      const char *name, const struct file_operations *fops);
void __unregister_chrdev(unsigned int major, unsigned int baseminor, unsigned int count,
			 const char *name);

static inline int register_chrdev(unsigned int major, const char *name,
				  const struct file_operations *fops)
{
	return __register_chrdev(major, 0, 256, name, fops);
}

static inline void unregister_chrdev(unsigned int major, const char *name)
{
	__unregister_chrdev(major, 0, 256, name);
}

#endif
