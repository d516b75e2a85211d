/*
 * Where the emulated CPU takes interrupts.
 *
 * The machine has no asynchronous interrupt delivery: a device that raises
 * an interrupt only sets irq_pending_word (kernel data, written by the
 * machine).  Guest code polls it at the points a real CPU could have been
 * interrupted that matter to a driver: after every MMIO accessor, when
 * interrupts are re-enabled, in cpu_relax() and while sleeping.  The test
 * is one load and a not-taken branch, so accessors stay cheap.
 */
#ifndef _ASM_IRQ_CHECK_H
#define _ASM_IRQ_CHECK_H

#include <linux/compiler.h>

/* Nonzero while some interrupt is pending (set by the machine). */
extern unsigned long irq_pending_word;

/* Runs pending hardirq handlers if interrupts are enabled and we are not
 * already in hardirq context; otherwise returns at once (they stay pending). */
void irq_handle_pending(void);

static inline void irq_check(void)
{
	if (unlikely(READ_ONCE(irq_pending_word)))
		irq_handle_pending();
}

#endif
