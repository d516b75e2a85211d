/* RCU on one CPU without preemption (the kernel's "Tiny RCU" case).
 *
 * A read-side critical section cannot be interrupted by a writer: it only
 * disables preemption.  A grace period has passed once the CPU went through
 * a quiescent state; here callbacks queued by call_rcu() run in softirq
 * context at the next round of timers (kernel/core/timer.c), i.e. after the
 * caller returned or slept, never inside a reader.  synchronize_rcu() in
 * process context is itself a quiescent state and returns at once. */
#ifndef _LINUX_RCUPDATE_H
#define _LINUX_RCUPDATE_H

#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/preempt.h>
#include <linux/stddef.h>

#ifndef _LINUX_RCU_HEAD_DEFINED
#define _LINUX_RCU_HEAD_DEFINED
struct callback_head {
	struct callback_head *next;
	void (*func)(struct callback_head *head);
};
#define rcu_head callback_head
#endif
typedef void (*rcu_callback_t)(struct rcu_head *head);

void call_rcu(struct rcu_head *head, rcu_callback_t func);
void synchronize_rcu(void);
void rcu_barrier(void);
void kvfree_call_rcu(struct rcu_head *head, void *ptr);
#define call_rcu_hurry call_rcu
#define synchronize_rcu_expedited synchronize_rcu
#define synchronize_net synchronize_rcu
#define call_srcu(ssp, head, func) call_rcu(head, func)

#define rcu_read_lock() preempt_disable()
#define rcu_read_unlock() preempt_enable()
#define rcu_read_lock_bh() do { __preempt_count_add(SOFTIRQ_DISABLE_OFFSET); barrier(); } while (0)
#define rcu_read_unlock_bh() do { barrier(); __preempt_count_sub(SOFTIRQ_DISABLE_OFFSET); } while (0)
#define rcu_read_lock_sched() preempt_disable()
#define rcu_read_unlock_sched() preempt_enable()
#define rcu_read_lock_held() 1
#define rcu_read_lock_bh_held() 1
#define rcu_read_lock_any_held() 1

#define rcu_dereference(p) READ_ONCE(p)
#define rcu_dereference_bh(p) READ_ONCE(p)
#define rcu_dereference_sched(p) READ_ONCE(p)
#define rcu_dereference_check(p, c) READ_ONCE(p)
#define rcu_dereference_protected(p, c) (p)
#define rcu_dereference_raw(p) READ_ONCE(p)
#define rcu_access_pointer(p) READ_ONCE(p)
#define rcu_assign_pointer(p, v) do { __asm__ __volatile__("" ::: "memory"); \
	WRITE_ONCE(p, v); } while (0)
#define RCU_INIT_POINTER(p, v) WRITE_ONCE(p, v)
#define RCU_INITIALIZER(v) (v)
#define rcu_replace_pointer(rcu_ptr, ptr, c) ({ \
	__typeof__(ptr) __rp_old = (rcu_ptr); \
	rcu_assign_pointer(rcu_ptr, ptr); \
	__rp_old; \
})

/* Free the structure holding the rcu_head field after a grace period (the
 * two-argument form; the one-argument kfree_rcu_mightsleep frees at once). */
#define kfree_rcu(ptr, rhf) kvfree_call_rcu(&((ptr)->rhf), (void *)(ptr))
#define kvfree_rcu(ptr, rhf) kfree_rcu(ptr, rhf)
#define kfree_rcu_mightsleep(ptr) do { synchronize_rcu(); kfree(ptr); } while (0)

#endif
