// SPDX-License-Identifier: GPL-2.0
/*
 * Timers: struct timer_list on jiffies, struct hrtimer on the machine clock.
 *
 * Pending timers sit on one list each (a driver has a handful; a scan is
 * cheaper than any wheel).  timer_run_expired() runs the due ones earliest
 * first -- timer_list callbacks in softirq context, hrtimer callbacks in
 * hardirq context with interrupts off, as the kernel runs them -- when the
 * CPU leaves an interrupt handler (core/irq.c), on every round of a sleep
 * (core/sched.c) and after each top-level call.  Sleeping asks
 * timer_next_due_ns() how far the clock may jump.
 *
 * Due-ness of a timer_list is decided on the jiffies variable, never by
 * reading a clock, so that the det trace clock does not tick; only pending
 * hrtimers read the machine clock (without ticking it either).
 */
#include <linux/kernel.h>
#include <linux/timer.h>
#include <linux/hrtimer.h>
#include <linux/sched.h>
#include <linux/preempt.h>
#include <linux/irqflags.h>
#include <linux/workqueue.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>

static HLIST_HEAD(timer_pending_list);
static HLIST_HEAD(hrtimer_pending_list);
/* Global for kernel/sched.py, which clears them when an oops abandons the
 * stack in the middle of a callback. */
struct timer_list *timer_running;	/* whose callback runs now */
struct hrtimer *hrtimer_running;
int timer_in_run;			/* timer_run_expired() is on the stack */

/* Timers, hrtimers and work items waiting (core/workqueue.c counts too):
 * the machine skips sched_run_pending() after a command while it is 0. */
unsigned long sched_deferred_items;

static int timer_preempt_count(void)
{
	return preempt_count();
}

static void timer_preempt_add(int v)
{
	__preempt_count_add(v);
}

/* ---- timer_list ------------------------------------------------------------------ */

static int timer_detach(struct timer_list *timer)
{
	if (!timer_pending(timer))
		return 0;
	hlist_del_init(&timer->entry);
	sched_deferred_items--;
	return 1;
}

static int timer_queue(struct timer_list *timer, unsigned long expires)
{
	int was = timer_detach(timer);

	if (unlikely(!timer->function)) {
		/* timer_shutdown() made it inert; re-arming is ignored. */
		return was;
	}
	timer->expires = expires;
	hlist_add_head(&timer->entry, &timer_pending_list);
	sched_deferred_items++;
	return was;
}

int mod_timer(struct timer_list *timer, unsigned long expires)
{
	if (timer_pending(timer) && timer->expires == expires)
		return 1;
	return timer_queue(timer, expires);
}

int mod_timer_pending(struct timer_list *timer, unsigned long expires)
{
	if (!timer_pending(timer))
		return 0;
	return timer_queue(timer, expires);
}

int timer_reduce(struct timer_list *timer, unsigned long expires)
{
	if (timer_pending(timer) && time_before_eq(timer->expires, expires))
		return 1;
	return timer_queue(timer, expires);
}

void add_timer(struct timer_list *timer)
{
	if (WARN_ON(timer_pending(timer)))
		return;
	timer_queue(timer, timer->expires);
}

void add_timer_on(struct timer_list *timer, int cpu)
{
	(void)cpu;
	add_timer(timer);
}

void add_timer_global(struct timer_list *timer)
{
	add_timer(timer);
}

int timer_delete(struct timer_list *timer)
{
	return timer_detach(timer);
}

int try_to_del_timer_sync(struct timer_list *timer)
{
	/* -1: the callback is running (only it can be asking, on one CPU). */
	if (timer_running == timer)
		return -1;
	return timer_detach(timer);
}

/* One CPU: the callback cannot be running somewhere else.  From inside the
 * callback itself the kernel would wait forever; it warns, and so do we. */
int timer_delete_sync(struct timer_list *timer)
{
	WARN_ON(timer_running == timer);
	return timer_detach(timer);
}

int timer_shutdown(struct timer_list *timer)
{
	int was = timer_detach(timer);

	timer->function = NULL;
	return was;
}

