"""The emulated x86-64 CPU: unicorn 2.1.4 with real 4-level paging.

One interrupt hook receives every exception the guest raises and hands it to
the handlers other components registered: page faults (vector 14, and 8 -- see
below) to the fault handlers (kmmio), debug traps (vector 1) to the debug
handlers.  Whatever nobody claims becomes an oops: the CPU records why it
stopped and ends the emulation run.

Three unicorn quirks shape this file (emulation.md §7):

* P1: unicorn hands exceptions to the hook but never runs the code that
  resets ``env->old_exception``.  Left alone, the second page fault arrives
  as a double fault (8) and the third ends emulation silently as a triple
  fault.  We reset it through a saved CPU context after every exception
  but #DB (which does not set it);
  the byte offsets inside that context are found at start-up by a
  self-test (:func:`calibrate`) that refuses to continue on a unicorn whose
  layout it does not recognise.
* P2: the page-fault error code has no register; it is read from the same
  context copy.
* P13: a triple fault, a ``hlt`` or a timer stop all look like a normal end
  of ``emu_start``; :meth:`Cpu.run` therefore checks that RIP really is the
  address the call was meant to return to.

Found while building this (docs/machine.md, P15-P17): after a run that an
exception hook ended with emu_stop, ``old_exception`` is found set again
when ``emu_start`` returns, so it is reset before every ``emu_start`` too; a stop address
at the first byte of a page whose predecessor is unmapped draws a bogus
fetch fault (the caller keeps its return pad off page starts); reading
EFLAGS fills only 4 bytes of the buffer.

Hot calls (register access, physical memory, hooks) go straight to the C
library through ctypes: the stock binding costs 1-3 µs more per call (§3.3).
Every method must be called on the machine's CPU thread.
"""

from __future__ import annotations

import ctypes
import functools
import mmap
import struct
import traceback
from dataclasses import dataclass, field
from typing import Callable

import unicorn
from unicorn import Uc, UcError
from unicorn import unicorn_const as ucc
from unicorn import x86_const as x86
from unicorn.unicorn_py3.unicorn import (
    HOOK_CODE_CFUNC,
    HOOK_INTR_CFUNC,
    uc_context,
    uc_engine,
    uc_hook_h,
    uclib,
)

UNICORN_VERSION = "2.1.4"

# Control-register and paging bits.
CR0_PE = 1 << 0
CR0_WP = 1 << 16
CR0_PG = 1 << 31
CR4_PAE = 1 << 5
MSR_EFER = 0xC000_0080
EFER_NXE = 1 << 11

EFLAGS_TF = 1 << 8
EFLAGS_IF = 1 << 9
EFLAGS_RESET = 0x2 | EFLAGS_IF

# Exception vectors we name.
EXC_DE, EXC_DB, EXC_BP, EXC_UD, EXC_DF, EXC_GP, EXC_PF = 0, 1, 3, 6, 8, 13, 14

# uc_ctl request codes: (IO direction << 30) | (arg count << 26) | type.
_CTL_TLB_FLUSH = (ucc.UC_CTL_IO_WRITE << 30) | ucc.UC_CTL_TLB_FLUSH
_CTL_TB_FLUSH = (ucc.UC_CTL_IO_WRITE << 30) | ucc.UC_CTL_TB_FLUSH

# Port-I/O hooks need a return value, which the stock prototypes lack.
_HOOK_IN_CFUNC = ctypes.CFUNCTYPE(ctypes.c_uint32, uc_engine, ctypes.c_uint32, ctypes.c_int, ctypes.c_void_p)
_HOOK_OUT_CFUNC = ctypes.CFUNCTYPE(None, uc_engine, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint32, ctypes.c_void_p)
_HOOK_INSN_CFUNC = ctypes.CFUNCTYPE(None, uc_engine, ctypes.c_void_p)

# General-purpose registers in the order an oops prints them.
GPRS: tuple[tuple[str, int], ...] = (
    ("RAX", x86.UC_X86_REG_RAX), ("RBX", x86.UC_X86_REG_RBX), ("RCX", x86.UC_X86_REG_RCX),
    ("RDX", x86.UC_X86_REG_RDX), ("RSI", x86.UC_X86_REG_RSI), ("RDI", x86.UC_X86_REG_RDI),
    ("RBP", x86.UC_X86_REG_RBP), ("R08", x86.UC_X86_REG_R8), ("R09", x86.UC_X86_REG_R9),
    ("R10", x86.UC_X86_REG_R10), ("R11", x86.UC_X86_REG_R11), ("R12", x86.UC_X86_REG_R12),
    ("R13", x86.UC_X86_REG_R13), ("R14", x86.UC_X86_REG_R14), ("R15", x86.UC_X86_REG_R15),
    ("RSP", x86.UC_X86_REG_RSP), ("RIP", x86.UC_X86_REG_RIP), ("EFLAGS", x86.UC_X86_REG_EFLAGS),
    ("CR0", x86.UC_X86_REG_CR0), ("CR2", x86.UC_X86_REG_CR2), ("CR3", x86.UC_X86_REG_CR3),
    ("CR4", x86.UC_X86_REG_CR4),
)

