"""The CPU's live state and RAM as host memory: what the hot paths rely on."""

from __future__ import annotations

import ctypes

from unicorn import x86_const as x86

from ftrace_mmio.machine.cpu import Cpu
from ftrace_mmio.mmiotrace.stepctx import PteSwitch, StepContext


def test_live_state_is_found_and_is_the_cpus() -> None:
    cpu = Cpu(16 << 20)
    try:
        assert cpu.env is not None
        rax = ctypes.c_uint64.from_address(cpu.env)
        cpu.set_reg(x86.UC_X86_REG_RAX, 0x1122_3344_5566_7788)
        assert rax.value == 0x1122_3344_5566_7788
        rax.value = 0x0102_0304
        assert cpu.reg(x86.UC_X86_REG_RAX) == 0x0102_0304
        cpu.set_reg(x86.UC_X86_REG_RIP, 0xFFFF_FFFF_C000_1234)
        assert cpu.rip == 0xFFFF_FFFF_C000_1234
    finally:
        cpu.close()


def test_step_context_flips_tf_in_the_live_state() -> None:
    cpu = Cpu(16 << 20)
    try:
        step = StepContext(cpu)
        assert step.live
        cpu.set_reg(x86.UC_X86_REG_RDX, 77)
        assert step.read_reg(x86.UC_X86_REG_RDX) == 77
        saved = step.begin_step()
        assert cpu.eflags & 0x100 and not cpu.eflags & 0x200
        step.end_step(saved)
        assert not cpu.eflags & 0x100 and cpu.eflags & 0x200 == saved & 0x200
    finally:
        cpu.close()


def test_ram_is_host_memory_and_pte_writes_land_in_it() -> None:
    cpu = Cpu(16 << 20)
    try:
        cpu.write_phys(0x5000, b"\x11" * 8)
        assert ctypes.c_uint64.from_address(cpu.ram_host + 0x5000).value == 0x1111_1111_1111_1111

        class NoShadow:
            pass

        ptes = PteSwitch(cpu, NoShadow())  # type: ignore[arg-type]
        ptes.write(0xFFFF_C900_0000_0000, 0x6008, 0xFD00_0063)
        assert cpu.read_u64(0x6008) == 0xFD00_0063
    finally:
        cpu.close()
