/* Socket addresses, as network drivers receive them (ndo_set_mac_address
 * gets a struct sockaddr).  There are no sockets on this machine. */
#ifndef _LINUX_SOCKET_H
#define _LINUX_SOCKET_H

#include <linux/types.h>

typedef unsigned short __kernel_sa_family_t;
typedef __kernel_sa_family_t sa_family_t;

struct sockaddr {
	sa_family_t	sa_family;	/* address family, AF_xxx */
	char		sa_data[14];	/* up to 14 bytes of address */
};

#define AF_UNSPEC	0
#define AF_UNIX		1
#define AF_INET		2
#define AF_INET6	10
#define AF_PACKET	17

#endif
