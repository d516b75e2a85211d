"""Crashing drivers: each kind of crash gives an oops in the kernel log and
a failed insmod naming the reason, the module is gone, and the next insmod
works on the same machine."""

from __future__ import annotations

import errno
import re

import pytest

from ftrace_mmio.machine.machine import ModuleOops
from ftrace_mmio.kernel.module import ModuleError

from machine_util import driver, last_seq, make_machine

CRASH = driver("crash")


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    m = make_machine(tmp_path_factory, run_budget_s=0.3)
    yield m
    m.close()


def crash(machine, mode: str) -> tuple[ModuleOops, list[str]]:
    seq = last_seq(machine)
    with pytest.raises(ModuleOops) as info:
        machine.insmod(CRASH, [f"mode={mode}"])
    assert info.value.errno == errno.EFAULT
    assert "crash" not in {m.name for m in machine.lsmod()}, "a crashed module is unloaded"
    log = [r.text for r in machine.dmesg(seq)]
    # the machine keeps working: the same module loads and unloads cleanly
    machine.insmod(CRASH, ["mode=none"])
    machine.rmmod("crash")
    return info.value, log


# mode -> (first oops line, pattern; the function RIP must be in)
CASES = {
    "null": (r"BUG: kernel NULL pointer dereference, address: 0000000000000008", "crash_null"),
    "unmapped": (r"BUG: unable to handle page fault for address: ffff999900000000", "crash_unmapped"),
    "noncanonical": (r"general protection fault: 0000 \[#\d+\]", "crash_noncanonical"),
    "write_ro": (r"BUG: unable to handle page fault for address: ffffffffc[0-9a-f]{7}", "crash_write_ro"),
    "exec_nx": (r"kernel tried to execute NX-protected page - exploit attempt\? \(uid: 0\)", None),
    "div0": (r"divide error: 0000 \[#\d+\]", "crash_div0"),
    "ud2": (r"invalid opcode: 0000 \[#\d+\]", "crash_ud2"),
    "stack": (r"BUG: TASK stack guard page was hit at ffffc9000000[0-9a-f]{4} \(stack is ffffc90000001000\.\.ffffc90000004fff\)",
              "crash_stack"),
    # The wall-clock run budget (the soft-lockup detector only warns: test_kernel_time.py).
    "loop": (r"ftrace-mmio: run budget exceeded: \[insmod:1\] ran 0\.3s \(wall clock\) without returning, "
             r"stopped at machine time \d+\.\d{6}", "crash_loop"),
    "loop_delay": (r"ftrace-mmio: run budget exceeded: \[insmod:1\] ran 0\.3s \(wall clock\) without returning, "
                   r"stopped at machine time \d+\.\d{6}", r"(crash_loop_delay|udelay|__hv_\w+)"),
    "syscall": (r"BUG: syscall instruction executed in kernel code", "crash_syscall"),
    "int80": (r"BUG: unexpected software interrupt 0x80 in kernel code", "crash_int80"),
    "int3": (r"int3: 0000 \[#\d+\]", "crash_int3"),
    "hlt": (r"BUG: hlt executed with nothing to wake the CPU", "crash_hlt"),
    "bug": (r"------------\[ cut here \]------------", "crash_bug"),
    "panic": (r"Kernel panic - not syncing: the panic mode", "crash_panic"),
    "kfree": (r"BUG: kfree\(0xffff888000123456\): not a pointer kmalloc returned \(or already freed\)", "crash_kfree"),
    "double_free": (r"BUG: kfree\(0xffff888[0-9a-f]{9}\): not a pointer kmalloc returned \(or already freed\)",
                    "crash_double_free"),
    "pci": (r"BUG: PCI call on 0xffffffffc[0-9a-f]{7}, which is not a struct pci_dev", "crash_pci"),
    "snprintf_ro": (r"BUG: unable to handle page fault for address: ffffffffc[0-9a-f]{7}", "snprintf"),
}


