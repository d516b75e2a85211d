"""The faithful engine's per-access path in C (kmmio_step.c), and its Python side.

Every traced access is two CPU exceptions: the page fault and the debug trap
after the single step. Handled by Python, each costs a ctypes callback
(about a microsecond on its own) plus the handlers, ~6 µs an access in all;
the exceptions themselves cost unicorn ~0.4 µs. So the common case -- a
plain ``mov`` (readl/writel) on a page kmmio armed for one mapping, at a RIP
mmio-mod has already decoded -- is handled by a small C hook that does what
kmmio and mmio-mod's plain path do, in the same order, and appends the
record to a ring. Everything else (the first access at each RIP, other
instructions, shared or unaligned pages, faults that are not ours) reaches
the Python hook exactly as before: the C hook calls it.

Records reach the trace's ring buffer in batches (:meth:`NativeStep.drain`):
when the C ring is half full, before anything reads, clears or orders the
buffer (its ``feeder``), before a delay moves the clock, and while a reader
waits on trace_pipe. Timestamps are taken in C from the machine clock
(trace/clock.py): a 64-bit word that C advances by each stepped access's
cost and Python re-syncs whenever its own clock moves otherwise; converted
to the trace clock at drain time; for clocks that are not (``det``, ``counter``, ``uptime``) every record
is drained as it is made, so it is stamped at the same moment the Python path
would stamp it.

Re-arming a page needs its TLB entry gone. Unicorn's API only flushes the
whole TLB (~0.7 µs, and every other page's translation must be refilled);
its library also exports QEMU's ``helper_invlpg``, the ``invlpg``
instruction's helper, which drops one page. It is used only after a
start-up check on a scratch CPU proves it does (:func:`invlpg_address`).

The library is compiled on first use with the gcc that compiles drivers,
cached like driver objects. Without it (no gcc, or ``FTRACE_MMIO_NATIVE=0``)
the Python path does everything, with identical output.
"""

from __future__ import annotations

import ctypes
import functools
import struct
import threading
from pathlib import Path
from typing import Callable, Iterable

from unicorn import Uc
from unicorn import unicorn_const as ucc
from unicorn import x86_const as x86
from unicorn.unicorn_py3.unicorn import HOOK_INTR_CFUNC, uc_hook_h, uclib

from ..machine.cpu import _CTL_TLB_FLUSH, Cpu, _scratch_machine, find_env
from ..cbuild import NativeUnavailable, build
from .stepctx import _GPRS, context_offsets

SOURCE = Path(__file__).with_name("kmmio_step.c")
CFLAGS = ("-O2", "-shared", "-fPIC", "-fno-strict-aliasing", "-Wall", "-Werror")

#: Records the C ring holds (a power of two).
RING_RECORDS = 4096
NO_REG = -1

_u64 = ctypes.c_uint64
_i64 = ctypes.c_int64


def _words(*names: str, signed: Iterable[str] = ()) -> list[tuple[str, type]]:
    signed = set(signed)
    return [(n, _i64 if n in signed else _u64) for n in names]


class KsPage(ctypes.Structure):
    _fields_ = _words("va", "pte", "present", "probe_addr", "probe_len", "phys", "map_id")


class KsPlan(ctypes.Structure):
    _fields_ = _words("rip", "opcode", "width", "load", "at_fault", "value_reg", "base_reg", "index_reg",
                      "shift", "mask", "imm", "scale", "disp", "last",
                      signed=("value_reg", "base_reg", "index_reg"))


RECORD = struct.Struct("<7Q")     # struct ks_record: ts, phys, value, pc, map_id, opcode, width


