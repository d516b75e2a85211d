"""drivers/pci: the PCI core drivers call.

``struct pci_dev`` lives in kernel memory, one per function on the bus,
filled from the device's config space at boot; the calls below find
devices, enable them, reach config space and map BARs.
"""

from __future__ import annotations

import struct
from typing import Any

from ..machine.cpu import CpuStop, Stop
from .api import Subsystem, _s32, _u32, export

IORESOURCE_IO = 0x100
PCI_COMMAND = 0x04
PCI_COMMAND_IO, PCI_COMMAND_MEMORY, PCI_COMMAND_MASTER = 0x1, 0x2, 0x4
PCIBIOS_SUCCESSFUL = 0x00
PCIBIOS_BAD_REGISTER_NUMBER = 0x87
PCI_ANY_ID = 0xFFFF_FFFF

# struct pci_dev, as laid out in include/linux/pci.h (checked there with
# _Static_assert): bus, devfn, vendor, device, subsystem ids, class,
# revision, hdr_type, irq, resource[7], dev {init_name, driver_data},
# bus_storage.
PCI_DEV_SIZE = 280
PCI_DEV_HEAD = struct.Struct("<QIHHHHIBB2xI")
RESOURCE = struct.Struct("<QQQQ")
PCI_DEV_DEV_OFF = 256
PCI_DEV_BUS_OFF = 272


class PciCore(Subsystem):
    """pci_get_device, enable, config space, pci_iomap."""

    name = "pci"

    def __init__(self, api) -> None:
        super().__init__(api)
        self.pci_by_va: dict[int, Any] = {}          # struct pci_dev address -> PciDevice
        self.pci_va: dict[int, int] = {}             # id(PciDevice) -> struct pci_dev address
        self._pci_order: list[int] = []              # struct addresses in (bus, devfn) order

    def boot(self) -> None:
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
                int(dev.irq or 0))
            res = b"".join(RESOURCE.pack(start, end, 0, flags) for start, end, flags in
                           _resources(dev))
            blob = head + res + struct.pack("<QQ", name_va, 0) + bytes([bus]) + bytes(7)
            assert len(blob) == PCI_DEV_SIZE
            self.mm.write(va, blob)
            self.pci_by_va[va] = dev
            self.pci_va[id(dev)] = va
            self._pci_order.append(va)

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
        if mod is not None:
            dev.driver = mod.name
        return 0

    @export(nargs=1)
    def pci_disable_device(self, dev_va: int) -> None:
        dev = self._pdev(dev_va)
        if hasattr(dev, "disable"):
            dev.disable()
        else:
            dev.config_write(PCI_COMMAND, 2, dev.config_read(PCI_COMMAND, 2) & ~PCI_COMMAND_MASTER)

    @export(nargs=1)
    def pci_set_master(self, dev_va: int) -> None:
        dev = self._pdev(dev_va)
        cmd = dev.config_read(PCI_COMMAND, 2)
        dev.config_write(PCI_COMMAND, 2, cmd | PCI_COMMAND_MASTER)

    @export(nargs=2)
    def pci_request_regions(self, dev_va: int, name: int) -> int:
        self._pdev(dev_va)
        return 0

    @export(nargs=1)
    def pci_release_regions(self, dev_va: int) -> None:
        self._pdev(dev_va)

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
            self.machine.log.log(4, f"pci_iomap: BAR {bar} of {_slot_name(dev)} is I/O ports, "
                                    "which this machine does not emulate")
            return 0
        return self.api.ioremap_phys(start, length)

    @export(nargs=2)
    def pci_iounmap(self, dev_va: int, addr: int) -> None:
        self.api.iounmap(addr)



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
