/* CRC-32 (IEEE 802.3 polynomial 0x04c11db7), both bit orders; ether_crc
 * is the big-endian one over an address, as multicast hash filters use
 * (kernel/core/netdev.c). */
#ifndef _LINUX_CRC32_H
#define _LINUX_CRC32_H

#include <linux/types.h>

u32 crc32_le(u32 crc, unsigned char const *p, size_t len);
u32 crc32_be(u32 crc, unsigned char const *p, size_t len);

#define crc32(seed, data, length) crc32_le(seed, (unsigned char const *)(data), length)
#define ether_crc(length, data) crc32_be(~0, data, length)
#define ether_crc_le(length, data) crc32_le(~0, data, length)

#endif
