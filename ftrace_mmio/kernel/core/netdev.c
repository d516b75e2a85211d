// SPDX-License-Identifier: GPL-2.0-only
/*
 * Network devices, as far as a driver's probe and remove go (see
 * linux/netdevice.h and docs/kernel/netdev.md).
 *
 * A net_device is one allocation: the struct, then the driver's private
 * area at the next NETDEV_ALIGN boundary (netdev_priv).  register_netdev
 * gives a "eth%d" template the lowest free number among registered
 * devices, an ifindex (from 2: on Linux 1 is the loopback device), the
 * soft features every device gets, the PRESENT state bit, and tells the
 * netdevice notifier chain.  Nothing opens a device, sends or receives:
 * the packet-path functions below stop the machine with a message naming
 * themselves (netdev_no_packets).
 *
 * Files of the core are one translation unit: statics carry "netdev_".
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/list.h>
#include <linux/bug.h>
#include <linux/printk.h>
#include <linux/device.h>
#include <linux/notifier.h>
#include <linux/netdevice.h>
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/linkmode.h>
#include <linux/if_vlan.h>
#include <linux/crc32.h>
#include <linux/stdarg.h>

#define NETDEV_FIRST_IFINDEX	2
#define NETDEV_MAX_UNIT		32768
#define NETDEV_DEFAULT_TX_QUEUE_LEN 1000
#define NETDEV_ARPHRD_ETHER	1

static LIST_HEAD(netdev_registered);
static int netdev_next_ifindex = NETDEV_FIRST_IFINDEX;
static RAW_NOTIFIER_HEAD(netdev_chain);
static int netdev_rtnl_depth;

/* ---- the packet path: never reached ------------------------------------ */

static void __noreturn netdev_no_packets(const char *what)
{
	pr_emerg("%s: no packets on this machine (nothing sends or receives; "
		 "docs/kernel/netdev.md)\n", what);
	BUG();
}

