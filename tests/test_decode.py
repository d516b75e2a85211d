"""The mmiotrace instruction decoder, both modes.

Instructions are assembled by GNU as (one batch per test session), so every
encoding under test is one a compiler or a person would really produce; the
kernel's quirks are checked with the spec's own example bytes. End-to-end
cases run one instruction on unicorn against a logging device model (and
against a plain RAM page) and compare what the decoder reports with what the
device saw.
"""

from __future__ import annotations

import functools
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unicorn import UC_ARCH_X86, UC_MODE_64, Uc
from unicorn import x86_const as ucx

from ftrace_mmio.mmiotrace.decode import (
    Decoder,
    DecoderMode,
    FullInsn,
    PfInInsn,
    PfInType,
    Record,
    decode_full,
    decode_pf_in,
    pf_in_mem_width,
    pf_in_reg_value,
    pf_in_reg_width,
)

# ---------------------------------------------------------------------------
# Assembling with GNU as


@functools.lru_cache(maxsize=None)
def assemble_batch(lines: tuple[str, ...], syntax: str = "intel") -> tuple[bytes, ...]:
    """Assemble each line separately in one `as` run: labels between lines, objcopy for the bytes."""
    header = ".intel_syntax noprefix" if syntax == "intel" else ".att_syntax prefix"
    body = [header, ".text"]
    for n, line in enumerate(lines):
        body += [f"insn_{n}:", f"\t{line}"]
    body.append(f"insn_{len(lines)}:")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "a.s").write_text("\n".join(body) + "\n")
        subprocess.run(["as", "--64", "-o", d / "a.o", d / "a.s"], check=True, capture_output=True)
        subprocess.run(["objcopy", "-O", "binary", "-j", ".text", d / "a.o", d / "a.bin"], check=True)
        blob = (d / "a.bin").read_bytes()
        nm = subprocess.run(["nm", d / "a.o"], check=True, capture_output=True, text=True).stdout
    offsets = {int(m[2]): int(m[1], 16) for m in re.finditer(r"^([0-9a-f]+) \w insn_(\d+)$", nm, re.M)}
    return tuple(blob[offsets[n] : offsets[n + 1]] for n in range(len(lines)))


_ASM: dict[tuple[str, str], bytes] = {}


def asm(line: str, syntax: str = "intel") -> bytes:
    """The bytes of one instruction (or .byte line); every table below is assembled in one go."""
    if not _ASM:
        batch = tuple(sorted(_table_lines()))
        _ASM.update({(l, "intel"): b for l, b in zip(batch, assemble_batch(batch))})
    if (line, syntax) not in _ASM:
        _ASM[line, syntax] = assemble_batch((line,), syntax)[0]
    return _ASM[line, syntax]


def _table_lines() -> set[str]:
    lines = {row[0] for table in (PF_IN_CLASSES, PF_IN_WIDTHS, PF_IN_REGISTERS, FULL_PLANS) for row in table}
    return lines | {c.line for c in E2E if not c.rip_relative}


def test_assembler_helper_both_syntaxes():
    assert asm("mov dword ptr [r12+8], 1") == bytes.fromhex("41c744240801000000")
    assert asm("movl $1, 0x8(%r12)", "att") == bytes.fromhex("41c744240801000000")
    assert asm("mov [rdi], eax") == bytes.fromhex("8907")


# A register file with a different byte in every position: register n holds
# bytes n*16 .. n*16+7, so RAX = 0x0706050403020100, RCX = 0x1716151413121110.
_ORDER = ("RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI", *(f"R{n}" for n in range(8, 16)))
REGS = {getattr(ucx, f"UC_X86_REG_{name}"): int.from_bytes(bytes(n * 16 + k for k in range(8)), "little") for n, name in enumerate(_ORDER)}


def fake_regs(**overrides: int):
    values = dict(REGS)
    values.update({getattr(ucx, f"UC_X86_REG_{k.upper()}"): v for k, v in overrides.items()})
    return lambda uc_id: values.get(uc_id, 0)


# ---------------------------------------------------------------------------
# pf_in: the kernel's table (spec §4.3)

PF_IN_CLASSES = [
    ("mov al, [rdi]", PfInType.REG_READ, 0x8A),
    ("mov eax, [rdi]", PfInType.REG_READ, 0x8B),
    ("mov rax, [rdi]", PfInType.REG_READ, 0x8B),
    ("movzx eax, byte ptr [rdi]", PfInType.REG_READ, 0xB60F),
    ("movzx eax, word ptr [rdi]", PfInType.REG_READ, 0xB70F),
    ("movsx eax, byte ptr [rdi]", PfInType.REG_READ, 0xBE0F),
    ("movsx eax, word ptr [rdi]", PfInType.REG_READ, 0xBF0F),
    ("mov [rdi], al", PfInType.REG_WRITE, 0x88),
    ("mov [rdi], eax", PfInType.REG_WRITE, 0x89),
    ("stosb", PfInType.REG_WRITE, 0xAA),
    ("rep stosd", PfInType.REG_WRITE, 0xAB),
    ("mov byte ptr [rdi], 1", PfInType.IMM_WRITE, 0xC6),
    ("mov dword ptr [rdi], 1", PfInType.IMM_WRITE, 0xC7),
    ("movsb", PfInType.OTHERS, 0xA4),
    ("rep movsd", PfInType.OTHERS, 0xA5),
    ("lodsd", PfInType.OTHERS, 0xAD),
    ("cmpsb", PfInType.OTHERS, 0xA6),
    ("scasb", PfInType.OTHERS, 0xAE),
    ("movabs al, [0x1122334455667788]", PfInType.OTHERS, 0xA0),
    ("movabs eax, [0x1122334455667788]", PfInType.OTHERS, 0xA1),
    ("movabs [0x1122334455667788], eax", PfInType.OTHERS, 0xA3),
    ("movsxd rax, dword ptr [rdi]", PfInType.OTHERS, 0x63),
    ("add [rdi], eax", PfInType.OTHERS, 0x01),
    ("or dword ptr [rdi], 1", PfInType.OTHERS, 0x83),
    ("test [rdi], eax", PfInType.OTHERS, 0x85),
    ("xchg [rdi], eax", PfInType.OTHERS, 0x87),
    ("lock cmpxchg [rdi], ecx", PfInType.OTHERS, 0xB10F),
    ("bts dword ptr [rdi], 1", PfInType.OTHERS, 0xBA0F),
    ("movnti [rdi], eax", PfInType.OTHERS, 0xC30F),
    ("movdqu xmm0, [rdi]", PfInType.OTHERS, 0x6F0F),
    ("movbe eax, [rdi]", PfInType.OTHERS, 0x380F),
    ("vmovdqu ymm0, [rdi]", PfInType.OTHERS, 0xC5),
    ("mov word ptr [rdi], ds", PfInType.OTHERS, 0x8C),
]


@pytest.mark.parametrize("line,kind,opcode", PF_IN_CLASSES, ids=[r[0] for r in PF_IN_CLASSES])
def test_pf_in_classification(line, kind, opcode):
    insn = decode_pf_in(asm(line))
    assert (insn.type, insn.opcode) == (kind, opcode)
    if kind is PfInType.OTHERS:
        assert (insn.mem_width, insn.reg_width, insn.messages) == (0, 0, ())


