"""The mount daemon: one emulated system, served as a tracefs look-alike.

``System`` is everything one mount owns: the time base shared by the trace
clock and the machine, the trace array behind the control files and, once
the machine package provides one, the emulated ``Machine`` (the seam is the
``machine`` field: ``build_system`` fills it when it can).

``run`` composes the pieces: it builds the System, starts the control
socket, registers the mount, and serves the tree over FUSE until the mount
goes away (``ftrace-mmio umount``, ``fusermount -u``, SIGINT, SIGTERM).
``ftrace-mmio mount`` runs it in the foreground with ``-f``, or starts it
in a new session and waits for it to say "ready".
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, Callable

from ftrace_mmio.control import ControlServer, Handler, register_mount, unregister_mount
from ftrace_mmio.machine.config import MachineConfig, default_config
from ftrace_mmio.machine.ops import machine_handlers
from ftrace_mmio.mmiotrace.mmio_mod import MmiotraceParams
from ftrace_mmio.mmiotrace.tracer import attach
from ftrace_mmio.trace.array import TraceArray
from ftrace_mmio.trace.clock import TimeBase
from ftrace_mmio.trace.files import build_tree
from tracefs.fuse import FuseServer, FuseUnavailable, MountOptions, block_loop_signals


@dataclass
class System:
    """What one mount serves. Handlers of the control socket receive it."""

    time_base: TimeBase
    array: TraceArray
    #: The emulated machine (ftrace_mmio.machine), traced by the array's mmiotrace.
    machine: Any = None
    mountpoint: str = ""

    def close(self) -> None:
        if self.machine is not None:
            self.machine.close()


def system_from_config(config: MachineConfig, machine_factory: Callable[..., Any] | None = None) -> System:
    """The one way a System is made (mount and run): the config's machine, its
    trace array, and mmiotrace attached to both. ``machine_factory(time_base=...)``,
    when given, makes the machine instead (replay, tests)."""
    time_base = TimeBase()
    array = TraceArray(nr_cpus=config.cpus, time_base=time_base, buffer_size_kb=config.buffer_size_kb,
                       clock=config.clock)
    machine = machine_factory(time_base=time_base) if machine_factory else config.build_machine(time_base)
    try:
        attach(array, machine, config.mmiotrace)
    except BaseException:
        machine.close()
        raise
    return System(time_base=time_base, array=array, machine=machine)


def build_system(cpus: int = 2, clock: str = "local", buffer_size_kb: int | None = None,
                 params: MmiotraceParams | None = None) -> System:
    """The default machine, its trace array, and mmiotrace attached to both."""
    return system_from_config(default_config().replace(cpus=cpus, clock=clock, buffer_size_kb=buffer_size_kb,
                                                       mmiotrace=params))


def system_tree(system: System) -> Any:
    """What the mount serves: the tracing files, ``dev/`` with the
    character devices the machine's drivers registered (kernel/chardev.py),
    and ``sys/bus/pci/devices/`` with the attributes bound drivers declared
    (kernel/sysfs.py)."""
    root = build_tree(system.array)
    chardev = getattr(getattr(system.machine, "kapi", None), "chardev", None)
    if chardev is not None:
        from ftrace_mmio.kernel.chardev import dev_dir
        root.add(dev_dir(chardev))
    sysfs = getattr(getattr(system.machine, "kapi", None), "sysfs", None)
    if sysfs is not None:
        from ftrace_mmio.kernel.sysfs import sys_dir
        root.add(sys_dir(sysfs))
    return root


def _status(system: System) -> dict[str, Any]:
    array = system.array
    return {
        "pid": os.getpid(),
        "mountpoint": system.mountpoint,
        "cpus": array.nr_cpus,
        "clock": array.clock,
        "tracer": array.tracer.name,
        "tracing_on": array.tracing_on,
        "machine": system.machine is not None,
    }


def control_handlers(system: System) -> dict[str, Handler]:
    """The commands the control socket answers: status, and the machine's
    insmod, rmmod, lsmod, lspci and dmesg."""
    handlers: dict[str, Handler] = {"status": _status}
    if system.machine is not None:
        handlers.update(machine_handlers())
    return handlers


@dataclass
class DaemonConfig:
    mountpoint: str
    cpus: int = 2
    clock: str = "local"
    buffer_size_kb: int | None = None
    #: mmiotrace's boot-time parameters (filter_offset, nommiotrace, trace_pc, decoder).
    params: MmiotraceParams | None = None
    #: The whole machine (a machine file with the options applied); when set, the
    #: fields above are not used.
    machine: MachineConfig | None = None
    allow_other: bool = False
    nonempty: bool = False
    #: A pipe to report "ready <socket>" or "error <message>" on, then close.
    ready_fd: int | None = None
    log_file: str = ""


def _report(fd: int | None, line: str) -> None:
    if fd is None:
        print(line, file=sys.stderr, flush=True)
        return
    try:
        os.write(fd, line.encode() + b"\n")
        os.close(fd)
    except OSError:
        pass


def run(config: DaemonConfig) -> int:
    """Serve until unmounted; returns the exit status."""
    mountpoint = os.path.abspath(config.mountpoint)
    try:
        if config.machine is not None:
            system = system_from_config(config.machine)
        else:
            system = build_system(config.cpus, config.clock, config.buffer_size_kb, config.params)
    except (ValueError, OSError, RuntimeError) as exc:
        _report(config.ready_fd, f"error {exc}")
        return 2
    system.mountpoint = mountpoint
    server = FuseServer(system_tree(system),
                        MountOptions(allow_other=config.allow_other, nonempty=config.nonempty))
    control = ControlServer(system, control_handlers(system), thread_setup=block_loop_signals)
    socket_path = control.start()
    entry = register_mount(mountpoint, socket_path, config.log_file)
    ready_fd = config.ready_fd

    def ready() -> None:
        nonlocal ready_fd
        if ready_fd is None:
            print(f"ftrace-mmio: serving {mountpoint}; control socket {socket_path}; "
                  "Ctrl-C or `ftrace-mmio umount` to stop", file=sys.stderr, flush=True)
        else:
            _report(ready_fd, f"ready {socket_path}")
            ready_fd = None

    failure = ""
    try:
        server.serve(mountpoint, on_ready=ready)
    except (FuseUnavailable, OSError) as exc:
        failure = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    finally:
        control.stop()
        unregister_mount(entry)
        system.close()
    if failure:
        # Reported only now, after the cleanup: the parent may stop us once it hears.
        if ready_fd is not None:
            _report(ready_fd, f"error {failure}")
        else:
            print(f"ftrace-mmio: {failure}", file=sys.stderr)
        return 1
    if config.log_file:
        # A clean exit leaves nothing worth reading behind.
        try:
            os.unlink(config.log_file)
        except OSError:
            pass
    return 0