# System V argument registers: how C code passes the first six arguments.
ARG_REGS = (
    x86.UC_X86_REG_RDI, x86.UC_X86_REG_RSI, x86.UC_X86_REG_RDX,
    x86.UC_X86_REG_RCX, x86.UC_X86_REG_R8, x86.UC_X86_REG_R9,
)

MASK64 = (1 << 64) - 1


class CalibrationError(RuntimeError):
    """The unicorn library does not behave like the 2.1.4 this was built on."""


class CpuStop(Exception):
    """Raised inside a hook to end the run with a reason (an oops)."""

    def __init__(self, stop: "Stop") -> None:
        super().__init__(stop.summary)
        self.stop = stop


@dataclass
class Stop:
    """Why a run ended early: an exception nobody handled, a budget, a bug.

    ``kind`` names the cause ("page fault", "divide error", "invalid opcode",
    "general protection fault", "stack guard", "soft lockup", "int3",
    "syscall", "port io", "hlt", "triple fault", "panic", "bug",
    "internal error"); ``lines`` is what the kernel would print before the
    register dump; ``regs`` are the registers at the faulting instruction.
    """

    kind: str
    summary: str
    lines: list[str] = field(default_factory=list)
    vector: int | None = None
    error_code: int = 0
    cr2: int | None = None
    regs: dict[str, int] = field(default_factory=dict)
    detail: str = ""


@dataclass(frozen=True)
class ContextLayout:
    """Byte offsets of CPUX86State fields inside a saved ``uc_context``."""

    size: int
    rip: int
    cr2: int
    error_code: int
    old_exception: int

    @staticmethod
    def size_field(ctx: int) -> int:
        """The state size a saved context records in its first word."""
        return ctypes.c_size_t.from_address(ctx).value


# --------------------------------------------------------------------------
# Start-up self-test: find the context offsets and prove the P1 fix works.

def _scratch_machine() -> tuple[Uc, dict[str, int]]:
    """A tiny paged machine: code, a not-present page, a read-only page and
    an NX page, identity-mapped below 1 MiB."""
    mu = Uc(ucc.UC_ARCH_X86, ucc.UC_MODE_64)
    mu.mem_map(0, 1 << 20)
    tables = iter(range(0x1000, 0x10000, 0x1000))
    pml4 = next(tables)

    def entry(table: int, index: int) -> int:
        return struct.unpack("<Q", mu.mem_read(table + 8 * index, 8))[0]

    def map4k(va: int, pa: int, flags: int) -> None:
        table = pml4
        for shift in (39, 30, 21):
            index = (va >> shift) & 511
            e = entry(table, index)
            if not e & 1:
                e = next(tables) | 0x7
                mu.mem_write(table + 8 * index, struct.pack("<Q", e))
            table = e & 0x000F_FFFF_FFFF_F000
        mu.mem_write(table + 8 * ((va >> 12) & 511), struct.pack("<Q", pa | flags))

    nx = 1 << 63
    layout = {"code": 0x20000, "absent": 0x30000, "ro": 0x31000, "nx": 0x32000, "stack": 0x40000}
    map4k(0x20000, 0x20000, 0x1 | 0x20)                      # code: present, read-only, executable
    map4k(0x30000, 0x30000, 0x2 | nx)                        # not present
    map4k(0x31000, 0x31000, 0x1 | 0x20 | nx)                 # present, read-only
    map4k(0x32000, 0x32000, 0x3 | 0x60 | nx)                 # present, writable, NX
    map4k(0x40000, 0x40000, 0x3 | 0x60 | nx)                 # stack
    mu.reg_write(x86.UC_X86_REG_CR3, pml4)
    mu.reg_write(x86.UC_X86_REG_CR4, mu.reg_read(x86.UC_X86_REG_CR4) | CR4_PAE)
    mu.msr_write(MSR_EFER, mu.msr_read(MSR_EFER) | EFER_NXE)
    mu.reg_write(x86.UC_X86_REG_CR0, mu.reg_read(x86.UC_X86_REG_CR0) | CR0_PG | CR0_PE | CR0_WP)
    return mu, layout