# spec §4.4: (line, memory width, register width)
PF_IN_WIDTHS = [
    ("mov [rdi], al", 1, 1),
    ("mov al, [rdi]", 1, 1),
    ("mov byte ptr [rdi], 7", 1, 1),
    ("stosb", 1, 1),
    ("movzx eax, byte ptr [rdi]", 1, 4),
    ("movzx ax, byte ptr [rdi]", 1, 2),
    ("movzx rax, byte ptr [rdi]", 1, 8),
    ("movsx eax, byte ptr [rdi]", 1, 4),
    ("movzx eax, word ptr [rdi]", 2, 4),
    ("movsx rax, word ptr [rdi]", 2, 8),
    ("mov word ptr [rdi], 7", 2, 2),
    ("mov dword ptr [rdi], 7", 4, 4),
    ("mov qword ptr [rdi], 7", 4, 8),  # REX.W ignored for the memory width
    ("mov [rdi], ax", 2, 2),
    ("mov [rdi], eax", 4, 4),
    ("mov [rdi], rax", 8, 8),
    ("mov ax, [rdi]", 2, 2),
    ("mov rax, [rdi]", 8, 8),
    ("stosw", 2, 2),
    ("stosd", 4, 4),
    ("stosq", 8, 8),
    (".byte 0x66, 0x48, 0x89, 0x07", 2, 2),  # sticky 66 beats REX.W (a CPU does 8)
    (".byte 0x48, 0x66, 0x89, 0x07", 2, 2),
]


@pytest.mark.parametrize("line,mem,reg", PF_IN_WIDTHS, ids=[r[0] for r in PF_IN_WIDTHS])
def test_pf_in_widths(line, mem, reg):
    code = asm(line)
    insn = decode_pf_in(code)
    assert (insn.mem_width, insn.reg_width) == (mem, reg)
    assert pf_in_mem_width(code) == (mem, [])
    assert pf_in_reg_width(code) == (reg, [])


def test_pf_in_width_helpers_log_unknown_opcodes():
    assert pf_in_mem_width(bytes.fromhex("0fc31e")) == (0, ["mmiotrace: Unknown opcode 0xc30f"])
    assert pf_in_reg_width(bytes.fromhex("f3a5")) == (0, ["mmiotrace: Unknown opcode 0xa5"])


# (line, full register, AH-style, value logged with REGS)
PF_IN_REGISTERS = [
    ("mov [rdi], al", "RAX", False, 0x00),
    ("mov [rdi], cl", "RCX", False, 0x10),
    ("mov [rdi], dl", "RDX", False, 0x20),
    ("mov [rdi], bl", "RBX", False, 0x30),
    ("mov [rdi], ah", "RAX", True, 0x01),
    ("mov [rdi], ch", "RCX", True, 0x11),
    ("mov [rdi], dh", "RDX", True, 0x21),
    ("mov [rdi], bh", "RBX", True, 0x31),
    ("mov [rdi], spl", "RSP", False, 0x40),
    ("mov [rdi], bpl", "RBP", False, 0x50),
    ("mov [rdi], sil", "RSI", False, 0x60),
    ("mov [rdi], dil", "RDI", False, 0x70),
    ("mov [rdi], r8b", "R8", False, 0x80),
    ("mov [rdi], r15b", "R15", False, 0xF0),
    ("mov [rdi], r9w", "R9", False, 0x9190),
    ("mov [rdi], r12d", "R12", False, 0xC3C2C1C0),
    ("mov [rdi], r15", "R15", False, 0xF7F6F5F4F3F2F1F0),
    ("mov r10, [rdi]", "R10", False, 0xA7A6A5A4A3A2A1A0),
    ("mov bh, [rdi]", "RBX", True, 0x31),
    ("mov [r8], eax", "RAX", False, 0x03020100),  # REX.B does not pick the register
    ("mov [rax+r9*2], ecx", "RCX", False, 0x13121110),  # nor does REX.X
    ("stosb", "RAX", False, 0x00),
    ("stosq", "RAX", False, 0x0706050403020100),
    ("movzx r11d, byte ptr [rdi]", "R11", False, 0xB3B2B1B0),
    # Any REX anywhere among the prefixes selects SPL..DIL; a CPU ignores a
    # REX that is not last and would use AH here.
    (".byte 0x40, 0x66, 0x88, 0x27", "RSP", False, 0x40),
]


@pytest.mark.parametrize("line,reg,high,value", PF_IN_REGISTERS, ids=[r[0] for r in PF_IN_REGISTERS])
def test_pf_in_register_selection(line, reg, high, value):
    insn = decode_pf_in(asm(line))
    assert insn.reg_id == getattr(ucx, f"UC_X86_REG_{reg}")
    assert insn.byte_high is high
    assert pf_in_reg_value(insn, fake_regs()) == value


def test_pf_in_register_numbers():
    assert decode_pf_in(asm("mov [rdi], r13d")).regno == 13
    assert decode_pf_in(asm("mov [rdi], ah")).regno == 4
    assert decode_pf_in(asm("stosd")).regno == 0


def test_pf_in_quirk_a_sib_not_skipped():
    # The spec's example: movl $1, 0x8(%r12) is logged as 0x108.
    insn = decode_pf_in(bytes.fromhex("41c744240801000000"))
    assert (insn.type, insn.mem_width, insn.imm) == (PfInType.IMM_WRITE, 4, 0x108)
    # mod 0 with a SIB and base 5 (absolute disp32): the SIB and disp are read.
    insn = decode_pf_in(bytes.fromhex("c70425001000002a000000"))
    assert insn.imm == 0x00100025
    # mod 2 with a SIB: one byte early too, the last displacement byte first.
    insn = decode_pf_in(asm("mov dword ptr [rsp+0x11223344], 0x55667788"))
    assert insn.imm == 0x66778811


def test_pf_in_quirk_b_rex_w_c7_reads_eight_bytes():
    # The imm32 plus the first 4 bytes of the next instruction (mov rax, rcx; ret).
    code = asm("mov qword ptr [rdi], 0x12345678") + asm("mov rax, rcx") + asm("ret")
    insn = decode_pf_in(code)
    assert (insn.mem_width, insn.reg_width) == (4, 8)
    assert insn.imm == 0xC3C8894812345678
    # Both quirks at once: the SIB shift and 8 bytes.
    insn = decode_pf_in(bytes.fromhex("49c7442408ffffffff") + b"\x90" * 4)
    assert insn.imm == 0x909090FFFFFFFF08


@pytest.mark.parametrize(
    "line,imm",
    [
        ("mov dword ptr [rip+0x100], 0x11223344", 0x11223344),
        ("mov dword ptr [rdi+0x10], 0x11223344", 0x11223344),
        ("mov dword ptr [rdi+0x11223344], 0x55667788", 0x55667788),
        ("mov dword ptr [rdi], 0xdeadbeef", 0xDEADBEEF),
        ("mov word ptr [rdi], 0x1234", 0x1234),
        ("mov byte ptr [rdi+1], 0x5a", 0x5A),
    ],
)
def test_pf_in_immediates_without_sib_are_right(line, imm):
    insn = decode_pf_in(asm(line))
    assert insn.imm == imm
    assert insn.messages == ()


def test_pf_in_register_form_logs_not_a_memory_access():
    insn = decode_pf_in(bytes.fromhex("c7c001000000"), ip=0xFFFFFFFFC0001234)
    assert insn.imm == 1
    assert insn.messages == ("mmiotrace: not a memory access instruction at 0xffffffffc0001234, rm_mod=0xc0",)


