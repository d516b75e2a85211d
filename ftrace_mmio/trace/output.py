"""Text output: timestamps, the context columns of a line, the trace header.

These are the kernel's formats (trace_output.c and the header printers in
trace.c); every space matters, because tools parse them by column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .entries import TRACE_PRINT, Entry

# trace_pipe formats whole lines into a buffer of this many bytes (two pages
# minus the bookkeeping of struct trace_seq) and one byte stays unused, so a
# read returns at most TRACE_SEQ_BUFFER_SIZE - 1 bytes.
TRACE_SEQ_BUFFER_SIZE = 8156
PIPE_READ_MAX = TRACE_SEQ_BUFFER_SIZE - 1

LINE_TOO_BIG = "[LINE TOO BIG]\n"


def ns_to_sec_usec(ns: int) -> tuple[int, int]:
    """Seconds and microseconds of a nanosecond time, rounded to the nearest µs."""
    us = (ns + 500) // 1000
    return us // 1_000_000, us % 1_000_000


def format_ts(ts: int, in_ns: bool) -> str:
    """A timestamp as the trace line and stats show it: ``%5lu.%06lu`` or raw ``%12llu``."""
    if in_ns:
        sec, usec = ns_to_sec_usec(ts)
        return f"{sec:5d}.{usec:06d}"
    return f"{ts:12d}"


def format_stats_ts(ts: int, in_ns: bool) -> str:
    if in_ns:
        sec, usec = ns_to_sec_usec(ts)
        return f"{sec:5d}.{usec:06d}"
    return f"{ts}"


def comm_for(pid: int, cmdlines: Mapping[int, str]) -> str:
    if pid == 0:
        return "<idle>"
    return cmdlines.get(pid, "<...>")


@dataclass(frozen=True)
class LineFormat:
    """The output options that shape a default-format line, fixed per reader."""

    in_ns: bool = True
    context_info: bool = True
    irq_info: bool = True
    record_tgid: bool = False
    msg_only: bool = False  # trace_printk + printk-msg-only

    @classmethod
    def from_options(cls, options: Mapping[str, bool], in_ns: bool) -> LineFormat:
        return cls(
            in_ns=in_ns,
            context_info=options["context-info"],
            irq_info=options["irq-info"],
            record_tgid=options["record-tgid"],
            msg_only=options["trace_printk"] and options["printk-msg-only"],
        )

    def context(self, entry: Entry, cmdlines: Mapping[int, str]) -> str:
        """``comm-pid [cpu] flags timestamp: `` — or nothing without context-info."""
        if not self.context_info:
            return ""
        pid = entry.pid
        parts = [f"{comm_for(pid, cmdlines):>16}-{pid:<7d} "]
        if self.record_tgid:
            parts.append("(-------) ")
        parts.append(f"[{entry.cpu:03d}] ")
        if self.irq_info:
            parts.append(entry.flags)
        parts.append(" ")
        parts.append(format_ts(entry.ts, self.in_ns))
        parts.append(": ")
        return "".join(parts)

    def line(self, entry: Entry, cmdlines: Mapping[int, str]) -> str:
        """The default (tracer-independent) line for ``entry``."""
        if self.msg_only and entry.type == TRACE_PRINT:
            return entry.message()  # type: ignore[attr-defined]
        return self.context(entry, cmdlines) + entry.format()


def event_info(entries: int, written: int, online_cpus: int) -> str:
    return f"# entries-in-buffer/entries-written: {entries}/{written}   #P:{online_cpus}\n#\n"


def func_help_header(tgid: bool) -> str:
    """The two column-title lines when irq-info is off."""
    return (
        f"#           TASK-PID    {'   TGID   ' if tgid else ''} CPU#     TIMESTAMP  FUNCTION\n"
        f"#              | |      {'     |    ' if tgid else ''}   |         |         |\n"
    )


def func_help_header_irq(tgid: bool) -> str:
    """The legend of the five flag columns, then the column titles."""
    pad = "            " if tgid else "  "
    tgid_title = "     TGID   " if tgid else "  "
    tgid_bar = "       |    " if tgid else "  "
    lead = "#                            "
    return (
        f"{lead}{pad}  _-----=> irqs-off/BH-disabled\n"
        f"{lead}{pad} / _----=> need-resched\n"
        f"{lead}{pad}| / _---=> hardirq/softirq\n"
        f"{lead}{pad}|| / _--=> preempt-depth\n"
        f"{lead}{pad}||| / _-=> migrate-disable\n"
        f"{lead}{pad}|||| /     delay\n"
        f"#           TASK-PID  {tgid_title} CPU#  |||||  TIMESTAMP  FUNCTION\n"
        f"#              | |    {tgid_bar}   |   |||||     |         |\n"
    )


def default_header(
    options: Mapping[str, bool], entries: int, written: int, online_cpus: int
) -> str:
    """What follows ``# tracer: NAME`` and ``#`` when the tracer has no header of its own."""
    if not options["context-info"] or options["verbose"]:
        return ""
    tgid = options["record-tgid"]
    help_lines = func_help_header_irq(tgid) if options["irq-info"] else func_help_header(tgid)
    return event_info(entries, written, online_cpus) + help_lines


# -- lines formatted straight from the binary pages --------------------------------------


class MmioLines:
    """mmiotrace's lines for runs of mmiotrace_rw / mmiotrace_map events
    (rbnative.format_mmio): what its ``print_line`` gives, many per call."""

    def __init__(self) -> None:
        from .rbnative import KpFormat

        self.f = KpFormat()

    def __call__(self, data: bytearray, cpu: int) -> bytes:
        from .rbnative import format_mmio

        return format_mmio(data, self.f)


class PrintLines:
    """The default line of ``print`` records (markers, trace_printk) for runs
    of one pid (rbnative.format_print): what :meth:`LineFormat.line` gives,
    many per call. Only for the default options (see :meth:`for_format`)."""

    def __init__(self, in_ns: bool, cmdlines: Mapping[int, str]) -> None:
        from .page import TRACING_MARK_WRITE_IP
        from .rbnative import KpPrint

        self.pp = KpPrint()
        self.pp.in_ns = int(in_ns)
        self.pp.mark_ip = TRACING_MARK_WRITE_IP
        self.f = self.pp.f
        self.cmdlines = cmdlines
        self._comms: dict[int, bytes | None] = {}

    @classmethod
    def for_format(cls, fmt: LineFormat, cmdlines: Mapping[int, str]) -> PrintLines | None:
        """One for ``fmt`` when its lines are the plain default ones, else None."""
        if not fmt.context_info or not fmt.irq_info or fmt.record_tgid or fmt.msg_only:
            return None
        return cls(fmt.in_ns, cmdlines)

    def _comm(self, pid: int) -> bytes | None:
        comm = self._comms.get(pid, b"")
        if comm == b"":
            text = comm_for(pid, self.cmdlines)
            comm = text.encode() if text.isascii() else None
            self._comms[pid] = comm
        return comm

    def __call__(self, data: bytearray, cpu: int) -> bytes:
        from .rbnative import format_print, pid_at

        f = self.f
        pid = pid_at(data, f.off, f.end)
        comm = None if pid is None else self._comm(pid)
        if comm is None:
            f.events = f.full = 0
            return b""
        self.pp.pid = pid & 0xFFFFFFFF
        self.pp.cpu = cpu
        return format_print(data, self.pp, comm)