@functools.cache
def calibrate() -> ContextLayout:
    """Find where RIP, CR2, the #PF error code and ``old_exception`` live in
    a saved context, then check that resetting ``old_exception`` there keeps
    every later page fault a page fault.  Raises :class:`CalibrationError`
    with the reason on any surprise."""
    if unicorn.__version__ != UNICORN_VERSION:
        raise CalibrationError(
            f"unicorn {unicorn.__version__} is installed; ftrace-mmio needs {UNICORN_VERSION} "
            "(its exception handling relies on that version's internals)")
    mu, lay = _scratch_machine()
    uch = mu._uch
    size = uclib.uc_context_size(uch)
    ctx = uc_context()
    if uclib.uc_context_alloc(uch, ctypes.byref(ctx)) != ucc.UC_ERR_OK:
        raise CalibrationError("uc_context_alloc failed")
    code, absent, ro, nx = lay["code"], lay["absent"], lay["ro"], lay["nx"]
    # (machine code, fault address, expected error code, faulting RIP offset)
    cases = [
        (b"\x48\x8b\x04\x25" + struct.pack("<i", absent + 0x18), absent + 0x18, 0x0, 0),   # mov rax,[abs]
        (b"\x48\x89\x04\x25" + struct.pack("<i", absent + 0xF20), absent + 0xF20, 0x2, 0),  # mov [abs],rax
        (b"\x48\x89\x04\x25" + struct.pack("<i", ro + 0x40), ro + 0x40, 0x3, 0),             # write to RO
        (b"\x48\xc7\xc0" + struct.pack("<i", nx + 0x8) + b"\xff\xe0", nx + 0x8, 0x11, None),  # jmp rax into NX
    ]
    seen: list[tuple[int, bytes]] = []
    state = {"old_exc": None}

    def on_intr(_uch, intno, _ud):
        uclib.uc_context_save(uch, ctx)
        raw = ctypes.string_at(ctx.value, size)
        seen.append((intno, raw))
        if state["old_exc"] is not None:
            ctypes.c_int32.from_address(ctx.value + state["old_exc"]).value = -1
            uclib.uc_context_restore(uch, ctx)
        uclib.uc_emu_stop(uch)

    cb = HOOK_INTR_CFUNC(on_intr)
    handle = uc_hook_h()
    uclib.uc_hook_add(uch, ctypes.byref(handle), ucc.UC_HOOK_INTR, cb, None, 1, 0)

    def offsets(raw: bytes, value: int, fmt: str) -> set[int]:
        packed = struct.pack(fmt, value)
        n = len(packed)
        return {i for i in range(0, len(raw) - n + 1, 4) if raw[i:i + n] == packed}

    cand: dict[str, set[int] | None] = {"rip": None, "cr2": None, "err": None}
    for i, (insn, addr, err, rip_off) in enumerate(cases):
        seen.clear()
        mu.mem_write(code, insn + b"\xf4")
        mu.ctl_flush_tb()
        mu.reg_write(x86.UC_X86_REG_RSP, lay["stack"] + 0xF00)
        mu.emu_start(code, code + len(insn))
        if len(seen) != 1 or seen[0][0] != EXC_PF:
            raise CalibrationError(
                f"fault {i + 1}: expected one page fault (14), got vectors {[v for v, _ in seen]}"
                + (" -- old_exception was not reset" if i else ""))
        raw = seen[0][1]
        rip = code + rip_off if rip_off is not None else addr
        if i == 0:
            olds = offsets(raw, EXC_PF, "<i")
            if len(olds) != 1:
                raise CalibrationError(f"old_exception offset not unique: {sorted(olds)[:8]}")
            state["old_exc"] = olds.pop()
            # The first fault was delivered before we knew where to reset it.
            ctypes.c_int32.from_address(ctx.value + state["old_exc"]).value = -1
            uclib.uc_context_restore(uch, ctx)
        for key, value, fmt in (("rip", rip, "<Q"), ("cr2", addr, "<Q"), ("err", err, "<i")):
            found = offsets(raw, value, fmt)
            cand[key] = found if cand[key] is None else cand[key] & found
    # Fields that merely hold the same value (e.g. a saved next-RIP) drop out
    # when the register is written directly and the context saved again.
    for key, reg in (("rip", x86.UC_X86_REG_RIP), ("cr2", x86.UC_X86_REG_CR2)):
        probe = 0x1234_5678_9ABC_DEF0 & ~0xF
        mu.reg_write(reg, probe)
        uclib.uc_context_save(uch, ctx)
        cand[key] &= offsets(ctypes.string_at(ctx.value, size), probe, "<Q")
    for key, found in cand.items():
        if not found or len(found) != 1:
            raise CalibrationError(f"{key} offset not found uniquely in the CPU context: {sorted(found or ())[:8]}")
    layout = ContextLayout(size=size, rip=cand["rip"].pop(), cr2=cand["cr2"].pop(),
                           error_code=cand["err"].pop(), old_exception=state["old_exc"])
    # Self-test: a divide error (a "contributory" exception) followed by three
    # page faults must give 0, 14, 14, 14 when old_exception is reset each time.
    seen.clear()
    prog = (b"\x31\xc9\xf7\xf1"                                           # div ecx (ecx = 0)
            + b"\x48\x8b\x04\x25" + struct.pack("<i", absent + 0x100))     # mov rax, [absent]
    mu.mem_write(code, prog + b"\xf4")
    mu.ctl_flush_tb()
    mu.emu_start(code, code + len(prog))
    for _ in range(3):
        mu.emu_start(code + 4, code + len(prog))
    vectors = [v for v, _ in seen]
    if vectors != [EXC_DE, EXC_PF, EXC_PF, EXC_PF]:
        raise CalibrationError(f"old_exception reset self-test failed: vectors {vectors}")
    uclib.uc_hook_del(uch, handle)
    uclib.uc_context_free(ctx)
    return layout


