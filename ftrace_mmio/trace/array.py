"""TraceArray: the state behind the tracing directory.

One ring buffer, the current tracer, tracing_on, the trace clock, the
options, the CPU mask and the marker and printk entry points. The control
files in ``files.py`` are thin parsers over this class; tracers and the
machine use it directly (``commit``, ``trace_printk``).

Everything that may change the current tracer, or depends on it staying put
(opening a trace_pipe), holds ``lock``, the kernel's trace_types_lock. The
ring buffer has its own lock for the data path.
"""

from __future__ import annotations

import errno
import struct
import sys
import threading
from dataclasses import dataclass
import time
from typing import Callable, ClassVar

from . import nop
from .clock import TimeBase
from .entries import (
    MARKER_FLAGS,
    MARKER_META,
    NO_FLAGS,
    Entry,
    PrintEntry,
    event_size,
    marker_size,
    max_payload,
    printk_size,
)
from .page import data_len_for, lat_to_bits
from .options import CANNOT_CLEAR, CORE_OPTION_NAMES, default_options
from .output import format_stats_ts
from .pipe import PipeReader
from .ring_buffer import MIN_PAGES, SUBBUF_SIZE, RingBuffer, pages_for
from .tracer import Tracer, find_tracer

# The kernel's default buffer size per CPU (trace_buf_size): 1408 KB.
TRACE_BUF_SIZE_DEFAULT = 1441792
# trace_marker clamps writes to this before anything else.
TRACE_MARKER_MAX_SIZE = 4096
# enum trace_type: TRACE_RAW_DATA (events/ftrace/raw_data/format).
TRACE_RAW_DATA = 18
# trace_marker_raw: writes longer than this are refused, and cut to TRACE_BUF_SIZE.
RAW_DATA_MAX_SIZE = 3 * 1024
TRACE_BUF_SIZE = 1024
# The kernel reserves the entry (with its id) plus the whole write, id
# included again, and at least room for an id and "<faulted>" (9 bytes).
RAW_DATA_MIN_USER = 4 + 9
# struct raw_data_entry: trace_entry, then the id, then the bytes.
RAW_DATA_HEADER = 8 + 4
# trace_printk formats into a 1024-byte buffer; the last byte is the NUL.
TRACE_PRINTK_MAX = 1023
# What saved_cmdlines_size reads on the reference machine.
SAVED_CMDLINES_DEFAULT = 6552
PID_MAX_DEFAULT = 0x8000
# Refuse sizes no test or user could mean (the kernel would fail with ENOMEM).
MAX_PAGES_PER_CPU = 1 << 26

# Trace clocks in trace_clock order; ``det`` is ours, last.
CLOCK_NAMES: tuple[str, ...] = (
    "local", "global", "counter", "uptime", "perf", "mono", "mono_raw",
    "boot", "tai", "x86-tsc", "det",
)
# Clocks whose values are not nanoseconds print as raw 12-wide integers.
RAW_CLOCKS = frozenset({"counter", "uptime", "x86-tsc"})
# "uptime" counts jiffies; we pretend HZ=250.
_JIFFY_NS = 4_000_000


