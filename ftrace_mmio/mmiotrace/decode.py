"""What a faulting instruction does to memory: which accesses, how wide, which values.

kmmio calls the decoder twice per traced access, like the kernel's pre and post
handlers: ``pre`` at the page fault, before the instruction has run (addresses,
and the values a store is about to write), ``post`` at the debug trap after the
single step (the values a load brought in, or what the device model saw during
the step). Decoding itself happens once per instruction address and is cached
(``Decoder``); the per-access path is a dict hit plus a few register reads.

Two decoders, chosen per trace:

``pf_in``
    The kernel's own decoder (arch/x86/mm/pf_in.c), re-done byte for byte on the
    raw instruction bytes, without capstone: the same twelve-opcode table,
    the same width tables, the same register selection, the same immediate
    reader with its two bugs, and UNKNOWN with three raw bytes for everything
    else. One record per fault. Use it to compare a trace with a real kernel's.

``full`` (default)
    capstone in detail mode. Any instruction yields the ordered list of accesses
    it makes to its memory operands (R before W), so read-modify-write, string,
    bit-test, exchange, movbe, movnti, SSE/AVX and x87 accesses are traced with
    their real kind and width instead of UNKNOWN. Accesses wider than 8 bytes
    become consecutive 8-byte records, low address first. Values are taken from
    the device model's own log of the step when it covers the access, else from
    registers or immediates, else from memory. See docs/decoder.md.

Register reads go through a caller-supplied ``read_reg(uc_id) -> int`` taking
unicorn x86 register ids (``unicorn.x86_const``) of *full* registers: RAX for
AH/EAX/AX/AL, R8 for R8B, XMM0 for an xmm0 operand (a 128-bit int), EFLAGS,
FS_BASE/GS_BASE for fs:/gs: addressing.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import NamedTuple

import capstone
from capstone import x86 as csx
from unicorn import x86_const as ucx

__all__ = [
    "Access",
    "Decoded",
    "Decoder",
    "DecoderMode",
    "DeviceAccess",
    "FullInsn",
    "Pending",
    "PfInInsn",
    "PfInType",
    "PlainAccess",
    "ReadMem",
    "ReadReg",
    "Record",
    "RegRef",
    "Source",
    "decode_full",
    "decode_pf_in",
    "pf_in_mem_width",
    "pf_in_reg_value",
    "pf_in_reg_width",
]

ReadReg = Callable[[int], int]
"""``read_reg(uc_id)``: the full value of a unicorn x86 register."""

ReadMem = Callable[[int, int], "int | None"]
"""``read_mem(vaddr, width)``: little-endian guest memory, or None if unreadable."""

DeviceAccess = tuple[str, int, int, int]
"""``(kind, phys, width, value)`` as the device model saw it during the step; kind "R"/"W"."""

_MASK64 = (1 << 64) - 1
_EFLAGS_ZF = 0x40


class Record(NamedTuple):
    """One access as the trace shows it.

    ``kind`` is "R", "W" or "UNKNOWN". ``addr`` is the guest-virtual address
    accessed (pf_in and UNKNOWN: the fault address, as the kernel has nothing
    better); the tracer turns it into a bus address with its probe
    (``addr - probe.addr + map.phys``). UNKNOWN has width 0 and the three raw
    bytes at RIP packed as ``b0 << 16 | b1 << 8 | b2`` in ``value``.
    """

    kind: str
    width: int
    addr: int
    value: int


class Pending(NamedTuple):
    """What ``pre`` captured at the fault for ``post`` to finish after the step.

    ``addrs`` has one address per planned access; ``early`` the values known
    before the step (store sources, or memory a load will read).
    """

    fault_addr: int
    addrs: tuple[int, ...]
    early: tuple[int | None, ...]


class PlainAccess(NamedTuple):
    """A plain ``mov`` load or store, reduced to what a per-access fast path needs.

    One access, its value exactly in one general-purpose register (or the
    instruction's immediate), its address a register sum: ``plain()`` returns
    this for such instructions so that a caller can bind the registers once
    and skip ``pre``/``post``. The record it describes is the one ``post``
    returns, value for value.

    ``value_reg`` is the full register holding the value (after the step for
    "R", before it for "W"), ``(reg >> shift) & mask`` the value; None means
    the value is ``imm``. The address is ``disp + base + index * scale``
    (64-bit wrap), or the fault address when ``at_fault``.
    """

    kind: str
    width: int
    value_reg: int | None
    shift: int
    mask: int
    imm: int
    at_fault: bool
    base: int | None
    index: int | None
    scale: int
    disp: int


# NamedTuple construction through its __new__ costs more than the rest of an
# access; the hot paths build them as plain tuples of the right class.
_new_tuple = tuple.__new__


def _mask(width: int) -> int:
    return (1 << (8 * width)) - 1


def _bswap(value: int, width: int) -> int:
    return int.from_bytes(value.to_bytes(width, "little"), "big")


def _raw3(code: bytes) -> tuple[bytes, int]:
    raw = bytes(code[:3]).ljust(3, b"\0")
    return raw, raw[0] << 16 | raw[1] << 8 | raw[2]


# ---------------------------------------------------------------------------
# pf_in: the kernel's decoder


class PfInType(enum.IntEnum):
    """The kernel's ``enum reason_type``, in its order."""

    NOT_ME = 0
    NOTHING = 1
    REG_READ = 2
    REG_WRITE = 3
    IMM_WRITE = 4
    OTHERS = 5


# x86-64 tables. Two-byte opcodes are the little-endian u16 of "0F xx", as the
# kernel compares them.
_PF_PREFIXES = frozenset([0x66, 0x67, 0x2E, 0x3E, 0x26, 0x64, 0x65, 0x36, 0xF0, 0xF3, 0xF2, *range(0x40, 0x50)])
_PF_CLASSES: tuple[tuple[tuple[int, ...], PfInType], ...] = (
    ((0x8A, 0x8B, 0xB60F, 0xB70F, 0xBE0F, 0xBF0F), PfInType.REG_READ),
    ((0x88, 0x89, 0xAA, 0xAB), PfInType.REG_WRITE),
    ((0xC6, 0xC7), PfInType.IMM_WRITE),
)
_PF_RW8 = frozenset([0xC6, 0x88, 0x8A, 0xAA])
_PF_RW32 = frozenset([0xC7, 0x89, 0x8B, 0xB60F, 0xB70F, 0xBE0F, 0xBF0F, 0xAB])
_PF_MW8 = frozenset([0xC6, 0x88, 0x8A, 0xB60F, 0xBE0F, 0xAA])
_PF_MW16 = frozenset([0xB70F, 0xBF0F])
_PF_MW32 = frozenset([0xC7])
_PF_MW64 = frozenset([0x89, 0x8B, 0xAB])

# ModRM register numbers 0-15 in the kernel's order (AX CX DX BX SP BP SI DI R8-R15).
_PF_REGS = (
    ucx.UC_X86_REG_RAX, ucx.UC_X86_REG_RCX, ucx.UC_X86_REG_RDX, ucx.UC_X86_REG_RBX,
    ucx.UC_X86_REG_RSP, ucx.UC_X86_REG_RBP, ucx.UC_X86_REG_RSI, ucx.UC_X86_REG_RDI,
    ucx.UC_X86_REG_R8, ucx.UC_X86_REG_R9, ucx.UC_X86_REG_R10, ucx.UC_X86_REG_R11,
    ucx.UC_X86_REG_R12, ucx.UC_X86_REG_R13, ucx.UC_X86_REG_R14, ucx.UC_X86_REG_R15,
)


@dataclass(frozen=True, slots=True)
class _PfPrefix:
    length: int
    shorted: bool  # any 66
    enlarged: bool  # any REX.W
    rexr: bool  # any REX.R
    rex: bool  # any REX at all


def _byte(code: bytes, i: int) -> int:
    # The kernel reads guest memory past the instruction freely; we only have
    # what the caller fetched, and read the rest as zero.
    return code[i] if i < len(code) else 0


def _pf_prefix(code: bytes) -> _PfPrefix:
    # Flags are sticky: a later prefix never clears what an earlier one set,
    # and a REX that is not the last prefix still counts (real CPUs ignore it).
    i = 0
    shorted = enlarged = rexr = rex = False
    while i < len(code) and code[i] in _PF_PREFIXES:
        b = code[i]
        shorted |= b == 0x66
        enlarged |= (b & 0xF8) == 0x48
        rexr |= (b & 0xF4) == 0x44
        rex |= (b & 0xF0) == 0x40
        i += 1
    return _PfPrefix(i, shorted, enlarged, rexr, rex)


def _pf_opcode(code: bytes, at: int) -> tuple[int, int]:
    if _byte(code, at) == 0x0F:
        return 0x0F | _byte(code, at + 1) << 8, 2
    return _byte(code, at), 1


def _pf_unknown(opcode: int) -> str:
    return f"mmiotrace: Unknown opcode 0x{opcode:02x}"


def pf_in_reg_width(code: bytes) -> tuple[int, list[str]]:
    """The kernel's register width (1/2/4/8, or 0 and its log line for other opcodes)."""
    prf = _pf_prefix(code)
    opcode, _ = _pf_opcode(code, prf.length)
    return _pf_reg_width(opcode, prf)


def _pf_reg_width(opcode: int, prf: _PfPrefix) -> tuple[int, list[str]]:
    if opcode in _PF_RW8:
        return 1, []
    if opcode in _PF_RW32:
        return (2 if prf.shorted else 8 if prf.enlarged else 4), []
    return 0, [_pf_unknown(opcode)]


def pf_in_mem_width(code: bytes) -> tuple[int, list[str]]:
    """The kernel's memory width, the number after R/W (or 0 and its log line)."""
    prf = _pf_prefix(code)
    opcode, _ = _pf_opcode(code, prf.length)
    return _pf_mem_width(opcode, prf)


def _pf_mem_width(opcode: int, prf: _PfPrefix) -> tuple[int, list[str]]:
    if opcode in _PF_MW8:
        return 1, []
    if opcode in _PF_MW16:
        return 2, []
    if opcode in _PF_MW32:
        # REX.W is not looked at here: a 64-bit "mov $imm32, (m)" says 4.
        return (2 if prf.shorted else 4), []
    if opcode in _PF_MW64:
        return (2 if prf.shorted else 8 if prf.enlarged else 4), []
    return 0, [_pf_unknown(opcode)]


@dataclass(frozen=True, slots=True)
class PfInInsn:
    """One instruction as the kernel's decoder sees it.

    ``messages`` are the kernel log lines its pre handler prints for this
    instruction, on every fault; hand them to dmesg each time.
    """

    ip: int
    type: PfInType
    opcode: int
    mem_width: int
    reg_width: int
    regno: int | None  # ModRM.reg | REX.R << 3 (0 for stos), REG_* only
    byte_high: bool  # AH/CH/DH/BH: byte 1 of the register
    reg_id: int | None  # unicorn id of the full register regno names
    imm: int | None  # IMM_WRITE: the value the kernel logs, quirks included
    raw3: bytes
    messages: tuple[str, ...] = ()

    @property
    def raw3_value(self) -> int:
        return self.raw3[0] << 16 | self.raw3[1] << 8 | self.raw3[2]

    def plain(self) -> PlainAccess | None:
        """The kernel's REG_READ / REG_WRITE / IMM_WRITE record as a :class:`PlainAccess`.

        Its quirks carry over: the address is the fault address, the width
        the memory width, the value masked to the *register* width.
        """
        if self.messages:
            return None  # log lines on every fault: the general path writes them
        if self.type is PfInType.IMM_WRITE:
            return PlainAccess("W", self.mem_width, None, 0, _MASK64, self.imm or 0, True, None, None, 0, 0)
        if self.type is PfInType.REG_READ or self.type is PfInType.REG_WRITE:
            kind = "R" if self.type is PfInType.REG_READ else "W"
            return PlainAccess(kind, self.mem_width, self.reg_id, 8 if self.byte_high else 0,
                               _mask(self.reg_width), 0, True, None, None, 0, 0)
        return None

    def pre(self, read_reg: ReadReg, fault_addr: int, read_mem: ReadMem | None = None) -> Pending:
        if self.type is PfInType.REG_WRITE:
            value = pf_in_reg_value(self, read_reg)
        elif self.type is PfInType.IMM_WRITE:
            value = self.imm or 0
        elif self.type is PfInType.REG_READ:
            value = None  # the destination register, after the step
        else:
            value = self.raw3_value
        return _new_tuple(Pending, (fault_addr, (fault_addr,), (value,)))

    def post(
        self,
        pending: Pending,
        read_reg: ReadReg,
        device: Sequence[DeviceAccess] = (),
        read_mem: ReadMem | None = None,
    ) -> list[Record]:
        # The kernel knows nothing of the device: its values come from the
        # registers and the instruction stream, bugs and all.
        addr = pending.fault_addr
        if self.type is PfInType.REG_READ:
            return [_new_tuple(Record, ("R", self.mem_width, addr, pf_in_reg_value(self, read_reg)))]
        if self.type is PfInType.REG_WRITE or self.type is PfInType.IMM_WRITE:
            return [_new_tuple(Record, ("W", self.mem_width, addr, pending.early[0] or 0))]
        return [_new_tuple(Record, ("UNKNOWN", 0, addr, self.raw3_value))]


def decode_pf_in(code: bytes, ip: int = 0) -> PfInInsn:
    """Decode ``code`` (the bytes at RIP) exactly as the kernel's pf_in.c does.

    ``ip`` only appears in log lines. Bytes past the end of ``code`` read as 0:
    pass 15 bytes, or more to reproduce the REX.W C7 quirk's garbage exactly when
    the instruction is long (the kernel reads 8 immediate bytes).
    """
    code = bytes(code)
    raw, _ = _raw3(code)
    prf = _pf_prefix(code)
    opcode, olen = _pf_opcode(code, prf.length)
    modrm_at = prf.length + olen
    ins_type = PfInType.OTHERS
    for opcodes, cls in _PF_CLASSES:
        if opcode in opcodes:
            ins_type = cls
            break
    if ins_type is PfInType.OTHERS:
        # pre() records UNKNOWN without asking for widths, so nothing is logged.
        return PfInInsn(ip, ins_type, opcode, 0, 0, None, False, None, None, raw)

    messages: list[str] = []
    mem_width, msgs = _pf_mem_width(opcode, prf)
    messages += msgs
    reg_width, _ = _pf_reg_width(opcode, prf)
    regno = reg_id = imm = None
    byte_high = False
    if ins_type is PfInType.IMM_WRITE:
        imm, msgs = _pf_imm(code, modrm_at, reg_width, ip)
        messages += msgs
    else:
        if opcode in (0xAA, 0xAB):
            regno = 0  # stos stores from the accumulator
        else:
            regno = (_byte(code, modrm_at) >> 3) & 7 | prf.rexr << 3
        if reg_width == 1 and 4 <= regno <= 7 and not prf.rex:
            byte_high = True
            reg_id = _PF_REGS[regno - 4]  # AH, CH, DH, BH live in RAX..RBX
        else:
            reg_id = _PF_REGS[regno]
    return PfInInsn(ip, ins_type, opcode, mem_width, reg_width, regno, byte_high, reg_id, imm, raw, tuple(messages))


def _pf_imm(code: bytes, modrm_at: int, reg_width: int, ip: int) -> tuple[int, list[str]]:
    modrm = _byte(code, modrm_at)
    mod = modrm >> 6
    p = modrm_at + 1
    messages = []
    # The displacement is skipped, but a SIB byte (rm == 4) is not: with SIB
    # addressing the immediate is read one byte early (quirk A).
    if mod == 0:
        if modrm & 7 == 5:
            p += 4
    elif mod == 1:
        p += 1
    elif mod == 2:
        p += 4
    else:
        messages.append(f"mmiotrace: not a memory access instruction at 0x{ip:x}, rm_mod=0x{modrm:02x}")
    # Register width, not immediate width: REX.W C7 reads 8 bytes, the imm32
    # and whatever follows it (quirk B).
    return int.from_bytes(bytes(_byte(code, p + i) for i in range(reg_width)), "little"), messages


def pf_in_reg_value(insn: PfInInsn, read_reg: ReadReg) -> int:
    """The register value the kernel logs: the source before a store, the destination after a load.

    Masked to the register width, so ``movsbl`` of 0x80 gives 0xffffff80 and a
    REX.W load all 64 bits. Not a register instruction: 0, as in the kernel.
    """
    if insn.reg_id is None:
        return 0
    value = read_reg(insn.reg_id)
    if insn.byte_high:
        value >>= 8
    return value & _mask(insn.reg_width)


# ---------------------------------------------------------------------------
# full: capstone


@dataclass(frozen=True, slots=True)
class RegRef:
    """A register operand as a slice of a full register: AH is RAX bits 8-15."""

    uc_id: int
    shift: int
    width: int

    def read(self, read_reg: ReadReg) -> int:
        return (read_reg(self.uc_id) >> self.shift) & _mask(self.width)


def _build_regmap() -> MappingProxyType[str, RegRef]:
    gpr = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"]
    regs: dict[str, RegRef] = {}
    for n, r in enumerate(gpr):
        full = getattr(ucx, f"UC_X86_REG_R{r.upper()}")
        regs[f"r{r}"] = RegRef(full, 0, 8)
        regs[f"e{r}"] = RegRef(full, 0, 4)
        regs[r] = RegRef(full, 0, 2)
        regs[(r[0] + "l") if n < 4 else (r + "l")] = RegRef(full, 0, 1)
        if n < 4:
            regs[r[0] + "h"] = RegRef(full, 8, 1)
    for n in range(8, 16):
        full = getattr(ucx, f"UC_X86_REG_R{n}")
        for suffix, width in (("", 8), ("d", 4), ("w", 2), ("b", 1)):
            regs[f"r{n}{suffix}"] = RegRef(full, 0, width)
    for name, width in (("rip", 8), ("eip", 4)):
        regs[name] = RegRef(ucx.UC_X86_REG_RIP, 0, width)
    for kind, width, count in (("xmm", 16, 32), ("ymm", 32, 32), ("zmm", 64, 32), ("mm", 8, 8)):
        for n in range(count):
            uc_id = getattr(ucx, f"UC_X86_REG_{kind.upper()}{n}", None)
            if uc_id is not None:
                regs[f"{kind}{n}"] = RegRef(uc_id, 0, width)
    return MappingProxyType(regs)


_REGS = _build_regmap()
_GPR_NAMES = frozenset(n for n in _REGS if not n.startswith(("xmm", "ymm", "zmm", "mm", "rip", "eip")))
_GPR_IDS = frozenset(_REGS[n].uc_id for n in _GPR_NAMES)
_SEGMENT_BASES = MappingProxyType({"fs": ucx.UC_X86_REG_FS_BASE, "gs": ucx.UC_X86_REG_GS_BASE})
_ACCUMULATORS = MappingProxyType({w: _REGS[n] for w, n in ((1, "al"), (2, "ax"), (4, "eax"), (8, "rax"))})

# Classification of a memory destination (operand 0) by instruction name.
# capstone's own access flags are wrong too often to trust (rol, test,
# cmpxchg, movnti, SSE stores...), so these tables decide and the flags only
# break ties for names not listed.
_NO_ACCESS = frozenset(
    "lea nop prefetch prefetchw prefetchwt1 prefetcht0 prefetcht1 prefetcht2 prefetchnta "
    "clflush clflushopt clwb cldemote invlpg invlpga bndmk bndcl bndcu bndcn".split()
)
_RMW = frozenset(
    "add adc sub sbb and or xor inc dec not neg shl sal shr sar rol ror rcl rcr shld shrd "
    "bts btr btc xchg cmpxchg cmpxchg8b cmpxchg16b xadd".split()
)
_READ_ONLY = frozenset(
    "cmp test bt cmpsb cmpsw cmpsd cmpsq push call jmp ljmp lcall mul imul div idiv "
    "lgdt lidt lldt ltr lmsw verr verw ldmxcsr vldmxcsr xrstor xrstor64 xrstors xrstors64 "
    "ptwrite bound".split()
)
_FPU_STORES = ("fst", "fist", "fnst", "fbstp", "fxsave", "fsave", "fnsave", "fisttp")
# Sizes capstone gets wrong.
_SIZE_FIX = MappingProxyType(
    {"fxsave": 512, "fxsave64": 512, "fxrstor": 512, "fxrstor64": 512, "fnsave": 108, "frstor": 108, "fnstenv": 28, "fldenv": 28}
)
# Plain moves whose register operand holds exactly the memory bytes (at a lane).
_VEC_BASE = (
    "movd movq movdqa movdqu movaps movups movapd movupd movntdq movntps movntpd movntq "
    "movntdqa lddqu movss movsd movlps movhps movlpd movhpd".split()
)
_VEC_MOVES = frozenset(
    [*_VEC_BASE, *(f"v{n}" for n in _VEC_BASE), *"vmovdqa32 vmovdqa64 vmovdqu8 vmovdqu16 vmovdqu32 vmovdqu64".split()]
)
_VEC_HIGH = frozenset(["movhps", "movhpd", "vmovhps", "vmovhpd"])
_GPR_LOADS = frozenset("mov movabs movzx movsx movsxd".split())
_GPR_STORES = frozenset("mov movabs movnti".split())
_STRING_OPCODES = MappingProxyType(
    {0xA4: "movs", 0xA5: "movs", 0xA6: "cmps", 0xA7: "cmps", 0xAA: "stos", 0xAB: "stos", 0xAC: "lods",
     0xAD: "lods", 0xAE: "scas", 0xAF: "scas", 0x6C: "ins", 0x6D: "ins", 0x6E: "outs", 0x6F: "outs"}
)


class Source(str, enum.Enum):
    """Where an access's value comes from when the device log does not cover it."""

    DEVICE = "device"  # only the device log (or memory) can tell
    REG_AFTER = "reg-after"  # destination register after the step (loads)
    REG_BEFORE = "reg-before"  # source register before the step (stores)
    IMM = "imm"  # the instruction's immediate (stores)
    PEER = "peer"  # the same value as another access of this instruction (movs)
    XADD_SUM = "xadd-sum"  # xadd's store: register before + register after
    CMPXCHG_OLD = "cmpxchg-old"  # cmpxchg's load: ZF ? accumulator before : after
    CMPXCHG_NEW = "cmpxchg-new"  # cmpxchg's store: ZF ? source : the old value


# Sources a plain load or store takes its value from (FullInsn.plain).
_PLAIN_SOURCES = frozenset({Source.REG_AFTER, Source.REG_BEFORE, Source.IMM})


@dataclass(frozen=True, slots=True)
class _Addr:
    """How to compute a memory operand's address from registers at the fault."""

    base: RegRef | None
    index: RegRef | None
    scale: int
    disp: int  # RIP-relative operands have the next-instruction address folded in
    seg: int | None  # unicorn id of FS_BASE/GS_BASE
    mask: int  # 32-bit addressing with a 67 prefix
    exact: bool  # False (vector index): use the fault address instead
    bit_reg: RegRef | None = None  # bt* with a register bit offset
    bit_size: int = 0

    def compile(self) -> Callable[[ReadReg, int], int]:
        """``eval`` specialised for the common shapes: one or two register reads and an add."""
        if not self.exact:
            return lambda read_reg, fault_addr: fault_addr
        if self.bit_reg is not None or self.seg is not None or self.mask != _MASK64:
            return self.eval
        full = [r for r in (self.base, self.index) if r is not None]
        if any(r.shift or r.width != 8 for r in full):
            return self.eval
        disp = self.disp
        if self.base is None and self.index is None:
            return lambda read_reg, fault_addr: disp
        if self.index is None:
            base = self.base.uc_id
            return lambda read_reg, fault_addr: (read_reg(base) + disp) & _MASK64
        if self.base is None:
            return self.eval
        base, index, scale = self.base.uc_id, self.index.uc_id, self.scale
        return lambda read_reg, fault_addr: (read_reg(base) + read_reg(index) * scale + disp) & _MASK64

    def eval(self, read_reg: ReadReg, fault_addr: int) -> int:
        if not self.exact:
            return fault_addr
        addr = self.disp
        if self.base is not None:
            addr += self.base.read(read_reg)
        if self.index is not None:
            addr += self.index.read(read_reg) * self.scale
        if self.bit_reg is not None:
            # A register bit offset is signed and may reach far outside the
            # operand: the CPU moves the access by whole operands.
            bits = self.bit_reg.read(read_reg)
            if bits >> (8 * self.bit_size - 1):
                bits -= 1 << (8 * self.bit_size)
            addr += (bits >> (self.bit_size.bit_length() + 2)) * self.bit_size
        addr &= self.mask
        if self.seg is not None:
            addr = (addr + read_reg(self.seg)) & _MASK64
        return addr


@dataclass(frozen=True, slots=True)
class Access:
    """One planned access: ``width`` bytes at operand ``operand``'s address + ``offset``."""

    kind: str  # "R" or "W"
    width: int
    operand: int
    offset: int
    source: Source
    reg: RegRef | None = None
    aux: RegRef | None = None  # cmpxchg: the accumulator
    imm: int = 0
    lane: int = 0  # byte offset of these bytes inside the register value
    bswap: bool = False
    peer: int = -1


@dataclass(frozen=True, slots=True)
class FullInsn:
    """One instruction decoded by capstone, with its planned accesses in order."""

    pc: int
    size: int
    text: str
    addrs: tuple[_Addr, ...]
    accesses: tuple[Access, ...]
    raw3: bytes
    unknown: bool = False
    rep: bool = False
    messages: tuple[str, ...] = ()
    _addr_fns: tuple[Callable[[ReadReg, int], int], ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_addr_fns", tuple(a.compile() for a in self.addrs))

    @property
    def raw3_value(self) -> int:
        return self.raw3[0] << 16 | self.raw3[1] << 8 | self.raw3[2]

    def plain(self) -> PlainAccess | None:
        """This instruction as a :class:`PlainAccess`, if it is a plain load or store.

        That is one access whose value ``post`` takes from a general-purpose
        register or the immediate with no device log (what mmio-mod never
        listens for), and whose address is absolute, base + disp or
        base + index * scale + disp of full 64-bit registers.
        """
        if self.unknown or self.messages or len(self.accesses) != 1 or len(self.addrs) != 1:
            return None
        acc = self.accesses[0]
        src = acc.source
        if acc.bswap or acc.lane or acc.offset or src not in _PLAIN_SOURCES:
            return None
        width_mask = _mask(acc.width)
        if src is Source.IMM:
            reg, shift, mask, imm = None, 0, width_mask, acc.imm & width_mask
        else:
            r = acc.reg
            if r is None or r.uc_id not in _GPR_IDS:
                return None
            reg, shift, mask, imm = r.uc_id, r.shift, _mask(min(r.width, acc.width)), 0
        a = self.addrs[0]
        if not a.exact or a.bit_reg is not None or a.seg is not None or a.mask != _MASK64:
            return None
        if any(r is not None and (r.shift or r.width != 8) for r in (a.base, a.index)):
            return None
        if a.base is None and a.index is not None:
            return None
        base = a.base.uc_id if a.base is not None else None
        index = a.index.uc_id if a.index is not None else None
        return PlainAccess(acc.kind, acc.width, reg, shift, mask, imm, False, base, index, a.scale, a.disp)

    def plan(self) -> list[tuple[str, int, str]]:
        """``[(kind, width, source)]``: what this instruction will record, for tests and docs."""
        return [(a.kind, a.width, a.source.value) for a in self.accesses]

    def pre(self, read_reg: ReadReg, fault_addr: int, read_mem: ReadMem | None = None) -> Pending:
        """At the fault: every access's address, store values, and (for a RAM-backed
        page, if ``read_mem`` is given) the memory a load is about to read."""
        accesses = self.accesses
        if len(accesses) == 1 and read_mem is None:
            # The usual case, a plain load or store: one address, at most one register.
            acc = accesses[0]
            addr = self._addr_fns[0](read_reg, fault_addr)
            early = acc.reg.read(read_reg) if acc.source is Source.REG_BEFORE else None
            return _new_tuple(Pending, (fault_addr, (addr,), (early,)))
        bases = [fn(read_reg, fault_addr) for fn in self._addr_fns]
        addrs = []
        early: list[int | None] = []
        for acc in accesses:
            addr = (bases[acc.operand] + acc.offset) & _MASK64
            addrs.append(addr)
            src = acc.source
            if src is Source.REG_BEFORE or src is Source.XADD_SUM or src is Source.CMPXCHG_NEW:
                early.append(acc.reg.read(read_reg))
            elif src is Source.CMPXCHG_OLD:
                early.append(acc.aux.read(read_reg))
            elif read_mem is not None and acc.kind == "R" and (src is Source.DEVICE or src is Source.PEER):
                early.append(read_mem(addr, acc.width))
            else:
                early.append(None)
        return _new_tuple(Pending, (fault_addr, tuple(addrs), tuple(early)))

    def post(
        self,
        pending: Pending,
        read_reg: ReadReg,
        device: Sequence[DeviceAccess] = (),
        read_mem: ReadMem | None = None,
    ) -> list[Record]:
        """After the step: the records, in order.

        ``device`` is the device model's exact log of the step; where it covers
        an access, its bytes win. ``read_mem`` (RAM-backed pages) supplies store
        values nothing else can tell.
        """
        fault = pending.fault_addr
        if self.unknown:
            return [Record("UNKNOWN", 0, fault, self.raw3_value)]
        accesses = self.accesses
        if not accesses:
            # Nothing we know of (implicit stack accesses, ...): trust the device.
            page = fault & ~0xFFF
            return [Record(k, w, page | (phys & 0xFFF), v & _mask(w)) for k, phys, w, v in device]
        addrs = pending.addrs
        if len(accesses) == 1:
            acc = accesses[0]
            addr = addrs[0]
            width = acc.width
            if len(device) == 1:
                kind, phys, dev_width, value = device[0]
                if kind == acc.kind and dev_width == width and not (phys ^ addr) & 0xFFF:
                    return [_new_tuple(Record, (kind, width, addr, value & ((1 << 8 * width) - 1)))]
            elif not device and not acc.bswap and not acc.lane:
                src = acc.source
                if src is Source.REG_AFTER:
                    value = acc.reg.read(read_reg)
                elif src is Source.REG_BEFORE:
                    value = pending.early[0]
                elif src is Source.IMM:
                    value = acc.imm
                else:
                    value = None
                if value is not None:
                    return [_new_tuple(Record, (acc.kind, width, addr, value & ((1 << 8 * width) - 1)))]
        values = _match_device(accesses, addrs, device) if device else [None] * len(accesses)
        if None in values:
            self._fill(values, pending, read_reg, read_mem)
        return [
            _new_tuple(Record, (acc.kind, acc.width, addr, (value or 0) & ((1 << 8 * acc.width) - 1)))
            for acc, addr, value in zip(accesses, addrs, values)
        ]

    def _fill(self, values: list[int | None], pending: Pending, read_reg: ReadReg, read_mem: ReadMem | None) -> None:
        # Device first (done), then registers and immediates, then memory,
        # then the other half of a movs.
        accesses = self.accesses
        addrs = pending.addrs
        for i, acc in enumerate(accesses):
            if values[i] is None:
                values[i] = _derive(acc, pending.early[i], read_reg, values)
        for i, acc in enumerate(accesses):
            if values[i] is None:
                if acc.kind == "R":
                    values[i] = pending.early[i] if acc.source in (Source.DEVICE, Source.PEER) else None
                elif read_mem is not None:
                    values[i] = read_mem(addrs[i], acc.width)
        for i, acc in enumerate(accesses):
            if values[i] is None and acc.source is Source.PEER and acc.peer >= 0:
                values[i] = values[acc.peer]


def _derive(acc: Access, early: int | None, read_reg: ReadReg, values: list[int | None]) -> int | None:
    src = acc.source
    if src is Source.REG_AFTER:
        value = acc.reg.read(read_reg) >> (8 * acc.lane)
    elif src is Source.REG_BEFORE:
        value = early >> (8 * acc.lane)
    elif src is Source.IMM:
        value = acc.imm
    elif src is Source.XADD_SUM:
        value = early + acc.reg.read(read_reg)
    elif src is Source.CMPXCHG_OLD:
        # Equal (ZF): memory held the accumulator; else it is in the accumulator now.
        value = early if read_reg(ucx.UC_X86_REG_EFLAGS) & _EFLAGS_ZF else acc.aux.read(read_reg)
    elif src is Source.CMPXCHG_NEW:
        if read_reg(ucx.UC_X86_REG_EFLAGS) & _EFLAGS_ZF:
            value = early
        else:
            value = values[acc.peer]  # the old value written back
            if value is None:
                return None
    else:
        return None
    value &= _mask(acc.width)
    return _bswap(value, acc.width) if acc.bswap else value


def _match_device(accesses: Sequence[Access], addrs: Sequence[int], device: Sequence[DeviceAccess]) -> list[int | None]:
    """Assemble each access's bytes from the device log.

    The device sees physical addresses and may split or widen accesses (an
    mmio_map callback gets 8 bytes as two 4-byte halves, a page-crossing read as
    two aligned reads), so bytes are matched by kind, page offset and order:
    each access takes the first unclaimed device bytes of its kind at its page
    offsets. Page offsets are the same virtual and physical.
    """
    if len(device) == len(accesses):
        # Usually the device saw exactly our accesses, one for one (R then W of
        # a read-modify-write, both halves of a movs).
        out: list[int | None] = []
        for acc, addr, (kind, phys, width, value) in zip(accesses, addrs, device):
            if kind != acc.kind or width != acc.width or (phys ^ addr) & 0xFFF:
                break
            out.append(value & ((1 << 8 * width) - 1))
        else:
            return out
    claimed = [0] * len(device)  # bitmask of bytes already used, per device access
    out = []
    for acc, addr in zip(accesses, addrs):
        want = {(addr + i) & 0xFFF: i for i in range(acc.width)}
        got: dict[int, int] = {}
        for j, (kind, phys, width, value) in enumerate(device):
            if kind != acc.kind:
                continue
            for b in range(width):
                i = want.get((phys + b) & 0xFFF)
                if i is not None and i not in got and not claimed[j] >> b & 1:
                    got[i] = value >> (8 * b) & 0xFF
                    claimed[j] |= 1 << b
            if len(got) == acc.width:
                break
        out.append(sum(v << (8 * i) for i, v in got.items()) if len(got) == acc.width else None)
    return out


def _new_cs() -> capstone.Cs:
    cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    cs.detail = True
    return cs


def _reg(insn: capstone.CsInsn, op) -> RegRef | None:
    if op is None or op.type != csx.X86_OP_REG:
        return None
    return _REGS.get(insn.reg_name(op.reg))


def _addr_of(insn: capstone.CsInsn, op, name: str, ops: list) -> _Addr:
    mem = op.mem
    disp = mem.disp
    base = index = None
    exact = True
    if mem.base:
        bname = insn.reg_name(mem.base)
        if bname in ("rip", "eip"):
            disp += insn.address + insn.size
        else:
            base = _REGS.get(bname)
            exact = bname in _GPR_NAMES
    if mem.index:
        iname = insn.reg_name(mem.index)
        if iname not in ("riz", "eiz"):
            index = _REGS.get(iname)
            exact = exact and iname in _GPR_NAMES  # a vector index (gather/scatter) has many addresses
    seg = _SEGMENT_BASES.get(insn.reg_name(mem.segment)) if mem.segment else None
    mask = 0xFFFF_FFFF if insn.addr_size == 4 else _MASK64
    bit_reg = None
    if name in ("bt", "bts", "btr", "btc") and len(ops) > 1:
        bit_reg = _reg(insn, ops[1])
    return _Addr(base, index, mem.scale, disp & _MASK64, seg, mask, exact, bit_reg, op.size if bit_reg else 0)


def _dest_role(name: str, op) -> str:
    """Whether a memory operand 0 is read ("R"), written ("W") or both ("RW")."""
    if name in _READ_ONLY:
        return "R"
    if name in _RMW or op.access == (capstone.CS_AC_READ | capstone.CS_AC_WRITE):
        return "RW"
    if name.startswith("f") and not name.startswith(_FPU_STORES):
        return "R"  # x87 loads and arithmetic with a memory source
    return "W"


def decode_full(code: bytes, pc: int, cs: capstone.Cs | None = None) -> FullInsn:
    """Decode the instruction at ``pc`` (bytes ``code``) into its planned accesses.

    Never raises: bytes capstone cannot decode give an ``unknown`` instruction
    whose record is UNKNOWN with the first three bytes.
    """
    code = bytes(code)
    raw, _ = _raw3(code)
    try:
        insn = next((cs or _new_cs()).disasm(code, pc, 1), None)
    except capstone.CsError:
        insn = None
    if insn is None:
        return FullInsn(pc, 0, "(bad)", (), (), raw, unknown=True)
    return _plan(insn, raw)


def _plan(insn: capstone.CsInsn, raw: bytes) -> FullInsn:
    name = insn.insn_name() or ""
    ops = list(insn.operands)
    text = f"{insn.mnemonic} {insn.op_str}".strip()
    rep = insn.prefix[0] in (0xF2, 0xF3)
    string = _STRING_OPCODES.get(insn.opcode[0]) if insn.opcode[0] != 0x0F else None

    if name == "xlatb":
        # AL = [rbx + AL]: no operand in capstone, one byte read.
        addr = _Addr(_REGS["rbx"], _REGS["al"], 1, 0, None, 0xFFFF_FFFF if insn.addr_size == 4 else _MASK64, True)
        acc = Access("R", 1, 0, 0, Source.REG_AFTER, reg=_REGS["al"])
        return FullInsn(insn.address, insn.size, text, (addr,), (acc,), raw, rep=rep)
    if name in _NO_ACCESS:
        return FullInsn(insn.address, insn.size, text, (), (), raw, rep=rep)

    addrs: list[_Addr] = []
    reads: list[tuple[int, int]] = []  # (operand slot, size)
    writes: list[tuple[int, int]] = []
    for i, op in enumerate(ops):
        if op.type != csx.X86_OP_MEM:
            continue
        slot = len(addrs)
        addrs.append(_addr_of(insn, op, name, ops))
        size = _SIZE_FIX.get(name, op.size) or 1
        if name in ("xchg", "xadd", "cmpxchg"):
            role = "RW"
        elif i == 0:
            role = _dest_role(name, op)
        else:
            role = "R"
        if "R" in role:
            reads.append((slot, size))
        if "W" in role:
            writes.append((slot, size))

    vector_ok = not any(_is_mask_reg(insn, op) for op in ops)
    accesses: list[Access] = []
    read_at: dict[tuple[int, int], int] = {}
    for slot, size in reads:
        for off, width in _chunks(size):
            read_at[slot, off] = len(accesses)
            accesses.append(_load(insn, name, string, ops, slot, off, width, vector_ok))
    for slot, size in writes:
        for off, width in _chunks(size):
            # movs writes what it read from the other operand; cmpxchg may
            # write back what it read from this one.
            peer_slot = reads[0][0] if string == "movs" and reads else slot
            peer = read_at.get((peer_slot, off), -1)
            if string == "movs" and peer >= 0:
                accesses[peer] = replace(accesses[peer], peer=len(accesses))
            accesses.append(_store(insn, name, string, ops, slot, off, width, vector_ok, peer))
    return FullInsn(insn.address, insn.size, text, tuple(addrs), tuple(accesses), raw, rep=rep)


def _is_mask_reg(insn: capstone.CsInsn, op) -> bool:
    return op.type == csx.X86_OP_REG and insn.reg_name(op.reg) in ("k1", "k2", "k3", "k4", "k5", "k6", "k7")


def _chunks(size: int) -> list[tuple[int, int]]:
    # Wider than 8 bytes: consecutive 8-byte pieces, low address first.
    return [(off, min(8, size - off)) for off in range(0, size, 8)]


def _load(insn, name: str, string: str | None, ops: list, slot: int, off: int, width: int, vector_ok: bool) -> Access:
    dest = _reg(insn, ops[0]) if ops else None
    if string == "movs":
        return Access("R", width, slot, off, Source.PEER)
    if string == "lods" or (name in _GPR_LOADS and ops[0].type == csx.X86_OP_REG and _is_gpr(insn, ops[0])):
        return Access("R", width, slot, off, Source.REG_AFTER, reg=dest)
    if name == "movbe" and dest is not None:
        return Access("R", width, slot, off, Source.REG_AFTER, reg=dest, bswap=True)
    if name in ("xchg", "xadd"):
        reg = _reg(insn, ops[1]) if len(ops) > 1 else None
        if reg is not None:
            return Access("R", width, slot, off, Source.REG_AFTER, reg=reg)
    if name == "cmpxchg" and width in _ACCUMULATORS:
        return Access("R", width, slot, off, Source.CMPXCHG_OLD, aux=_ACCUMULATORS[width])
    if name in _VEC_MOVES and vector_ok and string is None and dest is not None and dest.width >= 8:
        lane = (8 if name in _VEC_HIGH else 0) + off
        return Access("R", width, slot, off, Source.REG_AFTER, reg=dest, lane=lane)
    return Access("R", width, slot, off, Source.DEVICE)


def _store(insn, name: str, string: str | None, ops: list, slot: int, off: int, width: int, vector_ok: bool, peer: int) -> Access:
    src_op = ops[-1] if ops else None
    src = _reg(insn, src_op)
    if string == "movs":
        return Access("W", width, slot, off, Source.PEER, peer=peer)
    if string == "stos" or (name in _GPR_STORES and src is not None and _is_gpr(insn, src_op)):
        return Access("W", width, slot, off, Source.REG_BEFORE, reg=src)
    if name in _GPR_STORES and src_op is not None and src_op.type == csx.X86_OP_IMM:
        return Access("W", width, slot, off, Source.IMM, imm=src_op.imm & _mask(width))
    if name == "movbe" and src is not None:
        return Access("W", width, slot, off, Source.REG_BEFORE, reg=src, bswap=True)
    if name == "xchg" and src is not None:
        return Access("W", width, slot, off, Source.REG_BEFORE, reg=src)
    if name == "xadd" and src is not None:
        return Access("W", width, slot, off, Source.XADD_SUM, reg=src)
    if name == "cmpxchg" and src is not None:
        return Access("W", width, slot, off, Source.CMPXCHG_NEW, reg=src, peer=peer)
    if name in _VEC_MOVES and vector_ok and string is None and src is not None and src.width >= 8:
        lane = (8 if name in _VEC_HIGH else 0) + off
        return Access("W", width, slot, off, Source.REG_BEFORE, reg=src, lane=lane)
    return Access("W", width, slot, off, Source.DEVICE)


def _is_gpr(insn, op) -> bool:
    return op.type == csx.X86_OP_REG and insn.reg_name(op.reg) in _GPR_NAMES


# ---------------------------------------------------------------------------
# The per-trace decoder with its cache


class DecoderMode(str, enum.Enum):
    FULL = "full"
    PF_IN = "pf_in"


Decoded = FullInsn | PfInInsn


class Decoder:
    """Decodes faulting instructions in one mode, once per address.

    Driver text does not change while a module is loaded, so the cache is keyed
    by pc alone (a dict hit instead of a guest memory read and a decode per
    fault); call ``invalidate`` when a module is loaded or unloaded.
    """

    __slots__ = ("mode", "_cache", "_cs")

    def __init__(self, mode: DecoderMode | str = DecoderMode.FULL) -> None:
        try:
            self.mode = DecoderMode(mode)
        except ValueError:
            choices = ", ".join(m.value for m in DecoderMode)
            raise ValueError(f"unknown decoder mode {mode!r} (choose from {choices})") from None
        self._cache: dict[int, Decoded] = {}
        self._cs = _new_cs() if self.mode is DecoderMode.FULL else None

    def lookup(self, pc: int) -> Decoded | None:
        """The cached decode at ``pc``, so the caller can skip fetching bytes."""
        return self._cache.get(pc)

    def decode(self, pc: int, code: bytes) -> Decoded:
        insn = self._cache.get(pc)
        if insn is None:
            if self.mode is DecoderMode.FULL:
                insn = decode_full(code, pc, self._cs)
            else:
                insn = decode_pf_in(code, pc)
            self._cache[pc] = insn
        return insn

    def invalidate(self, start: int | None = None, end: int | None = None) -> None:
        """Forget decodes in [start, end), or all of them."""
        if start is None:
            self._cache.clear()
            return
        stop = _MASK64 + 1 if end is None else end
        for pc in [pc for pc in self._cache if start <= pc < stop]:
            del self._cache[pc]

    def __len__(self) -> int:
        return len(self._cache)