# --------------------------------------------------------------------------
# The live CPU state, for the hot path (docs/performance.md).
#
# A saved context is a header followed by a byte copy of CPUX86State, and a
# restore copies it back. Handlers that only read a few registers, flip TF
# or reset old_exception can do the same to the live state directly, with
# no call into unicorn at all -- the one thing it needs is the state's
# address, which unicorn does not export. It is found once per CPU: follow
# the pointers at the start of the uc_struct, look for a block holding the
# register values just written, and prove it by writing through it and
# reading back through uc_reg_read. If that ever fails, ``Cpu.env`` is None
# and callers fall back to context save/restore.

_ENV_SEARCH_WORDS = 512          # pointers at the start of the uc_struct to follow
_ENV_SEARCH_SPAN = 0x40000       # how far past such a pointer the state may start
_ENV_PROBE_REGS = (x86.UC_X86_REG_RAX, x86.UC_X86_REG_RCX, x86.UC_X86_REG_RDX, x86.UC_X86_REG_RBX)


def _rw_mappings() -> list[tuple[int, int]]:
    spans = []
    with open("/proc/self/maps") as f:
        for line in f:
            addr, perms = line.split()[:2]
            if perms.startswith("rw"):
                lo, hi = (int(x, 16) for x in addr.split("-"))
                spans.append((lo, hi))
    return spans


def _span_of(spans: list[tuple[int, int]], addr: int) -> tuple[int, int] | None:
    for lo, hi in spans:
        if lo <= addr < hi:
            return lo, hi
    return None


@functools.cache
def _env_link_hint() -> list[tuple[int, int]]:
    """(word offset in uc_struct, delta) pairs that located a state before."""
    return []


def find_env(uc: Uc) -> int | None:
    """Host address of ``uc``'s live CPUX86State, verified, or None."""
    uch = uc._uch.value
    salt = [0x5EED_0000_0000_0000 | (n + 1) * 0x1111_1111 for n in range(len(_ENV_PROBE_REGS))]
    saved = [uc.reg_read(r) for r in _ENV_PROBE_REGS]
    for reg, value in zip(_ENV_PROBE_REGS, salt):
        uc.reg_write(reg, value)
    pattern = struct.pack("<4Q", *salt)      # regs[0..3]: RAX, RCX, RDX, RBX
    try:
        spans = _rw_mappings()
        for word, delta in _env_link_hint():
            env = ctypes.c_uint64.from_address(uch + word).value + delta
            span = _span_of(spans, env)
            if span is not None and env + 8 <= span[1] and _is_env(uc, env):
                return env
        struct_span = _span_of(spans, uch)
        if struct_span is None:
            return None
        n = min(_ENV_SEARCH_WORDS * 8, struct_span[1] - uch) // 8
        words = struct.unpack(f"<{n}Q", ctypes.string_at(uch, 8 * n))
        tried: set[int] = set()
        for i, ptr in enumerate(words):
            span = _span_of(spans, ptr)
            if span is None or ptr in tried:
                continue
            tried.add(ptr)
            mem = ctypes.string_at(ptr, min(_ENV_SEARCH_SPAN, span[1] - ptr))
            at = mem.find(pattern)
            while at >= 0:
                env = ptr + at            # regs[] is the first field of the state
                if _is_env(uc, env):
                    _env_link_hint().append((8 * i, at))
                    return env
                at = mem.find(pattern, at + 8)
        return None
    finally:
        for reg, value in zip(_ENV_PROBE_REGS, saved):
            uc.reg_write(reg, value)


def _is_env(uc: Uc, env: int) -> bool:
    """Writes through ``env`` show in uc_reg_read, and uc_reg_write shows in ``env``."""
    try:
        rax = ctypes.c_uint64.from_address(env)
        old = uc.reg_read(x86.UC_X86_REG_RAX)
        if rax.value != old:
            return False
        rax.value = 0x0BAD_C0DE_0000_0001
        seen = uc.reg_read(x86.UC_X86_REG_RAX)
        rax.value = old
        if seen != 0x0BAD_C0DE_0000_0001:
            return False
        uc.reg_write(x86.UC_X86_REG_RAX, 0x0BAD_C0DE_0000_0002)
        ok = rax.value == 0x0BAD_C0DE_0000_0002
        uc.reg_write(x86.UC_X86_REG_RAX, old)
        return ok
    except (ValueError, OSError):
        return False


# --------------------------------------------------------------------------

FaultHandler = Callable[[int, int, int], bool]
"""``fn(address, error_code, rip) -> handled``: a page fault at ``address``
(CR2) by the instruction at ``rip``.  Return True after fixing the cause
(the instruction re-executes); False to let the next handler look."""

DebugHandler = Callable[[], bool]
"""``fn() -> handled``: a debug trap (#DB), e.g. after a single step."""