int timer_shutdown_sync(struct timer_list *timer)
{
	WARN_ON(timer_running == timer);
	return timer_shutdown(timer);
}

static struct timer_list *timer_first_due(void)
{
	struct timer_list *t, *best = NULL;
	unsigned long now = jiffies;

	hlist_for_each_entry(t, &timer_pending_list, entry)
		if (time_after_eq(now, t->expires) &&
		    (!best || time_before(t->expires, best->expires)))
			best = t;
	return best;
}

/* ---- hrtimer ------------------------------------------------------------------------- */

void hrtimer_init(struct hrtimer *timer, clockid_t which_clock, enum hrtimer_mode mode)
{
	(void)which_clock;
	INIT_HLIST_NODE(&timer->node);
	timer->expires = 0;
	timer->function = NULL;
	timer->state = HRTIMER_STATE_INACTIVE;
	timer->is_soft = !!(mode & HRTIMER_MODE_SOFT);
	timer->is_rel = !!(mode & HRTIMER_MODE_REL);
}

void hrtimer_setup(struct hrtimer *timer, enum hrtimer_restart (*function)(struct hrtimer *),
		   clockid_t clock_id, enum hrtimer_mode mode)
{
	hrtimer_init(timer, clock_id, mode);
	timer->function = function;
}

static void hrtimer_detach(struct hrtimer *timer)
{
	if (!hlist_unhashed(&timer->node)) {
		hlist_del_init(&timer->node);
		sched_deferred_items--;
	}
	timer->state &= ~HRTIMER_STATE_ENQUEUED;
}

static void hrtimer_enqueue(struct hrtimer *timer)
{
	hlist_add_head(&timer->node, &hrtimer_pending_list);
	sched_deferred_items++;
	timer->state |= HRTIMER_STATE_ENQUEUED;
}

void hrtimer_start_range_ns(struct hrtimer *timer, ktime_t tim, u64 range_ns,
			    const enum hrtimer_mode mode)
{
	(void)range_ns;
	hrtimer_detach(timer);
	if (mode & HRTIMER_MODE_REL)
		tim += sched_clock_now_ns();
	timer->expires = tim;
	hrtimer_enqueue(timer);
}

int hrtimer_try_to_cancel(struct hrtimer *timer)
{
	int was = hrtimer_is_queued(timer);

	if (hrtimer_running == timer && !was)
		return -1;
	hrtimer_detach(timer);
	return was;
}

int hrtimer_cancel(struct hrtimer *timer)
{
	WARN_ON(hrtimer_running == timer);
	return hrtimer_try_to_cancel(timer) > 0;
}

/* Push the expiry forward by whole intervals until it is after now;
 * returns how many intervals were added. */
u64 hrtimer_forward(struct hrtimer *timer, ktime_t now, ktime_t interval)
{
	u64 n;

	if (now < timer->expires || interval <= 0)
		return 0;
	n = (u64)(now - timer->expires) / (u64)interval + 1;
	timer->expires += n * interval;
	return n;
}

u64 hrtimer_forward_now(struct hrtimer *timer, ktime_t interval)
{
	return hrtimer_forward(timer, sched_clock_now_ns(), interval);
}

ktime_t hrtimer_cb_get_time(struct hrtimer *timer)
{
	(void)timer;
	return sched_clock_now_ns();
}

static struct hrtimer *hrtimer_first_due(u64 now)
{
	struct hrtimer *t, *best = NULL;

	hlist_for_each_entry(t, &hrtimer_pending_list, node)
		if ((u64)t->expires <= now && (!best || t->expires < best->expires))
			best = t;
	return best;
}

