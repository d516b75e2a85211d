"""trace_pipe: the consuming reader and the kernel's read algorithm.

One ``read()`` does, in order:

1. Text left over from an earlier read (a short read, or text the tracer
   queued at open) is returned first, and nothing else.
2. The tracer's ``read`` hook may return text (mmiotrace: PCIDEV and Lost
   lines); then that text is the read.
3. Otherwise wait until an entry exists (EAGAIN with O_NONBLOCK), then format
   whole lines, consuming each entry whose line fits, until the requested
   size is reached or the next line would not fit the ~8 KB format buffer.
   What does not fit the caller's buffer is kept for the next read. The
   entries behind it are already consumed, as in the kernel.

A read never returns end-of-file: the kernel's pipe does not either, so
``cat trace_pipe`` ends only by signal.
"""

from __future__ import annotations

import errno
import threading
from typing import TYPE_CHECKING, Callable

from .output import LINE_TOO_BIG, PIPE_READ_MAX, TRACE_SEQ_BUFFER_SIZE, LineFormat, MmioLines, PrintLines
from .ring_buffer import Reader
from .tracer import Tracer

if TYPE_CHECKING:
    from .array import TraceArray

# Blocking readers wake up this often to notice a signal.
WAIT_SLICE = 0.05


def _never() -> bool:
    return False


def bulk_lines(tracer: object, fmt: LineFormat, cmdlines) -> MmioLines | PrintLines | None:
    """The formatter of lines straight from the pages for ``tracer``, if any:
    mmiotrace's own lines, or the default line of print records for a
    tracer that prints entries the default way (nop)."""
    if getattr(tracer, "binary_lines", False):
        return MmioLines()
    if type(tracer).print_line is Tracer.print_line:
        return PrintLines.for_format(fmt, cmdlines)
    return None


def encode(text: str) -> bytes:
    """Text to bytes for output: marker bytes that were not UTF-8 come back unchanged."""
    return text.encode("utf-8", "surrogateescape")


class PipeReader:
    """One open trace_pipe (top level or per CPU)."""

    def __init__(self, array: TraceArray, reader: Reader) -> None:
        self.array = array
        self.reader = reader
        self.cpus = reader.cpus
        self.tracer = array.tracer
        #: For the tracer's use (mmiotrace keeps its header state here).
        self.private: object = None
        self._leftover = b""
        # Reads of one open file are serialized, as the kernel's are.
        self._read_lock = threading.Lock()

    @property
    def closed(self) -> bool:
        return self.reader.closed

    def queue(self, text: str) -> None:
        """Text for the next read, ahead of everything else."""
        self._leftover += encode(text)

    def poll(self) -> bool:
        return bool(self._leftover) or not self.reader.empty()

    def read(
        self,
        size: int,
        nonblock: bool = False,
        interrupted: Callable[[], bool] = _never,
    ) -> bytes:
        if self.closed:
            raise OSError(errno.EBADF, "trace_pipe is closed")
        if size <= 0:
            return b""
        with self._read_lock:
            if self._leftover:
                return self._hand_out(self._leftover, size)
            text = self.tracer.read(self)
            if text:
                return self._hand_out(encode(text), size)
            cnt = min(size, PIPE_READ_MAX)
            while True:
                self._wait(nonblock, interrupted)
                out = self._format(cnt)
                if out:
                    return self._hand_out(out, cnt)
                # Everything consumed printed as nothing: wait for more.

    def _hand_out(self, data: bytes, size: int) -> bytes:
        self._leftover = data[size:]
        return data[:size]

    def _wait(self, nonblock: bool, interrupted: Callable[[], bool]) -> None:
        reader = self.reader
        while reader.empty():
            if nonblock:
                raise OSError(errno.EAGAIN, "trace_pipe is empty")
            if interrupted() or self.closed:
                raise OSError(errno.EINTR, "interrupted")
            reader.wait(WAIT_SLICE)

    def _format(self, cnt: int) -> bytes:
        array = self.array
        tracer = self.tracer
        fmt = LineFormat.from_options(array.options, array.clock_in_ns)
        cmdlines = array.saved_cmdlines
        reader = self.reader
        parts: list[bytes] = []
        used = 0
        # mmiotrace's lines come straight from the binary pages, many at a
        # time; what they cannot show (LOST reports, markers, other entries)
        # takes the per-entry path below, one entry, then the bulk path again.
        bulk = bulk_lines(tracer, fmt, cmdlines)
        while used < cnt:
            if bulk is not None:
                chunk, used, full = reader.format_lines(used, cnt, TRACE_SEQ_BUFFER_SIZE, bulk)
                parts += chunk
                if used >= cnt or full:
                    break
            item = reader.peek()
            if item is None:
                break
            cpu, entry, lost = item
            text = tracer.print_line(entry)
            if text is None:
                text = fmt.line(entry, cmdlines)
            if lost:
                text = f"CPU:{cpu} [LOST {lost} EVENTS]\n{text}"
            data = encode(text)
            if used + len(data) >= TRACE_SEQ_BUFFER_SIZE:
                if used:
                    break  # does not fit: it stays in the buffer for the next read
                # Not even alone: say so and drop it, or it would block the pipe.
                reader.consume(cpu, entry)
                parts.append(encode(LINE_TOO_BIG))
                break
            reader.consume(cpu, entry)
            parts.append(data)
            used += len(data)
        return b"".join(parts)

    def close(self) -> None:
        self.array._close_pipe(self)
