"""mmio-mod: what mmiotrace does with ioremap, iounmap and each traced access.

(arch/x86/mm/mmio-mod.c.) While tracing is enabled every ``ioremap`` gets a
map id and a MAP record, then a kmmio probe over the returned range; every
access through it comes back here twice: ``_pre`` at the page fault decodes
the instruction and notes what a store is about to write, ``_post`` at the
debug trap finishes the values (a load's destination register, or what the
device model saw during the step) and hands R/W/UNKNOWN records to the
tracer. ``iounmap`` removes the probe and records UNMAP.

Boot parameters (the kernel's ``mmiotrace.X=``, fixed for a machine's life;
``MmiotraceParams``): ``filter_offset`` traces only ioremaps of exactly that
physical address (the others get no MAP and use no id); ``nommiotrace`` keeps
MAP/UNMAP but arms nothing; ``trace_pc`` puts the faulting RIP in the pc
field. ``decoder`` is ours: ``full`` (default) or ``pf_in`` (the kernel's
decoder and the kernel's probe lookup, for line-by-line comparison).
``engine`` is ours too: ``faithful`` (default; page faults and single steps,
as the kernel does) or ``fast`` (records taken at the device, fast.py).

Map ids start at 1 and are never reset while the machine runs, not even
between tracer sessions: the kernel's counter is a function-static one.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from typing import Callable, Protocol, TypeVar

from ..machine.cpu import Cpu
from ..machine.iomem import IoMem
from ..machine.mm import PAGE_MASK, PAGE_SIZE, MemoryFault, Mm
from .decode import Decoded, Decoder, DecoderMode, FullInsn, PlainAccess, Record, Source
from .fast import FastEngine
from .kmmio import KERN_INFO, KERN_NOTICE, KERN_WARNING, PFX, Kmmio, KmmioProbe, LogFn
from .native import NativeStep, NativeUnavailable

# struct mmiotrace_rw / mmiotrace_map opcodes (include/linux/mmiotrace.h).
MMIO_READ = 1
MMIO_WRITE = 2
MMIO_PROBE = 3
MMIO_UNPROBE = 4
MMIO_UNKNOWN_OP = 5

_OPCODES = {"R": MMIO_READ, "W": MMIO_WRITE, "UNKNOWN": MMIO_UNKNOWN_OP}

#: How accesses are caught: page faults and single steps (the kernel's way),
#: or at the device's protection hook (fast.py).
ENGINES = ("faithful", "fast")

# Bytes fetched at RIP for decoding: the longest instruction is 15, and the
# kernel's decoder reads 8 immediate bytes even for a 4-byte one (REX.W C7).
_CODE_FETCH = 24

T = TypeVar("T")

_MASK64 = (1 << 64) - 1

# Sources whose value the registers or the instruction give exactly.
_EXACT_SOURCES = frozenset({Source.REG_AFTER, Source.REG_BEFORE, Source.IMM})


def _needs_device_log(insn: Decoded) -> bool:
    """Whether the device's own view of the step is needed for the values.

    A plain load or store has its value in a register or the instruction:
    listening to the device would only cost time (unicorn hands the IO
    observers the RIP, a register read per device access).
    """
    if not isinstance(insn, FullInsn):
        return False
    accesses = insn.accesses
    if insn.unknown or not accesses:
        return True
    return any(a.source not in _EXACT_SOURCES or a.bswap or a.lane for a in accesses)


@dataclass(frozen=True)
class MmiotraceParams:
    """mmiotrace's parameters: set when a machine is mounted or a run starts."""

    filter_offset: int = 0
    nommiotrace: bool = False
    trace_pc: bool = False
    decoder: str = DecoderMode.FULL.value
    engine: str = "faithful"
    #: Faithful engine: step plain movs in C (native.py) when the helper
    #: builds. False: Python steps everything (same output; for comparison).
    native: bool = True

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"unknown engine {self.engine!r} (choose from {', '.join(ENGINES)})")
        if self.decoder not in {m.value for m in DecoderMode}:
            choices = ", ".join(m.value for m in DecoderMode)
            raise ValueError(f"unknown decoder {self.decoder!r} (choose from {choices})")
        if not 0 <= self.filter_offset < 1 << 64:
            raise ValueError("filter_offset must be a 64-bit physical address")

    @property
    def kernel_exact(self) -> bool:
        return DecoderMode(self.decoder) is DecoderMode.PF_IN


