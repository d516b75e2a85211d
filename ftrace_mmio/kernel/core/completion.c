// SPDX-License-Identifier: GPL-2.0
/*
 * Completions.  The waiter sleeps in sched_wait_until() until done is
 * nonzero; the completer (an interrupt handler, a timer, a work item, all
 * run from inside that sleep) only counts.  done == UINT_MAX after
 * complete_all(): every wait succeeds until reinit_completion().
 */
#include <linux/kernel.h>
#include <linux/completion.h>
#include <linux/sched.h>
#include <linux/jiffies.h>

#define COMPLETION_ALL (~0U)

u64 sched_jiffies_due_ns(unsigned long j);	/* core/sched.c */

void complete(struct completion *x)
{
	if (x->done != COMPLETION_ALL)
		x->done++;
	wake_up_all(&x->wait);
}

void complete_on_current_cpu(struct completion *x)
{
	complete(x);
}

void complete_all(struct completion *x)
{
	x->done = COMPLETION_ALL;
	wake_up_all(&x->wait);
}

static bool completion_ready(void *arg)
{
	return READ_ONCE(((struct completion *)arg)->done) != 0;
}

static void completion_take(struct completion *x)
{
	if (x->done != COMPLETION_ALL)
		x->done--;
}

/* 0 if it timed out, else the jiffies left (at least 1). */
static long completion_wait(struct completion *x, long timeout)
{
	unsigned long expire;
	long left;

	might_sleep();
	if (completion_ready(x)) {
		completion_take(x);
		return timeout ? timeout : 1;
	}
	if (timeout == MAX_SCHEDULE_TIMEOUT) {
		sched_wait_until(completion_ready, x, ~0ULL);
		completion_take(x);
		return timeout;
	}
	expire = jiffies + timeout;
	if (!sched_wait_until(completion_ready, x, sched_jiffies_due_ns(expire)))
		return 0;
	completion_take(x);
	left = (long)(expire - jiffies);
	return left > 0 ? left : 1;
}

void wait_for_completion(struct completion *x)
{
	completion_wait(x, MAX_SCHEDULE_TIMEOUT);
}

void wait_for_completion_io(struct completion *x)
{
	completion_wait(x, MAX_SCHEDULE_TIMEOUT);
}

int wait_for_completion_interruptible(struct completion *x)
{
	completion_wait(x, MAX_SCHEDULE_TIMEOUT);
	return 0;
}

int wait_for_completion_killable(struct completion *x)
{
	completion_wait(x, MAX_SCHEDULE_TIMEOUT);
	return 0;
}

int wait_for_completion_state(struct completion *x, unsigned int state)
{
	(void)state;
	completion_wait(x, MAX_SCHEDULE_TIMEOUT);
	return 0;
}

unsigned long wait_for_completion_timeout(struct completion *x, unsigned long timeout)
{
	return completion_wait(x, (long)timeout);
}

unsigned long wait_for_completion_io_timeout(struct completion *x, unsigned long timeout)
{
	return completion_wait(x, (long)timeout);
}

long wait_for_completion_interruptible_timeout(struct completion *x, unsigned long timeout)
{
	return completion_wait(x, (long)timeout);
}

long wait_for_completion_killable_timeout(struct completion *x, unsigned long timeout)
{
	return completion_wait(x, (long)timeout);
}

bool try_wait_for_completion(struct completion *x)
{
	if (!READ_ONCE(x->done))
		return false;
	completion_take(x);
	return true;
}

bool completion_done(struct completion *x)
{
	return READ_ONCE(x->done) != 0;
}
