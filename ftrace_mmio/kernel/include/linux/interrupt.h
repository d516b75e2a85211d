/* Requesting interrupts and the handler types.
 *
 * Handlers run on the emulated CPU when an interrupt is pending and
 * EFLAGS.IF is set, at the points asm/irq_check.h lists, in hardirq context
 * with IF clear.  Thread functions (request_threaded_irq) run later in task
 * context, when the CPU would schedule: while the driver sleeps, and after
 * each insmod/rmmod/call returns.  See docs/kernel/irq.md. */
#ifndef _LINUX_INTERRUPT_H
#define _LINUX_INTERRUPT_H

#include <linux/kernel.h>
#include <linux/types.h>
#include <linux/irqreturn.h>
#include <linux/hardirq.h>
#include <linux/irqflags.h>
#include <linux/preempt.h>

/* The trigger type and the request flags, with the kernel's values. */
#define IRQF_TRIGGER_NONE 0x00000000
#define IRQF_TRIGGER_RISING 0x00000001
#define IRQF_TRIGGER_FALLING 0x00000002
#define IRQF_TRIGGER_HIGH 0x00000004
#define IRQF_TRIGGER_LOW 0x00000008
#define IRQF_TRIGGER_MASK (IRQF_TRIGGER_HIGH | IRQF_TRIGGER_LOW | \
			   IRQF_TRIGGER_RISING | IRQF_TRIGGER_FALLING)
#define IRQF_TRIGGER_PROBE 0x00000010

#define IRQF_SHARED 0x00000080
#define IRQF_PROBE_SHARED 0x00000100
#define __IRQF_TIMER 0x00000200
#define IRQF_PERCPU 0x00000400
#define IRQF_NOBALANCING 0x00000800
#define IRQF_IRQPOLL 0x00001000
#define IRQF_ONESHOT 0x00002000
#define IRQF_NO_SUSPEND 0x00004000
#define IRQF_FORCE_RESUME 0x00008000
#define IRQF_NO_THREAD 0x00010000
#define IRQF_EARLY_RESUME 0x00020000
#define IRQF_COND_SUSPEND 0x00040000
#define IRQF_NO_AUTOEN 0x00080000
#define IRQF_NO_DEBUG 0x00100000
#define IRQF_TIMER (__IRQF_TIMER | IRQF_NO_SUSPEND | IRQF_NO_THREAD)

/* A request for an interrupt that has no line: fails with -ENOTCONN. */
#define IRQ_NOTCONNECTED (1U << 31)

typedef irqreturn_t (*irq_handler_t)(int, void *);

/* One handler on an interrupt line.  The list is linked by the kernel
 * (kernel/irq.py knows this layout); drivers never touch it. */
struct irqaction {
	irq_handler_t handler;
	void *dev_id;
	struct irqaction *next;
	irq_handler_t thread_fn;
	unsigned int irq;
	unsigned int flags;
	unsigned long thread_flags;	/* bit 0: the thread has been woken */
	const char *name;
};

_Static_assert(__builtin_offsetof(struct irqaction, next) == 16, "irqaction layout");
_Static_assert(__builtin_offsetof(struct irqaction, thread_flags) == 40, "irqaction layout");
_Static_assert(sizeof(struct irqaction) == 56, "irqaction layout");

int __must_check request_threaded_irq(unsigned int irq, irq_handler_t handler,
				      irq_handler_t thread_fn, unsigned long flags,
				      const char *name, void *dev);

static inline int __must_check request_irq(unsigned int irq, irq_handler_t handler,
					   unsigned long flags, const char *name, void *dev)
{
	return request_threaded_irq(irq, handler, NULL, flags, name, dev);
}

enum {
	IRQC_IS_HARDIRQ = 0,
	IRQC_IS_NESTED,
};

/* Every handler here runs in hard interrupt context. */
static inline int __must_check request_any_context_irq(unsigned int irq, irq_handler_t handler,
						       unsigned long flags, const char *name,
						       void *dev_id)
{
	int ret = request_threaded_irq(irq, handler, NULL, flags, name, dev_id);

	return ret ? ret : IRQC_IS_HARDIRQ;
}

const void *free_irq(unsigned int irq, void *dev_id);

struct device;
int __must_check devm_request_threaded_irq(struct device *dev, unsigned int irq,
					   irq_handler_t handler, irq_handler_t thread_fn,
					   unsigned long irqflags, const char *devname,
					   void *dev_id);
static inline int __must_check devm_request_irq(struct device *dev, unsigned int irq,
						irq_handler_t handler, unsigned long irqflags,
						const char *devname, void *dev_id)
{
	return devm_request_threaded_irq(dev, irq, handler, NULL, irqflags, devname, dev_id);
}
void devm_free_irq(struct device *dev, unsigned int irq, void *dev_id);

void disable_irq(unsigned int irq);
void disable_irq_nosync(unsigned int irq);
bool disable_hardirq(unsigned int irq);
void enable_irq(unsigned int irq);

/* The dispatcher and the scheduler's hook for threaded handlers. */
void irq_handle_pending(void);
void irq_run_threads(void);

#endif
