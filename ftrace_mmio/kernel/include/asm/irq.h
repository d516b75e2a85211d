/* x86 interrupt numbers: drivers include it for NR_IRQS and irq_canonicalize. */
#ifndef _ASM_X86_IRQ_H
#define _ASM_X86_IRQ_H

#ifndef NR_IRQS
#define NR_IRQS 256
#endif

static inline int irq_canonicalize(int irq)
{
	return (irq == 2) ? 9 : irq;
}

#endif
