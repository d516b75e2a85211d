/* The netdev core without a device: names, ifindex, notifiers, printing,
 * NAPI state and the packet-path stubs, for tests/test_intree_8139cp.py. */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/netdevice.h>
#include <linux/etherdevice.h>
#include <linux/crc32.h>

struct nb_priv {
	u32 magic;
	struct napi_struct napi;
};

static struct net_device *nb_devs[3];
static int nb_events[8];
static int nb_nevents;

static int nb_notify(struct notifier_block *nb, unsigned long event, void *ptr)
{
	struct net_device *dev = netdev_notifier_info_to_dev(ptr);

	if (nb_nevents < 8)
		nb_events[nb_nevents++] = event * 100 + dev->ifindex;
	return NOTIFY_DONE;
}

static struct notifier_block nb_notifier = { .notifier_call = nb_notify };

static int nb_poll(struct napi_struct *napi, int budget)
{
	return 0;
}

static const u8 nb_mac[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };

/* Allocate dev i with name template "name", register it; its ifindex or an errno. */
long nb_add(int i, int plain)
{
	struct net_device *dev = alloc_etherdev(sizeof(struct nb_priv));
	struct nb_priv *priv;
	int rc;

	if (!dev)
		return -ENOMEM;
	priv = netdev_priv(dev);
	if ((unsigned long)priv % NETDEV_ALIGN || (char *)priv < (char *)(dev + 1))
		return -EFAULT;
	priv->magic = 0xfeed;
	if (plain)
		strscpy(dev->name, "lan0", IFNAMSIZ);
	netdev_info(dev, "before registration\n");
	netif_napi_add(dev, &priv->napi, nb_poll);
	eth_hw_addr_set(dev, nb_mac);
	rc = register_netdev(dev);
	if (rc) {
		free_netdev(dev);
		return rc;
	}
	nb_devs[i] = dev;
	netdev_info(dev, "mac %pM weight %d\n", dev->dev_addr, priv->napi.weight);
	return dev->ifindex;
}

long nb_name_char(int i, int pos)
{
	return nb_devs[i]->name[pos];
}

void nb_remove(int i)
{
	unregister_netdev(nb_devs[i]);
	netdev_info(nb_devs[i], "after unregistration\n");
	free_netdev(nb_devs[i]);
	nb_devs[i] = NULL;
}

long nb_event(int i)
{
	return i < nb_nevents ? nb_events[i] : -1;
}

long nb_listen(void)
{
	return register_netdevice_notifier(&nb_notifier);
}

void nb_unlisten(void)
{
	unregister_netdevice_notifier(&nb_notifier);
}

/* NAPI state after enable / disable: SCHED bit. */
long nb_napi_cycle(int i)
{
	struct nb_priv *priv = netdev_priv(nb_devs[i]);
	long out;

	napi_enable(&priv->napi);
	out = test_bit(NAPI_STATE_SCHED, &priv->napi.state) * 10;
	napi_disable(&priv->napi);
	return out + test_bit(NAPI_STATE_SCHED, &priv->napi.state);
}

long nb_carrier(int i)
{
	long out;

	netif_carrier_off(nb_devs[i]);
	out = netif_carrier_ok(nb_devs[i]) * 10;
	netif_carrier_on(nb_devs[i]);
	return out + netif_carrier_ok(nb_devs[i]) + ethtool_op_get_link(nb_devs[i]) * 100;
}

long nb_crc(void)
{
	/* CRC-32 of "123456789": the standard check value, both bit orders. */
	static const unsigned char s[] = "123456789";

	return (long)(crc32_le(~0, s, 9) ^ ~0U) == 0xcbf43926 &&
	       (crc32_be(~0, s, 9) ^ ~0U) == 0xfc891918;
}

long nb_msg_init(int debug)
{
	return netif_msg_init(debug, NETIF_MSG_DRV | NETIF_MSG_PROBE);
}

/* A packet-path function: stops the machine naming itself. */
void nb_alloc_skb(void)
{
	netdev_alloc_skb(nb_devs[0], 64);
}

static int __init nb_init(void)
{
	return 0;
}
module_init(nb_init);

static void __exit nb_exit(void)
{
	for (int i = 0; i < 3; i++)
		if (nb_devs[i])
			nb_remove(i);
}
module_exit(nb_exit);

MODULE_LICENSE("GPL");
