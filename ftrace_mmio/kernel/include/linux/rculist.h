/* RCU-protected lists: the list.h operations with the publication order a
 * lockless reader needs (on one CPU without preemption, compiler order). */
#ifndef _LINUX_RCULIST_H
#define _LINUX_RCULIST_H

#include <linux/list.h>
#include <linux/rcupdate.h>

static inline void list_add_rcu(struct list_head *new, struct list_head *head)
{
	new->next = head->next;
	new->prev = head;
	rcu_assign_pointer(head->next, new);
	new->next->prev = new;
}

static inline void list_add_tail_rcu(struct list_head *new, struct list_head *head)
{
	struct list_head *prev = head->prev;

	new->next = head;
	new->prev = prev;
	rcu_assign_pointer(prev->next, new);
	head->prev = new;
}

/* Readers may still be on it: next stays valid, prev is poisoned. */
static inline void list_del_rcu(struct list_head *entry)
{
	__list_del_entry(entry);
	entry->prev = LIST_POISON2;
}

static inline void list_replace_rcu(struct list_head *old, struct list_head *new)
{
	new->next = old->next;
	new->prev = old->prev;
	rcu_assign_pointer(new->prev->next, new);
	new->next->prev = new;
	old->prev = LIST_POISON2;
}

#define list_entry_rcu(ptr, type, member) container_of(READ_ONCE(ptr), type, member)
#define list_first_or_null_rcu(ptr, type, member) list_first_entry_or_null(ptr, type, member)
#define list_next_or_null_rcu(head, ptr, type, member) ({ \
	struct list_head *__nr_next = READ_ONCE((ptr)->next); \
	__nr_next != (head) ? list_entry_rcu(__nr_next, type, member) : NULL; \
})
#define list_for_each_entry_rcu(pos, head, member, cond...) \
	list_for_each_entry(pos, head, member)
#define list_for_each_entry_srcu(pos, head, member, cond) \
	list_for_each_entry(pos, head, member)

static inline void hlist_add_head_rcu(struct hlist_node *n, struct hlist_head *h)
{
	struct hlist_node *first = h->first;

	n->next = first;
	n->pprev = &h->first;
	rcu_assign_pointer(h->first, n);
	if (first)
		first->pprev = &n->next;
}

static inline void hlist_del_rcu(struct hlist_node *n)
{
	__hlist_del(n);
	n->pprev = LIST_POISON2;
}

static inline void hlist_del_init_rcu(struct hlist_node *n)
{
	if (!hlist_unhashed(n)) {
		__hlist_del(n);
		n->pprev = NULL;
	}
}

#define hlist_for_each_entry_rcu(pos, head, member, cond...) \
	hlist_for_each_entry(pos, head, member)

#endif
