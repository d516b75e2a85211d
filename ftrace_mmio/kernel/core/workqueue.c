// SPDX-License-Identifier: GPL-2.0
/*
 * Workqueues on one CPU with no threads.
 *
 * Queued work waits on one FIFO (whatever its workqueue) and is run by
 * workqueue_run_pending(), in process context, as a kworker task: on every
 * round of a sleep (core/sched.c) and after each top-level call.  An item
 * may sleep; the sleep loop then runs other work on top of it, as another
 * kworker would.  Rules kept from the kernel: PENDING is cleared just
 * before the function runs (so it may queue itself again); an item never
 * runs twice at once; an ordered workqueue runs one item at a time; a
 * delayed item is a timer that queues it when it fires.
 *
 * What one stack cannot do: wait for an item that is running *below* the
 * waiter (the waiter runs inside that item's sleep).  flush/cancel_sync
 * then warn and return, where the kernel would wait.
 */
#include <linux/kernel.h>
#include <linux/workqueue.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/preempt.h>
#include <linux/irqflags.h>

struct workqueue_struct {
	char name[32];
	unsigned int flags;
	int max_active;
	struct list_head list;	/* on wq_all */
};

#define WQ_MAX_DEPTH 16
#define WQ_DATA_WQ(data) ((struct workqueue_struct *)((data) & ~(unsigned long)WORK_STRUCT_FLAG_MASK))

static LIST_HEAD(wq_queue);		/* queued work, in order */
static LIST_HEAD(wq_all);
static struct work_struct *wq_running[WQ_MAX_DEPTH];	/* innermost last */
static struct workqueue_struct *wq_running_wq[WQ_MAX_DEPTH];
/* Global for kernel/sched.py, which resets it when an oops abandons the stack. */
unsigned int wq_depth;

struct task_struct *sched_enter_kworker(unsigned int depth);	/* core/sched.c */
extern unsigned long sched_deferred_items;			/* core/timer.c */
void sched_leave_kworker(struct task_struct *prev);

static struct workqueue_struct wq_system = { .name = "events", .max_active = 256 };
static struct workqueue_struct wq_highpri = { .name = "events_highpri", .flags = WQ_HIGHPRI,
					      .max_active = 256 };
static struct workqueue_struct wq_long = { .name = "events_long", .max_active = 256 };
static struct workqueue_struct wq_unbound = { .name = "events_unbound", .flags = WQ_UNBOUND,
					      .max_active = 512 };
static struct workqueue_struct wq_freezable = { .name = "events_freezable",
						.flags = WQ_FREEZABLE, .max_active = 256 };
static struct workqueue_struct wq_power = { .name = "events_power_efficient",
					    .flags = WQ_POWER_EFFICIENT, .max_active = 256 };
static struct workqueue_struct wq_freezable_power = {
	.name = "events_freezable_pwr_ef", .flags = WQ_FREEZABLE | WQ_POWER_EFFICIENT,
	.max_active = 256 };
static struct workqueue_struct wq_bh = { .name = "events_bh", .flags = WQ_BH, .max_active = 256 };
static struct workqueue_struct wq_bh_highpri = { .name = "events_bh_highpri",
						 .flags = WQ_BH | WQ_HIGHPRI, .max_active = 256 };

struct workqueue_struct *system_wq = &wq_system;
struct workqueue_struct *system_percpu_wq = &wq_system;
struct workqueue_struct *system_highpri_wq = &wq_highpri;
struct workqueue_struct *system_long_wq = &wq_long;
struct workqueue_struct *system_unbound_wq = &wq_unbound;
struct workqueue_struct *system_dfl_wq = &wq_unbound;
struct workqueue_struct *system_freezable_wq = &wq_freezable;
struct workqueue_struct *system_power_efficient_wq = &wq_power;
struct workqueue_struct *system_freezable_power_efficient_wq = &wq_freezable_power;
struct workqueue_struct *system_bh_wq = &wq_bh;
struct workqueue_struct *system_bh_highpri_wq = &wq_bh_highpri;

/* ---- state of an item -------------------------------------------------------------- */

static int wq_running_level(struct work_struct *work)
{
	unsigned int i;

	for (i = wq_depth; i-- > 0;)
		if (wq_running[i] == work)
			return (int)i;
	return -1;
}

