/* The configuration this machine's kernel is "built" with, and the
 * IS_ENABLED() family that tests it.  The kernel generates the CONFIG_*
 * list (autoconf.h) and forces both into every unit; here compiler_types.h
 * includes this header.  Only options whose code exists here are set:
 * x86-64, PCI with MSI/MSI-X, port I/O, DMA, HZ=250 (Debian's). */
#ifndef __LINUX_KCONFIG_H
#define __LINUX_KCONFIG_H

#define CONFIG_X86 1
#define CONFIG_X86_64 1
#define CONFIG_64BIT 1
#define CONFIG_MMU 1
#define CONFIG_PCI 1
#define CONFIG_PCI_MSI 1
#define CONFIG_HAS_IOMEM 1
#define CONFIG_HAS_IOPORT 1
#define CONFIG_HAS_IOPORT_MAP 1
#define CONFIG_HAS_DMA 1
#define CONFIG_GENERIC_IOMAP 1
#define CONFIG_HZ 250
#define CONFIG_MMIOTRACE 1
#define CONFIG_PRINTK 1
#define CONFIG_PHYS_ADDR_T_64BIT 1
#define CONFIG_ARCH_DMA_ADDR_T_64BIT 1

/* IS_ENABLED(CONFIG_FOO): 1 when CONFIG_FOO (or CONFIG_FOO_MODULE) is
 * defined as 1, else 0 -- usable in if() as well as #if.  The trick: a
 * defined-as-1 option expands to an argument list with one extra entry,
 * shifting which argument the selector picks. */
#define __ARG_PLACEHOLDER_1 0,
#define __take_second_arg(__ignored, val, ...) val
#define __and(x, y) ___and(x, y)
#define ___and(x, y) ____and(__ARG_PLACEHOLDER_##x, y)
#define ____and(arg1_or_junk, y) __take_second_arg(arg1_or_junk y, 0)
#define __or(x, y) ___or(x, y)
#define ___or(x, y) ____or(__ARG_PLACEHOLDER_##x, y)
#define ____or(arg1_or_junk, y) __take_second_arg(arg1_or_junk 1, y)
#define __is_defined(x) ___is_defined(x)
#define ___is_defined(val) ____is_defined(__ARG_PLACEHOLDER_##val)
#define ____is_defined(arg1_or_junk) __take_second_arg(arg1_or_junk 1, 0)

#define IS_BUILTIN(option) __is_defined(option)
#define IS_MODULE(option) __is_defined(option##_MODULE)
#define IS_REACHABLE(option) __or(IS_BUILTIN(option), __and(IS_MODULE(option), __is_defined(MODULE)))
#define IS_ENABLED(option) __or(IS_BUILTIN(option), IS_MODULE(option))

#endif
