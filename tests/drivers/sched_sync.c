// SPDX-License-Identifier: GPL-2.0-only
/*
 * Locks, atomics, bit operations, lists and kref as a driver uses them;
 * each t_* function logs what it computed (tests/test_kernel_sched.py).
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/atomic.h>
#include <linux/bitops.h>
#include <linux/list.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/irqflags.h>
#include <linux/preempt.h>
#include <linux/delay.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <linux/rculist.h>
#include <linux/jiffies.h>

static DEFINE_SPINLOCK(slock);
static DEFINE_MUTEX(mtx);
static DEFINE_RWLOCK(rwl);

int t_locks(void)
{
	unsigned long flags;
	int in_lock_pc, irqs_off, ok, after, got;

	spin_lock(&slock);
	in_lock_pc = preempt_count();
	ok = spin_is_locked(&slock) && !spin_trylock(&slock);
	spin_unlock(&slock);
	after = preempt_count();
	got = spin_trylock(&slock);
	pr_info("spin_lock: preempt_count %d locked %d after %d trylock %d\n", in_lock_pc, ok,
		after, got);
	spin_unlock(&slock);

	spin_lock_irqsave(&slock, flags);
	irqs_off = irqs_disabled();
	spin_unlock_irqrestore(&slock, flags);
	pr_info("spin_lock_irqsave: irqs off %d, restored on %d\n", irqs_off, !irqs_disabled());

	spin_lock_bh(&slock);
	pr_info("spin_lock_bh: in_softirq %d\n", !!in_softirq());
	spin_unlock_bh(&slock);

	read_lock(&rwl);
	read_lock(&rwl);
	read_unlock(&rwl);
	read_unlock(&rwl);
	write_lock_irqsave(&rwl, flags);
	write_unlock_irqrestore(&rwl, flags);

	mutex_lock(&mtx);
	ok = mutex_is_locked(&mtx);
	got = mutex_trylock(&mtx);
	pr_info("mutex: locked %d trylock %d\n", ok, got);
	mutex_unlock(&mtx);
	ok = !mutex_is_locked(&mtx);
	got = mutex_trylock(&mtx);
	pr_info("mutex: unlocked %d trylock %d\n", ok, got);
	mutex_unlock(&mtx);
	return 0;
}

/* Debug reports, as CONFIG_DEBUG_SPINLOCK / DEBUG_ATOMIC_SLEEP give them. */
int t_lock_bugs(void)
{
	spin_lock(&slock);
	spin_lock(&slock);	/* recursion: reported, goes on */
	spin_unlock(&slock);
	msleep(1);		/* sleeping while atomic */
	return 0;
}

/* A work item taking a mutex the sleeping process holds. */
static struct work_struct mtx_work;
static int mtx_work_ran;

static void mtx_work_fn(struct work_struct *w)
{
	mutex_lock(&mtx);
	mtx_work_ran = 1;
	mutex_unlock(&mtx);
}

int t_mutex_contended(void)
{
	INIT_WORK(&mtx_work, mtx_work_fn);
	mutex_lock(&mtx);
	schedule_work(&mtx_work);
	msleep(1);
	pr_info("mutex contended: work ran %d still locked %d\n", mtx_work_ran, mutex_is_locked(&mtx));
	mutex_unlock(&mtx);
	pr_info("mutex contended: unlocked %d\n", !mutex_is_locked(&mtx));
	return 0;
}

/* Scope-based guards (linux/cleanup.h). */
static int guarded_mutex(void)
{
	guard(mutex)(&mtx);
	return mutex_is_locked(&mtx);
}

int t_guards(void)
{
	int in_mutex, after_mutex, in_irqsave = 0, after_irqsave, loops = 0, fail = 0, ran = 0;

	in_mutex = guarded_mutex();
	after_mutex = mutex_is_locked(&mtx);
	scoped_guard(spinlock_irqsave, &slock) {
		in_irqsave = irqs_disabled() && spin_is_locked(&slock);
		loops++;
	}
	after_irqsave = !irqs_disabled() && !spin_is_locked(&slock);
	mutex_lock(&mtx);
	scoped_cond_guard(mutex_try, fail = 1, &mtx)
		ran = 1;
	mutex_unlock(&mtx);
	scoped_cond_guard(mutex_try, fail = 2, &mtx)
		ran = 2;
	pr_info("guards: mutex %d after %d irqsave %d after %d once %d try %d/%d unlocked %d\n",
		in_mutex, after_mutex, in_irqsave, after_irqsave, loops, fail, ran,
		!mutex_is_locked(&mtx));
	return 0;
}

/* RCU: callbacks wait for readers; kfree_rcu frees after a grace period. */
struct robj {
	int v;
	struct list_head node;
	struct rcu_head rcu;
};

static LIST_HEAD(rlist);
static struct robj rstatic = { .v = 2 };
static int rcb_ran;

static void rcb(struct rcu_head *h)
{
	rcb_ran += container_of(h, struct robj, rcu)->v;
}