@pytest.mark.parametrize(
    "code,raw",
    [
        ("f3a548", "f3a548"),  # rep movsl, then the next byte (spec example)
        ("0fc31e", "0fc31e"),  # movnti (spec example)
        ("660fd607", "660fd6"),  # a prefix byte comes first
        ("a5", "a50000"),
        ("", "000000"),
    ],
)
def test_pf_in_unknown_keeps_three_raw_bytes(code, raw):
    insn = decode_pf_in(bytes.fromhex(code))
    assert insn.type is PfInType.OTHERS
    assert insn.raw3 == bytes.fromhex(raw)
    pending = insn.pre(fake_regs(), 0xFE001000)
    assert insn.post(pending, fake_regs()) == [Record("UNKNOWN", 0, 0xFE001000, int(raw, 16))]


def test_pf_in_records_take_values_when_the_kernel_does():
    store = decode_pf_in(asm("mov [rdi], ecx"))
    pending = store.pre(fake_regs(rcx=0x1111_2222_3333_4444), 0xFD000400)
    # The register changes during the step: the kernel logged it before.
    assert store.post(pending, fake_regs(rcx=0)) == [Record("W", 4, 0xFD000400, 0x33334444)]
    load = decode_pf_in(asm("mov eax, [rdi]"))
    pending = load.pre(fake_regs(rax=1), 0xFD003FFC)
    assert load.post(pending, fake_regs(rax=0xCF57C9C1)) == [Record("R", 4, 0xFD003FFC, 0xCF57C9C1)]
    imm = decode_pf_in(bytes.fromhex("41c744240801000000"))
    # The device saw 1; pf_in logs what the kernel logs.
    assert imm.post(imm.pre(fake_regs(), 5), fake_regs(), [("W", 5, 4, 1)]) == [Record("W", 4, 5, 0x108)]


def test_pf_in_many_prefixes_are_skipped():
    insn = decode_pf_in(bytes.fromhex("f0f3f22e3e2664653667" "8907"))
    assert (insn.type, insn.mem_width) == (PfInType.REG_WRITE, 4)


# ---------------------------------------------------------------------------
# full: what each instruction class records

R = "R"
W = "W"
DEV, AFTER, BEFORE, IMM, PEER = "device", "reg-after", "reg-before", "imm", "peer"

FULL_PLANS = [
    # plain moves, every encoding the kernel reads or writes with
    ("mov al, [rdi]", [(R, 1, AFTER)]),
    ("mov ax, [rdi]", [(R, 2, AFTER)]),
    ("mov eax, [rdi+rsi*4+8]", [(R, 4, AFTER)]),
    ("mov rax, [rdi]", [(R, 8, AFTER)]),
    ("mov bh, [rdi]", [(R, 1, AFTER)]),
    ("movzx eax, byte ptr [rdi]", [(R, 1, AFTER)]),
    ("movzx eax, word ptr [rdi]", [(R, 2, AFTER)]),
    ("movsx rax, byte ptr [rdi]", [(R, 1, AFTER)]),
    ("movsxd rax, dword ptr [rdi]", [(R, 4, AFTER)]),
    ("movabs eax, [0x1122334455667788]", [(R, 4, AFTER)]),
    ("mov [rdi], al", [(W, 1, BEFORE)]),
    ("mov [rdi], ah", [(W, 1, BEFORE)]),
    ("mov [rdi], rax", [(W, 8, BEFORE)]),
    ("mov word ptr [rdi], 0x1234", [(W, 2, IMM)]),
    ("mov dword ptr [r12+8], 1", [(W, 4, IMM)]),
    ("mov qword ptr [rdi], -1", [(W, 8, IMM)]),
    ("movabs [0x1122334455667788], rax", [(W, 8, BEFORE)]),
    # read-modify-write: R then W
    ("add dword ptr [rdi], 1", [(R, 4, DEV), (W, 4, DEV)]),
    ("or [rdi], eax", [(R, 4, DEV), (W, 4, DEV)]),
    ("and byte ptr [rdi], 0xf", [(R, 1, DEV), (W, 1, DEV)]),
    ("sub qword ptr [rdi], rax", [(R, 8, DEV), (W, 8, DEV)]),
    ("xor word ptr [rdi], ax", [(R, 2, DEV), (W, 2, DEV)]),
    ("adc [rdi], eax", [(R, 4, DEV), (W, 4, DEV)]),
    ("sbb [rdi], eax", [(R, 4, DEV), (W, 4, DEV)]),
    ("inc byte ptr [rdi]", [(R, 1, DEV), (W, 1, DEV)]),
    ("dec word ptr [rdi]", [(R, 2, DEV), (W, 2, DEV)]),
    ("not qword ptr [rdi]", [(R, 8, DEV), (W, 8, DEV)]),
    ("neg dword ptr [rdi]", [(R, 4, DEV), (W, 4, DEV)]),
    ("shl dword ptr [rdi], 3", [(R, 4, DEV), (W, 4, DEV)]),
    ("sar dword ptr [rdi], cl", [(R, 4, DEV), (W, 4, DEV)]),
    ("rol dword ptr [rdi], 1", [(R, 4, DEV), (W, 4, DEV)]),
    ("rcr byte ptr [rdi], 1", [(R, 1, DEV), (W, 1, DEV)]),
    ("shld [rdi], eax, 4", [(R, 4, DEV), (W, 4, DEV)]),
    ("bts dword ptr [rdi], eax", [(R, 4, DEV), (W, 4, DEV)]),
    ("bts dword ptr [rdi], 3", [(R, 4, DEV), (W, 4, DEV)]),
    ("btr qword ptr [rdi], rax", [(R, 8, DEV), (W, 8, DEV)]),
    ("btc word ptr [rdi], ax", [(R, 2, DEV), (W, 2, DEV)]),
    ("xchg [rdi], eax", [(R, 4, AFTER), (W, 4, BEFORE)]),
    ("lock cmpxchg [rdi], ecx", [(R, 4, "cmpxchg-old"), (W, 4, "cmpxchg-new")]),
    ("cmpxchg byte ptr [rdi], cl", [(R, 1, "cmpxchg-old"), (W, 1, "cmpxchg-new")]),
    ("lock xadd [rdi], rcx", [(R, 8, AFTER), (W, 8, "xadd-sum")]),
    ("cmpxchg8b [rdi]", [(R, 8, DEV), (W, 8, DEV)]),
    ("cmpxchg16b [rdi]", [(R, 8, DEV), (R, 8, DEV), (W, 8, DEV), (W, 8, DEV)]),
    # compare-only: R
    ("test [rdi], eax", [(R, 4, DEV)]),
    ("test byte ptr [rdi], 1", [(R, 1, DEV)]),
    ("cmp dword ptr [rdi], 7", [(R, 4, DEV)]),
    ("cmp rax, [rdi]", [(R, 8, DEV)]),
    ("bt dword ptr [rdi], eax", [(R, 4, DEV)]),
    # string instructions: one iteration per step
    ("movsb", [(R, 1, PEER), (W, 1, PEER)]),
    ("movsd", [(R, 4, PEER), (W, 4, PEER)]),
    ("rep movsq", [(R, 8, PEER), (W, 8, PEER)]),
    ("stosb", [(W, 1, BEFORE)]),
    ("rep stosq", [(W, 8, BEFORE)]),
    ("lodsb", [(R, 1, AFTER)]),
    ("rep lodsd", [(R, 4, AFTER)]),
    ("cmpsw", [(R, 2, DEV), (R, 2, DEV)]),
    ("repe cmpsb", [(R, 1, DEV), (R, 1, DEV)]),
    ("scasd", [(R, 4, DEV)]),
    ("insb", [(W, 1, DEV)]),
    ("outsd", [(R, 4, DEV)]),
    # movnti, movbe
    ("movnti [rdi], eax", [(W, 4, BEFORE)]),
    ("movnti [rdi], rax", [(W, 8, BEFORE)]),
    ("movbe eax, [rdi]", [(R, 4, AFTER)]),
    ("movbe [rdi], rax", [(W, 8, BEFORE)]),
    ("movbe [rdi], ax", [(W, 2, BEFORE)]),
    # SSE/AVX: 8-byte pieces, low address first
    ("movdqu xmm0, [rdi]", [(R, 8, AFTER), (R, 8, AFTER)]),
    ("movdqu [rdi], xmm1", [(W, 8, BEFORE), (W, 8, BEFORE)]),
    ("movaps [rdi], xmm1", [(W, 8, BEFORE), (W, 8, BEFORE)]),
    ("movntdq [rdi], xmm1", [(W, 8, BEFORE), (W, 8, BEFORE)]),
    ("movq [rdi], xmm2", [(W, 8, BEFORE)]),
    ("movq xmm3, [rdi]", [(R, 8, AFTER)]),
    ("movd xmm3, [rdi]", [(R, 4, AFTER)]),
    ("movd [rdi], xmm3", [(W, 4, BEFORE)]),
    ("movhps [rdi], xmm1", [(W, 8, BEFORE)]),
    ("movss [rdi], xmm0", [(W, 4, BEFORE)]),
    ("movsd xmm0, [rdi]", [(R, 8, AFTER)]),
    ("movq [rdi], mm0", [(W, 8, BEFORE)]),
    ("vmovdqu ymm0, [rdi]", [(R, 8, AFTER)] * 4),
    ("vmovdqu [rdi], ymm1", [(W, 8, BEFORE)] * 4),
    ("vmovhps xmm0, xmm1, [rdi]", [(R, 8, AFTER)]),
    ("paddd xmm0, [rdi]", [(R, 8, DEV), (R, 8, DEV)]),
    ("pextrd [rdi], xmm0, 1", [(W, 4, DEV)]),
    # everything else with a memory operand still gets its accesses
    ("push qword ptr [rdi]", [(R, 8, DEV)]),
    ("pop qword ptr [rdi]", [(W, 8, DEV)]),
    ("call qword ptr [rdi]", [(R, 8, DEV)]),
    ("sete byte ptr [rdi]", [(W, 1, DEV)]),
    ("cmove eax, [rdi]", [(R, 4, DEV)]),
    ("imul eax, [rdi], 5", [(R, 4, DEV)]),
    ("div dword ptr [rdi]", [(R, 4, DEV)]),
    ("xlatb", [(R, 1, AFTER)]),
    ("fld dword ptr [rdi]", [(R, 4, DEV)]),
    ("fstp qword ptr [rdi]", [(W, 8, DEV)]),
    ("fld tbyte ptr [rdi]", [(R, 8, DEV), (R, 2, DEV)]),
    ("fxsave [rdi]", [(W, 8, DEV)] * 64),
    ("fxrstor [rdi]", [(R, 8, DEV)] * 64),
    ("mov word ptr [rdi], ds", [(W, 2, DEV)]),
    # no data access at all
    ("lea rax, [rdi]", []),
    ("nop dword ptr [rax]", []),
    ("prefetcht0 [rdi]", []),
    ("clflush [rdi]", []),
    ("ret", []),
]


