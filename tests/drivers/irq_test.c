// SPDX-License-Identifier: GPL-2.0-only
/*
 * Interrupt test driver for tests/irqdev_model.py (1234:1a00).
 *
 * Binds the nth irqdev function, takes its interrupt as the parameters say
 * (INTx, MSI or MSI-X; shared, threaded, oneshot) and gives the tests
 * functions to raise interrupts under different masking.  The handler reads
 * STATUS and acknowledges it, so the trace shows R STATUS, W ACK right after
 * the write that raised the interrupt.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/pci.h>
#include <linux/interrupt.h>
#include <linux/spinlock.h>
#include <linux/io.h>
#include <linux/delay.h>

#define IRQDEV_ID 0x00
#define IRQDEV_STATUS 0x04
#define IRQDEV_RAISE 0x08
#define IRQDEV_ACK 0x0c
#define IRQDEV_VECTOR 0x10
#define IRQDEV_RAISE_LATER 0x14

static char *mode = "intx";	/* intx, msi, msix, all, none */
module_param(mode, charp, 0);
static int nth;
module_param(nth, int, 0);
static int shared;
module_param(shared, int, 0);
static int threaded;		/* 1: handler wakes a thread; 2: handler NULL */
module_param(threaded, int, 0);
static int oneshot;
module_param(oneshot, int, 0);
static int ignore;		/* the handler never claims the interrupt */
module_param(ignore, int, 0);
static int bogus;		/* the handler returns a value no handler may return */
module_param(bogus, int, 0);
static int noautoen;		/* IRQF_NO_AUTOEN: stays disabled until enable_irq() */
module_param(noautoen, int, 0);
static int no_free;		/* leave the interrupt requested at rmmod */
module_param(no_free, int, 0);

static struct pci_dev *pdev;
static void __iomem *regs;
static int irq = -1;
static int requested;
static DEFINE_SPINLOCK(irqt_lock);

static unsigned long handled, calls, thread_runs, ctx_bits, last_status;
static int crash;		/* the handler oopses (once) */

static irqreturn_t irqt_handler(int irq_nr, void *dev_id)
{
	u32 status;

	calls++;
	ctx_bits = (in_irq() ? 1 : 0) | (in_interrupt() ? 2 : 0) | (irqs_disabled() ? 4 : 0) |
		   (in_task() ? 8 : 0) | (dev_id == &handled ? 16 : 0);
	if (ignore)
		return IRQ_NONE;
	if (crash) {
		crash = 0;
		return *(volatile int *)8 ? IRQ_HANDLED : IRQ_NONE;
	}
	status = readl(regs + IRQDEV_STATUS);
	if (!status)
		return IRQ_NONE;
	last_status = status;
	writel(status, regs + IRQDEV_ACK);
	handled++;
	if (bogus)
		return (irqreturn_t)0x10;
	return threaded ? IRQ_WAKE_THREAD : IRQ_HANDLED;
}

static irqreturn_t irqt_thread(int irq_nr, void *dev_id)
{
	thread_runs++;
	ctx_bits |= (in_task() ? 32 : 0) | (irqs_disabled() ? 0 : 64);
	if (threaded == 2) {
		/* Handler NULL: the thread does the work with the line masked. */
		u32 status = readl(regs + IRQDEV_STATUS);

		writel(status, regs + IRQDEV_ACK);
		handled++;
	}
	return IRQ_HANDLED;
}

static int __init irqt_init(void)
{
	struct pci_dev *dev = NULL;
	unsigned long flags = shared ? IRQF_SHARED : 0;
	unsigned int types = 0;
	int i, ret;

	for (i = 0; i <= nth; i++) {
		dev = pci_get_device(0x1234, 0x1a00, dev);
		if (!dev)
			return -ENODEV;
	}
	pdev = dev;
	ret = pci_enable_device(pdev);
	if (ret)
		return ret;
	regs = pci_iomap(pdev, 0, 0);
	if (!regs)
		return -ENOMEM;
	if (!strcmp(mode, "none"))
		return 0;
	if (!strcmp(mode, "intx"))
		types = PCI_IRQ_LEGACY;
	else if (!strcmp(mode, "msi"))
		types = PCI_IRQ_MSI;
	else if (!strcmp(mode, "msix"))
		types = PCI_IRQ_MSIX;
	else
		types = PCI_IRQ_ALL_TYPES;
	ret = pci_alloc_irq_vectors(pdev, 1, strcmp(mode, "msix") ? 1 : 4, types);
	if (ret < 0) {
		pr_err("irq_test: pci_alloc_irq_vectors: %d\n", ret);
		return ret;
	}
	irq = pci_irq_vector(pdev, 0);
	if (oneshot)
		flags |= IRQF_ONESHOT;
	if (noautoen)
		flags |= IRQF_NO_AUTOEN;
	if (threaded == 2)
		ret = request_threaded_irq(irq, NULL, irqt_thread, flags, "irq_test", &handled);
	else if (threaded)
		ret = request_threaded_irq(irq, irqt_handler, irqt_thread, flags, "irq_test", &handled);
	else
		ret = request_irq(irq, irqt_handler, flags, KBUILD_MODNAME, &handled);
	if (ret) {
		pr_err("irq_test: request_irq %d: %d\n", irq, ret);
		pci_free_irq_vectors(pdev);
		return ret;
	}
	requested = 1;
	pr_info("irq_test: %s irq %d (pdev->irq %u)\n", mode, irq, pdev->irq);
	return 0;
}

