"""``ftrace-mmio insmod``, ``rmmod``, ``lsmod``, ``lspci``, ``dmesg``, ``interrupts``: drive
the emulated machine of a running mount over its control socket.

Without ``--mount DIR`` the command goes to the only running mount.  Module
files are named relative to the current directory; they are passed to the
daemon as absolute paths (it compiles and loads them).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from ..control import ControlError, call

FMT = argparse.RawDescriptionHelpFormatter


def _call(ns: argparse.Namespace, op: str, **kwargs: Any) -> dict[str, Any]:
    return call(op, mount=ns.mount, timeout=None, **kwargs)


def _target(text: str) -> str:
    """A file the user names is resolved here, where the user is."""
    if os.path.exists(text):
        return os.path.abspath(text)
    return text


def cmd_insmod(args: argparse.Namespace) -> int:
    # Compiling a driver takes a moment the first time: say so on a terminal only.
    status = sys.stderr.isatty()
    if status:
        compiling = "" if args.module.endswith((".o", ".ko")) else " (compiled the first time)"
        sys.stderr.write(f"insmod: loading {args.module}{compiling} ...")
        sys.stderr.flush()
    try:
        reply = _call(args, "insmod", target=_target(args.module), params=args.params)
    except ControlError as exc:
        _clear_status(status)
        print(f"insmod: ERROR: could not insert module {args.module}: {exc.strerror}", file=sys.stderr)
        return 1
    except BaseException:
        _clear_status(status)
        raise
    _clear_status(status)
    if reply.get("warnings"):
        sys.stderr.write(reply["warnings"])
    return 0


def _clear_status(shown: bool) -> None:
    if shown:
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()


def cmd_rmmod(args: argparse.Namespace) -> int:
    status = 0
    for name in args.names:
        try:
            _call(args, "rmmod", name=name)
        except ControlError as exc:
            print(f"rmmod: ERROR: could not remove module {name}: {exc.strerror}", file=sys.stderr)
            status = 1
    return status


def cmd_lsmod(args: argparse.Namespace) -> int:
    modules = _call(args, "lsmod")["modules"]
    if args.json:
        print(json.dumps(modules, indent=2))
        return 0
    print("Module                  Size  Used by")
    for m in modules:
        used = m.get("used_by", [])
        print(f"{m['name']:<19} {m['size']:>8}  {len(used)}" + (f" {','.join(used)}" if used else ""))
    return 0


def cmd_lspci(args: argparse.Namespace) -> int:
    reply = _call(args, "lspci")
    if args.json:
        print(json.dumps(reply["devices"], indent=2))
        return 0
    if args.kernel:
        for dev in reply["devices"]:
            line = next((l for l in reply["text"].splitlines() if l.startswith(dev["slot"][-7:])), dev["slot"])
            print(line)
            if dev.get("driver"):
                print(f"\tKernel driver in use: {dev['driver']}")
        return 0
    sys.stdout.write(reply["text"])
    return 0


def cmd_dmesg(args: argparse.Namespace) -> int:
    reply = _call(args, "dmesg", clear=args.clear)
    if args.json:
        print(json.dumps(reply["records"], indent=2))
    else:
        sys.stdout.write(reply["text"])
    return 0


def cmd_interrupts(args: argparse.Namespace) -> int:
    reply = _call(args, "interrupts")
    if args.json:
        print(json.dumps(reply["interrupts"], indent=2))
    else:
        sys.stdout.write(reply["text"])
    return 0


def _mount_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mount", metavar="DIR", default=None,
                   help="the mount whose machine to use (default: the only running one)")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "insmod", help="load a driver module into the emulated machine", formatter_class=FMT,
        description="Compile (for a .c file) and load a module, setting its module_param()s, and run "
                    "its module_init. MODULE is a .c file, an object file, or the name of a bundled "
                    "driver (testmmiotrace, nvlike, uart16550). The module name is the file's stem. "
                    "A crash in the driver is an oops in `ftrace-mmio dmesg` and a failed insmod.",
        epilog="examples:\n  ftrace-mmio insmod nvlike\n"
               "  ftrace-mmio insmod testmmiotrace mmio_address=0xfd000000\n"
               "  ftrace-mmio insmod ./my_driver.c debug=1",
    )
    p.add_argument("module", metavar="MODULE", help="a .c file, an object file or a bundled driver name")
    p.add_argument("params", metavar="PARAM=VALUE", nargs="*", help="module parameters")
    _mount_option(p)
    p.set_defaults(func=cmd_insmod)

    p = subparsers.add_parser(
        "rmmod", help="unload modules (runs module_exit)", formatter_class=FMT,
        description="Run each module's module_exit and unload it.",
        epilog="example:\n  ftrace-mmio rmmod nvlike",
    )
    p.add_argument("names", metavar="NAME", nargs="+", help="module names, as lsmod shows them")
    _mount_option(p)
    p.set_defaults(func=cmd_rmmod)

    p = subparsers.add_parser(
        "lsmod", help="list loaded modules", formatter_class=FMT,
        description="List the modules loaded in the emulated machine, newest first.",
        epilog="example:\n  ftrace-mmio lsmod",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list (name, size, state, params, ...)")
    _mount_option(p)
    p.set_defaults(func=cmd_lsmod)

    p = subparsers.add_parser(
        "lspci", help="list the emulated PCI devices", formatter_class=FMT,
        description="List the machine's PCI devices like lspci; -k adds \"Kernel driver in use: NAME\" "
                    "under each device a driver is bound to (a pci_driver's name, or the module that "
                    "enabled the device); --json gives slot, vendor, device, name, driver, irq and the "
                    "BARs (index, start, size, flags) of each.",
        epilog="examples:\n  ftrace-mmio lspci\n  ftrace-mmio lspci -k\n  ftrace-mmio lspci --json",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list of devices")
    p.add_argument("-k", "--kernel", action="store_true", help="show the driver bound to each device")
    _mount_option(p)
    p.set_defaults(func=cmd_lspci)

    p = subparsers.add_parser(
        "dmesg", help="print the emulated kernel's log", formatter_class=FMT,
        description="Print the kernel log of the emulated machine: boot messages, what drivers "
                    "printk()ed, warnings and oopses.",
        epilog="example:\n  ftrace-mmio insmod nvlike && ftrace-mmio dmesg",
    )
    p.add_argument("--json", action="store_true", help="print records (seq, ts_ns, level, text) as JSON")
    p.add_argument("-c", "--clear", action="store_true", help="clear the log after printing it")
    _mount_option(p)
    p.set_defaults(func=cmd_dmesg)

    p = subparsers.add_parser(
        "interrupts", help="per-interrupt counts, like /proc/interrupts", formatter_class=FMT,
        description="Print the emulated machine's interrupts as /proc/interrupts does: number, "
                    "deliveries on CPU0, chip (IO-APIC or PCI-MSI), hardware number and flow, and "
                    "the names of the handlers requested on it; ERR counts messages that went "
                    "nowhere. Only interrupts with a handler or a delivery are listed.",
        epilog="examples:\n  ftrace-mmio insmod ./my_driver.c && ftrace-mmio interrupts\n"
               "  ftrace-mmio interrupts --json",
    )
    p.add_argument("--json", action="store_true",
                   help="print records (irq, count, chip, hwirq, flow, names, disabled, ...) as JSON")
    _mount_option(p)
    p.set_defaults(func=cmd_interrupts)
