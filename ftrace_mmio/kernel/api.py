"""The kernel API drivers call: printk, kmalloc, delays, ioremap, pci_*.

Each exported function has a 16-byte slot on the stub pages of kernel text;
the slot holds a ``ret``.  A module's ``call printk`` is relocated to its
slot, and ONE code hook bounded to the stub pages runs the Python function
for that slot before the ``ret`` executes: arguments come from RDI, RSI,
RDX, RCX, R8, R9 (then the stack), the result goes into RAX, and the real
``ret`` returns to the driver.  No RIP write, so no translation-block exit;
code outside the stub pages pays nothing (emulation.md §4).  The functions
are grouped in subsystems (``Subsystem`` below, listed in subsystems.py).

Functions that are ordinary code in a kernel (memcpy, strlen ...) are real
guest code instead: see ``klib.py``.  ``jiffies`` is a real variable on a
kernel data page.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

from unicorn import x86_const as x86

from ..machine.cpu import CpuStop, Stop
from ..machine.mm import DIRECT_MAP, PAGE_SIZE, MemoryFault
from .module import parse_int_param

if TYPE_CHECKING:
    from ..machine.machine import Machine

SLOT_SIZE = 16
GFP_ZERO = 0x100


def _u32(v: int) -> int:
    return v & 0xFFFF_FFFF


def _s32(v: int) -> int:
    v &= 0xFFFF_FFFF
    return v - (1 << 32) if v >> 31 else v


@dataclass(frozen=True)
class _Export:
    name: str
    nargs: int
    variadic: bool


def export(name: str | None = None, nargs: int = 0, variadic: bool = False):
    """Mark a KernelApi method as the C function ``name`` taking ``nargs``
    fixed arguments (then ``...`` if ``variadic``)."""
    def mark(fn):
        fn._kapi_export = _Export(name or fn.__name__, nargs, variadic)
        return fn
    return mark


class ArgCursor:
    """Successive 64-bit argument slots after the fixed ones: registers,
    then the caller's stack (above the return address)."""

    def __init__(self, kapi: "KernelApi", first: int) -> None:
        self._kapi = kapi
        self._regs = kapi.cpu.args(6)
        self._i = first
        self._rsp: int | None = None
        self.fixed = self._regs[:first]          # the arguments before the ``...``

    def __call__(self) -> int:
        i = self._i
        self._i += 1
        if i < 6:
            return self._regs[i]
        if self._rsp is None:
            self._rsp = self._kapi.cpu.reg(x86.UC_X86_REG_RSP)
        return self._kapi.mm.read_uint(self._rsp + 8 + 8 * (i - 6), 8)


class VaListCursor:
    """Arguments from a System V ``va_list`` (vprintk, vsnprintf)."""

    def __init__(self, kapi: "KernelApi", va_list: int) -> None:
        mm = kapi.mm
        self._mm = mm
        self._gp = mm.read_uint(va_list, 4)
        self._overflow = mm.read_uint(va_list + 8, 8)
        self._save = mm.read_uint(va_list + 16, 8)

    def __call__(self) -> int:
        if self._gp < 48:
            value = self._mm.read_uint(self._save + self._gp, 8)
            self._gp += 8
            return value
        value = self._mm.read_uint(self._overflow, 8)
        self._overflow += 8
        return value


class Subsystem:
    """One part of the emulated kernel (the PCI core, time, irq ...).

    A subclass declares its C functions with :func:`export`; the kernel API
    collects them from every subsystem at boot.  ``name`` is the attribute
    the others reach it by (``api.pci``, ``api.time``).  ``boot()`` runs
    once the kernel's own guest code is loaded; ``module_unloaded(module)``
    after a module's exit function ran (devres, IRQs, timers left behind).
    """

    name = ""

    def __init__(self, api: "KernelApi") -> None:
        self.api = api
        self.machine = api.machine
        self.cpu = api.cpu
        self.mm = api.mm

    def boot(self) -> None:
        """Called after the kernel's guest code is loaded."""

    def module_unloaded(self, module: Any) -> None:
        """Called when a module is gone (after exit, or after a failed init)."""


