// SPDX-License-Identifier: GPL-2.0-only
/*
 * get_random_bytes & co.: xorshift64* from a fixed seed.  The machine must
 * repeat itself run after run (the det trace clock is byte-exact), so this
 * is deliberately not entropy; it is what random MAC addresses and
 * similar non-secret choices need.
 *
 * Files of the core are one translation unit: statics carry "random_".
 */
#include <linux/random.h>
#include <linux/string.h>

static u64 random_state = 0x9e3779b97f4a7c15ULL;

u64 get_random_u64(void)
{
	u64 x = random_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	random_state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

u32 get_random_u32(void)
{
	return get_random_u64() >> 32;
}

void get_random_bytes(void *buf, size_t len)
{
	u8 *p = buf;

	while (len) {
		u64 v = get_random_u64();
		size_t n = len < sizeof(v) ? len : sizeof(v);

		memcpy(p, &v, n);
		p += n;
		len -= n;
	}
}
