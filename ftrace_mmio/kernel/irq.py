"""kernel/irq: interrupt descriptors, request/free, masking, counting, MSI.

The machine's InterruptController (machine/irq.py) is the hardware: IO-APIC
pins and the local APIC's pending vectors.  This is the kernel's genirq on
top of it, x86 flavoured:

- Interrupt numbers: an INTx line is its GSI (the IO-APIC pin), as on x86;
  MSI/MSI-X interrupts get new numbers from 24 up, the lowest free first.
  Each gets a CPU vector when set up (the IO-APIC pin is programmed with
  it, or the MSI message data names it).
- Descriptors live here (handler lists are linked in guest memory for the
  dispatcher in core/irq.c to walk: ``irq_action_heads[]``,
  ``irqaction.next``); so do the disable depth, the per-interrupt counts
  /proc/interrupts shows, and the spurious-interrupt detector ("nobody
  cared" after 99,900 of 100,000 unhandled).
- ``irq_pending_word`` (kernel data) is nonzero while some interrupt is
  deliverable; guest code polls it (asm/irq_check.h).
"""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass, field
from typing import Any

from .api import Subsystem, _s32, _u32, export

NR_IRQS = 256                  # core/irq.c: IRQ_NR_DESCS
NR_LEGACY_IRQS = 24            # IO-APIC pins; MSI numbers start here
FIRST_VECTOR = 0x21            # x86 puts device vectors above the exceptions
LAST_VECTOR = 0xEB

IRQ_NONE, IRQ_HANDLED, IRQ_WAKE_THREAD = 0, 1, 2
IRQF_SHARED, IRQF_PROBE_SHARED, IRQF_ONESHOT, IRQF_NO_AUTOEN = 0x80, 0x100, 0x2000, 0x80000
IRQF_TRIGGER_MASK = 0xF
PCI_IRQ_INTX, PCI_IRQ_MSI, PCI_IRQ_MSIX = 1, 2, 4
IRQ_NOTCONNECTED = 1 << 31

# struct irqaction (linux/interrupt.h, checked there)
ACT_HANDLER, ACT_DEV_ID, ACT_NEXT, ACT_THREAD_FN = 0, 8, 16, 24
ACT_IRQ, ACT_FLAGS, ACT_THREAD_FLAGS, ACT_NAME = 32, 36, 40, 48
ACTION = struct.Struct("<QQQQIIQQ")

# The spurious-interrupt detector's numbers (kernel/irq/spurious.c).
SPURIOUS_WINDOW = 100_000
SPURIOUS_LIMIT = 99_900
BAD_IRQ_REPORTS = 100

HZ = 250
NSEC_PER_JIFFY = 1_000_000_000 // HZ

MSI_ADDRESS = 0xFEE00000       # local APIC 0, physical destination mode


@dataclass
class Action:
    va: int
    handler: int
    thread_fn: int
    dev_id: int
    flags: int
    name_va: int
    name: str
    module: str | None


@dataclass
class IrqDesc:
    irq: int
    chip: str                      # "IO-APIC" or "PCI-MSI"
    hwirq: int
    flow: str                      # "fasteoi" (level) or "edge"
    vector: int | None = None
    actions: list[Action] = field(default_factory=list)
    depth: int = 1                 # disabled until requested, as the kernel's
    count: int = 0                 # kstat: deliveries
    irq_count: int = 0             # the detector's window
    irqs_unhandled: int = 0
    last_unhandled: int = -(1 << 62)   # jiffies of the last IRQ_NONE
    spurious_disabled: bool = False
    oneshot_masked: bool = False
    bad_reports: int = 0
    pci: Any = None                # the function an MSI interrupt belongs to


@dataclass
class PciIrqState:
    mode: str | None = None        # None (INTx), "msi" or "msix"
    irqs: list[int] = field(default_factory=list)
    owner: str | None = None       # the module that allocated them