class Cpu:
    """One x86-64 CPU with RAM at physical address 0 and paging switched on
    by :meth:`enable_paging`.  Owned by the machine's CPU thread."""

    def __init__(self, ram_size: int) -> None:
        self.layout = calibrate()
        self.uc = Uc(ucc.UC_ARCH_X86, ucc.UC_MODE_64)
        self.uch = self.uc._uch
        self.ram_size = ram_size
        # RAM is memory we own (mem_map_ptr), so hot paths can write page
        # tables in place instead of calling uc_mem_write (docs/performance.md).
        self._ram = mmap.mmap(-1, ram_size)
        self.ram_host = ctypes.addressof(ctypes.c_char.from_buffer(self._ram))
        status = uclib.uc_mem_map_ptr(self.uch, 0, ram_size, ucc.UC_PROT_ALL, ctypes.c_void_p(self.ram_host))
        if status != ucc.UC_ERR_OK:
            raise UcError(status)
        self._buf = ctypes.c_uint64()
        self._bufref = ctypes.byref(self._buf)
        self._fault_handlers: list[FaultHandler] = []
        self._debug_handlers: list[DebugHandler] = []
        self._oops_handlers: list[Callable[[Stop], None]] = []
        self._stop: Stop | None = None
        # Translates a virtual address for the stop diagnostics (Mm sets it).
        self.translate: Callable[[int], int] = lambda va: va
        self._keep: list[object] = []          # ctypes callbacks must outlive their hooks
        # One saved context, reused: the fields we need are read in place.
        self._ctx = uc_context()
        if uclib.uc_context_alloc(self.uch, ctypes.byref(self._ctx)) != ucc.UC_ERR_OK:
            raise MemoryError("uc_context_alloc failed")
        base = self._ctx.value
        self._ctx_rip = ctypes.c_uint64.from_address(base + self.layout.rip)
        self._ctx_cr2 = ctypes.c_uint64.from_address(base + self.layout.cr2)
        self._ctx_err = ctypes.c_int32.from_address(base + self.layout.error_code)
        self._ctx_old = ctypes.c_int32.from_address(base + self.layout.old_exception)
        # The live state (find_env): None means "use the context copy".
        self.env = find_env(self.uc)
        #: Offset of the state's first byte inside a saved context.
        self.ctx_header = uclib.uc_context_size(self.uch) - self.layout.size_field(base)
        if self.env is not None:
            at = self.env - self.ctx_header
            self._env_rip = ctypes.c_uint64.from_address(at + self.layout.rip)
            self._env_cr2 = ctypes.c_uint64.from_address(at + self.layout.cr2)
            self._env_err = ctypes.c_int32.from_address(at + self.layout.error_code)
            self._env_old = ctypes.c_int32.from_address(at + self.layout.old_exception)
        #: RIP in the live state, for hooks that read it per access (None: use ``rip``).
        self.rip_word: ctypes.c_uint64 | None = self._env_rip if self.env is not None else None
        # Batch access to the argument registers (kernel API calls).
        self._arg_ids = (ctypes.c_int * 6)(*ARG_REGS)
        self._arg_vals = (ctypes.c_uint64 * 6)()
        self._arg_ptrs = (ctypes.c_void_p * 6)(*[ctypes.addressof(self._arg_vals) + 8 * i for i in range(6)])
        self._intr_cfunc = HOOK_INTR_CFUNC(self._on_intr)
        self._intr_hook = self._add_raw_hook(ucc.UC_HOOK_INTR, self._intr_cfunc)
        #: The Python exception dispatch as a C function pointer, for a C hook
        #: put in front of it (:meth:`route_exceptions`) to pass exceptions on.
        self.exception_hook_address: int = ctypes.cast(self._intr_cfunc, ctypes.c_void_p).value
        #: Where in/out go (machine/ioport.py's IoPorts; the machine sets
        #: it).  None: a port instruction stops the run as not emulated.
        self.ports = None
        self._add_raw_hook(ucc.UC_HOOK_INSN, _HOOK_IN_CFUNC(self._on_in), extra=x86.UC_X86_INS_IN)
        self._add_raw_hook(ucc.UC_HOOK_INSN, _HOOK_OUT_CFUNC(self._on_out), extra=x86.UC_X86_INS_OUT)
        self._add_raw_hook(ucc.UC_HOOK_INSN, _HOOK_INSN_CFUNC(self._on_syscall), extra=x86.UC_X86_INS_SYSCALL)
        self._add_raw_hook(ucc.UC_HOOK_INSN, _HOOK_INSN_CFUNC(self._on_sysenter), extra=x86.UC_X86_INS_SYSENTER)

    # ---- raw hooks -------------------------------------------------------

    def _add_raw_hook(self, kind: int, cfunc, begin: int = 1, end: int = 0, extra: int | None = None) -> int:
        handle = uc_hook_h()
        args = [self.uch, ctypes.byref(handle), kind, cfunc, None, ctypes.c_uint64(begin), ctypes.c_uint64(end)]
        if extra is not None:
            args.append(ctypes.c_int(extra))
        status = uclib.uc_hook_add(*args)
        if status != ucc.UC_ERR_OK:
            raise UcError(status)
        self._keep.append(cfunc)
        return handle.value

    def add_code_hook(self, fn: Callable[[int], None], begin: int, end: int) -> int:
        """Run ``fn(address)`` before each instruction in [begin, end]
        (virtual addresses).  Bounded hooks cost nothing outside their range."""
        def trampoline(_uch, address, _size, _ud):
            try:
                fn(address)
            except CpuStop as stop:
                self.stop(stop.stop)
            except BaseException as exc:  # noqa: BLE001 - must not escape into C
                self.stop(self._internal_error(exc))
        return self._add_raw_hook(ucc.UC_HOOK_CODE, HOOK_CODE_CFUNC(trampoline), begin, end)

    def add_raw_hook(self, kind: int, cfunc, begin: int = 1, end: int = 0) -> int:
        """Register an already-built ctypes callback (e.g. the iomem PROT
        hook); the callback must catch its own exceptions."""
        return self._add_raw_hook(kind, cfunc, begin, end)

    def route_exceptions(self, hook: int | None, user_data: int = 0) -> None:
        """Let the C function ``hook`` (a UC_HOOK_INTR callback, called with
        ``user_data``) see exceptions first; it hands the ones it does not
        handle to :attr:`exception_hook_address`. None: the Python dispatch alone."""
        uclib.uc_hook_del(self.uch, uc_hook_h(self._intr_hook))
        if hook is None:
            self._intr_hook = self._add_raw_hook(ucc.UC_HOOK_INTR, self._intr_cfunc)
            return
        handle = uc_hook_h()
        status = uclib.uc_hook_add(self.uch, ctypes.byref(handle), ucc.UC_HOOK_INTR, ctypes.c_void_p(hook),
                                   ctypes.c_void_p(user_data), ctypes.c_uint64(1), ctypes.c_uint64(0))
        if status != ucc.UC_ERR_OK:
            self._intr_hook = self._add_raw_hook(ucc.UC_HOOK_INTR, self._intr_cfunc)
            raise UcError(status)
        self._intr_hook = handle.value

    def add_fault_handler(self, fn: FaultHandler) -> None:
        self._fault_handlers.append(fn)

    def remove_fault_handler(self, fn: FaultHandler) -> None:
        self._fault_handlers.remove(fn)

    def add_debug_handler(self, fn: DebugHandler) -> None:
        self._debug_handlers.append(fn)

    def remove_debug_handler(self, fn: DebugHandler) -> None:
        self._debug_handlers.remove(fn)

    def add_oops_handler(self, fn: Callable[[Stop], None]) -> None:
        """``fn(stop)`` after a run ended in an oops (e.g. to drop per-CPU
        single-step state that will never see its #DB)."""
        self._oops_handlers.append(fn)

    # ---- registers ---------------------------------------------------------

    def reg(self, reg_id: int) -> int:
        # Some registers (EFLAGS, segments) fill only part of the buffer.
        self._buf.value = 0
        uclib.uc_reg_read(self.uch, reg_id, self._bufref)
        return self._buf.value

    def set_reg(self, reg_id: int, value: int) -> None:
        self._buf.value = value & MASK64
        uclib.uc_reg_write(self.uch, reg_id, self._bufref)

    @property
    def rip(self) -> int:
        if self.env is not None:
            return self._env_rip.value       # what uc_reg_read(RIP) returns, without the call
        return self.reg(x86.UC_X86_REG_RIP)

    @property
    def eflags(self) -> int:
        return self.reg(x86.UC_X86_REG_EFLAGS)

    @eflags.setter
    def eflags(self, value: int) -> None:
        # Reading EFLAGS folds the lazy arithmetic flags in; writing it back
        # keeps them, so flipping TF/IF this way is safe.
        self.set_reg(x86.UC_X86_REG_EFLAGS, value)

    @property
    def cr2(self) -> int:
        return self.reg(x86.UC_X86_REG_CR2)

    def args(self, n: int) -> tuple[int, ...]:
        """The first ``n`` (<= 6) integer arguments of a C call, unsigned."""
        if n == 0:
            return ()
        if n == 1:
            return (self.reg(x86.UC_X86_REG_RDI),)
        uclib.uc_reg_read_batch(self.uch, self._arg_ids, self._arg_ptrs, n)
        return tuple(self._arg_vals[:n])

    def registers(self) -> dict[str, int]:
        return {name: self.reg(rid) for name, rid in GPRS}

    # ---- memory (physical) ---------------------------------------------------

    def read_phys(self, addr: int, size: int) -> bytes:
        buf = ctypes.create_string_buffer(size)
        status = uclib.uc_mem_read(self.uch, addr, buf, size)
        if status != ucc.UC_ERR_OK:
            raise UcError(status)
        return buf.raw

    def write_phys(self, addr: int, data: bytes) -> None:
        status = uclib.uc_mem_write(self.uch, addr, data, len(data))
        if status != ucc.UC_ERR_OK:
            raise UcError(status)

    def read_u64(self, addr: int) -> int:
        uclib.uc_mem_read(self.uch, addr, ctypes.cast(self._bufref, ctypes.POINTER(ctypes.c_char)), 8)
        return self._buf.value

    def write_u64(self, addr: int, value: int) -> None:
        self._buf.value = value & MASK64
        uclib.uc_mem_write(self.uch, addr, ctypes.cast(self._bufref, ctypes.POINTER(ctypes.c_char)), 8)

    def flush_tlb(self) -> None:
        """Drop every cached translation.  Needed after clearing a present
        bit (a cached entry would keep the page reachable); not after
        setting one."""
        uclib.uc_ctl(self.uch, _CTL_TLB_FLUSH)

    def flush_code_cache(self) -> None:
        """Forget translated code (after loading or unloading a module)."""
        uclib.uc_ctl(self.uch, _CTL_TB_FLUSH)

    # ---- paging --------------------------------------------------------------

    def enable_paging(self, pml4: int) -> None:
        """Long-mode paging with NX and write protection in ring 0, in the
        order that works on unicorn (§3.2).  CR3 is truncated to 32 bits
        by unicorn (P10), so the tables must live below 4 GiB."""
        if pml4 >= 1 << 32:
            raise ValueError("page tables must be below 4 GiB physical (unicorn truncates CR3)")
        uc = self.uc
        uc.reg_write(x86.UC_X86_REG_CR3, pml4)
        uc.reg_write(x86.UC_X86_REG_CR4, uc.reg_read(x86.UC_X86_REG_CR4) | CR4_PAE)
        uc.msr_write(MSR_EFER, uc.msr_read(MSR_EFER) | EFER_NXE)
        uc.reg_write(x86.UC_X86_REG_CR0, uc.reg_read(x86.UC_X86_REG_CR0) | CR0_PG | CR0_PE | CR0_WP)

    # ---- running -------------------------------------------------------------

    def stop(self, stop: Stop) -> None:
        """End the current run with ``stop`` as the reason (first one wins)."""
        if self._stop is None:
            if not stop.regs:
                stop.regs = self.registers()
            self._stop = stop
        uclib.uc_emu_stop(self.uch)

    def run(self, begin: int, until: int, budget_s: float) -> Stop | None:
        """Execute from ``begin`` until RIP reaches ``until``.

        Returns None on a clean return, else the :class:`Stop` that ended
        the run.  Code that does not come back within ``budget_s`` seconds
        of wall time is stopped as a soft lockup.

        The budget is one ``emu_start`` timeout, not an instruction count
        (counting instruments every translated block, P4) and not a series
        of short slices: a timeout's stop request can land inside a memory
        hook or a kernel-API stub, and unicorn then restarts the current
        instruction, so the device access or the API call would happen
        twice.  That is acceptable only once, for the run that is being
        killed anyway."""
        self._stop = None
        # A run that an exception hook ended (emu_stop) leaves
        # old_exception set again after the hook's reset (P16).
        self._reset_old_exception()
        timeout_us = max(1000, int(budget_s * 1e6))
        status = uclib.uc_emu_start(self.uch, begin, until, timeout_us, 0)
        if self._stop is not None:
            return self._finish_stop()
        pc = self.rip
        if status != ucc.UC_ERR_OK:
            self.stop(self._emu_error(status, pc))
            return self._finish_stop()
        if pc == until:
            return None
        timed_out = ctypes.c_size_t()
        uclib.uc_query(self.uch, ucc.UC_QUERY_TIMEOUT, ctypes.byref(timed_out))
        if timed_out.value:
            self.stop(Stop("soft lockup",
                           f"soft lockup - CPU#0 stuck for {budget_s:g}s",
                           [f"watchdog: BUG: soft lockup - CPU#0 stuck for {budget_s:g}s! [{{comm}}:1]"]))
            return self._finish_stop()
        self.stop(self._silent_stop(pc))
        return self._finish_stop()

    def _finish_stop(self) -> Stop:
        stop = self._stop
        assert stop is not None
        self._stop = None
        for fn in self._oops_handlers:
            try:
                fn(stop)
            except Exception:  # noqa: BLE001 - a broken observer must not hide the oops
                stop.detail += "\noops handler failed:\n" + traceback.format_exc()
        return stop

    def _silent_stop(self, pc: int) -> Stop:
        try:
            prev = self.uc.mem_read(self.translate(pc - 1), 1)
        except Exception:  # noqa: BLE001
            prev = b""
        if prev == b"\xf4":
            return Stop("hlt", "hlt instruction executed in kernel code",
                        ["BUG: hlt executed with nothing to wake the CPU"])
        return Stop("triple fault", f"CPU stopped unexpectedly at RIP {pc:#x} (triple fault)",
                    ["BUG: CPU stopped unexpectedly (triple fault)"])

    def _emu_error(self, status: int, pc: int) -> Stop:
        msg = uclib.uc_strerror(status).decode()
        if status == ucc.UC_ERR_INSN_INVALID:
            return Stop("invalid opcode", "invalid opcode", ["invalid opcode: 0000 [#{n}]"], vector=EXC_UD)
        if status in (ucc.UC_ERR_READ_UNMAPPED, ucc.UC_ERR_WRITE_UNMAPPED, ucc.UC_ERR_FETCH_UNMAPPED):
            return Stop("machine check", f"access to a physical address nothing decodes ({msg})",
                        [f"BUG: access to a physical address nothing decodes ({msg})"])
        return Stop("internal error", f"emulator error: {msg}", [f"BUG: emulator error: {msg}"])

    def _internal_error(self, exc: BaseException) -> Stop:
        return Stop("internal error", f"internal error in a hook: {exc!r}",
                    [f"BUG: internal error in the machine: {exc!r}"],
                    detail="".join(traceback.format_exception(exc)))

    # ---- exception dispatch -----------------------------------------------------

    def _reset_old_exception(self) -> tuple[int, int, int]:
        """P1 fix; returns (cr2, error_code, rip) read from the same copy."""
        if self.env is not None:
            # In place: what a save, a poke and a restore would do, minus the copies.
            self._env_old.value = -1
            return self._env_cr2.value, self._env_err.value & 0xFFFF_FFFF, self._env_rip.value
        uclib.uc_context_save(self.uch, self._ctx)
        self._ctx_old.value = -1
        uclib.uc_context_restore(self.uch, self._ctx)
        return self._ctx_cr2.value, self._ctx_err.value & 0xFFFF_FFFF, self._ctx_rip.value

    def _on_intr(self, _uch, intno: int, _ud) -> None:
        try:
            if intno == EXC_PF or intno == EXC_DF:
                # 8 only arrives if a reset was missed; it is still our #PF.
                if self.env is not None:
                    # _reset_old_exception, inline: once per traced access.
                    self._env_old.value = -1
                    cr2, err, rip = self._env_cr2.value, self._env_err.value & 0xFFFF_FFFF, self._env_rip.value
                else:
                    cr2, err, rip = self._reset_old_exception()
                for fn in self._fault_handlers:
                    if fn(cr2, err, rip):
                        return
                self.stop(Stop("page fault", "", vector=EXC_PF, error_code=err, cr2=cr2))
            elif intno == EXC_DB:
                for fn in self._debug_handlers:
                    if fn():
                        return
                self.stop(Stop("debug trap", "unexpected debug trap", ["BUG: unexpected debug trap"],
                               vector=EXC_DB))
            else:
                _, err, _ = self._reset_old_exception()
                self.stop(_exception_stop(intno, err))
        except CpuStop as stop:
            self.stop(stop.stop)
        except BaseException as exc:  # noqa: BLE001 - must not escape into C
            self.stop(self._internal_error(exc))

    def _on_in(self, _uch, port: int, size: int, _ud) -> int:
        ports = self.ports
        if ports is not None:
            try:
                return ports.read(port, size)
            except BaseException as exc:  # noqa: BLE001 - must not escape into C
                self.stop(self._internal_error(exc))
                return 0xFFFF_FFFF
        self.stop(Stop("port io", f"port I/O: in from port {port:#x} is not emulated",
                       [f"BUG: port I/O (in, {size} bytes from port {port:#x}) is not emulated"]))
        return 0xFFFF_FFFF

    def _on_out(self, _uch, port: int, size: int, value: int, _ud) -> None:
        ports = self.ports
        if ports is not None:
            try:
                ports.write(port, size, value)
            except BaseException as exc:  # noqa: BLE001 - must not escape into C
                self.stop(self._internal_error(exc))
            return
        self.stop(Stop("port io", f"port I/O: out to port {port:#x} is not emulated",
                       [f"BUG: port I/O (out, {size} bytes {value:#x} to port {port:#x}) is not emulated"]))

    def _on_syscall(self, _uch, _ud) -> None:
        self.stop(Stop("syscall", "syscall instruction in kernel code",
                       ["BUG: syscall instruction executed in kernel code"]))

    def _on_sysenter(self, _uch, _ud) -> None:
        self.stop(Stop("syscall", "sysenter instruction in kernel code",
                       ["BUG: sysenter instruction executed in kernel code"]))

    def close(self) -> None:
        uclib.uc_context_free(self._ctx)
        self._ctx = uc_context()


_EXCEPTION_NAMES = {
    0: "divide error", 3: "int3", 4: "overflow", 5: "bounds", 6: "invalid opcode",
    7: "device not available", 10: "invalid TSS", 11: "segment not present",
    12: "stack segment", 13: "general protection fault", 16: "coprocessor error",
    17: "alignment check", 19: "SIMD exception",
}


def _exception_stop(intno: int, err: int) -> Stop:
    name = _EXCEPTION_NAMES.get(intno)
    if name is None:
        name = f"software interrupt {intno:#x}" if intno >= 32 else f"exception {intno}"
        return Stop("software interrupt" if intno >= 32 else "exception", name,
                    [f"BUG: unexpected {name} in kernel code"], vector=intno)
    code = err if intno in (10, 11, 12, 13, 17) else 0
    return Stop(name, name, [f"{name}: {code:04x} [#{{n}}]"], vector=intno, error_code=code)
