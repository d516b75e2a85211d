/* Network devices, as far as a driver's probe and remove go.
 *
 * What exists (kernel/core/netdev.c; docs/kernel/netdev.md):
 * alloc_netdev_mqs/alloc_etherdev (the private area after the struct,
 * netdev_priv), free_netdev, register_netdev/unregister_netdev (names
 * eth0, eth1 ... from "eth%d", ifindex, the netdevice notifier chain),
 * NAPI registration (netif_napi_add*, netif_napi_del, napi_enable and
 * napi_disable as state bits), carrier and queue state bits, the TX queue
 * array, hardware-address setting, net_device_ops and ethtool_ops stored,
 * netdev_printk & co. printing as the kernel does
 * ("8139cp 0000:00:02.0 eth0: ...").
 *
 * What does not: packets.  No socket, qdisc or softirq ever calls
 * ndo_start_xmit or a NAPI poll; nothing opens a device (ndo_open is
 * stored, not called).  Functions of the packet path are declared so
 * drivers compile and stop the machine naming themselves if called. */
#ifndef _LINUX_NETDEVICE_H
#define _LINUX_NETDEVICE_H

#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/kernel.h>
#include <linux/limits.h>
#include <linux/jiffies.h>
#include <linux/list.h>
#include <linux/bitops.h>
#include <linux/atomic.h>
#include <linux/spinlock.h>
#include <linux/timer.h>
#include <linux/device.h>
#include <linux/printk.h>
#include <linux/notifier.h>
#include <linux/if.h>
#include <linux/socket.h>
#include <linux/if_ether.h>
#include <linux/netdev_features.h>
#include <linux/skbuff.h>
#include <linux/ethtool.h>
#include <linux/interrupt.h>

struct ethtool_ops;
struct header_ops;
struct netlink_ext_ack;
struct ifreq;
struct napi_struct;

#define MAX_ADDR_LEN	32		/* largest hardware address */
#define NETDEV_ALIGN	32		/* the private area's alignment */

/* Driver transmit return codes */
enum netdev_tx {
	__NETDEV_TX_MIN	 = INT_MIN,
	NETDEV_TX_OK	 = 0x00,
	NETDEV_TX_BUSY	 = 0x10,
};
typedef enum netdev_tx netdev_tx_t;

enum gro_result {
	GRO_MERGED,
	GRO_MERGED_FREE,
	GRO_HELD,
	GRO_NORMAL,
	GRO_CONSUMED,
};
typedef enum gro_result gro_result_t;

/* The counters ndo_get_stats returns (the kernel's names and order). */
struct net_device_stats {
	unsigned long	rx_packets;
	unsigned long	tx_packets;
	unsigned long	rx_bytes;
	unsigned long	tx_bytes;
	unsigned long	rx_errors;
	unsigned long	tx_errors;
	unsigned long	rx_dropped;
	unsigned long	tx_dropped;
	unsigned long	multicast;
	unsigned long	collisions;
	unsigned long	rx_length_errors;
	unsigned long	rx_over_errors;
	unsigned long	rx_crc_errors;
	unsigned long	rx_frame_errors;
	unsigned long	rx_fifo_errors;
	unsigned long	rx_missed_errors;
	unsigned long	tx_aborted_errors;
	unsigned long	tx_carrier_errors;
	unsigned long	tx_fifo_errors;
	unsigned long	tx_heartbeat_errors;
	unsigned long	tx_window_errors;
	unsigned long	rx_compressed;
	unsigned long	tx_compressed;
};

/* Hardware address lists (unicast and multicast filters). */
struct netdev_hw_addr {
	struct list_head	list;
	unsigned char		addr[MAX_ADDR_LEN];
	unsigned char		type;
	bool			global_use;
	int			sync_cnt;
	int			refcount;
	int			synced;
};

struct netdev_hw_addr_list {
	struct list_head	list;
	int			count;
};