class Ks(ctypes.Structure):
    _fields_ = [
        ("env", ctypes.c_void_p),
        *_words("off_eflags", "off_old", "off_cr2", "off_rip", signed=("off_eflags", "off_old", "off_cr2", "off_rip")),
        ("off_reg", _i64 * 17),
        ("pages", ctypes.c_void_p), ("page_mask", _u64),
        ("plans", ctypes.c_void_p), ("plan_mask", _u64),
        ("ring", ctypes.c_void_p), ("ring_mask", _u64),
        *_words("head", "tail", "high_water", "lost", "enabled", "exact", "trace_pc"),
        ("fallback", ctypes.c_void_p), ("drain", ctypes.c_void_p), ("invlpg", ctypes.c_void_p),
        ("ctl", ctypes.c_void_p), ("ctl_flush", _u64),
        *_words("active", "s_va", "s_pte", "s_present", "s_saved_flags", "s_rip", "s_phys", "s_map_id",
                "s_opcode", "s_width", "s_load", "s_early", "s_shift", "s_mask"),
        ("s_value_reg", _i64),
        ("stepped", _u64),
        ("clock", ctypes.c_void_p),
        *_words("read_cost", "write_cost"),
    ]


_DRAIN_CFUNC = ctypes.CFUNCTYPE(None)


@functools.cache
def library() -> ctypes.CDLL:
    """kmmio_step.c, compiled once per source and gcc (cached on disk) and loaded."""
    dll = build(SOURCE, CFLAGS)
    dll.ks_abort.argtypes = (ctypes.c_void_p, ctypes.c_void_p)
    dll.ks_abort.restype = None
    dll.ks_layout.restype = ctypes.c_uint64
    sizes = [dll.ks_layout() >> shift & 0xFFFF for shift in (0, 16, 32, 48)]
    mirror = [ctypes.sizeof(Ks), ctypes.sizeof(KsPage), ctypes.sizeof(KsPlan), RECORD.size]
    if sizes != mirror:
        raise NativeUnavailable(f"{SOURCE.name} and native.py disagree on struct sizes: {sizes} vs {mirror}")
    return dll


@functools.cache
def invlpg_address() -> int | None:
    """``helper_invlpg`` if it provably drops one page's translation, else None.

    On a scratch paged CPU: a load from a present page (its translation is
    now cached), the page made not present behind the TLB's back, a second
    load (must still succeed: the stale entry is used, so the check below
    means something), then helper_invlpg on that page and a third load,
    which must page-fault.
    """
    fn = getattr(uclib, "helper_invlpg_x86_64", None)
    if fn is None:
        return None
    address = ctypes.cast(fn, ctypes.c_void_p).value
    mu, where = _scratch_machine()
    try:
        env = find_env(mu)
        if env is None:
            return None
        page = where["ro"]
        code = where["code"]
        load = b"\x48\x8b\x04\x25" + struct.pack("<I", page)        # mov rax, [page]
        mu.mem_write(code, load)
        mu.reg_write(x86.UC_X86_REG_RSP, where["stack"] + 0x800)
        faults: list[int] = []

        def on_intr(_uch, intno, _ud):
            faults.append(intno)
            mu.emu_stop()

        cb = HOOK_INTR_CFUNC(on_intr)
        handle = uc_hook_h()
        uclib.uc_hook_add(mu._uch, ctypes.byref(handle), ucc.UC_HOOK_INTR, cb, None, 1, 0)

        def run() -> bool:
            faults.clear()
            mu.emu_start(code, code + len(load))
            return not faults

        pte = _pte_address(mu, page)
        present = struct.unpack("<Q", mu.mem_read(pte, 8))[0]
        if not run():
            return None
        mu.mem_write(pte, struct.pack("<Q", present & ~1))
        if not run():
            return None                  # nothing was cached: cannot tell
        ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64)(address)(env, page)
        if run():
            return None                  # still reachable: not a per-page flush
        uclib.uc_hook_del(mu._uch, handle)
        return address
    except Exception:  # noqa: BLE001 - any surprise means "use the full flush"
        return None


def _pte_address(mu: Uc, va: int) -> int:
    table = mu.reg_read(x86.UC_X86_REG_CR3) & ~0xFFF
    for shift in (39, 30, 21):
        entry = struct.unpack("<Q", mu.mem_read(table + 8 * ((va >> shift) & 511), 8))[0]
        table = entry & 0x000F_FFFF_FFFF_F000
    return table + 8 * ((va >> 12) & 511)


def _grow(count: int) -> int:
    """Table capacity for ``count`` keys: a power of two, at most half full."""
    size = 64
    while size < 2 * count:
        size *= 2
    return size


