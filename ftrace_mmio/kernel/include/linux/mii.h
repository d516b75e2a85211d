/* The MII management interface (IEEE 802.3 clause 22): PHY register
 * numbers and bits, struct mii_if_info, and the conversions between MII
 * advertisement registers and ethtool's masks.  The generic code that uses
 * them is drivers/net/mii.c, built unchanged from the kernel's tree as its
 * own module (as Debian ships it), exporting mii_* to drivers such as
 * 8139cp. */
#ifndef __LINUX_MII_H__
#define __LINUX_MII_H__

#include <linux/types.h>
#include <linux/ethtool.h>
#include <linux/if.h>
#include <linux/linkmode.h>
#include <uapi/linux/mii.h>

struct ethtool_cmd;
struct net_device;

struct mii_ioctl_data {
	__u16 phy_id;
	__u16 reg_num;
	__u16 val_in;
	__u16 val_out;
};

struct mii_if_info {
	int phy_id;
	int advertising;
	int phy_id_mask;
	int reg_num_mask;

	unsigned int full_duplex : 1;	/* is full duplex? */
	unsigned int force_media : 1;	/* is autoneg. disabled? */
	unsigned int supports_gmii : 1; /* are GMII registers supported? */

	struct net_device *dev;
	int (*mdio_read)(struct net_device *dev, int phy_id, int location);
	void (*mdio_write)(struct net_device *dev, int phy_id, int location, int val);
};

/* drivers/net/mii.c */
extern int mii_link_ok(struct mii_if_info *mii);
extern int mii_nway_restart(struct mii_if_info *mii);
extern void mii_ethtool_gset(struct mii_if_info *mii, struct ethtool_cmd *ecmd);
extern void mii_ethtool_get_link_ksettings(struct mii_if_info *mii,
					   struct ethtool_link_ksettings *cmd);
extern int mii_ethtool_sset(struct mii_if_info *mii, struct ethtool_cmd *ecmd);
extern int mii_ethtool_set_link_ksettings(struct mii_if_info *mii,
					  const struct ethtool_link_ksettings *cmd);
extern int mii_check_gmii_support(struct mii_if_info *mii);
extern void mii_check_link(struct mii_if_info *mii);
extern unsigned int mii_check_media(struct mii_if_info *mii, unsigned int ok_to_print,
				    unsigned int init_media);
extern int generic_mii_ioctl(struct mii_if_info *mii_if, struct mii_ioctl_data *mii_data,
			     int cmd, unsigned int *duplex_changed);

static inline struct mii_ioctl_data *if_mii(struct ifreq *rq)
{
	return (struct mii_ioctl_data *)&rq->ifr_ifru;
}

/* The best mode both ends advertise, from the AND of our advertisement
 * and the partner's: 100 full, 100BASE-T4, 100 half, 10 full, 10 half. */
static inline unsigned int mii_nway_result(unsigned int negotiated)
{
	static const unsigned int order[] = {
		LPA_100FULL, LPA_100BASE4, LPA_100HALF, LPA_10FULL,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(order); i++)
		if (negotiated & order[i])
			return order[i];
	return LPA_10HALF;
}

static inline unsigned int mii_duplex(unsigned int duplex_lock, unsigned int negotiated)
{
	return duplex_lock || (mii_nway_result(negotiated) & LPA_DUPLEX) ? 1 : 0;
}

/* MII advertisement bits <-> ethtool ADVERTISED_* bits, one pair a line. */
struct mii__adv_pair { u32 ethtool, mii; };

#define MII__ADV_10_100 {					\
	{ ADVERTISED_10baseT_Half, ADVERTISE_10HALF },		\
	{ ADVERTISED_10baseT_Full, ADVERTISE_10FULL },		\
	{ ADVERTISED_100baseT_Half, ADVERTISE_100HALF },	\
	{ ADVERTISED_100baseT_Full, ADVERTISE_100FULL },	\
	{ ADVERTISED_Pause, ADVERTISE_PAUSE_CAP },		\
	{ ADVERTISED_Asym_Pause, ADVERTISE_PAUSE_ASYM } }
#define MII__ADV_1000 {						\
	{ ADVERTISED_1000baseT_Half, ADVERTISE_1000HALF },	\
	{ ADVERTISED_1000baseT_Full, ADVERTISE_1000FULL } }

static inline u32 mii__to_mii(const struct mii__adv_pair *p, unsigned int n, u32 ethadv)
{
	u32 result = 0;

	while (n--) {
		if (ethadv & p[n].ethtool)
			result |= p[n].mii;
	}
	return result;
}

static inline u32 mii__to_ethtool(const struct mii__adv_pair *p, unsigned int n, u32 adv)
{
	u32 result = 0;

	while (n--) {
		if (adv & p[n].mii)
			result |= p[n].ethtool;
	}
	return result;
}

static inline u32 ethtool_adv_to_mii_adv_t(u32 ethadv)
{
	static const struct mii__adv_pair p[] = MII__ADV_10_100;
	return mii__to_mii(p, ARRAY_SIZE(p), ethadv);
}

static inline u32 mii_adv_to_ethtool_adv_t(u32 adv)
{
	static const struct mii__adv_pair p[] = MII__ADV_10_100;
	return mii__to_ethtool(p, ARRAY_SIZE(p), adv);
}

static inline u32 ethtool_adv_to_mii_ctrl1000_t(u32 ethadv)
{
	static const struct mii__adv_pair p[] = MII__ADV_1000;
	return mii__to_mii(p, ARRAY_SIZE(p), ethadv);
}

static inline u32 mii_ctrl1000_to_ethtool_adv_t(u32 adv)
{
	static const struct mii__adv_pair p[] = MII__ADV_1000;
	return mii__to_ethtool(p, ARRAY_SIZE(p), adv);
}

/* The link partner's ability register: its acknowledge bit means it
 * autonegotiates. */
static inline u32 mii_lpa_to_ethtool_lpa_t(u32 lpa)
{
	return (lpa & LPA_LPACK ? ADVERTISED_Autoneg : 0) | mii_adv_to_ethtool_adv_t(lpa);
}

static inline u32 mii_stat1000_to_ethtool_lpa_t(u32 lpa)
{
	return (lpa & LPA_1000HALF ? ADVERTISED_1000baseT_Half : 0) |
	       (lpa & LPA_1000FULL ? ADVERTISED_1000baseT_Full : 0);
}

static inline u32 linkmode_adv_to_mii_adv_t(const unsigned long *advertising)
{
	u32 legacy = 0;

	ethtool_convert_link_mode_to_legacy_u32(&legacy, advertising);
	return ethtool_adv_to_mii_adv_t(legacy);
}

/* Pause resolution bits of the advertisement for rx/tx flow control. */
static inline u16 mii_advertise_flowctrl(int cap)
{
	u16 adv = 0;

	if (cap & FLOW_CTRL_RX)
		adv = ADVERTISE_PAUSE_CAP | ADVERTISE_PAUSE_ASYM;
	if (cap & FLOW_CTRL_TX)
		adv ^= ADVERTISE_PAUSE_ASYM;
	return adv;
}

#endif
