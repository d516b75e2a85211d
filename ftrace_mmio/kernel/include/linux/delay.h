/* Delays (udelay, ndelay, mdelay) busy-wait: they advance the machine clock
 * and nothing else runs.  Sleeps (msleep ...: kernel/core/sched.c) let
 * interrupts, timers and work run meanwhile, and take exactly the time asked
 * for (not whole jiffies; docs/kernel/sched.md).  Neither costs wall time. */
#ifndef _LINUX_DELAY_H
#define _LINUX_DELAY_H

void udelay(unsigned long usecs);
void ndelay(unsigned long nsecs);
void mdelay(unsigned long msecs);
void msleep(unsigned int msecs);
unsigned long msleep_interruptible(unsigned int msecs);
void usleep_range(unsigned long min, unsigned long max);
void usleep_range_state(unsigned long min, unsigned long max, unsigned int state);
#define usleep_idle_range(min, max) usleep_range_state(min, max, 0x0402)	/* TASK_IDLE */
void fsleep(unsigned long usecs);
void ssleep(unsigned int seconds);

#endif