/* Items of wq running now (one above the other). */
static int wq_running_count(struct workqueue_struct *wq)
{
	unsigned int i;
	int n = 0;

	for (i = 0; i < wq_depth; i++)
		n += wq_running_wq[i] == wq;
	return n;
}

static bool wq_is_ordered(struct workqueue_struct *wq)
{
	return (wq->flags & __WQ_ORDERED) || wq->max_active == 1;
}

/* May this queued item start now? */
static bool wq_may_run(struct work_struct *work)
{
	struct workqueue_struct *wq = WQ_DATA_WQ(atomic_long_read(&work->data));

	if (wq_depth >= WQ_MAX_DEPTH || wq_running_level(work) >= 0)
		return false;
	if (wq) {
		int running = wq_running_count(wq);

		if (running && (wq_is_ordered(wq) || running >= wq->max_active))
			return false;
	}
	return true;
}

static void wq_insert(struct workqueue_struct *wq, struct work_struct *work)
{
	atomic_long_set(&work->data, (unsigned long)wq | WORK_STRUCT_PENDING);
	list_add_tail(&work->entry, &wq_queue);
	sched_deferred_items++;
}

/* Off the queue (or out of its timer) with PENDING cleared; true if it was
 * pending. */
static bool wq_unqueue(struct work_struct *work)
{
	long data = atomic_long_read(&work->data);

	if (!(data & WORK_STRUCT_PENDING))
		return false;
	if (!list_empty(&work->entry)) {
		list_del_init(&work->entry);
		sched_deferred_items--;
	}
	atomic_long_set(&work->data, data & ~(long)WORK_STRUCT_PENDING);
	return true;
}

/* ---- queueing ----------------------------------------------------------------------------- */

bool queue_work_on(int cpu, struct workqueue_struct *wq, struct work_struct *work)
{
	(void)cpu;
	if (test_and_set_bit(WORK_STRUCT_PENDING_BIT, work_data_bits(work)))
		return false;
	if (unlikely(wq->flags & __WQ_DESTROYING)) {
		WARN(1, "workqueue: cannot queue %ps on destroyed wq %s\n", work->func, wq->name);
		clear_bit(WORK_STRUCT_PENDING_BIT, work_data_bits(work));
		return false;
	}
	wq_insert(wq, work);
	return true;
}

void delayed_work_timer_fn(struct timer_list *t)
{
	struct delayed_work *dwork = from_timer(dwork, t, timer);

	wq_insert(dwork->wq, &dwork->work);
}

static void wq_queue_delayed(struct workqueue_struct *wq, struct delayed_work *dwork,
			     unsigned long delay)
{
	dwork->wq = wq;
	if (!delay) {
		wq_insert(wq, &dwork->work);
		return;
	}
	atomic_long_set(&dwork->work.data, (unsigned long)wq | WORK_STRUCT_PENDING);
	dwork->timer.function = delayed_work_timer_fn;
	mod_timer(&dwork->timer, jiffies + delay);
}

bool queue_delayed_work_on(int cpu, struct workqueue_struct *wq, struct delayed_work *dwork,
			   unsigned long delay)
{
	(void)cpu;
	if (test_and_set_bit(WORK_STRUCT_PENDING_BIT, work_data_bits(&dwork->work)))
		return false;
	wq_queue_delayed(wq, dwork, delay);
	return true;
}

static bool wq_cancel_delayed(struct delayed_work *dwork)
{
	del_timer(&dwork->timer);
	return wq_unqueue(&dwork->work);
}

bool mod_delayed_work_on(int cpu, struct workqueue_struct *wq, struct delayed_work *dwork,
			 unsigned long delay)
{
	bool was = wq_cancel_delayed(dwork);

	(void)cpu;
	set_bit(WORK_STRUCT_PENDING_BIT, work_data_bits(&dwork->work));
	wq_queue_delayed(wq, dwork, delay);
	return was;
}

bool queue_rcu_work(struct workqueue_struct *wq, struct rcu_work *rwork)
{
	rwork->wq = wq;
	return queue_work(wq, &rwork->work);
}

/* ---- running -------------------------------------------------------------------------------- */

