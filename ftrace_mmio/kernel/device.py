"""drivers/base: dev_printk and the names it prefixes messages with.

A message about a device reads ``<driver> <device>: text``, as the kernel
prints it: the bound driver's name (``struct device.driver->name``, set by
the driver model in kernel/core/pci-driver.c), else -- for a driver that
found its device with pci_get_device() and enabled it -- the module it is
bound to, else the bus name (``pci``); then dev_name().  A NULL device
prints ``(NULL device *): text``.
"""

from __future__ import annotations

import errno

from .api import Subsystem, _s32, export
from .pci import DEVICE_BUS_OFF, DEVICE_DRIVER_OFF

EPROBE_DEFER = 517
# Kernel-only errno names (include/linux/errno.h) that Python's errno lacks.
_KERNEL_ERRNAMES = {512: "ERESTARTSYS", 513: "ERESTARTNOINTR", 514: "ERESTARTNOHAND",
                    515: "ENOIOCTLCMD", 516: "ERESTART_RESTARTBLOCK", 517: "EPROBE_DEFER",
                    518: "EOPENSTALE", 519: "ENOPARAM", 521: "EBADHANDLE", 524: "ENOTSUPP",
                    526: "ETOOSMALL", 527: "ESERVERFAULT", 528: "EBADTYPE", 529: "EJUKEBOX",
                    530: "EIOCBQUEUED", 531: "ERECALLCONFLICT"}


def errname(err: int) -> str:
    """``%pe`` of an error code: ``-ENOMEM``, or the number when unnamed."""
    code = -err if err < 0 else err
    name = _KERNEL_ERRNAMES.get(code) or errno.errorcode.get(code)
    if name is None:
        return str(err)
    return f"-{name}" if err < 0 else name


class Device(Subsystem):
    """dev_printk, dev_err_probe."""

    name = "device"

    def _name_at(self, ptr_va: int) -> str | None:
        """The C string whose pointer is stored at ``ptr_va``."""
        ptr = self.mm.read_uint(ptr_va, 8)
        if not ptr:
            return None
        return self.mm.read_cstring(ptr, 128).decode("utf-8", "replace")

    def driver_string(self, dev: int) -> str:
        """The kernel's dev_driver_string(): driver, else bus, else ""."""
        drv = self.mm.read_uint(dev + DEVICE_DRIVER_OFF, 8)
        if drv:
            return self._name_at(drv) or ""
        pdev = self.api.pci.device_of(dev)
        if pdev is not None and getattr(pdev, "driver", None):
            return pdev.driver          # bound by pci_enable_device (pci_get_device style)
        bus = self.mm.read_uint(dev + DEVICE_BUS_OFF, 8)
        if bus:
            return self._name_at(bus) or ""
        return "pci" if pdev is not None else ""

    def prefix(self, dev: int) -> str:
        """``"<driver> <dev_name>: "``, or ``"(NULL device *): "``."""
        if not dev:
            return "(NULL device *): "
        return f"{self.driver_string(dev)} {self._name_at(dev) or '(null)'}: "

    @export(nargs=3, variadic=True)
    def dev_printk(self, level: int, dev: int, fmt: int, args) -> int:
        lvl = self.mm.read_cstring(level, 8) if level else b""
        body = self.api._format(fmt, args)
        return self.machine.log.printk(lvl + self.prefix(dev).encode() + body)

    @export(nargs=3, variadic=True)
    def dev_err_probe(self, dev: int, err: int, fmt: int, args) -> int:
        """Log ``error -EXXX: message`` (debug level for -EPROBE_DEFER, as
        the kernel keeps deferrals quiet) and return ``err``."""
        err = _s32(err)
        body = self.api._format(fmt, args)
        level = b"\x017" if err == -EPROBE_DEFER else b"\x013"
        text = level + self.prefix(dev).encode() + f"error {errname(err)}: ".encode() + body
        self.machine.log.printk(text)
        return err & 0xFFFF_FFFF_FFFF_FFFF
