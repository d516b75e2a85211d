"""``ftrace-mmio run``: trace one driver load in process, no mount needed.

It does what the documented shell workflow does, in one process: boot the
default machine (the devices and addresses ``mount`` uses), select the
tracer, open ``trace_pipe`` and read it from a second thread as ``cat``
would, insmod the driver, rmmod it, read what is left, and write exactly the
bytes that reader got: VERSION, PCIDEV, then the events.

The mmiotrace parameters (``--filter-offset``, ``--nommiotrace``,
``--trace-pc``, ``--decoder``) are boot-time settings of the machine, as
the kernel's ``mmiotrace.X=`` are; :func:`add_mmiotrace_arguments` and
:func:`mmiotrace_params` let ``mount`` offer the same options.
"""

from __future__ import annotations

import argparse
import errno
import sys
import threading
from typing import BinaryIO

from ..mmiotrace.decode import DecoderMode
from ..mmiotrace.mmio_mod import MmiotraceParams

# cat reads 128 KiB at a time; the pipe hands out at most ~8 KB per read anyway.
READ_SIZE = 128 * 1024


def _address(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r} (decimal or 0x hex)") from None
    if not 0 <= value < 1 << 64:
        raise argparse.ArgumentTypeError(f"{text} is not a 64-bit address")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def add_mmiotrace_arguments(parser: argparse.ArgumentParser) -> None:
    """The mmiotrace boot parameters as command-line options (run, mount)."""
    group = parser.add_argument_group("mmiotrace parameters (fixed for the machine's life)")
    group.add_argument("--decoder", choices=[m.value for m in DecoderMode], default=DecoderMode.FULL.value,
                       help="full: every access with its real kind, width and value (default); "
                            "pf_in: the kernel's decoder and probe lookup, quirks included")
    group.add_argument("--filter-offset", type=_address, default=0, metavar="PHYS",
                       help="trace only ioremaps of exactly this physical address "
                            "(mmiotrace.filter_offset; others get no MAP and no map id)")
    group.add_argument("--nommiotrace", action="store_true",
                       help="log MAP/UNMAP only, arm nothing (mmiotrace.nommiotrace)")
    group.add_argument("--trace-pc", action="store_true",
                       help="record the faulting instruction's address in R/W/UNKNOWN lines "
                            "(mmiotrace.trace_pc)")


def mmiotrace_params(args: argparse.Namespace) -> MmiotraceParams:
    return MmiotraceParams(filter_offset=args.filter_offset, nommiotrace=args.nommiotrace,
                           trace_pc=args.trace_pc, decoder=args.decoder)


class RunError(Exception):
    """The run could not produce a trace at all."""


def trace_run(
    target: str,
    driver_args: list[str],
    out: BinaryIO,
    *,
    tracer: str = "mmiotrace",
    clock: str = "local",
    params: MmiotraceParams = MmiotraceParams(),
    buffer_size_kb: int | None = None,
    nr_cpus: int = 2,
    machine_factory=None,
) -> tuple[str | None, str]:
    """Trace one insmod/rmmod of ``target`` and write the trace_pipe bytes to ``out``.

    Returns ``(failure, dmesg)``: ``failure`` is None when the driver loaded
    and unloaded cleanly, else the reason; ``dmesg`` is the kernel log.
    """
    from ..machine.machine import Machine
    from ..machine.module import ModuleError
    from ..mmiotrace.tracer import attach
    from ..trace.array import TraceArray
    from ..trace.clock import TimeBase

    time_base = TimeBase()
    array = TraceArray(nr_cpus=nr_cpus, time_base=time_base, buffer_size_kb=buffer_size_kb, clock=clock)
    machine = (machine_factory or Machine)(time_base=time_base)
    failure: str | None = None
    try:
        attach(array, machine, params)
        array.set_tracer(tracer)
        pipe = array.open_pipe()
        stop = threading.Event()
        errors: list[BaseException] = []

        def reader() -> None:
            # cat trace_pipe: read until interrupted, write what comes.
            try:
                while True:
                    try:
                        data = pipe.read(READ_SIZE, interrupted=stop.is_set)
                    except OSError as exc:
                        if exc.errno == errno.EINTR:
                            return
                        raise
                    out.write(data)
            except BaseException as exc:  # noqa: BLE001 - reported by the caller
                errors.append(exc)

        thread = threading.Thread(target=reader, name="trace_pipe reader", daemon=True)
        thread.start()
        name = None
        try:
            info = machine.insmod(target, driver_args)
            name = info.name
        except (ModuleError, OSError, ValueError) as exc:
            failure = f"insmod {target}: {_reason(exc)}"
        if name is not None:
            try:
                machine.rmmod(name)
            except ModuleError as exc:
                if exc.errno != errno.EBUSY:
                    failure = f"rmmod {name}: {_reason(exc)}"
        # The reader stops once nothing is left to read.
        stop.set()
        thread.join()
        pipe.close()
        if errors:
            raise RunError(f"reading trace_pipe failed: {errors[0]}")
        array.set_tracer("nop")
        return failure, machine.dmesg_text()
    finally:
        machine.close()


