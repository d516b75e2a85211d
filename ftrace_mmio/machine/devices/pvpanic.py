"""pvpanic: QEMU's paravirtual panic device, PCI flavour (``-device pvpanic-pci``, 1b36:0011).

A guest tells its host that it panicked, as QEMU's docs/specs/pvpanic.rst
describes the device: one byte register at the start of BAR0. Reading it
gives the events the device recognises; writing reports events, and bits the
device does not recognise are ignored. The event bits:

* bit 0 ``PANICKED``: the guest panicked and the host should act on it;
* bit 1 ``CRASH_LOADED``: the guest panicked and its own crash kernel takes
  over; the host records it without stopping the guest.

(QEMU 8.2 added bit 2, a clean shutdown; QEMU 7.2, the oracle's, recognises
bits 0 and 1, and so does this model: ``EVENTS``.)

PCI identity as QEMU gives it: class 0x088000 (other system peripheral),
revision 1, no interrupt pin, BAR0 16 bytes of 32-bit memory (the smallest
memory BAR; QEMU's region inside it is 2 bytes). QEMU's register takes byte
accesses: a wider access to offset 0 or 1 is made of byte accesses, each
answering the events byte. Offsets 2..15 are outside QEMU's region: they read
0 and ignore writes here, and are remembered in the region's ``unknown``
record.

What the guest reported is kept: ``events_written`` (every write, in order),
``panicked`` and ``crash_loaded``. A write with unknown bits is a guest error
(``guest_errors``, logged once like QEMU's ``-d guest_errors``).
"""

from __future__ import annotations

import logging

from ..regmap import Register8, RegMap, Unclaimed, reg
from .base import BarSpec, DeviceModel, RegisterRegion

log = logging.getLogger(__name__)

PVPANIC_PANICKED = 1 << 0
PVPANIC_CRASH_LOADED = 1 << 1


class R_EVENTS(Register8):
    PANICKED = 0
    CRASH_LOADED = 1


class PvpanicRegs(RegMap):
    """BAR0 of pvpanic-pci (for the annotator; the model serves it itself)."""

    EVENTS = reg(0x00, R_EVENTS, reset=0x03, doc="read: events supported; write: report events")
    EVENTS_HI = reg(0x01, R_EVENTS, reset=0x03, doc="the same register again (QEMU's region is 2 bytes)")


class PvpanicRegion(RegisterRegion):
    """BAR0: the events byte at offsets 0 and 1, nothing behind the rest
    (served here; the map is for the analysis tools)."""

    REGISTER_BYTES = 2

    def __init__(self, model: Pvpanic) -> None:
        super().__init__(PvpanicRegs, 16, "pvpanic BAR0")
        self.pvpanic = model

    def _lanes(self, offset: int, width: int) -> range:
        return range(offset, min(offset + width, self.REGISTER_BYTES))

    def _peek(self, offset: int, width: int) -> int:
        value = 0
        for lane in self._lanes(offset, width):
            value |= self.pvpanic.EVENTS << (8 * (lane - offset))
        return value

    def _read(self, offset: int, width: int) -> int:
        value = self._peek(offset, width)
        if offset + width > self.REGISTER_BYTES:
            self.unknown.append(Unclaimed("R", offset, width, value))
        return value

    def _write(self, offset: int, width: int, value: int) -> None:
        lanes = self._lanes(offset, width)
        if offset + width > self.REGISTER_BYTES:
            self.unknown.append(Unclaimed("W", offset, width, value))
        for lane in lanes:
            self.pvpanic.event((value >> (8 * (lane - offset))) & 0xFF)


class Pvpanic(DeviceModel):
    name = "pvpanic"
    description = "QEMU's pvpanic-pci: the guest reports a panic to the host"
    vendor = 0x1B36                   # Red Hat (QEMU's PCI devices)
    device = 0x0011
    class_code = 0x088000             # system peripheral, other
    revision = 0x01
    interrupt_pin = 0
    bars = (BarSpec(0, 16, "mem32"),)

    #: The events the device recognises (what a read returns): QEMU 7.2's.
    EVENTS = PVPANIC_PANICKED | PVPANIC_CRASH_LOADED

    def __init__(self) -> None:
        super().__init__()
        self.mmio = self.set_region(0, PvpanicRegion(self))
        self.events_written: list[int] = []
        self.guest_errors: list[str] = []

    def event(self, value: int) -> None:
        """The guest wrote ``value`` to the events register."""
        self.events_written.append(value)
        unknown = value & ~self.EVENTS
        if unknown and not self.guest_errors:
            text = f"unknown event {value:#x}"
            self.guest_errors.append(text)
            log.warning("pvpanic: %s", text)

    @property
    def panicked(self) -> bool:
        """A guest panic was reported (PANICKED)."""
        return any(v & self.EVENTS & PVPANIC_PANICKED for v in self.events_written)

    @property
    def crash_loaded(self) -> bool:
        """A panic handled by the guest's crash kernel was reported
        (CRASH_LOADED; a write with PANICKED too counts as PANICKED only, as
        the host acts on one event per write)."""
        return any(v & self.EVENTS & (PVPANIC_PANICKED | PVPANIC_CRASH_LOADED) == PVPANIC_CRASH_LOADED
                   for v in self.events_written)

    def reset(self) -> None:
        super().reset()
        self.events_written.clear()
        self.guest_errors.clear()


__all__ = ["Pvpanic", "PvpanicRegs", "PVPANIC_PANICKED", "PVPANIC_CRASH_LOADED"]