@pytest.mark.parametrize("line,plan", FULL_PLANS, ids=[r[0] for r in FULL_PLANS])
def test_full_plan(line, plan):
    insn = decode_full(asm(line), 0x1000)
    assert not insn.unknown
    assert insn.plan() == plan


def test_full_rep_flag():
    assert decode_full(asm("rep stosd"), 0).rep
    assert not decode_full(asm("stosd"), 0).rep


@pytest.mark.parametrize("code", ["06", "27", "60", "d4", "ea", "8b", "c4", "f0", ""])
def test_full_undecodable_is_unknown_with_raw3(code):
    insn = decode_full(bytes.fromhex(code), 0x1000)
    assert insn.unknown
    pending = insn.pre(fake_regs(), 0x5000)
    raw = bytes.fromhex(code)[:3].ljust(3, b"\0")
    assert insn.post(pending, fake_regs(), [("R", 0x5000, 4, 1)]) == [Record("UNKNOWN", 0, 0x5000, int.from_bytes(raw, "big"))]


# ---------------------------------------------------------------------------
# full: addresses


def _addrs(line_or_code, pc=0x1000, fault=0xDEAD000, **regs) -> list[int]:
    code = asm(line_or_code) if isinstance(line_or_code, str) else line_or_code
    insn = decode_full(code, pc)
    return list(insn.pre(fake_regs(**regs), fault).addrs)


def test_full_addresses():
    assert _addrs("mov eax, [rdi+rsi*4+8]", rdi=0x10000, rsi=3) == [0x10014]
    assert _addrs("mov eax, [rdi-8]", rdi=0x10000) == [0xFFF8]
    # RIP-relative: from the end of the instruction.
    assert _addrs("mov eax, [rip+0x100]", pc=0x1000) == [0x1000 + 6 + 0x100]
    assert _addrs("mov eax, fs:[rdi]", rdi=0x10, fs_base=0x7000_0000) == [0x7000_0010]
    assert _addrs("mov eax, gs:[0x28]", gs_base=0xFFFF_8880_0000_0000) == [0xFFFF_8880_0000_0028]
    # 32-bit addressing (67) wraps at 4 GiB and ignores the high half.
    assert _addrs("mov eax, [edi+0x10]", rdi=0xFFFF_FFFF_FFFF_FFF8) == [0x8]
    assert _addrs("movabs eax, [0x1122334455667788]") == [0x1122334455667788]
    assert _addrs("xlatb", rbx=0x10000, rax=0x1234_5625) == [0x10025]


def test_full_string_instructions_touch_two_addresses():
    assert _addrs("movsb", rsi=0x20010, rdi=0x10040) == [0x20010, 0x10040]
    assert _addrs("cmpsb", rsi=0x20010, rdi=0x10040) == [0x20010, 0x10040]
    assert _addrs(bytes.fromhex("67a4"), rsi=0x1_0002_0010, rdi=0x1_0001_0040) == [0x20010, 0x10040]
    assert _addrs(bytes.fromhex("64a4"), rsi=0x10, rdi=0x10040, fs_base=0x30000) == [0x30010, 0x10040]


@pytest.mark.parametrize(
    "line,bitreg,offset",
    [
        ("bt dword ptr [rdi], eax", 100, 12),
        ("bt dword ptr [rdi], eax", 31, 0),
        ("bt dword ptr [rdi], eax", 0xFFFF_FFFF, -4),  # -1: the dword below
        ("bts qword ptr [rdi], rax", 64, 8),
        ("btr qword ptr [rdi], rax", (-70) & (2**64 - 1), -16),
        ("btc word ptr [rdi], ax", 0xFFFF, -2),
        ("btc word ptr [rdi], ax", 0x1_0010, 2),  # only the low 16 bits count
        ("bt dword ptr [rdi], 100", 0, 0),  # an immediate offset never moves it
    ],
)
def test_full_bit_offsets_move_the_access(line, bitreg, offset):
    assert _addrs(line, rdi=0x10800, rax=bitreg) == [0x10800 + offset] * len(decode_full(asm(line), 0).accesses)


def test_full_vector_index_uses_the_fault_address():
    assert _addrs("vpgatherdd xmm0, [rdi+xmm1*4], xmm2", fault=0x10040, rdi=0x10000) == [0x10040, 0x10048]


