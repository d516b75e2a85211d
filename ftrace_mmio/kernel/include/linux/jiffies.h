/* jiffies counts HZ ticks of the machine clock (docs/kernel/time.md).  The
 * variable is updated whenever the clock crosses a tick, so a loop that
 * waits for it ends as long as something lets time pass in it: cpu_relax(),
 * a delay, a device access, a clock read.  A loop that only re-reads the
 * variable spins until the run budget stops it (a kernel with interrupts
 * off would hang the same way). */
#ifndef _LINUX_JIFFIES_H
#define _LINUX_JIFFIES_H

#include <linux/limits.h>
#include <linux/types.h>

#define HZ 250
#define TICK_NSEC (1000000000UL / HZ)
#define MAX_JIFFY_OFFSET ((LONG_MAX >> 1) - 1)

extern unsigned long volatile jiffies;
extern u64 jiffies_64;

u64 get_jiffies_64(void);

unsigned int jiffies_to_msecs(const unsigned long j);
unsigned int jiffies_to_usecs(const unsigned long j);
u64 jiffies64_to_nsecs(u64 j);
u64 jiffies64_to_msecs(u64 j);
unsigned long msecs_to_jiffies(const unsigned int m);
unsigned long usecs_to_jiffies(const unsigned int u);
unsigned long nsecs_to_jiffies(u64 n);
u64 nsecs_to_jiffies64(u64 n);

static inline u64 jiffies_to_nsecs(const unsigned long j)
{
	return (u64)jiffies_to_usecs(j) * 1000;
}

/* Wrap-safe comparisons: the difference as a signed number. */
#define time_after(a, b) ((long)((b) - (a)) < 0)
#define time_before(a, b) time_after(b, a)
#define time_after_eq(a, b) ((long)((a) - (b)) >= 0)
#define time_before_eq(a, b) time_after_eq(b, a)
#define time_in_range(a, b, c) (time_after_eq(a, b) && time_before_eq(a, c))
#define time_in_range_open(a, b, c) (time_after_eq(a, b) && time_before(a, c))

#define time_after64(a, b) ((s64)((b) - (a)) < 0)
#define time_before64(a, b) time_after64(b, a)
#define time_after_eq64(a, b) ((s64)((a) - (b)) >= 0)
#define time_before_eq64(a, b) time_after_eq64(b, a)
#define time_in_range64(a, b, c) (time_after_eq64(a, b) && time_before_eq64(a, c))

#define time_is_before_jiffies(a) time_after(jiffies, a)
#define time_is_after_jiffies(a) time_before(jiffies, a)
#define time_is_before_eq_jiffies(a) time_after_eq(jiffies, a)
#define time_is_after_eq_jiffies(a) time_before_eq(jiffies, a)
#define time_is_before_jiffies64(a) time_after64(get_jiffies_64(), a)
#define time_is_after_jiffies64(a) time_before64(get_jiffies_64(), a)

#endif
