"""Machine: one emulated x86-64 box with its PCI devices, kernel and modules.

All emulator work happens on the machine's own CPU thread.  Public methods
(``insmod``, ``rmmod``, ``call`` ...) may be called from any thread: they
put the work on the CPU thread's queue and wait for it.  ``run_on_cpu``
does the same for other components (the mmiotrace tracer registers its
fault handlers that way).  Reading the kernel log needs no queue.

Crash containment: an oops, a budget overrun or a kernel BUG inside a
module's code ends that call.  The oops goes to the kernel log, the call
fails with the reason, and the CPU is ready for the next call; a module
whose init crashed is unloaded (a real kernel would leave it stuck).
"""

from __future__ import annotations

import errno
import os
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from unicorn import x86_const as x86

from ..trace.clock import TimeBase
from .cpu import ARG_REGS, EFLAGS_RESET, MSR_EFER, Cpu, Stop
from .dma import DmaBus
from .events import EventQueue
from .iomem import IoMem
from .ioport import IoPorts, io_bars
from .irq import InterruptController
from .port import DevicePort
from ..kernel.api import KernelApi
from ..kernel.klib import CORE_FLAGS, CORE_NAME, KLIB_CFLAGS, KLIB_NAME, KLIB_SOURCE, core_source
from ..kernel.subsystems import SUBSYSTEMS
from .mm import KERNEL_TEXT, PAGE_SIZE, MemoryFault, Mm
from ..kernel.module import Compiler, KernelSymbol, Loader, Module, ModuleError, ModuleOops, resolve_target
from ..kernel.oops import classify_page_fault, format_oops
from ..kernel.printk import KernelLog, PrintfFormatter

RETURN_PAD = KERNEL_TEXT + 0x10        # where called functions return to (not at a page start: see run())
STUB_PAGE = KERNEL_TEXT + PAGE_SIZE
STUB_PAGES = 8                          # 16-byte slots: room for 2048 exported functions
DATA_PAGE = STUB_PAGE + STUB_PAGES * PAGE_SIZE
DATA_PAGES = 4                          # jiffies and the other data the kernel API exports
# insmod refuses a module file larger than this before reading it (EFBIG, as
# the kernel's kernel_read_file does past its limit): half the default RAM,
# far beyond any real driver, and it keeps a stray multi-gigabyte file from
# being pulled into the daemon's memory.
MAX_MODULE_BYTES = 64 << 20


def _ignore_marker(text: str) -> None:
    return None


@dataclass
class ModuleInfo:
    """A loaded module as lsmod shows it."""

    name: str
    size: int
    state: str
    path: str | None
    base: int
    params: dict[str, str] = field(default_factory=dict)
    description: str = ""
    warnings: str = ""
    used_by: list[str] = field(default_factory=list)   # modules linked against its exports

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size, "state": self.state, "path": self.path,
                "base": self.base, "params": self.params, "description": self.description,
                "used_by": self.used_by}


class _EmptyBus:
    devices: list = []


def _default_bus(time_base: TimeBase):
    try:
        from .pci import default_bus
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.pci":
            raise
        return _EmptyBus()
    return default_bus(time_base)


def _check_module_size(path: Path) -> None:
    try:
        size = path.stat().st_size
    except OSError:
        return  # resolve_target or the reader reports a missing file
    if size > MAX_MODULE_BYTES:
        raise ModuleError(errno.EFBIG, f"{path}: module file too large ({size} bytes; "
                                       f"at most {MAX_MODULE_BYTES >> 20} MiB)")