static void wq_run_one(struct work_struct *work)
{
	struct workqueue_struct *wq = WQ_DATA_WQ(atomic_long_read(&work->data));
	work_func_t fn = work->func;
	struct task_struct *prev;
	unsigned int level = wq_depth;
	int pc = preempt_count(), irqs_off = arch_irqs_disabled();

	list_del_init(&work->entry);
	sched_deferred_items--;
	/* Cleared first: the function may queue the item again. */
	atomic_long_set(&work->data, (unsigned long)wq);
	wq_running[level] = work;
	wq_running_wq[level] = wq;
	wq_depth = level + 1;
	prev = sched_enter_kworker(level);
	fn(work);		/* may free work: not touched again */
	sched_leave_kworker(prev);
	wq_depth = level;
	wq_running[level] = NULL;
	if (unlikely(preempt_count() != pc || arch_irqs_disabled() != irqs_off)) {
		printk(KERN_ERR "BUG: workqueue leaked atomic, lock or RCU: %s[%d]\n",
		       current->comm, current->pid);
		printk(KERN_ERR "     preempt=0x%08x lock=0->0 RCU=0->0 workfn=%ps\n",
		       preempt_count(), fn);
		__preempt_count = pc;
		if (arch_irqs_disabled() && !irqs_off)
			local_irq_enable();
	}
}

bool workqueue_runnable(void)
{
	struct work_struct *work;

	list_for_each_entry(work, &wq_queue, entry)
		if (wq_may_run(work))
			return true;
	return false;
}

/* Run the items queued when called, in order; those queued meanwhile (an
 * item queueing itself again) wait for the next call, so this returns. */
void workqueue_run_pending(void)
{
	struct work_struct *work;
	unsigned int budget = 0;

	if (in_interrupt())
		return;
	list_for_each_entry(work, &wq_queue, entry)
		budget++;
	while (budget--) {
		bool found = false;

		list_for_each_entry(work, &wq_queue, entry)
			if (wq_may_run(work)) {
				found = true;
				break;
			}
		if (!found)
			return;
		wq_run_one(work);
	}
}

struct work_struct *current_work(void)
{
	return wq_depth && (current->flags & PF_WQ_WORKER) ? wq_running[wq_depth - 1] : NULL;
}

bool current_is_workqueue_rescuer(void)
{
	return false;
}

unsigned int work_busy(struct work_struct *work)
{
	unsigned int ret = 0;

	if (work_pending(work))
		ret |= WORK_BUSY_PENDING;
	if (wq_running_level(work) >= 0)
		ret |= WORK_BUSY_RUNNING;
	return ret;
}

/* ---- waiting for work ----------------------------------------------------------------------- */

static bool wq_work_idle(void *arg)
{
	struct work_struct *work = arg;

	return !work_pending(work) && wq_running_level(work) < 0;
}

/* Running below us: we are inside its sleep, it cannot finish first. */
static bool wq_cannot_wait(struct work_struct *work, const char *what)
{
	if (wq_running_level(work) < 0)
		return false;
	printk(KERN_WARNING "workqueue: %s(%ps) from %s: the work is running %s; "
	       "on one stack it cannot finish first, not waiting\n", what, work->func,
	       current->comm, current_work() == work ? "this very function" : "below this context");
	return true;
}

/* Process context only; in interrupt context the kernel would BUG, here the
 * item just does not get waited for. */
static bool wq_wait_idle(struct work_struct *work, const char *what)
{
	if (wq_work_idle(work))
		return false;
	if (wq_cannot_wait(work, what) || in_interrupt())
		return false;
	might_sleep();
	sched_wait_until(wq_work_idle, work, ~0ULL);
	return true;
}

bool flush_work(struct work_struct *work)
{
	if (!work_pending(work) && wq_running_level(work) < 0)
		return false;
	return wq_wait_idle(work, "flush_work");
}

bool flush_delayed_work(struct delayed_work *dwork)
{
	/* A waiting timer fires now: the item is queued at once. */
	if (del_timer(&dwork->timer)) {
		list_add_tail(&dwork->work.entry, &wq_queue);
		sched_deferred_items++;
	}
	return flush_work(&dwork->work);
}

bool flush_rcu_work(struct rcu_work *rwork)
{
	return flush_work(&rwork->work);
}

bool cancel_work(struct work_struct *work)
{
	return wq_unqueue(work);
}

bool cancel_work_sync(struct work_struct *work)
{
	bool was = wq_unqueue(work);

	wq_wait_idle(work, "cancel_work_sync");
	return was;
}

bool cancel_delayed_work(struct delayed_work *dwork)
{
	return wq_cancel_delayed(dwork);
}

bool cancel_delayed_work_sync(struct delayed_work *dwork)
{
	bool was = wq_cancel_delayed(dwork);

	wq_wait_idle(&dwork->work, "cancel_delayed_work_sync");
	return was;
}

