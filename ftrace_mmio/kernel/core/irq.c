// SPDX-License-Identifier: GPL-2.0
/*
 * Interrupt dispatch on the emulated CPU (the guest half of kernel/irq.py).
 *
 * The machine marks interrupts pending and sets irq_pending_word; guest code
 * polls it (asm/irq_check.h) and lands here.  With EFLAGS.IF set and not
 * already in hardirq context, every pending interrupt runs its handlers
 * with IF clear and the hardirq count raised, exactly once per delivery; a
 * level-triggered line that stays asserted is delivered again, as the
 * IO-APIC would.  Python owns the descriptors (which interrupt is next,
 * masking, counting, the spurious-interrupt detector) and links the
 * handler lists this file walks: irq_action_heads[] and irqaction.next.
 */
#include <linux/kernel.h>
#include <linux/interrupt.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/errno.h>

#ifndef ENOTCONN
#define ENOTCONN 107
#endif

#define IRQ_NR_DESCS 256		/* kernel/irq.py: NR_IRQS */
#define IRQ_THREAD_WOKEN 1UL

/* Handler lists, one per interrupt number; linked by kernel/irq.py. */
struct irqaction *irq_action_heads[IRQ_NR_DESCS];
/* Set when a hardirq handler woke a thread function. */
unsigned long irq_threads_pending;

/* kernel/irq.py */
long __irq_next(long prev_irq, unsigned int prev_ret);
int __irq_setup(unsigned int irq, struct irqaction *action);
struct irqaction *__irq_remove(unsigned int irq, void *dev_id);
void __irq_thread_done(unsigned int irq);
void __irq_disable(unsigned int irq);
void __irq_enable(unsigned int irq);
void __irq_handler_enabled_irqs(unsigned int irq, irq_handler_t handler);
int __pci_alloc_irq_vectors(struct pci_dev *dev, unsigned int min_vecs,
			    unsigned int max_vecs, unsigned int flags, struct msix_entry *entries);
void __pci_free_irq_vectors(struct pci_dev *dev, unsigned int which);
int __pci_irq_mode(struct pci_dev *dev);
int __pci_dev_irq(struct pci_dev *dev);

/* The timer core (core/timer.c) runs expired timers as irq_exit runs
 * softirqs; until it exists nothing is run. */
extern void timer_run_expired(void) __attribute__((weak));

/* The weak reference is 0 when no timer core is linked: test it through a
 * register, since a direct call to 0 cannot be relocated in kernel text. */
static void irq_softirqs(void)
{
	void (*fn)(void) = timer_run_expired;

	__asm__("" : "+r"(fn));
	if (fn)
		fn();
}

/* What request_threaded_irq(irq, NULL, thread_fn, ...) installs. */
irqreturn_t irq_default_primary_handler(int irq, void *dev_id)
{
	return IRQ_WAKE_THREAD;
}

static unsigned int irq_run_handlers(unsigned int irq)
{
	struct irqaction *action;
	unsigned int ret = 0;

	for (action = READ_ONCE(irq_action_heads[irq]); action; action = action->next) {
		irqreturn_t res = action->handler(irq, action->dev_id);

		if (unlikely(!arch_irqs_disabled())) {
			/* The kernel warns and carries on with interrupts off. */
			__irq_handler_enabled_irqs(irq, action->handler);
			arch_local_irq_disable();
		}
		if (res & IRQ_WAKE_THREAD) {
			if (action->thread_fn) {
				action->thread_flags |= IRQ_THREAD_WOKEN;
				WRITE_ONCE(irq_threads_pending, 1);
			} else {
				printk(KERN_WARNING "IRQ %u device %s returned IRQ_WAKE_THREAD "
				       "but no thread function available.", irq, action->name);
			}
		}
		ret |= res;
	}
	return ret;
}

void irq_handle_pending(void)
{
	long irq;

	if (!READ_ONCE(irq_pending_word) || in_hardirq() || arch_irqs_disabled())
		return;
	arch_local_irq_disable();
	__preempt_count_add(HARDIRQ_OFFSET);
	for (irq = __irq_next(-1, 0); irq >= 0; irq = __irq_next(irq, irq_run_handlers(irq)))
		;
	__preempt_count_sub(HARDIRQ_OFFSET);
	arch_local_irq_enable();
	/* irq_exit: softirq work (timers) unless we interrupted some. */
	if (!in_interrupt())
		irq_softirqs();
}

void irq_run_threads(void)
{
	unsigned int irq;

	if (!READ_ONCE(irq_threads_pending) || !in_task())
		return;
	while (READ_ONCE(irq_threads_pending)) {
		WRITE_ONCE(irq_threads_pending, 0);
		for (irq = 0; irq < IRQ_NR_DESCS; irq++) {
			struct irqaction *action;
			int ran = 0;

			for (action = READ_ONCE(irq_action_heads[irq]); action; action = action->next) {
				if (!(action->thread_flags & IRQ_THREAD_WOKEN))
					continue;
				action->thread_flags &= ~IRQ_THREAD_WOKEN;
				action->thread_fn(irq, action->dev_id);
				ran = 1;
			}
			if (ran)
				__irq_thread_done(irq);
		}
	}
}