def test_full_wide_accesses_are_low_address_first():
    assert _addrs("vmovdqu [rdi], ymm1", rdi=0x10040) == [0x10040, 0x10048, 0x10050, 0x10058]


# ---------------------------------------------------------------------------
# full: values from registers, immediates and the device log


def _post(line, device=(), before=None, after=None, fault=0x10040, read_mem=None):
    insn = decode_full(asm(line), 0x1000)
    before = before or fake_regs()
    pending = insn.pre(before, fault, read_mem)
    return insn.post(pending, after or before, device, read_mem)


def test_full_values_from_registers_and_immediates():
    assert _post("mov [rdi], ah", before=fake_regs(rdi=0x10040, rax=0x1234)) == [Record(W, 1, 0x10040, 0x12)]
    assert _post("mov qword ptr [rdi], -2", before=fake_regs(rdi=0x10040)) == [Record(W, 8, 0x10040, 2**64 - 2)]
    xmm = 0x00112233445566778899AABBCCDDEEFF
    assert _post("movhps [rdi], xmm1", before=fake_regs(rdi=0x10040, xmm1=xmm)) == [Record(W, 8, 0x10040, 0x0011223344556677)]
    assert _post("movdqu [rdi], xmm1", before=fake_regs(rdi=0x10040, xmm1=xmm)) == [
        Record(W, 8, 0x10040, 0x8899AABBCCDDEEFF),
        Record(W, 8, 0x10048, 0x0011223344556677),
    ]
    # The register is read before the step for a store, after it for a load.
    assert _post("xchg [rdi], eax", before=fake_regs(rdi=0x10040, rax=5), after=fake_regs(rdi=0x10040, rax=9)) == [
        Record(R, 4, 0x10040, 9),
        Record(W, 4, 0x10040, 5),
    ]


def test_full_prefers_the_device_log():
    regs = fake_regs(rdi=0x10040, rax=0x1111)
    assert _post("mov [rdi], eax", [("W", 0xFD000040, 4, 0x2222)], before=regs) == [Record(W, 4, 0x10040, 0x2222)]
    # Wrong kind, or another page offset: not this access; fall back to the register.
    assert _post("mov [rdi], eax", [("R", 0xFD000040, 4, 0x2222)], before=regs) == [Record(W, 4, 0x10040, 0x1111)]
    assert _post("mov [rdi], eax", [("W", 0xFD000044, 4, 0x2222)], before=regs) == [Record(W, 4, 0x10040, 0x1111)]


def test_full_device_bytes_are_reassembled():
    regs = fake_regs(rdi=0x10FFE)
    # an mmio_map device sees an 8-byte load as two 4-byte halves...
    assert _post("mov rax, [rdi]", [("R", 0xFD000FF8, 4, 0x33221100), ("R", 0xFD000FFC, 4, 0x77665544)], before=fake_regs(rdi=0x10FF8)) == [
        Record(R, 8, 0x10FF8, 0x7766554433221100)
    ]
    # ...a page-crossing load as two aligned reads with bytes nobody asked for...
    assert _post("mov eax, [rdi]", [("R", 0xFD000FFC, 4, 0xBBAA0000), ("R", 0xFE000000, 4, 0x0000DDCC)], before=regs) == [
        Record(R, 4, 0x10FFE, 0xDDCCBBAA)
    ]
    # ...and a page-crossing store as single bytes.
    dev = [("W", 0xFD000FFE, 1, 0x44), ("W", 0xFD000FFF, 1, 0x33), ("W", 0xFE000000, 1, 0x22), ("W", 0xFE000001, 1, 0x11)]
    assert _post("mov [rdi], eax", dev, before=regs) == [Record(W, 4, 0x10FFE, 0x11223344)]


def test_full_two_reads_at_the_same_page_offset_take_device_reads_in_order():
    regs = fake_regs(rsi=0x10040, rdi=0x11040)
    assert _post("cmpsd", [("R", 0xFD000040, 4, 1), ("R", 0xFD001040, 4, 2)], before=regs) == [
        Record(R, 4, 0x10040, 1),
        Record(R, 4, 0x11040, 2),
    ]


def test_full_movs_read_and_write_share_the_value():
    regs = fake_regs(rsi=0x20010, rdi=0x10040)
    # RAM -> MMIO: only the write reaches the device.
    assert _post("movsd", [("W", 0xFD000040, 4, 0xCAFE)], before=regs) == [Record(R, 4, 0x20010, 0xCAFE), Record(W, 4, 0x10040, 0xCAFE)]
    # MMIO -> RAM: only the read does.
    assert _post("movsd", [("R", 0xFD000010, 4, 0xBEEF)], before=regs) == [Record(R, 4, 0x20010, 0xBEEF), Record(W, 4, 0x10040, 0xBEEF)]


def test_full_ram_backed_pages_use_memory():
    mem = {0x10040: 0x41, 0x10041: 0x42, 0x10042: 0x43, 0x10043: 0x44}

    def read_mem(addr, width):
        return int.from_bytes(bytes(mem.get(addr + i, 0) for i in range(width)), "little")

    insn = decode_full(asm("add dword ptr [rdi], 1"), 0)
    pending = insn.pre(fake_regs(rdi=0x10040), 0x10040, read_mem)
    mem[0x10040] = 0x42  # the step
    assert insn.post(pending, fake_regs(rdi=0x10040), (), read_mem) == [Record(R, 4, 0x10040, 0x44434241), Record(W, 4, 0x10040, 0x44434242)]


def test_full_without_a_plan_reports_the_device_accesses():
    insn = decode_full(asm("ret"), 0)
    pending = insn.pre(fake_regs(), 0x10FF8)
    assert insn.post(pending, fake_regs(), [("R", 0xFD000FF8, 8, 0x1234)]) == [Record(R, 8, 0x10FF8, 0x1234)]


# ---------------------------------------------------------------------------
# the Decoder: modes and the per-pc cache


def test_decoder_caches_by_pc_and_invalidates():
    dec = Decoder()
    assert dec.mode is DecoderMode.FULL
    code = asm("mov eax, [rdi]")
    first = dec.decode(0x1000, code)
    assert isinstance(first, FullInsn)
    assert dec.lookup(0x1000) is first
    # Same pc: the cached decode, whatever bytes are passed (text is static).
    assert dec.decode(0x1000, asm("mov [rdi], eax")) is first
    dec.decode(0x2000, code)
    dec.invalidate(0x1800, 0x3000)
    assert dec.lookup(0x2000) is None and dec.lookup(0x1000) is first
    dec.invalidate()
    assert len(dec) == 0
    assert dec.decode(0x1000, asm("mov [rdi], eax")).plan() == [(W, 4, BEFORE)]


def test_decoder_pf_in_mode():
    dec = Decoder("pf_in")
    insn = dec.decode(0xFFFFFFFFC0001000, bytes.fromhex("c7c001000000"))
    assert isinstance(insn, PfInInsn)
    assert insn.messages == ("mmiotrace: not a memory access instruction at 0xffffffffc0001000, rm_mod=0xc0",)


def test_decoder_rejects_unknown_modes():
    with pytest.raises(ValueError, match="unknown decoder mode 'kernel'.*full, pf_in"):
        Decoder("kernel")


# ---------------------------------------------------------------------------
# Never raising on garbage


def _zero(_uc_id: int) -> int:
    return 0


_device_access = st.tuples(st.sampled_from("RW"), st.integers(0, 2**64 - 1), st.sampled_from([1, 2, 4, 8]), st.integers(0, 2**64 - 1))


