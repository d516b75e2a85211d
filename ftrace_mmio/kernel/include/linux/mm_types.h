/* struct page: one per physical page frame, in the vmemmap array (asm/page.h).
 * Only its address means something here: virt_to_page()/page_address() and
 * the DMA and scatterlist calls convert through it; no field is kept up to
 * date, and the array is not mapped, so a driver that dereferences one
 * oopses.  64 bytes, as on x86-64, so page pointer arithmetic matches. */
#ifndef _LINUX_MM_TYPES_H
#define _LINUX_MM_TYPES_H

#include <linux/types.h>

struct page {
	unsigned long flags;
	unsigned long __opaque[7];
};

_Static_assert(sizeof(struct page) == 64, "struct page is 64 bytes on x86-64");

#endif