class TraceSink(Protocol):
    """Where records go: the tracer (kernel: mmio_trace_rw / mmio_trace_mapping)."""

    def trace_rw(self, opcode: int, width: int, phys: int, value: int, pc: int, map_id: int) -> None: ...

    def trace_map(self, opcode: int, phys: int, virt: int, length: int, map_id: int) -> None: ...


@dataclass(eq=False, slots=True)
class RemapTrace:
    """One traced ioremap: its probe (``probe.addr`` is the cookie), phys and id."""

    probe: KmmioProbe
    phys: int
    id: int


@dataclass(eq=False, slots=True)
class PlainPlan:
    """A plain ``mov`` at one RIP, bound to the CPU's register words.

    Most traced accesses are plain loads and stores (readl, writel). For
    those the decoder's ``pre``/``post`` calls, their tuples and the record
    list are replaced by this plan: the address is one or two word reads
    and an add, the value one word read, shift and mask (decode.PlainAccess
    says which), and the record goes to the tracer directly. The values are
    the decoder's, so the trace does not change.
    """

    opcode: int
    kind: str
    width: int
    load: bool                      # value from the register after the step
    value: ctypes.c_uint64 | None   # the value's register (None: the immediate)
    shift: int
    mask: int
    imm: int
    at_fault: bool                  # pf_in: the record is at the fault address
    base: ctypes.c_uint64 | None
    index: ctypes.c_uint64 | None
    scale: int
    disp: int
    last: int                       # bytes the access spans, minus one (page check)
    plan: Decoded                   # what _other_pages plans with


def bind_plain(values: PlainAccess, where: PlainAccess, span: int, plan: Decoded,
               word: Callable[[int], ctypes.c_uint64 | None]) -> PlainPlan | None:
    """A :class:`PlainPlan`: values and record from ``values``, address from ``where``.

    The two differ under pf_in, whose records are the kernel decoder's but
    whose pages are planned with a full decode. None if a register has no
    word (the CPU state was not found: use the general path).
    """
    words = []
    for reg in (values.value_reg, where.base, where.index):
        w = word(reg) if reg is not None else None
        if reg is not None and w is None:
            return None
        words.append(w)
    value, base, index = words
    return PlainPlan(_OPCODES[values.kind], values.kind, values.width, values.kind == "R",
                     value, values.shift, values.mask, values.imm, values.at_fault,
                     base, index, where.scale, where.disp, max(span, 1) - 1, plan)


def _call_here(fn: Callable[[], T]) -> T:
    return fn()