#define netdev_hw_addr_list_count(l)	((l)->count)
#define netdev_hw_addr_list_empty(l)	(netdev_hw_addr_list_count(l) == 0)
#define netdev_hw_addr_list_for_each(ha, l) list_for_each_entry(ha, &(l)->list, list)
#define netdev_uc_count(dev)		netdev_hw_addr_list_count(&(dev)->uc)
#define netdev_uc_empty(dev)		netdev_hw_addr_list_empty(&(dev)->uc)
#define netdev_for_each_uc_addr(ha, dev) netdev_hw_addr_list_for_each(ha, &(dev)->uc)
#define netdev_mc_count(dev)		netdev_hw_addr_list_count(&(dev)->mc)
#define netdev_mc_empty(dev)		netdev_hw_addr_list_empty(&(dev)->mc)
#define netdev_for_each_mc_addr(ha, dev) netdev_hw_addr_list_for_each(ha, &(dev)->mc)

/* dev->state bits */
enum netdev_state_t {
	__LINK_STATE_START,
	__LINK_STATE_PRESENT,
	__LINK_STATE_NOCARRIER,
	__LINK_STATE_LINKWATCH_PENDING,
	__LINK_STATE_DORMANT,
	__LINK_STATE_TESTING,
};

/* TX queue state bits */
enum netdev_queue_state_t {
	__QUEUE_STATE_DRV_XOFF,
	__QUEUE_STATE_STACK_XOFF,
	__QUEUE_STATE_FROZEN,
};

struct netdev_queue {
	struct net_device	*dev;
	unsigned long		state;
	unsigned long		trans_start;
	unsigned int		num_queued;	/* bytes handed to the driver (no BQL) */
	unsigned int		num_completed;
};

/* NAPI */
enum {
	NAPI_STATE_SCHED,
	NAPI_STATE_MISSED,
	NAPI_STATE_DISABLE,
	NAPI_STATE_NPSVC,
	NAPI_STATE_LISTED,
	NAPI_STATE_NO_BUSY_POLL,
	NAPI_STATE_IN_BUSY_POLL,
	NAPI_STATE_PREFER_BUSY_POLL,
	NAPI_STATE_THREADED,
	NAPI_STATE_SCHED_THREADED,
};

#define NAPI_POLL_WEIGHT 64

struct napi_struct {
	struct list_head	poll_list;
	unsigned long		state;
	int			weight;
	int			defer_hard_irqs_count;
	unsigned long		gro_bitmask;
	int			(*poll)(struct napi_struct *, int);
	int			poll_owner;
	struct net_device	*dev;
	struct list_head	dev_list;
	unsigned int		napi_id;
};

enum netdev_reg_state {
	NETREG_UNINITIALIZED = 0,
	NETREG_REGISTERED,
	NETREG_UNREGISTERING,
	NETREG_UNREGISTERED,
	NETREG_RELEASED,
	NETREG_DUMMY,
};

/* name_assign_type / addr_assign_type */
#define NET_NAME_UNKNOWN	0
#define NET_NAME_ENUM		1
#define NET_NAME_PREDICTABLE	2
#define NET_NAME_USER		3
#define NET_NAME_RENAMED	4

#define NET_ADDR_PERM		0
#define NET_ADDR_RANDOM		1
#define NET_ADDR_STOLEN		2
#define NET_ADDR_SET		3

struct net_device_ops {
	int			(*ndo_init)(struct net_device *dev);
	void			(*ndo_uninit)(struct net_device *dev);
	int			(*ndo_open)(struct net_device *dev);
	int			(*ndo_stop)(struct net_device *dev);
	netdev_tx_t		(*ndo_start_xmit)(struct sk_buff *skb, struct net_device *dev);
	netdev_features_t	(*ndo_features_check)(struct sk_buff *skb, struct net_device *dev,
						      netdev_features_t features);
	u16			(*ndo_select_queue)(struct net_device *dev, struct sk_buff *skb,
						    struct net_device *sb_dev);
	void			(*ndo_change_rx_flags)(struct net_device *dev, int flags);
	void			(*ndo_set_rx_mode)(struct net_device *dev);
	int			(*ndo_set_mac_address)(struct net_device *dev, void *addr);
	int			(*ndo_validate_addr)(struct net_device *dev);
	int			(*ndo_do_ioctl)(struct net_device *dev, struct ifreq *ifr, int cmd);
	int			(*ndo_eth_ioctl)(struct net_device *dev, struct ifreq *ifr, int cmd);
	int			(*ndo_siocdevprivate)(struct net_device *dev, struct ifreq *ifr,
						      void __user *data, int cmd);
	int			(*ndo_set_config)(struct net_device *dev, struct ifmap *map);
	int			(*ndo_change_mtu)(struct net_device *dev, int new_mtu);
	void			(*ndo_tx_timeout)(struct net_device *dev, unsigned int txqueue);
	void			(*ndo_get_stats64)(struct net_device *dev, void *storage);
	struct net_device_stats *(*ndo_get_stats)(struct net_device *dev);
	void			(*ndo_poll_controller)(struct net_device *dev);
	int			(*ndo_vlan_rx_add_vid)(struct net_device *dev, __be16 proto, u16 vid);
	int			(*ndo_vlan_rx_kill_vid)(struct net_device *dev, __be16 proto, u16 vid);
	netdev_features_t	(*ndo_fix_features)(struct net_device *dev, netdev_features_t features);
	int			(*ndo_set_features)(struct net_device *dev, netdev_features_t features);
};