static void hrtimer_run(struct hrtimer *t)
{
	enum hrtimer_restart (*fn)(struct hrtimer *) = t->function;
	unsigned long flags;
	enum hrtimer_restart r;

	hrtimer_detach(t);
	if (!fn)
		return;
	local_irq_save(flags);
	timer_preempt_add(HARDIRQ_OFFSET);
	hrtimer_running = t;
	r = fn(t);
	hrtimer_running = NULL;
	timer_preempt_add(-(int)HARDIRQ_OFFSET);
	/* Restarting: queued again at its (forwarded) expiry, unless the
	 * callback re-started it itself. */
	if (r == HRTIMER_RESTART && !hrtimer_is_queued(t))
		hrtimer_enqueue(t);
	arch_local_irq_restore(flags);
}

/* ---- RCU callbacks (linux/rcupdate.h): run with the timers, outside readers ------------ */

static struct rcu_head *rcu_cb_head;
static struct rcu_head **rcu_cb_tail = &rcu_cb_head;

/* kvfree_call_rcu stores the offset of the rcu_head in its object where
 * the function would be: small numbers are never kernel text addresses. */
#define RCU_IS_KFREE_OFFSET(f) ((unsigned long)(f) < 4096)

void call_rcu(struct rcu_head *head, rcu_callback_t func)
{
	head->func = func;
	head->next = NULL;
	*rcu_cb_tail = head;
	rcu_cb_tail = &head->next;
	sched_deferred_items++;
}

void kvfree_call_rcu(struct rcu_head *head, void *ptr)
{
	call_rcu(head, (rcu_callback_t)((char *)head - (char *)ptr));
}

static void rcu_run_callbacks(void)
{
	struct rcu_head *list = rcu_cb_head, *next;

	rcu_cb_head = NULL;
	rcu_cb_tail = &rcu_cb_head;
	for (; list; list = next) {
		rcu_callback_t fn = list->func;

		next = list->next;
		sched_deferred_items--;
		if (RCU_IS_KFREE_OFFSET(fn))
			kfree((char *)list - (unsigned long)fn);
		else
			fn(list);
	}
}

/* One CPU, called in process context: that is a quiescent state. */
void synchronize_rcu(void)
{
	might_sleep();
}

/* Every callback queued so far has run when this returns. */
void rcu_barrier(void)
{
	might_sleep();
	timer_preempt_add(SOFTIRQ_OFFSET);
	rcu_run_callbacks();
	timer_preempt_add(-(int)SOFTIRQ_OFFSET);
}

/* ---- running them ------------------------------------------------------------------------ */

bool timer_due(void)
{
	struct hrtimer *t;
	u64 now;

	if (timer_first_due() || rcu_cb_head)
		return true;
	if (hlist_empty(&hrtimer_pending_list))
		return false;
	now = sched_clock_now_ns();
	hlist_for_each_entry(t, &hrtimer_pending_list, node)
		if ((u64)t->expires <= now)
			return true;
	return false;
}

u64 sched_jiffies_due_ns(unsigned long j);

u64 timer_next_due_ns(void)
{
	struct timer_list *t, *first = NULL;
	struct hrtimer *h;
	u64 due = ~0ULL;

	hlist_for_each_entry(t, &timer_pending_list, entry)
		if (!first || time_before(t->expires, first->expires))
			first = t;
	if (first)
		due = sched_jiffies_due_ns(first->expires);
	hlist_for_each_entry(h, &hrtimer_pending_list, node)
		if ((u64)h->expires < due)
			due = h->expires;
	return due;
}

