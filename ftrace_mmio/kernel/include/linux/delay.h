/* Delays advance the machine clock instead of spinning or sleeping, so a
 * driver waiting 100 ms costs no wall time and device timers see it. */
#ifndef _LINUX_DELAY_H
#define _LINUX_DELAY_H

void udelay(unsigned long usecs);
void ndelay(unsigned long nsecs);
void mdelay(unsigned long msecs);
void msleep(unsigned int msecs);
unsigned long msleep_interruptible(unsigned int msecs);
void usleep_range(unsigned long min, unsigned long max);
void fsleep(unsigned long usecs);
void ssleep(unsigned int seconds);

#endif
