// SPDX-License-Identifier: GPL-2.0-only
/*
 * Calls every function of the machine's kernel API once (or a few times)
 * and prints what it got, so the test can compare the kernel log line by
 * line.  Runs against the default machine (testmmio at 00:03.0).
 */
#define pr_fmt(fmt) "kapi: " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/printk.h>
#include <linux/io.h>
#include <linux/pci.h>
#include <linux/delay.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/mmiotrace.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/device.h>
#include <linux/err.h>

static int __printf(1, 2) log_via_va_list(const char *fmt, ...)
{
	char buf[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pr_info("vsnprintf: %d \"%.23s\"\n", n, buf);
	va_start(ap, fmt);
	n = vprintk(fmt, ap);
	va_end(ap);
	return n;
}

static void test_printk(void)
{
	char buf[16];
	int n;

	printk(KERN_INFO "kapi: ints %d %i %u %x %X %o\n", -42, 42, 3000000000u, 0xbeef, 0xbeef, 8);
	printk(KERN_INFO "kapi: longs %ld %lu %lx %llx %lld %zu %zd\n",
	       -1L, 18446744073709551615UL, 0xffffffff12345678UL, 0x1122334455667788ULL,
	       -9000000000LL, (size_t)7, (ssize_t)-7);
	printk(KERN_INFO "kapi: short %hd %hu %hhx\n", (short)-2, (unsigned short)65535, (unsigned char)0xab);
	printk(KERN_INFO "kapi: widths [%5d] [%-5d] [%05d] [%+d] [% d] [%#x] [%#o] [%8.3x]\n",
	       42, 42, 42, 42, 42, 255, 8, 0xa);
	printk(KERN_INFO "kapi: strings [%s] [%.3s] [%8s] [%-8s] [%s] [%c%c]\n",
	       "hello", "abcdef", "right", "left", (char *)NULL, 'o', 'k');
	printk(KERN_INFO "kapi: star [%*d] [%-*d] [%.*s]\n", 6, 1, 6, 2, 2, "xyz");
	printk(KERN_INFO "kapi: pointers %px %p %p\n", (void *)0xffffc90000001234UL, (void *)NULL,
	       (void *)0xffffc90000001234UL);
	printk(KERN_INFO "kapi: symbol %pS %ps\n", test_printk, (char *)test_printk + 4);
	printk(KERN_INFO "kapi: percent 100%% and many args %d %d %d %d %d %d %d %d\n",
	       1, 2, 3, 4, 5, 6, 7, 8);
	printk("kapi: default level\n");
	pr_emerg("emerg\n");
	pr_alert("alert\n");
	pr_crit("crit\n");
	pr_err("err\n");
	pr_warn("warn\n");
	pr_notice("notice\n");
	pr_debug("debug is compiled out\n");
	pr_info("cont: one");
	pr_cont(" two");
	pr_cont(" three\n");
	pr_info("two\nlines\n");

	n = snprintf(buf, sizeof(buf), "%s-%d", "truncated-string", 12345);
	pr_info("snprintf: %d \"%s\"\n", n, buf);
	n = scnprintf(buf, sizeof(buf), "%s-%d", "truncated-string", 12345);
	pr_info("scnprintf: %d \"%s\"\n", n, buf);
	n = sprintf(buf, "%03d|%x", 7, 255);
	pr_info("sprintf: %d \"%s\"\n", n, buf);
	n = log_via_va_list("kapi: va_list %s %d %lx\n", "ok", -5, 0xabcUL);
	pr_info("vprintk returned %d\n", n);
}

static void test_memory(void)
{
	char *a, *b, *s;
	int *arr, i, sum = 0;
	long r1;

	a = kmalloc(100, GFP_KERNEL);
	b = kzalloc(64, GFP_KERNEL);
	arr = kcalloc(16, sizeof(int), GFP_KERNEL);
	pr_info("kmalloc %d kzalloc %d kcalloc %d aligned %d\n", a != NULL, b != NULL, arr != NULL,
		((unsigned long)b & 63) == 0);
	pr_info("direct map %d ksize %zu\n", ((unsigned long)a >> 40) == 0xffff88, ksize(a));
	for (i = 0; i < 64; i++)
		sum += b[i];
	for (i = 0; i < 16; i++)
		sum += arr[i];
	pr_info("zeroed sum %d\n", sum);
	memset(a, 'x', 99);
	a[99] = 0;
	pr_info("memset strlen %zu strnlen %zu\n", strlen(a), strnlen(a, 10));
	memcpy(b, "copy me", 8);
	memmove(b + 2, b, 8);
	pr_info("memmove \"%s\" memcmp %d %d\n", b + 2, memcmp(b, "cocopy", 6), memcmp("a", "b", 1));
	strcpy(a, "alpha");
	strncpy(b, "beta", 10);
	pr_info("strcmp %d %d strncmp %d strchr %s\n", strcmp(a, "alpha"), strcmp(a, "beta") < 0,
		strncmp("abcx", "abcy", 3), strchr(a, 'p'));
	r1 = strscpy(b, "gamma", 16);
	pr_info("strscpy %ld \"%s\"\n", r1, b);
	r1 = strscpy(b, "toolong", 4);
	pr_info("strscpy %ld \"%s\"\n", r1, b);
	s = kstrdup("duplicate", GFP_KERNEL);
	pr_info("kstrdup \"%s\" %d\n", s, s != NULL && s != (char *)"duplicate");
	kfree(s);
	kfree(a);
	kfree(b);
	kfree(arr);
	kfree(NULL);
	a = kmalloc(0, GFP_KERNEL);
	pr_info("kmalloc(0) %px\n", a);
	kfree(a);
}

static void test_strings(void)
{
	unsigned long ul = 0;
	int v = 0, r1, r2, r3;

	r1 = kstrtoul("0x1f", 0, &ul);
	r2 = kstrtoint("-17", 10, &v);
	r3 = kstrtoint("12z", 10, &v);
	pr_info("kstrto %d %lu %d %d %d\n", r1, ul, r2, v, r3);
	pr_info("err.h %d %ld\n", IS_ERR(ERR_PTR(-ENOMEM)), PTR_ERR(ERR_PTR(-ENOMEM)));
}

static void test_time(void)
{
	u64 t0, t1;
	unsigned long j0, j1;

	t0 = ktime_get_ns();
	udelay(10);
	t1 = ktime_get_ns();
	pr_info("udelay(10): %llu ns\n", t1 - t0);
	t0 = ktime_get_ns();
	ndelay(500);
	t1 = ktime_get_ns();
	pr_info("ndelay(500): %llu ns\n", t1 - t0);
	t0 = ktime_get_ns();
	mdelay(2);
	t1 = ktime_get_ns();
	pr_info("mdelay(2): %llu ns\n", t1 - t0);
	t0 = ktime_get();
	usleep_range(100, 200);
	fsleep(5);
	t1 = ktime_get();
	pr_info("usleep_range+fsleep: %llu ns\n", t1 - t0);
	j0 = jiffies;
	msleep(100);
	j1 = jiffies;
	pr_info("msleep(100): %lu jiffies, after %d\n", j1 - j0, time_after_eq(j1, j0 + 25));
	j0 = jiffies;
	msleep_interruptible(40);
	ssleep(1);
	j1 = jiffies;
	pr_info("msleep_interruptible+ssleep: %u ms\n", jiffies_to_msecs(j1 - j0));
	pr_info("conversions %lu %lu %u\n", msecs_to_jiffies(1000), usecs_to_jiffies(4001),
		jiffies_to_msecs(250));
}

static void test_pci_and_io(void)
{
	struct pci_dev *dev = NULL, *tm;
	void __iomem *p, *q;
	int count = 0, r;
	u8 b;
	u16 w;
	u32 d;

	while ((dev = pci_get_device(PCI_ANY_ID, PCI_ANY_ID, dev)) != NULL)
		count++;
	pr_info("pci devices: %d\n", count);
	tm = pci_get_device(0x1234, 0x1111, NULL);
	if (!tm) {
		pr_err("no testmmio\n");
		return;
	}
	pr_info("testmmio %s bus %d devfn %02x ids %04x:%04x sub %04x:%04x class %06x rev %d irq %u\n",
		pci_name(tm), tm->bus->number, tm->devfn, tm->vendor, tm->device,
		tm->subsystem_vendor, tm->subsystem_device, tm->class, tm->revision, tm->irq);
	pr_info("bar0 %llx len %llx flags %lx; bar2 %llx len %llx; bar1 len %llx\n",
		pci_resource_start(tm, 0), pci_resource_len(tm, 0), pci_resource_flags(tm, 0),
		pci_resource_start(tm, 2), pci_resource_len(tm, 2), pci_resource_len(tm, 1));
	r = pci_read_config_word(tm, PCI_VENDOR_ID, &w);
	pr_info("config vendor %d %04x\n", r, w);
	r = pci_read_config_dword(tm, PCI_CLASS_REVISION, &d);
	pr_info("config class/rev %d %08x\n", r, d);
	pci_write_config_byte(tm, PCI_LATENCY_TIMER, 0x40);
	r = pci_read_config_byte(tm, PCI_LATENCY_TIMER, &b);
	pr_info("config latency %d %02x\n", r, b);
	pci_write_config_word(tm, PCI_COMMAND, 0);
	pci_write_config_dword(tm, PCI_BASE_ADDRESS_5, 0x1234);
	r = pci_read_config_word(tm, 0x03, &w);
	pr_info("config unaligned word %d %04x\n", r, w);
	r = pci_enable_device(tm);
	pci_read_config_word(tm, PCI_COMMAND, &w);
	pr_info("enable %d command %04x\n", r, w);
	pci_set_master(tm);
	pci_read_config_word(tm, PCI_COMMAND, &w);
	pr_info("master command %04x\n", w);
	pr_info("request_regions %d\n", pci_request_regions(tm, "kapi"));
	dev_info(&tm->dev, "dev_info says %d\n", 42);

	p = pci_iomap(tm, 0, 0x2000);
	iowrite32(0xcafef00d, p + 0x100);
	pr_info("pci_iomap page offset %lx readback %08x\n", (unsigned long)p & 0xfff, ioread32(p + 0x100));
	q = ioremap(pci_resource_start(tm, 0) + 0x123, 0x10);
	pr_info("ioremap offset %lx readback %08x\n", (unsigned long)q & 0xfff, readl(q - 0x123 + 0x100));
	iounmap(q);
	q = ioremap_wc(pci_resource_start(tm, 0), 0x1000);
	writeq(0x0123456789abcdefULL, q + 0x200);
	iounmap(q);
	q = ioremap_uc(pci_resource_start(tm, 0), 0x1000);
	pr_info("ioremap_uc %016llx\n", readq(q + 0x200));
	iounmap(q);
	q = ioremap_cache(pci_resource_start(tm, 0), 0x1000);
	pr_info("ioremap_cache %08x\n", readl(q + 0x204));
	iounmap(q);
	pr_info("ioremap of RAM %px, of size 0 %px\n", ioremap(0x100000, 0x1000),
		ioremap(pci_resource_start(tm, 0), 0));
	iounmap((void __iomem *)0xffff888000001000UL);
	iounmap((void __iomem *)0xffffc9ff00000000UL);
	mmiotrace_printk("marker %d from %s\n", 7, "kapi");
	pci_iounmap(tm, p);
	pci_release_regions(tm);
	pci_disable_device(tm);
	pci_dev_put(pci_dev_get(tm));
	pci_dev_put(tm);
	pci_dev_put(NULL);
}

static void test_warn(void)
{
	int fired = WARN_ON(1 + 1 == 2);

	pr_info("WARN_ON returned %d, not fired %d\n", fired, WARN_ON(0));
}

static int __init kapi_init(void)
{
	test_printk();
	test_memory();
	test_strings();
	test_time();
	test_pci_and_io();
	test_warn();
	pr_info("done\n");
	return 0;
}

static void __exit kapi_exit(void)
{
	pr_info("exit\n");
}

module_init(kapi_init);
module_exit(kapi_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("calls every kernel API function");
