#ifndef _LINUX_CONTAINER_OF_H
#define _LINUX_CONTAINER_OF_H

#include <linux/build_bug.h>
#include <linux/stddef.h>

/* The structure of type that holds *ptr as its member; the pointer's type
 * is checked against the member's at compile time. */
#define container_of(ptr, type, member) ({ \
	void *__mptr = (void *)(ptr); \
	_Static_assert(__same_type(*(ptr), ((type *)0)->member) || __same_type(*(ptr), void), \
		       "pointer type mismatch in container_of()"); \
	((type *)(__mptr - offsetof(type, member))); })

#define container_of_safe(ptr, type, member) ({ \
	void *__mptr = (void *)(ptr); \
	IS_ERR_OR_NULL(__mptr) ? (type *)(__mptr) : container_of(ptr, type, member); })

#endif
