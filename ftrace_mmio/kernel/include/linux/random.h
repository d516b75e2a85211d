/* Random numbers.  The machine is deterministic (runs repeat, the det
 * trace clock is byte-exact), so this is a fixed-seed generator, not
 * entropy: never use it for secrets (kernel/core/random.c). */
#ifndef _LINUX_RANDOM_H
#define _LINUX_RANDOM_H

#include <linux/types.h>

void get_random_bytes(void *buf, size_t len);
u32 get_random_u32(void);
u64 get_random_u64(void);

static inline u8 get_random_u8(void) { return get_random_u32(); }
static inline u16 get_random_u16(void) { return get_random_u32(); }
static inline unsigned long get_random_long(void) { return get_random_u64(); }
static inline u32 prandom_u32_max(u32 ep_ro) { return (u32)(((u64)get_random_u32() * ep_ro) >> 32); }

#endif
