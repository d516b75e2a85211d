"""The ``mmiotrace`` tracer (kernel/trace/trace_mmiotrace.c).

Selecting it enables mmio-mod on the machine it is attached to; leaving it
disables it. On ``trace_pipe`` it speaks the kernel's mmiotrace format:
``VERSION 20070824`` queued when the pipe opens, then one ``PCIDEV`` line per
read until every device is listed, ``MARK 0.000000 Lost N events.`` whenever
events were overwritten or refused since the previous read, and the event
lines, each a printf of the kernel's exactly (docs/mmiotrace.md). The
``trace`` file shows the generic header and the same event lines.

The tracer is attached to a machine by whoever composes the two
(:func:`attach`); without one it traces nothing but still prints markers.
"""

from __future__ import annotations

import struct
import threading
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable

from ..machine.iomem import MMIO_READ_NS, MMIO_WRITE_NS
from ..trace.entries import (
    NO_FLAGS,
    TRACE_ENTRY_HEADER,
    TRACE_MMIO_MAP,
    TRACE_MMIO_RW,
    TRACE_PRINT,
    DECODERS,
    Entry,
    event_size,
)
from ..trace import page
from ..trace.rbnative import RECORD as _RECORD

_pack_record = _RECORD.pack
from ..trace.tracer import Tracer, register_tracer
from . import lines
from .mmio_mod import (
    MMIO_PROBE,
    MMIO_READ,
    MMIO_UNKNOWN_OP,
    MMIO_UNPROBE,
    MMIO_WRITE,
    MmioMod,
    MmiotraceParams,
)

if TYPE_CHECKING:
    from ..trace.array import TraceArray
    from ..trace.pipe import PipeReader

VERSION_LINE = "VERSION 20070824\n"

# struct mmiotrace_rw: phys, value, pc (8 each), map_id (4), opcode, width:
# 30 bytes, 32 with padding. struct mmiotrace_map: phys, virt, len, map_id,
# opcode: 29, 32 padded. Both follow the 8-byte trace_entry.
RW_EVENT_SIZE = event_size(TRACE_ENTRY_HEADER + 32)
MAP_EVENT_SIZE = event_size(TRACE_ENTRY_HEADER + 32)

KERN_WARNING = 4

# trace_rw_later hands its records over at this many (and whenever the buffer is read).
LATER_BATCH = 2048


def format_ts(ns: int) -> str:
    """``%u.%06lu`` of the timestamp rounded to the microsecond."""
    return lines.ts(lines.ns_to_us(ns))


@dataclass(slots=True, eq=False)
class MmioRwEntry(Entry):
    """TRACE_MMIO_RW: one R, W or UNKNOWN record."""

    phys: int = 0
    value: int = 0
    pc: int = 0
    map_id: int = 0
    opcode: int = 0
    width: int = 0

    type = TRACE_MMIO_RW

    def record(self) -> bytes:
        return page.rw_record(self.pid, self.phys, self.value, self.pc, self.map_id, self.opcode, self.width)


@dataclass(slots=True, eq=False)
class MmioMapEntry(Entry):
    """TRACE_MMIO_MAP: one MAP or UNMAP record."""

    phys: int = 0
    virt: int = 0
    len: int = 0
    map_id: int = 0
    opcode: int = 0

    type = TRACE_MMIO_MAP

    def record(self) -> bytes:
        return page.map_record(self.pid, self.phys, self.virt, self.len, self.map_id, self.opcode)


_RW_REC = struct.Struct("<8xQQQiBB")
_MAP_REC = struct.Struct("<8xQQQiB")


def _decode_rw(record: bytes, size: int, ts: int) -> Entry:
    phys, value, pc, map_id, opcode, width = _RW_REC.unpack_from(record, 0)
    pid = int.from_bytes(record[4:8], "little", signed=True)
    return MmioRwEntry(size, pid, NO_FLAGS, ts, 0, phys, value, pc, map_id, opcode, width)


def _decode_map(record: bytes, size: int, ts: int) -> Entry:
    phys, virt, length, map_id, opcode = _MAP_REC.unpack_from(record, 0)
    pid = int.from_bytes(record[4:8], "little", signed=True)
    return MmioMapEntry(size, pid, NO_FLAGS, ts, 0, phys, virt, length, map_id, opcode)


DECODERS[TRACE_MMIO_RW] = _decode_rw
DECODERS[TRACE_MMIO_MAP] = _decode_map


