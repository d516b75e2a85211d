// SPDX-License-Identifier: GPL-2.0-only
/*
 * Timers, work, completions, wait queues and sleeping, written as a kernel
 * driver would use them.  Each t_* function is one test (called by
 * tests/test_kernel_sched.py); it logs what it saw, with machine times as
 * microseconds since the test started.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/timer.h>
#include <linux/hrtimer.h>
#include <linux/workqueue.h>
#include <linux/completion.h>
#include <linux/wait.h>
#include <linux/sched.h>
#include <linux/preempt.h>
#include <linux/interrupt.h>

static u64 t0;
static u64 since_us(void) { return (ktime_get_ns() - t0) / 1000; }
static void start(void) { t0 = ktime_get_ns(); }

/* ---- timers ---------------------------------------------------------------------- */

static struct timer_list tmr;
static int tmr_fired;
static u64 tmr_at;
static int tmr_softirq, tmr_task;

static void tmr_fn(struct timer_list *t)
{
	tmr_fired++;
	tmr_at = since_us();
	tmr_softirq = !!in_softirq();
	tmr_task = !!in_task();
}

int t_timer_fires_during_msleep(void)
{
	int before;

	tmr_fired = 0;
	timer_setup(&tmr, tmr_fn, 0);
	start();
	mod_timer(&tmr, jiffies + msecs_to_jiffies(20));
	udelay(5000);
	before = tmr_fired;
	msleep(50);
	pr_info("timer: pending %d before %d after %d at %llu us softirq %d task %d slept %llu us\n",
		timer_pending(&tmr), before, tmr_fired, tmr_at, tmr_softirq, tmr_task, since_us());
	return 0;
}

int t_del_timer_sync(void)
{
	int was, again;

	tmr_fired = 0;
	timer_setup(&tmr, tmr_fn, 0);
	mod_timer(&tmr, jiffies + msecs_to_jiffies(10));
	was = del_timer_sync(&tmr);
	msleep(30);
	again = del_timer(&tmr);
	pr_info("del_timer_sync: was %d again %d fired %d pending %d\n", was, again, tmr_fired,
		timer_pending(&tmr));
	return 0;
}

/* A timer that is still pending when the module goes away. */
int t_leave_timer_pending(void)
{
	timer_setup(&tmr, tmr_fn, 0);
	mod_timer(&tmr, jiffies + 10 * HZ);
	return 0;
}

static struct hrtimer hrt;
static int hrt_fired;
static u64 hrt_at;
static int hrt_hardirq;

static enum hrtimer_restart hrt_fn(struct hrtimer *t)
{
	hrt_at = since_us();
	hrt_hardirq = !!in_hardirq();
	if (++hrt_fired < 3) {
		hrtimer_forward_now(t, 2000 * 1000);
		return HRTIMER_RESTART;
	}
	return HRTIMER_NORESTART;
}

/* A busy loop waiting for a timer: the tick runs it, as on the kernel. */
int t_spin_on_timer(void)
{
	unsigned long loops = 0;

	tmr_fired = 0;
	timer_setup(&tmr, tmr_fn, 0);
	start();
	mod_timer(&tmr, jiffies + 2);
	while (!READ_ONCE(tmr_fired))
		cpu_relax(), loops++;
	pr_info("spin on timer: fired at %llu us softirq %d, looped %d\n", tmr_at, tmr_softirq,
		loops > 1);
	return 0;
}

