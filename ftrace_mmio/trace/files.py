"""The control files of the tracing directory, over a TraceArray.

``build_tree(array)`` returns the whole tree as ``tracefs.nodes`` objects;
the FUSE and pyfakefs adapters serve it. Each file here does what the
kernel's does with the same bytes: parsing (``parse_ulong`` is kstrtoul),
modes, errno, offsets. Rules shared by all of them:

* Reads of small files serve text built when reading from offset 0, so
  ``pread`` at any offset works and reading past the end gives nothing.
* Writes ignore the offset: every ``write()`` is a whole new value.
* Truncation (O_TRUNC) clears the buffer on ``trace`` files and is accepted
  and ignored everywhere else.
* A file without a read (write) method answers EINVAL to read (write).
"""

from __future__ import annotations

import errno
import os
from typing import Callable

from tracefs.nodes import Dir, File, Handle, Request

from .array import CLOCK_NAMES, PID_MAX_DEFAULT, TraceArray
from .formats import FTRACE_BY_NAME, HEADER_EVENT, HEADER_PAGE, FtraceEvent
from .options import CORE_OPTION_NAMES
from .pipe import PipeReader, encode
from .snapshot import TraceText
from .tracer import Tracer, registered_tracers, tracer_names

# Modes, as the kernel creates them.
RO = 0o440
RW = 0o640
WO_MARKER = 0o220
WO_FREE = 0o200
DIR_MODE = 0o750
TOP_MODE = 0o700
EVENTS_MODE = 0o750

_SPACE = b" \t\n\v\f\r"
_HEX = frozenset(b"0123456789abcdefABCDEF")
# kstrtoul_from_user copies at most this many bytes.
_ULONG_INPUT_MAX = 66
# current_tracer reads at most this many bytes of a write.
MAX_TRACER_SIZE = 100
# trace_clock and trace_options refuse writes this long or longer.
OPTION_WRITE_MAX = 64


def _einval(what: str) -> OSError:
    return OSError(errno.EINVAL, what)


def parse_ulong(data: bytes) -> int:
    """The kernel's kstrtoul for a write: decimal, optional '+', one trailing newline.

    Empty, blanks, signs, hex or junk give EINVAL; more than 64 bits ERANGE.
    The text ends at a NUL, as a C string does.
    """
    buf = data[:_ULONG_INPUT_MAX]
    nul = buf.find(b"\0")
    if nul >= 0:
        buf = buf[:nul]
    if buf.startswith(b"+"):
        buf = buf[1:]
    n = 0
    while n < len(buf) and 0x30 <= buf[n] <= 0x39:
        n += 1
    if n == 0:
        raise _einval("not a number")
    value = int(buf[:n])
    if value >> 64:
        raise OSError(errno.ERANGE, "number too large")
    if buf[n:] not in (b"", b"\n"):
        raise _einval("junk after number")
    return value


def parse_bool(data: bytes) -> bool:
    """0 or 1, with the integer rules; anything else EINVAL."""
    value = parse_ulong(data)
    if value > 1:
        raise _einval("value must be 0 or 1")
    return bool(value)


def c_string(data: bytes) -> bytes:
    nul = data.find(b"\0")
    return data if nul < 0 else data[:nul]


def parse_word(data: bytes, limit: int | None = OPTION_WRITE_MAX) -> str:
    """A name written to trace_clock/trace_options: under ``limit`` bytes, blanks stripped."""
    if limit is not None and len(data) >= limit:
        raise _einval("value too long")
    return c_string(data).strip(_SPACE).decode("utf-8", "surrogateescape")


def parse_cpumask(data: bytes) -> int:
    """Comma-separated groups of up to 8 hex digits (32 bits each), top group first."""
    text = c_string(data).strip(_SPACE)
    if not text:
        raise _einval("empty CPU mask")
    mask = 0
    for group in text.split(b","):
        group = group.strip(_SPACE)
        if len(group) > 8:
            raise OSError(errno.EOVERFLOW, "CPU mask group wider than 32 bits")
        if not all(c in _HEX for c in group):
            raise _einval("CPU mask is not hex")
        mask = (mask << 32) | (int(group, 16) if group else 0)
    return mask