def format_rw(e: MmioRwEntry) -> str:
    us = lines.ns_to_us(e.ts)
    op = e.opcode
    if op == MMIO_READ or op == MMIO_WRITE:
        return lines.rw_line("R" if op == MMIO_READ else "W", e.width, us, e.map_id, e.phys, e.value, e.pc)
    if op == MMIO_UNKNOWN_OP:
        v = e.value
        return lines.unknown_line(us, e.map_id, e.phys, (v >> 16, v >> 8, v), e.pc)
    return "rw what?\n"


def format_map(e: MmioMapEntry) -> str:
    us = lines.ns_to_us(e.ts)
    if e.opcode == MMIO_PROBE:
        return lines.map_line(us, e.map_id, e.phys, e.virt, e.len)
    if e.opcode == MMIO_UNPROBE:
        return lines.unmap_line(us, e.map_id)
    return "map what?\n"


def format_pcidev(f: Any) -> str:
    """One PCIDEV line from a ``PcidevFields``."""
    return lines.pcidev_line(f.busdevfn, f.vendor_device, f.irq, f.starts, f.sizes, f.driver)


@dataclass
class MachineLink:
    """The parts of a machine mmiotrace uses (:func:`machine_link` fills it in).

    ``on_cpu(fn)`` runs ``fn`` on the machine's CPU thread and returns its
    result: arming and disarming pages writes page tables, which only that
    thread may do.
    """

    cpu: Any
    mm: Any
    iomem: Any
    log: Callable[[int, str], None]
    pci_devices: Callable[[], list[Any]]
    on_cpu: Callable[[Callable[[], object]], object]
    machine: Any = None


