/* The preempt count and the context tests built on it.
 *
 * One count, as the kernel's __preempt_count: bits 0-7 preemption
 * disabled, 8-15 softirq (serving one adds SOFTIRQ_OFFSET, local_bh_disable
 * adds twice that), 16-19 hardirq nesting, 20-23 NMI.  irq_handle_pending()
 * adds HARDIRQ_OFFSET around handlers; the timer core adds SOFTIRQ_OFFSET
 * around timer callbacks.  There is no preemption: preempt_enable() never
 * reschedules. */
#ifndef __LINUX_PREEMPT_H
#define __LINUX_PREEMPT_H

#include <linux/compiler.h>

#define PREEMPT_BITS 8
#define SOFTIRQ_BITS 8
#define HARDIRQ_BITS 4
#define NMI_BITS 4

#define PREEMPT_SHIFT 0
#define SOFTIRQ_SHIFT (PREEMPT_SHIFT + PREEMPT_BITS)
#define HARDIRQ_SHIFT (SOFTIRQ_SHIFT + SOFTIRQ_BITS)
#define NMI_SHIFT (HARDIRQ_SHIFT + HARDIRQ_BITS)

#define __IRQ_MASK(x) ((1UL << (x)) - 1)
#define PREEMPT_MASK (__IRQ_MASK(PREEMPT_BITS) << PREEMPT_SHIFT)
#define SOFTIRQ_MASK (__IRQ_MASK(SOFTIRQ_BITS) << SOFTIRQ_SHIFT)
#define HARDIRQ_MASK (__IRQ_MASK(HARDIRQ_BITS) << HARDIRQ_SHIFT)
#define NMI_MASK (__IRQ_MASK(NMI_BITS) << NMI_SHIFT)

#define PREEMPT_OFFSET (1UL << PREEMPT_SHIFT)
#define SOFTIRQ_OFFSET (1UL << SOFTIRQ_SHIFT)
#define HARDIRQ_OFFSET (1UL << HARDIRQ_SHIFT)
#define NMI_OFFSET (1UL << NMI_SHIFT)
#define SOFTIRQ_DISABLE_OFFSET (2 * SOFTIRQ_OFFSET)

/* Kernel data (kernel/irq.py); 0 in task context with nothing disabled. */
extern int __preempt_count;

static __always_inline int preempt_count(void)
{
	return READ_ONCE(__preempt_count);
}

#define __preempt_count_add(val) do { __preempt_count += (val); } while (0)
#define __preempt_count_sub(val) do { __preempt_count -= (val); } while (0)
#define preempt_count_add(val) __preempt_count_add(val)
#define preempt_count_sub(val) __preempt_count_sub(val)

#define nmi_count() (preempt_count() & NMI_MASK)
#define hardirq_count() (preempt_count() & HARDIRQ_MASK)
#define softirq_count() (preempt_count() & SOFTIRQ_MASK)
#define irq_count() (preempt_count() & (NMI_MASK | HARDIRQ_MASK | SOFTIRQ_MASK))

#define in_nmi() (nmi_count())
#define in_hardirq() (hardirq_count())
#define in_serving_softirq() (softirq_count() & SOFTIRQ_OFFSET)
#define in_task() (!(in_nmi() | in_hardirq() | in_serving_softirq()))
#define in_irq() (hardirq_count())
#define in_softirq() (softirq_count())
#define in_interrupt() (irq_count())

#define in_atomic() (preempt_count() != 0)
#define preemptible() 0

#define preempt_disable() do { __preempt_count_add(1); barrier(); } while (0)
#define preempt_enable_no_resched() do { barrier(); __preempt_count_sub(1); } while (0)
#define preempt_enable() do { barrier(); __preempt_count_sub(1); } while (0)
#define preempt_enable_notrace() preempt_enable()
#define preempt_disable_notrace() preempt_disable()
#define migrate_disable() barrier()
#define migrate_enable() barrier()

#endif
