/* Rate limiting as printk_ratelimited uses it: at most `burst` callers
 * pass per `interval` jiffies; at the next interval the number turned away
 * is reported once ("<func>: N callbacks suppressed"), as the kernel does.
 * One CPU, no preemption: no lock is needed around the counters. */
#ifndef _LINUX_RATELIMIT_H
#define _LINUX_RATELIMIT_H

#include <linux/types.h>
#include <linux/jiffies.h>
#include <linux/printk.h>

#define DEFAULT_RATELIMIT_INTERVAL (5 * HZ)
#define DEFAULT_RATELIMIT_BURST 10
#define RATELIMIT_MSG_ON_RELEASE 1

struct ratelimit_state {
	int interval;
	int burst;
	int printed;
	int missed;
	unsigned long begin;
	unsigned long flags;
};

#define RATELIMIT_STATE_INIT_FLAGS(name, interval_init, burst_init, flags_init) { \
		.interval = interval_init, .burst = burst_init, .flags = flags_init }
#define RATELIMIT_STATE_INIT(name, interval_init, burst_init) \
	RATELIMIT_STATE_INIT_FLAGS(name, interval_init, burst_init, 0)
#define RATELIMIT_STATE_INIT_DISABLED RATELIMIT_STATE_INIT(ratelimit_state, 0, DEFAULT_RATELIMIT_BURST)
#define DEFINE_RATELIMIT_STATE(name, interval_init, burst_init) \
	struct ratelimit_state name = RATELIMIT_STATE_INIT(name, interval_init, burst_init)

static inline void ratelimit_state_init(struct ratelimit_state *rs, int interval, int burst)
{
	*rs = (struct ratelimit_state){ .interval = interval, .burst = burst };
}

static inline void ratelimit_set_flags(struct ratelimit_state *rs, unsigned long flags)
{
	rs->flags = flags;
}

static inline void ratelimit_state_exit(struct ratelimit_state *rs)
{
	if (!(rs->flags & RATELIMIT_MSG_ON_RELEASE))
		return;
	if (rs->missed) {
		printk(KERN_WARNING "%s: %d output lines suppressed due to ratelimiting\n",
		       "ratelimit", rs->missed);
		rs->missed = 0;
	}
}

/* 1: go ahead; 0: suppressed. */
static inline int ___ratelimit(struct ratelimit_state *rs, const char *func)
{
	unsigned long now = jiffies;

	if (!rs->interval)
		return 1;
	if (!rs->begin)
		rs->begin = now;
	if (time_after(now, rs->begin + rs->interval)) {
		if (rs->missed && !(rs->flags & RATELIMIT_MSG_ON_RELEASE))
			printk(KERN_WARNING "%s: %d callbacks suppressed\n", func, rs->missed);
		rs->begin = now;
		rs->printed = 0;
		rs->missed = 0;
	}
	if (rs->burst && rs->burst > rs->printed) {
		rs->printed++;
		return 1;
	}
	rs->missed++;
	return 0;
}
#define __ratelimit(state) ___ratelimit(state, __func__)

#endif