struct net_device {
	char			name[IFNAMSIZ];
	unsigned long		mem_end;
	unsigned long		mem_start;
	unsigned long		base_addr;
	unsigned long		state;
	struct list_head	dev_list;	/* the registered devices (core) */
	struct list_head	napi_list;
	netdev_features_t	features;
	netdev_features_t	hw_features;
	netdev_features_t	wanted_features;
	netdev_features_t	vlan_features;
	netdev_features_t	hw_enc_features;
	netdev_features_t	mpls_features;
	unsigned int		min_mtu;
	unsigned int		max_mtu;
	unsigned short		type;
	unsigned char		min_header_len;
	unsigned char		name_assign_type;
	int			ifindex;
	struct net_device_stats	stats;
	const struct net_device_ops *netdev_ops;
	const struct ethtool_ops *ethtool_ops;
	const struct header_ops	*header_ops;
	unsigned int		flags;
	unsigned long long	priv_flags;
	unsigned short		gflags;
	unsigned short		padded;
	unsigned char		operstate;
	unsigned char		link_mode;
	unsigned char		if_port;
	unsigned char		dma;
	unsigned int		mtu;
	unsigned short		hard_header_len;
	unsigned short		needed_headroom;
	unsigned short		needed_tailroom;
	unsigned char		perm_addr[MAX_ADDR_LEN];
	unsigned char		addr_assign_type;
	unsigned char		addr_len;
	unsigned short		dev_id;
	unsigned short		dev_port;
	int			irq;
	struct netdev_hw_addr_list uc;
	struct netdev_hw_addr_list mc;
	unsigned int		promiscuity;
	unsigned int		allmulti;
	const unsigned char	*dev_addr;	/* points at __dev_addr */
	unsigned char		broadcast[MAX_ADDR_LEN];
	unsigned int		num_rx_queues;
	unsigned int		real_num_rx_queues;
	struct netdev_queue	*_tx;
	unsigned int		num_tx_queues;
	unsigned int		real_num_tx_queues;
	unsigned int		tx_queue_len;
	int			watchdog_timeo;
	struct timer_list	watchdog_timer;
	u8			reg_state;	/* enum netdev_reg_state */
	bool			dismantle;
	bool			needs_free_netdev;
	void			(*priv_destructor)(struct net_device *dev);
	unsigned int		gso_max_size;
	u16			gso_max_segs;
	struct device		dev;
	unsigned char		__dev_addr[MAX_ADDR_LEN];
	/* the driver's private area follows, NETDEV_ALIGN aligned */
};

#define to_net_dev(d) container_of(d, struct net_device, dev)

static inline void *netdev_priv(const struct net_device *dev)
{
	return (char *)dev + ALIGN(sizeof(struct net_device), NETDEV_ALIGN);
}

/* The physical device behind a net device (its parent in sysfs). */
#define SET_NETDEV_DEV(net, pdev)	((net)->dev.parent = (pdev))
#define SET_NETDEV_DEVTYPE(net, devtype) ((void)(devtype))

/* ---- allocation and registration (kernel/core/netdev.c) ---- */

struct net_device *alloc_netdev_mqs(int sizeof_priv, const char *name,
				    unsigned char name_assign_type,
				    void (*setup)(struct net_device *),
				    unsigned int txqs, unsigned int rxqs);
