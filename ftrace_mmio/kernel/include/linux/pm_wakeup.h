/* Device wake-up (Wake-on-LAN and the like).  There is no system sleep on
 * this machine: no device can wake it, and enabling wake-up is accepted
 * and has no effect. */
#ifndef _LINUX_PM_WAKEUP_H
#define _LINUX_PM_WAKEUP_H

#include <linux/types.h>

struct device;

static inline bool device_can_wakeup(struct device *dev) { return false; }
static inline bool device_may_wakeup(struct device *dev) { return false; }
static inline int device_wakeup_enable(struct device *dev) { return 0; }
static inline int device_wakeup_disable(struct device *dev) { return 0; }
static inline void device_set_wakeup_capable(struct device *dev, bool capable) { }
static inline int device_set_wakeup_enable(struct device *dev, bool enable) { return 0; }
static inline int device_init_wakeup(struct device *dev, bool enable) { return 0; }
static inline void pm_wakeup_event(struct device *dev, unsigned int msec) { }

#endif