class Machine:
    """An emulated machine.  ``with Machine() as m: m.insmod("nvlike")``.

    ``pci_bus`` defaults to the standard three devices; ``time_base`` is
    shared with the trace array; ``run_budget_s`` is the wall-clock time
    one call into module code (init, exit) may take before it is stopped
    as a soft lockup.
    """

    def __init__(self, pci_bus: Any = None, time_base: TimeBase | None = None, *,
                 ram_mb: int = 128, run_budget_s: float = 60.0, stack_kb: int = 16,
                 cache_dir: str | os.PathLike | None = None, pointer_key: bytes = b"ftrace-mmio %p") -> None:
        self.time_base = time_base if time_base is not None else TimeBase()
        self.pci_bus = pci_bus if pci_bus is not None else _default_bus(self.time_base)
        self.run_budget_s = run_budget_s
        self.compiler = Compiler(Path(cache_dir) if cache_dir else None)
        self.log = KernelLog(self.time_base.machine_ns)
        # Hooks other components set or add.
        self.on_trace_printk: Callable[[str], None] = _ignore_marker
        self.ioremap_hooks: list[Any] = []
        self.module_hooks: list[Any] = []
        self.modules: dict[str, Module] = {}
        self.current_module: Module | None = None
        self.oops_count = 0
        self._ram_size = ram_mb << 20
        self._stack_size = stack_kb << 10
        self._pointer_key = pointer_key
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._cpu_thread, name="ftrace-mmio-cpu", daemon=True)
        self._thread.start()
        try:
            self._submit(self._boot)
        except BaseException:
            self.close()
            raise

    # ---- the CPU thread ----------------------------------------------------------

    def _cpu_thread(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                break
            fut, fn, args, kwargs = item
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                fut.set_exception(exc)
        cpu = getattr(self, "cpu", None)
        if cpu is not None:
            cpu.close()

    def _submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is self._thread:
            return fn(*args, **kwargs)
        if self._closed:
            raise RuntimeError("the machine has been shut down")
        fut: Future = Future()
        self._queue.put((fut, fn, args, kwargs))
        return fut.result()

    def run_on_cpu(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` on the CPU thread (where unicorn may be touched) and
        return its result."""
        return self._submit(fn, *args, **kwargs)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            if threading.current_thread() is not self._thread:
                self._thread.join()

    def __enter__(self) -> "Machine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- boot ----------------------------------------------------------------------

    def _boot(self) -> None:
        self.cpu = cpu = Cpu(self._ram_size)
        self.mm = mm = Mm(cpu, self._ram_size)
        cpu.enable_paging(mm.pml4)
        self._boot_control = self._control_registers()
        self._boot_context = cpu.uc.context_save()
        cpu.add_oops_handler(self._classify)
        # Kernel text: the return pad (hlt, never executed: runs stop at it),
        # then the stub pages; then the kernel's data pages (jiffies ...).
        pad = mm.map_new_pages(KERNEL_TEXT, 1 + STUB_PAGES, writable=False, executable=True)
        cpu.write_phys(pad, b"\xf4" * PAGE_SIZE)
        mm.map_new_pages(DATA_PAGE, DATA_PAGES, writable=True, executable=False)
        self.stack = mm.alloc_stack(self._stack_size)
        self.iomem = IoMem(cpu)
        for dev in self.pci_bus.devices:
            for start, size, region in dev.io_regions():
                # A BAR smaller than a page (pvpanic's 16 bytes) takes the
                # page: the region answers past its end as unclaimed.
                self.iomem.map_region(start, -(-size // PAGE_SIZE) * PAGE_SIZE, region,
                                      name=f"{_slot(dev)}")
        # Unclaimed physical addresses read all ones (iomem.py); I/O BARs
        # answer in/out (ioport.py).
        self.iomem.log = self.log.log
        self.ioports = IoPorts(self.log.log)
        for start, size, region, name in io_bars(self.pci_bus.devices):
            self.ioports.map_region(start, size, region, name)
        cpu.ports = self.ioports
        # What device models reach besides their BARs.
        self.events = EventQueue(self.time_base)
        self.iomem.attach_clock(self.time_base)
        self.irqchip = InterruptController(self)
        self.dma = DmaBus(self)
        for dev in self.pci_bus.devices:
            model = getattr(dev, "model", None)
            if model is not None:
                model.port = DevicePort(self, dev)
        self.formatter = PrintfFormatter(mm.read_cstring, lambda va: mm.read_uint(va, 8),
                                         self.symbolize, self._pointer_key)
        self.kapi = KernelApi(self, SUBSYSTEMS)
        self.kapi.install(STUB_PAGE, STUB_PAGES, DATA_PAGE, DATA_PAGES)
        self.loader = Loader(mm)
        klib = self.compiler.compile_text(KLIB_SOURCE, KLIB_NAME, KLIB_CFLAGS)
        self.klib = self.loader.load(klib.obj, KLIB_NAME, self.kapi.exports.get, builtin=True)
        self.klib.builtin = True
        self.klib.state = "live"
        # The kernel's own C code (kernel/core/*.c: driver core, timers,
        # workqueues, irq dispatch ...), one object linked against the stubs.
        self.builtins = [self.klib]
        src = core_source()
        if src:
            core = self.compiler.compile_source(src, CORE_NAME, CORE_FLAGS)
            self.core = self.loader.load(core.obj, CORE_NAME, self._resolve_builtin, builtin=True)
            self.core.builtin = True
            self.core.state = "live"
            self.builtins.append(self.core)
        self.kapi.boot()
        self.log.log(5, f"ftrace-mmio machine: x86-64, {self._ram_size >> 20} MiB RAM, 4-level paging with NX")
        for dev in sorted(self.pci_bus.devices, key=lambda d: tuple(d.slot)):
            cls = dev.config_read(0x08, 4) >> 8
            self.log.log(6, f"pci {_slot(dev)}: [{dev.vendor:04x}:{dev.device:04x}] type 00 class 0x{cls:06x}")

    # ---- symbols ---------------------------------------------------------------------

    def resolve(self, name: str) -> int | None:
        """Address of a kernel export (stub, data, kernel library or core)."""
        va = self.kapi.exports.get(name)
        if va is None:
            for obj in self.builtins:
                va = obj.symbols.get(name)
                if va is not None:
                    break
        return va

    def module_export(self, name: str) -> KernelSymbol | None:
        """A symbol a loaded module exports (EXPORT_SYMBOL*), for the loader."""
        for mod in self.modules.values():
            ks = mod.exports.get(name)
            if ks is not None:
                return ks
        return None

    def module_users(self, name: str) -> list[str]:
        """Loaded modules that link against ``name``'s exports, newest first."""
        return [m.name for m in reversed(list(self.modules.values())) if name in m.uses]

    def _resolve_builtin(self, name: str) -> int | None:
        va = self.kapi.exports.get(name)
        return va if va is not None else self.klib.symbols.get(name)

    def symbolize(self, va: int, with_size: bool = True) -> str:
        """``function+0xoff/0xsize [module]`` for a code address (%pS)."""
        for mod in [*self.builtins, *self.modules.values()]:
            if mod.contains(va):
                hit = mod.symbolize(va)
                if hit is None:
                    break
                fn, off, size = hit
                text = f"{fn}+{off:#x}/{size:#x}" if with_size else f"{fn}+{off:#x}"
                return text if mod.builtin else f"{text} [{mod.name}]"
        stub = self.kapi.stub_name(va)
        if stub is not None:
            off = self.kapi.stub_offset(va)
            return f"{stub}+{off:#x}/0x10" if with_size else f"{stub}+{off:#x}"
        return f"{va:#x}"

    # ---- running module code ---------------------------------------------------------------

    def _classify(self, stop: Stop) -> None:
        if stop.kind == "page fault":
            classify_page_fault(stop, self.stack)

    def _call(self, va: int, args: Sequence[int], module: Module | None, comm: str) -> int:
        """Call a C function on the CPU thread; ModuleOops if it crashes."""
        cpu = self.cpu
        self._restore_control_registers()
        rsp = self.stack[1] - 8
        self.mm.write_uint(rsp, 8, RETURN_PAD)
        for reg, value in zip(ARG_REGS, args):
            cpu.set_reg(reg, value)
        cpu.set_reg(x86.UC_X86_REG_RSP, rsp)
        cpu.set_reg(x86.UC_X86_REG_RBP, 0)
        cpu.eflags = EFLAGS_RESET
        irq = getattr(self.kapi, "irq", None)
        if irq is not None:
            irq.task_begin()        # each call is a new task: preempt count 0 (x86 keeps it per task)
        sched = getattr(self.kapi, "sched", None)
        if sched is not None:
            sched.task_begin(comm)  # current->comm of the process: insmod, rmmod, call
        # The machine clock stops following wall time while guest code runs
        # (trace/clock.py); device events that fell due meanwhile run first.
        ktime = self.kapi.time
        prev_comm, ktime.comm = ktime.comm, comm
        catch_up = self.time_base.run_begin()
        prev, self.current_module = self.current_module, module
        try:
            self.events.advance_to(catch_up)
            ktime.touch_watchdog()
            ktime.update_jiffies()
            # The pad is 16 bytes into its page: unicorn raises a spurious
            # fetch fault on the page before when the stop address is the
            # first byte of a page whose predecessor is unmapped.
            stop = cpu.run(va, RETURN_PAD, self.run_budget_s)
        finally:
            self.current_module = prev
            ktime.comm = prev_comm
            self.time_base.run_end()
        if stop is not None:
            if stop.kind == "soft lockup":
                # cpu.run's wall-clock timeout: the run budget, not the
                # kernel's soft-lockup detector (kernel/time.py warns).
                self._budget_stop(stop, comm)
            raise self._report(stop, comm)
        return cpu.reg(x86.UC_X86_REG_RAX)

    def _budget_stop(self, stop: Stop, comm: str) -> None:
        machine_s = self.time_base.now_ns() / 1e9
        stop.kind = "run budget"
        stop.summary = (f"run budget exceeded: {comm} did not return within {self.run_budget_s:g} s "
                        f"of wall time (run_budget_s)")
        stop.lines = [f"ftrace-mmio: run budget exceeded: [{comm}:1] ran {self.run_budget_s:g}s (wall clock) "
                      f"without returning, stopped at machine time {machine_s:.6f}",
                      "Oops: budget [#{n}]"]

    # A driver runs in ring 0 and may write CR0, CR3, CR4 or EFER (mov crN,
    # wrmsr). A real kernel would die of it; here the CPU's boot state goes
    # back before the next run, so one bad module cannot break every later
    # insmod. Writing the registers back is not enough: clearing CR0.PG takes
    # the CPU out of long mode and drops the 64-bit code-segment state, which
    # only a whole saved context restores.
    _CONTROL_REGS = (x86.UC_X86_REG_CR3, x86.UC_X86_REG_CR4, None, x86.UC_X86_REG_CR0)

    def _control_registers(self) -> tuple[int, ...]:
        uc = self.cpu.uc
        return tuple(uc.msr_read(MSR_EFER) if reg is None else self.cpu.reg(reg)
                     for reg in self._CONTROL_REGS)

    def _restore_control_registers(self) -> None:
        if self._control_registers() == self._boot_control:
            return
        self.cpu.uc.context_restore(self._boot_context)
        self.cpu.flush_tlb()
        self.cpu.flush_code_cache()

    def _report(self, stop: Stop, comm: str) -> ModuleOops:
        self.oops_count += 1
        names = [m.name for m in reversed(list(self.modules.values()))]
        report = format_oops(stop, self.oops_count, comm, self.symbolize, self._read_code, names)
        for i, line in enumerate(report):
            self.log.log(1 if i < len(stop.lines) else 4, line)
        where = self.symbolize(stop.regs.get("RIP", 0))
        return ModuleOops(f"oops: {stop.summary or report[0]} at {where}", stop, report)

    def _read_code(self, va: int, n: int) -> bytes | None:
        try:
            return self.mm.read(va, n)
        except MemoryFault:
            return None

    # ---- modules -------------------------------------------------------------------------

    def insmod(self, target: str | os.PathLike, args: Sequence[str] = ()) -> ModuleInfo:
        """Load a module: a .c file (compiled), an object file, or the name
        of a bundled driver; ``args`` are ``name=value`` parameters.
        ModuleError (an OSError with the kernel's errno) if it fails."""
        path, name = resolve_target(os.fspath(target))
        _check_module_size(path)
        warnings = ""
        if path.suffix == ".c":
            result = self.compiler.compile_file(path, name)
            obj, warnings = result.obj, result.warnings
        else:
            obj = path.read_bytes()
        info = self._submit(self._insmod, obj, name, list(args), str(path))
        info.warnings = warnings
        return info

    def insmod_object(self, obj: bytes, name: str, args: Sequence[str] = ()) -> ModuleInfo:
        """Load an ELF relocatable given as bytes."""
        return self._submit(self._insmod, obj, name, list(args), None)

    def _insmod(self, obj: bytes, name: str, args: list[str], path: str | None) -> ModuleInfo:
        if name in self.modules or name == KLIB_NAME:
            raise ModuleError(errno.EEXIST, f"Module {name} is already loaded")
        module = self.loader.load(obj, name, self.resolve, args, path, log=lambda s: self.log.log(4, s),
                                  module_export=self.module_export)
        self.modules[name] = module
        self._notify("on_module_load", module)
        try:
            if module.init is not None:
                ret = _s32(self._call(module.init, (), module, "insmod"))
                if ret < 0:
                    raise ModuleError(-ret, f"{name}: init_module returned {ret} "
                                      f"({errno.errorcode.get(-ret, '?')}: {os.strerror(-ret)})")
                if ret > 0:
                    self.log.log(4, f"do_init_module: '{name}'->init suspiciously returned {ret}, "
                                    "it should follow 0/-E convention")
        except BaseException:
            self._unload(module)
            raise
        module.state = "live"
        self._run_deferred()
        return self._info(module)

    def rmmod(self, name: str) -> None:
        """Unload a module, running its module_exit function."""
        self._submit(self._rmmod, name)

    def _rmmod(self, name: str) -> None:
        module = self.modules.get(name)
        if module is None:
            raise ModuleError(errno.ENOENT, f"Module {name} is not currently loaded")
        users = self.module_users(name)
        if users:
            # The kernel's delete_module: other modules link against our exports.
            raise ModuleError(errno.EWOULDBLOCK, f"Module {name} is in use by: {' '.join(users)}")
        if module.exit is None and module.init is not None:
            raise ModuleError(errno.EBUSY, f"Module {name} has no module_exit function and cannot be unloaded")
        module.state = "going"
        try:
            if module.exit is not None:
                self._call(module.exit, (), module, "rmmod")
        finally:
            self._unload(module)
        self._run_deferred()

    def _unload(self, module: Module) -> None:
        self.modules.pop(module.name, None)
        for dev in self.pci_bus.devices:
            if getattr(dev, "driver", None) == module.name:
                dev.driver = None
        self.kapi.module_unloaded(module)
        self._notify("on_module_unload", module)
        self.loader.unload(module)

    def _notify(self, method: str, module: Module) -> None:
        for hook in list(self.module_hooks):
            fn = getattr(hook, method, None)
            if fn is not None:
                fn(module)

    def lsmod(self) -> list[ModuleInfo]:
        """Loaded modules, newest first (as /proc/modules lists them)."""
        return self._submit(lambda: [self._info(m) for m in reversed(list(self.modules.values()))])

    def _info(self, module: Module) -> ModuleInfo:
        state = {"coming": "Loading", "live": "Live", "going": "Unloading"}[module.state]
        return ModuleInfo(module.name, module.size, state, module.path, module.base,
                          {p.name: p.type for p in sorted(module.params, key=lambda p: p.name)},
                          "; ".join(module.modinfo.get("description", [])),
                          used_by=self.module_users(module.name))

    def call(self, module: str, function: str, *args: int) -> int:
        """Call a function of a loaded module (up to six integer arguments);
        returns RAX as an unsigned 64-bit value.  For tests and benchmarks."""
        return self._submit(self._call_named, module, function, args)

    def _call_named(self, module_name: str, function: str, args: tuple[int, ...]) -> int:
        module = self.modules.get(module_name)
        if module is None:
            raise ModuleError(errno.ENOENT, f"Module {module_name} is not currently loaded")
        va = module.symbols.get(function)
        if va is None:
            va = next((start for start, _, fn in module.functions if fn == function), None)
        if va is None:
            raise ModuleError(errno.ENOENT, f"{module_name} has no function {function}")
        if len(args) > len(ARG_REGS):
            raise ValueError("at most six arguments")
        ret = self._call(va, args, module, "call")
        self._run_deferred()
        return ret

    def _run_deferred(self) -> None:
        """What a kernel runs soon after a command returns: queued work and
        timers already due (core/sched.c: sched_run_pending; the clock does
        not move).  A crash there is the kworker's: reported in dmesg, and
        the command that queued the work still succeeded."""
        words = getattr(self, "_deferred_words", None)
        if words is None:
            names = ("sched_deferred_items", "irq_threads_pending", "irq_pending_word")
            words = self._deferred_words = [va for va in map(self.resolve, names) if va]
        va = self.resolve("sched_run_pending")
        # Nothing queued, armed or pending: skip the call (a run costs a few
        # hundred microseconds of host time).
        if va is None or not any(self.mm.read_uint(w, 8) for w in words):
            return
        try:
            self._call(va, (), None, "kworker/0:1")
        except ModuleOops:
            pass

    # ---- hooks for other components --------------------------------------------------------

    def add_ioremap_hook(self, hook: Any) -> None:
        """``hook.on_ioremap(phys, size, cookie)`` runs after every ioremap
        has mapped its pages, before the driver gets the cookie;
        ``hook.on_iounmap(cookie)`` before an iounmap removes them.  Both on
        the CPU thread."""
        self.ioremap_hooks.append(hook)

    def remove_ioremap_hook(self, hook: Any) -> None:
        self.ioremap_hooks.remove(hook)

    def add_module_hook(self, hook: Any) -> None:
        """``hook.on_module_load(module)`` / ``on_module_unload(module)``
        (either optional), on the CPU thread: e.g. to drop decode caches."""
        self.module_hooks.append(hook)

    # ---- inspection ----------------------------------------------------------------------------

    def dmesg(self, since_seq: int = 0) -> list:
        return self.log.records(since_seq)

    def dmesg_text(self) -> str:
        return self.log.text()

    def read_virt(self, va: int, size: int) -> bytes:
        """Read kernel-virtual RAM (not device memory)."""
        return self._submit(self.mm.read, va, size)

    def pci_devices(self) -> list[dict[str, Any]]:
        """The PCI bus as data: slot, vendor, device, class, revision, name,
        driver, irq and bars (index, start, size, flags)."""
        return self._submit(self._pci_devices)

    def _pci_devices(self) -> list[dict[str, Any]]:
        out = []
        for dev in sorted(self.pci_bus.devices, key=lambda d: tuple(d.slot)):
            bars = []
            for i, (start, end, flags) in enumerate(list(dev.resources)[:7]):
                if end:
                    bars.append({"index": i, "start": start, "size": end - start + 1, "flags": flags})
            model = getattr(dev, "model", None)
            out.append({
                "slot": _slot(dev), "vendor": dev.vendor, "device": dev.device,
                "class": dev.config_read(0x08, 4) >> 8, "revision": dev.config_read(0x08, 1),
                "name": getattr(model, "name", None) or getattr(dev, "name", ""),
                "driver": getattr(dev, "driver", None), "irq": dev.irq, "bars": bars,
            })
        return out


def _slot(dev) -> str:
    bus, devfn = dev.slot
    return f"0000:{bus:02x}:{devfn >> 3:02x}.{devfn & 7}"


def _s32(v: int) -> int:
    v &= 0xFFFF_FFFF
    return v - (1 << 32) if v >> 31 else v
