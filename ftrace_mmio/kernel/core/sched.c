// SPDX-License-Identifier: GPL-2.0
/*
 * The scheduler of a uniprocessor kernel with no threads.
 *
 * One CPU runs one thing at a time; the machine has one stack.  The process
 * that made the top-level call (insmod, rmmod, call) is the one task.  When
 * it sleeps, sched_wait_until() runs on its stack what the CPU would run in
 * the meantime -- hardirq handlers of pending interrupts, threaded handlers,
 * expired timers, queued work -- re-checks the wake condition after each
 * round, and when nothing is runnable asks the machine to idle: __hv_idle()
 * moves the machine clock to the earliest of the sleeper's deadline, the
 * next timer and the next device event (which may raise an interrupt).
 * A work item runs as a kworker task and may sleep too: the same loop then
 * runs nested on top of it.  docs/kernel/sched.md.
 */
#include <linux/kernel.h>
#include <linux/sched.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/preempt.h>
#include <linux/irqflags.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/timer.h>
#include <linux/workqueue.h>
#include <asm/irq_check.h>
#include <asm/processor.h>

#define SCHED_NEVER (~0ULL)
/* Rounds in a row that ran something without the clock being let move:
 * past this a round also spends one cpu_relax of time, so that work which
 * requeues itself forever cannot stop the clock (and the sleeper's deadline). */
#define SCHED_BUSY_ROUNDS 64
/* sched_run_pending(): rounds at most (work requeueing itself runs once per round). */
#define SCHED_PENDING_ROUNDS 16

/* ---- what the machine and the other parts of the kernel provide ------------------- */

void __hv_idle(u64 deadline_ns);			/* kernel/time.py */
void __hv_relax(void);					/* kernel/time.py */
u64 __jiffies_to_ktime_ns(unsigned long j);		/* kernel/time.py */
u64 __sched_now_ns(void);				/* kernel/sched.py */
void irq_run_threads(void);				/* core/irq.c */
extern unsigned long irq_threads_pending;		/* core/irq.c */

static int sched_in_interrupt(void)
{
	return in_interrupt();
}

/* ---- tasks ---------------------------------------------------------------------- */

/* The process: whoever made the top-level call (kernel/sched.py names it). */
struct task_struct sched_process_task = {
	.__state = TASK_RUNNING, .pid = 1, .tgid = 1, .comm = "insmod",
};
struct task_struct *__sched_current = &sched_process_task;
_Static_assert(offsetof(struct task_struct, comm) == 16, "kernel/sched.py: TASK_COMM_OFFSET");

/* Kworkers, one per level of work running on top of sleeping work. */
#define SCHED_KWORKERS 8
static struct task_struct sched_kworkers[SCHED_KWORKERS];

/* Called by the workqueue core around a work item: the item runs as a
 * kworker task; returns the task it interrupted. */
struct task_struct *sched_enter_kworker(unsigned int depth)
{
	struct task_struct *prev = __sched_current, *k;

	if (depth >= SCHED_KWORKERS)
		depth = SCHED_KWORKERS - 1;
	k = &sched_kworkers[depth];
	if (!k->pid) {
		k->pid = 20 + depth;
		k->tgid = k->pid;
		k->flags = PF_KTHREAD | PF_WQ_WORKER;
		snprintf(k->comm, sizeof(k->comm), "kworker/0:%u", depth + 1);
	}
	k->__state = TASK_RUNNING;
	__sched_current = k;
	return prev;
}

void sched_leave_kworker(struct task_struct *prev)
{
	__sched_current = prev;
}

int wake_up_state(struct task_struct *p, unsigned int state)
{
	if (!(READ_ONCE(p->__state) & state))
		return 0;
	WRITE_ONCE(p->__state, TASK_RUNNING);
	return 1;
}

int wake_up_process(struct task_struct *p)
{
	return wake_up_state(p, TASK_NORMAL);
}

/* ---- the clock ----------------------------------------------------------------------- */

u64 sched_clock_now_ns(void)
{
	return __sched_now_ns();
}

/* Machine time at which jiffies reaches j. */
u64 sched_jiffies_due_ns(unsigned long j)
{
	return __jiffies_to_ktime_ns(j);
}

static void sched_idle(u64 target)
{
	__hv_idle(target);
}

static void sched_relax(void)
{
	__hv_relax();
}

/* ---- one round of what the CPU runs while the task sleeps ----------------------------- */

static bool sched_irq_pending(void)
{
	return READ_ONCE(irq_pending_word) && !arch_irqs_disabled();
}

static bool sched_threads_pending(void)
{
	return READ_ONCE(irq_threads_pending);
}

bool workqueue_runnable(void);		/* core/workqueue.c */
bool timer_due(void);			/* core/timer.c */

