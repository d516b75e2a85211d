/* Notifier chains: priority order, stop, self-removal, duplicates; and the
 * panic chain's emptiness, for tests/test_intree_pvpanic.py. */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/notifier.h>
#include <linux/panic_notifier.h>

static ATOMIC_NOTIFIER_HEAD(nt_chain);
static char nt_order[16];
static int nt_len;

static int nt_record(struct notifier_block *nb, char tag, int ret)
{
	if (nt_len < (int)sizeof(nt_order) - 1)
		nt_order[nt_len++] = tag;
	return ret;
}

static int nt_a(struct notifier_block *nb, unsigned long v, void *d) { return nt_record(nb, 'a', NOTIFY_OK); }
static int nt_b(struct notifier_block *nb, unsigned long v, void *d) { return nt_record(nb, 'b', NOTIFY_DONE); }
static int nt_c(struct notifier_block *nb, unsigned long v, void *d)
{
	return nt_record(nb, 'c', v == 1 ? NOTIFY_STOP : NOTIFY_DONE);
}
static int nt_d(struct notifier_block *nb, unsigned long v, void *d);

static struct notifier_block nt_nb_a = { .notifier_call = nt_a, .priority = 0 };
static struct notifier_block nt_nb_b = { .notifier_call = nt_b, .priority = 10 };
static struct notifier_block nt_nb_c = { .notifier_call = nt_c, .priority = 10 };
static struct notifier_block nt_nb_d = { .notifier_call = nt_d, .priority = 5 };

/* Unregisters itself from inside the walk. */
static int nt_d(struct notifier_block *nb, unsigned long v, void *d)
{
	atomic_notifier_chain_unregister(&nt_chain, nb);
	return nt_record(nb, 'd', NOTIFY_DONE);
}

/* The call order as a number: letters a..d as digits 1..4, in order. */
static long nt_order_code(void)
{
	long code = 0;

	for (int i = 0; i < nt_len; i++)
		code = code * 10 + (nt_order[i] - 'a' + 1);
	nt_len = 0;
	return code;
}

long nt_run(unsigned long val)
{
	int ret = atomic_notifier_call_chain(&nt_chain, val, NULL);

	return nt_order_code() * 100000 + ret;
}

int nt_register_twice(void)
{
	return atomic_notifier_chain_register(&nt_chain, &nt_nb_a);
}

int nt_unregister_unknown(void)
{
	static struct notifier_block stray = { .notifier_call = nt_a };

	return atomic_notifier_chain_unregister(&nt_chain, &stray);
}

int nt_panic_chain_empty(void)
{
	return atomic_notifier_call_chain_is_empty(&panic_notifier_list);
}

int nt_errno_round_trip(int err)
{
	return notifier_to_errno(notifier_from_errno(err));
}

static int __init nt_init(void)
{
	atomic_notifier_chain_register(&nt_chain, &nt_nb_a);
	atomic_notifier_chain_register(&nt_chain, &nt_nb_b);
	atomic_notifier_chain_register(&nt_chain, &nt_nb_c);
	atomic_notifier_chain_register(&nt_chain, &nt_nb_d);
	return 0;
}
module_init(nt_init);

static void __exit nt_exit(void)
{
	atomic_notifier_chain_unregister(&nt_chain, &nt_nb_a);
	atomic_notifier_chain_unregister(&nt_chain, &nt_nb_b);
	atomic_notifier_chain_unregister(&nt_chain, &nt_nb_c);
}
module_exit(nt_exit);

MODULE_LICENSE("GPL");
