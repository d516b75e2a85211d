"""The fast engine: mmiotrace records taken where the device sees the access.

``--engine fast`` (emulation.md, "A-lite"). A device BAR is already reached
only through unicorn's protection hook (machine/iomem.py), which fires once
per instruction-level access with the physical address, the width, the
value and an exact RIP. The fast engine listens there instead of arming
pages: no page fault, no single step, no debug trap, no TLB flush, and code
that does not touch a device runs as if nothing were traced.

What it keeps from the faithful engine, so that the output is the same
line for line (tests/test_mmiotrace_engines.py compares the two):

* the decoder: each RIP is decoded once (the same cache) and the records
  are the decoder's, built by the same ``pre``/``post`` calls, with the
  accesses the device saw as the device log. The usual access needs no
  call: a one-access instruction (full decoder) is recorded as the device
  saw it, and pf_in's plain ``mov`` through the faithful engine's register
  binding (mmio_mod.PlainPlan), both planned once per RIP;
* one record set per instruction, or per iteration of a ``rep`` string
  instruction: the device accesses of one instruction are gathered until
  the decoder's plan says how many reach traced device memory;
* the map ids, the MAP/UNMAP records and the mapping a record belongs to.

Where it differs, on purpose:

* RAM-backed ioremaps (``ioremap`` of memory no device decodes) never reach
  a protection hook. Those mappings are traced the faithful way (a kmmio
  probe), so nothing is lost; only their accesses cost a fault and a trap.
* An access is matched to a mapping by physical address. Two live mappings
  of the same device range are told apart by the newest one; a device
  access through a mapping made before tracing started is recorded too
  (the faithful engine only sees the mappings it armed).
* A read's value is the one the device returned (the faithful engine reads
  the destination register after the step; for every load the decoders
  know the two are the same value).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ..machine.mm import PAGE_MASK, PAGE_SIZE
from .decode import Decoded, FullInsn, PfInInsn, PfInType, Record

# movsx: the loads pf_in knows that widen with the sign.
_SIGN_EXTENDING = frozenset({0xBE0F, 0xBF0F})

if TYPE_CHECKING:
    from .mmio_mod import MmioMod, PlainPlan, RemapTrace

# struct mmiotrace_rw opcodes of a device read and write (mmio_mod's _OPCODES).
_MMIO_READ = 1
_MMIO_WRITE = 2

# How one RIP's accesses become records (cached per RIP).
_DIRECT = 0      # one device access, its own record: kind, width, address, value as seen
_GROUP = 1       # gather the instruction's device accesses, then decode the records
_PLAIN = 2       # pf_in's plain mov: its one record from the bound registers (mmio_mod.PlainPlan)

_Plan = tuple[int, Decoded, Decoded, "PlainPlan | None"]

_MASK64 = (1 << 64) - 1


def _pf_in_loaded(insn: PfInInsn, width: int, value: int) -> int:
    """What pf_in's record of a load says: the destination register after the step.

    The step has not happened yet when the device answers, so this is what
    the load will put there: the device's value, widened as the opcode does.
    """
    reg_bits = 8 * insn.reg_width
    if insn.opcode in _SIGN_EXTENDING and value >> (8 * width - 1) & 1:
        value |= ((1 << reg_bits) - 1) & ~((1 << 8 * width) - 1)
    return value & ((1 << reg_bits) - 1)


class FastEngine:
    """Turns device accesses (iomem observers) into mmiotrace records."""

    def __init__(self, mod: MmioMod, read_reg: Callable[[int], int]) -> None:
        self.mod = mod
        self.read_reg = read_reg
        self.traces: list[RemapTrace] = []       # device-backed traced mappings, newest first
        self._plans: dict[int, _Plan] = {}
        # RIPs whose one device access is its own record (_DIRECT), for the
        # short path at the top of on_io.
        self._direct: set[int] = set()
        # The only device-backed traced mapping, when there is just one
        # (the usual case): no search for the mapping an access went through.
        self._one: RemapTrace | None = None
        # Records may wait for a batch (tracer.trace_rw_later) where the sink offers it.
        self._trace_rw = getattr(mod.sink, "trace_rw_later", mod.sink.trace_rw)
        self._trace_pc = mod._trace_pc
        # The instruction being gathered.
        self._rip = -1
        self._expect = 0
        self._log: list[tuple[str, int, int, int]] = []
        self._trace: RemapTrace | None = None
        self._va = 0
        self._insn: Decoded | None = None
        self._pending = None
        self.listening = False

    # -- mappings ------------------------------------------------------------------

    def add(self, trace: RemapTrace) -> None:
        self.traces.insert(0, trace)
        self._one = self.traces[0] if len(self.traces) == 1 else None

    def remove(self, trace: RemapTrace) -> None:
        self.flush()
        if trace in self.traces:
            self.traces.remove(trace)
        self._one = self.traces[0] if len(self.traces) == 1 else None

    def forget_code(self) -> None:
        self.flush()
        self._plans.clear()
        self._direct.clear()

    def _find(self, phys: int, width: int) -> tuple[RemapTrace, int] | None:
        """The mapping a device access at ``phys`` went through, and its virtual address."""
        kernel_exact = self.mod._kernel_exact
        for t in self.traces:
            start = t.phys
            probe = t.probe
            if kernel_exact:
                # kmmio arms whole pages and looks the probe up by the
                # page base of the fault: the page must start inside it.
                lo = start & PAGE_MASK
                hi = (start + probe.len + PAGE_SIZE - 1) & PAGE_MASK
                if lo <= phys < hi:
                    va = probe.addr + (phys - start)
                    page = va & PAGE_MASK
                    if probe.addr <= page < probe.addr + probe.len:
                        return t, va
                    return None
            elif start - width < phys < start + probe.len:
                return t, probe.addr + (phys - start)
        return None

    # -- the access path (CPU thread, from the device's protection hook) ----------

    def on_io(self, kind: str, phys: int, width: int, value: int, rip: int) -> None:
        one = self._one
        if one is not None and self._rip < 0 and rip in self._direct:
            # The usual access: a plain load or store (readl, writel) already
            # planned, through the only traced mapping. Its record is what
            # the device saw; the same test as _find's (never kernel-exact
            # here: _DIRECT is the full decoder's).
            start = one.phys
            if start - width < phys < start + one.probe.len:
                self._trace_rw(_MMIO_READ if kind == "R" else _MMIO_WRITE, width, phys, value,
                               rip if self._trace_pc else 0, one.id)
            return
        if self._rip >= 0:
            if rip == self._rip and len(self._log) < self._expect:
                self._log.append((kind, phys, width, value))
                if len(self._log) == self._expect:
                    self.flush()
                return
            self.flush()
        found = self._find(phys, width)
        if found is None:
            return
        trace, va = found
        plan = self._plans.get(rip)
        if plan is None:
            plan = self._plan(rip)
        how, insn, planner, plain = plan
        if how == _DIRECT:
            self._trace_rw(_MMIO_READ if kind == "R" else _MMIO_WRITE, width, phys, value,
                           rip if self._trace_pc else 0, trace.id)
            return
        if plain is not None:
            self._plain_record(plain, insn, trace, va, width, value, rip)  # type: ignore[arg-type]
            return
        mod = self.mod
        pending = insn.pre(self.read_reg, va)
        if insn.messages:
            for line in insn.messages:
                mod.log_warning(line)
        addrs = pending.addrs if planner is insn else planner.pre(self.read_reg, va).addrs
        self._expect = self._count_traced(planner, addrs)
        if mod._kernel_exact:
            # Where the kernel takes a second fault during the step and says so.
            others = mod._other_pages(planner, addrs, va)
            for addr in others or ():
                if any(self._on_traced_page(t, addr) for t in self.traces):
                    mod.kmmio._log_recursive_hit(addr, va & PAGE_MASK)
        self._rip = rip
        self._trace = trace
        self._va = va
        self._insn = insn
        self._pending = pending
        self._log = [(kind, phys, width, value)]
        if len(self._log) >= self._expect:
            self.flush()

    def flush(self) -> None:
        """Record the instruction being gathered (it is complete, or no more is coming)."""
        if self._rip < 0:
            return
        rip, self._rip = self._rip, -1
        insn, trace, log = self._insn, self._trace, self._log
        self._insn = self._trace = None
        self._log = []
        assert insn is not None and trace is not None
        if isinstance(insn, PfInInsn):
            records = self._pf_in_records(insn, log)
        else:
            # The device log in virtual addresses of the mapping, as the decoder plans them.
            records = insn.post(self._pending, self.read_reg, log)
        self.mod._emit(records, trace.probe, trace, rip)

    def _pf_in_records(self, insn: PfInInsn, log: list[tuple[str, int, int, int]]) -> list:
        if insn.type is PfInType.REG_READ:
            _kind, _phys, width, value = next((e for e in log if e[0] == "R"), log[0])
            return [Record("R", insn.mem_width, self._va, _pf_in_loaded(insn, width, value))]
        return insn.post(self._pending, self.read_reg)

    def _plain_record(self, plain: PlainPlan, insn: PfInInsn, trace: RemapTrace, va: int,
                      width: int, value: int, rip: int) -> None:
        """pf_in's record of a plain mov, as the general path makes it, minus the decoder calls."""
        a = plain.disp
        if plain.base is not None:
            a += plain.base.value
            if plain.index is not None:
                a += plain.index.value * plain.scale
            a &= _MASK64
        if (a ^ va) & PAGE_MASK or (a + plain.last ^ va) & PAGE_MASK:
            # Where the kernel takes a second fault during the step and says so.
            for addr in self.mod._other_pages(plain.plan, (a,), va) or ():
                if any(self._on_traced_page(t, addr) for t in self.traces):
                    self.mod.kmmio._log_recursive_hit(addr, va & PAGE_MASK)
        if plain.load:
            value = _pf_in_loaded(insn, width, value)
        elif plain.value is not None:
            value = (plain.value.value >> plain.shift) & plain.mask
        else:
            value = plain.imm
        # The record is at the fault address: va, i.e. the physical address seen.
        self._trace_rw(plain.opcode, plain.width, va - trace.probe.addr + trace.phys, value,
                       rip if self._trace_pc else 0, trace.id)

    # -- planning ----------------------------------------------------------------------

    def _plan(self, rip: int) -> _Plan:
        mod = self.mod
        insn, _need_devlog, planner = mod._prepare(rip)
        planner = planner or insn
        plain = None
        if isinstance(insn, FullInsn):
            a = insn.accesses
            direct = (len(a) == 1 and not insn.unknown and not insn.rep and not a[0].bswap
                      and not a[0].lane and not insn.messages)
        else:
            direct = False
            plain = self._bind_plain(insn, planner)
        plan: _Plan = (_DIRECT if direct else _PLAIN if plain is not None else _GROUP, insn, planner, plain)
        self._plans[rip] = plan
        if direct:
            self._direct.add(rip)
        return plan

    def _bind_plain(self, insn: Decoded, planner: Decoded) -> PlainPlan | None:
        """pf_in's plain mov bound to the registers (the faithful engine's binding), else None."""
        # Imported here: mmio_mod imports this module.
        from .mmio_mod import bind_plain

        values = insn.plain()
        where = planner.plain() if values is not None else None
        if values is None or where is None:
            return None
        return bind_plain(values, where, where.width, planner, self.mod._reg_word)

    @staticmethod
    def _on_traced_page(t: RemapTrace, va: int) -> bool:
        p = t.probe
        return p.addr & PAGE_MASK <= va < p.addr + p.len

    def _count_traced(self, planner: Decoded, addrs: tuple[int, ...]) -> int:
        """How many device accesses this instruction makes through traced mappings."""
        if not isinstance(planner, FullInsn) or not planner.accesses:
            return 1
        n = 0
        for acc, a in zip(planner.accesses, addrs):
            for t in self.traces:
                p = t.probe
                if a < p.addr + p.len and a + acc.width > p.addr:
                    n += 1
                    break
        return max(n, 1)