class MmioMod:
    """mmiotrace's ioremap/iounmap hooks and pre/post handlers for one machine."""

    def __init__(
        self,
        cpu: Cpu,
        mm: Mm,
        iomem: IoMem | None,
        log: LogFn,
        sink: TraceSink,
        params: MmiotraceParams = MmiotraceParams(),
        on_cpu: Callable[[Callable[[], object]], object] = _call_here,
    ) -> None:
        self.cpu = cpu
        self.mm = mm
        self.iomem = iomem
        self.log = log
        self.sink = sink
        self.params = params
        # Runs a function on the machine's CPU thread and returns its result.
        self.on_cpu = on_cpu
        self.enabled = False
        self.next_id = 0
        self.trace_list: list[RemapTrace] = []  # oldest first
        self.kmmio = Kmmio(cpu, mm, log, kernel_exact=params.kernel_exact)
        self.decoder = Decoder(params.decoder)
        self._planner = Decoder(DecoderMode.FULL)
        self.downed_cpus: list[int] = []
        # Guards enabled and trace_list: the kernel's trace_lock.
        self._lock = threading.RLock()
        # Serializes enable and disable: the kernel's mmiotrace_mutex.
        self._mutex = threading.Lock()
        # The access being single-stepped (one CPU: one at a time).
        self._insn = None
        self._pending = None
        self._rip = 0
        self._stepping = False
        self._devlog: list[tuple[str, int, int, int]] = []
        self._listening = False
        # rip -> (decoded insn, needs the device log, page planner)
        self._hot: dict[int, tuple[Decoded, bool, Decoded | None]] = {}
        # rip -> the plan of a plain mov (instead of an entry in _hot)
        self._plain: dict[int, PlainPlan] = {}
        self._step_plain: PlainPlan | None = None   # the plain access being stepped
        self._addr = 0
        self._early = 0
        self._kernel_exact = params.kernel_exact
        self._trace_pc = params.trace_pc
        self._use_devlog = not self._kernel_exact and iomem is not None
        self._read_reg = self.kmmio.read_reg
        self._reg_word = self.kmmio.reg_word
        self._trace_rw = sink.trace_rw
        self.fast: FastEngine | None = None
        if params.engine == "fast" and iomem is not None:
            self.fast = FastEngine(self, self.kmmio.read_reg)
        #: The faithful engine's per-access path in C (native.py), or None:
        #: then ``native_error`` says why and Python does everything.
        self.native: NativeStep | None = None
        self.native_error = ""
        commit_native = getattr(sink, "commit_native", None)
        if self.fast is None and commit_native is not None and params.native:
            try:
                self.native = NativeStep(cpu, exact=self._kernel_exact, trace_pc=self._trace_pc, sink=commit_native)
            except NativeUnavailable as exc:
                self.native_error = str(exc)
            else:
                self.kmmio.foreign_step = self.native.is_active

    # -- enable / disable ---------------------------------------------------------

    def enable(self, online_cpus: int) -> None:
        """enable_mmiotrace: logs, kmmio on, all CPUs but the first offline."""
        # The mutex serializes enable/disable; the trace lock is only held for
        # the flag itself, never while waiting for the CPU thread (which takes
        # it in the ioremap hooks).
        with self._mutex:
            if self.enabled:
                return
            if self.params.nommiotrace:
                self.log(KERN_INFO, f"{PFX}MMIO tracing disabled.")
            # A fresh decode cache per trace: code may have changed since.
            self.decoder = Decoder(self.params.decoder)
            self._planner = Decoder(DecoderMode.FULL)
            self._hot = {}
            self._plain = {}
            self.on_cpu(self.kmmio.init)
            if self.native is not None:
                self.native.clear_plans()
                self.on_cpu(lambda: self.native.route(True))
            elif self.params.native and self.fast is None and self.native_error:
                self.log(KERN_INFO, f"{PFX}stepping in Python ({self.native_error.splitlines()[0]}).")
            if self.fast is not None:
                self.on_cpu(self.fast.forget_code)
            self._enter_uniprocessor(online_cpus)
            with self._lock:
                self.enabled = True
            self.log(KERN_INFO, f"{PFX}enabled.")

    def disable(self) -> list[int]:
        """disable_mmiotrace; returns the CPUs brought back online."""
        with self._mutex:
            with self._lock:
                if not self.enabled:
                    return []
                self.enabled = False
            self._on_cpu_if_running(self._clear_trace_list)
            downed = self._leave_uniprocessor()
            self._on_cpu_if_running(self._cleanup)
            self.log(KERN_INFO, f"{PFX}disabled.")
            return downed

    def _on_cpu_if_running(self, fn: Callable[[], object]) -> None:
        # A machine already shut down has no page tables left to restore:
        # forget the state so that switching tracers still works.
        try:
            self.on_cpu(fn)
        except RuntimeError:
            if self.trace_list:
                self.trace_list = []

    def _cleanup(self) -> None:
        if self.native is not None:
            self.native.route(False)
            self.native.clear_plans()
        self._stop_listening()
        if self.fast is not None:
            self.fast.flush()
            self._fast_listen(False)
        self.kmmio.cleanup()

    def _fast_listen(self, on: bool) -> None:
        fast = self.fast
        if fast is None or self.iomem is None or fast.listening == on:
            return
        fast.listening = on
        if on:
            self.iomem.observers.append(fast.on_io)
        elif fast.on_io in self.iomem.observers:
            self.iomem.observers.remove(fast.on_io)

    def _device_backed(self, phys: int, size: int) -> bool:
        """Whether every page of [phys, phys+size) is device memory (seen by the fast engine)."""
        if self.iomem is None:
            return False
        page = phys & PAGE_MASK
        while page < phys + size:
            if self.iomem.find(page) is None:
                return False
            page += PAGE_SIZE
        return True

    def log_warning(self, line: str) -> None:
        self.log(KERN_WARNING, line)

    def _enter_uniprocessor(self, online: int) -> None:
        # The kernel takes every CPU but the first offline so that no other
        # CPU can touch a page while it is present for a single step.
        self.downed_cpus = list(range(1, online))
        if online > 1:
            self.log(KERN_NOTICE, f"{PFX}Disabling non-boot CPUs...")
        for cpu in self.downed_cpus:
            self.log(KERN_INFO, f"{PFX}CPU{cpu} is down.")

    def _leave_uniprocessor(self) -> list[int]:
        downed, self.downed_cpus = self.downed_cpus, []
        if not downed:
            return []
        self.log(KERN_NOTICE, f"{PFX}Re-enabling CPUs...")
        for cpu in downed:
            self.log(KERN_INFO, f"{PFX}enabled CPU{cpu}.")
        return downed

    def _clear_trace_list(self) -> None:
        # Mappings still alive when tracing stops: forgotten without UNMAP.
        with self._lock:
            traces, self.trace_list = self.trace_list, []
        for trace in traces:
            self.log(KERN_NOTICE, f"{PFX}purging non-iounmapped trace "
                                  f"@0x{trace.probe.addr:08x}, size 0x{trace.probe.len:x}.")
            if not self.params.nommiotrace:
                self._untrace(trace)

    def _untrace(self, trace: RemapTrace) -> None:
        if self.fast is not None and trace in self.fast.traces:
            self.fast.remove(trace)
        else:
            if self.native is not None:
                self.native.update_pages(remove=self._pages_of(trace.probe))
            self.kmmio.unregister_probe(trace.probe)

    @staticmethod
    def _pages_of(probe: KmmioProbe) -> range:
        return range(probe.addr & PAGE_MASK, probe.addr + probe.len, PAGE_SIZE)

    def _step_in_c(self, trace: RemapTrace) -> None:
        """Let the C path step the pages of ``trace`` that are its alone.

        A page two mappings share stays with Python, which picks the probe
        per access; so does, under pf_in, a first page the probe starts in
        the middle of (the kernel finds no probe for it).
        """
        native = self.native
        assert native is not None
        probe = trace.probe
        ram_host, ram_size = getattr(self.cpu, "ram_host", None), getattr(self.cpu, "ram_size", 0)
        add, shared = [], []
        for va in self._pages_of(probe):
            page = self.kmmio.pages.get(va)
            if (page is None or page.count != 1 or not page.armed or ram_host is None
                    or not 0 <= page.pte_addr <= ram_size - 8 or (self._kernel_exact and va < probe.addr)):
                shared.append(va)
            else:
                add.append((va, ram_host + page.pte_addr, page.present, probe.addr, probe.len, trace.phys, trace.id))
        native.update_pages(add, shared)

    # -- ioremap / iounmap (called by the machine, on the CPU thread) --------------

    def on_ioremap(self, phys: int, size: int, cookie: int) -> None:
        """mmiotrace_ioremap: ``phys`` and ``size`` unaligned, as the driver passed them."""
        if not self.enabled:
            return
        filt = self.params.filter_offset
        if filt and phys != filt:
            return
        self.next_id += 1
        trace = RemapTrace(KmmioProbe(cookie, size, self._pre, self._post), phys, self.next_id)
        trace.probe.private = trace
        with self._lock:
            if not self.enabled:
                return
            # MAP first: the record must precede any access through the mapping.
            if self.fast is not None:
                self.fast.flush()
            self.sink.trace_map(MMIO_PROBE, phys, cookie, size, trace.id)
            self.trace_list.append(trace)
            if not self.params.nommiotrace:
                if self.fast is not None and self._device_backed(phys, size):
                    self.fast.add(trace)
                    self._fast_listen(True)
                else:
                    # RAM-backed (no device hook sees it), or the faithful engine.
                    if self.kmmio.register_probe(trace.probe) == 0 and self.native is not None:
                        self._step_in_c(trace)

    def on_iounmap(self, cookie: int) -> None:
        """mmiotrace_iounmap: ``cookie`` is what the driver passes to iounmap."""
        if not self.enabled:
            return
        with self._lock:
            if not self.enabled:
                return
            found = None
            for trace in self.trace_list:
                if trace.probe.addr == cookie:
                    found = trace
                    break
            if self.fast is not None:
                self.fast.flush()
            if found is not None:
                if not self.params.nommiotrace:
                    self._untrace(found)
                self.trace_list.remove(found)
            self.sink.trace_map(MMIO_UNPROBE, 0, cookie, 0, found.id if found is not None else -1)

    def invalidate_code(self, start: int | None = None, end: int | None = None) -> None:
        """Forget decodes in [start, end): a module was loaded or unloaded there."""
        self.decoder.invalidate(start, end)
        self._planner.invalidate(start, end)
        self._hot.clear()
        self._plain.clear()
        if self.native is not None:
            self.native.clear_plans()
        if self.fast is not None:
            self.fast.forget_code()

    # -- the per-access handlers (CPU thread) ---------------------------------------

    def _prepare(self, rip: int) -> tuple[Decoded, bool, Decoded | None]:
        """Decode the instruction at ``rip`` once: (insn, needs the device log, page planner)."""
        insn = self.decoder.lookup(rip)
        if insn is None:
            insn = self.decoder.decode(rip, self._code_at(rip))
        planner = None
        if self._kernel_exact:
            # The kernel's decoder cannot tell which pages an instruction
            # touches; a full decode plans them (the records stay pf_in's).
            planner = self._planner.lookup(rip) or self._planner.decode(rip, self._code_at(rip))
        hot = (insn, self._use_devlog and _needs_device_log(insn), planner)
        self._hot[rip] = hot
        return hot

    def _prepare_plain(self, rip: int, hot: tuple[Decoded, bool, Decoded | None]) -> PlainPlan | None:
        """The :class:`PlainPlan` of a plain mov at ``rip`` (kept in ``_plain``), else None."""
        insn, need_devlog, planner = hot
        plan = planner if planner is not None else insn
        values = insn.plain()
        where = plan.plain() if values is not None and not need_devlog else None
        if values is None or where is None:
            return None
        plain = bind_plain(values, where, where.width, plan, self._reg_word)
        if plain is not None:
            self._plain[rip] = plain
            native = self.native
            if native is not None:
                c_plan = native.plan(_OPCODES[values.kind], values.width, values.kind == "R", values.at_fault,
                                     values.value_reg, where.base, where.index, values.shift, values.mask,
                                     values.imm, where.scale, where.disp, where.width)
                if c_plan is not None:
                    native.add_plan(rip, c_plan)
        return plain

    def _pre(self, probe: KmmioProbe, addr: int, rip: int) -> list[int] | None:
        plain = self._plain.get(rip)
        if plain is None:
            hot = self._hot.get(rip)
            if hot is None:
                hot = self._prepare(rip)
                plain = self._prepare_plain(rip, hot)
        if plain is not None:
            # The usual access, a plain mov: no decoder calls (PlainPlan).
            a = plain.disp
            if plain.base is not None:
                a += plain.base.value
                if plain.index is not None:
                    a += plain.index.value * plain.scale
                a &= _MASK64
            if plain.load:
                pass  # the value is in its register after the step
            elif plain.value is not None:
                self._early = (plain.value.value >> plain.shift) & plain.mask
            else:
                self._early = plain.imm
            self._addr = addr if plain.at_fault else a
            self._rip = rip
            self._step_plain = plain
            self._insn = None
            if (a ^ addr) & PAGE_MASK or (a + plain.last ^ addr) & PAGE_MASK:
                return self._other_pages(plain.plan, (a,), addr)
            return None
        self._step_plain = None
        insn, need_devlog, planner = hot
        self._insn = insn
        self._rip = rip
        pending = self._pending = insn.pre(self._read_reg, addr)
        if insn.messages:
            for line in insn.messages:
                self.log(KERN_WARNING, line)
        self._stepping = True
        if need_devlog:
            self._devlog.clear()
            if not self._listening:
                self.iomem.observers.append(self._on_io)
                self._listening = True
        # Other pages this instruction touches (a load across a page
        # boundary, a movs between two pages) are opened for the same step:
        # a second fault half-way would make unicorn redo the part the
        # device has already seen.
        if planner is None:
            plan, addrs = insn, pending.addrs
        else:
            plan, addrs = planner, planner.pre(self._read_reg, addr).addrs
        return self._other_pages(plan, addrs, addr)

    @staticmethod
    def _other_pages(plan: Decoded, addrs: tuple[int, ...], addr: int) -> list[int] | None:
        """Addresses on pages other than ``addr``'s that the planned accesses touch."""
        accesses = plan.accesses
        if len(accesses) == 1:
            a = addrs[0]
            if not (a ^ addr) & PAGE_MASK and not (a + accesses[0].width - 1 ^ addr) & PAGE_MASK:
                return None  # the usual case: one access, inside the faulting page
        page = addr & PAGE_MASK
        others = None
        for acc, a in zip(accesses, addrs):
            end = a + acc.width - 1
            if (a & PAGE_MASK) != page or (end & PAGE_MASK) != page:
                if others is None:
                    others = []
                if (a & PAGE_MASK) != page:
                    others.append(a)
                if (end & PAGE_MASK) != (a & PAGE_MASK):
                    others.append(end & PAGE_MASK)
        return others

    def _post(self, probe: KmmioProbe) -> None:
        plain = self._step_plain
        if plain is not None:
            self._step_plain = None
            if self._listening:
                self._stop_listening()  # left over from a step an oops cut short
            if plain.load:
                value = (plain.value.value >> plain.shift) & plain.mask
            else:
                value = self._early
            addr = self._addr
            width = plain.width
            trace = probe.private
            start = probe.addr
            if self._kernel_exact or start - width < addr < start + probe.len:
                self._trace_rw(plain.opcode, width, addr - start + trace.phys, value,  # type: ignore[union-attr]
                               self._rip if self._trace_pc else 0, trace.id)  # type: ignore[union-attr]
            else:
                self._emit([Record(plain.kind, width, addr, value)], probe, trace, self._rip)  # type: ignore[arg-type]
            return
        self._stepping = False
        listened = self._listening
        if listened:
            self._stop_listening()
        insn = self._insn
        if insn is None:
            self.log(KERN_WARNING, f"{PFX}unexpected post handler")
            return
        self._insn = None
        records = insn.post(self._pending, self._read_reg, self._devlog if listened else ())
        self._emit(records, probe, probe.private, self._rip)  # type: ignore[arg-type]

    def _emit(self, records: list, probe: KmmioProbe, trace: RemapTrace, rip: int) -> None:
        """Hand an instruction's records to the tracer, each with the mapping it touched."""
        pc = rip if self._trace_pc else 0
        sink = self.sink
        if len(records) == 1:
            kind, width, addr, value = records[0]
            if self._kernel_exact or kind == "UNKNOWN" or (probe.addr - width < addr < probe.addr + probe.len):
                sink.trace_rw(_OPCODES[kind], width, addr - probe.addr + trace.phys, value, pc, trace.id)
                return
        if self._kernel_exact:
            # The kernel's record: one, at the fault address, whatever it is.
            for kind, width, addr, value in records:
                sink.trace_rw(_OPCODES[kind], width, addr - probe.addr + trace.phys, value, pc, trace.id)
            return
        start = probe.addr
        end = start + probe.len
        for kind, width, addr, value in records:
            if kind == "UNKNOWN":
                t = trace
            elif addr < end and addr + width > start:
                t = trace
            else:
                # Another part of the instruction: RAM (dropped), or another
                # traced mapping (a movs between two of them).
                t = self._trace_touching(addr, width)
                if t is None:
                    continue
            sink.trace_rw(_OPCODES[kind], width, addr - t.probe.addr + t.phys, value, pc, t.id)

    def _stop_listening(self) -> None:
        if self._listening:
            self._listening = False
            if self._on_io in self.iomem.observers:
                self.iomem.observers.remove(self._on_io)

    def _trace_touching(self, addr: int, width: int) -> RemapTrace | None:
        for trace in self.trace_list:
            p = trace.probe
            if addr < p.addr + p.len and addr + width > p.addr:
                return trace
        return None

    def _on_io(self, kind: str, phys: int, width: int, value: int, _rip: int) -> None:
        if self._stepping:
            self._devlog.append((kind, phys, width, value))

    def _code_at(self, rip: int) -> bytes:
        first = min(_CODE_FETCH, PAGE_SIZE - (rip & (PAGE_SIZE - 1)))
        code = self.mm.read(rip, first)
        if first < _CODE_FETCH:
            try:
                code += self.mm.read(rip + first, _CODE_FETCH - first)
            except MemoryFault:
                pass  # the instruction ends before the unmapped page
        return code
