/*
 * Poll a register until a condition holds or a timeout passes.
 *
 * read_poll_timeout(op, val, cond, sleep_us, timeout_us, sleep_before_read,
 * args...) runs val = op(args) until cond (which may use val) is true;
 * between reads it sleeps with usleep_range(sleep_us / 4 + 1, sleep_us)
 * (sleep_us 0: busy-waits with cpu_relax()).  After timeout_us (0: never)
 * it reads once more and gives up.  The value is 0 if cond held at the
 * end, else -ETIMEDOUT; val holds the last value read either way.  The
 * _atomic forms delay with udelay() and never sleep.
 *
 * The deadline is on ktime_get(), the machine clock: sleeping and
 * busy-waiting both move it, so the timeout ends the loop as on hardware.
 */
#ifndef _LINUX_IOPOLL_H
#define _LINUX_IOPOLL_H

#include <linux/kernel.h>
#include <linux/types.h>
#include <linux/ktime.h>
#include <linux/delay.h>
#include <linux/errno.h>
#include <linux/io.h>

#define read_poll_timeout(op, val, cond, sleep_us, timeout_us, sleep_before_read, args...) \
({ \
	u64 __rpt_timeout_us = (timeout_us); \
	unsigned long __rpt_sleep_us = (sleep_us); \
	ktime_t __rpt_deadline = ktime_add_us(ktime_get(), __rpt_timeout_us); \
	might_sleep_if(__rpt_sleep_us != 0); \
	if ((sleep_before_read) && __rpt_sleep_us) \
		usleep_range((__rpt_sleep_us >> 2) + 1, __rpt_sleep_us); \
	for (;;) { \
		(val) = op(args); \
		if (cond) \
			break; \
		if (__rpt_timeout_us && ktime_compare(ktime_get(), __rpt_deadline) > 0) { \
			(val) = op(args); \
			break; \
		} \
		if (__rpt_sleep_us) \
			usleep_range((__rpt_sleep_us >> 2) + 1, __rpt_sleep_us); \
		cpu_relax(); \
	} \
	(cond) ? 0 : -ETIMEDOUT; \
})

#define read_poll_timeout_atomic(op, val, cond, delay_us, timeout_us, delay_before_read, args...) \
({ \
	u64 __rpt_timeout_us = (timeout_us); \
	unsigned long __rpt_delay_us = (delay_us); \
	ktime_t __rpt_deadline = ktime_add_us(ktime_get(), __rpt_timeout_us); \
	if ((delay_before_read) && __rpt_delay_us) \
		udelay(__rpt_delay_us); \
	for (;;) { \
		(val) = op(args); \
		if (cond) \
			break; \
		if (__rpt_timeout_us && ktime_compare(ktime_get(), __rpt_deadline) > 0) { \
			(val) = op(args); \
			break; \
		} \
		if (__rpt_delay_us) \
			udelay(__rpt_delay_us); \
		cpu_relax(); \
	} \
	(cond) ? 0 : -ETIMEDOUT; \
})

/* The same with one argument, the address: readx_poll_timeout(readl, ...). */
#define readx_poll_timeout(op, addr, val, cond, sleep_us, timeout_us) \
	read_poll_timeout(op, val, cond, sleep_us, timeout_us, false, addr)
#define readx_poll_timeout_atomic(op, addr, val, cond, delay_us, timeout_us) \
	read_poll_timeout_atomic(op, val, cond, delay_us, timeout_us, false, addr)

#define readb_poll_timeout(addr, val, cond, delay_us, timeout_us) \
	readx_poll_timeout(readb, addr, val, cond, delay_us, timeout_us)
#define readb_poll_timeout_atomic(addr, val, cond, delay_us, timeout_us) \
	readx_poll_timeout_atomic(readb, addr, val, cond, delay_us, timeout_us)
#define readw_poll_timeout(addr, val, cond, delay_us, timeout_us) \
	readx_poll_timeout(readw, addr, val, cond, delay_us, timeout_us)
#define readw_poll_timeout_atomic(addr, val, cond, delay_us, timeout_us) \
	readx_poll_timeout_atomic(readw, addr, val, cond, delay_us, timeout_us)
#define readl_poll_timeout(addr, val, cond, delay_us, timeout_us) \
	readx_poll_timeout(readl, addr, val, cond, delay_us, timeout_us)
#define readl_poll_timeout_atomic(addr, val, cond, delay_us, timeout_us) \
	readx_poll_timeout_atomic(readl, addr, val, cond, delay_us, timeout_us)
#define readq_poll_timeout(addr, val, cond, delay_us, timeout_us) \
	readx_poll_timeout(readq, addr, val, cond, delay_us, timeout_us)
#define readq_poll_timeout_atomic(addr, val, cond, delay_us, timeout_us) \
	readx_poll_timeout_atomic(readq, addr, val, cond, delay_us, timeout_us)
#define readb_relaxed_poll_timeout(addr, val, cond, delay_us, timeout_us) \
	readx_poll_timeout(readb_relaxed, addr, val, cond, delay_us, timeout_us)
#define readb_relaxed_poll_timeout_atomic(addr, val, cond, delay_us, timeout_us) \
	readx_poll_timeout_atomic(readb_relaxed, addr, val, cond, delay_us, timeout_us)
#define readw_relaxed_poll_timeout(addr, val, cond, delay_us, timeout_us) \
	readx_poll_timeout(readw_relaxed, addr, val, cond, delay_us, timeout_us)
#define readw_relaxed_poll_timeout_atomic(addr, val, cond, delay_us, timeout_us) \
	readx_poll_timeout_atomic(readw_relaxed, addr, val, cond, delay_us, timeout_us)
#define readl_relaxed_poll_timeout(addr, val, cond, delay_us, timeout_us) \
	readx_poll_timeout(readl_relaxed, addr, val, cond, delay_us, timeout_us)
#define readl_relaxed_poll_timeout_atomic(addr, val, cond, delay_us, timeout_us) \
	readx_poll_timeout_atomic(readl_relaxed, addr, val, cond, delay_us, timeout_us)
#define readq_relaxed_poll_timeout(addr, val, cond, delay_us, timeout_us) \
	readx_poll_timeout(readq_relaxed, addr, val, cond, delay_us, timeout_us)
#define readq_relaxed_poll_timeout_atomic(addr, val, cond, delay_us, timeout_us) \
	readx_poll_timeout_atomic(readq_relaxed, addr, val, cond, delay_us, timeout_us)

#endif
