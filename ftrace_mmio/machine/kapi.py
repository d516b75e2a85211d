"""The kernel API drivers call: printk, kmalloc, delays, ioremap, pci_*.

Each exported function has a 16-byte slot on one stub page of kernel text;
the slot holds a ``ret``.  A module's ``call printk`` is relocated to its
slot, and ONE code hook bounded to the stub page runs the Python function
for that slot before the ``ret`` executes: arguments come from RDI, RSI,
RDX, RCX, R8, R9 (then the stack), the result goes into RAX, and the real
``ret`` returns to the driver.  No RIP write, so no translation-block exit;
code outside the stub page pays nothing (emulation.md §4).

Functions that are ordinary code in a kernel (memcpy, strlen ...) are real
guest code instead: see ``klib.py``.  ``jiffies`` is a real variable on a
kernel data page.
"""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from unicorn import x86_const as x86

from .cpu import CpuStop, Stop
from .mm import DIRECT_MAP, PAGE_SIZE, MemoryFault
from .module import parse_int_param

if TYPE_CHECKING:
    from .machine import Machine

SLOT_SIZE = 16
HZ = 250
INITIAL_JIFFIES = (-300 * HZ) & 0xFFFF_FFFF      # wraps five minutes after boot, as in the kernel
GFP_ZERO = 0x100

IORESOURCE_IO = 0x100
PCI_COMMAND = 0x04
PCI_COMMAND_IO, PCI_COMMAND_MEMORY, PCI_COMMAND_MASTER = 0x1, 0x2, 0x4
PCIBIOS_SUCCESSFUL = 0x00
PCIBIOS_BAD_REGISTER_NUMBER = 0x87
PCI_ANY_ID = 0xFFFF_FFFF

# struct pci_dev, as laid out in include/linux/pci.h (checked there with
# _Static_assert): bus, devfn, vendor, device, subsystem ids, class,
# revision, hdr_type, irq, resource[7], dev {init_name, driver_data},
# bus_storage.
PCI_DEV_SIZE = 280
PCI_DEV_HEAD = struct.Struct("<QIHHHHIBB2xI")
RESOURCE = struct.Struct("<QQQQ")
PCI_DEV_DEV_OFF = 256
PCI_DEV_BUS_OFF = 272


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


