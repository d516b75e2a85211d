"""From a bus address to "device, BAR, offset, register".

The dump itself says where things are: PCIDEV lines give every device's
BARs, MAP lines the ranges the driver mapped. A :class:`Resolver` is fed the
records in order and answers, for an access's physical address, which
device BAR (or, when no PCIDEV covers it, which mapping) it falls in and at
what offset; with the device's register map it names the register.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ..machine.regmap import RegMap
from .parse import Bar, Map, PciDev, Record, Unmap
from .regmaps import DeviceMaps, maps_for_ids

__all__ = ["Where", "Device", "Resolver", "offset_digits"]


def offset_digits(size: int) -> int:
    """Hex digits that show every offset of a space of ``size`` bytes (at least 4)."""
    return max(4, len(f"{max(size - 1, 0):x}"))


@dataclass(frozen=True, slots=True)
class Where:
    """Where an address falls: ``device`` ``space`` + ``offset``, and the map that names it."""

    device: str           # "nvlike", "8086:5a88", or "" when nothing in the dump covers it
    space: str            # "BAR0", "ROM", "map1"; "" for an unresolved address
    offset: int           # relative to the space (the address itself when unresolved)
    size: int             # bytes in the space (for the width of the offset)
    regmap: type[RegMap] | None = None

    @property
    def location(self) -> str:
        """``nvlike BAR0+0x000200``, or ``0xfd000000`` for an address nothing covers."""
        if not self.space:
            return f"{self.offset:#x}"
        who = f"{self.device} " if self.device else ""
        return f"{who}{self.space}+0x{self.offset:0{offset_digits(self.size)}x}"

    def register(self, kind: str | None = None) -> str | None:
        """The register's name (``PMC_ENABLE``, ``SCRATCH[3]``, ``PRAMIN+0x10``) or None."""
        return self.regmap.label(self.offset, kind) if self.regmap is not None else None

    def decode(self, value: int, width: int | None, kind: str | None) -> str | None:
        """``PMC_ENABLE = 0x1 (PFIFO=1, ...)`` or None."""
        if self.regmap is None:
            return None
        return self.regmap.decode(self.offset, value, width, kind)

    @property
    def key(self) -> tuple[str, str, int]:
        """The place (registers that share it, like RBR and THR, are told apart by name)."""
        return (self.device, self.space, self.offset)


@dataclass
class Device:
    """A PCIDEV device and the maps that name its registers."""

    pcidev: PciDev
    name: str
    maps: DeviceMaps | None
    bars: list[Bar]


class Resolver:
    """Feed it every record (``feed``), ask it about addresses (``where``).

    ``forced`` names every device's registers (and, for a dump with no
    PCIDEV lines, the offsets inside each mapping, as BAR0); ``bind`` maps
    ``(vendor, device)`` to the maps for that device only; ``extra`` are
    user maps matched by their own ids before the built-in ones.
    """

    def __init__(self, forced: DeviceMaps | None = None,
                 bind: Mapping[tuple[int, int], DeviceMaps] | None = None,
                 extra: tuple[DeviceMaps, ...] = ()) -> None:
        self.forced = forced
        self.bind = dict(bind or {})
        self.extra = extra
        self.devices: list[Device] = []
        self._bars: list[tuple[Bar, Device]] = []
        self._maps: dict[int, Map] = {}
        # The last space hit: (start, end, where at its start, map id or None for a BAR).
        self._last: tuple[int, int, Where, int | None] | None = None

    def feed(self, rec: Record) -> None:
        if isinstance(rec, PciDev):
            self._add_device(rec)
        elif isinstance(rec, Map):
            self._maps[rec.map_id] = rec
            self._last = None       # the id may be reused, or the new range overlap the one cached
        elif isinstance(rec, Unmap):
            # Accesses after an UNMAP can't use that id; a later MAP may reuse the address.
            m = self._maps.pop(rec.map_id, None)
            if m is not None and self._last is not None and self._last[2].space == f"map{m.map_id}":
                self._last = None

    def _add_device(self, rec: PciDev) -> None:
        ids = (rec.vendor, rec.device)
        bound = self.bind.get(ids) or maps_for_ids(rec.vendor, rec.device, self.extra)
        maps = self.forced or bound
        # A device takes the name of maps chosen for it; maps forced on every device name
        # only those they were written for.
        named = bound is not None and (self.forced is None or (self.forced.vendor, self.forced.device) == ids)
        name = maps.name if named and maps is not None else (rec.driver or rec.ids)
        if any(d.name == name for d in self.devices):
            name = f"{name}@{rec.slot}"
        dev = Device(rec, name, maps, rec.bars())
        self.devices.append(dev)
        # I/O port BARs are another address space: MMIO addresses never fall in them.
        self._bars.extend((b, dev) for b in dev.bars if not b.is_io)
        self._last = None

    def device_at(self, phys: int) -> tuple[Device, Bar] | None:
        for bar, dev in self._bars:
            if bar.contains(phys):
                return dev, bar
        return None

    def _alone(self, start: int, end: int, bar: Bar | None = None) -> bool:
        """No (other) BAR overlaps [start, end)."""
        return not any(b is not bar and b.start < end and start < b.end for b, _ in self._bars)

    def where(self, phys: int, map_id: int | None = None) -> Where:
        last = self._last
        # Two mappings may cover one address: a mapping hit holds only for its own map id. The
        # cache never changes an answer (only spaces nothing else overlaps are kept in it), so
        # the answer depends on the records fed, not on the addresses asked about before.
        if last is not None and last[0] <= phys < last[1] and (last[3] is None or map_id == last[3]):
            w = last[2]
            return Where(w.device, w.space, w.offset + phys - last[0], w.size, w.regmap)
        hit = self.device_at(phys)
        if hit is not None:
            dev, bar = hit
            regmap = dev.maps.regmap(bar.index) if dev.maps is not None and not bar.is_rom else None
            base = Where(dev.name, bar.name, 0, bar.size, regmap)
            self._last = (bar.start, bar.end, base, None) if self._alone(bar.start, bar.end, bar) else None
            return Where(dev.name, bar.name, phys - bar.start, bar.size, regmap)
        m = self._maps.get(map_id) if map_id is not None else None
        if m is None or not m.phys <= phys < m.phys + m.length:
            m = next((x for x in self._maps.values() if x.phys <= phys < x.phys + x.length), None)
        if m is not None:
            regmap = self.forced.regmap(0) if self.forced is not None else None
            name = self.forced.name if self.forced is not None else ""
            base = Where(name, f"map{m.map_id}", 0, m.length, regmap)
            self._last = ((m.phys, m.phys + m.length, base, m.map_id) if self._alone(m.phys, m.phys + m.length)
                          and not any(x is not m and x.phys < m.phys + m.length and m.phys < x.phys + x.length
                                      for x in self._maps.values()) else None)
            return Where(name, base.space, phys - m.phys, m.length, regmap)
        return Where("", "", phys, 0, None)