@settings(max_examples=300, deadline=None)
@given(code=st.binary(max_size=16), device=st.lists(_device_access, max_size=3))
def test_random_bytes_decode_or_unknown(code, device):
    for insn in (decode_pf_in(code), decode_full(code, 0x1000)):
        pending = insn.pre(_zero, 0x10000, lambda a, w: 0)
        records = insn.post(pending, _zero, device, lambda a, w: 0)
        assert all(r.kind in ("R", "W", "UNKNOWN") and 0 <= r.value < 2**64 for r in records)
        if isinstance(insn, FullInsn) and not insn.unknown:
            # full mode's values fit their width (pf_in's REX.W C7 value does not).
            assert all(r.value < 2 ** (8 * r.width) for r in records)
        if getattr(insn, "unknown", False) or getattr(insn, "type", None) is PfInType.OTHERS:
            assert records == [Record("UNKNOWN", 0, 0x10000, int.from_bytes(code[:3].ljust(3, b"\0"), "big"))]


# ---------------------------------------------------------------------------
# End to end on unicorn: one instruction against a logging device


CODE, DEVICE, RAM = 0x1000, 0x10000, 0x20000
PATTERN = bytes(i & 0xFF for i in range(0x2000))  # device byte at offset i is i & 0xff
RAM_PATTERN = bytes((0xA0 + i) & 0xFF for i in range(0x2000))


def dv(off: int, width: int) -> int:
    return int.from_bytes(PATTERN[off : off + width], "little")


def rv(off: int, width: int) -> int:
    return int.from_bytes(RAM_PATTERN[off : off + width], "little")


@dataclass
class Case:
    line: str
    regs: dict[str, int]
    expect: list[tuple[str, int, int, int]]  # kind, width, address, value
    rip_relative: bool = False
    ids: str = field(default="")


