"""kmmio: page-fault probes over kernel virtual memory (arch/x86/mm/kmmio.c).

A probe covers ``[addr, addr + len)``. Registering it *arms* every page the
range touches: the page's present bit is cleared, so the next access to it
raises a page fault. The fault handler finds the page and the probe, runs
the probe's pre handler (which decodes the instruction), makes the page
present again, sets the trap flag and returns: the instruction re-executes,
this time reaching the device, and the CPU raises a debug trap right after
it. The debug handler runs the post handler (which records the access),
re-arms the page and restores the flags. One access, one fault, one trap.

Pages are shared and refcounted: two probes on one page arm it once, and it
is disarmed when the last of them goes. The kernel keys its page table by
page base in a hash; a dict does the same here. The kernel releases pages
after RCU grace periods; nothing runs concurrently with the CPU thread here,
so release is immediate.

Where this differs from the kernel, on purpose (docs/mmiotrace.md):

* An access that spans two armed pages (an unaligned load across a page
  boundary, a ``movs`` from one MMIO page to another) faults a second time
  during the single step. The kernel calls that a "recursive probe hit",
  disarms the second page for good and lets the fault oops. Here the second
  page is made present for the same step and re-armed with the first, so the
  instruction completes and is traced once. With ``kernel_exact`` the
  kernel's two emergency log lines are still written, then the step goes on
  (the "retry" the spec allows).
* Probe lookup. The kernel (since its huge-page rework) looks the probe up
  by the *page base* of the fault, so a probe that starts in the middle of a
  page is not found for faults in that first page, and those accesses are
  silently lost. By default the probe is looked up by the fault address
  (then by page), so they are traced; ``kernel_exact`` reproduces the quirk.

Every method runs on the machine's CPU thread: arming writes page tables.

The fault and trap of a plain mov whose plan mmio-mod has made are handled
before they reach these handlers, by the same steps in C (kmmio_step.c,
native.py); what is left for them is everything else.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import Callable, Iterable

from ..machine.cpu import EFLAGS_TF, Cpu
from ..machine.mm import PAGE_MASK, PAGE_SIZE, PTE_P, Mm
from .stepctx import PteSwitch, StepContext

# printk levels of the messages below.
KERN_EMERG, KERN_ERR, KERN_WARNING, KERN_NOTICE, KERN_INFO = 0, 3, 4, 5, 6

LogFn = Callable[[int, str], None]
"""``log(level, text)``: one kernel log line, without the newline."""

PreHandler = Callable[["KmmioProbe", int, int], "Iterable[int] | None"]
"""``pre(probe, fault_addr, rip)``: at the fault, before the instruction runs.

