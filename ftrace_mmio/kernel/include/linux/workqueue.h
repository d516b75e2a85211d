/* Workqueues: work items run later in process context, by a kworker.
 *
 * One CPU, no threads: queued work waits on one FIFO and runs, as a kworker
 * task (current->comm "kworker/0:N"), when the process sleeps (on its stack,
 * inside sched_wait_until), and after each top-level call returns.  A work
 * item may sleep; while it does, other work, timers and interrupts run.
 * Ordered workqueues run one item at a time; an item never runs twice at
 * once.  kernel/core/workqueue.c; docs/kernel/sched.md.
 */
#ifndef _LINUX_WORKQUEUE_H
#define _LINUX_WORKQUEUE_H

#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/stddef.h>
#include <linux/list.h>
#include <linux/atomic.h>
#include <linux/bitops.h>
#include <linux/timer.h>

struct work_struct;
struct workqueue_struct;
typedef void (*work_func_t)(struct work_struct *work);

/* data: the workqueue it was last queued on, ORed with the flags below. */
struct work_struct {
	atomic_long_t data;
	struct list_head entry;
	work_func_t func;
};

enum {
	WORK_STRUCT_PENDING_BIT = 0,
	WORK_STRUCT_PENDING = 1 << WORK_STRUCT_PENDING_BIT,
	WORK_STRUCT_FLAG_MASK = 7,
	WORK_CPU_UNBOUND = 8192,
};

struct delayed_work {
	struct work_struct work;
	struct timer_list timer;
	struct workqueue_struct *wq;
	int cpu;
};

struct rcu_work {
	struct work_struct work;
	struct workqueue_struct *wq;
};

enum wq_flags {
	WQ_BH = 1 << 0,
	WQ_UNBOUND = 1 << 1,
	WQ_FREEZABLE = 1 << 2,
	WQ_MEM_RECLAIM = 1 << 3,
	WQ_HIGHPRI = 1 << 4,
	WQ_CPU_INTENSIVE = 1 << 5,
	WQ_SYSFS = 1 << 6,
	WQ_POWER_EFFICIENT = 1 << 7,
	WQ_PERCPU = 1 << 8,
	__WQ_DESTROYING = 1 << 15,
	__WQ_DRAINING = 1 << 16,
	__WQ_ORDERED = 1 << 17,
	__WQ_LEGACY = 1 << 18,
	WQ_MAX_ACTIVE = 512,
	WQ_UNBOUND_MAX_ACTIVE = WQ_MAX_ACTIVE,
	WQ_DFL_ACTIVE = WQ_MAX_ACTIVE / 2,
};

extern struct workqueue_struct *system_wq;
extern struct workqueue_struct *system_percpu_wq;
extern struct workqueue_struct *system_highpri_wq;
extern struct workqueue_struct *system_long_wq;
extern struct workqueue_struct *system_unbound_wq;
extern struct workqueue_struct *system_dfl_wq;
extern struct workqueue_struct *system_freezable_wq;
extern struct workqueue_struct *system_power_efficient_wq;
extern struct workqueue_struct *system_freezable_power_efficient_wq;
extern struct workqueue_struct *system_bh_wq;
extern struct workqueue_struct *system_bh_highpri_wq;

#define __WORK_INITIALIZER(n, f) { \
	.data = ATOMIC_LONG_INIT(0), \
	.entry = { &(n).entry, &(n).entry }, \
	.func = (f), \
}
void delayed_work_timer_fn(struct timer_list *t);
#define __DELAYED_WORK_INITIALIZER(n, f, tflags) { \
	.work = __WORK_INITIALIZER((n).work, (f)), \
	.timer = __TIMER_INITIALIZER(delayed_work_timer_fn, (tflags)), \
}
#define DECLARE_WORK(n, f) struct work_struct n = __WORK_INITIALIZER(n, f)
#define DECLARE_DELAYED_WORK(n, f) struct delayed_work n = __DELAYED_WORK_INITIALIZER(n, f, 0)
#define DECLARE_DEFERRABLE_WORK(n, f) \
	struct delayed_work n = __DELAYED_WORK_INITIALIZER(n, f, TIMER_DEFERRABLE)

#define __INIT_WORK(_work, _func, _onstack) do { \
	atomic_long_set(&(_work)->data, 0); \
	INIT_LIST_HEAD(&(_work)->entry); \
	(_work)->func = (_func); \
} while (0)
#define INIT_WORK(_work, _func) __INIT_WORK((_work), (_func), 0)
#define INIT_WORK_ONSTACK(_work, _func) __INIT_WORK((_work), (_func), 1)
#define __INIT_DELAYED_WORK(_work, _func, _tflags) do { \
	INIT_WORK(&(_work)->work, (_func)); \
	timer_setup(&(_work)->timer, delayed_work_timer_fn, (_tflags)); \
	(_work)->wq = NULL; \
	(_work)->cpu = 0; \
} while (0)
#define INIT_DELAYED_WORK(_work, _func) __INIT_DELAYED_WORK(_work, _func, 0)
#define INIT_DELAYED_WORK_ONSTACK(_work, _func) __INIT_DELAYED_WORK(_work, _func, 0)
#define INIT_DEFERRABLE_WORK(_work, _func) __INIT_DELAYED_WORK(_work, _func, TIMER_DEFERRABLE)
#define INIT_RCU_WORK(_work, _func) INIT_WORK(&(_work)->work, (_func))
static inline void destroy_work_on_stack(struct work_struct *work) { (void)work; }
static inline void destroy_delayed_work_on_stack(struct delayed_work *work) { (void)work; }

