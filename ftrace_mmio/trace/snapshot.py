"""The trace file: a non-consuming view, fixed when it is taken.

The header and every line are generated lazily from a ring-buffer snapshot,
so opening a large buffer costs little until it is read. ``LOST`` lines never
appear here; ``##### CPU n buffer started ####`` does, before the first line
of each CPU when the buffer had overruns (option ``annotate``), except on the
first two entries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from .output import LineFormat, default_header
from .pipe import bulk_lines, encode

if TYPE_CHECKING:
    from .array import TraceArray


class TraceText:
    """The text of ``trace`` (all CPUs) or ``per_cpu/cpuN/trace`` (``cpu``)."""

    def __init__(self, array: TraceArray, cpu: int | None = None) -> None:
        self.array = array
        self.cpu = cpu
        self.snapshot = array.buffer.snapshot(None if cpu is None else (cpu,))
        self.tracer = array.tracer
        self.options = dict(array.options)
        self.in_ns = array.clock_in_ns
        self.online_cpus = array.online_cpus
        self.cmdlines = dict(array.saved_cmdlines)

    def header(self) -> str:
        snap = self.snapshot
        written = snap.entries + snap.overrun
        head = f"# tracer: {self.tracer.name}\n#\n"
        own = self.tracer.print_header(snap.entries, written)
        if own is not None:
            return head + own
        return head + default_header(self.options, snap.entries, written, self.online_cpus)

    def lines(self) -> Iterator[str]:
        yield self.header()
        tracer = self.tracer
        fmt = LineFormat.from_options(self.options, self.in_ns)
        cmdlines = self.cmdlines
        annotate = self.options["annotate"] and self.snapshot.overrun > 0
        started: set[int] = set()
        for idx, entry in enumerate(self.snapshot):
            text = tracer.print_line(entry)
            if text is None:
                if annotate and entry.cpu not in started:
                    started.add(entry.cpu)
                    if idx > 1:
                        yield f"##### CPU {entry.cpu} buffer started ####\n"
                text = fmt.line(entry, cmdlines)
            yield text

    def chunks(self, batch: int = 256) -> Iterator[bytes]:
        """The text as bytes, a batch of lines at a time."""
        fmt = LineFormat.from_options(self.options, self.in_ns)
        bulk = bulk_lines(self.tracer, fmt, self.cmdlines)
        annotate = self.options["annotate"] and self.snapshot.overrun > 0
        if bulk is not None and not annotate:
            # Runs of lines come formatted from the binary pages; the other
            # entries one by one, as lines() does.
            yield encode(self.header())
            tracer = self.tracer
            cmdlines = self.cmdlines
            for block in self.snapshot.blocks(bulk):
                if isinstance(block, bytes):
                    yield block
                    continue
                text = tracer.print_line(block)
                if text is None:
                    text = fmt.line(block, cmdlines)
                if text:
                    yield encode(text)
            return
        pending: list[str] = []
        for line in self.lines():
            pending.append(line)
            if len(pending) >= batch:
                yield encode("".join(pending))
                pending.clear()
        if pending:
            yield encode("".join(pending))

    def text(self) -> str:
        return "".join(self.lines())
