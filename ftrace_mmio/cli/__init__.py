"""The ``ftrace-mmio`` command.

Each command group lives in its own module of this package and exposes
``register(subparsers)``, which adds its sub-commands; every sub-command sets
``func`` (called with the parsed namespace, returning an exit status) and
carries an ``--help`` text with an example (``epilog``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

class CliError(Exception):
    """A failure worth one line on stderr ("ftrace-mmio CMD: ...") and exit status 1."""


def positive_int(text: str) -> int:
    """argparse type: a positive integer, decimal or 0x-prefixed."""
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


# Command-group modules, in the order their commands appear in --help.
COMMAND_MODULES = ("fs", "machine", "machinefile", "run", "nsexec", "analysis")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ftrace-mmio",
        description="Linux mmiotrace on an emulated x86-64 machine, served as a tracefs look-alike.",
        epilog="example:\n  ftrace-mmio mount /tmp/t && cat /tmp/t/available_tracers",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from ftrace_mmio.control import ControlError

    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"ftrace-mmio {args.command}: {exc}", file=sys.stderr)
        return 1
    except ControlError as exc:
        print(f"ftrace-mmio {args.command}: {exc.strerror}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (| head): stop quietly, as cat does, and point
        # stdout at /dev/null so that the interpreter's final flush cannot fail.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
