/* x86-64 address conversions for the direct map (all of RAM at PAGE_OFFSET,
 * as kmalloc hands it out) and the vmemmap array of struct page. */
#ifndef _ASM_X86_PAGE_H
#define _ASM_X86_PAGE_H

#include <linux/types.h>
#include <linux/mm_types.h>

/* PAGE_SHIFT comes from linux/mm.h; only macros below use it. */
#define PAGE_OFFSET		0xffff888000000000UL
#define VMEMMAP_START		0xffffea0000000000UL
#define vmemmap			((struct page *)VMEMMAP_START)

/* Direct-map addresses only (kmalloc, dma_alloc_coherent, page_address). */
#define __pa(x)			((unsigned long)(x) - PAGE_OFFSET)
#define __va(x)			((void *)((unsigned long)(x) + PAGE_OFFSET))

#define pfn_to_page(pfn)	(vmemmap + (pfn))
#define page_to_pfn(page)	((unsigned long)((page) - vmemmap))
#define virt_to_pfn(kaddr)	(__pa(kaddr) >> PAGE_SHIFT)
#define virt_to_page(kaddr)	pfn_to_page(__pa(kaddr) >> PAGE_SHIFT)
#define page_to_phys(page)	((phys_addr_t)page_to_pfn(page) << PAGE_SHIFT)
#define page_to_virt(page)	__va(page_to_phys(page))
#define page_address(page)	page_to_virt(page)

#endif