class KernelApi:
    """The exported functions and the stub page that reaches them."""

    def __init__(self, machine: "Machine") -> None:
        self.machine = machine
        self.cpu = machine.cpu
        self.mm = machine.mm
        self.exports: dict[str, int] = {}            # name -> address (stubs and data)
        self._slots: list[tuple[Callable[..., Any], int, bool]] = []
        self._stub_base = 0
        self._jiffies_va = 0
        self.pci_by_va: dict[int, Any] = {}          # struct pci_dev address -> PciDevice
        self.pci_va: dict[int, int] = {}             # id(PciDevice) -> struct pci_dev address
        self._pci_order: list[int] = []              # struct addresses in (bus, devfn) order

    # ---- set-up ------------------------------------------------------------------

    def install(self, stub_va: int, data_va: int) -> None:
        """Fill the stub page at ``stub_va`` (mapped RX) and define data
        symbols on the page at ``data_va`` (mapped RW)."""
        found = []
        for attr in dir(type(self)):
            spec = getattr(getattr(type(self), attr), "_kapi_export", None)
            if spec is not None:
                found.append((spec.name, getattr(self, attr), spec))
        found.sort(key=lambda t: t[0])
        if len(found) * SLOT_SIZE > PAGE_SIZE:
            raise RuntimeError("kernel API does not fit on one stub page")
        code = bytearray(b"\xcc" * PAGE_SIZE)           # int3 between slots
        for i, (name, fn, spec) in enumerate(found):
            code[i * SLOT_SIZE] = 0xC3                  # ret
            self.exports[name] = stub_va + i * SLOT_SIZE
            self._slots.append((fn, spec.nargs, spec.variadic))
        self.cpu.write_phys(self.mm.virt_to_phys(stub_va), bytes(code))
        self._stub_base = stub_va
        self.cpu.add_code_hook(self._on_stub, stub_va, stub_va + len(found) * SLOT_SIZE - 1)
        self._jiffies_va = data_va
        self.exports["jiffies"] = data_va
        self.exports["jiffies_64"] = data_va
        self.update_jiffies()

    def stub_name(self, va: int) -> str | None:
        if self._stub_base <= va < self._stub_base + len(self._slots) * SLOT_SIZE:
            i = (va - self._stub_base) // SLOT_SIZE
            for name, addr in self.exports.items():
                if addr == self._stub_base + i * SLOT_SIZE:
                    return name
        return None

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

    def update_jiffies(self) -> None:
        # Look at the clock without moving it: a deterministic clock ticks
        # on every reading, and updating jiffies is not a reading.
        tb = self.machine.time_base
        ns = tb.virtual_ns(tick=False) if tb.deterministic else tb.since_boot_ns()
        value = (INITIAL_JIFFIES + ns * HZ // 1_000_000_000) & 0xFFFF_FFFF_FFFF_FFFF
        self.cpu.write_phys(self.mm.virt_to_phys(self._jiffies_va), value.to_bytes(8, "little"))

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

    @export(nargs=3, variadic=True)
    def dev_printk(self, level: int, dev: int, fmt: int, args) -> int:
        pdev_va = dev - PCI_DEV_DEV_OFF
        pdev = self.pci_by_va.get(pdev_va)
        lvl = self.mm.read_cstring(level, 8) if level else b""
        body = self._format(fmt, args)
        if pdev is None:
            prefix = b"(NULL device *): " if dev == 0 else b""
        else:
            driver = getattr(pdev, "driver", None) or "pci"
            prefix = f"{driver} {_slot_name(pdev)}: ".encode()
        return self.machine.log.printk(lvl + prefix + body)

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

    @export(nargs=1, variadic=True)
    def panic(self, fmt: int, args) -> None:
        msg = self._format(fmt, args).decode("utf-8", "replace").rstrip("\n")
        stop = Stop("panic", f"Kernel panic - not syncing: {msg}", [f"Kernel panic - not syncing: {msg}"])
        self._at_caller(stop)
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

    # ---- time ------------------------------------------------------------------------------

    def _delay(self, ns: int) -> None:
        self.machine.time_base.advance(ns)
        self.update_jiffies()

    @export(nargs=1)
    def udelay(self, usecs: int) -> None:
        self._delay(usecs * 1000)

    @export(nargs=1)
    def ndelay(self, nsecs: int) -> None:
        self._delay(nsecs)

    @export(nargs=1)
    def mdelay(self, msecs: int) -> None:
        self._delay(msecs * 1_000_000)

    @export(nargs=1)
    def msleep(self, msecs: int) -> None:
        self._delay(_u32(msecs) * 1_000_000)

    @export(nargs=1)
    def msleep_interruptible(self, msecs: int) -> int:
        self._delay(_u32(msecs) * 1_000_000)
        return 0

    @export(nargs=2)
    def usleep_range(self, lo: int, hi: int) -> None:
        self._delay(lo * 1000)

    @export(nargs=1)
    def fsleep(self, usecs: int) -> None:
        self._delay(usecs * 1000)

    @export(nargs=1)
    def ssleep(self, seconds: int) -> None:
        self._delay(_u32(seconds) * 1_000_000_000)

    @export()
    def ktime_get_ns(self) -> int:
        return self.machine.time_base.machine_ns()

    @export()
    def ktime_get(self) -> int:
        return self.machine.time_base.machine_ns()

    @export(nargs=1)
    def jiffies_to_msecs(self, j: int) -> int:
        return _u32(j * 1000 // HZ)

    @export(nargs=1)
    def msecs_to_jiffies(self, m: int) -> int:
        return -(-_u32(m) * HZ // 1000)

    @export(nargs=1)
    def usecs_to_jiffies(self, u: int) -> int:
        return -(-_u32(u) * HZ // 1_000_000)

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

    # ---- PCI -----------------------------------------------------------------------------------------

    def build_pci_devices(self, devices) -> None:
        """Give every PCI device a struct pci_dev in kernel memory."""
        for dev in sorted(devices, key=lambda d: tuple(d.slot)):
            va = self.mm.kmalloc(PCI_DEV_SIZE)
            name = _slot_name(dev).encode() + b"\0"
            name_va = self.mm.kmalloc(len(name))
            self.mm.write(name_va, name)
            bus, devfn = dev.slot
            cfg = dev.config_read
            head = PCI_DEV_HEAD.pack(
                va + PCI_DEV_BUS_OFF, devfn, dev.vendor, dev.device,
                cfg(0x2C, 2), cfg(0x2E, 2), cfg(0x08, 4) >> 8, cfg(0x08, 1), cfg(0x0E, 1) & 0x7F,
                int(dev.irq or 0))
            res = b"".join(RESOURCE.pack(start, end, 0, flags) for start, end, flags in
                           _resources(dev))
            blob = head + res + struct.pack("<QQ", name_va, 0) + bytes([bus]) + bytes(7)
            assert len(blob) == PCI_DEV_SIZE
            self.mm.write(va, blob)
            self.pci_by_va[va] = dev
            self.pci_va[id(dev)] = va
            self._pci_order.append(va)

    def _pdev(self, va: int):
        dev = self.pci_by_va.get(va)
        if dev is None:
            stop = Stop("bug", f"PCI call on {va:#x}, which is not a struct pci_dev",
                        [f"BUG: PCI call on {va:#x}, which is not a struct pci_dev",
                         "invalid opcode: 0000 [#{n}]"], vector=6)
            self._at_caller(stop)
            raise CpuStop(stop)
        return dev

    @export(nargs=3)
    def pci_get_device(self, vendor: int, device: int, from_: int) -> int:
        """The next device after ``from_`` matching the ids (PCI_ANY_ID
        matches all), in (bus, devfn) order; takes a reference on it and
        drops the one on ``from_``, as the kernel does."""
        vendor, device = _u32(vendor), _u32(device)
        order = self._pci_order
        start = order.index(from_) + 1 if from_ in order else 0
        found = 0
        for va in order[start:]:
            dev = self.pci_by_va[va]
            if vendor in (PCI_ANY_ID, dev.vendor) and device in (PCI_ANY_ID, dev.device):
                found = va
                _call_if(dev, "get")
                break
        if from_:
            _call_if(self._pdev(from_), "put")
        return found

    @export(nargs=1)
    def pci_dev_get(self, dev_va: int) -> int:
        if dev_va:
            _call_if(self._pdev(dev_va), "get")
        return dev_va

    @export(nargs=1)
    def pci_dev_put(self, dev_va: int) -> None:
        if dev_va:
            _call_if(self._pdev(dev_va), "put")

    @export(nargs=1)
    def pci_enable_device(self, dev_va: int) -> int:
        """Turn on decoding for the BARs the device has, and bind it to the
        calling module (our stand-in for a driver's probe: the name lspci
        and PCIDEV lines show, until the module is unloaded)."""
        dev = self._pdev(dev_va)
        if hasattr(dev, "enable"):
            dev.enable()
        else:
            bits = 0
            for start, end, flags in _resources(dev)[:6]:
                if end:
                    bits |= PCI_COMMAND_IO if flags & IORESOURCE_IO else PCI_COMMAND_MEMORY
            dev.config_write(PCI_COMMAND, 2, dev.config_read(PCI_COMMAND, 2) | bits)
        mod = self.machine.current_module
        if mod is not None:
            dev.driver = mod.name
        return 0

    @export(nargs=1)
    def pci_disable_device(self, dev_va: int) -> None:
        dev = self._pdev(dev_va)
        if hasattr(dev, "disable"):
            dev.disable()
        else:
            dev.config_write(PCI_COMMAND, 2, dev.config_read(PCI_COMMAND, 2) & ~PCI_COMMAND_MASTER)

    @export(nargs=1)
    def pci_set_master(self, dev_va: int) -> None:
        dev = self._pdev(dev_va)
        cmd = dev.config_read(PCI_COMMAND, 2)
        dev.config_write(PCI_COMMAND, 2, cmd | PCI_COMMAND_MASTER)

    @export(nargs=2)
    def pci_request_regions(self, dev_va: int, name: int) -> int:
        self._pdev(dev_va)
        return 0

    @export(nargs=1)
    def pci_release_regions(self, dev_va: int) -> None:
        self._pdev(dev_va)

    def _config_read(self, dev_va: int, where: int, val: int, width: int) -> int:
        dev = self._pdev(dev_va)
        where = _s32(where)
        if where & (width - 1) or not 0 <= where <= 256 - width:
            return PCIBIOS_BAD_REGISTER_NUMBER
        try:
            value = dev.config_read(where, width)
        except ValueError as exc:           # the bus refuses: PciConfigError carries the code
            return getattr(exc, "code", PCIBIOS_BAD_REGISTER_NUMBER)
        self.mm.write_uint(val, width, value)
        return PCIBIOS_SUCCESSFUL

    def _config_write(self, dev_va: int, where: int, value: int, width: int) -> int:
        dev = self._pdev(dev_va)
        where = _s32(where)
        if where & (width - 1) or not 0 <= where <= 256 - width:
            return PCIBIOS_BAD_REGISTER_NUMBER
        try:
            dev.config_write(where, width, value & ((1 << (8 * width)) - 1))
        except ValueError as exc:
            return getattr(exc, "code", PCIBIOS_BAD_REGISTER_NUMBER)
        return PCIBIOS_SUCCESSFUL

    @export(nargs=3)
    def pci_read_config_byte(self, dev: int, where: int, val: int) -> int:
        return self._config_read(dev, where, val, 1)

    @export(nargs=3)
    def pci_read_config_word(self, dev: int, where: int, val: int) -> int:
        return self._config_read(dev, where, val, 2)

    @export(nargs=3)
    def pci_read_config_dword(self, dev: int, where: int, val: int) -> int:
        return self._config_read(dev, where, val, 4)

    @export(nargs=3)
    def pci_write_config_byte(self, dev: int, where: int, value: int) -> int:
        return self._config_write(dev, where, value, 1)

    @export(nargs=3)
    def pci_write_config_word(self, dev: int, where: int, value: int) -> int:
        return self._config_write(dev, where, value, 2)

    @export(nargs=3)
    def pci_write_config_dword(self, dev: int, where: int, value: int) -> int:
        return self._config_write(dev, where, value, 4)

    @export(nargs=3)
    def pci_iomap(self, dev_va: int, bar: int, maxlen: int) -> int:
        dev = self._pdev(dev_va)
        bar = _s32(bar)
        resources = _resources(dev)
        if not 0 <= bar < len(resources):
            return 0
        start, end, flags = resources[bar]
        if not end or end < start:
            return 0
        length = end - start + 1
        if maxlen and length > maxlen:
            length = maxlen
        if flags & IORESOURCE_IO:
            self.machine.log.log(4, f"pci_iomap: BAR {bar} of {_slot_name(dev)} is I/O ports, "
                                    "which this machine does not emulate")
            return 0
        return self.ioremap_phys(start, length)

    @export(nargs=2)
    def pci_iounmap(self, dev_va: int, addr: int) -> None:
        self.iounmap(addr)


def _slot_name(dev) -> str:
    bus, devfn = dev.slot
    return f"0000:{bus:02x}:{devfn >> 3:02x}.{devfn & 7}"


def _resources(dev) -> list[tuple[int, int, int]]:
    res = [tuple(r) for r in dev.resources][:7]
    return res + [(0, 0, 0)] * (7 - len(res))


def _call_if(dev, method: str) -> None:
    fn = getattr(dev, method, None)
    if fn is not None:
        fn()