# -- handles ---------------------------------------------------------------------


class ValueHandle(Handle):
    """A small control file: text from ``show``, writes parsed by ``store``."""

    def __init__(
        self,
        show: Callable[[], str] | None,
        store: Callable[[bytes], None] | None,
    ) -> None:
        self._show = show
        self._store = store
        self._data: bytes | None = None

    def read(self, size: int, offset: int, req: Request) -> bytes:
        if self._show is None:
            raise _einval("file has no read method")
        if offset == 0 or self._data is None:
            self._data = encode(self._show())
        return self._data[offset : offset + size]

    def write(self, data: bytes, offset: int, req: Request) -> int:
        if self._store is None:
            raise _einval("file has no write method")
        self._store(bytes(data))
        return len(data)


def value_file(
    name: str,
    perm: int,
    show: Callable[[], str] | None = None,
    store: Callable[[bytes], None] | None = None,
) -> File:
    return File(name, perm, lambda req: ValueHandle(show, store))


class TraceHandle(Handle):
    """The trace file: a snapshot at open, text generated as it is read.

    Reading again from offset 0 takes a fresh snapshot (seq_file restarts
    the iterator); a backwards read elsewhere regenerates the same one.
    """

    def __init__(self, array: TraceArray, cpu: int | None, req: Request) -> None:
        self.array = array
        self.cpu = cpu
        self.readable = req.readable
        self._paused = False
        self._text: TraceText | None = None
        if self.readable:
            if array.options["pause-on-trace"]:
                array.pause()
                self._paused = True
            self._text = TraceText(array, cpu)
        self._restart()
        self._read_any = False

    def _restart(self) -> None:
        self._chunks = self._text.chunks() if self._text is not None else iter(())
        self._buf = bytearray()
        self._base = 0
        self._done = False

    def read(self, size: int, offset: int, req: Request) -> bytes:
        if self._text is None:
            raise OSError(errno.EBADF, "trace not open for reading")
        if offset == 0 and self._read_any:
            self._text = TraceText(self.array, self.cpu)
            self._restart()
        elif offset < self._base:
            self._restart()
        self._read_any = True
        want = offset + size
        while not self._done and self._base + len(self._buf) < want:
            chunk = next(self._chunks, None)
            if chunk is None:
                self._done = True
            else:
                self._buf += chunk
        start = offset - self._base
        data = bytes(self._buf[start : start + size])
        # Sequential readers never look back: keep only from here on.
        del self._buf[: max(0, start)]
        self._base = max(self._base, offset)
        return data

    def write(self, data: bytes, offset: int, req: Request) -> int:
        return len(data)  # accepted and ignored; clearing is O_TRUNC's job

    def seek_end(self) -> int:
        if self.readable:
            raise _einval("trace cannot seek from the end")
        return 0

    def release(self) -> None:
        if self._paused:
            self._paused = False
            self.array.resume()


class PipeHandle(Handle):
    """trace_pipe: consuming, blocking, no position."""

    stream = True

    def __init__(self, pipe: PipeReader) -> None:
        self.pipe = pipe

    def read(self, size: int, offset: int, req: Request) -> bytes:
        return self.pipe.read(size, req.nonblock, req.interrupted)

    def poll(self) -> bool:
        return self.pipe.poll()

    def release(self) -> None:
        self.pipe.close()


