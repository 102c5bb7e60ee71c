/* SPDX-License-Identifier: MIT */
/* Intrusive doubly linked list, after the kernel's list_head. Callers provide the locking. */
#ifndef UMDEV_UTIL_LIST_H
#define UMDEV_UTIL_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct umdev_list {
	struct umdev_list *next, *prev;
};

#define UMDEV_LIST_INIT(name)                                                                      \
	{                                                                                          \
		&(name), &(name)                                                                   \
	}
/* the public umdev_container_of() of umdev/mdev.h, for code that does not include it */
#ifndef umdev_container_of
#define umdev_container_of(ptr, type, member)                                                      \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#endif

static inline void umdev_list_init(struct umdev_list *l)
{
	l->next = l->prev = l;
}

static inline bool umdev_list_empty(const struct umdev_list *l)
{
	return l->next == l;
}

static inline void umdev_list_add_tail(struct umdev_list *head, struct umdev_list *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

static inline void umdev_list_del(struct umdev_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = n;
}

#define umdev_list_entry(ptr, type, member) umdev_container_of(ptr, type, member)
#define umdev_list_for_each(pos, head)                                                             \
	for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)
#define umdev_list_for_each_safe(pos, tmp, head)                                                   \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head);                           \
	     (pos) = (tmp), (tmp) = (pos)->next)

#endif
