"""The PCI bus: config space, BARs, the kernel's resources, and lspci.

A :class:`PciDevice` puts a device model at a (bus, devfn) with assigned BAR
addresses. It answers config-space accesses the way hardware does (a type 0
header; BARs whose writable bits give their size when all ones are written;
write-1-to-clear status bits) and keeps ``resources`` the way the kernel's
``struct pci_dev`` does: seven (start, end, flags) entries, BAR0..BAR5 and the
expansion ROM, with the BAR's type bits in the low nibble of ``flags``. Those
are what mmiotrace's PCIDEV lines print (mmiotrace.md §1.4).

:func:`default_bus` builds the default machine (docs/devices.md has the table).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Iterable, Mapping, NamedTuple

from .devices import DeviceModel, create_model
from .devices.base import MsixSpec, Region

if TYPE_CHECKING:
    from ..trace.clock import TimeBase

# Config-space offsets of the type 0 header.
PCI_VENDOR_ID, PCI_DEVICE_ID, PCI_COMMAND, PCI_STATUS = 0x00, 0x02, 0x04, 0x06
PCI_REVISION_ID, PCI_CLASS_PROG, PCI_CLASS_DEVICE = 0x08, 0x09, 0x0a
PCI_CACHE_LINE_SIZE, PCI_LATENCY_TIMER, PCI_HEADER_TYPE, PCI_BIST = 0x0c, 0x0d, 0x0e, 0x0f
PCI_BASE_ADDRESS_0 = 0x10
PCI_SUBSYSTEM_VENDOR_ID, PCI_SUBSYSTEM_ID = 0x2c, 0x2e
PCI_ROM_ADDRESS, PCI_CAPABILITY_LIST = 0x30, 0x34
PCI_INTERRUPT_LINE, PCI_INTERRUPT_PIN = 0x3c, 0x3d
CONFIG_SPACE_SIZE = 256
#: Where the device-specific part of config space starts (a model may serve it:
#: ``device_config_read(offset, width) -> int | None``, ``device_config_write(offset,
#: width, value) -> bool``, True when it took the write).
DEVICE_CONFIG_START = 0x40

PCI_COMMAND_IO, PCI_COMMAND_MEMORY, PCI_COMMAND_MASTER = 0x1, 0x2, 0x4
PCI_COMMAND_PARITY, PCI_COMMAND_SERR, PCI_COMMAND_INTX_DISABLE = 0x40, 0x100, 0x400
PCI_STATUS_ERROR_BITS = 0xf900            # parity, aborts, SERR: write 1 to clear
PCI_STATUS_INTERRUPT, PCI_STATUS_CAP_LIST = 0x08, 0x10

# Capabilities (the interrupt ones).  MSI is laid out 64-bit capable:
# control, address low, address high, data, then mask and pending bits.
PCI_CAP_ID_MSI, PCI_CAP_ID_MSIX = 0x05, 0x11
FIRST_CAPABILITY = 0x40
PCI_MSI_FLAGS, PCI_MSI_ADDRESS_LO, PCI_MSI_ADDRESS_HI, PCI_MSI_DATA_64 = 2, 4, 8, 12
PCI_MSI_MASK_64, PCI_MSI_PENDING_64 = 16, 20
PCI_MSI_FLAGS_ENABLE, PCI_MSI_FLAGS_QMASK, PCI_MSI_FLAGS_QSIZE = 0x1, 0x0e, 0x70
PCI_MSI_FLAGS_64BIT, PCI_MSI_FLAGS_MASKBIT = 0x80, 0x100
PCI_MSIX_FLAGS, PCI_MSIX_TABLE, PCI_MSIX_PBA = 2, 4, 8
PCI_MSIX_FLAGS_QSIZE, PCI_MSIX_FLAGS_MASKALL, PCI_MSIX_FLAGS_ENABLE = 0x7ff, 0x4000, 0x8000
PCI_MSIX_ENTRY_SIZE, PCI_MSIX_ENTRY_VECTOR_CTRL = 16, 12
PCI_ROM_ADDRESS_ENABLE = 0x1

PCI_ANY_ID = 0xffff
PCIBIOS_SUCCESSFUL = 0x00
PCIBIOS_DEVICE_NOT_FOUND = 0x86
PCIBIOS_BAD_REGISTER_NUMBER = 0x87

# struct resource flags, as include/linux/ioport.h numbers them.
IORESOURCE_IO = 0x00000100
IORESOURCE_MEM = 0x00000200
IORESOURCE_PREFETCH = 0x00002000
IORESOURCE_READONLY = 0x00004000
IORESOURCE_SIZEALIGN = 0x00040000
IORESOURCE_MEM_64 = 0x00100000
IORESOURCE_ROM_ENABLE = 0x1
IORESOURCE_ROM_SHADOW = 0x2
IORESOURCE_PCI_FIXED = 0x10
PCI_REGION_FLAG_MASK = 0x0f
PCI_ROM_RESOURCE = 6
PCI_NUM_RESOURCES = 7

SHADOW_ROM_START, SHADOW_ROM_SIZE = 0xc0000, 0x20000   # the legacy VGA BIOS copy


class PciConfigError(ValueError):
    """A config access the PCI core refuses; ``code`` is the PCIBIOS_* value a driver sees."""

    def __init__(self, message: str, code: int = PCIBIOS_BAD_REGISTER_NUMBER) -> None:
        super().__init__(message)
        self.code = code


class Resource(NamedTuple):
    """One entry of the kernel's ``pci_dev->resource[]``; all zero when unassigned."""

    start: int = 0
    end: int = 0
    flags: int = 0

    @property
    def size(self) -> int:
        """``pci_resource_len``: end - start + 1, or 0 when unassigned."""
        return self.end - self.start + 1 if self.end else 0


