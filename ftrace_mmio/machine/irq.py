"""The interrupt controller: INTx lines and MSI messages to CPU vectors.

Hardware only, modelled on a PC with one IO-APIC and one local APIC:

- INTx: every PCI function's pin is wired to a GSI (its ``irq`` as the bus
  assigned it; several functions may share one).  A GSI is level-triggered
  and active while ANY function on it asserts (wired OR).  A function's pin
  counts only while its PCI_COMMAND_INTX_DISABLE bit is clear and MSI/MSI-X
  are off, as the PCI spec has it; PCI_STATUS_INTERRUPT shows the function's
  own pin state either way.  Each IO-APIC pin has a redirection entry: a CPU
  vector and a mask bit, which the kernel programs.
- MSI/MSI-X: a message is a memory write of ``data`` to ``address``; the
  function's capability in config space (machine/pci.py) decides both, so
  what the driver (or the kernel on its behalf) wrote there decides where
  the interrupt goes.  A write to the local APIC's window (0xfee00000)
  latches vector ``data & 0xff`` in the IRR: an edge, one interrupt.
- Vectors the kernel masked (``set_vector_masked``: disable_irq) stay
  pending and are not delivered until unmasked.

The kernel side (kernel/irq.py) learns that something became deliverable
through ``on_pending(bool)``; it then takes vectors with
:meth:`InterruptController.next_pending`, highest first, as the CPU would.
Everything here runs on the CPU thread (device models are called from MMIO
accesses and device timers, both on it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from .machine import Machine

NR_IOAPIC_PINS = 24
APIC_MSG_BASE, APIC_MSG_MASK = 0xFEE00000, 0xFFF00000   # x86 MSI address window
FIRST_DEVICE_VECTOR = 0x20                               # below are CPU exceptions


@dataclass
class RedirectionEntry:
    """One IO-APIC pin: where it goes and whether it is masked (masked at reset)."""

    vector: int = 0
    masked: bool = True


@dataclass
class ControllerStats:
    """Counters the kernel reports (ERR: and MIS: of /proc/interrupts)."""

    spurious: int = 0          # messages to no vector / outside the APIC window
    dropped: list[str] = field(default_factory=list)


class InterruptController:
    """IO-APIC pins, the local APIC's pending vectors, MSI message decoding."""

    def __init__(self, machine: "Machine") -> None:
        self.machine = machine
        #: Called with True when some vector became deliverable, False when none is.
        self.on_pending: Callable[[bool], None] = lambda pending: None
        #: Called with a text line when a message goes nowhere (kernel logs it).
        self.on_error: Callable[[str], None] = lambda text: None
        self.redirection = [RedirectionEntry() for _ in range(NR_IOAPIC_PINS)]
        self._asserted: dict[int, set[Any]] = {}       # GSI -> functions whose pin counts
        self._pin_level: dict[int, bool] = {}          # id(function) -> its pin, as the device drives it
        self._irr: set[int] = set()                    # edge vectors latched, not yet taken
        self._masked_vectors: set[int] = set()         # the kernel's disable_irq
        self._was_pending = False
        self.stats = ControllerStats()
        for dev in getattr(machine.pci_bus, "devices", ()):
            if hasattr(dev, "irq_sink"):
                dev.irq_sink = self

    # ---- INTx -------------------------------------------------------------------

    def set_intx(self, pci_device: Any, level: bool) -> None:
        """A function's INTx pin went to ``level`` (the device model drives it)."""
        if not getattr(pci_device.model, "interrupt_pin", 1):
            raise RuntimeError(f"{pci_device.model.name}: has no interrupt pin (interrupt_pin = 0)")
        self._pin_level[id(pci_device)] = bool(level)
        self.intx_changed(pci_device)

    def pin_level(self, pci_device: Any) -> bool:
        return self._pin_level.get(id(pci_device), False)

    def intx_changed(self, pci_device: Any) -> None:
        """Re-evaluate a function's contribution to its GSI: its pin, or its
        config space (INTX_DISABLE, MSI enable) changed."""
        level = self.pin_level(pci_device)
        set_status = getattr(pci_device, "set_interrupt_status", None)
        if set_status is not None:
            set_status(level)
        counts = level and not self._intx_blocked(pci_device)
        gsi = pci_device.irq
        holders = self._asserted.setdefault(gsi, set())
        if counts:
            holders.add(pci_device)
        else:
            holders.discard(pci_device)
        self._update()

    @staticmethod
    def _intx_blocked(pci_device: Any) -> bool:
        blocked = getattr(pci_device, "intx_blocked", None)
        return bool(blocked()) if blocked is not None else False

    def line_asserted(self, gsi: int) -> bool:
        return bool(self._asserted.get(gsi))

    def program_pin(self, gsi: int, vector: int, masked: bool) -> None:
        """The kernel writes a redirection entry."""
        if not 0 <= gsi < NR_IOAPIC_PINS:
            raise ValueError(f"GSI {gsi} is not an IO-APIC pin (0..{NR_IOAPIC_PINS - 1})")
        entry = self.redirection[gsi]
        entry.vector, entry.masked = vector, masked
        self._update()

    # ---- MSI ----------------------------------------------------------------------

    def msi_enabled(self, pci_device: Any) -> bool:
        fn = getattr(pci_device, "msi_mode", None)
        return fn is not None and fn() is not None

    def msi_notify(self, pci_device: Any, vector: int) -> None:
        """The function sends its MSI message ``vector`` (MSI-X: table entry)."""
        send = getattr(pci_device, "msi_message", None)
        message = send(vector) if send is not None else None
        if message is None:
            return              # not enabled, masked (MSI-X PBA keeps it) or out of range
        self.message(*message)

    def message(self, address: int, data: int) -> None:
        """A memory write that is an interrupt message."""
        if address & APIC_MSG_MASK != APIC_MSG_BASE:
            self._spurious(f"MSI write of {data:#x} to {address:#x}, outside the APIC window")
            return
        vector = data & 0xFF
        if vector < FIRST_DEVICE_VECTOR:
            self._spurious(f"MSI with vector {vector:#x} (an exception vector)")
            return
        self._irr.add(vector)
        self._update()

    def _spurious(self, text: str) -> None:
        self.stats.spurious += 1
        self.on_error(text)

    # ---- the CPU side ---------------------------------------------------------------

    def set_vector_masked(self, vector: int, masked: bool) -> None:
        if masked:
            self._masked_vectors.add(vector)
        else:
            self._masked_vectors.discard(vector)
        self._update()

    def _candidates(self) -> tuple[set[int], set[int]]:
        """(edge vectors, level vectors) deliverable now."""
        masked = self._masked_vectors
        edge = {v for v in self._irr if v not in masked} if self._irr else set()
        level = set()
        for gsi, holders in self._asserted.items():
            if holders and gsi < NR_IOAPIC_PINS:
                entry = self.redirection[gsi]
                if not entry.masked and entry.vector not in masked:
                    level.add(entry.vector)
        return edge, level

    def pending(self) -> bool:
        edge, level = self._candidates()
        return bool(edge or level)

    def next_pending(self) -> int | None:
        """Take the highest deliverable vector (an edge is consumed; a level
        one comes back as long as its line stays asserted)."""
        edge, level = self._candidates()
        if not edge and not level:
            self._set_pending(False)
            return None
        vector = max(edge | level)
        if vector in edge:
            self._irr.discard(vector)
            edge.discard(vector)
        self._set_pending(bool(edge or level))
        return vector

    def reset_vector(self, vector: int) -> None:
        """Forget a latched edge (the kernel tore the vector down)."""
        self._irr.discard(vector)
        self._update()

    def _update(self) -> None:
        self._set_pending(self.pending())

    def _set_pending(self, now: bool) -> None:
        if now != self._was_pending:
            self._was_pending = now
            self.on_pending(now)
