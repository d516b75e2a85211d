"""The parts of the emulated kernel, in the order they are set up.

One line per subsystem: a new part of the kernel adds its class here.
"""

from __future__ import annotations

from .api import Subsystem
from .chardev import Chardev
from .dma import Dma
from .device import Device
from .irq import Irq
from .pci import PciCore
from .sched import Sched
from .sysfs import Sysfs
from .time import Time

SUBSYSTEMS: tuple[type[Subsystem], ...] = (
    Time,
    PciCore,
    Irq,
    Device,
    Dma,
    Chardev,
    Sysfs,
    Sched,      # last: module_unloaded after devres released what it could
)