class _PipeHeader:
    """Per-pipe state: which PCI device the next read lists."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: tuple[int, int] | None = None


@register_tracer
class MmiotraceTracer(Tracer):
    name = "mmiotrace"
    #: Its lines for mmiotrace_rw / mmiotrace_map events are what
    #: rbnative.format_mmio makes from the pages (trace_pipe, trace).
    binary_lines = True

    def __init__(self, array: TraceArray) -> None:
        super().__init__(array)
        self.link: MachineLink | None = None
        self.params = MmiotraceParams()
        self.mmio: MmioMod | None = None
        # Refused reservations (buffer full without overwrite, tracing off),
        # reported and reset by the next Lost line.
        self.dropped_count = 0
        self.prev_overruns = 0
        self.overrun_detected = False
        self._count_lock = threading.Lock()
        self._downed = 0
        # One call per traced access: the buffer's commit, bound once (an
        # array keeps its ring buffer for life).
        self._commit = array.buffer.commit
        # The C path (mmio_mod.native) while tracing, and the clock the hand-over was set up for.
        self._native: Any = None
        self._feed_clock = ""
        # trace_rw_later's records waiting for a batch (appended on the CPU
        # thread, taken by whichever thread hands them over).
        self._later: deque[bytes] = deque()
        self._later_lock = threading.Lock()
        self._later_now = True
        self._batching = False
        # The machine clock (trace/clock.py): what batched records are stamped with.
        self._time_base = array.time_base
        self._c_clock = False

    # -- composition -------------------------------------------------------------

    def attach(self, link: MachineLink, params: MmiotraceParams | None = None) -> None:
        """Trace ``link``'s machine with ``params`` (boot-time: before the first enable)."""
        if self.mmio is not None and self.mmio.enabled:
            raise RuntimeError("mmiotrace is enabled: attach before selecting it")
        self.link = link
        if params is not None:
            self.params = params
        self.mmio = MmioMod(link.cpu, link.mm, link.iomem, link.log, self, self.params, link.on_cpu)

    @property
    def enabled(self) -> bool:
        return self.mmio is not None and self.mmio.enabled

    # -- lifecycle ------------------------------------------------------------------

    def _reset_data(self) -> None:
        self.overrun_detected = False
        self.prev_overruns = 0
        self.array.clear()

    def init(self) -> None:
        self._reset_data()
        online = self.array.online_cpus
        if self.mmio is not None:
            self.mmio.enable(online)
            self._feed_from(self.mmio.native, later=self.mmio.fast is not None)
        # Uniprocessor while tracing: no other CPU may touch a page that is
        # present for a single step. The trace header shows #P:1.
        self._downed = online - 1
        self.array.online_cpus = 1

    def reset(self) -> None:
        if self.mmio is not None:
            self.mmio.disable()
        self._feed_from(None)
        self.array.online_cpus = min(self.array.nr_cpus, self.array.online_cpus + self._downed)
        self._downed = 0
        self._reset_data()

    def start(self) -> None:
        # tracing_on 0 -> 1: the kernel clears the buffer but keeps the drop count.
        self._reset_data()

    # -- records from mmio-mod (CPU thread) ------------------------------------------

    def trace_rw(self, opcode: int, width: int, phys: int, value: int, pc: int, map_id: int) -> None:
        if not self._commit(MmioRwEntry(RW_EVENT_SIZE, 0, NO_FLAGS, 0, 0, phys, value, pc, map_id, opcode, width), 0):
            with self._count_lock:
                self.dropped_count += 1

    def commit_native(self, records: bytes | Iterable[tuple[int, ...]], lost: int) -> None:
        """Records handed over in a batch (the C path, native.py, and
        trace_rw_later), oldest first: packed ``rbnative.RECORD`` bytes
        (machine clock ns, phys, value, pc, map id, opcode, width) or such
        tuples; ``lost``: more that did not fit. They go into the ring
        buffer's pages as binary mmiotrace_rw events, with no object per
        record."""
        offset = self.array.machine_offset()
        buffer = self.array.buffer
        if isinstance(records, (bytes, bytearray)):
            raw = bytes(records)
        else:
            raw = b"".join([_RECORD.pack(*r) for r in records])
        n = len(raw) // _RECORD.size
        if offset is None:
            # Not a machine-based clock: each record is stamped now (in
            # this mode records are handed over one at a time).
            entries = [MmioRwEntry(RW_EVENT_SIZE, 0, NO_FLAGS, 0, 0, phys, value, pc, map_id, opcode, width)
                       for _ts, phys, value, pc, map_id, opcode, width in _RECORD.iter_unpack(raw)]
            stored = buffer.commit_batch(entries, 0, False)
        else:
            stored = buffer.commit_records(raw, n, 0, offset)
        missing = n - stored + lost
        if missing:
            with self._count_lock:
                self.dropped_count += missing

    def _feed_from(self, native: Any, later: bool = False) -> None:
        """Records made on the CPU thread and handed over in batches: from
        ``native`` (a NativeStep, or None) and, with ``later``, from
        :meth:`trace_rw_later`. The buffer's feeder while either is on."""
        old, self._native = self._native, native
        buffer = self.array.buffer
        advance = self.array.time_base.before_advance
        if self._c_clock:
            self._time_base.c_clock(None)
            self._c_clock = False
        if buffer.feeder is not None:
            buffer.feeder = None
            self._later_now = True
            if old is not None:
                old.drain()
            self._drain_later()
            if self._feed in advance:
                advance.remove(self._feed)
        if native is not None or later:
            if native is not None:
                native.set_clock(self._time_base.c_clock(native.in_flight_cost), MMIO_READ_NS, MMIO_WRITE_NS)
                self._c_clock = True
            self._feed_clock = ""
            self._batching = later
            buffer.feeder = self._feed
            advance.append(self._feed)
            self._feed()

    def hand_over(self) -> None:
        """Hand every record still held back for a batch to the ring buffer."""
        if self.array.buffer.feeder is not None:
            self._feed()

    def _feed(self) -> None:
        clock = self.array.clock
        if clock != self._feed_clock:
            # Clocks that are the machine clock plus an offset can be
            # converted later; the others are read when the record is handed
            # over, so every record is handed over as it is made.
            self._feed_clock = clock
            now = self.array.machine_offset() is None
            if self._native is not None:
                self._native.set_synchronous(now)
            self._later_now = now or not self._batching
        native = self._native
        if native is not None:
            native.drain()
        if self._later:
            self._drain_later()

    def trace_rw_later(self, opcode: int, width: int, phys: int, value: int, pc: int, map_id: int) -> None:
        """trace_rw for the CPU thread, where the record may wait for a batch
        (the fast engine): a timestamp and a tuple now, the entry at hand-over."""
        if self._later_now:
            self.trace_rw(opcode, width, phys, value, pc, map_id)
            return
        later = self._later
        # Packed now (rbnative.RECORD, as the C path makes them): the batch
        # goes into the pages with one join and one C call.
        later.append(_pack_record(self._time_base.ns, phys, value, pc, map_id, opcode, width))
        if len(later) >= LATER_BATCH:
            self._drain_later()

    def _drain_later(self) -> None:
        with self._later_lock:
            later = self._later
            n = len(later)
            if n:
                self.commit_native(b"".join([later.popleft() for _ in range(n)]), 0)

    def trace_map(self, opcode: int, phys: int, virt: int, length: int, map_id: int) -> None:
        entry = MmioMapEntry(MAP_EVENT_SIZE, 0, NO_FLAGS, 0, 0, phys, virt, length, map_id, opcode)
        if not self.array.commit(entry, 0):
            with self._count_lock:
                self.dropped_count += 1

    def printk(self, text: str) -> bool:
        """mmiotrace_printk: a MARK while tracing is enabled, else nothing."""
        if not self.enabled:
            return False
        if self.mmio is not None and self.mmio.fast is not None:
            self.mmio.fast.flush()      # an instruction still being gathered comes first
        return self.array.trace_printk(text, cpu=0)

    # -- trace_pipe -------------------------------------------------------------------

    def pipe_open(self, pipe: PipeReader) -> None:
        pipe.queue(VERSION_LINE)
        pipe.private = _PipeHeader()

    def pipe_close(self, pipe: PipeReader) -> None:
        pipe.private = None

    def _count_overruns(self) -> int:
        with self._count_lock:
            n, self.dropped_count = self.dropped_count, 0
        over = self.array.buffer.overruns()
        if over > self.prev_overruns:
            n += over - self.prev_overruns
        self.prev_overruns = over
        return n

    def read(self, pipe: PipeReader) -> str | None:
        n = self._count_overruns()
        if n:
            # Reported late: the events were lost before the ones read last.
            if not self.overrun_detected and self.link is not None:
                self.link.log(KERN_WARNING, "mmiotrace has lost events")
            self.overrun_detected = True
            return lines.lost_line(n)
        header = pipe.private
        if not isinstance(header, _PipeHeader):
            return None
        dev = self._next_pcidev(header.last)
        if dev is None:
            pipe.private = None
            return None
        header.last = (dev.bus_number, dev.devfn)
        line = format_pcidev(dev.pcidev_fields())
        if self._next_pcidev(header.last) is None:
            pipe.private = None
        return line

    def _next_pcidev(self, after: tuple[int, int] | None) -> Any:
        if self.link is None:
            return None
        best = None
        for dev in self.link.pci_devices():
            key = (dev.bus_number, dev.devfn)
            if after is not None and key <= after:
                continue
            if best is None or key < (best.bus_number, best.devfn):
                best = dev
        return best

    # -- output ---------------------------------------------------------------------------

    def print_line(self, entry: Entry) -> str | None:
        t = entry.type
        if t == TRACE_MMIO_RW:
            return format_rw(entry)  # type: ignore[arg-type]
        if t == TRACE_MMIO_MAP:
            return format_map(entry)  # type: ignore[arg-type]
        if t == TRACE_PRINT:
            # The newline, if any, is part of the text.
            return lines.mark_line(lines.ns_to_us(entry.ts), entry.message())  # type: ignore[attr-defined]
        return ""  # other entries are consumed silently