#define alloc_netdev(sizeof_priv, name, name_assign_type, setup) \
	alloc_netdev_mqs(sizeof_priv, name, name_assign_type, setup, 1, 1)
void free_netdev(struct net_device *dev);
int register_netdev(struct net_device *dev);
void unregister_netdev(struct net_device *dev);
int register_netdevice(struct net_device *dev);
void unregister_netdevice(struct net_device *dev);
int dev_alloc_name(struct net_device *dev, const char *name);
struct net_device *dev_get_by_name(void *net, const char *name);
struct net_device *__dev_get_by_name(void *net, const char *name);
void dev_hold(struct net_device *dev);
void dev_put(struct net_device *dev);
void rtnl_lock(void);
void rtnl_unlock(void);
int rtnl_is_locked(void);
#define ASSERT_RTNL() do { } while (0)

/* netdevice notifiers (a raw chain; callbacks get a netdev_notifier_info) */
enum netdev_cmd {
	NETDEV_UP = 1,
	NETDEV_DOWN,
	NETDEV_REBOOT,
	NETDEV_CHANGE,
	NETDEV_REGISTER,
	NETDEV_UNREGISTER,
	NETDEV_CHANGEMTU,
	NETDEV_CHANGEADDR,
	NETDEV_PRE_CHANGEADDR,
	NETDEV_GOING_DOWN,
	NETDEV_CHANGENAME,
	NETDEV_FEAT_CHANGE,
};

struct netdev_notifier_info {
	struct net_device	*dev;
	struct netlink_ext_ack	*extack;
};

static inline struct net_device *netdev_notifier_info_to_dev(const struct netdev_notifier_info *info)
{
	return info->dev;
}

int register_netdevice_notifier(struct notifier_block *nb);
int unregister_netdevice_notifier(struct notifier_block *nb);

/* ---- hardware address ---- */

void dev_addr_mod(struct net_device *dev, unsigned int offset, const void *addr, size_t len);

static inline void __dev_addr_set(struct net_device *dev, const void *addr, size_t len)
{
	dev_addr_mod(dev, 0, addr, len);
}

static inline void dev_addr_set(struct net_device *dev, const u8 *addr)
{
	__dev_addr_set(dev, addr, dev->addr_len);
}

/* ---- NAPI ---- */

void netif_napi_add_weight(struct net_device *dev, struct napi_struct *napi,
			   int (*poll)(struct napi_struct *, int), int weight);

static inline void netif_napi_add(struct net_device *dev, struct napi_struct *napi,
				  int (*poll)(struct napi_struct *, int))
{
	netif_napi_add_weight(dev, napi, poll, NAPI_POLL_WEIGHT);
}

static inline void netif_napi_add_tx_weight(struct net_device *dev, struct napi_struct *napi,
					    int (*poll)(struct napi_struct *, int), int weight)
{
	netif_napi_add_weight(dev, napi, poll, weight);
}

void netif_napi_del(struct napi_struct *napi);
void napi_enable(struct napi_struct *n);
void napi_disable(struct napi_struct *n);
bool napi_schedule_prep(struct napi_struct *n);
void __napi_schedule(struct napi_struct *n);
void __napi_schedule_irqoff(struct napi_struct *n);
bool napi_complete_done(struct napi_struct *n, int work_done);
gro_result_t napi_gro_receive(struct napi_struct *napi, struct sk_buff *skb);
int netif_receive_skb(struct sk_buff *skb);
int netif_rx(struct sk_buff *skb);

static inline bool napi_schedule(struct napi_struct *n)
{
	if (napi_schedule_prep(n)) {
		__napi_schedule(n);
		return true;
	}
	return false;
}

static inline void napi_schedule_irqoff(struct napi_struct *n)
{
	if (napi_schedule_prep(n))
		__napi_schedule_irqoff(n);
}

static inline bool napi_complete(struct napi_struct *n)
{
	return napi_complete_done(n, 0);
}

/* ---- state ---- */

static inline bool netif_running(const struct net_device *dev)
{
	return test_bit(__LINK_STATE_START, &dev->state);
}

static inline bool netif_device_present(const struct net_device *dev)
{
	return test_bit(__LINK_STATE_PRESENT, &dev->state);
}

