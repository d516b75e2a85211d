"""``ftrace-mmio run``: trace one driver load in process, no mount needed.

It does what the documented shell workflow does, in one process: boot the
default machine (the devices and addresses ``mount`` uses), select the
tracer, open ``trace_pipe`` and read it from a second thread as ``cat``
would, insmod the driver, rmmod it, read what is left, and write exactly the
bytes that reader got: VERSION, PCIDEV, then the events.

The mmiotrace parameters (``--filter-offset``, ``--nommiotrace``,
``--trace-pc``, ``--decoder``) are boot-time settings of the machine, as
the kernel's ``mmiotrace.X=`` are; :func:`add_mmiotrace_arguments` and
:func:`machine_config` let ``mount`` offer the same options, on top of a
machine file (``--machine FILE``) or the built-in machine.

On a terminal, ``run`` shows what it is doing (compiling, loading, how many
lines so far) on stderr and ends with where the trace went and how many
events it holds; in a pipe it says only the last part, so stdout stays the
byte stream.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import os
import sys
import threading
from typing import BinaryIO, Callable, TextIO

from . import positive_int
from ..machine.config import MachineConfig, MachineFileError, default_config, load_machine_file
from ..mmiotrace.decode import DecoderMode
from ..mmiotrace.mmio_mod import ENGINES, MmiotraceParams

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


def add_mmiotrace_arguments(parser: argparse.ArgumentParser) -> None:
    """The mmiotrace boot parameters as command-line options (run, mount).

    Options left out (None) take the machine file's value, else the default.
    """
    group = parser.add_argument_group("mmiotrace parameters (fixed for the machine's life)")
    group.add_argument("--decoder", choices=[m.value for m in DecoderMode], default=None,
                       help="full: every access with its real kind, width and value (default); "
                            "pf_in: the kernel's decoder and probe lookup, quirks included")
    group.add_argument("--engine", choices=list(ENGINES), default=None,
                       help="faithful: page fault, single step and debug trap per access, as the "
                            "kernel (default); fast: recorded at the device's hook, no fault, same "
                            "output (docs/performance.md)")
    group.add_argument("--filter-offset", type=_address, default=None, metavar="PHYS",
                       help="trace only ioremaps of exactly this physical address "
                            "(mmiotrace.filter_offset; others get no MAP and no map id)")
    group.add_argument("--nommiotrace", action="store_true", default=None,
                       help="log MAP/UNMAP only, arm nothing (mmiotrace.nommiotrace)")
    group.add_argument("--trace-pc", action="store_true", default=None,
                       help="record the faulting instruction's address in R/W/UNKNOWN lines "
                            "(mmiotrace.trace_pc)")


def add_machine_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--machine", metavar="FILE", default=None,
                        help="a machine file (TOML) describing the devices, CPUs, buffer size, clock "
                             "and mmiotrace parameters; options given here override it "
                             "(start from: ftrace-mmio machine --show-default)")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text!r}")
    return value


def add_budget_argument(parser: argparse.ArgumentParser) -> None:
    """``--run-budget SECONDS`` (run and mount): the machine file's run_budget_s."""
    parser.add_argument("--run-budget", type=_seconds, default=None, metavar="SECONDS",
                        help="wall-clock time one call into the driver (init, exit) may run before it "
                             "is stopped with an error (default 60; machine file key run_budget_s)")


def mmiotrace_params(args: argparse.Namespace, base: MmiotraceParams = MmiotraceParams()) -> MmiotraceParams:
    """``base`` with the mmiotrace options the command line gave."""
    changes = {"filter_offset": args.filter_offset, "nommiotrace": args.nommiotrace,
               "trace_pc": args.trace_pc, "decoder": args.decoder,
               "engine": getattr(args, "engine", None)}
    return dataclasses.replace(base, **{k: v for k, v in changes.items() if v is not None})


def machine_config(args: argparse.Namespace) -> MachineConfig:
    """The machine a command line asks for: ``--machine FILE`` (or the built-in
    one) with ``--cpus``/``--clock``/``--buffer-size-kb`` and the mmiotrace
    options applied. MachineFileError/ValueError say what is wrong."""
    path = getattr(args, "machine", None)
    config = load_machine_file(path) if path else default_config()
    config = config.replace(cpus=getattr(args, "cpus", None), clock=getattr(args, "clock", None),
                            buffer_size_kb=getattr(args, "buffer_size_kb", None),
                            run_budget_s=getattr(args, "run_budget", None),
                            mmiotrace=mmiotrace_params(args, config.mmiotrace))
    from ..trace.array import CLOCK_NAMES

    if config.clock not in CLOCK_NAMES:
        raise ValueError(f"unknown trace clock {config.clock!r}; one of {' '.join(CLOCK_NAMES)}")
    return config


