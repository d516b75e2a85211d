#ifndef _LINUX_KTIME_H
#define _LINUX_KTIME_H

#include <linux/timekeeping.h>

#endif
