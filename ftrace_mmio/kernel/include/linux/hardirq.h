/* Interrupt-context tests (from preempt.h) and synchronize_irq(). */
#ifndef LINUX_HARDIRQ_H
#define LINUX_HARDIRQ_H

#include <linux/types.h>
#include <linux/preempt.h>

void synchronize_irq(unsigned int irq);
bool synchronize_hardirq(unsigned int irq);

#endif
