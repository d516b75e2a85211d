/* Interface flags (IFF_*) and struct ifreq, as SIOC* ioctls pass them. */
#ifndef _LINUX_IF_H
#define _LINUX_IF_H

#include <linux/types.h>

#define IFNAMSIZ	16
#define IFALIASZ	256

enum net_device_flags {
	IFF_UP		= 1 << 0,
	IFF_BROADCAST	= 1 << 1,
	IFF_DEBUG	= 1 << 2,
	IFF_LOOPBACK	= 1 << 3,
	IFF_POINTOPOINT	= 1 << 4,
	IFF_NOTRAILERS	= 1 << 5,
	IFF_RUNNING	= 1 << 6,
	IFF_NOARP	= 1 << 7,
	IFF_PROMISC	= 1 << 8,
	IFF_ALLMULTI	= 1 << 9,
	IFF_MASTER	= 1 << 10,
	IFF_SLAVE	= 1 << 11,
	IFF_MULTICAST	= 1 << 12,
	IFF_PORTSEL	= 1 << 13,
	IFF_AUTOMEDIA	= 1 << 14,
	IFF_DYNAMIC	= 1 << 15,
	IFF_LOWER_UP	= 1 << 16,
	IFF_DORMANT	= 1 << 17,
	IFF_ECHO	= 1 << 18,
};

/* private flags (dev->priv_flags) */
#define IFF_TX_SKB_SHARING	(1 << 16)
#define IFF_LIVE_ADDR_CHANGE	(1 << 20)

struct ifmap {
	unsigned long mem_start;
	unsigned long mem_end;
	unsigned short base_addr;
	unsigned char irq;
	unsigned char dma;
	unsigned char port;
};

struct ifreq {
	union {
		char ifrn_name[IFNAMSIZ];
	} ifr_ifrn;
	union {
		struct sockaddr_ifr { unsigned short sa_family; char sa_data[14]; } ifru_addr;
		short	ifru_flags;
		int	ifru_ivalue;
		int	ifru_mtu;
		struct ifmap ifru_map;
		char	ifru_slave[IFNAMSIZ];
		char	ifru_newname[IFNAMSIZ];
		void __user *ifru_data;
	} ifr_ifru;
};

#define ifr_name	ifr_ifrn.ifrn_name
#define ifr_flags	ifr_ifru.ifru_flags
#define ifr_mtu		ifr_ifru.ifru_mtu
#define ifr_data	ifr_ifru.ifru_data

#endif