/* Anything that would run if we gave it the CPU now. */
static bool sched_runnable(void)
{
	return sched_irq_pending() || sched_threads_pending() || timer_due() ||
	       (!sched_in_interrupt() && workqueue_runnable());
}

static void sched_round(void)
{
	if (sched_irq_pending())
		irq_handle_pending();
	if (sched_threads_pending())
		irq_run_threads();
	timer_run_expired();
	if (!sched_in_interrupt())
		workqueue_run_pending();
}

static void sched_atomic_check(void)
{
	static int sched_atomic_reports;
	int pc = preempt_count();

	if ((pc || arch_irqs_disabled()) && sched_atomic_reports < 10) {
		sched_atomic_reports++;
		printk(KERN_ERR "BUG: scheduling while atomic: %s/%d/0x%08x\n",
		       current->comm, current->pid, pc);
	}
}

int sched_wait_until(bool (*cond)(void *), void *arg, u64 deadline_ns)
{
	unsigned int busy = 0;

	sched_atomic_check();
	for (;;) {
		u64 now, target;

		if (cond && cond(arg))
			return 1;
		if (sched_runnable()) {
			sched_round();
			if (cond && cond(arg))
				return 1;
			/* Still runnable (work that queues itself again, a timer
			 * that cannot run here): the CPU does not idle; every
			 * SCHED_BUSY_ROUNDS rounds it spends a spin step. */
			if (++busy >= SCHED_BUSY_ROUNDS) {
				busy = 0;
				sched_relax();
			}
			if (deadline_ns != SCHED_NEVER && sched_clock_now_ns() >= deadline_ns)
				return 0;
			continue;
		}
		now = sched_clock_now_ns();
		if (now >= deadline_ns)
			return 0;
		target = timer_next_due_ns();
		if (deadline_ns < target)
			target = deadline_ns;
		if (target <= now) {
			/* A timer due by the clock that jiffies does not show yet:
			 * an idle to now brings jiffies up to date; a spin step
			 * makes sure the loop moves on. */
			sched_idle(now);
			sched_relax();
			continue;
		}
		sched_idle(target);
	}
}

void sched_run_pending(void)
{
	int i;

	if (sched_in_interrupt() || arch_irqs_disabled())
		return;
	for (i = 0; i < SCHED_PENDING_ROUNDS && sched_runnable(); i++)
		sched_round();
}

/* ---- sleeping ------------------------------------------------------------------------------ */

static bool sched_task_woken(void *p)
{
	return READ_ONCE(((struct task_struct *)p)->__state) == TASK_RUNNING;
}

long schedule_timeout(long timeout)
{
	struct task_struct *me = current;
	unsigned long expire;
	long left;

	if (READ_ONCE(me->__state) == TASK_RUNNING) {
		/* Still runnable: schedule() picks it again after whatever is due. */
		sched_run_pending();
		sched_relax();
		return timeout;
	}
	if (timeout == MAX_SCHEDULE_TIMEOUT) {
		sched_wait_until(sched_task_woken, me, SCHED_NEVER);
		WRITE_ONCE(me->__state, TASK_RUNNING);
		return timeout;
	}
	if (timeout < 0) {
		printk(KERN_ERR "schedule_timeout: wrong timeout value %lx\n", timeout);
		WRITE_ONCE(me->__state, TASK_RUNNING);
		return 0;
	}
	expire = jiffies + timeout;
	sched_wait_until(sched_task_woken, me, sched_jiffies_due_ns(expire));
	WRITE_ONCE(me->__state, TASK_RUNNING);
	left = (long)(expire - jiffies);
	return left < 0 ? 0 : left;
}

long schedule_timeout_interruptible(long timeout)
{
	__set_current_state(TASK_INTERRUPTIBLE);
	return schedule_timeout(timeout);
}

long schedule_timeout_killable(long timeout)
{
	__set_current_state(TASK_KILLABLE);
	return schedule_timeout(timeout);
}

long schedule_timeout_uninterruptible(long timeout)
{
	__set_current_state(TASK_UNINTERRUPTIBLE);
	return schedule_timeout(timeout);
}

long schedule_timeout_idle(long timeout)
{
	__set_current_state(TASK_IDLE);
	return schedule_timeout(timeout);
}

void schedule(void)
{
	schedule_timeout(MAX_SCHEDULE_TIMEOUT);
}

void io_schedule(void)
{
	schedule();
}

long io_schedule_timeout(long timeout)
{
	return schedule_timeout(timeout);
}

void yield(void)
{
	sched_run_pending();
}

int _cond_resched(void)
{
	sched_run_pending();
	return 0;
}

