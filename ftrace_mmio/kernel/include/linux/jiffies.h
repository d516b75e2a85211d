/* jiffies counts HZ ticks of the machine clock.  It is brought up to date
 * when a module function is entered and on every delay; a busy loop that
 * never calls a delay sees it stand still (as with interrupts off). */
#ifndef _LINUX_JIFFIES_H
#define _LINUX_JIFFIES_H

#include <linux/types.h>

#define HZ 250

extern unsigned long volatile jiffies;
extern u64 jiffies_64;

unsigned int jiffies_to_msecs(const unsigned long j);
unsigned long msecs_to_jiffies(const unsigned int m);
unsigned long usecs_to_jiffies(const unsigned int u);

#define time_after(a, b) ((long)((b) - (a)) < 0)
#define time_before(a, b) time_after(b, a)
#define time_after_eq(a, b) ((long)((a) - (b)) >= 0)
#define time_before_eq(a, b) time_after_eq(b, a)

#endif
