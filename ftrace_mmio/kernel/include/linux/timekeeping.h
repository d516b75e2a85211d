/* Reading the machine clock (docs/kernel/time.md): nanoseconds since boot
 * as the driver lived them -- virtual while module code runs (device
 * accesses, delays and spinning move it; computation does not), wall time
 * while the machine is idle.  A read costs a little machine time, more when
 * the same place reads it again with nothing else happening in between
 * (a spinning reader backs off), so deadline loops end. */
#ifndef _LINUX_TIMEKEEPING_H
#define _LINUX_TIMEKEEPING_H

#include <linux/types.h>

typedef s64 ktime_t;

struct timespec64 {
	time64_t tv_sec;
	long tv_nsec;
};

/* CLOCK_MONOTONIC; boottime and raw are the same clock here (no suspend,
 * no frequency steering). */
ktime_t ktime_get(void);
u64 ktime_get_ns(void);
ktime_t ktime_get_raw(void);
u64 ktime_get_raw_ns(void);
ktime_t ktime_get_boottime(void);
u64 ktime_get_boottime_ns(void);
u64 ktime_get_mono_fast_ns(void);
time64_t ktime_get_seconds(void);
void ktime_get_ts64(struct timespec64 *ts);

/* CLOCK_REALTIME: the host's time at boot plus the machine clock. */
ktime_t ktime_get_real(void);
u64 ktime_get_real_ns(void);
time64_t ktime_get_real_seconds(void);
void ktime_get_real_ts64(struct timespec64 *ts);

static inline s64 ktime_to_ns(ktime_t kt) { return kt; }
static inline s64 ktime_to_us(ktime_t kt) { return kt / 1000; }

#endif