X = 0x00112233445566778899AABBCCDDEEFF
X_LO, X_HI = 0x8899AABBCCDDEEFF, 0x0011223344556677
E2E = [
    Case("mov eax, [rdi]", {"rdi": DEVICE + 0x40}, [(R, 4, DEVICE + 0x40, dv(0x40, 4))]),
    Case("mov rax, [rdi+rsi*8+8]", {"rdi": DEVICE, "rsi": 2}, [(R, 8, DEVICE + 0x18, dv(0x18, 8))]),
    Case("mov [rdi], ecx", {"rdi": DEVICE + 0x40, "rcx": 0xDEADBEEFCAFEF00D}, [(W, 4, DEVICE + 0x40, 0xCAFEF00D)]),
    Case("mov byte ptr [rdi], 0x5a", {"rdi": DEVICE + 0x40}, [(W, 1, DEVICE + 0x40, 0x5A)]),
    Case("mov qword ptr [rdi], -2", {"rdi": DEVICE + 0x40}, [(W, 8, DEVICE + 0x40, 2**64 - 2)]),
    Case("mov word ptr [rdi+2], 0x1234", {"rdi": DEVICE + 0x40}, [(W, 2, DEVICE + 0x42, 0x1234)]),
    Case("mov dword ptr [r12+8], 1", {"r12": DEVICE + 0x40}, [(W, 4, DEVICE + 0x48, 1)]),
    Case("movzx eax, byte ptr [rdi]", {"rdi": DEVICE + 0x80}, [(R, 1, DEVICE + 0x80, 0x80)]),
    Case("movsx eax, byte ptr [rdi]", {"rdi": DEVICE + 0x80}, [(R, 1, DEVICE + 0x80, 0x80)]),
    Case("movsx rax, word ptr [rdi]", {"rdi": DEVICE + 0x90}, [(R, 2, DEVICE + 0x90, 0x9190)]),
    Case("movsxd rax, dword ptr [rdi]", {"rdi": DEVICE + 0xF0}, [(R, 4, DEVICE + 0xF0, 0xF3F2F1F0)]),
    Case("mov ah, [rdi]", {"rdi": DEVICE + 0x33}, [(R, 1, DEVICE + 0x33, 0x33)]),
    Case("mov [rdi], ah", {"rdi": DEVICE + 0x40, "rax": 0x1234}, [(W, 1, DEVICE + 0x40, 0x12)]),
    Case("mov [rdi], sil", {"rdi": DEVICE + 0x40, "rsi": 0x77}, [(W, 1, DEVICE + 0x40, 0x77)]),
    Case("mov [rdi], r9w", {"rdi": DEVICE + 0x40, "r9": 0xABCD}, [(W, 2, DEVICE + 0x40, 0xABCD)]),
    Case("mov r15, [rdi]", {"rdi": DEVICE + 0x40}, [(R, 8, DEVICE + 0x40, dv(0x40, 8))]),
    Case("mov eax, [rdi]", {"rdi": DEVICE + 0xFFE}, [(R, 4, DEVICE + 0xFFE, 0x0100FFFE)], ids="page-crossing load"),
    Case("mov [rdi], eax", {"rdi": DEVICE + 0xFFD, "rax": 0x11223344}, [(W, 4, DEVICE + 0xFFD, 0x11223344)], ids="page-crossing store"),
    Case("mov eax, [edi]", {"rdi": 0xFFFF_FFFF_0000_0000 | (DEVICE + 0x40)}, [(R, 4, DEVICE + 0x40, dv(0x40, 4))]),
    Case("mov eax, fs:[rdi]", {"rdi": 0x40, "fs_base": DEVICE}, [(R, 4, DEVICE + 0x40, dv(0x40, 4))]),
    Case("mov eax, [rip+{disp}]", {}, [(R, 4, DEVICE + 0x40, dv(0x40, 4))], rip_relative=True),
    Case("movabs [0x10048], rax", {"rax": 0x0102030405060708}, [(W, 8, DEVICE + 0x48, 0x0102030405060708)]),
    # read-modify-write
    Case("add dword ptr [rdi], 1", {"rdi": DEVICE + 0x40}, [(R, 4, DEVICE + 0x40, 0x43424140), (W, 4, DEVICE + 0x40, 0x43424141)]),
    Case("or [rdi], eax", {"rdi": DEVICE + 0x40, "rax": 0x80000000}, [(R, 4, DEVICE + 0x40, 0x43424140), (W, 4, DEVICE + 0x40, 0xC3424140)]),
    Case("and byte ptr [rdi], 0x0f", {"rdi": DEVICE + 0x5A}, [(R, 1, DEVICE + 0x5A, 0x5A), (W, 1, DEVICE + 0x5A, 0x0A)]),
    Case("xor word ptr [rdi], ax", {"rdi": DEVICE + 0x20, "rax": 0xFFFF}, [(R, 2, DEVICE + 0x20, 0x2120), (W, 2, DEVICE + 0x20, 0xDEDF)]),
    Case("sub qword ptr [rdi], 1", {"rdi": DEVICE + 0x08}, [(R, 8, DEVICE + 8, dv(8, 8)), (W, 8, DEVICE + 8, dv(8, 8) - 1)]),
    Case("adc dword ptr [rdi], 0", {"rdi": DEVICE + 0x40, "eflags": 0x3}, [(R, 4, DEVICE + 0x40, 0x43424140), (W, 4, DEVICE + 0x40, 0x43424141)]),
    Case("inc byte ptr [rdi]", {"rdi": DEVICE + 0x10}, [(R, 1, DEVICE + 0x10, 0x10), (W, 1, DEVICE + 0x10, 0x11)]),
    Case("dec word ptr [rdi]", {"rdi": DEVICE + 0x10}, [(R, 2, DEVICE + 0x10, 0x1110), (W, 2, DEVICE + 0x10, 0x110F)]),
    Case("not dword ptr [rdi]", {"rdi": DEVICE + 0x10}, [(R, 4, DEVICE + 0x10, 0x13121110), (W, 4, DEVICE + 0x10, 0xECEDEEEF)]),
    Case("neg byte ptr [rdi]", {"rdi": DEVICE + 0x01}, [(R, 1, DEVICE + 1, 0x01), (W, 1, DEVICE + 1, 0xFF)]),
    Case("shl dword ptr [rdi], 4", {"rdi": DEVICE + 0x10}, [(R, 4, DEVICE + 0x10, 0x13121110), (W, 4, DEVICE + 0x10, 0x31211100)]),
    Case("shr dword ptr [rdi], cl", {"rdi": DEVICE + 0x10, "rcx": 8}, [(R, 4, DEVICE + 0x10, 0x13121110), (W, 4, DEVICE + 0x10, 0x00131211)]),
    Case("rol byte ptr [rdi], 1", {"rdi": DEVICE + 0x81}, [(R, 1, DEVICE + 0x81, 0x81), (W, 1, DEVICE + 0x81, 0x03)]),
    Case("bts dword ptr [rdi], 3", {"rdi": DEVICE + 0x40}, [(R, 4, DEVICE + 0x40, 0x43424140), (W, 4, DEVICE + 0x40, 0x43424148)]),
    Case(
        "btr dword ptr [rdi], eax",
        {"rdi": DEVICE + 0x800, "rax": (-70) & 0xFFFFFFFF},
        [(R, 4, DEVICE + 0x7F4, 0xF7F6F5F4), (W, 4, DEVICE + 0x7F4, 0xF3F6F5F4)],
    ),
    Case("btc word ptr [rdi], 15", {"rdi": DEVICE + 0x20}, [(R, 2, DEVICE + 0x20, 0x2120), (W, 2, DEVICE + 0x20, 0xA120)]),
    Case("xchg [rdi], eax", {"rdi": DEVICE + 0x40, "rax": 0x11223344}, [(R, 4, DEVICE + 0x40, 0x43424140), (W, 4, DEVICE + 0x40, 0x11223344)]),
    Case(
        "lock cmpxchg [rdi], ecx",
        {"rdi": DEVICE + 0x40, "rax": 0x43424140, "rcx": 7},
        [(R, 4, DEVICE + 0x40, 0x43424140), (W, 4, DEVICE + 0x40, 7)],
        ids="cmpxchg equal",
    ),
    Case(
        "lock cmpxchg [rdi], ecx",
        {"rdi": DEVICE + 0x40, "rax": 5, "rcx": 7},
        [(R, 4, DEVICE + 0x40, 0x43424140), (W, 4, DEVICE + 0x40, 0x43424140)],
        ids="cmpxchg differ",
    ),
    Case("xadd [rdi], ecx", {"rdi": DEVICE + 0x40, "rcx": 0x10}, [(R, 4, DEVICE + 0x40, 0x43424140), (W, 4, DEVICE + 0x40, 0x43424150)]),
    Case(
        "cmpxchg16b [rdi]",
        {"rdi": DEVICE + 0x40},  # rdx:rax differ: the old value is written back
        [(R, 8, DEVICE + 0x40, dv(0x40, 8)), (R, 8, DEVICE + 0x48, dv(0x48, 8)),
         (W, 8, DEVICE + 0x40, dv(0x40, 8)), (W, 8, DEVICE + 0x48, dv(0x48, 8))],
    ),
    # compare-only
    Case("test [rdi], eax", {"rdi": DEVICE + 0x40}, [(R, 4, DEVICE + 0x40, 0x43424140)]),
    Case("cmp dword ptr [rdi], 7", {"rdi": DEVICE + 0x40}, [(R, 4, DEVICE + 0x40, 0x43424140)]),
    Case("bt dword ptr [rdi], eax", {"rdi": DEVICE + 0x40, "rax": 100}, [(R, 4, DEVICE + 0x4C, 0x4F4E4D4C)]),
    # strings
    Case("movsb", {"rsi": RAM + 0x10, "rdi": DEVICE + 0x40}, [(R, 1, RAM + 0x10, rv(0x10, 1)), (W, 1, DEVICE + 0x40, rv(0x10, 1))]),
    Case("movsd", {"rsi": DEVICE + 0x40, "rdi": RAM}, [(R, 4, DEVICE + 0x40, 0x43424140), (W, 4, RAM, 0x43424140)]),
    Case(
        "rep movsq",
        {"rsi": DEVICE + 0x80, "rdi": DEVICE + 0x100, "rcx": 1},
        [(R, 8, DEVICE + 0x80, dv(0x80, 8)), (W, 8, DEVICE + 0x100, dv(0x80, 8))],
    ),
    Case("rep stosd", {"rdi": DEVICE + 0x40, "rcx": 1, "rax": 0xABCD}, [(W, 4, DEVICE + 0x40, 0xABCD)]),
    Case("stosb", {"rdi": DEVICE + 0x40, "rax": 0x99}, [(W, 1, DEVICE + 0x40, 0x99)]),
    Case("lodsw", {"rsi": DEVICE + 0x20}, [(R, 2, DEVICE + 0x20, 0x2120)]),
    Case("cmpsb", {"rsi": DEVICE + 0x30, "rdi": DEVICE + 0x1031}, [(R, 1, DEVICE + 0x30, 0x30), (R, 1, DEVICE + 0x1031, 0x31)]),
    Case("scasd", {"rdi": DEVICE + 0x40}, [(R, 4, DEVICE + 0x40, 0x43424140)]),
    # movnti, movbe
    Case("movnti [rdi], eax", {"rdi": DEVICE + 0x40, "rax": 0x1234_5678_9ABC_DEF0}, [(W, 4, DEVICE + 0x40, 0x9ABCDEF0)]),
    Case("movnti [rdi], rax", {"rdi": DEVICE + 0x40, "rax": 0x1234_5678_9ABC_DEF0}, [(W, 8, DEVICE + 0x40, 0x1234_5678_9ABC_DEF0)]),
    Case("movbe eax, [rdi]", {"rdi": DEVICE + 0x40}, [(R, 4, DEVICE + 0x40, 0x43424140)]),
    Case("movbe [rdi], rax", {"rdi": DEVICE + 0x40, "rax": 0x1122334455667788}, [(W, 8, DEVICE + 0x40, 0x8877665544332211)]),
    # SSE
    Case("movdqu xmm0, [rdi]", {"rdi": DEVICE + 0x40}, [(R, 8, DEVICE + 0x40, dv(0x40, 8)), (R, 8, DEVICE + 0x48, dv(0x48, 8))]),
    Case("movdqu [rdi], xmm1", {"rdi": DEVICE + 0x40, "xmm1": X}, [(W, 8, DEVICE + 0x40, X_LO), (W, 8, DEVICE + 0x48, X_HI)]),
    Case("movaps [rdi], xmm1", {"rdi": DEVICE + 0x40, "xmm1": X}, [(W, 8, DEVICE + 0x40, X_LO), (W, 8, DEVICE + 0x48, X_HI)]),
    Case("movq [rdi], xmm2", {"rdi": DEVICE + 0x40, "xmm2": X}, [(W, 8, DEVICE + 0x40, 0x8899AABBCCDDEEFF)]),
    Case("movq xmm3, [rdi]", {"rdi": DEVICE + 0x40}, [(R, 8, DEVICE + 0x40, dv(0x40, 8))]),
    Case("movd xmm3, [rdi]", {"rdi": DEVICE + 0x40}, [(R, 4, DEVICE + 0x40, dv(0x40, 4))]),
    Case("movhps [rdi], xmm1", {"rdi": DEVICE + 0x40, "xmm1": X}, [(W, 8, DEVICE + 0x40, 0x0011223344556677)]),
    Case("movhps xmm1, [rdi]", {"rdi": DEVICE + 0x40}, [(R, 8, DEVICE + 0x40, dv(0x40, 8))]),
    Case("movss [rdi], xmm0", {"rdi": DEVICE + 0x40, "xmm0": X}, [(W, 4, DEVICE + 0x40, 0xCCDDEEFF)]),
    Case("movsd xmm0, [rdi]", {"rdi": DEVICE + 0x40}, [(R, 8, DEVICE + 0x40, dv(0x40, 8))]),
    Case("paddd xmm0, [rdi]", {"rdi": DEVICE + 0x40}, [(R, 8, DEVICE + 0x40, dv(0x40, 8)), (R, 8, DEVICE + 0x48, dv(0x48, 8))]),
    # the rest
    Case("push qword ptr [rdi]", {"rdi": DEVICE + 0x40, "rsp": RAM + 0x800}, [(R, 8, DEVICE + 0x40, dv(0x40, 8))]),
    Case("pop qword ptr [rdi]", {"rdi": DEVICE + 0x40, "rsp": RAM + 0x800}, [(W, 8, DEVICE + 0x40, rv(0x800, 8))]),
    Case("sete byte ptr [rdi]", {"rdi": DEVICE + 0x40, "eflags": 0x42}, [(W, 1, DEVICE + 0x40, 1)]),
    Case("xlatb", {"rbx": DEVICE + 0x100, "rax": 0x25}, [(R, 1, DEVICE + 0x125, 0x25)]),
]