#define NETDEV_NO_PACKETS(ret, name, ...)				\
	ret name(__VA_ARGS__) { netdev_no_packets(#name); }

NETDEV_NO_PACKETS(struct sk_buff *, __netdev_alloc_skb, struct net_device *dev,
		  unsigned int length, gfp_t gfp_mask)
NETDEV_NO_PACKETS(struct sk_buff *, __napi_alloc_skb, struct napi_struct *napi,
		  unsigned int length, gfp_t gfp_mask)
NETDEV_NO_PACKETS(void, kfree_skb, struct sk_buff *skb)
NETDEV_NO_PACKETS(void, consume_skb, struct sk_buff *skb)
NETDEV_NO_PACKETS(void, dev_kfree_skb_any, struct sk_buff *skb)
NETDEV_NO_PACKETS(void, dev_kfree_skb_irq, struct sk_buff *skb)
NETDEV_NO_PACKETS(void, dev_consume_skb_any, struct sk_buff *skb)
NETDEV_NO_PACKETS(void, dev_consume_skb_irq, struct sk_buff *skb)
NETDEV_NO_PACKETS(int, skb_copy_bits, const struct sk_buff *skb, int offset, void *to, int len)
NETDEV_NO_PACKETS(int, skb_pad, struct sk_buff *skb, int pad)
NETDEV_NO_PACKETS(__be16, eth_type_trans, struct sk_buff *skb, struct net_device *dev)
NETDEV_NO_PACKETS(gro_result_t, napi_gro_receive, struct napi_struct *napi, struct sk_buff *skb)
NETDEV_NO_PACKETS(int, netif_receive_skb, struct sk_buff *skb)
NETDEV_NO_PACKETS(int, netif_rx, struct sk_buff *skb)
NETDEV_NO_PACKETS(void, __napi_schedule, struct napi_struct *n)
NETDEV_NO_PACKETS(void, __napi_schedule_irqoff, struct napi_struct *n)
NETDEV_NO_PACKETS(bool, napi_complete_done, struct napi_struct *n, int work_done)
NETDEV_NO_PACKETS(netdev_features_t, vlan_features_check, struct sk_buff *skb,
		  netdev_features_t features)

/* ---- allocation ------------------------------------------------------------ */

void ether_setup(struct net_device *dev)
{
	dev->header_ops = NULL;		/* no link-layer header building here */
	dev->type = NETDEV_ARPHRD_ETHER;
	dev->hard_header_len = ETH_HLEN;
	dev->min_header_len = ETH_HLEN;
	dev->mtu = ETH_DATA_LEN;
	dev->min_mtu = ETH_MIN_MTU;
	dev->max_mtu = ETH_DATA_LEN;
	dev->addr_len = ETH_ALEN;
	dev->tx_queue_len = NETDEV_DEFAULT_TX_QUEUE_LEN;
	dev->flags = IFF_BROADCAST | IFF_MULTICAST;
	dev->priv_flags |= IFF_TX_SKB_SHARING;
	eth_broadcast_addr(dev->broadcast);
}

struct net_device *alloc_netdev_mqs(int sizeof_priv, const char *name,
				    unsigned char name_assign_type,
				    void (*setup)(struct net_device *),
				    unsigned int txqs, unsigned int rxqs)
{
	struct net_device *dev;
	unsigned int i;

	if (strlen(name) >= sizeof(dev->name))
		return NULL;
	if (txqs < 1) {
		pr_err("alloc_netdev: Unable to allocate device with zero queues\n");
		return NULL;
	}
	if (rxqs < 1) {
		pr_err("alloc_netdev: Unable to allocate device with zero RX queues\n");
		return NULL;
	}
	dev = kzalloc(ALIGN(sizeof(struct net_device), NETDEV_ALIGN) + sizeof_priv, GFP_KERNEL);
	if (!dev)
		return NULL;
	dev->_tx = kcalloc(txqs, sizeof(struct netdev_queue), GFP_KERNEL);
	if (!dev->_tx) {
		kfree(dev);
		return NULL;
	}
	for (i = 0; i < txqs; i++)
		dev->_tx[i].dev = dev;
	dev->num_tx_queues = dev->real_num_tx_queues = txqs;
	dev->num_rx_queues = dev->real_num_rx_queues = rxqs;
	dev->dev_addr = dev->__dev_addr;
	INIT_LIST_HEAD(&dev->dev_list);
	INIT_LIST_HEAD(&dev->napi_list);
	INIT_LIST_HEAD(&dev->uc.list);
	INIT_LIST_HEAD(&dev->mc.list);
	dev->gso_max_size = 65536;
	dev->gso_max_segs = 65535;
	dev->reg_state = NETREG_UNINITIALIZED;
	setup(dev);
	strscpy(dev->name, name, sizeof(dev->name));
	dev->name_assign_type = name_assign_type;
	return dev;
}

struct net_device *alloc_etherdev_mqs(int sizeof_priv, unsigned int txqs, unsigned int rxqs)
{
	return alloc_netdev_mqs(sizeof_priv, "eth%d", NET_NAME_ENUM, ether_setup, txqs, rxqs);
}

void free_netdev(struct net_device *dev)
{
	struct napi_struct *p, *n;

	if (!dev)
		return;
	/* Linux: a registered device is freed by unregistering it first. */
	BUG_ON(dev->reg_state == NETREG_REGISTERED || dev->reg_state == NETREG_UNREGISTERING);
	list_for_each_entry_safe(p, n, &dev->napi_list, dev_list)
		netif_napi_del(p);
	if (dev->needs_free_netdev && dev->priv_destructor)
		dev->priv_destructor(dev);
	dev->reg_state = NETREG_RELEASED;
	kfree(dev->_tx);
	kfree(dev);
}

static void netdev_devm_free(void *data)
{
	free_netdev(data);
}

struct net_device *devm_alloc_etherdev_mqs(struct device *dev, int sizeof_priv,
					   unsigned int txqs, unsigned int rxqs)
{
	struct net_device *ndev = alloc_etherdev_mqs(sizeof_priv, txqs, rxqs);

	if (!ndev)
		return NULL;
	if (devm_add_action_or_reset(dev, netdev_devm_free, ndev))
		return NULL;
	return ndev;
}

/* ---- names and registration ------------------------------------------------- */

void rtnl_lock(void)
{
	netdev_rtnl_depth++;
}

void rtnl_unlock(void)
{
	WARN_ON(netdev_rtnl_depth <= 0);
	netdev_rtnl_depth--;
}

int rtnl_is_locked(void)
{
	return netdev_rtnl_depth > 0;
}

struct net_device *__dev_get_by_name(void *net, const char *name)
{
	struct net_device *dev;

	list_for_each_entry(dev, &netdev_registered, dev_list)
		if (!strcmp(dev->name, name))
			return dev;
	return NULL;
}

struct net_device *dev_get_by_name(void *net, const char *name)
{
	return __dev_get_by_name(net, name);
}

void dev_hold(struct net_device *dev)
{
}

void dev_put(struct net_device *dev)
{
}

/* "eth%d": the lowest unit no registered device has; a name without %d
 * must be free as it is. */
int dev_alloc_name(struct net_device *dev, const char *name)
{
	const char *p = strchr(name, '%');
	char buf[IFNAMSIZ];
	int i;

	if (!p) {
		if (__dev_get_by_name(NULL, name))
			return -EEXIST;
		if (name != dev->name)
			strscpy(dev->name, name, IFNAMSIZ);
		return 0;
	}
	if (p[1] != 'd' || strchr(p + 2, '%'))
		return -EINVAL;
	for (i = 0; i < NETDEV_MAX_UNIT; i++) {
		snprintf(buf, sizeof(buf), name, i);
		if (!__dev_get_by_name(NULL, buf)) {
			strscpy(dev->name, buf, IFNAMSIZ);
			return i;
		}
	}
	return -ENFILE;
}

static int netdev_valid_name(const char *name)
{
	if (*name == '\0' || strlen(name) >= IFNAMSIZ)
		return 0;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	for (; *name; name++)
		if (*name == '/' || *name == ':' || *name == ' ' || *name == '\t' || *name == '\n')
			return 0;
	return 1;
}

static int netdev_call_notifiers(unsigned long val, struct net_device *dev)
{
	struct netdev_notifier_info info = { .dev = dev };

	return raw_notifier_call_chain(&netdev_chain, val, &info);
}

int register_netdevice(struct net_device *dev)
{
	int ret;

	BUG_ON(dev->reg_state != NETREG_UNINITIALIZED);
	if (!netdev_valid_name(dev->name))
		return -EINVAL;
	if (strchr(dev->name, '%')) {
		ret = dev_alloc_name(dev, dev->name);
		if (ret < 0)
			return ret;
	} else if (__dev_get_by_name(NULL, dev->name)) {
		return -EEXIST;
	}
	if (dev->netdev_ops && dev->netdev_ops->ndo_init) {
		ret = dev->netdev_ops->ndo_init(dev);
		if (ret)
			return ret > 0 ? -EIO : ret;
	}
	dev->ifindex = netdev_next_ifindex++;
	/* The features every device gets from the core. */
	dev->hw_features |= NETIF_F_SOFT_FEATURES | NETIF_F_SOFT_FEATURES_OFF;
	dev->features |= NETIF_F_SOFT_FEATURES;
	if (!(dev->flags & IFF_LOOPBACK))
		dev->hw_features |= NETIF_F_NOCACHE_COPY;
	dev->wanted_features = dev->features & dev->hw_features;
	dev->vlan_features |= NETIF_F_HIGHDMA;
	if (dev->addr_assign_type == NET_ADDR_PERM)
		memcpy(dev->perm_addr, dev->dev_addr, dev->addr_len);
	dev->dev.init_name = dev->name;		/* dev_name(&dev->dev): the interface */
	set_bit(__LINK_STATE_PRESENT, &dev->state);
	dev->reg_state = NETREG_REGISTERED;
	list_add_tail(&dev->dev_list, &netdev_registered);
	ret = notifier_to_errno(netdev_call_notifiers(NETDEV_REGISTER, dev));
	if (ret) {
		list_del_init(&dev->dev_list);
		dev->reg_state = NETREG_UNINITIALIZED;
		clear_bit(__LINK_STATE_PRESENT, &dev->state);
		return ret;
	}
	return 0;
}

int register_netdev(struct net_device *dev)
{
	int ret;

	rtnl_lock();
	ret = register_netdevice(dev);
	rtnl_unlock();
	return ret;
}

void unregister_netdevice(struct net_device *dev)
{
	if (dev->reg_state == NETREG_UNINITIALIZED) {
		pr_debug("unregister_netdevice: device %s/%p never was registered\n", dev->name, dev);
		WARN_ON(1);
		return;
	}
	BUG_ON(dev->reg_state != NETREG_REGISTERED);
	dev->reg_state = NETREG_UNREGISTERING;
	/* No device is ever up here, so there is nothing to close. */
	netdev_call_notifiers(NETDEV_UNREGISTER, dev);
	if (dev->netdev_ops && dev->netdev_ops->ndo_uninit)
		dev->netdev_ops->ndo_uninit(dev);
	list_del_init(&dev->dev_list);
	clear_bit(__LINK_STATE_PRESENT, &dev->state);
	dev->reg_state = NETREG_UNREGISTERED;
}

void unregister_netdev(struct net_device *dev)
{
	rtnl_lock();
	unregister_netdevice(dev);
	rtnl_unlock();
}

int register_netdevice_notifier(struct notifier_block *nb)
{
	struct net_device *dev;
	int err;

	err = raw_notifier_chain_register(&netdev_chain, nb);
	if (err)
		return err;
	/* The kernel replays what exists for a late listener. */
	list_for_each_entry(dev, &netdev_registered, dev_list) {
		struct netdev_notifier_info info = { .dev = dev };

		err = notifier_to_errno(nb->notifier_call(nb, NETDEV_REGISTER, &info));
		if (err) {
			raw_notifier_chain_unregister(&netdev_chain, nb);
			return err;
		}
	}
	return 0;
}

int unregister_netdevice_notifier(struct notifier_block *nb)
{
	return raw_notifier_chain_unregister(&netdev_chain, nb);
}

int netif_set_real_num_tx_queues(struct net_device *dev, unsigned int txq)
{
	if (txq < 1 || txq > dev->num_tx_queues)
		return -EINVAL;
	dev->real_num_tx_queues = txq;
	return 0;
}

int netif_set_real_num_rx_queues(struct net_device *dev, unsigned int rxq)
{
	if (rxq < 1 || rxq > dev->num_rx_queues)
		return -EINVAL;
	dev->real_num_rx_queues = rxq;
	return 0;
}

/* ---- addresses --------------------------------------------------------------- */

void dev_addr_mod(struct net_device *dev, unsigned int offset, const void *addr, size_t len)
{
	if (WARN_ON(offset + len > MAX_ADDR_LEN))
		return;
	memcpy((unsigned char *)dev->dev_addr + offset, addr, len);
}

int eth_validate_addr(struct net_device *dev)
{
	return is_valid_ether_addr(dev->dev_addr) ? 0 : -EADDRNOTAVAIL;
}

/* p is a struct sockaddr: the family, then the address. */
int eth_mac_addr(struct net_device *dev, void *p)
{
	const u8 *addr = (const u8 *)p + sizeof(unsigned short);

	if (!(dev->priv_flags & IFF_LIVE_ADDR_CHANGE) && netif_running(dev))
		return -EBUSY;
	if (!is_valid_ether_addr(addr))
		return -EADDRNOTAVAIL;
	eth_hw_addr_set(dev, addr);
	return 0;
}

int eth_platform_get_mac_address(struct device *dev, u8 *mac_addr)
{
	return -ENODEV;
}

/* ---- NAPI and state bits ------------------------------------------------------- */

void netif_napi_add_weight(struct net_device *dev, struct napi_struct *napi,
			   int (*poll)(struct napi_struct *, int), int weight)
{
	if (WARN_ON(test_and_set_bit(NAPI_STATE_LISTED, &napi->state)))
		return;
	INIT_LIST_HEAD(&napi->poll_list);
	if (weight > NAPI_POLL_WEIGHT)
		netdev_err_once(dev, "%s() called with weight %d\n", __func__, weight);
	napi->weight = weight;
	napi->poll = poll;
	napi->dev = dev;
	list_add(&napi->dev_list, &dev->napi_list);
	/* Created disabled: scheduled and not serviced until napi_enable. */
	set_bit(NAPI_STATE_SCHED, &napi->state);
	set_bit(NAPI_STATE_NPSVC, &napi->state);
}

void netif_napi_del(struct napi_struct *napi)
{
	if (!test_and_clear_bit(NAPI_STATE_LISTED, &napi->state))
		return;
	list_del_init(&napi->dev_list);
}

void napi_enable(struct napi_struct *n)
{
	BUG_ON(!test_bit(NAPI_STATE_SCHED, &n->state));
	clear_bit(NAPI_STATE_SCHED, &n->state);
	clear_bit(NAPI_STATE_NPSVC, &n->state);
}

void napi_disable(struct napi_struct *n)
{
	set_bit(NAPI_STATE_DISABLE, &n->state);
	/* Nothing polls here: a scheduled instance cannot be running. */
	set_bit(NAPI_STATE_SCHED, &n->state);
	set_bit(NAPI_STATE_NPSVC, &n->state);
	clear_bit(NAPI_STATE_DISABLE, &n->state);
}

bool napi_schedule_prep(struct napi_struct *n)
{
	if (test_bit(NAPI_STATE_DISABLE, &n->state))
		return false;
	if (test_and_set_bit(NAPI_STATE_SCHED, &n->state)) {
		set_bit(NAPI_STATE_MISSED, &n->state);
		return false;
	}
	return true;
}

void netif_carrier_on(struct net_device *dev)
{
	clear_bit(__LINK_STATE_NOCARRIER, &dev->state);
}

void netif_carrier_off(struct net_device *dev)
{
	set_bit(__LINK_STATE_NOCARRIER, &dev->state);
}

void netif_device_detach(struct net_device *dev)
{
	if (test_and_clear_bit(__LINK_STATE_PRESENT, &dev->state) && netif_running(dev))
		netif_tx_stop_all_queues(dev);
}

void netif_device_attach(struct net_device *dev)
{
	if (!test_and_set_bit(__LINK_STATE_PRESENT, &dev->state) && netif_running(dev))
		netif_tx_wake_all_queues(dev);
}

/* ---- printing ----------------------------------------------------------------- */

const char *netdev_name(const struct net_device *dev)
{
	if (!dev->name[0] || strchr(dev->name, '%'))
		return "(unnamed net_device)";
	return dev->name;
}

static const char *netdev_reg_state(const struct net_device *dev)
{
	switch (dev->reg_state) {
	case NETREG_UNINITIALIZED: return " (uninitialized)";
	case NETREG_REGISTERED: return "";
	case NETREG_UNREGISTERING: return " (unregistering)";
	case NETREG_UNREGISTERED: return " (unregistered)";
	case NETREG_RELEASED: return " (released)";
	case NETREG_DUMMY: return " (dummy)";
	}
	WARN_ONCE(1, "%s: unknown reg_state %d\n", dev->name, dev->reg_state);
	return " (unknown)";
}

void netdev_printk(const char *level, const struct net_device *dev, const char *format, ...)
{
	char text[1024];
	va_list args;

	va_start(args, format);
	vsnprintf(text, sizeof(text), format, args);
	va_end(args);
	if (dev && dev->dev.parent)
		printk("%s%s %s %s%s: %s", level, dev_driver_string(dev->dev.parent),
		       dev_name(dev->dev.parent), netdev_name(dev), netdev_reg_state(dev), text);
	else if (dev)
		printk("%s%s%s: %s", level, netdev_name(dev), netdev_reg_state(dev), text);
	else
		printk("%s(NULL net_device): %s", level, text);
}

/* ---- ethtool helpers -------------------------------------------------------------- */

u32 ethtool_op_get_link(struct net_device *dev)
{
	return netif_carrier_ok(dev) ? 1 : 0;
}

int ethtool_op_get_ts_info(struct net_device *dev, void *eti)
{
	return 0;
}

void ethtool_convert_legacy_u32_to_link_mode(unsigned long *dst, u32 legacy_u32)
{
	linkmode_zero(dst);
	dst[0] = legacy_u32;
}

/* False when the mask has modes the 32-bit legacy mask cannot carry. */
bool ethtool_convert_link_mode_to_legacy_u32(u32 *legacy_u32, const unsigned long *src)
{
	bool ok = !(src[0] >> 32);
	unsigned int i;

	for (i = 1; i < __LINKMODE_LONGS; i++)
		if (src[i])
			ok = false;
	*legacy_u32 = (u32)src[0];
	return ok;
}

/* ---- CRC-32 (bit at a time: small, and only multicast filters use it) ---- */

#define NETDEV_CRC32_POLY_LE 0xedb88320
#define NETDEV_CRC32_POLY_BE 0x04c11db7

u32 crc32_le(u32 crc, unsigned char const *p, size_t len)
{
	while (len--) {
		crc ^= *p++;
		for (int i = 0; i < 8; i++)
			crc = (crc >> 1) ^ ((crc & 1) ? NETDEV_CRC32_POLY_LE : 0);
	}
	return crc;
}

u32 crc32_be(u32 crc, unsigned char const *p, size_t len)
{
	while (len--) {
		crc ^= (u32)*p++ << 24;
		for (int i = 0; i < 8; i++)
			crc = (crc << 1) ^ ((crc & 0x80000000) ? NETDEV_CRC32_POLY_BE : 0);
	}
	return crc;
}