int request_threaded_irq(unsigned int irq, irq_handler_t handler, irq_handler_t thread_fn,
			 unsigned long irqflags, const char *devname, void *dev_id)
{
	struct irqaction *action;
	int ret;

	if (irq == IRQ_NOTCONNECTED)
		return -ENOTCONN;
	/* A shared line needs a dev_id to tell its handlers apart at free_irq. */
	if ((irqflags & IRQF_SHARED) && !dev_id)
		return -EINVAL;
	if (!handler) {
		if (!thread_fn)
			return -EINVAL;
		handler = irq_default_primary_handler;
	}
	action = kzalloc(sizeof(*action), GFP_KERNEL);
	if (!action)
		return -ENOMEM;
	action->handler = handler;
	action->thread_fn = thread_fn;
	action->flags = irqflags;
	action->name = devname;
	action->dev_id = dev_id;
	action->irq = irq;
	ret = __irq_setup(irq, action);
	if (ret) {
		kfree(action);
		return ret;
	}
	/* A line already asserted fires as soon as it is unmasked. */
	irq_check();
	return 0;
}

const void *free_irq(unsigned int irq, void *dev_id)
{
	struct irqaction *action = __irq_remove(irq, dev_id);
	const char *name;

	if (!action)
		return NULL;
	/* A woken thread of a freed handler never runs (its kthread is stopped). */
	name = action->name;
	kfree(action);
	return name;
}

void disable_irq_nosync(unsigned int irq)
{
	__irq_disable(irq);
}

bool disable_hardirq(unsigned int irq)
{
	__irq_disable(irq);
	return true;
}

static int irq_threads_woken(unsigned int irq)
{
	struct irqaction *action;

	if (irq >= IRQ_NR_DESCS)
		return 0;
	for (action = READ_ONCE(irq_action_heads[irq]); action; action = action->next)
		if (action->thread_flags & IRQ_THREAD_WOKEN)
			return 1;
	return 0;
}

bool synchronize_hardirq(unsigned int irq)
{
	/* One CPU: no handler of this line can be running while we are. */
	return !irq_threads_woken(irq);
}

void synchronize_irq(unsigned int irq)
{
	/* Waiting for a woken thread means letting it run: the scheduler
	 * would pick it while we sleep. */
	if (irq_threads_woken(irq) && in_task())
		irq_run_threads();
}

void disable_irq(unsigned int irq)
{
	__irq_disable(irq);
	synchronize_irq(irq);
}

void enable_irq(unsigned int irq)
{
	__irq_enable(irq);
	irq_check();
}

/* ---- PCI interrupt vectors: Python programs the device, we keep dev->irq. */

static void irq_pci_sync(struct pci_dev *dev)
{
	int mode = __pci_irq_mode(dev);		/* 0 none/INTx, 1 MSI, 2 MSI-X */

	dev->irq = __pci_dev_irq(dev);
	dev->msi_enabled = mode == 1;
	dev->msix_enabled = mode == 2;
}

int pci_alloc_irq_vectors(struct pci_dev *dev, unsigned int min_vecs,
			  unsigned int max_vecs, unsigned int flags)
{
	int ret = __pci_alloc_irq_vectors(dev, min_vecs, max_vecs, flags, NULL);

	irq_pci_sync(dev);
	return ret;
}

void pci_free_irq_vectors(struct pci_dev *dev)
{
	__pci_free_irq_vectors(dev, PCI_IRQ_MSI | PCI_IRQ_MSIX);
	irq_pci_sync(dev);
}

int pci_enable_msi(struct pci_dev *dev)
{
	int ret = __pci_alloc_irq_vectors(dev, 1, 1, PCI_IRQ_MSI, NULL);

	irq_pci_sync(dev);
	return ret < 0 ? ret : 0;
}

void pci_disable_msi(struct pci_dev *dev)
{
	__pci_free_irq_vectors(dev, PCI_IRQ_MSI);
	irq_pci_sync(dev);
}

int pci_enable_msix_range(struct pci_dev *dev, struct msix_entry *entries, int minvec, int maxvec)
{
	int ret;

	if (maxvec < minvec)
		return -ERANGE;
	ret = __pci_alloc_irq_vectors(dev, minvec, maxvec, PCI_IRQ_MSIX, entries);
	irq_pci_sync(dev);
	return ret;
}

void pci_disable_msix(struct pci_dev *dev)
{
	__pci_free_irq_vectors(dev, PCI_IRQ_MSIX);
	irq_pci_sync(dev);
}
