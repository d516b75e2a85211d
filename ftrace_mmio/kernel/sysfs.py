"""The device attributes drivers declare, as files in the mount.

A driver's ``dev_groups`` (struct pci_driver or struct device_driver: the
``DEVICE_ATTR_RO``/``_RW`` attributes, ``ATTRIBUTE_GROUPS``) are listed while
the driver is bound; the mount shows them as
``sys/bus/pci/devices/<slot>/<attribute>`` with the attribute's mode.
Reading one calls the driver's ``show`` with a page (``sysfs_page``, guest
memory), writing one calls ``store`` with what was written, on the machine's
CPU thread (kernel/core/sysfs.c has the C side), as sysfs does. There is no
other sysfs: no kobjects, no class or driver directories.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Any, Callable

from ..machine.mm import PAGE_SIZE
from .api import Subsystem
from .module import ModuleOops

PCI_DEV_STRUCT_DEVICE = 256          # offsetof(struct pci_dev, dev): linux/pci.h checks it
MAX_ATTRS = 64
ATTR_MODE_OFFSET = 8                 # struct attribute { const char *name; umode_t mode; }


def _s64(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >> 63 else v


@dataclass(frozen=True)
class DeviceAttribute:
    """One attribute of one device: where it is and what it may do."""

    device: str          # the PCI slot, "0000:00:02.0"
    name: str
    mode: int
    dev_va: int          # struct device *
    attr_va: int         # struct device_attribute *


class Sysfs(Subsystem):
    name = "sysfs"

    def __init__(self, api) -> None:
        super().__init__(api)
        self._out = 0                # guest array for __sysfs_dev_attrs

    # ---- listing (any thread) ------------------------------------------------

    def attributes(self) -> dict[str, dict[str, DeviceAttribute]]:
        """slot -> name -> attribute, for every bound PCI device."""
        return self.machine.run_on_cpu(self._attributes_cpu)

    def show(self, attr: DeviceAttribute, comm: str = "cat") -> bytes:
        """read(2) of the attribute's file: what show() formatted."""
        return self.machine.run_on_cpu(self._show_cpu, attr, comm)

    def store(self, attr: DeviceAttribute, data: bytes, comm: str = "sh") -> int:
        """write(2) to the attribute's file: what store() returned (an
        OSError with its errno when negative)."""
        return self.machine.run_on_cpu(self._store_cpu, attr, bytes(data), comm)

    # ---- on the CPU thread --------------------------------------------------------

    def _attributes_cpu(self) -> dict[str, dict[str, DeviceAttribute]]:
        mm, machine = self.mm, self.machine
        if not self._out:
            self._out = mm.kmalloc(8 * MAX_ATTRS)
        out: dict[str, dict[str, DeviceAttribute]] = {}
        for pdev_va in sorted(self.api.pci.pci_by_va):
            dev_va = pdev_va + PCI_DEV_STRUCT_DEVICE
            slot = mm.read_cstring(mm.read_uint(dev_va, 8), 64).decode("ascii", "replace")
            n = _s64(machine._call(machine.resolve("__sysfs_dev_attrs"), (dev_va, self._out, MAX_ATTRS),
                                   None, "ls"))
            attrs: dict[str, DeviceAttribute] = {}
            for i in range(max(0, n)):
                attr_va = mm.read_uint(self._out + 8 * i, 8)
                name = mm.read_cstring(mm.read_uint(attr_va, 8), 256).decode("utf-8", "replace")
                mode = mm.read_uint(attr_va + ATTR_MODE_OFFSET, 2) & 0o7777
                if name and "/" not in name:
                    attrs[name] = DeviceAttribute(slot, name, mode, dev_va, attr_va)
            if attrs:
                out[slot] = attrs
        return out

    def _owner(self, va: int):
        return next((m for m in self.machine.modules.values() if m.contains(va)), None)

    def _call(self, fn: str, args: tuple[int, ...], attr: DeviceAttribute, comm: str) -> int:
        try:
            return _s64(self.machine._call(self.machine.resolve(fn), args, self._owner(attr.attr_va), comm))
        except ModuleOops as oops:
            raise OSError(errno.EIO, str(oops)) from None
        finally:
            self.machine._run_deferred()

    def _show_cpu(self, attr: DeviceAttribute, comm: str) -> bytes:
        if not attr.mode & 0o444:
            raise OSError(errno.EACCES, f"{attr.name} is not readable")
        n = self._call("__sysfs_show", (attr.dev_va, attr.attr_va), attr, comm)
        if n < 0:
            raise OSError(-n, f"{attr.name}: show failed ({n})")
        return self.mm.read(self.machine.resolve("sysfs_page"), min(n, PAGE_SIZE))

    def _store_cpu(self, attr: DeviceAttribute, data: bytes, comm: str) -> int:
        if not attr.mode & 0o222:
            raise OSError(errno.EACCES, f"{attr.name} is not writable")
        if len(data) >= PAGE_SIZE:
            raise OSError(errno.EINVAL, "sysfs writes are at most a page")
        self.mm.write(self.machine.resolve("sysfs_page"), data + b"\0")
        n = self._call("__sysfs_store", (attr.dev_va, attr.attr_va, len(data)), attr, comm)
        if n < 0:
            raise OSError(-n, f"{attr.name}: store failed ({n})")
        return n


def sys_dir(sysfs: Sysfs, name: str = "sys") -> Any:
    """``sys/bus/pci/devices/<slot>/<attribute>``: the attributes of bound
    drivers. Each read is one show(), each write one store()."""
    from tracefs.nodes import Dir, DynamicDir, File, Handle, Request

    class AttrHandle(Handle):
        def __init__(self, attr: DeviceAttribute) -> None:
            self.attr = attr
            self._text: bytes | None = None

        def read(self, size: int, offset: int, req: Request) -> bytes:
            if self._text is None or offset == 0:
                self._text = sysfs.show(self.attr)
            return self._text[offset:offset + size]

        def write(self, data: bytes, offset: int, req: Request) -> int:
            return sysfs.store(self.attr, data)

    def opener(attr: DeviceAttribute) -> Callable[[Request], Handle]:
        return lambda req: AttrHandle(attr)

    def device_dir(slot: str) -> Any:
        def entries() -> dict[str, File]:
            attrs = sysfs.attributes().get(slot, {})
            return {n: File(n, a.mode, opener(a), truncate=lambda req: None) for n, a in sorted(attrs.items())}
        return DynamicDir(slot, 0o755, entries)

    def devices() -> dict[str, Any]:
        return {slot: device_dir(slot) for slot in sorted(sysfs.attributes())}

    root = Dir(name, 0o755)
    bus = Dir("bus", 0o755)
    pci = Dir("pci", 0o755)
    root.add(bus)
    bus.add(pci)
    pci.add(DynamicDir("devices", 0o755, devices))
    return root
