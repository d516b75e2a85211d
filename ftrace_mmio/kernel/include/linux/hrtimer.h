/* High-resolution timers, minimal: one-shot and restarting timers on the
 * machine clock in nanoseconds.  Callbacks run in hardirq context from the
 * same place as timer_list callbacks (kernel/core/timer.c), as the kernel
 * runs hrtimers from the timer interrupt. */
#ifndef _LINUX_HRTIMER_H
#define _LINUX_HRTIMER_H

#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/list.h>
#include <linux/ktime.h>

#ifndef CLOCK_REALTIME
#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_MONOTONIC_RAW 4
#define CLOCK_BOOTTIME 7
#define CLOCK_TAI 11
#endif
typedef int clockid_t;

enum hrtimer_mode {
	HRTIMER_MODE_ABS = 0x00,
	HRTIMER_MODE_REL = 0x01,
	HRTIMER_MODE_PINNED = 0x02,
	HRTIMER_MODE_SOFT = 0x04,
	HRTIMER_MODE_HARD = 0x08,
	HRTIMER_MODE_ABS_PINNED = HRTIMER_MODE_ABS | HRTIMER_MODE_PINNED,
	HRTIMER_MODE_REL_PINNED = HRTIMER_MODE_REL | HRTIMER_MODE_PINNED,
	HRTIMER_MODE_ABS_SOFT = HRTIMER_MODE_ABS | HRTIMER_MODE_SOFT,
	HRTIMER_MODE_REL_SOFT = HRTIMER_MODE_REL | HRTIMER_MODE_SOFT,
	HRTIMER_MODE_ABS_PINNED_SOFT = HRTIMER_MODE_ABS_PINNED | HRTIMER_MODE_SOFT,
	HRTIMER_MODE_REL_PINNED_SOFT = HRTIMER_MODE_REL_PINNED | HRTIMER_MODE_SOFT,
	HRTIMER_MODE_ABS_HARD = HRTIMER_MODE_ABS | HRTIMER_MODE_HARD,
	HRTIMER_MODE_REL_HARD = HRTIMER_MODE_REL | HRTIMER_MODE_HARD,
	HRTIMER_MODE_ABS_PINNED_HARD = HRTIMER_MODE_ABS_PINNED | HRTIMER_MODE_HARD,
	HRTIMER_MODE_REL_PINNED_HARD = HRTIMER_MODE_REL_PINNED | HRTIMER_MODE_HARD,
};

enum hrtimer_restart {
	HRTIMER_NORESTART,
	HRTIMER_RESTART,
};

struct hrtimer {
	struct hlist_node node;		/* on the pending list while queued */
	ktime_t expires;		/* machine clock, ns */
	enum hrtimer_restart (*function)(struct hrtimer *);
	u8 state;
	u8 is_soft;
	u8 is_rel;
};

#define HRTIMER_STATE_INACTIVE 0x00
#define HRTIMER_STATE_ENQUEUED 0x01

void hrtimer_init(struct hrtimer *timer, clockid_t which_clock, enum hrtimer_mode mode);
void hrtimer_setup(struct hrtimer *timer, enum hrtimer_restart (*function)(struct hrtimer *),
		   clockid_t clock_id, enum hrtimer_mode mode);
void hrtimer_start_range_ns(struct hrtimer *timer, ktime_t tim, u64 range_ns,
			    const enum hrtimer_mode mode);
static inline void hrtimer_start(struct hrtimer *timer, ktime_t tim, const enum hrtimer_mode mode)
{
	hrtimer_start_range_ns(timer, tim, 0, mode);
}
int hrtimer_cancel(struct hrtimer *timer);
int hrtimer_try_to_cancel(struct hrtimer *timer);
u64 hrtimer_forward(struct hrtimer *timer, ktime_t now, ktime_t interval);
u64 hrtimer_forward_now(struct hrtimer *timer, ktime_t interval);
ktime_t hrtimer_cb_get_time(struct hrtimer *timer);

static inline bool hrtimer_is_queued(struct hrtimer *timer)
{
	return READ_ONCE(timer->state) & HRTIMER_STATE_ENQUEUED;
}
static inline bool hrtimer_active(const struct hrtimer *timer)
{
	return READ_ONCE(timer->state) != HRTIMER_STATE_INACTIVE;
}
static inline ktime_t hrtimer_get_expires(const struct hrtimer *timer) { return timer->expires; }
static inline s64 hrtimer_get_expires_ns(const struct hrtimer *timer) { return timer->expires; }
static inline void hrtimer_set_expires(struct hrtimer *timer, ktime_t time) { timer->expires = time; }
static inline void hrtimer_add_expires_ns(struct hrtimer *timer, u64 ns) { timer->expires += ns; }
static inline void hrtimer_restart(struct hrtimer *timer)
{
	hrtimer_start(timer, timer->expires, HRTIMER_MODE_ABS);
}

#endif