static inline bool netif_carrier_ok(const struct net_device *dev)
{
	return !test_bit(__LINK_STATE_NOCARRIER, &dev->state);
}

void netif_carrier_on(struct net_device *dev);
void netif_carrier_off(struct net_device *dev);
void netif_device_detach(struct net_device *dev);
void netif_device_attach(struct net_device *dev);

static inline bool netif_oper_up(const struct net_device *dev)
{
	return netif_running(dev) && netif_carrier_ok(dev);
}

/* ---- TX queues ---- */

static inline struct netdev_queue *netdev_get_tx_queue(const struct net_device *dev,
							unsigned int index)
{
	return &dev->_tx[index];
}

static inline void netif_tx_start_queue(struct netdev_queue *dev_queue)
{
	clear_bit(__QUEUE_STATE_DRV_XOFF, &dev_queue->state);
}

static inline void netif_tx_stop_queue(struct netdev_queue *dev_queue)
{
	set_bit(__QUEUE_STATE_DRV_XOFF, &dev_queue->state);
}

/* The kernel reschedules the queue discipline here; there is none. */
static inline void netif_tx_wake_queue(struct netdev_queue *dev_queue)
{
	clear_bit(__QUEUE_STATE_DRV_XOFF, &dev_queue->state);
}

static inline bool netif_tx_queue_stopped(const struct netdev_queue *dev_queue)
{
	return test_bit(__QUEUE_STATE_DRV_XOFF, &dev_queue->state);
}

static inline void netif_start_queue(struct net_device *dev)
{
	netif_tx_start_queue(netdev_get_tx_queue(dev, 0));
}

static inline void netif_stop_queue(struct net_device *dev)
{
	netif_tx_stop_queue(netdev_get_tx_queue(dev, 0));
}

static inline void netif_wake_queue(struct net_device *dev)
{
	netif_tx_wake_queue(netdev_get_tx_queue(dev, 0));
}

static inline bool netif_queue_stopped(const struct net_device *dev)
{
	return netif_tx_queue_stopped(netdev_get_tx_queue(dev, 0));
}

static inline void netif_tx_start_all_queues(struct net_device *dev)
{
	for (unsigned int i = 0; i < dev->num_tx_queues; i++)
		netif_tx_start_queue(netdev_get_tx_queue(dev, i));
}

static inline void netif_tx_stop_all_queues(struct net_device *dev)
{
	for (unsigned int i = 0; i < dev->num_tx_queues; i++)
		netif_tx_stop_queue(netdev_get_tx_queue(dev, i));
}

static inline void netif_tx_wake_all_queues(struct net_device *dev)
{
	for (unsigned int i = 0; i < dev->num_tx_queues; i++)
		netif_tx_wake_queue(netdev_get_tx_queue(dev, i));
}

static inline void netif_trans_update(struct net_device *dev)
{
	netdev_get_tx_queue(dev, 0)->trans_start = jiffies;
}

/* Byte queue limits: the counts are kept, nothing throttles on them. */
static inline void netdev_tx_sent_queue(struct netdev_queue *dev_queue, unsigned int bytes)
{
	dev_queue->num_queued += bytes;
}

static inline void netdev_tx_completed_queue(struct netdev_queue *dev_queue,
					     unsigned int pkts, unsigned int bytes)
{
	dev_queue->num_completed += bytes;
	if (bytes)
		clear_bit(__QUEUE_STATE_STACK_XOFF, &dev_queue->state);
}

static inline void netdev_tx_reset_queue(struct netdev_queue *q)
{
	clear_bit(__QUEUE_STATE_STACK_XOFF, &q->state);
	q->num_queued = q->num_completed = 0;
}

static inline void netdev_sent_queue(struct net_device *dev, unsigned int bytes)
{
	netdev_tx_sent_queue(netdev_get_tx_queue(dev, 0), bytes);
}

static inline void netdev_completed_queue(struct net_device *dev, unsigned int pkts,
					  unsigned int bytes)
{
	netdev_tx_completed_queue(netdev_get_tx_queue(dev, 0), pkts, bytes);
}

static inline void netdev_reset_queue(struct net_device *dev_queue)
{
	netdev_tx_reset_queue(netdev_get_tx_queue(dev_queue, 0));
}