class RawPipeHandle(Handle):
    """per_cpu/cpuN/trace_pipe_raw: the CPU's pages in the kernel's binary format.

    As the kernel's (tracing_buffers_read): each open keeps one spare page and
    how far it has been read. A read first hands out what is left of that
    page; once it is used up, it takes the next page (consuming its events;
    a page the writer is still on is copied as far as written, so nothing
    waits for a page to fill), and returns at most one page. So reads of
    4096 or more return exactly one page, smaller reads return a page in
    consecutive pieces. With nothing buffered a read waits for an event, or
    fails with EAGAIN under O_NONBLOCK; a signal ends the wait with EINTR.

    One difference: the kernel fills the page of a small first read only
    with the events that fit in that read; here the page always holds all it
    can, and the later pieces carry the rest (same bytes as a 4096 read).
    """

    stream = True

    def __init__(self, array: TraceArray, cpu: int) -> None:
        self.array = array
        self.cpu = cpu
        self._open = True
        self._spare = b""
        self._read = 0
        array.raw_opened()

    def _next_page(self, nonblock: bool, interrupted: Callable[[], bool]) -> bytes:
        buffer = self.array.buffer
        while True:
            page = buffer.read_page(self.cpu, False)
            if page is not None:
                return page
            if not buffer.empty((self.cpu,)):
                return b""   # the kernel's "not empty, nothing to read": an empty read
            if nonblock:
                raise OSError(errno.EAGAIN, "no data")
            if interrupted() or not self._open:
                raise OSError(errno.EINTR, "interrupted")
            buffer.wait((self.cpu,), RAW_WAIT_SLICE)

    def read(self, size: int, offset: int, req: Request) -> bytes:
        if size <= 0:
            return b""
        if self._read >= len(self._spare):
            page = self._next_page(req.nonblock, req.interrupted)
            if not page:
                return b""
            self._spare, self._read = page, 0
        data = self._spare[self._read : self._read + size]
        self._read += len(data)
        return data

    def poll(self) -> bool:
        return self._read < len(self._spare) or not self.array.buffer.empty((self.cpu,))

    def release(self) -> None:
        if self._open:
            self._open = False
            self.array.raw_closed()


# How often a blocked trace_pipe_raw read looks for a signal.
RAW_WAIT_SLICE = 0.05


class MarkerHandle(Handle):
    """trace_marker: each write() is one entry on ``array.marker_cpu`` (see docs)."""

    stream = True

    def __init__(self, array: TraceArray) -> None:
        self.array = array

    def write(self, data: bytes, offset: int, req: Request) -> int:
        return self.array.write_marker(bytes(data), pid=req.pid, cpu=marker_cpu(self.array))


def marker_cpu(array: TraceArray) -> int:
    """The CPU a marker lands on: ``array.marker_cpu``, or the serving thread's CPU if None."""
    cpu = array.marker_cpu
    if cpu is None:
        try:
            return os.sched_getcpu() % array.nr_cpus
        except (AttributeError, OSError):
            return 0
    return cpu % array.nr_cpus


class MarkerRawHandle(Handle):
    """trace_marker_raw: each write() is one raw_data entry: a 4-byte id, then binary data."""

    stream = True

    def __init__(self, array: TraceArray) -> None:
        self.array = array

    def write(self, data: bytes, offset: int, req: Request) -> int:
        return self.array.write_marker_raw(bytes(data), pid=req.pid, cpu=marker_cpu(self.array))


class FreeBufferHandle(Handle):
    """free_buffer: writes are accepted; closing shrinks the buffer to its minimum."""

    def __init__(self, array: TraceArray) -> None:
        self.array = array
        self._released = False

    def write(self, data: bytes, offset: int, req: Request) -> int:
        return len(data)

    def release(self) -> None:
        if not self._released:
            self._released = True
            self.array.free_buffer()


# -- option directory --------------------------------------------------------------


class OptionsDir(Dir):
    """options/: every core option, plus the options of every registered tracer.

    Computed on each lookup, so tracers registered after the tree was built
    (mmiotrace, on import) show up too.
    """

    def __init__(self, array: TraceArray) -> None:
        super().__init__("options", DIR_MODE)
        self._array = array
        self._nodes: dict[tuple[str, str], File] = {}

    @property  # type: ignore[override]
    def children(self) -> dict[str, File]:
        out: dict[str, File] = {}
        for name in CORE_OPTION_NAMES:
            out[name] = self._node("", name)
        for cls in reversed(registered_tracers()):
            for name in cls.options:
                out.setdefault(name, self._node(cls.name, name))
        return out

    @children.setter
    def children(self, value: dict) -> None:
        pass  # fixed by the registry

    def _node(self, owner: str, name: str) -> File:
        key = (owner, name)
        node = self._nodes.get(key)
        if node is None:
            node = self._make(owner, name)
            self._nodes[key] = node
        return node

    def _make(self, owner: str, name: str) -> File:
        array = self._array
        if not owner:
            return value_file(
                name, RW,
                show=lambda: "1\n" if array.options[name] else "0\n",
                store=lambda data: array.set_option(name, parse_bool(data)),
            )

        def tracer() -> Tracer:
            for cls in registered_tracers():
                if cls.name == owner:
                    return array.tracer_instance(cls)
            raise OSError(errno.ENODEV, f"tracer {owner} is gone")

        return value_file(
            name, RW,
            show=lambda: "1\n" if tracer().option_values[name] else "0\n",
            store=lambda data: array.set_tracer_option(tracer(), name, parse_bool(data)),
        )