def _run(case: Case, backing: str):
    """Run one instruction; return (decoded, pending, registers after, device log, read_mem)."""
    line = case.line
    if case.rip_relative:
        size = len(asm(line.format(disp=0x1000)))
        line = line.format(disp=DEVICE + 0x40 - (CODE + size))
    code = asm(line)
    mu = Uc(UC_ARCH_X86, UC_MODE_64)
    mu.mem_map(CODE, 0x1000)
    mu.mem_write(CODE, code + b"\x90" * 16)
    mu.mem_map(RAM, 0x2000)
    mu.mem_write(RAM, RAM_PATTERN)
    log: list[tuple[str, int, int, int]] = []
    regfile = bytearray(PATTERN)

    def read_cb(uc, offset, size, ud):
        value = int.from_bytes(regfile[offset : offset + size], "little")
        log.append(("R", DEVICE + offset, size, value))
        return value

    def write_cb(uc, offset, size, value, ud):
        regfile[offset : offset + size] = value.to_bytes(size, "little")
        log.append(("W", DEVICE + offset, size, value))

    if backing == "mmio":
        mu.mmio_map(DEVICE, 0x2000, read_cb, None, write_cb, None)
    else:
        mu.mem_map(DEVICE, 0x2000)
        mu.mem_write(DEVICE, PATTERN)
    for name, value in case.regs.items():
        mu.reg_write(getattr(ucx, f"UC_X86_REG_{name.upper()}"), value)

    def read_mem(addr: int, width: int) -> int:
        return int.from_bytes(mu.mem_read(addr, width), "little")

    insn = decode_full(code, CODE)
    fault = next(a for k, w, a, v in case.expect if DEVICE <= a < DEVICE + 0x2000)
    pending = insn.pre(mu.reg_read, fault, read_mem if backing == "ram" else None)
    pf_pending = decode_pf_in(code + b"\x90" * 8, CODE).pre(mu.reg_read, fault)
    mu.emu_start(CODE, CODE + insn.size, count=1)
    assert mu.reg_read(ucx.UC_X86_REG_RIP) in (CODE, CODE + insn.size)
    return insn, pending, pf_pending, mu, log, read_mem


@pytest.mark.parametrize("case", E2E, ids=[c.ids or c.line for c in E2E])
def test_e2e_mmio_device(case):
    insn, pending, _, mu, log, _ = _run(case, "mmio")
    records = insn.post(pending, mu.reg_read, log)
    assert records == [Record(*e) for e in case.expect]
    # Cross-check: values derived from registers/immediates alone agree with the device.
    derived = insn.post(pending, mu.reg_read, ())
    for acc, rec, expected in zip(insn.accesses, derived, case.expect):
        if acc.source.value not in ("device", "peer"):
            assert rec == Record(*expected), acc.source


@pytest.mark.parametrize("case", E2E, ids=[c.ids or c.line for c in E2E])
def test_e2e_ram_backed_page(case):
    insn, pending, _, mu, log, read_mem = _run(case, "ram")
    assert log == []
    assert insn.post(pending, mu.reg_read, (), read_mem) == [Record(*e) for e in case.expect]


def _pf_in_e2e(line: str, regs: dict[str, int]) -> tuple[Record, Record]:
    case = next(c for c in E2E if c.line == line and c.regs == regs)
    insn, pending, pf_pending, mu, log, _ = _run(case, "mmio")
    pf = decode_pf_in(asm(line) + b"\x90" * 8, CODE)
    (pf_rec,) = pf.post(pf_pending, mu.reg_read, log)
    (full_rec,) = insn.post(pending, mu.reg_read, log)
    return pf_rec, full_rec


def test_e2e_where_pf_in_and_full_differ():
    # movsbl of 0x80: the kernel logs the sign-extended register, full the byte read.
    pf, full = _pf_in_e2e("movsx eax, byte ptr [rdi]", {"rdi": DEVICE + 0x80})
    assert (pf, full) == (Record(R, 1, DEVICE + 0x80, 0xFFFFFF80), Record(R, 1, DEVICE + 0x80, 0x80))
    # The SIB immediate bug: the device got 1, the kernel logs 0x108.
    pf, full = _pf_in_e2e("mov dword ptr [r12+8], 1", {"r12": DEVICE + 0x40})
    assert (pf.value, full.value) == (0x108, 1)
    # REX.W C7: width 4 and a garbage high dword (the nops after it) vs width 8.
    pf, full = _pf_in_e2e("mov qword ptr [rdi], -2", {"rdi": DEVICE + 0x40})
    assert (pf.width, pf.value) == (4, 0x90909090FFFFFFFE)
    assert (full.width, full.value) == (8, 2**64 - 2)


@pytest.mark.parametrize(
    "line,regs",
    [
        ("mov eax, [rdi]", {"rdi": DEVICE + 0x40}),
        ("mov [rdi], ecx", {"rdi": DEVICE + 0x40, "rcx": 0xDEADBEEFCAFEF00D}),
        ("mov [rdi], ah", {"rdi": DEVICE + 0x40, "rax": 0x1234}),
        ("mov [rdi], sil", {"rdi": DEVICE + 0x40, "rsi": 0x77}),
        ("mov byte ptr [rdi], 0x5a", {"rdi": DEVICE + 0x40}),
        ("movzx eax, byte ptr [rdi]", {"rdi": DEVICE + 0x80}),
        ("mov r15, [rdi]", {"rdi": DEVICE + 0x40}),
        ("rep stosd", {"rdi": DEVICE + 0x40, "rcx": 1, "rax": 0xABCD}),
    ],
)
def test_e2e_pf_in_agrees_on_plain_moves(line, regs):
    pf, full = _pf_in_e2e(line, regs)
    assert pf == full