#define work_data_bits(work) ((unsigned long *)(&(work)->data))
#define work_pending(work) test_bit(WORK_STRUCT_PENDING_BIT, work_data_bits(work))
#define delayed_work_pending(w) work_pending(&(w)->work)

static inline struct delayed_work *to_delayed_work(struct work_struct *work)
{
	return container_of(work, struct delayed_work, work);
}
static inline struct rcu_work *to_rcu_work(struct work_struct *work)
{
	return container_of(work, struct rcu_work, work);
}

__printf(1, 4) struct workqueue_struct *alloc_workqueue(const char *fmt, unsigned int flags,
							int max_active, ...);
#define alloc_ordered_workqueue(fmt, flags, args...) \
	alloc_workqueue(fmt, WQ_UNBOUND | __WQ_ORDERED | (flags), 1, ##args)
#define create_workqueue(name) alloc_workqueue("%s", __WQ_LEGACY | WQ_MEM_RECLAIM, 1, (name))
#define create_freezable_workqueue(name) \
	alloc_workqueue("%s", __WQ_LEGACY | WQ_FREEZABLE | WQ_UNBOUND | WQ_MEM_RECLAIM, 1, (name))
#define create_singlethread_workqueue(name) \
	alloc_ordered_workqueue("%s", __WQ_LEGACY | WQ_MEM_RECLAIM, name)
void destroy_workqueue(struct workqueue_struct *wq);
void flush_workqueue(struct workqueue_struct *wq);
void drain_workqueue(struct workqueue_struct *wq);
int workqueue_set_max_active(struct workqueue_struct *wq, int max_active);

bool queue_work_on(int cpu, struct workqueue_struct *wq, struct work_struct *work);
bool queue_delayed_work_on(int cpu, struct workqueue_struct *wq, struct delayed_work *work,
			   unsigned long delay);
bool mod_delayed_work_on(int cpu, struct workqueue_struct *wq, struct delayed_work *dwork,
			 unsigned long delay);
bool queue_rcu_work(struct workqueue_struct *wq, struct rcu_work *rwork);

bool flush_work(struct work_struct *work);
bool flush_delayed_work(struct delayed_work *dwork);
bool flush_rcu_work(struct rcu_work *rwork);
bool cancel_work(struct work_struct *work);
bool cancel_work_sync(struct work_struct *work);
bool cancel_delayed_work(struct delayed_work *dwork);
bool cancel_delayed_work_sync(struct delayed_work *dwork);
bool disable_work_sync(struct work_struct *work);
bool disable_delayed_work_sync(struct delayed_work *dwork);
unsigned int work_busy(struct work_struct *work);
struct work_struct *current_work(void);
bool current_is_workqueue_rescuer(void);

#define WORK_BUSY_PENDING (1 << 0)
#define WORK_BUSY_RUNNING (1 << 1)

static inline bool queue_work(struct workqueue_struct *wq, struct work_struct *work)
{
	return queue_work_on(WORK_CPU_UNBOUND, wq, work);
}
static inline bool queue_delayed_work(struct workqueue_struct *wq, struct delayed_work *dwork,
				      unsigned long delay)
{
	return queue_delayed_work_on(WORK_CPU_UNBOUND, wq, dwork, delay);
}
static inline bool mod_delayed_work(struct workqueue_struct *wq, struct delayed_work *dwork,
				    unsigned long delay)
{
	return mod_delayed_work_on(WORK_CPU_UNBOUND, wq, dwork, delay);
}
static inline bool schedule_work_on(int cpu, struct work_struct *work)
{
	return queue_work_on(cpu, system_wq, work);
}
static inline bool schedule_work(struct work_struct *work)
{
	return queue_work(system_wq, work);
}
static inline bool schedule_delayed_work_on(int cpu, struct delayed_work *dwork,
					    unsigned long delay)
{
	return queue_delayed_work_on(cpu, system_wq, dwork, delay);
}
static inline bool schedule_delayed_work(struct delayed_work *dwork, unsigned long delay)
{
	return queue_delayed_work(system_wq, dwork, delay);
}
static inline bool enable_and_queue_work(struct workqueue_struct *wq, struct work_struct *work)
{
	return queue_work(wq, work);
}
#define flush_scheduled_work() flush_workqueue(system_wq)

/* Run the work queued so far (process context); kernel/core/workqueue.c. */
void workqueue_run_pending(void);

#endif