# -- the tree ----------------------------------------------------------------------


README = """\
ftrace-mmio tracing mini-HOWTO:

This directory imitates the kernel's tracefs (/sys/kernel/tracing) for a
machine emulated by ftrace-mmio. Files are read with cat and changed with
echo; every write replaces the whole value.

 README              - this text
 available_tracers   - the tracers you can choose
 current_tracer      - the tracer in use; write a name to switch
                       (refused with EBUSY while a trace_pipe is open)
 tracing_on          - 1: recording, 0: not. Data already recorded stays.
 trace               - what is in the buffer, with a header; reading does
                       not consume. "echo > trace" empties the buffer.
 trace_pipe          - the same lines without header, consumed as they are
                       read; a read waits for data. Only one reader.
 trace_marker        - write text here to put it in the trace
 trace_marker_raw    - write a 4-byte id and binary data (one raw_data event)
 buffer_size_kb      - buffer size per CPU in KB; "(expanded: N)" means
                       it is still at its boot minimum and grows to N
                       when a tracer is first set
 buffer_total_size_kb - the sum over all CPUs
 buffer_subbuf_size_kb - size of one buffer page (the largest event)
 buffer_percent      - kept for tools; it has no effect here
 trace_clock         - the clock of the timestamps; [brackets] mark the
                       one in use. "det" is a deterministic clock that
                       makes runs repeatable. Changing it empties the buffer.
 trace_options       - options, "no" in front when off; write NAME or
                       noNAME to change one
 options/            - the same options, one file each (0 or 1)
 tracing_cpumask     - hex mask of the CPUs that record
 tracing_thresh      - kept for tools; it has no effect here
 timestamp_mode      - delta timestamps only
 free_buffer         - closing this file shrinks the buffer to its minimum
 saved_cmdlines      - known task names (none are recorded here)
 saved_cmdlines_size - how many names would be kept
 saved_tgids         - known thread groups (none)
 printk_formats      - trace_printk formats of binary records (none here)
 available_events    - events that can be enabled (none here)
 events/header_page, events/header_event, events/ftrace/*/format
                     - how the binary pages of trace_pipe_raw are laid out
 set_event           - there are no trace events to enable here; patterns
                       that match nothing are accepted
 error_log           - always empty
 dynamic_events, uprobe_events - no probes can be created here
 instances/          - extra trace instances are not supported
 per_cpu/cpuN/       - trace, trace_pipe, stats and buffer_size_kb of one CPU

  Example, tracing MMIO of a driver:
   echo mmiotrace > current_tracer
   cat trace_pipe > dump.txt &
   echo "driver loaded" > trace_marker
   kill %1; echo nop > current_tracer
"""


def _store_current_tracer(array: TraceArray) -> Callable[[bytes], None]:
    def store(data: bytes) -> None:
        name = c_string(data[:MAX_TRACER_SIZE]).strip(_SPACE).decode("utf-8", "surrogateescape")
        array.set_tracer(name)

    return store


def _store_clock(array: TraceArray) -> Callable[[bytes], None]:
    def store(data: bytes) -> None:
        name = parse_word(data)
        if name not in CLOCK_NAMES:
            raise _einval(f"no trace clock {name!r}")
        array.set_clock(name)

    return store


