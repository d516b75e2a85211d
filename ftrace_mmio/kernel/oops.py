"""Oops reports: what the kernel prints when kernel code crashes.

The text follows the x86-64 kernel's layout (the "BUG:"/"#PF:" lines for page
faults, "Oops: <error code> [#n]", RIP as function+offset/size [module],
the code bytes around RIP with the faulting one in <>, the registers, CR2),
so people who read real oopses can read these.
"""

from __future__ import annotations

from typing import Callable

from ..machine.cpu import Stop

PAGE_SIZE = 0x1000


def classify_page_fault(stop: Stop, stack: tuple[int, int]) -> None:
    """Fill in the text of a page-fault stop (in place)."""
    cr2 = stop.cr2 or 0
    err = stop.error_code
    lo, hi = stack
    if lo - PAGE_SIZE <= cr2 < lo:
        stop.kind = "stack guard"
        stop.lines = [f"BUG: TASK stack guard page was hit at {cr2:016x} (stack is {lo:016x}..{hi - 1:016x})",
                      "stack guard page: 0000 [#{n}]"]
        stop.summary = f"stack overflow: stack guard page was hit at {cr2:#x}"
        return
    lines = []
    if err & 0x10 and err & 0x1:
        lines.append("kernel tried to execute NX-protected page - exploit attempt? (uid: 0)")
    if cr2 < PAGE_SIZE:
        first = f"BUG: kernel NULL pointer dereference, address: {cr2:016x}"
    else:
        first = f"BUG: unable to handle page fault for address: {cr2:016x}"
    lines.append(first)
    access = "instruction fetch" if err & 0x10 else ("write access" if err & 0x2 else "read access")
    lines.append(f"#PF: supervisor {access} in kernel mode")
    lines.append(f"#PF: error_code(0x{err:04x}) - {'permissions violation' if err & 1 else 'not-present page'}")
    lines.append(f"Oops: {err:04x} [#{{n}}] SMP NOPTI")
    stop.lines = lines
    stop.summary = first[len("BUG: "):]


def format_oops(stop: Stop, number: int, comm: str, symbolize: Callable[[int], str],
                read_code: Callable[[int, int], bytes | None], modules: list[str]) -> list[str]:
    regs = stop.regs
    rip = regs.get("RIP", 0)
    out = [line.replace("{n}", str(number)).replace("{comm}", comm) for line in stop.lines]
    out.append(f"CPU: 0 PID: 1 Comm: {comm} Tainted: G           O")
    out.append(f"RIP: 0010:{symbolize(rip)}")
    before, after = 21, 21
    code = read_code(rip - before, before + after)
    if code is None:
        out.append(f"Code: Unable to access opcode bytes at 0x{rip - before:x}.")
    else:
        parts = [f"<{b:02x}>" if i == before else f"{b:02x}" for i, b in enumerate(code)]
        out.append("Code: " + " ".join(parts))
    out.append(f"RSP: 0018:{regs.get('RSP', 0):016x} EFLAGS: {regs.get('EFLAGS', 0):08x}")
    names = ["RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "R08", "R09",
             "R10", "R11", "R12", "R13", "R14", "R15"]
    for i in range(0, len(names), 3):
        out.append(" ".join(f"{n}: {regs.get(n, 0):016x}" for n in names[i:i + 3]))
    out.append(f"CR2: {stop.cr2 if stop.cr2 is not None else regs.get('CR2', 0):016x} "
               f"CR3: {regs.get('CR3', 0):016x} CR4: {regs.get('CR4', 0):016x}")
    out.append("Modules linked in: " + " ".join(modules))
    out.append("---[ end trace 0000000000000000 ]---")
    return out
