"""Control-channel commands for a mounted machine: insmod, rmmod, lsmod,
lspci, dmesg.

Handlers follow ``ftrace_mmio.control``: ``fn(system, **args) -> dict``,
errors as ``OSError`` with the kernel's errno (they travel to the client
unchanged).  The machine is the one given to :func:`register_ops`, or the
``machine`` attribute of the daemon's ``System``.
"""

from __future__ import annotations

import errno
from typing import Any, Callable

from ..kernel.module import ModuleError


def _machine_of(fixed: Any, system: Any) -> Any:
    machine = fixed if fixed is not None else getattr(system, "machine", None)
    if machine is None:
        raise OSError(errno.ENODEV, "this mount has no emulated machine")
    return machine


def lspci_data(machine: Any) -> tuple[str, list[dict[str, Any]]]:
    """(lspci text, lspci --json list) for a machine's bus."""
    bus = machine.pci_bus
    if hasattr(bus, "lspci_json"):
        # on the CPU thread: drivers change config space (and bindings) there
        return machine.run_on_cpu(lambda: (bus.lspci(), bus.lspci_json()))
    devices = machine.pci_devices()
    text = "".join(f"{d['slot'][5:]} Class {d['class'] >> 8:04x}: Device {d['vendor']:04x}:{d['device']:04x}\n"
                   for d in devices)
    return text, devices


def machine_handlers(machine: Any = None) -> dict[str, Callable[..., dict[str, Any] | None]]:
    """The handlers, bound to ``machine`` (or to each system's machine)."""

    def insmod(system: Any, target: str, params: list[str] | None = None) -> dict[str, Any]:
        m = _machine_of(machine, system)
        if not isinstance(target, str) or not target:
            raise ModuleError(errno.EINVAL, "insmod needs a module name or file")
        info = m.insmod(target, [str(a) for a in (params or [])])
        return {"module": info.as_dict(), "warnings": info.warnings}

    def rmmod(system: Any, name: str) -> dict[str, Any]:
        _machine_of(machine, system).rmmod(name)
        return {}

    def lsmod(system: Any) -> dict[str, Any]:
        return {"modules": [info.as_dict() for info in _machine_of(machine, system).lsmod()]}

    def lspci(system: Any) -> dict[str, Any]:
        text, devices = lspci_data(_machine_of(machine, system))
        return {"text": text, "devices": devices}

    def dmesg(system: Any, since: int = 0, clear: bool = False) -> dict[str, Any]:
        m = _machine_of(machine, system)
        records = m.dmesg(int(since))
        if clear:
            m.log.clear()
        return {"records": [r.as_dict() for r in records], "text": "".join(r.format() + "\n" for r in records)}

    def interrupts(system: Any) -> dict[str, Any]:
        return interrupts_data(_machine_of(machine, system))

    return {"insmod": insmod, "rmmod": rmmod, "lsmod": lsmod, "lspci": lspci, "dmesg": dmesg,
            "interrupts": interrupts}


def interrupts_data(machine: Any) -> dict[str, Any]:
    """/proc/interrupts of a machine: the text and one record per interrupt."""
    irq = getattr(getattr(machine, "kapi", None), "irq", None)
    if irq is None:
        raise OSError(errno.ENODEV, "this machine has no interrupt controller")
    rows, text = machine.run_on_cpu(lambda: (irq.interrupts(), irq.proc_interrupts()))
    return {"interrupts": rows, "text": text}


def register_ops(server: Any, machine: Any = None) -> None:
    """Add the machine commands to a ``ControlServer``."""
    for op, fn in machine_handlers(machine).items():
        server.register(op, fn)