def _store_set_event(array: TraceArray) -> Callable[[bytes], None]:
    def store(data: bytes) -> None:
        if not data:
            return
        array.expand()
        for token in c_string(data).split():
            pattern = token.lstrip(b"!")
            if pattern and b"*" not in pattern:
                raise _einval(f"no event {pattern.decode(errors='replace')!r}")

    return store


def _store_events_enable(array: TraceArray) -> Callable[[bytes], None]:
    def store(data: bytes) -> None:
        parse_bool(data)
        array.expand()  # there are no events to switch

    return store


def _store_probes(data: bytes) -> None:
    for line in c_string(data).splitlines():
        line = line.strip(_SPACE)
        if line and not line.startswith(b"#"):
            raise _einval("probes cannot be created here")


def _store_cmdlines_size(array: TraceArray) -> Callable[[bytes], None]:
    def store(data: bytes) -> None:
        value = parse_ulong(data)
        if not 1 <= value <= PID_MAX_DEFAULT:
            raise _einval("saved_cmdlines_size out of range")
        array.saved_cmdlines_size = value

    return store


def _store_thresh(array: TraceArray) -> Callable[[bytes], None]:
    def store(data: bytes) -> None:
        array.tracing_thresh = parse_ulong(data)

    return store


def _store_percent(array: TraceArray) -> Callable[[bytes], None]:
    def store(data: bytes) -> None:
        value = parse_ulong(data)
        if value > 100:
            raise _einval("buffer_percent is 0..100")
        array.buffer_percent = value

    return store


def _trace_file(array: TraceArray, cpu: int | None) -> File:
    return File(
        "trace", RW,
        lambda req: TraceHandle(array, cpu, req),
        truncate=lambda req: array.clear(cpu),
    )


def _pipe_file(array: TraceArray, cpu: int | None) -> File:
    return File("trace_pipe", RO, lambda req: PipeHandle(array.open_pipe(cpu)))


def _per_cpu_dir(array: TraceArray, cpu: int) -> Dir:
    d = Dir(f"cpu{cpu}", DIR_MODE)
    d.add(_trace_file(array, cpu))
    d.add(_pipe_file(array, cpu))
    d.add(File("trace_pipe_raw", RO, lambda req: RawPipeHandle(array, cpu)))
    d.add(value_file("stats", RO, show=lambda: array.stats_text(cpu)))
    d.add(value_file(
        "buffer_size_kb", RW,
        show=lambda: array.buffer_size_text(cpu),
        store=lambda data: array.resize_kb(parse_ulong(data), cpu),
    ))
    return d


# What reading a trigger file shows while no trigger is set.
TRIGGER_HELP = (
    "# Available triggers:\n"
    "# traceon traceoff snapshot stacktrace enable_event disable_event enable_hist disable_hist hist\n"
)


def _store_trigger(data: bytes) -> None:
    for line in c_string(data).splitlines():
        line = line.strip(_SPACE)
        if line and not line.startswith(b"#"):
            raise _einval("triggers cannot be set here")


def _ftrace_event_dir(event: FtraceEvent) -> Dir:
    """events/ftrace/<name>/: the record's format (what trace-cmd decodes pages with)."""
    d = Dir(event.name, DIR_MODE)
    d.add(value_file("format", RO, show=lambda: event.format))
    d.add(value_file("hist", RO, show=lambda: ""))
    if event.has_id_file:
        d.add(value_file("id", RO, show=lambda: f"{event.id}\n"))
    if event.name == "print":
        d.add(value_file("trigger", RW, show=lambda: TRIGGER_HELP, store=_store_trigger))
    return d


def _events_dir(array: TraceArray) -> Dir:
    """events/: the page and event header descriptions and the ftrace record types.

    There are no tracepoints here, so ftrace/ is the only system; as in the
    kernel it has no enable or filter file (its records cannot be switched).
    """
    events = Dir("events", EVENTS_MODE)
    events.add(value_file("enable", RW, show=lambda: "0\n", store=_store_events_enable(array)))
    events.add(value_file("header_page", RO, show=lambda: HEADER_PAGE))
    events.add(value_file("header_event", RO, show=lambda: HEADER_EVENT))
    ftrace = Dir("ftrace", DIR_MODE)
    for event in FTRACE_BY_NAME.values():
        ftrace.add(_ftrace_event_dir(event))
    events.add(ftrace)
    return events


