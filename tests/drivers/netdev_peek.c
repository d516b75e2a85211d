/* Looks at a registered net device from outside its driver, through what
 * the driver stored at probe (netdev_priv, net_device_ops, ethtool_ops,
 * NAPI), for tests/test_intree_8139cp.py.  Calls the driver's ethtool
 * operations as the ethtool core would: those that reach the chip go
 * through the driver's own code (EEPROM bit-banging, mii.ko's MDIO). */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/string.h>
#include <linux/netdevice.h>
#include <linux/etherdevice.h>
#include <linux/ethtool.h>

static struct net_device *peek_dev(void)
{
	return dev_get_by_name(NULL, "eth0");
}

long peek_ifindex(void)
{
	struct net_device *dev = peek_dev();

	return dev ? dev->ifindex : -ENODEV;
}

long peek_mac(int i)
{
	return peek_dev()->dev_addr[i];
}

long peek_perm_mac(int i)
{
	return peek_dev()->perm_addr[i];
}

long peek_state(void)
{
	struct net_device *dev = peek_dev();

	return (dev->reg_state << 8) | (netif_device_present(dev) << 1) | netif_running(dev);
}

long peek_mtu(int which)
{
	struct net_device *dev = peek_dev();

	return which == 0 ? dev->mtu : which == 1 ? dev->min_mtu : dev->max_mtu;
}

/* 1 when the ops are the driver's: open/stop/xmit set, never called. */
long peek_ops(void)
{
	struct net_device *dev = peek_dev();
	const struct net_device_ops *ops = dev->netdev_ops;

	return ops && ops->ndo_open && ops->ndo_stop && ops->ndo_start_xmit &&
	       ops->ndo_validate_addr == eth_validate_addr && dev->ethtool_ops;
}

/* The NAPI instance's weight, and whether it is listed and still disabled. */
long peek_napi(void)
{
	struct napi_struct *napi;
	long out = 0;

	list_for_each_entry(napi, &peek_dev()->napi_list, dev_list)
		out = napi->weight * 100 + test_bit(NAPI_STATE_LISTED, &napi->state) * 10 +
		      test_bit(NAPI_STATE_SCHED, &napi->state);
	return out;
}

long peek_features(int which)
{
	struct net_device *dev = peek_dev();

	return which ? dev->hw_features >> 32 : dev->features & 0xffffffff;
}

static char peek_buf[256];

/* get_drvinfo: 1 if driver and bus_info are what we expect. */
long peek_drvinfo(void)
{
	struct ethtool_drvinfo info = {};

	peek_dev()->ethtool_ops->get_drvinfo(peek_dev(), &info);
	return !strcmp(info.driver, "8139cp") && !strcmp(info.bus_info, "0000:00:02.0");
}

/* get_eeprom of one 16-bit word: the driver bit-bangs the 93C46. */
long peek_eeprom_word(int word)
{
	struct ethtool_eeprom ee = { .offset = 2 * word, .len = 2 };
	int rc = peek_dev()->ethtool_ops->get_eeprom(peek_dev(), &ee, (u8 *)peek_buf);

	if (rc)
		return rc;
	return (u8)peek_buf[0] | (u8)peek_buf[1] << 8;
}

/* get_link_ksettings through mii.ko: speed * 10 + duplex, autoneg in bit 16. */
long peek_link(void)
{
	struct ethtool_link_ksettings ks = {};
	int rc = peek_dev()->ethtool_ops->get_link_ksettings(peek_dev(), &ks);

	if (rc)
		return rc;
	return ks.base.speed * 10 + ks.base.duplex + (ks.base.autoneg << 16);
}

long peek_regs_len(void)
{
	return peek_dev()->ethtool_ops->get_regs_len(peek_dev());
}

static int __init peek_init(void)
{
	return 0;
}
module_init(peek_init);

static void __exit peek_exit(void)
{
}
module_exit(peek_exit);

MODULE_LICENSE("GPL");