/* Sleep for exactly ns of machine time.  The kernel sleeps whole jiffies
 * (msleep(1) is 2 jiffies, 8 ms at HZ 250) plus timer slack; here the
 * sleeps keep the length asked for, as they did before they slept, so that
 * traces taken with the det clock stay byte-identical. */
static void sched_sleep_ns(u64 ns)
{
	might_sleep();
	sched_wait_until(NULL, NULL, sched_clock_now_ns() + ns);
}

void msleep(unsigned int msecs)
{
	sched_sleep_ns((u64)msecs * 1000000);
}

unsigned long msleep_interruptible(unsigned int msecs)
{
	sched_sleep_ns((u64)msecs * 1000000);
	return 0;		/* no signal cut it short */
}

void ssleep(unsigned int seconds)
{
	sched_sleep_ns((u64)seconds * 1000000000);
}

void usleep_range_state(unsigned long min, unsigned long max, unsigned int state)
{
	(void)max;
	(void)state;
	sched_sleep_ns((u64)min * 1000);
}

void usleep_range(unsigned long min, unsigned long max)
{
	usleep_range_state(min, max, TASK_UNINTERRUPTIBLE);
}

/* As the kernel's: short waits busy-wait (udelay), longer ones sleep. */
void fsleep(unsigned long usecs)
{
	if (usecs <= 10)
		udelay(usecs);
	else
		sched_sleep_ns((u64)usecs * 1000);
}

/* One busy-wait step: a spin step of machine time, then what the CPU would
 * take meanwhile -- a pending interrupt, or the tick's softirq: a timer
 * that came due while the loop spun runs as on the timer interrupt's way
 * out (with interrupts on, outside interrupt context). */
void cpu_relax(void)
{
	sched_relax();
	if (sched_irq_pending())
		irq_handle_pending();
	else if (!arch_irqs_disabled() && timer_due()) {
		timer_run_expired();
	}
}

/* ---- debugging checks ------------------------------------------------------------------ */

void __might_sleep(const char *file, int line)
{
	static int sched_might_sleep_warned;
	int pc = preempt_count();
	int off = arch_irqs_disabled();

	if ((!pc && !off) || sched_might_sleep_warned)
		return;
	sched_might_sleep_warned = 1;
	printk(KERN_ERR "BUG: sleeping function called from invalid context at %s:%d\n", file, line);
	printk(KERN_ERR "in_atomic(): %d, irqs_disabled(): %d, pid: %d, name: %s\n",
	       pc != 0, off, current->pid, current->comm);
	printk(KERN_ERR "preempt_count: %x, expected: 0\n", pc);
}

void __spin_bug(const void *lock, const char *msg)
{
	printk(KERN_EMERG "BUG: spinlock %s on CPU#0, %s/%d\n", msg, current->comm, current->pid);
	printk(KERN_EMERG " lock: %px, caller: %pS\n", lock, __builtin_return_address(0));
}

/* ---- mutexes ------------------------------------------------------------------------------- */

static void sched_mutex_take(struct mutex *lock, void *caller)
{
	struct task_struct *owner = READ_ONCE(lock->owner);

	if (likely(!owner)) {
		WRITE_ONCE(lock->owner, current);
		return;
	}
	/* See linux/mutex.h: the holder is below us on the one stack. */
	printk(KERN_WARNING "WARNING: mutex %px held by %s/%d, wanted by %s/%d at %pS: "
	       "cannot block on one stack, taken nested\n",
	       lock, owner->comm, owner->pid, current->comm, current->pid, caller);
	lock->nested++;
}

void mutex_lock(struct mutex *lock)
{
	might_sleep();
	sched_mutex_take(lock, __builtin_return_address(0));
}

int mutex_lock_interruptible(struct mutex *lock)
{
	might_sleep();
	sched_mutex_take(lock, __builtin_return_address(0));
	return 0;
}

int mutex_lock_killable(struct mutex *lock)
{
	might_sleep();
	sched_mutex_take(lock, __builtin_return_address(0));
	return 0;
}

void mutex_lock_io(struct mutex *lock)
{
	might_sleep();
	sched_mutex_take(lock, __builtin_return_address(0));
}

int mutex_trylock(struct mutex *lock)
{
	if (READ_ONCE(lock->owner))
		return 0;
	WRITE_ONCE(lock->owner, current);
	return 1;
}

void mutex_unlock(struct mutex *lock)
{
	if (lock->nested) {
		lock->nested--;
		return;
	}
	if (unlikely(!lock->owner))
		printk(KERN_WARNING "WARNING: mutex_unlock of unlocked mutex %px at %pS\n",
		       lock, __builtin_return_address(0));
	WRITE_ONCE(lock->owner, NULL);
}