class RunError(Exception):
    """The run could not produce a trace at all."""


def trace_run(
    target: str,
    driver_args: list[str],
    out: BinaryIO,
    *,
    tracer: str = "mmiotrace",
    clock: str | None = None,
    params: MmiotraceParams | None = None,
    buffer_size_kb: int | None = None,
    nr_cpus: int | None = None,
    machine_factory=None,
    config: MachineConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[str | None, str]:
    """Trace one insmod/rmmod of ``target`` and write the trace_pipe bytes to ``out``.

    The machine is ``config`` (default: the built-in one); ``clock``,
    ``params``, ``buffer_size_kb`` and ``nr_cpus`` override it when given.
    ``machine_factory(time_base=...)`` makes the machine instead of the
    config's devices. ``progress`` hears what is happening ("loading nvlike").

    Returns ``(failure, dmesg)``: ``failure`` is None when the driver loaded
    and unloaded cleanly, else the reason; ``dmesg`` is the kernel log.
    """
    from ..daemon import system_from_config
    from ..kernel.module import ModuleError

    say = progress or (lambda _text: None)
    config = (config or default_config()).replace(cpus=nr_cpus, clock=clock, buffer_size_kb=buffer_size_kb,
                                                   mmiotrace=params)
    say("booting the machine")
    system = system_from_config(config, machine_factory)
    array, machine = system.array, system.machine
    failure: str | None = None
    try:
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
            say(f"compiling and loading {target}" if target.endswith(".c") or "/" not in target
                else f"loading {target}")
            info = machine.insmod(target, driver_args)
            name = info.name
        except (ModuleError, OSError, ValueError) as exc:
            failure = f"insmod {target}: {_reason(exc)}"
        if name is not None:
            say(f"unloading {name}")
            try:
                machine.rmmod(name)
            except ModuleError as exc:
                if exc.errno != errno.EBUSY:
                    failure = f"rmmod {name}: {_reason(exc)}"
        say("reading what is left in trace_pipe")
        # The reader stops once nothing is left to read.
        stop.set()
        thread.join()
        pipe.close()
        if errors:
            raise RunError(f"reading trace_pipe failed: {errors[0]}") from errors[0]
        array.set_tracer("nop")
        return failure, machine.dmesg_text()
    finally:
        system.close()


class TraceCounter:
    """Passes the trace through to ``out`` and counts its lines by record type."""

    HEADER_KINDS = ("VERSION", "PCIDEV")

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.bytes = 0
        self.counts: dict[str, int] = {}
        self._partial = b""

    def write(self, data: bytes) -> int:
        self.out.write(data)
        self.bytes += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            kind = line.split(b" ", 1)[0].decode("ascii", "replace") or "(empty)"
            self.counts[kind] = self.counts.get(kind, 0) + 1
        return len(data)

    def flush(self) -> None:
        self.out.flush()

    @property
    def lines(self) -> int:
        return sum(self.counts.values())

    @property
    def events(self) -> int:
        """Lines after the VERSION/PCIDEV header: MAP, R, W, UNMAP, UNKNOWN, MARK ..."""
        return self.lines - sum(self.counts.get(k, 0) for k in self.HEADER_KINDS)

    def summary(self) -> str:
        kinds = [(k, n) for k, n in self.counts.items() if k not in self.HEADER_KINDS]
        detail = ", ".join(f"{n} {k}" for k, n in sorted(kinds, key=lambda kn: -kn[1]))
        return f"{self.events} events" + (f" ({detail})" if detail else "")


class Progress:
    """One status line on a terminal's stderr, redrawn in place; silent elsewhere."""

    INTERVAL = 0.2

    def __init__(self, stream: TextIO, counter: TraceCounter | None = None) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.counter = counter
        self.phase = ""
        self._shown = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "Progress":
        if self.enabled:
            self._thread = threading.Thread(target=self._tick, name="progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._shown:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def __call__(self, phase: str) -> None:
        self.phase = phase
        self._draw()

    def _tick(self) -> None:
        while not self._stop.wait(self.INTERVAL):
            self._draw()

    def _draw(self) -> None:
        if not self.enabled or self._stop.is_set():
            return
        text = f"ftrace-mmio run: {self.phase}"
        if self.counter is not None and self.counter.lines:
            text += f" ... {self.counter.lines:,} lines, {self.counter.bytes / 1024:,.0f} KiB so far"
        self.stream.write("\r\033[K" + text)
        self.stream.flush()
        self._shown = True


def _reason(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) or type(exc).__name__


def cmd_run_replay(args: argparse.Namespace) -> int:
    """``run --replay DUMP``: the driver runs against the hardware recorded in DUMP."""
    from ..analysis.replay import ReplayError, replay

    to_file = bool(args.output and args.output != "-")
    try:
        with open(args.output, "wb") if to_file else _stdout() as out:
            result = replay(args.replay, args.target, args.params, trace_out=out, clock=args.clock or "det")
    except (ReplayError, RunError, OSError) as exc:
        print(f"ftrace-mmio run: {exc}", file=sys.stderr)
        return 1
    if args.dmesg:
        sys.stderr.write(result.dmesg)
    sys.stderr.write(result.report())
    return 0 if result.ok else 1


def cmd_run(args: argparse.Namespace) -> int:
    if args.replay:
        return cmd_run_replay(args)
    try:
        config = machine_config(args)
    except (MachineFileError, ValueError) as exc:
        print(f"ftrace-mmio run: {exc}", file=sys.stderr)
        return 2
    to_file = bool(args.output and args.output != "-")
    try:
        with open(args.output, "wb") if to_file else _stdout() as raw:
            counter = TraceCounter(raw)
            with Progress(sys.stderr, counter) as progress:
                failure, dmesg = trace_run(args.target, args.params, counter,  # type: ignore[arg-type]
                                           tracer=args.tracer, config=config, progress=progress)
            counter.flush()
    except (RunError, OSError) as exc:
        if isinstance(exc, BrokenPipeError) or isinstance(exc.__cause__, BrokenPipeError):
            # The reader went away (| head): stop quietly, as cat does.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        print(f"ftrace-mmio run: {exc}", file=sys.stderr)
        return 1
    if args.dmesg:
        sys.stderr.write(dmesg)
    where = args.output if to_file else "stdout"
    print(f"ftrace-mmio run: {counter.summary()} written to {where}", file=sys.stderr)
    if failure is not None:
        print(f"ftrace-mmio run: {failure}", file=sys.stderr)
        return 1
    return 0


class _stdout:
    """stdout's byte stream, not closed afterwards."""

    def __enter__(self) -> BinaryIO:
        return sys.stdout.buffer

    def __exit__(self, *exc: object) -> None:
        sys.stdout.flush()


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "run", help="trace one driver load and unload, in process (no mount)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Boot the machine (the built-in one, or --machine FILE), select the tracer, "
                    "read trace_pipe while the driver is loaded and unloaded, and write exactly "
                    "the bytes `cat trace_pipe` would have read (VERSION, PCIDEV, events). Then say "
                    "on stderr where the trace went and how many events it holds. Exits 1 with the "
                    "reason if the driver fails; the trace up to that point is still written.",
        epilog="examples:\n"
               "  ftrace-mmio run testmmiotrace mmio_address=0xfd000000 -o t.txt\n"
               "  ftrace-mmio run ./my_driver.c --clock det --decoder pf_in --trace-pc\n"
               "  ftrace-mmio run nvlike --filter-offset 0xf6000000 | grep -c '^R '\n"
               "  ftrace-mmio run nvlike --machine docs/examples/two-nvlike.toml -o t.txt\n"
               "  ftrace-mmio run nvlike --replay nvlike.txt   # against recorded hardware",
    )
    p.add_argument("target", metavar="NAME|FILE", help="a bundled driver's name, a .c file or a .o file")
    p.add_argument("params", nargs="*", metavar="param=value", help="module parameters")
    p.add_argument("--tracer", choices=["mmiotrace", "nop"], default="mmiotrace",
                   help="the tracer to select (default mmiotrace)")
    p.add_argument("--clock", default=None, metavar="NAME",
                   help="trace clock: local (default), mono, counter, det (deterministic: "
                        "the same bytes on every run) ...")
    p.add_argument("--buffer-size-kb", type=positive_int, default=None, metavar="N",
                   help="per-CPU ring buffer size (default 1408)")
    p.add_argument("--cpus", type=positive_int, default=None, metavar="N",
                   help="CPUs of the trace array (default 2)")
    add_machine_argument(p)
    add_budget_argument(p)
    p.add_argument("-o", "--output", metavar="FILE", help="write the trace here (default stdout)")
    p.add_argument("--dmesg", action="store_true", help="print the kernel log to stderr afterwards")
    p.add_argument("--replay", metavar="DUMP", default=None,
                   help="run against the hardware recorded in DUMP (reads return the recorded values, "
                        "writes are checked); report the first divergence, exit 1 if there is one")
    add_mmiotrace_arguments(p)
    p.set_defaults(func=cmd_run)
