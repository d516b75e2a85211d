/* The machine clock, in nanoseconds since boot.  It moves with wall time
 * and jumps forward on every delay (linux/delay.h). */
#ifndef _LINUX_TIMEKEEPING_H
#define _LINUX_TIMEKEEPING_H

#include <linux/types.h>

typedef s64 ktime_t;

u64 ktime_get_ns(void);
ktime_t ktime_get(void);
static inline s64 ktime_to_ns(ktime_t kt) { return kt; }
static inline s64 ktime_to_us(ktime_t kt) { return kt / 1000; }

#endif