def build_tree(array: TraceArray) -> Dir:
    """The whole tracing directory for ``array``."""
    root = Dir("", TOP_MODE)
    add = root.add

    add(value_file("README", RO, show=lambda: README))
    add(value_file("available_tracers", RO, show=lambda: " ".join(tracer_names()) + "\n"))
    add(value_file(
        "current_tracer", RW,
        show=lambda: f"{array.tracer.name}\n",
        store=_store_current_tracer(array),
    ))
    add(value_file(
        "tracing_on", RW,
        show=lambda: "1\n" if array.tracing_on else "0\n",
        store=lambda data: array.set_tracing_on(parse_ulong(data) != 0),
    ))
    add(_trace_file(array, None))
    add(_pipe_file(array, None))
    add(File("trace_marker", WO_MARKER, lambda req: MarkerHandle(array)))
    add(File("trace_marker_raw", WO_MARKER, lambda req: MarkerRawHandle(array)))
    add(value_file(
        "buffer_size_kb", RW,
        show=lambda: array.buffer_size_text(),
        store=lambda data: array.resize_kb(parse_ulong(data)),
    ))
    add(value_file("buffer_total_size_kb", RO, show=array.buffer_total_size_text))
    add(value_file(
        "buffer_subbuf_size_kb", RW,
        show=lambda: f"{array.subbuf_size_kb}\n",
        store=lambda data: array.set_subbuf_size_kb(parse_ulong(data)),
    ))
    add(value_file(
        "buffer_percent", RW,
        show=lambda: f"{array.buffer_percent}\n",
        store=_store_percent(array),
    ))
    add(value_file("trace_clock", RW, show=array.clock_line, store=_store_clock(array)))
    add(value_file(
        "trace_options", RW,
        show=array.options_text,
        store=lambda data: array.apply_trace_option(parse_word(data)),
    ))
    add(OptionsDir(array))
    add(value_file(
        "tracing_cpumask", RW,
        show=array.cpumask_text,
        store=lambda data: array.set_cpumask(parse_cpumask(data)),
    ))
    add(value_file(
        "tracing_thresh", RW,
        show=lambda: f"{array.tracing_thresh}\n",
        store=_store_thresh(array),
    ))
    add(value_file("timestamp_mode", RO, show=lambda: "[delta] absolute\n"))
    add(File("free_buffer", WO_FREE, lambda req: FreeBufferHandle(array)))
    add(value_file(
        "saved_cmdlines", RO,
        show=lambda: "".join(f"{pid} {comm}\n" for pid, comm in array.saved_cmdlines.items()),
    ))
    add(value_file(
        "saved_cmdlines_size", RW,
        show=lambda: f"{array.saved_cmdlines_size}\n",
        store=_store_cmdlines_size(array),
    ))
    add(value_file("saved_tgids", RO, show=lambda: ""))
    # trace_printk formats the kernel keeps for bprint records; our printk
    # stores text (print records), so there are none. trace-cmd copies it.
    add(value_file("printk_formats", RO, show=lambda: ""))
    # Trace events that can be enabled: none (the ftrace records cannot be).
    add(value_file("available_events", RO, show=lambda: ""))
    add(value_file("set_event", RW, show=lambda: "", store=_store_set_event(array)))
    add(value_file("error_log", RW, show=lambda: "", store=lambda data: None))
    add(value_file("dynamic_events", RW, show=lambda: "", store=_store_probes))
    add(value_file("uprobe_events", RW, show=lambda: "", store=_store_probes))

    add(_events_dir(array))
    add(Dir("instances", DIR_MODE))

    per_cpu = Dir("per_cpu", DIR_MODE)
    for cpu in range(array.nr_cpus):
        per_cpu.add(_per_cpu_dir(array, cpu))
    add(per_cpu)
    return root
