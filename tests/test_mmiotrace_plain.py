"""The plain-mov fast path: ``plain()`` must describe exactly what ``pre``/``post`` record.

mmio-mod skips the decoder's per-access calls for instructions whose
``plain()`` is not None (mmio_mod.PlainPlan); the trace stays the same only
if address, width and value computed from that description equal the
record ``post`` returns. Checked here for both decoders over real encodings
(GNU as) with random register values, and for the instructions that must
stay on the general path.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_decode import assemble_batch
from unicorn import x86_const as ucx

from ftrace_mmio.mmiotrace.decode import PlainAccess, decode_full, decode_pf_in

PC = 0xFFFF_FFFF_C000_1000
MASK64 = (1 << 64) - 1

PLAIN = (
    "mov eax, dword ptr [rdi]",
    "mov dword ptr [rdi + 0x10], esi",
    "mov qword ptr [rdi + rcx*8 + 0x40], r9",
    "mov byte ptr [rsi], ah",
    "mov ah, byte ptr [rdx + 4]",
    "mov word ptr [rbx], 0x1234",
    "mov dword ptr [rdi], 0xdeadbeef",
    "mov qword ptr [rdi], -2",
    "movzx eax, byte ptr [rdi + 1]",
    "movzx r10d, word ptr [rdi + 2]",
    "movsx eax, byte ptr [rdi]",
    "movsx rax, word ptr [rdi]",
    "movsxd rax, dword ptr [rdi]",
    "mov r12b, byte ptr [r13 + r14*2 - 8]",
    "mov eax, dword ptr [rip + 0x100]",
    "movabs eax, dword ptr [0xffffc90000000040]",
)

NOT_PLAIN_FULL = (
    "or dword ptr [rdi], eax",        # read-modify-write: two accesses
    "movbe eax, dword ptr [rdi]",     # byte-swapped
    "movdqu xmm0, xmmword ptr [rdi]",  # not a general-purpose register
    "mov eax, dword ptr fs:[rdi]",    # segment base
    "mov eax, dword ptr [edi]",       # 32-bit addressing
    "bt dword ptr [rdi], eax",        # register bit offset moves the access
    "movsd",                           # string move: two accesses
)

GPRS = (ucx.UC_X86_REG_RAX, ucx.UC_X86_REG_RCX, ucx.UC_X86_REG_RDX, ucx.UC_X86_REG_RBX,
        ucx.UC_X86_REG_RSP, ucx.UC_X86_REG_RBP, ucx.UC_X86_REG_RSI, ucx.UC_X86_REG_RDI,
        ucx.UC_X86_REG_R8, ucx.UC_X86_REG_R9, ucx.UC_X86_REG_R10, ucx.UC_X86_REG_R11,
        ucx.UC_X86_REG_R12, ucx.UC_X86_REG_R13, ucx.UC_X86_REG_R14, ucx.UC_X86_REG_R15)


def _code(line: str) -> bytes:
    return assemble_batch((line,))[0].ljust(24, b"\0")


def _from_plain(p: PlainAccess, before: dict[int, int], after: dict[int, int], fault: int) -> tuple:
    """The record a fast path builds from ``p``: what mmio_mod.PlainPlan does."""
    addr = p.disp
    if p.base is not None:
        addr += before[p.base]
        if p.index is not None:
            addr += before[p.index] * p.scale
        addr &= MASK64
    regs = after if p.kind == "R" else before
    value = p.imm if p.value_reg is None else (regs[p.value_reg] >> p.shift) & p.mask
    return (p.kind, p.width, fault if p.at_fault else addr, value)


regs_strategy = st.lists(st.integers(0, MASK64), min_size=2 * len(GPRS), max_size=2 * len(GPRS))


@pytest.mark.parametrize("line", PLAIN)
@settings(max_examples=25, deadline=None)
@given(values=regs_strategy)
def test_plain_full_gives_the_record_post_gives(line, values):
    insn = decode_full(_code(line), PC)
    plain = insn.plain()
    assert plain is not None, line
    before = dict(zip(GPRS, values[: len(GPRS)]))
    after = dict(zip(GPRS, values[len(GPRS):]))
    pending = insn.pre(before.__getitem__, 0)
    fault = pending.addrs[0]
    records = insn.post(pending._replace(fault_addr=fault), after.__getitem__)
    assert [tuple(r) for r in records] == [_from_plain(plain, before, after, fault)]


@pytest.mark.parametrize("line", PLAIN)
@settings(max_examples=25, deadline=None)
@given(values=regs_strategy, fault=st.integers(0, MASK64))
def test_plain_pf_in_gives_the_record_post_gives(line, values, fault):
    insn = decode_pf_in(_code(line), PC)
    plain = insn.plain()
    if plain is None:
        # Only instructions outside the kernel's table may stay general.
        assert insn.type.name == "OTHERS" or insn.messages, line
        return
    assert plain.at_fault
    before = dict(zip(GPRS, values[: len(GPRS)]))
    after = dict(zip(GPRS, values[len(GPRS):]))
    records = insn.post(insn.pre(before.__getitem__, fault), after.__getitem__)
    assert [tuple(r) for r in records] == [_from_plain(plain, before, after, fault)]


@pytest.mark.parametrize("line", NOT_PLAIN_FULL)
def test_other_instructions_keep_the_general_path(line):
    assert decode_full(_code(line), PC).plain() is None


def test_pf_in_plain_keeps_the_kernel_quirks():
    # movzbl: the kernel records width 1 but masks with the 4-byte register.
    plain = decode_pf_in(_code("movzx eax, byte ptr [rdi]"), PC).plain()
    assert plain is not None
    assert (plain.kind, plain.width, plain.mask) == ("R", 1, 0xFFFF_FFFF)
    # AH: byte 1 of RAX.
    plain = decode_pf_in(_code("mov byte ptr [rdi], ah"), PC).plain()
    assert plain is not None and (plain.value_reg, plain.shift, plain.mask) == (ucx.UC_X86_REG_RAX, 8, 0xFF)