class PcidevFields(NamedTuple):
    """The data of one mmiotrace PCIDEV line (mmiotrace.md §1.4).

    The tracer prints ``"PCIDEV %04x %08x %x" % (busdevfn, vendor_device, irq)``,
    then ``" %x"`` for each of ``starts`` and of ``sizes``, then ``" %s\\n"`` with
    the driver name, or ``" \\n"`` when no driver is bound.
    """

    busdevfn: int                # bus << 8 | devfn
    vendor_device: int           # vendor << 16 | device
    irq: int
    starts: tuple[int, ...]      # resource start | (flags & 0xf), 7 of them
    sizes: tuple[int, ...]       # end - start + 1 if start < end else 0, 7 of them
    driver: str | None


class IoRegion(NamedTuple):
    """A memory BAR as the CPU maps it: physical start, size, and the device side."""

    start: int
    size: int
    region: Region


def parse_slot(slot: str | tuple[int, int]) -> tuple[int, int]:
    """``"00:02.0"`` (or with a ``0000:`` domain) or ``(bus, devfn)`` → ``(bus, devfn)``."""
    if isinstance(slot, tuple):
        bus, devfn = slot
        if not (0 <= bus <= 0xff and 0 <= devfn <= 0xff):
            raise ValueError(f"slot {slot!r}: bus and devfn are 0..255")
        return bus, devfn
    m = re.fullmatch(r"(?:0{4}:)?([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])", slot)
    if not m or int(m.group(2), 16) > 0x1f:
        raise ValueError(f"slot {slot!r}: expected BB:DD.F (bus, device 00-1f, function 0-7)")
    return int(m.group(1), 16), int(m.group(2), 16) << 3 | int(m.group(3))


def slot_name(bus: int, devfn: int) -> str:
    return f"{bus:02x}:{devfn >> 3:02x}.{devfn & 7}"