bool disable_work_sync(struct work_struct *work)
{
	return cancel_work_sync(work);
}

bool disable_delayed_work_sync(struct delayed_work *dwork)
{
	return cancel_delayed_work_sync(dwork);
}

/* ---- workqueues ------------------------------------------------------------------------------ */

struct workqueue_struct *alloc_workqueue(const char *fmt, unsigned int flags, int max_active, ...)
{
	struct workqueue_struct *wq;
	va_list args;

	wq = kzalloc(sizeof(*wq), GFP_KERNEL);
	if (!wq)
		return NULL;
	va_start(args, max_active);
	vsnprintf(wq->name, sizeof(wq->name), fmt, args);
	va_end(args);
	wq->flags = flags;
	if (max_active <= 0)
		max_active = WQ_DFL_ACTIVE;
	wq->max_active = (flags & __WQ_ORDERED) ? 1 : max_active;
	list_add_tail(&wq->list, &wq_all);
	return wq;
}

int workqueue_set_max_active(struct workqueue_struct *wq, int max_active)
{
	if (!(wq->flags & __WQ_ORDERED))
		wq->max_active = max_active > 0 ? max_active : WQ_DFL_ACTIVE;
	return 0;
}

static bool wq_has_queued(struct workqueue_struct *wq)
{
	struct work_struct *work;

	list_for_each_entry(work, &wq_queue, entry)
		if (WQ_DATA_WQ(atomic_long_read(&work->data)) == wq)
			return true;
	return false;
}

/* Items of wq running above the caller (started while it slept). */
static bool wq_has_running_above(struct workqueue_struct *wq, unsigned int floor)
{
	unsigned int i;

	for (i = floor; i < wq_depth; i++)
		if (wq_running_wq[i] == wq)
			return true;
	return false;
}

struct wq_flush_arg {
	struct workqueue_struct *wq;
	unsigned int floor;
};

static bool wq_flushed(void *arg)
{
	struct wq_flush_arg *f = arg;

	return !wq_has_queued(f->wq) && !wq_has_running_above(f->wq, f->floor);
}

void flush_workqueue(struct workqueue_struct *wq)
{
	struct wq_flush_arg f = { wq, wq_depth };

	if (wq_flushed(&f) || in_interrupt())
		return;
	might_sleep();
	sched_wait_until(wq_flushed, &f, ~0ULL);
}

void drain_workqueue(struct workqueue_struct *wq)
{
	wq->flags |= __WQ_DRAINING;
	flush_workqueue(wq);
	wq->flags &= ~__WQ_DRAINING;
}

void destroy_workqueue(struct workqueue_struct *wq)
{
	if (!wq)
		return;
	drain_workqueue(wq);
	wq->flags |= __WQ_DESTROYING;
	if (wq_running_count(wq))
		printk(KERN_WARNING "workqueue %s: destroyed while its work runs below the caller\n",
		       wq->name);
	list_del(&wq->list);
	kfree(wq);
}

/* ---- module unload (kernel/sched.py) ------------------------------------------------------ */

int sched_drop_timers_of(unsigned long start, unsigned long end, unsigned long *out, int max);

static bool wq_in(unsigned long start, unsigned long end, const void *p)
{
	return (unsigned long)p >= start && (unsigned long)p < end;
}

/* Take off their lists what a module being unloaded left there: timers,
 * hrtimers and work items whose struct or function is in its image, or
 * queued on a workqueue in it.  out[] gets (kind, function) pairs (kind 1
 * timer, 2 hrtimer, 3 delayed work, 4 work) for kernel/sched.py to report;
 * returns how many. */
int sched_module_gone(unsigned long start, unsigned long end, unsigned long *out, int max)
{
	struct work_struct *work, *tmp;
	int n = sched_drop_timers_of(start, end, out, max);

	list_for_each_entry_safe(work, tmp, &wq_queue, entry) {
		struct workqueue_struct *owner = WQ_DATA_WQ(atomic_long_read(&work->data));

		if (wq_in(start, end, work) || wq_in(start, end, work->func) ||
		    wq_in(start, end, owner)) {
			wq_unqueue(work);
			if (n < max) {
				out[2 * n] = 4;
				out[2 * n + 1] = (unsigned long)work->func;
				n++;
			}
		}
	}
	return n;
}