It may return addresses on other pages the instruction will touch (the first
byte it touches on each): kmmio opens the armed ones for the same step, so
the instruction runs once instead of faulting again half-way."""

PostHandler = Callable[["KmmioProbe"], None]
"""``post(probe)``: at the debug trap, after exactly one instruction (or one
iteration of a rep string instruction)."""

# The message prefix: kmmio.o is linked into mmiotrace.o, so KBUILD_MODNAME
# is "mmiotrace" for it too.
PFX = "mmiotrace: "


@dataclass(eq=False, slots=True)
class KmmioProbe:
    """A traced virtual range and what to call when it is touched."""

    addr: int
    len: int
    pre_handler: PreHandler | None = None
    post_handler: PostHandler | None = None
    private: object = None

    def covers(self, va: int) -> bool:
        return self.addr <= va < self.addr + self.len


@dataclass(eq=False, slots=True)
class FaultPage:
    """One armed (or armable) page: ``count`` probes use it.

    ``pte_addr`` and ``present`` (the PTE with P set) are fixed while the
    page is mapped, so arming and disarming are one write each.
    """

    addr: int
    pte_addr: int
    present: int
    count: int = 1
    armed: bool = False


@dataclass(slots=True)
class KmmioContext:
    """What one CPU remembers between a fault and its debug trap."""

    active: bool = False
    fpage: FaultPage | None = None
    probe: KmmioProbe | None = None
    saved_flags: int = 0
    addr: int = 0
    # Further pages made present for this same step (a page-spanning access).
    extra: list[FaultPage] = field(default_factory=list)


class Kmmio:
    """The probe table of one machine, hooked into its CPU's #PF and #DB."""

    def __init__(self, cpu: Cpu, mm: Mm, log: LogFn, *, kernel_exact: bool = False) -> None:
        self.cpu = cpu
        self.mm = mm
        self.log = log
        self.kernel_exact = kernel_exact
        self.probes: list[KmmioProbe] = []      # newest first
        self.pages: dict[int, FaultPage] = {}   # page base -> page
        self.ctx = KmmioContext()
        self.cpu_id = 0
        self._installed = False
        self._oops_hooked = False
        self._step = StepContext(cpu)
        # Working on the live CPU state, handlers need no context copy.
        self._copy_context = not self._step.live
        self._ptes = PteSwitch(cpu, mm)
        #: Register reader for pre and post handlers (valid while they run).
        self.read_reg = self._step.read_reg
        #: A general-purpose register's word, for handlers that bind registers
        #: once (``.value`` is valid while they run); None for other registers.
        self.reg_word = self._step.word
        # The probe of the last fault: consecutive accesses mostly share one.
        self._last_probe: KmmioProbe | None = None
        #: ``foreign_step() -> bool``: another stepper (the C path,
        #: native.py) is between a fault and its trap right now.
        self.foreign_step: Callable[[], bool] | None = None

    # -- set-up --------------------------------------------------------------

    def init(self) -> None:
        """kmmio_init: start receiving page faults and debug traps."""
        if not self._installed:
            self.cpu.add_fault_handler(self.fault_handler)
            self.cpu.add_debug_handler(self.debug_handler)
            self._installed = True
        if not self._oops_hooked:
            # The CPU has no way to remove these: added once, idle when inactive.
            self.cpu.add_oops_handler(self._on_oops)
            self._oops_hooked = True

    def cleanup(self) -> None:
        """kmmio_cleanup: stop receiving them. Pages still armed are a caller bug."""
        if self._installed:
            self.cpu.remove_fault_handler(self.fault_handler)
            self.cpu.remove_debug_handler(self.debug_handler)
            self._installed = False
        if self.pages:
            self.log(KERN_ERR, "kmmio_page_table not empty at cleanup, any further tracing will leak memory.")

    @property
    def active(self) -> bool:
        """is_kmmio_active: any probe registered."""
        return bool(self.probes)

    # -- probes ----------------------------------------------------------------

    def register_probe(self, probe: KmmioProbe) -> int:
        """Arm the pages of ``probe``; 0, or -EEXIST / -EINVAL as the kernel returns."""
        start = probe.addr & PAGE_MASK
        size_lim = probe.len + (probe.addr & ~PAGE_MASK)
        if self._probe_covering(start) is not None:
            return -errno.EEXIST
        if self.mm.pte(start) is None:
            return -errno.EINVAL
        self.probes.insert(0, probe)
        flush = False
        for off in range(0, size_lim, PAGE_SIZE):
            flush |= self._add_page(start + off)
        if flush:
            self.cpu.flush_tlb()
        return 0

    def unregister_probe(self, probe: KmmioProbe) -> None:
        start = probe.addr & PAGE_MASK
        size_lim = probe.len + (probe.addr & ~PAGE_MASK)
        for off in range(0, size_lim, PAGE_SIZE):
            page = self.pages.get(start + off)
            if page is None:
                continue
            page.count -= 1
            if page.count <= 0:
                self._disarm(page)
                del self.pages[page.addr]
        if probe in self.probes:
            self.probes.remove(probe)
        if self._last_probe is probe:
            self._last_probe = None

    def _add_page(self, va: int) -> bool:
        """add_kmmio_fault_page; True if a page was armed (the TLB needs a flush)."""
        page = self.pages.get(va)
        if page is not None:
            # Pages leave the table when their count drops to 0, so a page
            # found here is armed already (or open for the current step).
            page.count += 1
            return False
        found = self._ptes.lookup(va)
        if found is None:
            self.log(KERN_ERR, f"{PFX}Unable to set page fault.")
            return False
        page = FaultPage(va, *found)
        self.pages[va] = page
        self._arm(page)
        return True

    def _arm(self, page: FaultPage) -> None:
        # The caller flushes the TLB: one flush for a whole probe.
        if page.armed:
            self.log(KERN_WARNING, f"{PFX}double-arm: addr 0x{page.addr:08x}, ref {page.count}, old 1")
        self._ptes.write(page.addr, page.pte_addr, page.present & ~PTE_P)
        page.armed = True

    def _disarm(self, page: FaultPage) -> None:
        # Setting the present bit needs no TLB flush. A page whose mapping
        # is already gone stays gone.
        if self.mm.pte_address(page.addr) == page.pte_addr:
            self._ptes.write(page.addr, page.pte_addr, page.present)
        page.armed = False

    def _probe_covering(self, va: int) -> KmmioProbe | None:
        """get_kmmio_probe: the newest probe whose range holds ``va``."""
        for probe in self.probes:
            if probe.addr <= va < probe.addr + probe.len:
                return probe
        return None

    def find_probe(self, addr: int) -> KmmioProbe | None:
        """The probe a fault at ``addr`` belongs to.

        By address, then (for the unaligned ends of a mapping) by page;
        with ``kernel_exact``, by page base only, as the kernel does.
        """
        page_base = addr & PAGE_MASK
        if self.kernel_exact:
            return self._probe_covering(page_base)
        probe = self._probe_covering(addr)
        if probe is not None:
            return probe
        for probe in self.probes:
            if probe.addr & PAGE_MASK <= page_base < probe.addr + probe.len:
                return probe
        return None

    # -- the fault path ----------------------------------------------------------

    def fault_handler(self, addr: int, error_code: int, rip: int) -> bool:
        """kmmio_handler: True when the fault was ours and the step is set up."""
        page = self.pages.get(addr & PAGE_MASK)
        if page is None:
            return False
        if self.foreign_step is not None and self.foreign_step():
            # A second fault inside a step the C path runs (its instruction
            # is a one-page mov, so this has another cause): not ours.
            return False
        ctx = self.ctx
        if ctx.active:
            return self._fault_during_step(page, addr)
        if not page.armed:
            # Known but not armed (its probe went away mid-step): not ours.
            return False
        ctx.active = True
        ctx.fpage = page
        ctx.addr = page.addr
        probe = self._last_probe
        if self.kernel_exact or probe is None or not probe.addr <= addr < probe.addr + probe.len:
            probe = self.find_probe(addr)
            self._last_probe = probe
        ctx.probe = probe
        step = self._step
        if self._copy_context:
            step.save()
        try:
            if probe is not None and probe.pre_handler is not None:
                others = probe.pre_handler(probe, addr, rip)
                if others:
                    self._open_for_step(others, page.addr)
        finally:
            # Single-step the instruction, interrupts masked; keep the old TF|IF.
            ctx.saved_flags = step.begin_step()
        self._ptes.write(page.addr, page.pte_addr, page.present)
        page.armed = False
        return True

    def _open_for_step(self, addrs: Iterable[int], first: int) -> None:
        ctx = self.ctx
        for addr in addrs:
            page = self.pages.get(addr & PAGE_MASK)
            if page is None or not page.armed or page is ctx.fpage:
                continue
            if self.kernel_exact:
                # Where the kernel would take a second fault and log it.
                self._log_recursive_hit(addr, first)
            self._ptes.write(page.addr, page.pte_addr, page.present)
            page.armed = False
            ctx.extra.append(page)

    def _log_recursive_hit(self, addr: int, previous: int) -> None:
        self.log(KERN_EMERG, f"{PFX}recursive probe hit on CPU {self.cpu_id}, "
                             f"for address 0x{addr:08x}. Ignoring.")
        self.log(KERN_EMERG, f"{PFX}previous hit was at 0x{previous:08x}.")

    def _fault_during_step(self, page: FaultPage, addr: int) -> bool:
        ctx = self.ctx
        if page is ctx.fpage or page in ctx.extra:
            # The kernel's "secondary hit": the page is present for the step,
            # so this fault has another cause. Let it be a normal fault.
            return False
        if self.kernel_exact:
            self._log_recursive_hit(addr, ctx.addr)
        if not page.armed:
            return False
        # One instruction touching two armed pages: open this one for the same step.
        self._ptes.write(page.addr, page.pte_addr, page.present)
        page.armed = False
        ctx.extra.append(page)
        return True

    def debug_handler(self) -> bool:
        """post_kmmio_handler: True when the trap was ours and nobody else wants it."""
        ctx = self.ctx
        if not ctx.active:
            self.log(KERN_WARNING, f"{PFX}unexpected debug trap on CPU {self.cpu_id}.")
            return False
        probe = ctx.probe
        step = self._step
        if self._copy_context:
            step.save()
        try:
            if probe is not None and probe.post_handler is not None:
                probe.post_handler(probe)
        finally:
            flags = step.end_step(ctx.saved_flags)
            self._rearm_step_pages()
            ctx.active = False
            ctx.probe = None
            ctx.fpage = None
        # A trap flag that was set before the fault belongs to someone else
        # (a debugger): let the next handler see this trap too.
        return not flags & EFLAGS_TF

    def _rearm_step_pages(self) -> None:
        ctx = self.ctx
        write = self._ptes.write
        flush = False
        page = ctx.fpage
        # Only pages still in use: a probe unregistered during the step
        # leaves its pages present.
        if page is not None and page.count > 0 and not page.armed:
            write(page.addr, page.pte_addr, page.present & ~PTE_P)
            page.armed = True
            flush = True
        if ctx.extra:
            for page in ctx.extra:
                if page.count > 0 and not page.armed:
                    write(page.addr, page.pte_addr, page.present & ~PTE_P)
                    page.armed = True
                    flush = True
            ctx.extra.clear()
        if flush:
            self.cpu.flush_tlb()

    def _on_oops(self, _stop: object) -> None:
        # The run ended between a fault and its trap: the trap will never
        # come. Re-arm what the step opened, drop the trap flag, forget it.
        ctx = self.ctx
        if ctx.active:
            self._step.save()
            self._step.end_step(ctx.saved_flags)
            self._rearm_step_pages()
            ctx.active = False
            ctx.probe = None
            ctx.fpage = None

    def step_pages(self) -> list[int]:
        """Page bases open for the current step (tests, diagnostics)."""
        ctx = self.ctx
        if not ctx.active or ctx.fpage is None:
            return []
        return [ctx.fpage.addr] + [p.addr for p in ctx.extra]