class TraceArray:
    """The tracing state of one machine."""

    def __init__(
        self,
        nr_cpus: int = 2,
        time_base: TimeBase | None = None,
        buffer_size_kb: int | None = None,
        clock: str = "local",
    ) -> None:
        if nr_cpus < 1:
            raise ValueError("nr_cpus must be at least 1")
        self.nr_cpus = nr_cpus
        self.time_base = time_base if time_base is not None else TimeBase()
        # Like the kernel's trace_buf_size: the size the buffer grows to when
        # it is first expanded. Until then each CPU has the 2-page minimum.
        self.default_size = (
            buffer_size_kb * 1024 if buffer_size_kb else TRACE_BUF_SIZE_DEFAULT
        )
        if self.default_size <= 0:
            raise ValueError("buffer_size_kb must be positive")
        self.expanded = False
        self.lock = threading.RLock()
        self.options: dict[str, bool] = default_options()
        self.buffer = RingBuffer(nr_cpus, MIN_PAGES, overwrite=self.options["overwrite"])
        self._tai_offset = time.clock_gettime_ns(time.CLOCK_TAI) - time.monotonic_ns()
        if clock not in CLOCK_NAMES:
            raise ValueError(f"unknown trace clock {clock!r}; one of {' '.join(CLOCK_NAMES)}")
        self.clock = ""
        self._clock_fn: Callable[[], int] = self.time_base.since_boot_ns
        self._owns_deterministic = False
        self._select_clock(clock)
        self._instances: dict[str, Tracer] = {}
        self.tracer: Tracer = self.tracer_instance(nop.NopTracer)
        self._online = nr_cpus
        self._cpumask = (1 << nr_cpus) - 1
        self._pipes: set[PipeReader] = set()
        self._raw_opens = 0
        self._paused = 0
        #: pid -> comm. Nothing records comms under nop, so lines show <...>.
        self.saved_cmdlines: dict[int, str] = {}
        self.saved_cmdlines_size = SAVED_CMDLINES_DEFAULT
        self.tracing_thresh = 0
        self.buffer_percent = 50
        #: The CPU trace_marker writes land on. None: the CPU of the thread
        #: serving the write, modulo nr_cpus (FUSE does not tell us the writer's).
        self.marker_cpu: int | None = 0

    # -- clocks ---------------------------------------------------------------

    def _clock_functions(self, name: str) -> Callable[[], int]:
        tb = self.time_base
        if name in ("local", "global", "perf", "x86-tsc"):
            return tb.since_boot_ns
        if name == "counter":
            return tb.count
        if name == "uptime":
            return lambda: tb.since_boot_ns() // _JIFFY_NS
        if name in ("mono", "mono_raw", "boot"):
            return tb.monotonic_ns
        if name == "tai":
            offset = self._tai_offset
            return lambda: tb.monotonic_ns() + offset
        if name == "det":
            return tb.virtual_ns
        raise OSError(errno.EINVAL, f"unknown trace clock {name!r}")

    def _select_clock(self, name: str) -> None:
        fn = self._clock_functions(name)
        self.clock = name
        self._clock_fn = fn
        self.buffer.clock = fn
        # det switches the machine's time to the virtual counter too. Leaving
        # det undoes only what we did: a machine built deterministic stays so.
        if name == "det":
            self.time_base.deterministic = True
            self._owns_deterministic = True
        elif self._owns_deterministic:
            self.time_base.deterministic = False
            self._owns_deterministic = False

    def set_clock(self, name: str) -> None:
        """Switch the trace clock. Clears the buffers, even if the clock is unchanged."""
        with self.lock:
            self._select_clock(name)
            self.buffer.reset()

    @property
    def clock_in_ns(self) -> bool:
        return self.clock not in RAW_CLOCKS

    def machine_offset(self) -> int | None:
        """The trace clock minus the machine clock (``time_base.word[0]``,
        what the C path and the fast engine stamp records with) for clocks
        that are one plus a constant offset (nanoseconds); None for the
        others (det, counter, uptime), which must be read when a record is
        made."""
        tb = self.time_base
        if self.clock in ("local", "global", "perf", "x86-tsc"):
            return 0
        if self.clock in ("mono", "mono_raw", "boot"):
            return tb.machine_offset_ns()
        if self.clock == "tai":
            return tb.machine_offset_ns() + self._tai_offset
        return None

    def now(self) -> int:
        """The current trace-clock value, without advancing the det clock."""
        if self.clock == "det":
            return self.time_base.virtual_ns(tick=False)
        return self._clock_fn()

    def clock_line(self) -> str:
        names = (f"[{n}]" if n == self.clock else n for n in CLOCK_NAMES)
        return " ".join(names) + "\n"

    # -- tracing_on -------------------------------------------------------------

    @property
    def tracing_on(self) -> bool:
        return self.buffer.record_on

    def set_tracing_on(self, on: bool) -> None:
        self.buffer.sync()      # what happened while it was on is in before it goes off
        with self.lock:
            if on == self.buffer.record_on:
                return
            self.buffer.record_on = on
            if on:
                self.tracer.start()
            else:
                self.tracer.stop()
                self.buffer.wake_waiters()

    # -- tracers ------------------------------------------------------------------

    def tracer_instance(self, cls: type[Tracer]) -> Tracer:
        """This array's instance of ``cls``, made on first use."""
        with self.lock:
            inst = self._instances.get(cls.name)
            if inst is None or type(inst) is not cls:
                inst = cls(self)
                self._instances[cls.name] = inst
            return inst

    def set_tracer(self, name: str) -> None:
        """The kernel's order: expand, look up (EINVAL), same name is a no-op,
        EBUSY while a pipe is open, old reset, clear, new init."""
        name = name.strip()
        with self.lock:
            self.expand()
            cls = find_tracer(name)
            if cls is None:
                raise OSError(errno.EINVAL, f"no tracer named {name!r}")
            if type(self.tracer) is cls:
                return
            if self.pipes_open:
                raise OSError(errno.EBUSY, "trace_pipe is open")
            self.tracer.reset()
            self.tracer = self.tracer_instance(nop.NopTracer)
            self.buffer.reset()
            new = self.tracer_instance(cls)
            new.init()
            self.tracer = new

    @property
    def pipes_open(self) -> int:
        return len(self._pipes) + self._raw_opens

    # -- options ----------------------------------------------------------------

    def set_option(self, name: str, value: bool) -> None:
        """A core option, or one of the current tracer's. Unknown: EINVAL."""
        with self.lock:
            if name in self.options:
                self._set_core_option(name, value)
            elif name in self.tracer.option_values:
                self.set_tracer_option(self.tracer, name, value)
            else:
                raise OSError(errno.EINVAL, f"no option {name!r}")

    def _set_core_option(self, name: str, value: bool) -> None:
        if self.options[name] == value:
            return
        if name in CANNOT_CLEAR and not value:
            raise OSError(errno.EINVAL, f"{name} cannot be cleared here")
        self.options[name] = value
        if name == "overwrite":
            self.buffer.overwrite = value

    def set_tracer_option(
        self, tracer: Tracer, name: str, value: bool, force: bool = False
    ) -> None:
        """Set ``tracer``'s option. Unless ``force``, an unchanged value is a no-op."""
        with self.lock:
            if name not in tracer.option_values:
                raise OSError(errno.EINVAL, f"{tracer.name} has no option {name!r}")
            if not force and tracer.option_values[name] == value:
                return
            tracer.set_option(name, value)

    def apply_trace_option(self, text: str) -> None:
        """A trace_options write: ``NAME`` sets, ``noNAME`` clears."""
        name = text.strip()
        value = True
        if name.startswith("no"):
            name, value = name[2:], False
        with self.lock:
            if name in self.options:
                self._set_core_option(name, value)
            elif name in self.tracer.option_values:
                # The kernel hands these to the tracer even when unchanged.
                self.set_tracer_option(self.tracer, name, value, force=True)
            else:
                raise OSError(errno.EINVAL, f"no option {name!r}")

    def options_text(self) -> str:
        lines = [n if self.options[n] else f"no{n}" for n in CORE_OPTION_NAMES]
        for n, v in self.tracer.option_values.items():
            lines.append(n if v else f"no{n}")
        return "".join(f"{line}\n" for line in lines)

    # -- buffer size ------------------------------------------------------------

    def expand(self) -> None:
        """Grow from the boot-time minimum to the default size, once."""
        with self.lock:
            if not self.expanded:
                self.buffer.resize(self.default_size)
                self.expanded = True

    def resize_kb(self, kb: int, cpu: int | None = None) -> None:
        if kb <= 0:
            raise OSError(errno.EINVAL, "buffer size must be positive")
        nbytes = kb << 10
        if pages_for(nbytes, self.buffer.subbuf_data) > MAX_PAGES_PER_CPU:
            raise OSError(errno.ENOMEM, "buffer too large")
        with self.lock:
            self.buffer.resize(nbytes, cpu)
            self.expanded = True

    def buffer_size_text(self, cpu: int | None = None) -> str:
        buf = self.buffer
        if cpu is not None:
            return f"{buf.size_bytes(cpu) >> 10}\n"
        sizes = {buf.size_bytes(c) for c in range(self.nr_cpus)}
        if len(sizes) != 1:
            return "X\n"
        kb = sizes.pop() >> 10
        if not self.expanded:
            return f"{kb} (expanded: {self.default_size >> 10})\n"
        return f"{kb}\n"

    def buffer_total_size_text(self) -> str:
        total = sum(self.buffer.size_bytes(c) >> 10 for c in range(self.nr_cpus))
        if not self.expanded:
            return f"{total} (expanded: {(self.default_size >> 10) * self.nr_cpus})\n"
        return f"{total}\n"

    @property
    def subbuf_size_kb(self) -> int:
        return self.buffer.subbuf_size >> 10

    def set_subbuf_size_kb(self, kb: int) -> None:
        """Sub-buffers of ``kb`` KB: a power of two from the page size to 128 KB. Clears."""
        if kb <= 0 or kb & (kb - 1) or kb < SUBBUF_SIZE >> 10 or kb > 128:
            raise OSError(errno.EINVAL, "sub-buffer size must be a power of two, 4..128 KB")
        with self.lock:
            if kb << 10 != self.buffer.subbuf_size:
                self.buffer.set_subbuf_size(kb << 10)

    def free_buffer(self) -> None:
        """free_buffer's release: optionally stop tracing, shrink to the minimum."""
        self.buffer.sync()
        with self.lock:
            if self.options["disable_on_free"]:
                self.buffer.record_on = False
            self.buffer.resize(0)
            self.expanded = True

    def clear(self, cpu: int | None = None) -> None:
        """Empty one CPU's buffer, or all (echo > trace)."""
        self.buffer.reset(cpu)

    def stats_text(self, cpu: int) -> str:
        s = self.buffer.stats(cpu)
        in_ns = self.clock_in_ns
        return (
            f"entries: {s.entries}\n"
            f"overrun: {s.overrun}\n"
            f"commit overrun: {s.commit_overrun}\n"
            f"bytes: {s.bytes}\n"
            f"oldest event ts: {format_stats_ts(s.oldest_ts, in_ns)}\n"
            f"now ts: {format_stats_ts(self.now(), in_ns)}\n"
            f"dropped events: {s.dropped}\n"
            f"read events: {s.read}\n"
        )

    # -- CPUs -------------------------------------------------------------------

    @property
    def online_cpus(self) -> int:
        """What ``#P:`` shows. mmiotrace sets 1 while it runs."""
        return self._online

    @online_cpus.setter
    def online_cpus(self, n: int) -> None:
        if not 1 <= n <= self.nr_cpus:
            raise ValueError(f"online_cpus must be 1..{self.nr_cpus}")
        self._online = n

    @property
    def cpumask(self) -> int:
        return self._cpumask

    def set_cpumask(self, mask: int) -> None:
        """CPUs outside ``mask`` stop recording. Bits beyond nr_cpus: EOVERFLOW."""
        if mask < 0 or mask >> self.nr_cpus:
            raise OSError(errno.EOVERFLOW, "CPU mask has bits beyond the last CPU")
        with self.lock:
            for cpu in range(self.nr_cpus):
                self.buffer.set_cpu_enabled(cpu, bool(mask >> cpu & 1))
            self._cpumask = mask

    def cpumask_text(self) -> str:
        """Hex in comma-separated 32-bit groups, the top group as wide as its bits."""
        nbits = self.nr_cpus
        groups = []
        for low in range(0, nbits, 32):
            width = min(32, nbits - low)
            groups.append(f"{(self._cpumask >> low) & ((1 << width) - 1):0{(width + 3) // 4}x}")
        return ",".join(reversed(groups)) + "\n"

    # -- writing entries ----------------------------------------------------------

    def commit(self, entry: Entry, cpu: int | None = None) -> bool:
        """Store ``entry`` on ``cpu`` (default ``entry.cpu``), stamped with the trace clock.

        False when it was not stored: tracing off, CPU outside the mask, or
        the buffer full with overwrite off (counted as a dropped event).
        """
        cpu = entry.cpu if cpu is None else cpu
        if not 0 <= cpu < self.nr_cpus:
            raise ValueError(f"no CPU {cpu}")
        return self.buffer.commit(entry, cpu)

    def max_marker_size(self) -> int:
        return min(TRACE_MARKER_MAX_SIZE, max_payload(self.buffer.subbuf_data) - MARKER_META)

    def write_marker(self, text: bytes, pid: int = 0, cpu: int = 0) -> int:
        """A trace_marker write: one entry; returns the bytes taken (maybe fewer).

        EINVAL when option markers is off; EBADF when the entry cannot be
        stored (tracing off, CPU masked out, full without overwrite).
        """
        if not self.options["markers"]:
            raise OSError(errno.EINVAL, "markers are disabled")
        cnt = min(len(text), self.max_marker_size())
        data = bytes(text[:cnt])
        body = data.decode("utf-8", "surrogateescape")
        if not data.endswith(b"\n"):
            body += "\n"
        entry = PrintEntry(
            size=marker_size(cnt), pid=pid, flags=MARKER_FLAGS, text=body, ip="tracing_mark_write"
        )
        if not self.commit(entry, cpu % self.nr_cpus):
            raise OSError(errno.EBADF, "trace_marker: entry not recorded")
        return cnt

    def write_marker_raw(self, data: bytes, pid: int = 0, cpu: int = 0) -> int:
        """A trace_marker_raw write: a 4-byte id (host order), then binary data; one raw_data event.

        EINVAL under 4 bytes, over 3 KiB, or with option markers off; more
        than 1 KiB is cut to 1 KiB (the count returned). EBADF when not stored.
        """
        if not self.options["markers"]:
            raise OSError(errno.EINVAL, "markers are disabled")
        if not 4 <= len(data) <= RAW_DATA_MAX_SIZE:
            raise OSError(errno.EINVAL, "trace_marker_raw takes a 4-byte id and up to 3 KiB")
        cnt = min(len(data), TRACE_BUF_SIZE)
        entry = RawDataEntry(size=event_size(RAW_DATA_HEADER + max(cnt, RAW_DATA_MIN_USER)),
                             pid=pid, flags=MARKER_FLAGS, data=bytes(data[:cnt]))
        if not self.commit(entry, cpu % self.nr_cpus):
            raise OSError(errno.EBADF, "trace_marker_raw: entry not recorded")
        return cnt

    def trace_printk(self, text: str, cpu: int = 0, pid: int = 0) -> bool:
        """An in-kernel printk into the buffer: no newline added, cut at 1023 bytes."""
        if not self.options["trace_printk"]:
            return False
        data = text.encode("utf-8", "surrogateescape")
        if len(data) > TRACE_PRINTK_MAX:
            data = data[:TRACE_PRINTK_MAX]
            text = data.decode("utf-8", "surrogateescape")
        entry = PrintEntry(size=printk_size(len(data)), pid=pid, flags=NO_FLAGS, text=text, ip="0")
        return self.commit(entry, cpu)

    # -- readers --------------------------------------------------------------------

    def open_pipe(self, cpu: int | None = None) -> PipeReader:
        """Open trace_pipe (all CPUs) or per_cpu/cpuN/trace_pipe. EBUSY if overlapping."""
        with self.lock:
            reader = self.buffer.open_reader(None if cpu is None else (cpu,))
            pipe = PipeReader(self, reader)
            self._pipes.add(pipe)
            try:
                pipe.tracer.pipe_open(pipe)
            except BaseException:
                self._pipes.discard(pipe)
                reader.close()
                raise
            return pipe

    def _close_pipe(self, pipe: PipeReader) -> None:
        with self.lock:
            if pipe not in self._pipes:
                return
            self._pipes.discard(pipe)
            try:
                pipe.tracer.pipe_close(pipe)
            finally:
                pipe.reader.close()

    def raw_opened(self) -> None:
        with self.lock:
            self._raw_opens += 1

    def raw_closed(self) -> None:
        with self.lock:
            self._raw_opens = max(0, self._raw_opens - 1)

    def pause(self) -> None:
        """Opening trace with pause-on-trace: stop recording until the matching resume."""
        self.buffer.record_disable()

    def resume(self) -> None:
        self.buffer.record_enable()


@dataclass(slots=True, eq=False)
class RawDataEntry(Entry):
    """A TRACE_RAW_DATA entry (events/ftrace/raw_data): a trace_marker_raw write.

    ``data`` is what the user wrote: the 4-byte id, then the bytes. The
    event is longer than that (room for the id and "<faulted>", rounded to
    4 bytes) and the kernel prints every byte of it, the unwritten ones as 00.
    """

    data: bytes = b""

    type: ClassVar[int] = TRACE_RAW_DATA

    def record(self) -> bytes:
        flags, preempt = lat_to_bits(self.flags)
        return struct.pack("<HBBi", self.type, flags, preempt, self.pid) + self.data

    def format(self) -> str:
        tag = int.from_bytes(self.data[:4].ljust(4, b"\0"), sys.byteorder)
        length = data_len_for(self.size) - RAW_DATA_HEADER
        body = self.data[4:].ljust(length, b"\0")[:length]
        return f"# {tag:x} buf:" + "".join(f" {b:02x}" for b in body) + "\n"

