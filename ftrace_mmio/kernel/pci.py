"""drivers/pci: the PCI core drivers call.

``struct pci_dev`` lives in kernel memory, one per function on the bus,
filled from the device's config space at boot; the calls below find
devices, enable them, reach config space and map BARs.  The driver model
(pci_register_driver, probe/remove, devres) is guest C in
kernel/core/pci-driver.c and devres.c; it tells this side which driver a
device is bound to (``__pci_bind_driver``) so PCIDEV lines and lspci show
it.  Region ownership (request_mem_region, pci_request_region) is kept
here, per module, so a module that forgets to release is caught at rmmod.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from ..machine.cpu import CpuStop, Stop
from .api import Subsystem, _s32, _u32, export

IORESOURCE_IO = 0x100
IORESOURCE_MEM = 0x200
PCI_COMMAND = 0x04
PCI_COMMAND_IO, PCI_COMMAND_MEMORY, PCI_COMMAND_MASTER = 0x1, 0x2, 0x4
PCIBIOS_SUCCESSFUL = 0x00
PCIBIOS_BAD_REGISTER_NUMBER = 0x87
PCI_ANY_ID = 0xFFFF_FFFF

# struct pci_dev, as laid out in include/linux/pci.h (checked there with
# _Static_assert): bus, devfn, vendor, device, subsystem ids, class,
# revision, hdr_type, pin, irq, resource[7], dev (struct device, 128 bytes,
# linux/device.h), bus_storage, driver, dma_mask, flag bits, spares.
PCI_DEV_SIZE = 480
PCI_DEV_HEAD = struct.Struct("<QIHHHHIBBBxI")
RESOURCE = struct.Struct("<QQQQ")
PCI_DEV_DEV_OFF = 256
PCI_DEV_BUS_OFF = 384
PCI_DEV_DRIVER_OFF = 392
PCI_DEV_DMA_MASK_OFF = 400
PCI_DEV_FLAGS_OFF = 408            # is_busmaster:1 is_managed:1 msi_enabled:1 msix_enabled:1 no_msi:1
PCI_DEV_IRQ_SPARE_OFF = 416        # 4 x u64 for the interrupt slice
# struct device: init_name, driver_data, parent, driver, bus, dma_mask,
# coherent_dma_mask, bus_dma_limit, dma_parms, devres_head, release,
# platform_data, __spare[4].
DEVICE = struct.Struct("<QQQQQQQQQQQQ32x")
DEVICE_DRIVER_OFF = 24
DEVICE_BUS_OFF = 32
DEVICE_DEVRES_OFF = 72
DMA_BIT_MASK_32 = 0xFFFF_FFFF


class PciCore(Subsystem):
    """pci_get_device, enable, config space, pci_iomap."""

    name = "pci"

    def __init__(self, api) -> None:
        super().__init__(api)
        self.pci_by_va: dict[int, Any] = {}          # struct pci_dev address -> PciDevice
        self.pci_va: dict[int, int] = {}             # id(PciDevice) -> struct pci_dev address
        self._pci_order: list[int] = []              # struct addresses in (bus, devfn) order
        self.model_bound: set[int] = set()            # pci_dev addresses bound by a pci_driver
        self.enabled_by: dict[int, str] = {}          # pci_dev address -> module that enabled it
        self.drivers: dict[int, str] = {}            # registered struct pci_driver -> name
        self.regions: list[Region] = []
        self.iomem_resource = api.data_symbol("iomem_resource", RESOURCE.size)
        self.ioport_resource = api.data_symbol("ioport_resource", RESOURCE.size)

    def boot(self) -> None:
        for va, name, end, flags in ((self.iomem_resource, b"PCI mem\0", (1 << 64) - 1, 0x200),
                                     (self.ioport_resource, b"PCI IO\0", 0xFFFF, 0x100)):
            name_va = self.mm.kmalloc(len(name))
            self.mm.write(name_va, name)
            self.mm.write(va, RESOURCE.pack(0, end, name_va, flags))
        self.build_pci_devices(self.machine.pci_bus.devices)

    def device_of(self, dev_va: int):
        """The PciDevice whose ``struct device`` is at ``dev_va``, or None."""
        return self.pci_by_va.get(dev_va - PCI_DEV_DEV_OFF)

    # ---- PCI -----------------------------------------------------------------------------------------

    def build_pci_devices(self, devices) -> None:
        """Give every PCI device a struct pci_dev in kernel memory."""
        for dev in sorted(devices, key=lambda d: tuple(d.slot)):
            va = self.mm.kmalloc(PCI_DEV_SIZE)
            name = _slot_name(dev).encode() + b"\0"
            name_va = self.mm.kmalloc(len(name))
            self.mm.write(name_va, name)
            bus, devfn = dev.slot
            cfg = dev.config_read
            head = PCI_DEV_HEAD.pack(
                va + PCI_DEV_BUS_OFF, devfn, dev.vendor, dev.device,
                cfg(0x2C, 2), cfg(0x2E, 2), cfg(0x08, 4) >> 8, cfg(0x08, 1), cfg(0x0E, 1) & 0x7F,
                cfg(0x3D, 1), int(dev.irq or 0))
            res = b"".join(RESOURCE.pack(start, end, 0, flags) for start, end, flags in
                           _resources(dev))
            # struct device: the kernel's PCI defaults, 32-bit DMA masks.
            device = DEVICE.pack(name_va, 0, 0, 0, self._pci_bus_type(), va + PCI_DEV_DMA_MASK_OFF,
                                 DMA_BIT_MASK_32, 0, 0, 0, 0, 0)
            tail = bytes([bus]) + bytes(7) + struct.pack("<QQ", 0, DMA_BIT_MASK_32)
            blob = head + res + device + tail
            blob += bytes(PCI_DEV_SIZE - len(blob))
            assert len(blob) == PCI_DEV_SIZE
            self.mm.write(va, blob)
            self.pci_by_va[va] = dev
            self.pci_va[id(dev)] = va
            self._pci_order.append(va)

    def _pci_bus_type(self) -> int:
        """``pci_bus_type`` lives in the guest core (its name is what an
        unbound device's messages are prefixed with)."""
        core = getattr(self.machine, "core", None)
        return core.symbols.get("pci_bus_type", 0) if core is not None else 0

    def _pdev(self, va: int):
        dev = self.pci_by_va.get(va)
        if dev is None:
            stop = Stop("bug", f"PCI call on {va:#x}, which is not a struct pci_dev",
                        [f"BUG: PCI call on {va:#x}, which is not a struct pci_dev",
                         "invalid opcode: 0000 [#{n}]"], vector=6)
            self.api._at_caller(stop)
            raise CpuStop(stop)
        return dev

    @export(nargs=3)
    def pci_get_device(self, vendor: int, device: int, from_: int) -> int:
        """The next device after ``from_`` matching the ids (PCI_ANY_ID
        matches all), in (bus, devfn) order; takes a reference on it and
        drops the one on ``from_``, as the kernel does."""
        vendor, device = _u32(vendor), _u32(device)
        order = self._pci_order
        start = order.index(from_) + 1 if from_ in order else 0
        found = 0
        for va in order[start:]:
            dev = self.pci_by_va[va]
            if vendor in (PCI_ANY_ID, dev.vendor) and device in (PCI_ANY_ID, dev.device):
                found = va
                _call_if(dev, "get")
                break
        if from_:
            _call_if(self._pdev(from_), "put")
        return found

    @export(nargs=1)
    def pci_dev_get(self, dev_va: int) -> int:
        if dev_va:
            _call_if(self._pdev(dev_va), "get")
        return dev_va

    @export(nargs=1)
    def pci_dev_put(self, dev_va: int) -> None:
        if dev_va:
            _call_if(self._pdev(dev_va), "put")

    @export(nargs=1)
    def pci_enable_device(self, dev_va: int) -> int:
        """Turn on decoding for the BARs the device has, and bind it to the
        calling module (our stand-in for a driver's probe: the name lspci
        and PCIDEV lines show, until the module is unloaded)."""
        dev = self._pdev(dev_va)
        if hasattr(dev, "enable"):
            dev.enable()
        else:
            bits = 0
            for start, end, flags in _resources(dev)[:6]:
                if end:
                    bits |= PCI_COMMAND_IO if flags & IORESOURCE_IO else PCI_COMMAND_MEMORY
            dev.config_write(PCI_COMMAND, 2, dev.config_read(PCI_COMMAND, 2) | bits)
        mod = self.machine.current_module
        if mod is not None and dev_va not in self.model_bound:
            dev.driver = mod.name
            self.enabled_by[dev_va] = mod.name
        return 0

    @export(nargs=1)
    def pci_disable_device(self, dev_va: int) -> None:
        dev = self._pdev(dev_va)
        if hasattr(dev, "disable"):
            dev.disable()
        else:
            dev.config_write(PCI_COMMAND, 2, dev.config_read(PCI_COMMAND, 2) & ~PCI_COMMAND_MASTER)

    @export(nargs=1)
    def pci_enable_device_mem(self, dev_va: int) -> int:
        return self.pci_enable_device(dev_va)

    @export(nargs=1)
    def pci_is_enabled(self, dev_va: int) -> int:
        return int(getattr(self._pdev(dev_va), "enable_count", 1) > 0)

    @export(nargs=1)
    def pci_clear_master(self, dev_va: int) -> None:
        dev = self._pdev(dev_va)
        dev.config_write(PCI_COMMAND, 2, dev.config_read(PCI_COMMAND, 2) & ~PCI_COMMAND_MASTER)

    @export(nargs=1)
    def pci_set_master(self, dev_va: int) -> None:
        dev = self._pdev(dev_va)
        cmd = dev.config_read(PCI_COMMAND, 2)
        dev.config_write(PCI_COMMAND, 2, cmd | PCI_COMMAND_MASTER)

    # ---- the driver model's hypercalls (kernel/core/pci-driver.c) ------------------------------

    @export("__pci_bind_driver", nargs=2)
    def pci_bind_driver(self, dev_va: int, name: int) -> None:
        """The core bound ``dev_va`` to the driver called ``name`` (NULL:
        unbound it): the name lspci -k and PCIDEV lines show."""
        dev = self._pdev(dev_va)
        if name:
            dev.driver = self.mm.read_cstring(name, 64).decode("utf-8", "replace")
            self.model_bound.add(dev_va)
        else:
            dev.driver = None
            self.model_bound.discard(dev_va)

    @export("__pci_driver_registered", nargs=3)
    def pci_driver_registered(self, drv: int, name: int, registered: int) -> None:
        """Which struct pci_driver objects are registered: a module that goes
        away with one still registered is cleaned up in module_unloaded."""
        if registered:
            self.drivers[drv] = self.mm.read_cstring(name, 64).decode("utf-8", "replace") if name else "?"
        else:
            self.drivers.pop(drv, None)

    # ---- regions: who owns which range of memory / port space ----------------------------------

    @export("__request_region", nargs=5)
    def request_region(self, parent: int, start: int, n: int, name: int, flags: int) -> int:
        """Reserve [start, start+n) under ``parent`` (iomem_resource or
        ioport_resource): a new struct resource, or NULL if any part is
        already reserved (the kernel's __request_region without muxing)."""
        if n == 0 or start + n - 1 >= 1 << 64:
            return 0
        end = start + n - 1
        for r in self.regions:
            if r.parent == parent and r.start <= end and start <= r.end:
                return 0
        res = self.mm.kmalloc(RESOURCE.size)
        if not res:
            return 0
        ptype = self.mm.read_uint(parent + 24, 8) & 0x1F00 if parent else 0x200
        self.mm.write(res, RESOURCE.pack(start, end, name, ptype | 0x8000_0000 | (_u32(flags) & 0x0840_0000)))
        mod = self.machine.current_module
        self.regions.append(Region(parent, start, end, res, mod.name if mod is not None else None))
        return res

    @export("__release_region", nargs=3)
    def release_region(self, parent: int, start: int, n: int) -> None:
        end = start + n - 1
        for r in self.regions:
            if r.parent == parent and r.start == start and r.end == end:
                self.regions.remove(r)
                self.mm.kfree(r.res)
                return
        self.machine.log.log(4, f"resource: Trying to free nonexistent resource <{start:#018x}-{end:#018x}>")

    def module_unloaded(self, module) -> None:
        # A driver still registered by a module that is gone: unregister it
        # (remove, devres) while its code is still mapped, as its exit should have.
        base, end = module.base, module.base + module.size
        left = [drv for drv in self.drivers if base <= drv < end]
        gone = self.machine.resolve("__pci_driver_module_gone")
        for drv in left:
            self.machine.log.log(4, f"{module.name}: pci_driver '{self.drivers[drv]}' still registered "
                                    "at unload; unregistering it")
            try:
                if gone:
                    self.machine._call(gone, (drv,), None, "rmmod")
            except Exception:          # an oops is logged; the driver is forgotten anyway
                pass
            self.drivers.pop(drv, None)
        # A pci_get_device-style module that used devm_*/pcim_* on a device
        # no driver was bound to: the kernel would keep those resources for
        # ever (and refuse the next probe of the device); here they go with
        # the module that took them, and the log says so.
        release_all = self.machine.resolve("devres_release_all")
        for va, owner in list(self.enabled_by.items()):
            if owner != module.name:
                continue
            del self.enabled_by[va]
            dev_va = va + PCI_DEV_DEV_OFF
            if va in self.model_bound or not self.mm.read_uint(dev_va + DEVICE_DEVRES_OFF, 8):
                continue
            self.machine.log.log(4, f"{module.name}: managed resources of {_slot_name(self.pci_by_va[va])} "
                                    "released at unload (no driver was bound)")
            try:
                if release_all:
                    self.machine._call(release_all, (dev_va,), None, "rmmod")
            except Exception:
                pass
        # Regions a module reserved and never released: the kernel would keep
        # them reserved for ever; here they are released (and said so), so the
        # next load of the same driver can reserve them again.
        for r in [r for r in self.regions if r.owner == module.name]:
            kind = "io " if r.parent == self.ioport_resource else "mem"
            self.machine.log.log(4, f"{module.name}: [{kind} {r.start:#010x}-{r.end:#010x}] still "
                                    "reserved at unload; released")
            self.regions.remove(r)
            self.mm.kfree(r.res)

    def _config_read(self, dev_va: int, where: int, val: int, width: int) -> int:
        dev = self._pdev(dev_va)
        where = _s32(where)
        if where & (width - 1) or not 0 <= where <= 256 - width:
            return PCIBIOS_BAD_REGISTER_NUMBER
        try:
            value = dev.config_read(where, width)
        except ValueError as exc:           # the bus refuses: PciConfigError carries the code
            return getattr(exc, "code", PCIBIOS_BAD_REGISTER_NUMBER)
        self.mm.write_uint(val, width, value)
        return PCIBIOS_SUCCESSFUL

    def _config_write(self, dev_va: int, where: int, value: int, width: int) -> int:
        dev = self._pdev(dev_va)
        where = _s32(where)
        if where & (width - 1) or not 0 <= where <= 256 - width:
            return PCIBIOS_BAD_REGISTER_NUMBER
        try:
            dev.config_write(where, width, value & ((1 << (8 * width)) - 1))
        except ValueError as exc:
            return getattr(exc, "code", PCIBIOS_BAD_REGISTER_NUMBER)
        return PCIBIOS_SUCCESSFUL

    @export(nargs=3)
    def pci_read_config_byte(self, dev: int, where: int, val: int) -> int:
        return self._config_read(dev, where, val, 1)

    @export(nargs=3)
    def pci_read_config_word(self, dev: int, where: int, val: int) -> int:
        return self._config_read(dev, where, val, 2)

    @export(nargs=3)
    def pci_read_config_dword(self, dev: int, where: int, val: int) -> int:
        return self._config_read(dev, where, val, 4)

    @export(nargs=3)
    def pci_write_config_byte(self, dev: int, where: int, value: int) -> int:
        return self._config_write(dev, where, value, 1)

    @export(nargs=3)
    def pci_write_config_word(self, dev: int, where: int, value: int) -> int:
        return self._config_write(dev, where, value, 2)

    @export(nargs=3)
    def pci_write_config_dword(self, dev: int, where: int, value: int) -> int:
        return self._config_write(dev, where, value, 4)

    @export(nargs=3)
    def pci_iomap(self, dev_va: int, bar: int, maxlen: int) -> int:
        dev = self._pdev(dev_va)
        bar = _s32(bar)
        resources = _resources(dev)
        if not 0 <= bar < len(resources):
            return 0
        start, end, flags = resources[bar]
        if not end or end < start:
            return 0
        length = end - start + 1
        if maxlen and length > maxlen:
            length = maxlen
        if flags & IORESOURCE_IO:
            return _port_cookie(start)
        return self.api.ioremap_phys(start, length)

    @export(nargs=4)
    def pci_iomap_range(self, dev_va: int, bar: int, offset: int, maxlen: int) -> int:
        return self._iomap(dev_va, bar, offset, maxlen)

    @export(nargs=3)
    def pci_iomap_wc(self, dev_va: int, bar: int, maxlen: int) -> int:
        return self._iomap(dev_va, bar, 0, maxlen)

    @export(nargs=4)
    def pci_iomap_wc_range(self, dev_va: int, bar: int, offset: int, maxlen: int) -> int:
        return self._iomap(dev_va, bar, offset, maxlen)

    def _iomap(self, dev_va: int, bar: int, offset: int, maxlen: int) -> int:
        """pci_iomap_range: map ``maxlen`` bytes (0: the rest) of a BAR
        from ``offset``; NULL past the end or for an empty BAR."""
        dev = self._pdev(dev_va)
        bar = _s32(bar)
        resources = _resources(dev)
        if not 0 <= bar < len(resources):
            return 0
        start, end, flags = resources[bar]
        if not end or end < start:
            return 0
        length = end - start + 1
        if offset >= length:
            return 0
        length -= offset
        if maxlen and length > maxlen:
            length = maxlen
        if flags & IORESOURCE_IO:
            return _port_cookie(start + offset)
        return self.api.ioremap_phys(start + offset, length)

    @export(nargs=2)
    def pci_ioremap_bar(self, dev_va: int, bar: int) -> int:
        return self._ioremap_bar(dev_va, bar)

    @export(nargs=2)
    def pci_ioremap_wc_bar(self, dev_va: int, bar: int) -> int:
        return self._ioremap_bar(dev_va, bar)

    def _ioremap_bar(self, dev_va: int, bar: int) -> int:
        """The whole of a memory BAR; an I/O BAR is refused with a warning."""
        dev = self._pdev(dev_va)
        bar = _s32(bar)
        resources = _resources(dev)
        if not 0 <= bar < len(resources):
            return 0
        start, end, flags = resources[bar]
        if not flags & IORESOURCE_MEM:
            prefix = self.api.device.prefix(dev_va + PCI_DEV_DEV_OFF)
            kind = "io " if flags & IORESOURCE_IO else "??? "
            self.machine.log.log(3, f"{prefix}can't ioremap BAR {bar}: [{kind}{start:#06x}-{end:#06x}]")
            return 0
        return self.api.ioremap_phys(start, end - start + 1)

    @export(nargs=2)
    def pci_iounmap(self, dev_va: int, addr: int) -> None:
        self.api.iounmap(addr)



@dataclass
class Region:
    """A reserved range: its root (iomem/ioport_resource), bounds, the
    struct resource handed out, and the module that asked."""

    parent: int
    start: int
    end: int
    res: int
    owner: str | None


# An I/O BAR maps to an iomap cookie, not to memory: the port number plus
# PIO_OFFSET (asm/io.h), which ioread*/iowrite* turn into in/out, as the
# kernel's ioport_map does.  Nothing to unmap (iounmap ignores it).
PIO_OFFSET = 0x10000


def _port_cookie(port: int) -> int:
    return PIO_OFFSET + port


def slot_name_of(dev) -> str:
    bus, devfn = dev.slot
    return f"0000:{bus:02x}:{devfn >> 3:02x}.{devfn & 7}"


_slot_name = slot_name_of


def _resources(dev) -> list[tuple[int, int, int]]:
    res = [tuple(r) for r in dev.resources][:7]
    return res + [(0, 0, 0)] * (7 - len(res))


def _call_if(dev, method: str) -> None:
    fn = getattr(dev, method, None)
    if fn is not None:
        fn()
