/* The pvpanic device's event bits (QEMU docs/specs/pvpanic.rst): reading
 * the register gives those the device supports, writing one reports it. */
#ifndef __PVPANIC_H__
#define __PVPANIC_H__

#define PVPANIC_PANICKED	(1 << 0)	/* the guest panicked */
#define PVPANIC_CRASH_LOADED	(1 << 1)	/* panicked, a crash kernel takes over */

#endif