int netif_set_real_num_tx_queues(struct net_device *dev, unsigned int txq);
int netif_set_real_num_rx_queues(struct net_device *dev, unsigned int rxq);

/* ---- messages ---- */

/* netif_msg bits: which classes of messages a driver prints (msg_enable). */
enum {
	NETIF_MSG_DRV_BIT,
	NETIF_MSG_PROBE_BIT,
	NETIF_MSG_LINK_BIT,
	NETIF_MSG_TIMER_BIT,
	NETIF_MSG_IFDOWN_BIT,
	NETIF_MSG_IFUP_BIT,
	NETIF_MSG_RX_ERR_BIT,
	NETIF_MSG_TX_ERR_BIT,
	NETIF_MSG_TX_QUEUED_BIT,
	NETIF_MSG_INTR_BIT,
	NETIF_MSG_TX_DONE_BIT,
	NETIF_MSG_RX_STATUS_BIT,
	NETIF_MSG_PKTDATA_BIT,
	NETIF_MSG_HW_BIT,
	NETIF_MSG_WOL_BIT,
};

#define NETIF_MSG_DRV		BIT(NETIF_MSG_DRV_BIT)
#define NETIF_MSG_PROBE		BIT(NETIF_MSG_PROBE_BIT)
#define NETIF_MSG_LINK		BIT(NETIF_MSG_LINK_BIT)
#define NETIF_MSG_TIMER		BIT(NETIF_MSG_TIMER_BIT)
#define NETIF_MSG_IFDOWN	BIT(NETIF_MSG_IFDOWN_BIT)
#define NETIF_MSG_IFUP		BIT(NETIF_MSG_IFUP_BIT)
#define NETIF_MSG_RX_ERR	BIT(NETIF_MSG_RX_ERR_BIT)
#define NETIF_MSG_TX_ERR	BIT(NETIF_MSG_TX_ERR_BIT)
#define NETIF_MSG_TX_QUEUED	BIT(NETIF_MSG_TX_QUEUED_BIT)
#define NETIF_MSG_INTR		BIT(NETIF_MSG_INTR_BIT)
#define NETIF_MSG_TX_DONE	BIT(NETIF_MSG_TX_DONE_BIT)
#define NETIF_MSG_RX_STATUS	BIT(NETIF_MSG_RX_STATUS_BIT)
#define NETIF_MSG_PKTDATA	BIT(NETIF_MSG_PKTDATA_BIT)
#define NETIF_MSG_HW		BIT(NETIF_MSG_HW_BIT)
#define NETIF_MSG_WOL		BIT(NETIF_MSG_WOL_BIT)

#define netif_msg_drv(p)	((p)->msg_enable & NETIF_MSG_DRV)
#define netif_msg_probe(p)	((p)->msg_enable & NETIF_MSG_PROBE)
#define netif_msg_link(p)	((p)->msg_enable & NETIF_MSG_LINK)
#define netif_msg_timer(p)	((p)->msg_enable & NETIF_MSG_TIMER)
#define netif_msg_ifdown(p)	((p)->msg_enable & NETIF_MSG_IFDOWN)
#define netif_msg_ifup(p)	((p)->msg_enable & NETIF_MSG_IFUP)
#define netif_msg_rx_err(p)	((p)->msg_enable & NETIF_MSG_RX_ERR)
#define netif_msg_tx_err(p)	((p)->msg_enable & NETIF_MSG_TX_ERR)
#define netif_msg_tx_queued(p)	((p)->msg_enable & NETIF_MSG_TX_QUEUED)
#define netif_msg_intr(p)	((p)->msg_enable & NETIF_MSG_INTR)
#define netif_msg_tx_done(p)	((p)->msg_enable & NETIF_MSG_TX_DONE)
#define netif_msg_rx_status(p)	((p)->msg_enable & NETIF_MSG_RX_STATUS)
#define netif_msg_pktdata(p)	((p)->msg_enable & NETIF_MSG_PKTDATA)
#define netif_msg_hw(p)		((p)->msg_enable & NETIF_MSG_HW)
#define netif_msg_wol(p)	((p)->msg_enable & NETIF_MSG_WOL)

