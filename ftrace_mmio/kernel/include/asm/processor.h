/* What the CPU does while it waits. */
#ifndef _ASM_X86_PROCESSOR_H
#define _ASM_X86_PROCESSOR_H

/* One iteration of a busy-wait: on this machine it also lets time pass
 * (one "pause" worth of machine clock) and takes pending interrupts, so a
 * loop polling a flag that an interrupt handler or the passing of time
 * sets comes to an end.  Kernel C code (kernel/core/sched.c). */
void cpu_relax(void);

static inline void native_pause(void) { __asm__ __volatile__("pause" ::: "memory"); }

#endif