int t_hrtimer(void)
{
	hrt_fired = 0;
	hrtimer_init(&hrt, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	hrt.function = hrt_fn;
	start();
	hrtimer_start(&hrt, 3000 * 1000, HRTIMER_MODE_REL);
	msleep(20);
	pr_info("hrtimer: fired %d last at %llu us hardirq %d active %d\n", hrt_fired, hrt_at,
		hrt_hardirq, hrtimer_active(&hrt));
	return 0;
}

/* ---- work ------------------------------------------------------------------------- */

static struct work_struct wrk;
static int wrk_ran;
static u64 wrk_at;

static void wrk_fn(struct work_struct *w)
{
	wrk_ran++;
	wrk_at = since_us();
	pr_info("work: ran as %s task %d current_work %d\n", current->comm, !!in_task(),
		current_work() == w);
}

int t_work_during_msleep(void)
{
	int before;

	wrk_ran = 0;
	INIT_WORK(&wrk, wrk_fn);
	start();
	schedule_work(&wrk);
	before = wrk_ran;
	msleep(1);
	pr_info("work during msleep: before %d after %d pending %d\n", before, wrk_ran,
		work_pending(&wrk));
	return 0;
}

int t_flush_cancel(void)
{
	bool q1, q2, f1, f2, c1;
	int after_flush, after_cancel;

	wrk_ran = 0;
	INIT_WORK(&wrk, wrk_fn);
	q1 = schedule_work(&wrk);
	q2 = schedule_work(&wrk);	/* already pending: false */
	f1 = flush_work(&wrk);
	after_flush = wrk_ran;
	f2 = flush_work(&wrk);		/* nothing to wait for */
	schedule_work(&wrk);
	c1 = cancel_work_sync(&wrk);
	msleep(5);
	after_cancel = wrk_ran;
	pr_info("flush/cancel: queue %d %d flush %d ran %d flush again %d cancel %d ran %d\n",
		q1, q2, f1, after_flush, f2, c1, after_cancel);
	return 0;
}

static struct delayed_work dwrk;
static int dwrk_ran;
static u64 dwrk_at;

static void dwrk_fn(struct work_struct *w)
{
	struct delayed_work *dw = to_delayed_work(w);

	dwrk_ran++;
	dwrk_at = since_us();
	(void)dw;
}

int t_delayed_work(void)
{
	bool pending_mid;

	dwrk_ran = 0;
	INIT_DELAYED_WORK(&dwrk, dwrk_fn);
	start();
	schedule_delayed_work(&dwrk, msecs_to_jiffies(40));
	msleep(20);
	pending_mid = delayed_work_pending(&dwrk);
	msleep(80);
	pr_info("delayed work: pending at 20ms %d ran %d at %llu us\n", pending_mid, dwrk_ran,
		dwrk_at);
	/* Cancelled before its time: never runs. */
	dwrk_ran = 0;
	schedule_delayed_work(&dwrk, msecs_to_jiffies(10));
	pr_info("delayed work: cancel %d\n", cancel_delayed_work_sync(&dwrk));
	msleep(30);
	pr_info("delayed work: after cancel ran %d\n", dwrk_ran);
	/* mod_delayed_work moves it; flush_delayed_work runs it now. */
	start();
	queue_delayed_work(system_wq, &dwrk, msecs_to_jiffies(1000));
	pr_info("delayed work: mod %d\n", mod_delayed_work(system_wq, &dwrk, msecs_to_jiffies(2000)));
	pending_mid = flush_delayed_work(&dwrk);
	pr_info("delayed work: flush %d ran %d at %llu us\n", pending_mid, dwrk_ran, dwrk_at);
	return 0;
}

/* An ordered workqueue of our own; items that requeue themselves. */
static struct workqueue_struct *own_wq;
static struct work_struct ord_a, ord_b;
static int ord_log[8], ord_n;

static void ord_fn(struct work_struct *w)
{
	int id = w == &ord_a ? 1 : 2;

	if (ord_n < 8)
		ord_log[ord_n++] = id;
	msleep(2);	/* sleeping: the other item must still wait (ordered) */
	if (ord_n < 8)
		ord_log[ord_n++] = id * 10;
}

int t_workqueue(void)
{
	own_wq = alloc_ordered_workqueue("sched_test_%d", 0, 7);
	if (!own_wq)
		return -12;
	ord_n = 0;
	INIT_WORK(&ord_a, ord_fn);
	INIT_WORK(&ord_b, ord_fn);
	queue_work(own_wq, &ord_a);
	queue_work(own_wq, &ord_b);
	flush_workqueue(own_wq);
	pr_info("ordered: %d %d %d %d n %d\n", ord_log[0], ord_log[1], ord_log[2], ord_log[3], ord_n);
	destroy_workqueue(own_wq);
	return 0;
}

static struct work_struct again_w;
static int again_runs;

static void again_fn(struct work_struct *w)
{
	if (++again_runs < 1000)
		schedule_work(w);
}

/* Work that queues itself for ever must not stop the clock nor a sleeper. */
int t_requeue(void)
{
	again_runs = 0;
	INIT_WORK(&again_w, again_fn);
	start();
	schedule_work(&again_w);
	msleep(3);
	pr_info("requeue: slept %llu us runs>1 %d\n", since_us(), again_runs > 1);
	cancel_work_sync(&again_w);
	return 0;
}

/* Work that sleeps: other work runs on top of it, as a second kworker. */
static struct work_struct nest_a, nest_b;
static char nest_log[96];
static int nest_n;

static void nest_b_fn(struct work_struct *w)
{
	nest_n += scnprintf(nest_log + nest_n, sizeof(nest_log) - nest_n, " b:%s", current->comm);
	/* a is running below us: this cannot wait (warns) */
	nest_n += scnprintf(nest_log + nest_n, sizeof(nest_log) - nest_n, " flush_a:%d",
			    flush_work(&nest_a));
}

static void nest_a_fn(struct work_struct *w)
{
	nest_n += scnprintf(nest_log + nest_n, sizeof(nest_log) - nest_n, "a:%s", current->comm);
	schedule_work(&nest_b);
	msleep(5);
	nest_n += scnprintf(nest_log + nest_n, sizeof(nest_log) - nest_n, " a:%s", current->comm);
}

int t_nested_work(void)
{
	nest_n = 0;
	INIT_WORK(&nest_a, nest_a_fn);
	INIT_WORK(&nest_b, nest_b_fn);
	schedule_work(&nest_a);
	flush_work(&nest_a);
	pr_info("nested: %s; %s\n", nest_log, current->comm);
	return 0;
}

/* ---- completions and wait queues ---------------------------------------------------- */

static struct completion done;
static DECLARE_WAIT_QUEUE_HEAD(wq);
static int wq_flag;

static void complete_fn(struct timer_list *t)
{
	complete(&done);
}

int t_completion(void)
{
	unsigned long left, left2;
	bool tries[3];
	u64 woke;

	init_completion(&done);
	timer_setup(&tmr, complete_fn, 0);
	start();
	mod_timer(&tmr, jiffies + msecs_to_jiffies(12));
	left = wait_for_completion_timeout(&done, msecs_to_jiffies(100));
	woke = since_us();
	pr_info("completion: left %lu of 25 jiffies, woke at %llu us, done %d\n", left, woke,
		completion_done(&done));
	start();
	left2 = wait_for_completion_timeout(&done, msecs_to_jiffies(20));
	pr_info("completion: timeout returns %lu after %llu us\n", left2, since_us());
	complete(&done);
	complete(&done);
	tries[0] = try_wait_for_completion(&done);
	tries[1] = try_wait_for_completion(&done);
	tries[2] = try_wait_for_completion(&done);
	pr_info("completion: try %d %d %d\n", tries[0], tries[1], tries[2]);
	complete_all(&done);
	wait_for_completion(&done);
	wait_for_completion(&done);
	reinit_completion(&done);
	pr_info("completion: after complete_all and reinit done %d\n", completion_done(&done));
	return 0;
}

static void wake_fn(struct timer_list *t)
{
	wq_flag = 1;
	wake_up(&wq);
}

int t_wait_event(void)
{
	long r;
	u64 woke;

	wq_flag = 0;
	start();
	r = wait_event_timeout(wq, wq_flag, msecs_to_jiffies(20));
	pr_info("wait_event_timeout: timed out %ld after %llu us\n", r, since_us());
	timer_setup(&tmr, wake_fn, 0);
	start();
	mod_timer(&tmr, jiffies + msecs_to_jiffies(8));
	r = wait_event_timeout(wq, wq_flag, msecs_to_jiffies(40));
	woke = since_us();
	pr_info("wait_event_timeout: woken %ld left of 10, at %llu us, active %d\n", r, woke,
		waitqueue_active(&wq));
	r = wait_event_interruptible_timeout(wq, wq_flag, 5);
	pr_info("wait_event_interruptible_timeout: already true %ld\n", r);
	wq_flag = 0;
	mod_timer(&tmr, jiffies + 2);
	wait_event(wq, wq_flag);
	r = wait_event_interruptible(wq, wq_flag);
	pr_info("wait_event: flag %d interruptible %ld\n", wq_flag, r);
	return 0;
}

static struct task_struct *sleeper;

static void wake_sleeper_fn(struct timer_list *t)
{
	wake_up_process(sleeper);
}

int t_schedule_timeout(void)
{
	long left;

	start();
	left = schedule_timeout_uninterruptible(msecs_to_jiffies(20));
	pr_info("schedule_timeout: left %ld after %llu us\n", left, since_us());
	sleeper = current;
	timer_setup(&tmr, wake_sleeper_fn, 0);
	mod_timer(&tmr, jiffies + 3);
	set_current_state(TASK_INTERRUPTIBLE);
	left = schedule_timeout(msecs_to_jiffies(100));
	pr_info("schedule_timeout: woken with %ld left, state %d\n", left, current->__state);
	left = schedule_timeout(5);	/* TASK_RUNNING: returns at once */
	pr_info("schedule_timeout: running %ld\n", left);
	return 0;
}

/* ---- a crash in deferred code does not stop later timers and work ---------------- */

static struct work_struct crash_w;
static int *volatile nowhere;

static void crash_w_fn(struct work_struct *w)
{
	pr_info("crash work: about to crash as %s\n", current->comm);
	*nowhere = 1;
}

int t_crash_in_work(void)
{
	INIT_WORK(&crash_w, crash_w_fn);
	schedule_work(&crash_w);
	return 0;		/* the machine runs it after this returns */
}

static void crash_tmr_fn(struct timer_list *t)
{
	*nowhere = 2;
}

int t_crash_in_timer(void)
{
	timer_setup(&tmr, crash_tmr_fn, 0);
	mod_timer(&tmr, jiffies + 1);
	msleep(10);		/* the oops ends this call */
	return 0;
}

/* Nothing can ever complete this: the machine ends the call (hung task). */
int t_hung(void)
{
	static DECLARE_COMPLETION(never);

	wait_for_completion(&never);
	return 1;
}

int t_whoami(void)
{
	pr_info("whoami: %s pid %d state %u\n", current->comm, current->pid, current->__state);
	return 0;
}

/* ---- init: work queued in init runs after init returns -------------------------------- */

static struct work_struct init_w;
static int init_w_ran;

static void init_w_fn(struct work_struct *w)
{
	init_w_ran = 1;
	pr_info("init work: ran as %s\n", current->comm);
}

int t_init_work_ran(void)
{
	pr_info("init work: ran %d\n", init_w_ran);
	return 0;
}

static int __init sched_basic_init(void)
{
	INIT_WORK(&init_w, init_w_fn);
	schedule_work(&init_w);
	pr_info("init: returns, work ran %d pending %d as %s\n", init_w_ran, work_pending(&init_w),
		current->comm);
	return 0;
}

static void __exit sched_basic_exit(void)
{
}

module_init(sched_basic_init);
module_exit(sched_basic_exit);
MODULE_LICENSE("GPL");
