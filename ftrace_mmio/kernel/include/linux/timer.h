/* Timers on jiffies (struct timer_list).
 *
 * A pending timer sits on one list; timer_run_expired() (kernel/core/
 * timer.c) runs those whose expiry jiffy has come, earliest first, in
 * softirq context (in_softirq() is true in the callback), when the CPU
 * leaves an interrupt handler or sleeps, and after each top-level call.
 * Sleeping lets the machine clock jump straight to the next expiry.
 */
#ifndef _LINUX_TIMER_H
#define _LINUX_TIMER_H

#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/stddef.h>
#include <linux/list.h>
#include <linux/jiffies.h>

struct timer_list {
	struct hlist_node entry;	/* on the pending list while pprev != NULL */
	unsigned long expires;
	void (*function)(struct timer_list *);
	u32 flags;
};

#define TIMER_CPUMASK 0x0003FFFF
#define TIMER_MIGRATING 0x00040000
#define TIMER_DEFERRABLE 0x00080000
#define TIMER_PINNED 0x00100000
#define TIMER_IRQSAFE 0x00200000
#define TIMER_INIT_FLAGS (TIMER_DEFERRABLE | TIMER_PINNED | TIMER_IRQSAFE)

#define __TIMER_INITIALIZER(_function, _flags) { \
	.entry = { .next = NULL, .pprev = NULL }, \
	.function = (_function), \
	.flags = (_flags), \
}
#define DEFINE_TIMER(_name, _function) \
	struct timer_list _name = __TIMER_INITIALIZER(_function, 0)

static inline void timer_setup(struct timer_list *timer,
			       void (*func)(struct timer_list *), unsigned int flags)
{
	timer->entry.next = NULL;
	timer->entry.pprev = NULL;
	timer->expires = 0;
	timer->function = func;
	timer->flags = flags & TIMER_INIT_FLAGS;
}
#define timer_setup_on_stack timer_setup
#define __init_timer(t, f, fl) timer_setup(t, f, fl)
static inline void destroy_timer_on_stack(struct timer_list *timer) { (void)timer; }

/* The structure holding a timer, from the timer the callback is given. */
#define from_timer(var, callback_timer, timer_fieldname) \
	container_of(callback_timer, __typeof__(*var), timer_fieldname)
#define timer_container_of(var, callback_timer, timer_fieldname) \
	from_timer(var, callback_timer, timer_fieldname)

static inline int timer_pending(const struct timer_list *timer)
{
	return READ_ONCE(timer->entry.pprev) != NULL;
}

void add_timer(struct timer_list *timer);
void add_timer_on(struct timer_list *timer, int cpu);
void add_timer_global(struct timer_list *timer);
int mod_timer(struct timer_list *timer, unsigned long expires);
int mod_timer_pending(struct timer_list *timer, unsigned long expires);
int timer_reduce(struct timer_list *timer, unsigned long expires);
int timer_delete(struct timer_list *timer);
int timer_delete_sync(struct timer_list *timer);
int try_to_del_timer_sync(struct timer_list *timer);
int timer_shutdown(struct timer_list *timer);
int timer_shutdown_sync(struct timer_list *timer);
#define del_timer(t) timer_delete(t)
#define del_timer_sync(t) timer_delete_sync(t)
#define del_singleshot_timer_sync(t) timer_delete_sync(t)

/* Run the timers whose time has come (softirq context).  Does nothing when
 * called in interrupt context or with bottom halves disabled. */
void timer_run_expired(void);
/* Machine-clock time (ns) of the earliest pending timer or hrtimer;
 * U64_MAX if none. */
u64 timer_next_due_ns(void);

unsigned long round_jiffies(unsigned long j);
unsigned long round_jiffies_relative(unsigned long j);
unsigned long round_jiffies_up(unsigned long j);
unsigned long round_jiffies_up_relative(unsigned long j);

#endif
