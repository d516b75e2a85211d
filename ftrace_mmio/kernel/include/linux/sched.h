/* Tasks and sleeping on ftrace-mmio's uniprocessor kernel.
 *
 * There are no threads: the task that made the top-level call (insmod,
 * rmmod, a test's call) is the one process; a work item runs as a kworker
 * task on the stack of whoever slept or returned.  Sleeping is
 * sched_wait_until(): a loop on the sleeper's own stack that runs what the
 * one CPU would run meanwhile (interrupt handlers, threaded handlers,
 * expired timers, work) and, when nothing is runnable, lets the machine
 * clock jump to the next thing due.  kernel/core/sched.c; docs/kernel/sched.md.
 */
#ifndef _LINUX_SCHED_H
#define _LINUX_SCHED_H

#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/jiffies.h>

#define TASK_RUNNING 0x00000000
#define TASK_INTERRUPTIBLE 0x00000001
#define TASK_UNINTERRUPTIBLE 0x00000002
#define __TASK_STOPPED 0x00000004
#define __TASK_TRACED 0x00000008
#define TASK_PARKED 0x00000040
#define TASK_DEAD 0x00000080
#define TASK_WAKEKILL 0x00000100
#define TASK_WAKING 0x00000200
#define TASK_NOLOAD 0x00000400
#define TASK_NEW 0x00000800
#define TASK_FREEZABLE 0x00002000
#define TASK_KILLABLE (TASK_WAKEKILL | TASK_UNINTERRUPTIBLE)
#define TASK_IDLE (TASK_UNINTERRUPTIBLE | TASK_NOLOAD)
#define TASK_NORMAL (TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE)

#define TASK_COMM_LEN 16
#define MAX_SCHEDULE_TIMEOUT ((long)(~0UL >> 1))

#define PF_KTHREAD 0x00200000
#define PF_WQ_WORKER 0x00000020

struct task_struct {
	volatile unsigned int __state;
	unsigned int flags;
	int pid;
	int tgid;
	char comm[TASK_COMM_LEN];
	void *stack;
};

/* The task running now: the process, or the kworker running a work item. */
extern struct task_struct *__sched_current;

static __always_inline struct task_struct *get_current(void)
{
	return __sched_current;
}
#define current get_current()

#define task_pid_nr(tsk) ((tsk)->pid)
#define task_tgid_nr(tsk) ((tsk)->tgid)
#define task_is_running(task) (READ_ONCE((task)->__state) == TASK_RUNNING)
#define get_task_comm(buf, tsk) ({ __builtin_memcpy((buf), (tsk)->comm, TASK_COMM_LEN); (buf); })

#define __set_current_state(state_value) WRITE_ONCE(current->__state, (state_value))
#define set_current_state(state_value) \
	do { WRITE_ONCE(current->__state, (state_value)); __asm__ __volatile__("" ::: "memory"); } while (0)

/* Sleep until the current task is woken (wake_up_process) or the timeout
 * (jiffies) passes; returns the jiffies left, 0 if it timed out.  With
 * TASK_RUNNING set it only runs what is due and returns at once. */
long schedule_timeout(long timeout);
long schedule_timeout_interruptible(long timeout);
long schedule_timeout_killable(long timeout);
long schedule_timeout_uninterruptible(long timeout);
long schedule_timeout_idle(long timeout);
void schedule(void);
void io_schedule(void);
long io_schedule_timeout(long timeout);
void yield(void);
int wake_up_process(struct task_struct *tsk);
int wake_up_state(struct task_struct *tsk, unsigned int state);

/* A loop on the sleeper's stack: run interrupts, threaded handlers, timers
 * and work; return 1 as soon as cond(arg) holds (cond NULL: never), 0 when
 * the machine clock reaches deadline_ns (U64_MAX: no deadline). */
int sched_wait_until(bool (*cond)(void *), void *arg, u64 deadline_ns);
/* Run everything due now without moving the clock (the machine calls it
 * after each top-level call returns, as a kworker would run soon after). */
void sched_run_pending(void);
/* The machine clock without reading it as a clock (no det tick). */
u64 sched_clock_now_ns(void);

void __might_sleep(const char *file, int line);
#define might_sleep() __might_sleep(__FILE__, __LINE__)
#define might_sleep_if(cond) do { if (cond) might_sleep(); } while (0)
#define sched_annotate_sleep() do { } while (0)

/* Voluntary preemption points: run what is due (work, timers). */
int _cond_resched(void);
#define cond_resched() _cond_resched()
#define need_resched() 0

/* No signals are ever delivered to the one process. */
static inline int signal_pending(struct task_struct *p) { (void)p; return 0; }
static inline int fatal_signal_pending(struct task_struct *p) { (void)p; return 0; }
static inline int signal_pending_state(unsigned int state, struct task_struct *p)
{
	(void)state; (void)p;
	return 0;
}

#endif