void timer_run_expired(void)
{
	struct timer_list *t;
	int pc;

	/* As irq_exit: not when we interrupted softirq (or bh-disabled) code,
	 * nor inside a hardirq handler. */
	if (timer_in_run || (timer_preempt_count() & (HARDIRQ_MASK | SOFTIRQ_MASK | NMI_MASK)))
		return;
	timer_in_run = 1;
	if (!hlist_empty(&hrtimer_pending_list)) {
		struct hrtimer *h;

		while ((h = hrtimer_first_due(sched_clock_now_ns())))
			hrtimer_run(h);
	}
	timer_preempt_add(SOFTIRQ_OFFSET);
	while ((t = timer_first_due())) {
		void (*fn)(struct timer_list *) = t->function;

		timer_detach(t);
		if (!fn)
			continue;
		pc = timer_preempt_count();
		timer_running = t;
		fn(t);
		timer_running = NULL;
		if (unlikely(timer_preempt_count() != pc)) {
			printk(KERN_ERR "timer: %ps preempt leak: %08x -> %08x\n", fn, pc,
			       timer_preempt_count());
			timer_preempt_add(pc - timer_preempt_count());
		}
		if (unlikely(arch_irqs_disabled())) {
			printk(KERN_ERR "timer callback %ps returned with interrupts disabled\n", fn);
			local_irq_enable();
		}
	}
	/* A grace period has passed unless a reader (or a spinlock holder)
	 * is what we interrupted. */
	if (rcu_cb_head && !(timer_preempt_count() & PREEMPT_MASK))
		rcu_run_callbacks();
	timer_preempt_add(-(int)SOFTIRQ_OFFSET);
	timer_in_run = 0;
}

/* ---- module unload (core/workqueue.c: sched_module_gone) -------------------------------- */

static bool timer_in(unsigned long start, unsigned long end, const void *p)
{
	return (unsigned long)p >= start && (unsigned long)p < end;
}

/* Timers whose struct or callback is in [start, end) (a delayed work item's
 * timer: its work function) come off the lists; each is recorded in out[]
 * as (kind, function) for kernel/sched.py to name. */
int sched_drop_timers_of(unsigned long start, unsigned long end, unsigned long *out, int max)
{
	struct timer_list *t;
	struct hlist_node *n;
	struct hrtimer *h;
	struct rcu_head **link;
	int dropped = 0;

	hlist_for_each_entry_safe(t, n, &timer_pending_list, entry) {
		const void *fn = t->function;
		unsigned long kind = 1;

		if (fn == delayed_work_timer_fn) {
			fn = from_timer((struct delayed_work *)NULL, t, timer)->work.func;
			kind = 3;
		}
		if (timer_in(start, end, t) || timer_in(start, end, fn)) {
			timer_detach(t);
			if (dropped < max) {
				out[2 * dropped] = kind;
				out[2 * dropped + 1] = (unsigned long)fn;
				dropped++;
			}
		}
	}
	for (link = &rcu_cb_head; *link;) {
		struct rcu_head *r = *link;

		if (!RCU_IS_KFREE_OFFSET(r->func) &&
		    (timer_in(start, end, r) || timer_in(start, end, r->func))) {
			*link = r->next;
			sched_deferred_items--;
			if (dropped < max) {
				out[2 * dropped] = 5;
				out[2 * dropped + 1] = (unsigned long)r->func;
				dropped++;
			}
			continue;
		}
		link = &r->next;
	}
	rcu_cb_tail = link;
	hlist_for_each_entry_safe(h, n, &hrtimer_pending_list, node)
		if (timer_in(start, end, h) || timer_in(start, end, h->function)) {
			hrtimer_detach(h);
			if (dropped < max) {
				out[2 * dropped] = 2;
				out[2 * dropped + 1] = (unsigned long)h->function;
				dropped++;
			}
		}
	return dropped;
}

/* ---- jiffies rounding: to a whole second, as the kernel's (CPU skew 0) ----------------- */

/* Rounded to the nearest second (down only within its first quarter), or
 * up; a result already in the past gives back j. */
static unsigned long timer_round(unsigned long j, bool force_up)
{
	unsigned long orig = j, rem = j % HZ;

	if (rem < HZ / 4 && !force_up)
		j -= rem;
	else if (rem)
		j += HZ - rem;
	return time_after(j, jiffies) ? j : orig;
}

unsigned long round_jiffies(unsigned long j)
{
	return timer_round(j, false);
}

unsigned long round_jiffies_relative(unsigned long j)
{
	unsigned long now = jiffies;

	return timer_round(j + now, false) - now;
}

unsigned long round_jiffies_up(unsigned long j)
{
	return timer_round(j, true);
}

unsigned long round_jiffies_up_relative(unsigned long j)
{
	unsigned long now = jiffies;

	return timer_round(j + now, true) - now;
}