@pytest.mark.parametrize("mode", sorted(CASES))
def test_crash_is_an_oops_and_the_machine_goes_on(machine, mode):
    first, where = CASES[mode]
    err, log = crash(machine, mode)
    assert re.fullmatch(first, log[0]), log[0]
    rip = next(line for line in log if line.startswith("RIP: 0010:"))
    if where is not None:
        # gcc may name a specialised copy crash_x.isra.0 or crash_x.constprop.0
        assert re.match(rf"RIP: 0010:{where}(\.\w+\.\d+)?\+0x[0-9a-f]+/0x[0-9a-f]+( \[crash\])?$", rip), rip
    assert any(re.fullmatch(r"RSP: 0018:[0-9a-f]{16} EFLAGS: [0-9a-f]{8}", line) for line in log)
    assert any(line.startswith("RAX: ") and "RBX: " in line and "RCX: " in line for line in log)
    assert any(line.startswith("CR2: ") for line in log)
    assert any(line.startswith("Code: ") for line in log)
    assert log[-1] == "---[ end trace 0000000000000000 ]---"
    assert "Modules linked in: crash" in log
    # the insmod error names the reason and where it happened
    assert str(err).startswith("[Errno 14] oops: ")
    assert rip[len("RIP: 0010:"):] in str(err)


@pytest.mark.parametrize("mode, back", [("inb", 255), ("outb", 0)])
def test_port_io_is_emulated_not_an_oops(machine, mode: str, back: int):
    # in/out reach the port space (machine/ioport.py): nothing claims 0x60
    # or 0x80, so the read is all ones and the write is dropped.
    seq = last_seq(machine)
    machine.insmod(CRASH, [f"mode={mode}"])
    log = [r.text for r in machine.dmesg(seq)]
    machine.rmmod("crash")
    assert not any("BUG" in line or "Oops" in line for line in log), log
    if back:
        assert any(f"suspiciously returned {back}" in line for line in log), log


def test_page_fault_details(machine):
    _, log = crash(machine, "write_ro")
    assert log[1:4] == ["#PF: supervisor write access in kernel mode",
                        "#PF: error_code(0x0003) - permissions violation",
                        "Oops: 0003 [#%s] SMP NOPTI" % re.search(r"#(\d+)", log[3]).group(1)]
    _, log = crash(machine, "null")
    assert log[1:3] == ["#PF: supervisor read access in kernel mode",
                        "#PF: error_code(0x0000) - not-present page"]
    _, log = crash(machine, "exec_nx")
    assert log[2:4] == ["#PF: supervisor instruction fetch in kernel mode",
                        "#PF: error_code(0x0011) - permissions violation"]
    assert re.fullmatch(r"RIP: 0010:0xffff888[0-9a-f]{9}", next(x for x in log if x.startswith("RIP")))


def test_code_bytes_mark_the_faulting_instruction(machine):
    _, log = crash(machine, "ud2")
    code = next(line for line in log if line.startswith("Code: "))
    assert "<0f> 0b" in code


def test_bug_names_file_and_line(machine):
    _, log = crash(machine, "bug")
    assert re.fullmatch(r"kernel BUG at crash\.c:\d+!", log[1])
    assert re.fullmatch(r"invalid opcode: 0000 \[#\d+\]", log[2])


def test_oops_numbers_count_up(machine):
    _, first = crash(machine, "div0")
    _, second = crash(machine, "div0")
    n1 = int(re.search(r"\[#(\d+)\]", first[0]).group(1))
    n2 = int(re.search(r"\[#(\d+)\]", second[0]).group(1))
    assert n2 == n1 + 1


def test_init_error_fails_insmod_without_oops(machine):
    seq = last_seq(machine)
    with pytest.raises(ModuleError) as info:
        machine.insmod(CRASH, ["mode=fail"])
    assert info.value.errno == errno.ENODEV
    assert "init_module returned -19" in str(info.value)
    assert not isinstance(info.value, ModuleOops)
    assert [r.text for r in machine.dmesg(seq)] == []
    assert machine.lsmod() == []


def test_bad_string_pointer_prints_efault(machine):
    seq = last_seq(machine)
    machine.insmod(CRASH, ["mode=bad_string"])
    assert [r.text for r in machine.dmesg(seq)] == ["crash: string (efault)"]
    machine.rmmod("crash")


def test_crash_in_exit_still_unloads(machine):
    machine.insmod(CRASH, ["mode=none", "exit_mode=null"])
    with pytest.raises(ModuleOops, match="NULL pointer dereference"):
        machine.rmmod("crash")
    assert machine.lsmod() == []
    machine.insmod(CRASH, ["mode=none"])
    machine.rmmod("crash")


def test_oops_handlers_are_told(machine):
    seen = []
    machine.run_on_cpu(machine.cpu.add_oops_handler, seen.append)
    crash(machine, "div0")
    assert [s.kind for s in seen] == ["divide error"]
