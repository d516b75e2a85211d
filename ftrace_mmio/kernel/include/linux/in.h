/* IP protocol numbers. */
#ifndef _LINUX_IN_H
#define _LINUX_IN_H

#include <linux/types.h>

enum {
	IPPROTO_IP = 0,
	IPPROTO_ICMP = 1,
	IPPROTO_IGMP = 2,
	IPPROTO_TCP = 6,
	IPPROTO_UDP = 17,
	IPPROTO_IPV6 = 41,
	IPPROTO_GRE = 47,
	IPPROTO_SCTP = 132,
	IPPROTO_RAW = 255,
};

#endif
