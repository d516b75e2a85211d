"""The two writes kmmio makes on every traced access, made cheap.

Each traced access flips the trap flag twice (set at the fault, restored at
the debug trap) and a present bit twice (set for the step, cleared after
it). Through the ordinary calls that is eight unicorn round trips with
Python conversions around them, about a third of the handlers' time.

* **Flags and registers** (emulation.md §3.3, "B-ctx"): save the CPU
  context once per handler, read the registers the decoder wants from the
  copy (memory reads, not calls into unicorn), flip TF/IF in its
  ``env->eflags`` word and restore it. Flipping there never recomputes the
  lazy arithmetic flags (they live in CC_SRC, not in that word). The
  offsets inside the context are found by a start-up calibration on a
  scratch CPU, like the other offsets in ``machine/cpu.py``.
* **PTEs**: the page-table entry's physical address and its two values are
  computed once when a page is armed; each flip is then one raw 8-byte
  memory write from a preallocated buffer. ``Mm``'s shadow copy of the PTE
  is kept in step, so ``Mm.is_present`` and walks stay truthful.
"""

from __future__ import annotations

import ctypes
import functools
import struct
from typing import Callable

from unicorn import Uc
from unicorn import unicorn_const as ucc
from unicorn import x86_const as x86
from unicorn.unicorn_py3.unicorn import uc_context, uclib

from ..machine.cpu import EFLAGS_IF, EFLAGS_TF, CalibrationError, Cpu
from ..machine.mm import PAGE_SHIFT, PTE_P, Mm

_MASK64 = (1 << 64) - 1


# The general-purpose registers, whose values a saved context holds as
# plain 64-bit words (the decoder reads them on every access).
_GPRS = (
    x86.UC_X86_REG_RAX, x86.UC_X86_REG_RCX, x86.UC_X86_REG_RDX, x86.UC_X86_REG_RBX,
    x86.UC_X86_REG_RSP, x86.UC_X86_REG_RBP, x86.UC_X86_REG_RSI, x86.UC_X86_REG_RDI,
    x86.UC_X86_REG_R8, x86.UC_X86_REG_R9, x86.UC_X86_REG_R10, x86.UC_X86_REG_R11,
    x86.UC_X86_REG_R12, x86.UC_X86_REG_R13, x86.UC_X86_REG_R14, x86.UC_X86_REG_R15,
    x86.UC_X86_REG_RIP,
)


@functools.cache
def context_offsets() -> tuple[int, dict[int, int]]:
    """Byte offsets in a saved unicorn context: ``(eflags, {gpr uc id: offset})``.

    Found on a scratch CPU by writing distinctive values and looking for
    them, twice with different values so that no coincidence survives.
    """
    mu = Uc(ucc.UC_ARCH_X86, ucc.UC_MODE_64)
    uch = mu._uch
    size = uclib.uc_context_size(uch)
    ctx = uc_context()
    if uclib.uc_context_alloc(uch, ctypes.byref(ctx)) != ucc.UC_ERR_OK:
        raise CalibrationError("uc_context_alloc failed")

    def where(values: dict[int, int]) -> dict[int, set[int]]:
        for reg, value in values.items():
            mu.reg_write(reg, value)
        uclib.uc_context_save(uch, ctx)
        raw = ctypes.string_at(ctx.value, size)
        found = {}
        for reg, value in values.items():
            packed = struct.pack("<Q", value)
            found[reg] = {i for i in range(0, size - 7, 4) if raw[i:i + 8] == packed}
        return found

    try:
        found: dict[int, set[int]] = {}
        for salt in (0x5A5A_0000_0000, 0x0123_4567_0000):
            # Values without arithmetic flags: those live elsewhere (CC_SRC).
            flags = {x86.UC_X86_REG_EFLAGS: 0x2 | EFLAGS_TF | EFLAGS_IF | (0x400 if salt & 1 << 40 else 0)}
            regs = {reg: 0x7FFF_0000_0000_0000 | salt | (n + 1) << 4 for n, reg in enumerate(_GPRS)}
            for reg, hits in {**where(flags), **where(regs)}.items():
                found[reg] = hits if reg not in found else found[reg] & hits
    finally:
        uclib.uc_context_free(ctx)
    bad = {reg: sorted(hits)[:4] for reg, hits in found.items() if len(hits) != 1}
    if bad:
        raise CalibrationError(f"register offsets not found uniquely in the CPU context: {bad}")
    eflags = found.pop(x86.UC_X86_REG_EFLAGS).pop()
    return eflags, {reg: hits.pop() for reg, hits in found.items()}