class NativeStep:
    """The C hook of one CPU, the tables it reads and the ring it fills.

    Tables change on the CPU thread only (where the hook runs), between
    exceptions; ``drain`` may run on any thread.
    """

    def __init__(self, cpu: Cpu, *, exact: bool, trace_pc: bool,
                 sink: Callable[[Iterable[tuple[int, ...]], int], None]) -> None:
        if cpu.env is None:
            raise NativeUnavailable("the live CPU state was not found")
        self.lib = library()
        self.cpu = cpu
        self.sink = sink
        self.k = k = Ks()
        header = cpu.ctx_header
        eflags, gprs = context_offsets()
        k.env = cpu.env
        k.off_eflags = eflags - header
        k.off_old = cpu.layout.old_exception - header
        k.off_cr2 = cpu.layout.cr2 - header
        k.off_rip = cpu.layout.rip - header
        #: uc register id -> index in off_reg
        self.reg_index = {reg: i for i, reg in enumerate(_GPRS)}
        for i, reg in enumerate(_GPRS):
            k.off_reg[i] = gprs[reg] - header
        self._ring = (ctypes.c_char * (RING_RECORDS * RECORD.size))()
        self._ring_addr = ctypes.addressof(self._ring)
        k.ring = self._ring_addr
        k.ring_mask = RING_RECORDS - 1
        k.high_water = RING_RECORDS // 2
        k.exact = int(exact)
        k.trace_pc = int(trace_pc)
        self._drain_cb = _DRAIN_CFUNC(self._drain_from_c)
        k.drain = ctypes.cast(self._drain_cb, ctypes.c_void_p).value
        k.fallback = cpu.exception_hook_address
        invlpg = invlpg_address()
        k.invlpg = invlpg or 0
        k.ctl = ctypes.cast(uclib.uc_ctl, ctypes.c_void_p).value
        k.ctl_flush = _CTL_TLB_FLUSH
        #: Whether one page is dropped from the TLB (else the whole TLB).
        self.per_page_flush = invlpg is not None
        self._pages: dict[int, KsPage] = {}
        self._page_table = None
        self._plans: dict[int, KsPlan] = {}
        self._plan_table = None
        self._retired: list[object] = []
        self._lock = threading.Lock()
        self._routed = False
        self._lost_seen = 0
        self.hook_address = ctypes.cast(self.lib.ks_intr, ctypes.c_void_p).value
        cpu.add_oops_handler(self.abort)

    # -- set-up (CPU thread) -------------------------------------------------

    def route(self, on: bool) -> None:
        """Put the C hook in front of the CPU's exception dispatch, or take it out."""
        if on == self._routed:
            return
        if on:
            self.cpu.route_exceptions(self.hook_address, ctypes.addressof(self.k))
        else:
            self.cpu.route_exceptions(None)
        self._routed = on
        self.k.enabled = int(on)

    def set_synchronous(self, sync: bool) -> None:
        """Hand every record over as it is made (clocks C cannot read), or in batches."""
        self.k.high_water = 1 if sync else RING_RECORDS // 2

    def set_clock(self, address: int | None, read_cost: int = 0, write_cost: int = 0) -> None:
        """Stamp records with the 64-bit word at ``address`` (the machine
        clock as C sees it, TimeBase.c_clock), adding ``read_cost`` or
        ``write_cost`` to it per stepped access; None: CLOCK_MONOTONIC."""
        self.k.read_cost, self.k.write_cost = read_cost, write_cost
        self.k.clock = address

    def in_flight_cost(self) -> int:
        """What the access being stepped will add to the C clock at its trap:
        the device path has charged it already (TimeBase.c_clock)."""
        k = self.k
        if not k.active:
            return 0
        return k.read_cost if k.s_load else k.write_cost

    def is_active(self) -> bool:
        """A C step is in flight (between its fault and its trap)."""
        return bool(self.k.active)

    @property
    def stepped(self) -> int:
        """Accesses handled in C so far."""
        return self.k.stepped

    def update_pages(self, add: Iterable[tuple[int, int, int, int, int, int, int]] = (),
                     remove: Iterable[int] = ()) -> None:
        """Add pages -- (va, PTE host address, PTE with P, probe addr, probe len,
        phys, map id) -- and remove others (by va); one table rebuild."""
        changed = False
        for va in remove:
            changed |= self._pages.pop(va, None) is not None
        for fields in add:
            self._pages[fields[0]] = KsPage(*fields)
            changed = True
        if changed:
            self._rebuild_pages()

    def _rebuild_pages(self) -> None:
        self._retire(self._page_table)
        self._page_table, self.k.page_mask, self.k.pages = self._table(KsPage, self._pages.values(), "va")

    def _retire(self, table: object) -> None:
        # Tables change between exceptions, but keep the one just replaced
        # alive a while longer: freeing memory the hook may still point at
        # is the one mistake here that would not be a wrong trace but a crash.
        if table is not None:
            self._retired = (self._retired + [table])[-4:]

    def add_plan(self, rip: int, plan: KsPlan) -> None:
        plan.rip = rip
        self._plans[rip] = plan
        if self._plan_table is None or 2 * len(self._plans) > self.k.plan_mask + 1:
            self._retire(self._plan_table)
            self._plan_table, self.k.plan_mask, self.k.plans = self._table(KsPlan, self._plans.values(), "rip")
        else:
            self._insert(self._plan_table, self.k.plan_mask, plan, rip)

    def clear_plans(self) -> None:
        self._plans.clear()
        self.k.plans = None
        self._retire(self._plan_table)
        self._plan_table, self.k.plan_mask = None, 0

    def _table(self, kind: type, items: Iterable[ctypes.Structure], key: str):
        items = list(items)
        if not items:
            return None, 0, None
        size = _grow(len(items))
        table = (kind * size)()
        for item in items:
            self._insert(table, size - 1, item, getattr(item, key))
        return table, size - 1, ctypes.addressof(table)

    @staticmethod
    def _insert(table, mask: int, item: ctypes.Structure, key: int) -> None:
        # The same probe sequence as kmmio_step.c's slot().
        i = ((key * 0x9E37_79B9_7F4A_7C15) & 0xFFFF_FFFF_FFFF_FFFF) >> 20 & mask
        first = item._fields_[0][0]
        while getattr(table[i], first) not in (0, key):
            i = (i + 1) & mask
        ctypes.memmove(ctypes.byref(table, i * ctypes.sizeof(item)), ctypes.byref(item), ctypes.sizeof(item))

    def plan(self, opcode: int, width: int, load: bool, at_fault: bool, value_reg: int | None, base: int | None,
             index: int | None, shift: int, mask: int, imm: int, scale: int, disp: int, span: int) -> KsPlan | None:
        """A C plan, or None if a register is not one the C side can read."""
        regs = []
        for reg in (value_reg, base, index):
            if reg is None:
                regs.append(NO_REG)
            elif reg in self.reg_index:
                regs.append(self.reg_index[reg])
            else:
                return None
        return KsPlan(0, opcode, width, int(load), int(at_fault), *regs, shift, mask, imm & 0xFFFF_FFFF_FFFF_FFFF,
                      scale, disp & 0xFFFF_FFFF_FFFF_FFFF, max(span, 1) - 1)

    def abort(self, _stop: object = None) -> None:
        """The run ended mid-step (an oops): re-arm the page, drop TF."""
        if self.k.active:
            self.lib.ks_abort(ctypes.addressof(self.k), self.cpu.uch)

    # -- records (any thread) ----------------------------------------------------

    def _drain_from_c(self) -> None:
        try:
            self.drain()
        except BaseException as exc:  # noqa: BLE001 - must not escape into C
            self.cpu.stop(self.cpu._internal_error(exc))

    def drain(self) -> None:
        """Hand the records made since the last drain to the sink, oldest first."""
        k = self.k
        if k.head == k.tail and k.lost == self._lost_seen:
            return
        with self._lock:
            head, tail = k.head, k.tail
            lost = k.lost - self._lost_seen
            self._lost_seen += lost
            n = head - tail
            if not n and not lost:
                return
            size = RECORD.size
            start = tail & (RING_RECORDS - 1)
            first = min(n, RING_RECORDS - start)
            raw = ctypes.string_at(self._ring_addr + start * size, first * size)
            if n > first:
                raw += ctypes.string_at(self._ring_addr, (n - first) * size)
            k.tail = head
            self.sink(raw, lost)  # packed RECORDs, written into the trace's pages as they are