def _reason(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) or type(exc).__name__


def cmd_run(args: argparse.Namespace) -> int:
    try:
        params = mmiotrace_params(args)
    except ValueError as exc:
        print(f"ftrace-mmio run: {exc}", file=sys.stderr)
        return 2
    try:
        if args.output and args.output != "-":
            with open(args.output, "wb") as out:
                failure, dmesg = trace_run(args.target, args.params, out, tracer=args.tracer,
                                           clock=args.clock, params=params,
                                           buffer_size_kb=args.buffer_size_kb)
        else:
            failure, dmesg = trace_run(args.target, args.params, sys.stdout.buffer, tracer=args.tracer,
                                       clock=args.clock, params=params, buffer_size_kb=args.buffer_size_kb)
            sys.stdout.flush()
    except (RunError, OSError) as exc:
        print(f"ftrace-mmio run: {exc}", file=sys.stderr)
        return 1
    if args.dmesg:
        sys.stderr.write(dmesg)
    if failure is not None:
        print(f"ftrace-mmio run: {failure}", file=sys.stderr)
        return 1
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "run", help="trace one driver load and unload, in process (no mount)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Boot the default machine, select the tracer, read trace_pipe while the driver "
                    "is loaded and unloaded, and write exactly the bytes `cat trace_pipe` would "
                    "have read (VERSION, PCIDEV, events). Exits 1 with the reason if the driver "
                    "fails; the trace up to that point is still written.",
        epilog="examples:\n"
               "  ftrace-mmio run testmmiotrace mmio_address=0xfd000000 -o t.txt\n"
               "  ftrace-mmio run ./my_driver.c --clock det --decoder pf_in --trace-pc\n"
               "  ftrace-mmio run nvlike --filter-offset 0xf6000000 | grep -c '^R '",
    )
    p.add_argument("target", metavar="NAME|FILE", help="a bundled driver's name, a .c file or a .o file")
    p.add_argument("params", nargs="*", metavar="param=value", help="module parameters")
    p.add_argument("--tracer", choices=["mmiotrace", "nop"], default="mmiotrace",
                   help="the tracer to select (default mmiotrace)")
    p.add_argument("--clock", default="local", metavar="NAME",
                   help="trace clock: local (default), mono, counter, det (deterministic: "
                        "the same bytes on every run) ...")
    p.add_argument("--buffer-size-kb", type=_positive, default=None, metavar="N",
                   help="per-CPU ring buffer size (default 1408)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the trace here (default stdout)")
    p.add_argument("--dmesg", action="store_true", help="print the kernel log to stderr afterwards")
    add_mmiotrace_arguments(p)
    p.set_defaults(func=cmd_run)