class StepContext:
    """One CPU context copy, saved at each fault and trap.

    Between :meth:`save` and the restore that ends the handler, registers
    are read from the copy (``read_reg``: a memory read instead of a call
    into unicorn), and TF/IF are flipped in its ``env->eflags`` word.
    """

    def __init__(self, cpu: Cpu) -> None:
        self.uch = cpu.uch
        self._ctx = uc_context()
        if uclib.uc_context_alloc(self.uch, ctypes.byref(self._ctx)) != ucc.UC_ERR_OK:
            raise MemoryError("uc_context_alloc failed")
        base = self._ctx.value
        env = getattr(cpu, "env", None)
        #: True when the words below are the live CPU state (no copies at all).
        self.live = env is not None
        if self.live:
            # The same offsets, applied to the state itself: reads see the
            # registers as they are, writes take effect when the handler returns.
            base = env - cpu.ctx_header
        eflags, gprs = context_offsets()
        self._eflags = ctypes.c_uint64.from_address(base + eflags)
        words = {reg: ctypes.c_uint64.from_address(base + off) for reg, off in gprs.items()}
        self._save = uclib.uc_context_save
        self._restore = uclib.uc_context_restore
        slow = cpu.reg
        uc = cpu.uc

        def read_reg(uc_id: int) -> int:
            word = words.get(uc_id)
            if word is not None:
                return word.value
            if uc_id in _WIDE_REGS:
                return uc.reg_read(uc_id)
            return slow(uc_id)

        #: ``read_reg(uc_id)`` for the decoder; valid between save and restore.
        self.read_reg = read_reg
        #: ``word(uc_id)``: the 64-bit word holding a general-purpose register
        #: (or RIP), None for others. Read ``.value`` between save and restore;
        #: fast paths bind these once instead of calling ``read_reg``.
        self.word: Callable[[int], ctypes.c_uint64 | None] = words.get

    def save(self) -> None:
        if not self.live:
            self._save(self.uch, self._ctx)

    def begin_step(self) -> int:
        """Set TF, clear IF, restore the context; returns the TF|IF bits they had."""
        word = self._eflags
        flags = word.value
        word.value = (flags | EFLAGS_TF) & ~EFLAGS_IF
        if not self.live:
            self._restore(self.uch, self._ctx)
        return flags & (EFLAGS_TF | EFLAGS_IF)

    def end_step(self, saved: int) -> int:
        """Clear TF, put back ``saved`` TF|IF, restore; returns the resulting flags."""
        word = self._eflags
        flags = (word.value & ~EFLAGS_TF) | saved
        word.value = flags
        if not self.live:
            self._restore(self.uch, self._ctx)
        return flags

    def close(self) -> None:
        if self._ctx.value:
            uclib.uc_context_free(self._ctx)
            self._ctx = uc_context()


# Registers wider than 64 bits must not go through Cpu.reg's 8-byte buffer.
_WIDE_REGS = frozenset(
    getattr(x86, f"UC_X86_REG_{kind}{n}")
    for kind, count in (("XMM", 32), ("YMM", 32), ("ZMM", 32), ("FP", 8), ("ST", 8))
    for n in range(count)
    if hasattr(x86, f"UC_X86_REG_{kind}{n}")
)


class PteSwitch:
    """Flip the present bit of 4 KiB pages with one raw write each."""

    def __init__(self, cpu: Cpu, mm: Mm) -> None:
        self.uch = cpu.uch
        self.mm = mm
        self._buf = ctypes.c_uint64()
        self._ptr = ctypes.cast(ctypes.byref(self._buf), ctypes.POINTER(ctypes.c_char))
        self._write = uclib.uc_mem_write
        # Mm keeps a Python copy of every PTE it wrote; keep it truthful.
        self._shadow: dict[int, int] | None = getattr(mm, "_pte_val", None)
        # RAM we own (Cpu.ram_host): a PTE flip is a store, no call at all.
        self._ram_host: int | None = getattr(cpu, "ram_host", None)
        self._ram_size: int = getattr(cpu, "ram_size", 0)
        self._words: dict[int, ctypes.c_uint64] = {}

    def lookup(self, va: int) -> tuple[int, int] | None:
        """(PTE physical address, PTE value with P set) for the page, or None."""
        addr = self.mm.pte_address(va)
        pte = self.mm.pte(va)
        if addr is None or pte is None:
            return None
        return addr, pte | PTE_P

    def write(self, va: int, pte_addr: int, value: int) -> None:
        """Store ``value`` as the PTE of ``va``. Clearing P needs a TLB flush after."""
        word = self._words.get(pte_addr)
        if word is None and self._ram_host is not None and 0 <= pte_addr <= self._ram_size - 8:
            word = self._words[pte_addr] = ctypes.c_uint64.from_address(self._ram_host + pte_addr)
        if word is not None:
            word.value = value & _MASK64
        else:
            self._buf.value = value & _MASK64
            self._write(self.uch, pte_addr, self._ptr, 8)
        shadow = self._shadow
        if shadow is not None:
            shadow[va >> PAGE_SHIFT] = value