static void __exit irqt_exit(void)
{
	if (requested && !no_free)
		free_irq(irq, &handled);
	if (!no_free)
		pci_free_irq_vectors(pdev);
	pci_iounmap(pdev, regs);
	pci_disable_device(pdev);
	pci_dev_put(pdev);
}

module_init(irqt_init);
module_exit(irqt_exit);
MODULE_LICENSE("GPL");

/* ---- what the tests call ---------------------------------------------- */

unsigned long irqt_irq(void) { return irq; }
unsigned long irqt_pdev_irq(void) { return pdev->irq; }
unsigned long irqt_handled(void) { return handled; }
unsigned long irqt_msi_bits(void) { return pdev->msi_enabled | pdev->msix_enabled << 1; }
unsigned long irqt_calls(void) { return calls; }
unsigned long irqt_thread_runs(void) { return thread_runs; }
unsigned long irqt_ctx(void) { return ctx_bits; }
unsigned long irqt_preempt(void) { return preempt_count(); }

/* Raise, then one more access (ID) so the trace shows where the handler ran. */
unsigned long irqt_raise(unsigned long bits)
{
	writel(bits, regs + IRQDEV_RAISE);
	readl(regs + IRQDEV_ID);
	return handled;
}

unsigned long irqt_raise_vector(unsigned long vector, unsigned long bits)
{
	writel(vector, regs + IRQDEV_VECTOR);
	writel(bits, regs + IRQDEV_RAISE);
	return handled;
}

/* The device interrupts 100 us later, while the driver sleeps. */
unsigned long irqt_raise_later_and_sleep(unsigned long bits)
{
	unsigned long a, b;

	writel(bits, regs + IRQDEV_RAISE_LATER);
	a = handled;
	msleep(1);
	b = handled;
	return a | b << 8;
}

/* Counts before the restore (after the raise, after another access) and after. */
unsigned long irqt_raise_irqsave(unsigned long bits)
{
	unsigned long flags, a, b, c;

	local_irq_save(flags);
	writel(bits, regs + IRQDEV_RAISE);
	a = handled;
	readl(regs + IRQDEV_ID);
	b = handled;
	local_irq_restore(flags);
	c = handled;
	return a | b << 8 | c << 16;
}

unsigned long irqt_raise_spinlock(unsigned long bits)
{
	unsigned long flags, a, b, c;

	spin_lock_irqsave(&irqt_lock, flags);
	writel(bits, regs + IRQDEV_RAISE);
	a = handled;
	readl(regs + IRQDEV_ID);
	b = handled;
	spin_unlock_irqrestore(&irqt_lock, flags);
	c = handled;
	return a | b << 8 | c << 16;
}

/* local_irq_disable()/enable(): the enable takes the pending interrupt. */
unsigned long irqt_raise_irqoff(unsigned long bits)
{
	unsigned long a, c;

	local_irq_disable();
	writel(bits, regs + IRQDEV_RAISE);
	a = handled;
	local_irq_enable();
	c = handled;
	return a | c << 16 | (unsigned long)(irqs_disabled() ? 1 : 0) << 32;
}

unsigned long irqt_raise_disabled(unsigned long bits)
{
	unsigned long a, b, c;

	disable_irq(irq);
	disable_irq(irq);
	writel(bits, regs + IRQDEV_RAISE);
	a = handled;
	enable_irq(irq);		/* depth 2 -> 1: still off */
	b = handled;
	enable_irq(irq);
	c = handled;
	return a | b << 8 | c << 16;
}

unsigned long irqt_enable_unbalanced(void)
{
	enable_irq(irq);
	return 0;
}

void irqt_run_threads(void)
{
	irq_run_threads();
}

/* Thread runs right after the raise (none: it waits) and after synchronize_irq. */
unsigned long irqt_raise_sync(unsigned long bits)
{
	unsigned long a, b;

	writel(bits, regs + IRQDEV_RAISE);
	a = thread_runs;
	synchronize_irq(irq);
	b = thread_runs;
	return a | b << 8;
}

unsigned long irqt_synchronize(void)
{
	synchronize_irq(irq);
	return thread_runs;
}

/* free_irq returns the name given at request time. */
unsigned long irqt_free(void)
{
	const void *name = free_irq(irq, &handled);

	requested = 0;
	return name == (const void *)KBUILD_MODNAME || (name && !strcmp(name, "irq_test")) ? 1 : 0;
}

unsigned long irqt_free_twice(void)
{
	return (unsigned long)free_irq(irq, &handled);
}

unsigned long irqt_request_null_handler(void)
{
	return (unsigned long)(long)request_threaded_irq(irq, NULL, irqt_thread, 0, "irq_test", &calls);
}

unsigned long irqt_request_shared_conflict(void)
{
	return (unsigned long)(long)request_irq(irq, irqt_handler, 0, "irq_test2", &calls);
}

void irqt_set_crash(unsigned long on)
{
	crash = on;
}

unsigned long irqt_enable(void)
{
	enable_irq(irq);
	return handled;
}