class KernelApi:
    """The exported functions and the stub pages that reach them."""

    def __init__(self, machine: "Machine", subsystems: Sequence[type[Subsystem]] = ()) -> None:
        self.machine = machine
        self.cpu = machine.cpu
        self.mm = machine.mm
        self.exports: dict[str, int] = {}            # name -> address (stubs and data)
        self._slots: list[tuple[Callable[..., Any], int, bool]] = []
        self._names: list[str] = []
        self._stub_base = 0
        self._data_va = self._data_next = self._data_end = 0
        self._subsystem_classes = tuple(subsystems)
        self.subsystems: list[Subsystem] = []

    # ---- set-up ------------------------------------------------------------------

    def install(self, stub_va: int, stub_pages: int, data_va: int, data_pages: int) -> None:
        """Fill the stub pages at ``stub_va`` (mapped RX) with one ``ret``
        per export, and keep the data pages at ``data_va`` (mapped RW) for
        :meth:`data_symbol`; then make the subsystems."""
        self._data_va = self._data_next = data_va
        self._data_end = data_va + data_pages * PAGE_SIZE
        for cls in self._subsystem_classes:
            sub = cls(self)
            self.subsystems.append(sub)
            if sub.name:
                setattr(self, sub.name, sub)
        found = []
        for owner in (self, *self.subsystems):
            for attr in dir(type(owner)):
                spec = getattr(getattr(type(owner), attr), "_kapi_export", None)
                if spec is not None:
                    found.append((spec.name, getattr(owner, attr), spec))
        found.sort(key=lambda t: t[0])
        names = [n for n, _, _ in found]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise RuntimeError(f"kernel API: exported twice: {sorted(dup)}")
        if len(found) * SLOT_SIZE > stub_pages * PAGE_SIZE:
            raise RuntimeError(f"kernel API: {len(found)} exports do not fit on {stub_pages} stub pages")
        code = bytearray(b"\xcc" * (stub_pages * PAGE_SIZE))   # int3 between slots
        for i, (name, fn, spec) in enumerate(found):
            code[i * SLOT_SIZE] = 0xC3                  # ret
            self.exports[name] = stub_va + i * SLOT_SIZE
            self._slots.append((fn, spec.nargs, spec.variadic))
            self._names.append(name)
        for page in range(stub_pages):
            self.cpu.write_phys(self.mm.virt_to_phys(stub_va + page * PAGE_SIZE),
                                bytes(code[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]))
        self._stub_base = stub_va
        self.cpu.add_code_hook(self._on_stub, stub_va, stub_va + len(found) * SLOT_SIZE - 1)

    def data_symbol(self, name: str, size: int, align: int = 8, *aliases: str) -> int:
        """Reserve ``size`` bytes of kernel data (zeroed) exported as
        ``name`` (and ``aliases``); a subsystem calls it in ``__init__``."""
        va = (self._data_next + align - 1) & ~(align - 1)
        if va + size > self._data_end:
            raise RuntimeError(f"kernel data pages full (placing {name})")
        self._data_next = va + size
        for n in (name, *aliases):
            self.exports[n] = va
        return va

    def boot(self) -> None:
        """The kernel's guest code is loaded: let every subsystem finish."""
        for sub in self.subsystems:
            sub.boot()

    def module_unloaded(self, module: Any) -> None:
        for sub in self.subsystems:
            sub.module_unloaded(module)

    def stub_name(self, va: int) -> str | None:
        if self._stub_base <= va < self._stub_base + len(self._slots) * SLOT_SIZE:
            return self._names[(va - self._stub_base) // SLOT_SIZE]
        return None

    def stub_offset(self, va: int) -> int:
        return (va - self._stub_base) % SLOT_SIZE

    def _on_stub(self, address: int) -> None:
        fn, nargs, variadic = self._slots[(address - self._stub_base) >> 4]
        try:
            if variadic:
                cursor = ArgCursor(self, nargs)
                result = fn(*cursor.fixed, cursor)
            elif nargs:
                result = fn(*self.cpu.args(nargs))
            else:
                result = fn()
        except MemoryFault as fault:
            raise CpuStop(self._fault_stop(fault)) from None
        if result is not None:
            self.cpu.set_reg(x86.UC_X86_REG_RAX, result)

    def _fault_stop(self, fault: MemoryFault) -> Stop:
        return Stop("page fault", "", vector=14, cr2=fault.va,
                    error_code=0x2 if fault.write else 0x0)

    # ---- helpers -------------------------------------------------------------------

    def _format(self, fmt_va: int, args) -> bytes:
        fmt = self.mm.read_cstring(fmt_va)
        return self.machine.formatter.format(fmt, args)

    def _write_string(self, buf: int, size: int, text: bytes) -> int:
        """snprintf semantics: write what fits plus a NUL; return the
        number of bytes written, not counting the NUL."""
        if size == 0:
            return 0
        n = min(len(text), size - 1)
        self.mm.write(buf, text[:n] + b"\0")
        return n

    def _module_name(self) -> str:
        mod = self.machine.current_module
        return mod.name if mod is not None else "kernel"

    def _caller(self) -> int:
        """Return address of the current kernel-API call."""
        return self.mm.read_uint(self.cpu.reg(x86.UC_X86_REG_RSP), 8)

    # ---- printk -----------------------------------------------------------------------

    @export(nargs=1, variadic=True)
    def printk(self, fmt: int, args) -> int:
        return self.machine.log.printk(self._format(fmt, args))

    @export(nargs=2)
    def vprintk(self, fmt: int, va_list: int) -> int:
        return self.machine.log.printk(self._format(fmt, VaListCursor(self, va_list)))

    @export(nargs=1, variadic=True)
    def mmiotrace_printk(self, fmt: int, args) -> int:
        text = self._format(fmt, args)
        self.machine.on_trace_printk(text.decode("utf-8", "replace"))
        return len(text)

    @export(nargs=3, variadic=True)
    def snprintf(self, buf: int, size: int, fmt: int, args) -> int:
        text = self._format(fmt, args)
        self._write_string(buf, size, text)
        return len(text)

    @export(nargs=4)
    def vsnprintf(self, buf: int, size: int, fmt: int, va_list: int) -> int:
        text = self._format(fmt, VaListCursor(self, va_list))
        self._write_string(buf, size, text)
        return len(text)

    @export(nargs=3, variadic=True)
    def scnprintf(self, buf: int, size: int, fmt: int, args) -> int:
        return self._write_string(buf, size, self._format(fmt, args))

    @export(nargs=2, variadic=True)
    def sprintf(self, buf: int, fmt: int, args) -> int:
        text = self._format(fmt, args)
        self.mm.write(buf, text + b"\0")
        return len(text)

    @export("__panic_stop", nargs=2)
    def panic_stop(self, msg: int, caller: int) -> None:
        """The end of panic() (kernel/core/notifier.c formats the message and
        runs the panic notifiers first): the machine stops here, reported at
        panic()'s call site when that is in a module."""
        text = self.mm.read_cstring(msg, 1024).decode("utf-8", "replace").rstrip("\n")
        stop = Stop("panic", f"Kernel panic - not syncing: {text}", [f"Kernel panic - not syncing: {text}"])
        stop.regs = self.cpu.registers()
        site = caller - 5                             # the 5-byte call rel32 into panic()
        if any(m.contains(site) for m in self.machine.modules.values()):
            stop.regs["RIP"] = site
        raise CpuStop(stop)

    def _at_caller(self, stop: Stop) -> None:
        """Report a stop at the call site rather than in the stub."""
        stop.regs = self.cpu.registers()
        site = self._caller() - 5                     # the 5-byte call rel32
        if any(m.contains(site) for m in self.machine.modules.values()):
            stop.regs["RIP"] = site
            stop.regs["RSP"] += 8
        # else a tail call (jmp) got here: the stub is the best place to name

    @export("__bug_at", nargs=2)
    def bug_at(self, file: int, line: int) -> None:
        where = f"{self.mm.read_cstring(file).decode(errors='replace')}:{_s32(line)}"
        stop = Stop("bug", f"kernel BUG at {where}!",
                    ["------------[ cut here ]------------", f"kernel BUG at {where}!",
                     "invalid opcode: 0000 [#{n}]"], vector=6)
        self._at_caller(stop)
        raise CpuStop(stop)

    @export("__warn_at", nargs=2)
    def warn_at(self, file: int, line: int) -> None:
        where = f"{self.mm.read_cstring(file).decode(errors='replace')}:{_s32(line)}"
        caller = self._caller() - 5
        log = self.machine.log
        log.log(4, "------------[ cut here ]------------")
        log.log(4, f"WARNING: CPU: 0 PID: 1 at {where} {self.machine.symbolize(caller)}")
        log.log(4, "---[ end trace 0000000000000000 ]---")

    @export(nargs=3)
    def kstrtoul(self, s: int, base: int, res: int) -> int:
        return self._kstrto(s, base, res, 8, False)

    @export(nargs=3)
    def kstrtoint(self, s: int, base: int, res: int) -> int:
        return self._kstrto(s, base, res, 4, True)

    def _kstrto(self, s: int, base: int, res: int, size: int, signed: bool) -> int:
        text = self.mm.read_cstring(s, 256).decode("latin-1")
        try:
            value = parse_int_param(text, signed, size, _u32(base))
        except ValueError as exc:
            return -(exc.args[0] if exc.args else errno.EINVAL)
        self.mm.write_uint(res, size, value)
        return 0

    # ---- memory -------------------------------------------------------------------------

    @export(nargs=2)
    def kmalloc(self, size: int, flags: int) -> int:
        va = self.mm.kmalloc(size)
        if va and va != 0x10 and _u32(flags) & GFP_ZERO:
            self.cpu.write_phys(va - DIRECT_MAP, bytes(size))
        return va

    @export(nargs=2)
    def kzalloc(self, size: int, flags: int) -> int:
        return self.kmalloc(size, _u32(flags) | GFP_ZERO)

    @export(nargs=1)
    def kfree(self, ptr: int) -> None:
        try:
            self.mm.kfree(ptr)
        except KeyError:
            stop = Stop("bug", f"kfree({ptr:#x}): not a pointer kmalloc returned (or already freed)",
                        [f"BUG: kfree({ptr:#x}): not a pointer kmalloc returned (or already freed)",
                         "invalid opcode: 0000 [#{n}]"], vector=6)
            self._at_caller(stop)
            raise CpuStop(stop) from None

    @export(nargs=1)
    def ksize(self, ptr: int) -> int:
        return self.mm.ksize(ptr) or 0

    @export(nargs=2)
    def kstrdup(self, s: int, flags: int) -> int:
        if s == 0:
            return 0
        text = self.mm.read_cstring(s) + b"\0"
        va = self.mm.kmalloc(len(text))
        if va:
            self.mm.write(va, text)
        return va

    # ---- ioremap ---------------------------------------------------------------------------------

    def ioremap_phys(self, phys: int, size: int) -> int:
        """The common path of every ioremap flavour and pci_iomap."""
        if size == 0 or phys + size - 1 >= 1 << 64:
            return 0
        if phys < self.mm.ram_size:
            self.machine.log.log(4, f"ioremap on RAM at {phys:#018x} - {phys + size - 1:#018x}")
            return 0
        mod = self.machine.current_module
        cookie = self.mm.ioremap(phys, size, mod.name if mod else None)
        if not cookie:
            return 0
        if mod is not None:
            mod.ioremaps.append(cookie)
        for hook in list(self.machine.ioremap_hooks):
            hook.on_ioremap(phys, size, cookie)
        return cookie

    @export(nargs=2)
    def ioremap(self, phys: int, size: int) -> int:
        return self.ioremap_phys(phys, size)

    @export(nargs=2)
    def ioremap_wc(self, phys: int, size: int) -> int:
        return self.ioremap_phys(phys, size)

    @export(nargs=2)
    def ioremap_uc(self, phys: int, size: int) -> int:
        return self.ioremap_phys(phys, size)

    @export(nargs=2)
    def ioremap_cache(self, phys: int, size: int) -> int:
        return self.ioremap_phys(phys, size)

    @export(nargs=1)
    def iounmap(self, addr: int) -> None:
        if not self.mm.is_vmalloc(addr):
            return                      # not an ioremap address: the kernel ignores it
        mapping = self.mm.find_iomap(addr)
        if mapping is None:
            self.machine.log.log(4, f"Trying to iounmap() nonexistent vm area ({addr:#x})")
            return
        for hook in list(self.machine.ioremap_hooks):
            hook.on_iounmap(addr)
        for mod in self.machine.modules.values():
            if mapping.cookie in mod.ioremaps:
                mod.ioremaps.remove(mapping.cookie)
        self.mm.iounmap(mapping)
