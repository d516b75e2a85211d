/* x86-64 memory barriers.  x86 orders ordinary loads and stores itself,
 * so the SMP and DMA forms are compiler barriers; mb/rmb/wmb are the
 * fence instructions the kernel uses for device (and non-temporal)
 * ordering.  Defined once here; headers that got here first keep theirs. */
#ifndef _ASM_X86_BARRIER_H
#define _ASM_X86_BARRIER_H

#include <linux/compiler.h>

#ifndef mb
#define mb() __asm__ __volatile__("mfence" ::: "memory")
#endif
#ifndef rmb
#define rmb() __asm__ __volatile__("lfence" ::: "memory")
#endif
#ifndef wmb
#define wmb() __asm__ __volatile__("sfence" ::: "memory")
#endif
#ifndef dma_rmb
#define dma_rmb() barrier()
#endif
#ifndef dma_wmb
#define dma_wmb() barrier()
#endif
#ifndef dma_mb
#define dma_mb() mb()
#endif
#ifndef smp_mb
#define smp_mb() __asm__ __volatile__("lock addl $0,-4(%%rsp)" ::: "memory", "cc")
#endif
#ifndef smp_rmb
#define smp_rmb() barrier()
#endif
#ifndef smp_wmb
#define smp_wmb() barrier()
#endif
#ifndef __smp_mb
#define __smp_mb() smp_mb()
#endif
#ifndef smp_store_mb
#define smp_store_mb(var, value) do { WRITE_ONCE(var, value); smp_mb(); } while (0)
#endif
#ifndef smp_mb__before_atomic
#define smp_mb__before_atomic() barrier()
#endif
#ifndef smp_mb__after_atomic
#define smp_mb__after_atomic() barrier()
#endif
#ifndef smp_load_acquire
#define smp_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#endif
#ifndef smp_store_release
#define smp_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#endif
#ifndef virt_mb
#define virt_mb() smp_mb()
#define virt_rmb() smp_rmb()
#define virt_wmb() smp_wmb()
#endif
/* On x86 a write to MMIO is ordered after earlier stores to memory. */
#ifndef mmiowb
#define mmiowb() barrier()
#endif
#ifndef __iowmb
#define __iowmb() barrier()
#endif

#endif