def attach(array: TraceArray, machine: Any, params: MmiotraceParams | None = None) -> MmiotraceTracer:
    """Make ``array``'s mmiotrace tracer trace ``machine`` (a ``Machine``).

    Call it once, when composing the two, before mmiotrace is selected;
    ``params`` are the boot-time parameters (filter_offset, nommiotrace,
    trace_pc, decoder). Registers the ioremap, module and mmiotrace_printk
    hooks on the machine.
    """
    tracer = array.tracer_instance(MmiotraceTracer)
    assert isinstance(tracer, MmiotraceTracer)
    tracer.attach(machine_link(machine), params)
    mmio = tracer.mmio
    assert mmio is not None
    machine.add_ioremap_hook(mmio)
    machine.add_module_hook(_ModuleHook(mmio))
    machine.on_trace_printk = tracer.printk
    return tracer


class _ModuleHook:
    """Drops cached decodes of a module's text when it comes or goes."""

    def __init__(self, mmio: MmioMod) -> None:
        self.mmio = mmio

    def on_module_load(self, module: Any) -> None:
        self.mmio.invalidate_code(module.base, module.base + module.size)

    def on_module_unload(self, module: Any) -> None:
        self.mmio.invalidate_code(module.base, module.base + module.size)


def machine_link(machine: Any) -> MachineLink:
    """What mmiotrace needs from a ``Machine``."""
    bus = machine.pci_bus

    def pci_devices() -> list[Any]:
        return list(bus.devices)

    return MachineLink(machine.cpu, machine.mm, machine.iomem, machine.log.log, pci_devices,
                       machine.run_on_cpu, machine)