class PciDevice:
    """A device model at a bus address, with its config space and resources."""

    def __init__(self, model: DeviceModel, slot: str | tuple[int, int],
                 addresses: Mapping[int, int], irq: int,
                 rom_address: int | None = None, rom_shadow: bool = False) -> None:
        model.validate()
        self.model = model
        self.slot = parse_slot(slot)
        self.irq = irq
        self.driver: str | None = None
        self.refcount = 0
        self.enable_count = 0
        if not 0 <= irq <= 0xff:
            raise ValueError(f"{model.name}: irq {irq} is outside 0..255")
        resources = [Resource()] * PCI_NUM_RESOURCES
        for bar in model.bars:
            if bar.index not in addresses:
                raise ValueError(f"{model.name}: no address for BAR{bar.index}")
            start = addresses[bar.index]
            _check_address(model.name, f"BAR{bar.index}", start, bar.size,
                           0x10000 if bar.is_io else (1 << 32 if bar.kind == "mem32" else 1 << 52))
            flags = (IORESOURCE_IO if bar.is_io else IORESOURCE_MEM) | IORESOURCE_SIZEALIGN | bar.type_bits
            if bar.prefetchable:
                flags |= IORESOURCE_PREFETCH
            if bar.is_64bit:
                flags |= IORESOURCE_MEM_64
            resources[bar.index] = Resource(start, start + bar.size - 1, flags)
        extra = set(addresses) - {b.index for b in model.bars}
        if extra:
            raise ValueError(f"{model.name}: addresses given for BARs it does not have: {sorted(extra)}")
        if rom_shadow:
            # The boot VGA device: the kernel points the ROM resource at the BIOS's copy.
            resources[PCI_ROM_RESOURCE] = Resource(
                SHADOW_ROM_START, SHADOW_ROM_START + SHADOW_ROM_SIZE - 1,
                IORESOURCE_MEM | IORESOURCE_ROM_SHADOW | IORESOURCE_PCI_FIXED)
        elif model.rom_size:
            if rom_address is None:
                raise ValueError(f"{model.name}: no address for the expansion ROM")
            _check_address(model.name, "ROM", rom_address, model.rom_size, 1 << 32)
            resources[PCI_ROM_RESOURCE] = Resource(
                rom_address, rom_address + model.rom_size - 1,
                IORESOURCE_MEM | IORESOURCE_PREFETCH | IORESOURCE_READONLY | IORESOURCE_SIZEALIGN)
        self.resources: tuple[Resource, ...] = tuple(resources)
        for i, a in enumerate(resources):
            for b in resources[i + 1:]:
                if a.end and b.end and (a.flags & IORESOURCE_IO) == (b.flags & IORESOURCE_IO) \
                        and a.start <= b.end and b.start <= a.end:
                    raise ValueError(f"{model.name}: {a.start:#x}-{a.end:#x} and "
                                     f"{b.start:#x}-{b.end:#x} overlap")
        self.rom_address = rom_address if model.rom_size else None
        #: Where INTx and MSI changes go (the machine's InterruptController), set at boot.
        self.irq_sink: Any = None
        self.msi_cap = self.msix_cap = 0
        self._msix: MsixState | None = MsixState(model.msix) if model.msix is not None else None
        self._build_config()

    # identity

    @property
    def bus_number(self) -> int:
        return self.slot[0]

    @property
    def devfn(self) -> int:
        return self.slot[1]

    @property
    def name(self) -> str:
        """``00:02.0``"""
        return slot_name(*self.slot)

    @property
    def vendor(self) -> int:
        return self.model.vendor

    @property
    def device(self) -> int:
        return self.model.device

    @property
    def class_code(self) -> int:
        return self.model.class_code

    @property
    def revision(self) -> int:
        return self.model.revision

    @property
    def subsystem(self) -> tuple[int, int]:
        return self.model.subsystem or (0, 0)

    # config space

    def _build_config(self) -> None:
        m = self.model
        cfg = self._config = bytearray(CONFIG_SPACE_SIZE)
        self._cap_sizes: dict[int, int] = {}
        wmask = self._wmask = bytearray(CONFIG_SPACE_SIZE)
        w1c = self._w1cmask = bytearray(CONFIG_SPACE_SIZE)

        def put(off: int, width: int, value: int, buf: bytearray = cfg) -> None:
            buf[off:off + width] = (value & ((1 << 8 * width) - 1)).to_bytes(width, "little")

        has_io = any(b.is_io for b in m.bars)
        has_mem = any(not b.is_io for b in m.bars) or bool(m.rom_size)
        put(PCI_VENDOR_ID, 2, m.vendor)
        put(PCI_DEVICE_ID, 2, m.device)
        # Firmware left decoding on for what it assigned; bus mastering waits for a driver.
        put(PCI_COMMAND, 2, (PCI_COMMAND_IO if has_io else 0) | (PCI_COMMAND_MEMORY if has_mem else 0))
        put(PCI_COMMAND, 2, PCI_COMMAND_MASTER | PCI_COMMAND_PARITY | PCI_COMMAND_SERR
            | PCI_COMMAND_INTX_DISABLE | (PCI_COMMAND_IO if has_io else 0)
            | (PCI_COMMAND_MEMORY if has_mem else 0), wmask)
        put(PCI_STATUS, 2, PCI_STATUS_ERROR_BITS, w1c)
        put(PCI_REVISION_ID, 1, m.revision)
        put(PCI_CLASS_PROG, 3, m.class_code)
        put(PCI_CACHE_LINE_SIZE, 1, 0xff, wmask)
        put(PCI_LATENCY_TIMER, 1, 0xff, wmask)
        for bar in m.bars:
            res = self.resources[bar.index]
            off = PCI_BASE_ADDRESS_0 + 4 * bar.index
            low_bits = 0xfffffffc if bar.is_io else 0xfffffff0
            put(off, 4, (res.start & low_bits) | bar.type_bits)
            put(off, 4, ~(bar.size - 1) & low_bits, wmask)
            if bar.is_64bit:
                put(off + 4, 4, res.start >> 32)
                put(off + 4, 4, ~((bar.size - 1) >> 32), wmask)
        sub_vendor, sub_id = self.subsystem
        put(PCI_SUBSYSTEM_VENDOR_ID, 2, sub_vendor)
        put(PCI_SUBSYSTEM_ID, 2, sub_id)
        if m.rom_size:
            put(PCI_ROM_ADDRESS, 4, self.rom_address or 0)
            put(PCI_ROM_ADDRESS, 4, (~(m.rom_size - 1) & 0xfffff800) | PCI_ROM_ADDRESS_ENABLE, wmask)
        put(PCI_INTERRUPT_LINE, 1, self.irq)
        put(PCI_INTERRUPT_LINE, 1, 0xff, wmask)
        put(PCI_INTERRUPT_PIN, 1, m.interrupt_pin)
        if m.msi_vectors:
            size = 24 if m.msi_per_vector_mask else 16
            cap = self.msi_cap = self.add_capability(PCI_CAP_ID_MSI, size)
            flags = PCI_MSI_FLAGS_64BIT | (m.msi_vectors.bit_length() - 1) << 1
            flags |= PCI_MSI_FLAGS_MASKBIT if m.msi_per_vector_mask else 0
            put(cap + PCI_MSI_FLAGS, 2, flags)
            put(cap + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE, wmask)
            put(cap + PCI_MSI_ADDRESS_LO, 4, 0xfffffffc, wmask)
            put(cap + PCI_MSI_ADDRESS_HI, 4, 0xffffffff, wmask)
            put(cap + PCI_MSI_DATA_64, 2, 0xffff, wmask)
            if m.msi_per_vector_mask:
                put(cap + PCI_MSI_MASK_64, 4, (1 << m.msi_vectors) - 1, wmask)
        if m.msix is not None:
            cap = self.msix_cap = self.add_capability(PCI_CAP_ID_MSIX, 12)
            put(cap + PCI_MSIX_FLAGS, 2, m.msix.vectors - 1)
            put(cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL, wmask)
            put(cap + PCI_MSIX_TABLE, 4, m.msix.table_offset | m.msix.bar)
            put(cap + PCI_MSIX_PBA, 4, m.msix.pba | m.msix.bar)

    def add_capability(self, cap_id: int, size: int) -> int:
        """Append a capability to the list (dword aligned, from 0x40 on);
        returns its offset.  The ID and next pointer are read-only."""
        cfg = self._config
        prev, at = PCI_CAPABILITY_LIST, cfg[PCI_CAPABILITY_LIST]
        end = FIRST_CAPABILITY
        while at:
            end = max(end, at + self._cap_sizes.get(at, 4))
            prev, at = at + 1, cfg[at + 1]
        start = (end + 3) & ~3
        if start + size > CONFIG_SPACE_SIZE:
            raise ValueError(f"{self.model.name}: no room for capability {cap_id:#x} in config space")
        cfg[start], cfg[start + 1] = cap_id, 0
        cfg[prev] = start
        self._cap_sizes[start] = size
        status = int.from_bytes(cfg[PCI_STATUS:PCI_STATUS + 2], "little") | PCI_STATUS_CAP_LIST
        cfg[PCI_STATUS:PCI_STATUS + 2] = status.to_bytes(2, "little")
        return start

    @staticmethod
    def _check_config(offset: int, width: int) -> None:
        if width not in (1, 2, 4):
            raise PciConfigError(f"config access width {width} is not 1, 2 or 4")
        if offset < 0 or offset + width > CONFIG_SPACE_SIZE or offset % width:
            raise PciConfigError(f"config offset {offset:#x} is not {width}-byte aligned inside 256 bytes")

    def config_read(self, offset: int, width: int) -> int:
        """``pci_read_config_{byte,word,dword}``; raises PciConfigError on a bad offset."""
        self._check_config(offset, width)
        # Device-specific registers (0x40 up) a model serves itself, e.g. the
        # 6300ESB watchdog's configuration and lock registers.
        own = getattr(self.model, "device_config_read", None)
        if own is not None and offset >= DEVICE_CONFIG_START:
            value = own(offset, width)
            if value is not None:
                return value
        return int.from_bytes(self._config[offset:offset + width], "little")

    def config_write(self, offset: int, width: int, value: int) -> None:
        """``pci_write_config_*``: writable bits change, w1c bits clear, the rest stays."""
        self._check_config(offset, width)
        own = getattr(self.model, "device_config_write", None)
        if own is not None and offset >= DEVICE_CONFIG_START and \
                own(offset, width, value & ((1 << 8 * width) - 1)):
            return
        data = (value & ((1 << 8 * width) - 1)).to_bytes(width, "little")
        for i, byte in enumerate(data):
            at = offset + i
            new = (self._config[at] & ~self._wmask[at]) | (byte & self._wmask[at])
            self._config[at] = new & ~(byte & self._w1cmask[at]) & 0xff
        if self._touches_irq_state(offset, width):
            self._irq_config_changed()

    # interrupts: INTx status and blocking, MSI and MSI-X messages

    def _touches_irq_state(self, offset: int, width: int) -> bool:
        end = offset + width
        return (offset < PCI_COMMAND + 2 and end > PCI_COMMAND) or any(
            cap and offset < cap + 24 and end > cap for cap in (self.msi_cap, self.msix_cap))

    def _irq_config_changed(self) -> None:
        sink = self.irq_sink
        if sink is None:
            return
        sink.intx_changed(self)
        # Unmasking a vector with its pending bit set sends the message now.
        for n in self._pending_vectors():
            message = self.msi_message(n)
            if message is not None:
                sink.message(*message)

    def set_interrupt_status(self, level: bool) -> None:
        """PCI_STATUS_INTERRUPT follows the function's own INTx pin."""
        status = self.config_read(PCI_STATUS, 2)
        status = status | PCI_STATUS_INTERRUPT if level else status & ~PCI_STATUS_INTERRUPT
        self._config[PCI_STATUS:PCI_STATUS + 2] = status.to_bytes(2, "little")

    def intx_blocked(self) -> bool:
        """The pin does not reach the line: INTX_DISABLE set, or MSI/MSI-X on."""
        return bool(self.command & PCI_COMMAND_INTX_DISABLE) or self.msi_mode() is not None

    def msi_mode(self) -> str | None:
        """'msix', 'msi' or None: which message mechanism the driver enabled."""
        if self.msix_cap and self.config_read(self.msix_cap + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_ENABLE:
            return "msix"
        if self.msi_cap and self.config_read(self.msi_cap + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_ENABLE:
            return "msi"
        return None

    def msi_enabled_vectors(self) -> int:
        """How many messages the function may send in its current mode."""
        mode = self.msi_mode()
        if mode == "msix":
            return self.model.msix.vectors
        if mode == "msi":
            flags = self.config_read(self.msi_cap + PCI_MSI_FLAGS, 2)
            return 1 << min((flags & PCI_MSI_FLAGS_QSIZE) >> 4, (flags & PCI_MSI_FLAGS_QMASK) >> 1)
        return 0

    def msi_message(self, n: int) -> tuple[int, int] | None:
        """(address, data) of message ``n`` if it may go out now; a masked
        one latches its pending bit instead and None is returned."""
        mode = self.msi_mode()
        if mode is None or not 0 <= n < self.msi_enabled_vectors():
            return None
        if mode == "msi":
            cap = self.msi_cap
            if self.model.msi_per_vector_mask:
                if self.config_read(cap + PCI_MSI_MASK_64, 4) >> n & 1:
                    self._set_msi_pending(n, True)
                    return None
                self._set_msi_pending(n, False)
            nvec = self.msi_enabled_vectors()
            address = self.config_read(cap + PCI_MSI_ADDRESS_HI, 4) << 32 | self.config_read(cap + PCI_MSI_ADDRESS_LO, 4)
            data = (self.config_read(cap + PCI_MSI_DATA_64, 2) & ~(nvec - 1)) | n
            return address, data
        table = self._msix
        assert table is not None
        masked = self.config_read(self.msix_cap + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_MASKALL
        if masked or table.entry_masked(n):
            table.set_pending(n, True)
            return None
        table.set_pending(n, False)
        return table.entry(n)

    def _set_msi_pending(self, n: int, on: bool) -> None:
        at = self.msi_cap + PCI_MSI_PENDING_64
        bits = self.config_read(at, 4)
        bits = bits | 1 << n if on else bits & ~(1 << n)
        self._config[at:at + 4] = bits.to_bytes(4, "little")

    def _pending_vectors(self) -> list[int]:
        mode = self.msi_mode()
        if mode == "msi" and self.model.msi_per_vector_mask:
            bits = self.config_read(self.msi_cap + PCI_MSI_PENDING_64, 4)
            return [n for n in range(32) if bits >> n & 1]
        if mode == "msix" and self._msix is not None:
            return self._msix.pending_vectors()
        return []

    def msix_entry_unmasked(self) -> None:
        """The table changed through the BAR: deliver what became unmasked."""
        if self.irq_sink is not None and self.msi_mode() == "msix":
            self._irq_config_changed()

    def msix_write_entry(self, n: int, address: int, data: int, masked: bool) -> None:
        """The kernel programs table entry ``n`` (as its MSI-X setup writes through the BAR)."""
        assert self._msix is not None
        self._msix.set_entry(n, address, data, masked)
        self.msix_entry_unmasked()

    @property
    def command(self) -> int:
        return self.config_read(PCI_COMMAND, 2)

    def signal_status(self, bits: int) -> None:
        """Device side: latch status bits (a master abort, a parity error) for software to clear."""
        status = self.config_read(PCI_STATUS, 2) | bits
        self._config[PCI_STATUS:PCI_STATUS + 2] = (status & 0xffff).to_bytes(2, "little")

    # driver-facing lifecycle (the kernel API calls these)

    def enable(self) -> None:
        """``pci_enable_device``: turn decoding on for every assigned resource."""
        bits = 0
        for res in self.resources[:PCI_ROM_RESOURCE]:
            if res.flags & IORESOURCE_IO:
                bits |= PCI_COMMAND_IO
            elif res.flags & IORESOURCE_MEM:
                bits |= PCI_COMMAND_MEMORY
        self.config_write(PCI_COMMAND, 2, self.command | bits)
        self.enable_count += 1

    def disable(self) -> None:
        """``pci_disable_device``: the last disable stops bus mastering."""
        if self.enable_count > 0:
            self.enable_count -= 1
            if self.enable_count == 0:
                self.config_write(PCI_COMMAND, 2, self.command & ~PCI_COMMAND_MASTER)

    def get(self) -> PciDevice:
        """``pci_dev_get``."""
        self.refcount += 1
        return self

    def put(self) -> None:
        """``pci_dev_put``."""
        if self.refcount > 0:
            self.refcount -= 1

    # what other parts read

    def io_regions(self) -> list[IoRegion]:
        """Every memory BAR: where the CPU maps it and the region serving it."""
        return [IoRegion(self.resources[b.index].start, b.size, self._bar_region(b.index))
                for b in self.model.bars if not b.is_io]

    def _bar_region(self, index: int) -> Region:
        region = self.model.region(index)
        if self._msix is not None and self._msix.spec.bar == index:
            if self._msix.overlay is None or self._msix.overlay.inner is not region:
                self._msix.overlay = MsixOverlay(region, self._msix, self)
            return self._msix.overlay
        return region

    def pcidev_fields(self) -> PcidevFields:
        starts = tuple(r.start | (r.flags & PCI_REGION_FLAG_MASK) for r in self.resources)
        sizes = tuple(r.end - r.start + 1 if r.start < r.end else 0 for r in self.resources)
        return PcidevFields(self.bus_number << 8 | self.devfn, self.vendor << 16 | self.device,
                            self.irq, starts, sizes, self.driver)

    def lspci_description(self) -> str:
        """What lspci prints after the slot: ``VGA compatible controller: NVIDIA ... (rev a1)``."""
        text = f"{class_name(self.class_code)}: {device_name(self.vendor, self.device)}"
        return text + (f" (rev {self.revision:02x})" if self.revision else "")

    def lspci_line(self) -> str:
        return f"{self.name} {self.lspci_description()}"

    def lspci_json(self) -> dict[str, Any]:
        bars = []
        for i, res in enumerate(self.resources):
            if not res.end:
                continue
            if i == PCI_ROM_RESOURCE:
                kind = "rom"
            elif res.flags & IORESOURCE_IO:
                kind = "io"
            else:
                kind = "mem64" if res.flags & IORESOURCE_MEM_64 else "mem32"
            bars.append({"index": i, "start": res.start, "size": res.size, "flags": res.flags,
                         "type": kind, "prefetchable": bool(res.flags & IORESOURCE_PREFETCH)})
        return {
            "slot": self.name, "vendor": self.vendor, "device": self.device,
            "class": self.class_code, "revision": self.revision,
            "subsystem_vendor": self.subsystem[0], "subsystem_device": self.subsystem[1],
            "name": self.model.name, "description": self.lspci_description(),
            "driver": self.driver, "irq": self.irq, "bars": bars,
        }

    def __repr__(self) -> str:
        return f"<PciDevice {self.name} {self.vendor:04x}:{self.device:04x} {self.model.name}>"


class MsixState:
    """An MSI-X table and pending-bit array: 16-byte entries (address low,
    address high, data, vector control), every entry masked at reset."""

    def __init__(self, spec: MsixSpec) -> None:
        self.spec = spec
        self.table = bytearray(PCI_MSIX_ENTRY_SIZE * spec.vectors)
        for n in range(spec.vectors):
            self.table[n * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL] = 1
        self.pba = bytearray(8 * ((spec.vectors + 63) // 64))
        self.overlay: MsixOverlay | None = None

    def entry(self, n: int) -> tuple[int, int]:
        raw = self.table[n * 16:n * 16 + 12]
        return int.from_bytes(raw[0:8], "little"), int.from_bytes(raw[8:12], "little")

    def entry_masked(self, n: int) -> bool:
        return bool(self.table[n * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL] & 1)

    def set_entry(self, n: int, address: int, data: int, masked: bool) -> None:
        self.table[n * 16:n * 16 + 16] = (address.to_bytes(8, "little") + (data & 0xffffffff).to_bytes(4, "little")
                                          + int(masked).to_bytes(4, "little"))

    def set_pending(self, n: int, on: bool) -> None:
        byte, bit = divmod(n, 8)
        self.pba[byte] = self.pba[byte] | 1 << bit if on else self.pba[byte] & ~(1 << bit)

    def pending_vectors(self) -> list[int]:
        return [n for n in range(self.spec.vectors) if self.pba[n // 8] >> (n % 8) & 1]


class MsixOverlay(Region):
    """The MSI-X BAR as the CPU sees it: the table and PBA served by the
    function (as hardware does), everything else by the model's region."""

    def __init__(self, inner: Region, state: MsixState, device: "PciDevice") -> None:
        super().__init__(inner.size, inner.name)
        self.inner, self.state, self.device = inner, state, device
        self.model, self.bar = inner.model, inner.bar
        t0 = state.spec.table_offset
        self._table = (t0, t0 + len(state.table))
        self._pba = (state.spec.pba, state.spec.pba + len(state.pba))

    def _where(self, offset: int, width: int) -> tuple[bytearray, int] | None:
        for (lo, hi), buf in ((self._table, self.state.table), (self._pba, self.state.pba)):
            if lo <= offset and offset + width <= hi:
                return buf, offset - lo
        return None

    def read(self, offset: int, width: int) -> int:
        hit = self._where(offset, width) if self._check(offset, width) else None
        if hit is None:
            return self.inner.read(offset, width)
        buf, at = hit
        return int.from_bytes(buf[at:at + width], "little")

    def write(self, offset: int, width: int, value: int) -> None:
        hit = self._where(offset, width) if self._check(offset, width) else None
        if hit is None:
            self.inner.write(offset, width, value)
            return
        buf, at = hit
        if buf is self.state.table:          # the PBA is read-only
            buf[at:at + width] = (value & ((1 << 8 * width) - 1)).to_bytes(width, "little")
            self.device.msix_entry_unmasked()

    def peek(self, offset: int, width: int) -> int:
        hit = self._where(offset, width) if self._check(offset, width) else None
        if hit is None:
            return self.inner.peek(offset, width)
        buf, at = hit
        return int.from_bytes(buf[at:at + width], "little")

    def reset(self) -> None:
        self.inner.reset()


def _check_address(who: str, what: str, start: int, size: int, limit: int) -> None:
    if start <= 0 or start % size or start + size > limit:
        raise ValueError(f"{who}: {what} address {start:#x} must be non-zero, aligned to its "
                         f"size {size:#x} and end below {limit:#x}")


@dataclass(frozen=True)
class _Window:
    start: int
    end: int


class PciBus:
    """The devices of one machine, in (bus, devfn) order, and what the CPU must map."""

    # Where devices added without fixed addresses get theirs.
    MEM32_WINDOW = _Window(0xc0000000, 0xf0000000)
    MEM64_WINDOW = _Window(0x80_0000_0000, 0x100_0000_0000)
    IO_WINDOW = _Window(0xc000, 0x10000)
    FIRST_IRQ = 0x10

    def __init__(self, time_base: TimeBase | None = None) -> None:
        self.time_base = time_base
        self._devices: list[PciDevice] = []

    @property
    def devices(self) -> list[PciDevice]:
        return list(self._devices)

    def __iter__(self):
        return iter(list(self._devices))

    def __len__(self) -> int:
        return len(self._devices)

    def add(self, model: DeviceModel | str, slot: str | tuple[int, int] | None = None,
            addresses: Mapping[int, int] | None = None, irq: int | None = None,
            rom_address: int | None = None, rom_shadow: bool = False) -> PciDevice:
        """Plug a model in. Slot, BAR addresses, ROM address and IRQ are chosen when not given."""
        model = create_model(model)
        if any(d.model is model for d in self._devices):
            raise ValueError(f"{model.name}: this model instance is already on the bus")
        model.validate()
        where = parse_slot(slot) if slot is not None else self._free_slot()
        if any(d.slot == where for d in self._devices):
            raise ValueError(f"slot {slot_name(*where)} is taken by {self.get(where).model.name}")
        addresses = dict(addresses or {})
        # Taken so far by this device: (start, end, is_io), fixed ones first.
        taken = [(addresses[b.index], addresses[b.index] + b.size - 1, b.is_io)
                 for b in model.bars if b.index in addresses]
        for bar in sorted(model.bars, key=lambda b: -b.size):
            if bar.index not in addresses:
                at = addresses[bar.index] = self._allocate(bar.size, "io" if bar.is_io else bar.kind, taken)
                taken.append((at, at + bar.size - 1, bar.is_io))
        if model.rom_size and rom_address is None and not rom_shadow:
            rom_address = self._allocate(model.rom_size, "mem32", taken)
        if irq is None:
            irq = model.irq if model.irq is not None else max(
                [self.FIRST_IRQ - 1] + [d.irq for d in self._devices]) + 1
        dev = PciDevice(model, where, addresses, irq, rom_address, rom_shadow)
        for res in dev.resources:
            if res.end and self._overlaps(res.start, res.end, bool(res.flags & IORESOURCE_IO)):
                raise ValueError(f"{model.name}: {res.start:#x}-{res.end:#x} overlaps another device")
        if self.time_base is not None:
            model.attach(self.time_base)
        bisect.insort(self._devices, dev, key=lambda d: d.slot)
        return dev

    def _free_slot(self) -> tuple[int, int]:
        taken = {d.devfn >> 3 for d in self._devices if d.bus_number == 0}
        for number in range(1, 32):
            if number not in taken:
                return 0, number << 3
        raise ValueError("bus 00 is full")

    def _overlaps(self, start: int, end: int, io: bool) -> bool:
        for d in self._devices:
            for r in d.resources:
                if r.end and bool(r.flags & IORESOURCE_IO) == io and not (r.flags & IORESOURCE_PCI_FIXED):
                    if start <= r.end and r.start <= end:
                        return True
        return False

    def _allocate(self, size: int, kind: str, taken: list[tuple[int, int, bool]]) -> int:
        """The lowest size-aligned free range in the kind's window(s).  Memory
        BARs smaller than a page start on a page of their own: the CPU side
        maps device memory a page at a time (machine.py, iomem.py)."""
        io = kind == "io"
        align = size if io else max(size, 4096)
        used = [(r.start, r.end) for d in self._devices for r in d.resources
                if r.end and bool(r.flags & IORESOURCE_IO) == io] + \
               [(start, end) for start, end, is_io in taken if is_io == io]
        windows = {"io": [self.IO_WINDOW], "mem32": [self.MEM32_WINDOW],
                   "mem64": [self.MEM32_WINDOW, self.MEM64_WINDOW]}[kind]
        for w in windows:
            at = (w.start + align - 1) // align * align
            while at + size <= w.end:
                clash = [end for start, end in used if at <= end and start <= at + align - 1]
                if not clash:
                    return at
                at = (max(clash) + 1 + align - 1) // align * align
        raise ValueError(f"no room for a {size:#x}-byte {kind} BAR")

    def get(self, slot: str | tuple[int, int]) -> PciDevice:
        where = parse_slot(slot)
        for d in self._devices:
            if d.slot == where:
                return d
        raise KeyError(f"no device at {slot_name(*where)}")

    def find(self, vendor: int, device: int, start_after: PciDevice | None = None) -> PciDevice | None:
        """``pci_get_device`` order and matching: the next device after ``start_after``.

        ``PCI_ANY_ID`` (0xffff, or the kernel's ~0) matches any id. Reference
        counts are the caller's business (``PciDevice.get``/``put``).
        """
        devices = self._devices
        i = 0
        if start_after is not None:
            i = next((k + 1 for k, d in enumerate(devices) if d is start_after), len(devices))
        for d in devices[i:]:
            if _id_matches(vendor, d.vendor) and _id_matches(device, d.device):
                return d
        return None

    def io_regions(self) -> list[IoRegion]:
        return sorted((r for d in self._devices for r in d.io_regions()), key=lambda r: r.start)

    def region_at(self, phys: int) -> tuple[Region, int] | None:
        """The region serving a physical address, and the offset in it."""
        for r in self.io_regions():
            if r.start <= phys < r.start + r.size:
                return r.region, phys - r.start
        return None

    def pcidev_fields(self) -> list[PcidevFields]:
        return [d.pcidev_fields() for d in self._devices]

    def lspci_lines(self) -> list[str]:
        return [d.lspci_line() for d in self._devices]

    def lspci(self) -> str:
        """``lspci`` output: one line per device, newline-terminated."""
        return "".join(line + "\n" for line in self.lspci_lines())

    def lspci_json(self) -> list[dict[str, Any]]:
        return [d.lspci_json() for d in self._devices]


def _id_matches(wanted: int, actual: int) -> bool:
    return wanted in (PCI_ANY_ID, 0xffffffff, -1) or wanted == actual


# --- the default machine ---------------------------------------------------------------------


@dataclass(frozen=True)
class SlotPlan:
    model: str
    slot: str
    irq: int
    bars: Mapping[int, int]
    rom: int | None = None


DEFAULT_MACHINE: tuple[SlotPlan, ...] = (
    SlotPlan("nvlike", "00:02.0", 0x10,
             MappingProxyType({0: 0xf6000000, 1: 0xe0000000, 3: 0xf0000000, 5: 0xe000}), rom=0xf7000000),
    SlotPlan("testmmio", "00:03.0", 0x11, MappingProxyType({0: 0xfd000000, 2: 0xfd800000})),
    SlotPlan("uart16550", "00:04.0", 0x12, MappingProxyType({0: 0xfe000000})),
)


def default_bus(time_base: TimeBase | None = None,
                extra_models: Iterable[DeviceModel | str] = ()) -> PciBus:
    """The default machine's bus; ``extra_models`` (names, .py paths, instances) are added after."""
    bus = PciBus(time_base)
    for plan in DEFAULT_MACHINE:
        bus.add(plan.model, plan.slot, plan.bars, plan.irq, plan.rom)
    for model in extra_models:
        bus.add(model)
    return bus


# --- names for lspci -------------------------------------------------------------------------
# A few entries of the pci.ids database: enough for the devices we model and common neighbours.

VENDOR_NAMES: Mapping[int, str] = MappingProxyType({
    0x1002: "Advanced Micro Devices, Inc. [AMD/ATI]",
    0x10de: "NVIDIA Corporation",
    0x10ec: "Realtek Semiconductor Co., Ltd.",
    0x14e4: "Broadcom Inc. and subsidiaries",
    0x15ad: "VMware",
    0x1af4: "Red Hat, Inc.",
    0x1b36: "Red Hat, Inc.",
    0x8086: "Intel Corporation",
})

DEVICE_NAMES: Mapping[tuple[int, int], str] = MappingProxyType({
    (0x1af4, 0x1110): "Inter-VM shared memory",
    (0x1b36, 0x0002): "QEMU PCI 16550A Adapter",
    (0x1b36, 0x0005): "QEMU PCI Test Device",
    (0x8086, 0x1237): "440FX - 82441FX PMC [Natoma]",
    (0x8086, 0x29c0): "82G33/G31/P35/P31 Express DRAM Controller",
})

CLASS_NAMES: Mapping[int, str] = MappingProxyType({
    0x0000: "Non-VGA unclassified device",
    0x0100: "SCSI storage controller",
    0x0101: "IDE interface",
    0x0106: "SATA controller",
    0x0108: "Non-Volatile memory controller",
    0x0200: "Ethernet controller",
    0x0280: "Network controller",
    0x0300: "VGA compatible controller",
    0x0302: "3D controller",
    0x0380: "Display controller",
    0x0401: "Multimedia audio controller",
    0x0403: "Audio device",
    0x0500: "RAM memory",
    0x0580: "Memory controller",
    0x0600: "Host bridge",
    0x0601: "ISA bridge",
    0x0604: "PCI bridge",
    0x0680: "Bridge",
    0x0700: "Serial controller",
    0x0780: "Communication controller",
    0x0880: "System peripheral",
    0x0c03: "USB controller",
    0x0c05: "SMBus",
    0xff00: "Unassigned class",
})

BASE_CLASS_NAMES: Mapping[int, str] = MappingProxyType({
    0x01: "Mass storage controller", 0x02: "Network controller", 0x03: "Display controller",
    0x04: "Multimedia controller", 0x05: "Memory controller", 0x06: "Bridge",
    0x07: "Communication controller", 0x08: "Generic system peripheral",
    0x0c: "Serial bus controller", 0x11: "Signal processing controller",
})


def class_name(class_code: int) -> str:
    """lspci's name for a 24-bit class code (prog-if ignored), as its lookup falls back."""
    sub = class_code >> 8
    if sub in CLASS_NAMES:
        return CLASS_NAMES[sub]
    if sub >> 8 in BASE_CLASS_NAMES:
        return BASE_CLASS_NAMES[sub >> 8]
    return f"Class {sub:04x}"


def device_name(vendor: int, device: int) -> str:
    """``Vendor Device``, ``Vendor Device 1180`` or ``Device 1234:1111``, as lspci prints."""
    vname = VENDOR_NAMES.get(vendor)
    if vname is None:
        return f"Device {vendor:04x}:{device:04x}"
    dname = DEVICE_NAMES.get((vendor, device))
    return f"{vname} {dname}" if dname else f"{vname} Device {device:04x}"
