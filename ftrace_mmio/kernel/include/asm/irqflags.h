/* EFLAGS.IF by hand: the instructions the kernel's x86 irqflags use.
 * The emulated CPU never delivers an interrupt asynchronously; IF only
 * decides whether irq_handle_pending() may run handlers (asm/irq_check.h). */
#ifndef _ASM_X86_IRQFLAGS_H
#define _ASM_X86_IRQFLAGS_H

#include <linux/compiler.h>

#define X86_EFLAGS_IF_BIT 9
#define X86_EFLAGS_IF (1UL << X86_EFLAGS_IF_BIT)

static __always_inline unsigned long native_save_fl(void)
{
	unsigned long flags;

	__asm__ __volatile__("pushfq; popq %0" : "=rm"(flags) : : "memory");
	return flags;
}

static __always_inline void native_irq_disable(void)
{
	__asm__ __volatile__("cli" : : : "memory");
}

static __always_inline void native_irq_enable(void)
{
	__asm__ __volatile__("sti" : : : "memory");
}

static __always_inline unsigned long arch_local_save_flags(void)
{
	return native_save_fl();
}

static __always_inline void arch_local_irq_disable(void)
{
	native_irq_disable();
}

static __always_inline void arch_local_irq_enable(void)
{
	native_irq_enable();
}

static __always_inline unsigned long arch_local_irq_save(void)
{
	unsigned long flags = arch_local_save_flags();

	arch_local_irq_disable();
	return flags;
}

static __always_inline int arch_irqs_disabled_flags(unsigned long flags)
{
	return !(flags & X86_EFLAGS_IF);
}

static __always_inline int arch_irqs_disabled(void)
{
	return arch_irqs_disabled_flags(arch_local_save_flags());
}

static __always_inline void arch_local_irq_restore(unsigned long flags)
{
	if (!arch_irqs_disabled_flags(flags))
		arch_local_irq_enable();
}

#endif
