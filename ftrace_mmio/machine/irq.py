"""The interrupt controller: INTx lines and MSI messages to CPU vectors.

Hardware only: which vectors are pending.  The kernel side (kernel/irq.py)
assigns vectors to lines and messages and runs the handlers; it learns of a
new pending interrupt through ``on_pending``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from .machine import Machine


class InterruptController:
    def __init__(self, machine: "Machine") -> None:
        self.machine = machine
        #: Called (on the CPU thread) whenever an interrupt becomes pending.
        self.on_pending: Callable[[], None] = lambda: None

    def set_intx(self, pci_device: Any, level: bool) -> None:
        """A function's INTx pin went to ``level``."""
        raise NotImplementedError("interrupts are not wired yet")

    def msi_enabled(self, pci_device: Any) -> bool:
        return False

    def msi_notify(self, pci_device: Any, vector: int) -> None:
        raise NotImplementedError("MSI is not wired yet")