class Irq(Subsystem):
    """request_irq and friends; the interrupt side of the PCI core."""

    name = "irq"

    def __init__(self, api) -> None:
        super().__init__(api)
        self._pending_va = api.data_symbol("irq_pending_word", 8, 8)
        self._preempt_va = api.data_symbol("__preempt_count", 4, 8)
        self.descs: dict[int, IrqDesc] = {}
        self.vector_irq: dict[int, int] = {}
        self.pci_state: dict[int, PciIrqState] = {}        # id(PciDevice) -> state
        self._heads_va = 0
        self._default_primary = 0

    # ---- boot --------------------------------------------------------------------

    def boot(self) -> None:
        self._heads_va = self.machine.resolve("irq_action_heads") or 0
        self._default_primary = self.machine.resolve("irq_default_primary_handler") or 0
        chip = self.machine.irqchip
        chip.on_pending = self._set_pending_word
        chip.on_error = lambda text: self.machine.log.log(4, f"spurious APIC interrupt: {text}")
        # Every IO-APIC pin is an interrupt number, as on x86.
        for gsi in range(NR_LEGACY_IRQS):
            self.descs[gsi] = IrqDesc(gsi, "IO-APIC", gsi, "fasteoi")
        self._set_pending_word(chip.pending())

    def _set_pending_word(self, pending: bool) -> None:
        self.cpu.write_phys(self.mm.virt_to_phys(self._pending_va), (1 if pending else 0).to_bytes(8, "little"))

    def task_begin(self) -> None:
        """A top-level call starts in a fresh task: preempt count 0 (an oops
        inside a handler or under a spinlock must not leave it raised)."""
        if self.mm.read_uint(self._preempt_va, 4):
            self.mm.write_uint(self._preempt_va, 4, 0)

    def preempt_count(self) -> int:
        return _s32(self.mm.read_uint(self._preempt_va, 4))

    # ---- descriptors and vectors ---------------------------------------------------

    def _alloc_vector(self, irq: int) -> int:
        for vector in range(FIRST_VECTOR, LAST_VECTOR + 1):
            if vector not in self.vector_irq:
                self.vector_irq[vector] = irq
                return vector
        raise OSError(errno.ENOSPC, "out of interrupt vectors")

    def _free_vector(self, desc: IrqDesc) -> None:
        if desc.vector is not None:
            self.machine.irqchip.set_vector_masked(desc.vector, False)
            self.machine.irqchip.reset_vector(desc.vector)
            self.vector_irq.pop(desc.vector, None)
            desc.vector = None

    def _sync_mask(self, desc: IrqDesc) -> None:
        """The line is delivered only while enabled (depth 0) and not held
        for a oneshot thread; masked vectors stay pending."""
        if desc.vector is not None:
            masked = desc.depth > 0 or desc.oneshot_masked
            self.machine.irqchip.set_vector_masked(desc.vector, masked)

    def _startup(self, desc: IrqDesc) -> None:
        if desc.vector is None:
            desc.vector = self._alloc_vector(desc.irq)
        if desc.chip == "IO-APIC":
            self.machine.irqchip.program_pin(desc.hwirq, desc.vector, masked=False)
        self._sync_mask(desc)

    def _shutdown(self, desc: IrqDesc) -> None:
        if desc.chip == "IO-APIC":
            if desc.vector is not None:
                self.machine.irqchip.program_pin(desc.hwirq, desc.vector, masked=True)
            self._free_vector(desc)
        elif desc.vector is not None:
            self.machine.irqchip.set_vector_masked(desc.vector, True)

    def _write_links(self, desc: IrqDesc) -> None:
        """Link the handler list in guest memory, in request order."""
        vas = [a.va for a in desc.actions]
        for va, nxt in zip(vas, vas[1:] + [0]):
            self.mm.write_uint(va + ACT_NEXT, 8, nxt)
        if self._heads_va:
            self.mm.write_uint(self._heads_va + 8 * desc.irq, 8, vas[0] if vas else 0)

    # ---- the dispatcher's calls (core/irq.c) ----------------------------------------

    @export("__irq_next", nargs=2)
    def irq_next(self, prev: int, prev_ret: int) -> int:
        """Account for the interrupt just handled (``prev``, -1 for none,
        its handlers' OR-ed result), then the next one to handle, or -1:
        highest vector first.  One call per delivery keeps storms cheap."""
        if prev >> 63 == 0:
            self.irq_done(prev, prev_ret)
        chip = self.machine.irqchip
        while True:
            vector = chip.next_pending()
            if vector is None:
                return -1 & 0xFFFF_FFFF_FFFF_FFFF
            irq = self.vector_irq.get(vector)
            if irq is not None and irq in self.descs:
                self.descs[irq].count += 1
                return irq
            self.machine.log.log(3, f"__common_interrupt: 0.{vector} No irq handler for vector")

    def irq_done(self, irq: int, ret: int) -> None:
        desc = self.descs.get(_u32(irq))
        if desc is None:
            return
        ret = _u32(ret)
        if ret & IRQ_WAKE_THREAD and any(a.flags & IRQF_ONESHOT for a in desc.actions):
            # IRQF_ONESHOT: the line stays masked until the thread is done.
            desc.oneshot_masked = True
            self._sync_mask(desc)
        self._note_interrupt(desc, ret)

    @export("__irq_thread_done", nargs=1)
    def irq_thread_done(self, irq: int) -> None:
        desc = self.descs.get(_u32(irq))
        if desc is None or not desc.oneshot_masked:
            return
        woken = any(self.mm.read_uint(a.va + ACT_THREAD_FLAGS, 8) & 1 for a in desc.actions)
        if not woken:
            desc.oneshot_masked = False
            self._sync_mask(desc)

    @export("__irq_handler_enabled_irqs", nargs=2)
    def handler_enabled_irqs(self, irq: int, handler: int) -> None:
        self._warn(f"irq {_u32(irq)} handler {self._sym(handler)} enabled interrupts")

    def _warn(self, message: str) -> None:
        """A kernel WARN(): the message, then where (the caller of this call)."""
        log = self.machine.log
        caller = self.api._caller() - 5
        log.log(4, "------------[ cut here ]------------")
        log.log(4, message)
        log.log(4, f"WARNING: CPU: 0 PID: 1 at kernel/irq {self.machine.symbolize(caller)}")
        log.log(4, "---[ end trace 0000000000000000 ]---")

    def _sym(self, va: int) -> str:
        """%ps: the symbol without offset, with its module."""
        text = self.machine.symbolize(va, with_size=False)
        head, _, rest = text.partition(" ")
        return head.split("+")[0] + (f" {rest}" if rest else "")

    def _note_interrupt(self, desc: IrqDesc, ret: int) -> None:
        """The kernel's spurious-interrupt accounting (note_interrupt)."""
        log = self.machine.log
        if ret > (IRQ_HANDLED | IRQ_WAKE_THREAD):
            if desc.bad_reports < BAD_IRQ_REPORTS:
                desc.bad_reports += 1
                log.log(3, f"irq event {desc.irq}: bogus return value {ret:x}")
                self._report_handlers(desc)
            return
        if ret == IRQ_NONE:
            # A run of unhandled interrupts counts only if they come close
            # together (within HZ/10); one after a long quiet restarts it.
            jiffies = self.machine.time_base.now_ns() // NSEC_PER_JIFFY
            if jiffies - desc.last_unhandled > HZ // 10:
                desc.irqs_unhandled = 1
            else:
                desc.irqs_unhandled += 1
            desc.last_unhandled = jiffies
        desc.irq_count += 1
        if desc.irq_count < SPURIOUS_WINDOW:
            return
        desc.irq_count = 0
        if desc.irqs_unhandled > SPURIOUS_LIMIT:
            log.log(3, f'irq {desc.irq}: nobody cared (try booting with the "irqpoll" option)')
            self._report_handlers(desc)
            log.log(0, f"Disabling IRQ #{desc.irq}")
            desc.spurious_disabled = True
            desc.depth += 1
            self._sync_mask(desc)
        desc.irqs_unhandled = 0

    def _report_handlers(self, desc: IrqDesc) -> None:
        log = self.machine.log
        hashed = self.machine.formatter.hash_pointer
        log.log(3, "handlers:")
        for a in desc.actions:
            line = f"[<{hashed(a.handler):016x}>] {self._sym(a.handler)}"
            if a.thread_fn:
                line += f" threaded [<{hashed(a.thread_fn):016x}>] {self._sym(a.thread_fn)}"
            log.log(3, line)

    # ---- request / free ----------------------------------------------------------------

    @export("__irq_setup", nargs=2)
    def irq_setup(self, irq: int, action_va: int) -> int:
        irq = _u32(irq)
        desc = self.descs.get(irq)
        if desc is None:
            return -errno.EINVAL
        handler, dev_id, _, thread_fn, _, flags, _, name_va = ACTION.unpack(self.mm.read(action_va, ACTION.size))
        name = self.mm.read_cstring(name_va, 64).decode("utf-8", "replace") if name_va else ""
        log = self.machine.log
        if flags & IRQF_NO_AUTOEN and flags & (IRQF_SHARED | IRQF_PROBE_SHARED):
            return -errno.EINVAL
        if handler == self._default_primary and not flags & IRQF_ONESHOT and desc.chip == "IO-APIC":
            # A level line would fire again before the thread could quiet the device.
            log.log(3, f"genirq: Threaded irq requested with handler=NULL and !ONESHOT for {name} (irq {irq})")
            return -errno.EINVAL
        if desc.actions:
            old = desc.actions[0]
            mismatch = not (old.flags & flags & IRQF_SHARED) or \
                (old.flags ^ flags) & IRQF_ONESHOT or \
                (old.flags & IRQF_TRIGGER_MASK and flags & IRQF_TRIGGER_MASK
                 and (old.flags ^ flags) & IRQF_TRIGGER_MASK)
            if mismatch:
                if not flags & IRQF_PROBE_SHARED:
                    log.log(3, f"genirq: Flags mismatch irq {irq}. {flags:08x} ({name}) vs. "
                               f"{old.flags:08x} ({old.name})")
                return -errno.EBUSY
        mod = self.machine.current_module
        desc.actions.append(Action(action_va, handler, thread_fn, dev_id, flags, name_va, name,
                                   mod.name if mod is not None else None))
        self._write_links(desc)
        if len(desc.actions) == 1:
            desc.spurious_disabled = False
            desc.irq_count = desc.irqs_unhandled = 0
            desc.oneshot_masked = False
            desc.depth = 1 if flags & IRQF_NO_AUTOEN else 0
            self._startup(desc)
        return 0

    @export("__irq_remove", nargs=2)
    def irq_remove(self, irq: int, dev_id: int) -> int:
        irq = _u32(irq)
        desc = self.descs.get(irq)
        if self.preempt_count() & 0xFF_FF00:           # in_interrupt(): hardirq, softirq or NMI
            self._warn(f"Trying to free IRQ {irq} from IRQ context!")
        found = None
        if desc is not None:
            found = next((a for a in desc.actions if a.dev_id == dev_id), None)
        if found is None:
            self._warn(f"Trying to free already-free IRQ {irq}")
            return 0
        self._unlink(desc, found)
        return found.va

    def _unlink(self, desc: IrqDesc, action: Action) -> None:
        desc.actions.remove(action)
        self._write_links(desc)
        self.mm.write_uint(action.va + ACT_NEXT, 8, 0)
        if not desc.actions:
            desc.depth = 1
            desc.oneshot_masked = False
            self._shutdown(desc)
            self._sync_mask(desc)

    # ---- enable / disable --------------------------------------------------------------

    @export("__irq_disable", nargs=1)
    def irq_disable(self, irq: int) -> None:
        desc = self.descs.get(_u32(irq))
        if desc is None:
            return
        desc.depth += 1
        self._sync_mask(desc)

    @export("__irq_enable", nargs=1)
    def irq_enable(self, irq: int) -> None:
        irq = _u32(irq)
        desc = self.descs.get(irq)
        if desc is None:
            return
        if not desc.actions:
            self._warn(f"enable_irq before setup/request_irq: irq {irq}")
            return
        if desc.depth == 0:
            self._warn(f"Unbalanced enable for IRQ {irq}")
            return
        desc.depth -= 1
        if desc.depth == 0:
            desc.spurious_disabled = False
        self._sync_mask(desc)

    # ---- PCI: INTx, MSI, MSI-X -----------------------------------------------------------

    def _state(self, dev) -> PciIrqState:
        return self.pci_state.setdefault(id(dev), PciIrqState())

    @export("__pci_irq_mode", nargs=1)
    def pci_irq_mode(self, dev_va: int) -> int:
        mode = self._state(self.api.pci._pdev(dev_va)).mode
        return {None: 0, "msi": 1, "msix": 2}[mode]

    @export("__pci_dev_irq", nargs=1)
    def pci_dev_irq(self, dev_va: int) -> int:
        """What pdev->irq holds: the MSI interrupt while MSI is on, else the INTx line."""
        dev = self.api.pci._pdev(dev_va)
        state = self._state(dev)
        return state.irqs[0] if state.mode == "msi" else int(dev.irq or 0)

    @export(nargs=2)
    def pci_irq_vector(self, dev_va: int, nr: int) -> int:
        dev = self.api.pci._pdev(dev_va)
        state = self._state(dev)
        nr = _u32(nr)
        if state.mode is not None:
            return state.irqs[nr] if nr < len(state.irqs) else -errno.EINVAL
        return int(dev.irq or 0) if nr == 0 else -errno.EINVAL

    @export(nargs=1)
    def pci_msi_vec_count(self, dev_va: int) -> int:
        dev = self.api.pci._pdev(dev_va)
        return dev.model.msi_vectors if getattr(dev, "msi_cap", 0) else -errno.EINVAL

    @export(nargs=1)
    def pci_msix_vec_count(self, dev_va: int) -> int:
        dev = self.api.pci._pdev(dev_va)
        return dev.model.msix.vectors if getattr(dev, "msix_cap", 0) else -errno.EINVAL

    @export(nargs=2)
    def pci_find_capability(self, dev_va: int, cap: int) -> int:
        dev = self.api.pci._pdev(dev_va)
        if not dev.config_read(0x06, 2) & 0x10:
            return 0
        at, seen = dev.config_read(0x34, 1) & ~3, 0
        while at and seen < 48:
            if dev.config_read(at, 1) == _u32(cap) & 0xFF:
                return at
            at, seen = dev.config_read(at + 1, 1) & ~3, seen + 1
        return 0

    @export(nargs=2)
    def pci_intx(self, dev_va: int, enable: int) -> None:
        dev = self.api.pci._pdev(dev_va)
        cmd = dev.config_read(0x04, 2)
        new = cmd & ~0x400 if _s32(enable) else cmd | 0x400
        if new != cmd:
            dev.config_write(0x04, 2, new)

    @export("__pci_alloc_irq_vectors", nargs=5)
    def pci_alloc_irq_vectors(self, dev_va: int, min_vecs: int, max_vecs: int, flags: int,
                              entries: int) -> int:
        dev = self.api.pci._pdev(dev_va)
        state = self._state(dev)
        lo, hi, flags = _u32(min_vecs), _u32(max_vecs), _u32(flags)
        if state.mode is not None:
            self._warn(f"{_slot(dev)}: MSI or MSI-X already enabled")
            return -errno.EINVAL
        if hi < lo:
            return -errno.ERANGE
        err = -errno.ENOSPC
        if flags & PCI_IRQ_MSIX:
            if getattr(dev, "msix_cap", 0):
                n = min(dev.model.msix.vectors, hi)
                if n >= lo and n > 0:
                    return self._enable_msix(dev, state, n, entries)
                err = -errno.ENOSPC
            else:
                err = -errno.EINVAL
        if flags & PCI_IRQ_MSI:
            if getattr(dev, "msi_cap", 0):
                # x86 without interrupt remapping cannot give a function
                # several MSI vectors: the kernel falls back to one.
                if lo <= 1 <= hi:
                    return self._enable_msi(dev, state)
                err = -errno.ENOSPC
            else:
                err = -errno.EINVAL
        if flags & PCI_IRQ_INTX and lo == 1 and dev.irq and getattr(dev.model, "interrupt_pin", 1):
            self.pci_intx(dev_va, 1)
            return 1
        return err

    def _new_msi_irq(self, dev, entry: int) -> IrqDesc:
        irq = next(i for i in range(NR_LEGACY_IRQS, NR_IRQS) if i not in self.descs)
        bus, devfn = dev.slot
        desc = IrqDesc(irq, "PCI-MSI", (bus << 8 | devfn) << 11 | entry, "edge", pci=dev)
        self.descs[irq] = desc
        desc.vector = self._alloc_vector(irq)
        self._sync_mask(desc)          # masked (depth 1) until requested
        return desc

    def _enable_msi(self, dev, state: PciIrqState) -> int:
        from ..machine.pci import (PCI_MSI_ADDRESS_HI, PCI_MSI_ADDRESS_LO, PCI_MSI_DATA_64,
                                   PCI_MSI_FLAGS, PCI_MSI_FLAGS_ENABLE, PCI_MSI_FLAGS_QSIZE)
        desc = self._new_msi_irq(dev, 0)
        cap = dev.msi_cap
        self.pci_intx(self._va(dev), 0)
        dev.config_write(cap + PCI_MSI_ADDRESS_LO, 4, MSI_ADDRESS)
        dev.config_write(cap + PCI_MSI_ADDRESS_HI, 4, 0)
        dev.config_write(cap + PCI_MSI_DATA_64, 2, desc.vector)
        flags = dev.config_read(cap + PCI_MSI_FLAGS, 2) & ~PCI_MSI_FLAGS_QSIZE
        dev.config_write(cap + PCI_MSI_FLAGS, 2, flags | PCI_MSI_FLAGS_ENABLE)
        state.mode, state.irqs = "msi", [desc.irq]
        state.owner = self._owner()
        return 1

    def _enable_msix(self, dev, state: PciIrqState, n: int, entries: int) -> int:
        from ..machine.pci import PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, PCI_MSIX_FLAGS_MASKALL
        cap = dev.msix_cap
        indexes = list(range(n))
        if entries:
            indexes = [self.mm.read_uint(entries + 8 * i + 4, 2) for i in range(n)]
            if any(i >= dev.model.msix.vectors for i in indexes) or len(set(indexes)) != n:
                return -errno.EINVAL
        self.pci_intx(self._va(dev), 0)
        ctrl = dev.config_read(cap + PCI_MSIX_FLAGS, 2)
        dev.config_write(cap + PCI_MSIX_FLAGS, 2, ctrl | PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL)
        irqs = []
        for k, index in enumerate(indexes):
            desc = self._new_msi_irq(dev, index)
            dev.msix_write_entry(index, MSI_ADDRESS, desc.vector, masked=False)
            irqs.append(desc.irq)
            if entries:
                self.mm.write_uint(entries + 8 * k, 4, desc.irq)
        state.mode, state.irqs = "msix", irqs
        state.owner = self._owner()
        ctrl = dev.config_read(cap + PCI_MSIX_FLAGS, 2)
        dev.config_write(cap + PCI_MSIX_FLAGS, 2, ctrl & ~PCI_MSIX_FLAGS_MASKALL)
        return n

    @export("__pci_free_irq_vectors", nargs=2)
    def pci_free_irq_vectors(self, dev_va: int, which: int) -> None:
        self._free_vectors(self.api.pci._pdev(dev_va), _u32(which))

    def _free_vectors(self, dev, which: int = PCI_IRQ_MSI | PCI_IRQ_MSIX) -> None:
        from ..machine.pci import PCI_MSI_FLAGS, PCI_MSI_FLAGS_ENABLE, PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE
        state = self._state(dev)
        if state.mode is None or not which & (PCI_IRQ_MSI if state.mode == "msi" else PCI_IRQ_MSIX):
            return
        for irq in state.irqs:
            desc = self.descs.get(irq)
            if desc is None:
                continue
            if desc.actions:
                # The kernel BUGs here; we warn and drop the handlers.
                self._warn(f"{_slot(dev)}: freeing MSI irq {irq} that still has a handler "
                                      f"({desc.actions[0].name})")
                for a in list(desc.actions):
                    self._unlink(desc, a)
                    self.mm.kfree(a.va)
            self._free_vector(desc)
            del self.descs[irq]
        if state.mode == "msi":
            cap = dev.msi_cap
            dev.config_write(cap + PCI_MSI_FLAGS, 2, dev.config_read(cap + PCI_MSI_FLAGS, 2) & ~PCI_MSI_FLAGS_ENABLE)
        else:
            cap = dev.msix_cap
            dev.config_write(cap + PCI_MSIX_FLAGS, 2,
                             dev.config_read(cap + PCI_MSIX_FLAGS, 2) & ~PCI_MSIX_FLAGS_ENABLE)
        state.mode, state.irqs, state.owner = None, [], None
        self.pci_intx(self._va(dev), 1)

    def _va(self, dev) -> int:
        return self.api.pci.pci_va[id(dev)]

    def _owner(self) -> str | None:
        mod = self.machine.current_module
        return mod.name if mod is not None else None

    # ---- module unload ----------------------------------------------------------------

    def module_unloaded(self, module: Any) -> None:
        """Handlers a module left requested would run freed code: drop them
        (the kernel would crash later; we say so now)."""
        for desc in list(self.descs.values()):
            for a in list(desc.actions):
                if module.contains(a.handler) or (a.thread_fn and module.contains(a.thread_fn)) \
                        or a.module == module.name:
                    self.machine.log.log(4, f"{module.name}: irq {desc.irq} ({a.name}) still requested "
                                            "at unload; freed")
                    self._unlink(desc, a)
                    try:
                        self.mm.kfree(a.va)
                    except KeyError:
                        pass
        for dev in getattr(self.machine.pci_bus, "devices", ()):
            state = self.pci_state.get(id(dev))
            if state is not None and state.mode is not None and state.owner == module.name:
                self._free_vectors(dev)
                va = self.api.pci.pci_va.get(id(dev))
                if va:
                    self._write_pdev_irq(va, int(dev.irq or 0))

    def _write_pdev_irq(self, va: int, irq: int) -> None:
        """pdev->irq back to the INTx line, msi_enabled/msix_enabled off
        (offsets asserted in linux/pci.h, named in kernel/pci.py)."""
        from . import pci as pcicore
        self.mm.write_uint(va + 28, 4, irq)
        flags_off = getattr(pcicore, "PCI_DEV_FLAGS_OFF", None)
        if flags_off is not None:
            flags = self.mm.read_uint(va + flags_off, 4)
            self.mm.write_uint(va + flags_off, 4, flags & ~0b1100)

    # ---- /proc/interrupts ---------------------------------------------------------------

    def interrupts(self) -> list[dict[str, Any]]:
        """Every interrupt with a handler or a count, as /proc/interrupts lists them."""
        out = []
        for irq in sorted(self.descs):
            d = self.descs[irq]
            if not d.actions and not d.count:
                continue
            out.append({"irq": irq, "count": d.count, "chip": d.chip, "hwirq": d.hwirq,
                        "flow": d.flow, "names": [a.name for a in d.actions],
                        "disabled": d.depth > 0, "spurious_disabled": d.spurious_disabled,
                        "unhandled": d.irqs_unhandled, "vector": d.vector})
        return out

    def proc_interrupts(self) -> str:
        """/proc/interrupts for the one CPU."""
        prec = 3
        lines = [" " * (prec + 8) + f"{'CPU0':<11}"]
        for row in self.interrupts():
            text = f"{row['irq']:>{prec}}: {row['count']:>10} {row['chip']:>8} {row['hwirq']:>{prec}}-{row['flow']:<8}"
            if row["names"]:
                text += "  " + ", ".join(row["names"])
            lines.append(text)
        lines.append(f"{'ERR':>{prec}}: {self.machine.irqchip.stats.spurious:>10}")
        return "".join(line + "\n" for line in lines)


def _slot(dev) -> str:
    bus, devfn = dev.slot
    return f"0000:{bus:02x}:{devfn >> 3:02x}.{devfn & 7}"