/* A module's debug parameter as message bits: negative or too large
 * means the default, 0 none, n the n lowest classes. */
static inline u32 netif_msg_init(int debug_value, int default_msg_enable_bits)
{
	if (debug_value < 0 || debug_value >= (int)(sizeof(u32) * 8))
		return default_msg_enable_bits;
	if (debug_value == 0)
		return 0;
	return (1U << debug_value) - 1;
}

/* "<driver> <bus id> <ifname>: message", or "<ifname>: message" without
 * a parent device; "(unnamed net_device)" before registration names it,
 * " (unregistering)" & co. after the name in those states. */
__printf(3, 4) void netdev_printk(const char *level, const struct net_device *dev,
				  const char *format, ...);
const char *netdev_name(const struct net_device *dev);

#define netdev_emerg(dev, fmt, ...)	netdev_printk(KERN_EMERG, dev, fmt, ##__VA_ARGS__)
#define netdev_alert(dev, fmt, ...)	netdev_printk(KERN_ALERT, dev, fmt, ##__VA_ARGS__)
#define netdev_crit(dev, fmt, ...)	netdev_printk(KERN_CRIT, dev, fmt, ##__VA_ARGS__)
#define netdev_err(dev, fmt, ...)	netdev_printk(KERN_ERR, dev, fmt, ##__VA_ARGS__)
#define netdev_warn(dev, fmt, ...)	netdev_printk(KERN_WARNING, dev, fmt, ##__VA_ARGS__)
#define netdev_notice(dev, fmt, ...)	netdev_printk(KERN_NOTICE, dev, fmt, ##__VA_ARGS__)
#define netdev_info(dev, fmt, ...)	netdev_printk(KERN_INFO, dev, fmt, ##__VA_ARGS__)
#ifdef DEBUG
#define netdev_dbg(dev, fmt, ...)	netdev_printk(KERN_DEBUG, dev, fmt, ##__VA_ARGS__)
#else
#define netdev_dbg(dev, fmt, ...)	\
	({ if (0) netdev_printk(KERN_DEBUG, dev, fmt, ##__VA_ARGS__); })
#endif
#define netdev_err_once(dev, fmt, ...) \
	({ static bool __print_once; if (!__print_once) { __print_once = true; \
	   netdev_err(dev, fmt, ##__VA_ARGS__); } })
#define netdev_warn_once(dev, fmt, ...) \
	({ static bool __print_once; if (!__print_once) { __print_once = true; \
	   netdev_warn(dev, fmt, ##__VA_ARGS__); } })

#define netdev_WARN(dev, format, args...) \
	WARN(1, "netdevice: %s: " format, netdev_name(dev), ##args)
#define netdev_WARN_ONCE(dev, format, args...) \
	WARN_ONCE(1, "netdevice: %s: " format, netdev_name(dev), ##args)

#define netif_level(level, priv, type, dev, fmt, args...)	\
	do {							\
		if (netif_msg_##type(priv))			\
			netdev_##level(dev, fmt, ##args);	\
	} while (0)

#define netif_emerg(priv, type, dev, fmt, args...) netif_level(emerg, priv, type, dev, fmt, ##args)
#define netif_alert(priv, type, dev, fmt, args...) netif_level(alert, priv, type, dev, fmt, ##args)
#define netif_crit(priv, type, dev, fmt, args...) netif_level(crit, priv, type, dev, fmt, ##args)
#define netif_err(priv, type, dev, fmt, args...) netif_level(err, priv, type, dev, fmt, ##args)
#define netif_warn(priv, type, dev, fmt, args...) netif_level(warn, priv, type, dev, fmt, ##args)
#define netif_notice(priv, type, dev, fmt, args...) netif_level(notice, priv, type, dev, fmt, ##args)
#define netif_info(priv, type, dev, fmt, args...) netif_level(info, priv, type, dev, fmt, ##args)
#ifdef DEBUG
#define netif_dbg(priv, type, dev, fmt, args...) netif_level(dbg, priv, type, dev, fmt, ##args)
#else
#define netif_dbg(priv, type, dev, fmt, args...)			\
	({ if (0) netif_level(dbg, priv, type, dev, fmt, ##args); 0; })
#endif

#endif
