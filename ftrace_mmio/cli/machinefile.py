"""``ftrace-mmio machine``: print the built-in machine as a machine file, or check one.

A machine file is TOML (docs/guide.md, "Machine files"); ``mount`` and
``run`` take it with ``--machine FILE``. ``--show-default`` is where users
start, ``--check`` says whether a file is usable before anything is mounted
and shows the PCI devices it makes, as lspci and as mmiotrace's PCIDEV lines.
"""

from __future__ import annotations

import argparse
import sys

from ..machine.config import DEFAULT_HEADER, MachineFileError, default_config, load_machine_file


def cmd_machine(args: argparse.Namespace) -> int:
    if args.show_default:
        sys.stdout.write(default_config().to_toml(DEFAULT_HEADER))
        return 0
    if not args.check:
        print("ftrace-mmio machine: say what to do: --show-default, or --check FILE "
              "(see ftrace-mmio machine --help)", file=sys.stderr)
        return 2
    try:
        config = load_machine_file(args.check)
    except MachineFileError as exc:
        print(f"ftrace-mmio machine: {exc}", file=sys.stderr)
        return 1
    from ..mmiotrace.tracer import format_pcidev

    bus = config.build_bus()
    p = config.mmiotrace
    print(f"{args.check}: ok: {len(bus)} PCI device(s), {config.cpus} CPU(s), "
          f"buffer_size_kb {config.buffer_size_kb}, clock {config.clock}, decoder {p.decoder}"
          + (f", filter_offset {p.filter_offset:#x}" if p.filter_offset else "")
          + (", nommiotrace" if p.nommiotrace else "") + (", trace_pc" if p.trace_pc else ""))
    sys.stdout.write(bus.lspci())
    sys.stdout.write("".join(format_pcidev(f) for f in bus.pcidev_fields()))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "machine", help="print the built-in machine as a machine file, or check one",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="A machine file (TOML) describes an emulated machine: its PCI devices "
                    "(bundled models or your own .py model files; slots, BAR addresses and sizes, "
                    "ROM, IRQs), CPUs, buffer size, clock and mmiotrace parameters. `mount` and "
                    "`run` take one with --machine FILE. --check loads a file, reports the first "
                    "mistake as FILE:LINE: key: problem, or prints the devices it makes (lspci "
                    "and the PCIDEV lines mmiotrace will print).",
        epilog="examples:\n"
               "  ftrace-mmio machine --show-default > my-machine.toml\n"
               "  ftrace-mmio machine --check my-machine.toml\n"
               "  ftrace-mmio mount --machine my-machine.toml /tmp/t",
    )
    what = p.add_mutually_exclusive_group()
    what.add_argument("--show-default", action="store_true",
                      help="print the built-in machine as a machine file")
    what.add_argument("--check", metavar="FILE", help="check a machine file and show its devices")
    p.set_defaults(func=cmd_machine)
