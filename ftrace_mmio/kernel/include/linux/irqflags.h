/* local_irq_* and irqs_disabled(): EFLAGS.IF as on x86.  Where IF becomes
 * set again, interrupts that arrived meanwhile are taken at once, as a
 * real CPU takes them right after the sti/popf. */
#ifndef _LINUX_TRACE_IRQFLAGS_H
#define _LINUX_TRACE_IRQFLAGS_H

#include <linux/compiler.h>
#include <asm/irqflags.h>
#include <asm/irq_check.h>

/* A warning when flags is not an unsigned long, as the kernel's typecheck(). */
#define __irqflags_check(x) do { unsigned long __irqf_d; __typeof__(x) __irqf_d2; \
	(void)(&__irqf_d == &__irqf_d2); } while (0)

#define raw_local_irq_disable() arch_local_irq_disable()
#define raw_local_irq_enable() do { arch_local_irq_enable(); irq_check(); } while (0)
#define raw_local_irq_save(flags) do { \
	__irqflags_check(flags); \
	(flags) = arch_local_irq_save(); \
} while (0)
#define raw_local_irq_restore(flags) do { \
	unsigned long __irqf_flags = (flags); \
	__irqflags_check(flags); \
	arch_local_irq_restore(__irqf_flags); \
	if (!arch_irqs_disabled_flags(__irqf_flags)) \
		irq_check(); \
} while (0)
#define raw_local_save_flags(flags) do { \
	__irqflags_check(flags); \
	(flags) = arch_local_save_flags(); \
} while (0)
#define raw_irqs_disabled_flags(flags) ({ \
	__irqflags_check(flags); \
	arch_irqs_disabled_flags(flags); \
})
#define raw_irqs_disabled() (arch_irqs_disabled())
#define raw_safe_halt() raw_local_irq_enable()

#define local_irq_enable() raw_local_irq_enable()
#define local_irq_disable() raw_local_irq_disable()
#define local_irq_save(flags) raw_local_irq_save(flags)
#define local_irq_restore(flags) raw_local_irq_restore(flags)
#define local_save_flags(flags) raw_local_save_flags(flags)
#define irqs_disabled() raw_irqs_disabled()
#define irqs_disabled_flags(flags) raw_irqs_disabled_flags(flags)
#define safe_halt() raw_safe_halt()

#endif