int t_rcu(void)
{
	struct robj *o = kzalloc(sizeof(*o), GFP_KERNEL), *pos;
	int sum = 0, before, in_reader;
	unsigned long j;

	if (!o)
		return -12;
	o->v = 5;
	rcb_ran = 0;
	list_add_rcu(&o->node, &rlist);
	list_add_tail_rcu(&rstatic.node, &rlist);
	rcu_read_lock();
	list_for_each_entry_rcu(pos, &rlist, node)
		sum += pos->v;
	call_rcu(&rstatic.rcu, rcb);
	before = rcb_ran;
	j = jiffies;
	while (jiffies == j)	/* a jiffy passes; the tick runs timers, not callbacks */
		cpu_relax();
	in_reader = rcb_ran;
	rcu_read_unlock();
	msleep(1);
	list_del_rcu(&o->node);
	list_del_rcu(&rstatic.node);
	kfree_rcu(o, rcu);
	synchronize_rcu();
	rcu_barrier();
	pr_info("rcu: sum %d before %d in reader %d after %d freed %d\n", sum, before, in_reader,
		rcb_ran, ksize(o) == 0);
	return 0;
}

int t_atomics(void)
{
	atomic_t a = ATOMIC_INIT(5);
	atomic64_t b = ATOMIC64_INIT(1LL << 40);
	atomic_long_t c = ATOMIC_LONG_INIT(-1);
	int r1, r2, r3, r4, r5;
	unsigned long x = 3, o1, o2, o3;
	long l;

	atomic_inc(&a);
	r1 = atomic_add_return(4, &a);		/* 10 */
	r2 = atomic_dec_and_test(&a);		/* 9: false */
	r3 = atomic_cmpxchg(&a, 9, 100);	/* old 9 */
	r4 = atomic_xchg(&a, 1);		/* old 100 */
	r5 = atomic_dec_and_test(&a);		/* true */
	pr_info("atomic: %d %d %d %d %d now %d\n", r1, r2, r3, r4, r5, atomic_read(&a));
	atomic64_add(5, &b);
	r1 = atomic64_inc_not_zero(&b);
	pr_info("atomic64: %lld inc_not_zero %d\n", atomic64_read(&b), r1);
	r1 = atomic_long_inc_and_test(&c);	/* -1 -> 0: true */
	l = atomic_long_fetch_add_unless(&c, 1, 0);	/* 0: unchanged */
	pr_info("atomic_long: inc_and_test %d fetch_add_unless %ld now %ld\n", r1, l,
		atomic_long_read(&c));
	o1 = xchg(&x, 7UL);
	o2 = cmpxchg(&x, 7UL, 9UL);
	o3 = cmpxchg(&x, 7UL, 11UL);
	pr_info("xchg %lu cmpxchg %lu %lu x %lu\n", o1, o2, o3, x);
	return 0;
}

int t_bitops(void)
{
	DECLARE_BITMAP(map, 130);
	unsigned long bit, sum = 0;
	int t1, t2, t3;

	memset(map, 0, sizeof(map));
	set_bit(3, map);
	set_bit(64, map);
	__set_bit(129, map);
	t1 = test_and_set_bit(64, map);		/* 1 */
	t2 = test_and_clear_bit(3, map);	/* 1 */
	t3 = test_bit(3, map);			/* 0 */
	change_bit(5, map);
	for_each_set_bit(bit, map, 130)
		sum += bit;
	pr_info("bitops: %d %d %d sum %lu first %lu next %lu zero %lu last %lu\n", t1, t2, t3, sum,
		find_first_bit(map, 130), find_next_bit(map, 130, 6), find_first_zero_bit(map, 130),
		find_last_bit(map, 130));
	pr_info("bitops: ffs %d fls %d __ffs %lu __fls %lu ffz %lu hweight %u %lu fls64 %d\n",
		ffs(0x50), fls(0x50), __ffs(0x50UL), __fls(0x50UL), ffz(0xffUL), hweight32(0xf0f0),
		hweight64(~0ULL), fls64(1ULL << 40));
	return 0;
}

struct item {
	int v;
	struct list_head node;
};

int t_lists(void)
{
	LIST_HEAD(head);
	struct item items[5], *it, *tmp;
	char buf[64];
	int n = 0, i;

	for (i = 0; i < 5; i++) {
		items[i].v = i;
		if (i & 1)
			list_add(&items[i].node, &head);	/* front */
		else
			list_add_tail(&items[i].node, &head);	/* back */
	}
	list_for_each_entry(it, &head, node)
		n += scnprintf(buf + n, sizeof(buf) - n, "%d", it->v);
	list_for_each_entry_safe(it, tmp, &head, node)
		if (it->v == 2)
			list_del(&it->node);
	list_move_tail(&items[3].node, &head);
	n += scnprintf(buf + n, sizeof(buf) - n, " ->");
	list_for_each_entry_reverse(it, &head, node)
		n += scnprintf(buf + n, sizeof(buf) - n, "%d", it->v);
	pr_info("list: %s count %zu first %d last %d empty %d\n", buf, list_count_nodes(&head),
		list_first_entry(&head, struct item, node)->v,
		list_last_entry(&head, struct item, node)->v, list_empty(&head));
	return 0;
}

struct obj {
	struct kref ref;
	int released;
};

static struct obj *released_obj;

static void obj_release(struct kref *ref)
{
	released_obj = container_of(ref, struct obj, ref);
}

int t_kref(void)
{
	struct obj o = { .released = 0 };
	int p1, p2;

	kref_init(&o.ref);
	kref_get(&o.ref);
	p1 = kref_put(&o.ref, obj_release);
	p2 = kref_put(&o.ref, obj_release);
	pr_info("kref: put %d %d released %d read %u\n", p1, p2, released_obj == &o, kref_read(&o.ref));
	return 0;
}

static int __init sched_sync_init(void)
{
	return 0;
}

static void __exit sched_sync_exit(void)
{
}

module_init(sched_sync_init);
module_exit(sched_sync_exit);
MODULE_LICENSE("GPL");
