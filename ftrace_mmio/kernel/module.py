"""Loadable modules: compile a driver with gcc, load the ELF relocatable.

Compiling.  Drivers are built freestanding against our headers
(``ftrace_mmio/kernel/include``) with the x86-64 kernel code model, like a
kernel module::

    gcc -c -O2 -std=gnu11 -nostdinc -isystem <include> -ffreestanding
        -fno-pic -fno-pie -mcmodel=kernel -mno-red-zone -mgeneral-regs-only
        -fno-stack-protector -fcf-protection=none -fno-asynchronous-unwind-tables
        -fno-common -fno-strict-aliasing -fno-delete-null-pointer-checks
        -Wall -Werror=implicit-function-declaration -D__KERNEL__ -DMODULE
        -DKBUILD_MODNAME='"<name>"'

``-mcmodel=kernel`` puts all code and data in the top 2 GiB, so gcc emits
32-bit sign-extended absolute (R_X86_64_32S) and PC-relative (PC32, PLT32)
references, and 64-bit ones (R_X86_64_64) for pointers in data.  Objects are
cached by a hash of the preprocessed source, the flags and the gcc version,
so editing a header rebuilds and nothing else does.

Loading.  Allocated sections are grouped by permission -- text (RX), read-
only data (R, NX), writable data and bss (RW, NX) -- each group starting on
a page, all of them in one area near 0xffffffffc0000000 (W^X per section,
and NX data keeps stores on unicorn's fast path, emulation.md P7).
Relocations are applied in a Python image of the area, which is then
written to RAM in one go.  Undefined symbols resolve against the kernel's
exports, then against what loaded modules export; an unknown one fails the
load and is named.  Parameters from ``module_param`` entries in the
``__param`` section are set before init.

Module exports.  ``EXPORT_SYMBOL(sym)`` (linux/export.h) puts a ``struct
kernel_symbol`` {value, name, namespace} in ``__ksymtab`` (``__ksymtab_gpl``
for the GPL-only kind); after relocation the loader reads them into
``Module.exports``.  A module that links against another's export depends on
it (``Module.uses``) and the machine refuses to unload the provider while it
is loaded, as the kernel does.  As in the kernel: a module not under a
GPL-compatible licence does not see GPL-only symbols (Unknown symbol), a
symbol in a namespace needs ``MODULE_IMPORT_NS`` of it (EINVAL), and
exporting a name someone already exports fails the load (ENOEXEC).
"""

from __future__ import annotations

import errno
import functools
import hashlib
import io
import os
import struct
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection
from elftools.elf.sections import SymbolTableSection

from ..machine.cpu import Stop
from ..machine.mm import PAGE_SIZE, Mm, page_align

DRIVERS_DIR = Path(__file__).resolve().parent.parent / "drivers"
INCLUDE_DIR = Path(__file__).resolve().parent / "include"

CFLAGS: tuple[str, ...] = (
    "-O2", "-std=gnu11", "-nostdinc", "-isystem", str(INCLUDE_DIR), "-ffreestanding",
    "-fno-pic", "-fno-pie", "-mcmodel=kernel", "-mno-red-zone", "-mgeneral-regs-only",
    "-fno-stack-protector", "-fcf-protection=none", "-fno-asynchronous-unwind-tables",
    "-fno-unwind-tables", "-fno-common", "-fno-strict-aliasing", "-fno-delete-null-pointer-checks",
    "-fno-stack-clash-protection", "-Wall", "-Werror=implicit-function-declaration",
    "-Werror=implicit-int", "-Werror=return-type", "-D__KERNEL__", "-DMODULE",
    # kbuild's: in-tree code passes char * where u8 * is expected (sa_data).
    "-Wno-pointer-sign",
)

# x86-64 relocation types (the ones gcc emits for the kernel code model).
R_X86_64_NONE, R_X86_64_64, R_X86_64_PC32, R_X86_64_PLT32 = 0, 1, 2, 4
R_X86_64_32, R_X86_64_32S, R_X86_64_PC64 = 10, 11, 24
RELOC_NAMES = {0: "R_X86_64_NONE", 1: "R_X86_64_64", 2: "R_X86_64_PC32", 4: "R_X86_64_PLT32",
               10: "R_X86_64_32", 11: "R_X86_64_32S", 24: "R_X86_64_PC64"}

PARAM_ENTRY = struct.Struct("<QQIH2x")        # struct kernel_param in moduleparam.h
# param_set_charp takes at most this many bytes; longer is ENOSPC, as in the kernel.
CHARP_MAX = 1024
PARAM_TYPES = {1: "byte", 2: "short", 3: "ushort", 4: "int", 5: "uint", 6: "long",
               7: "ulong", 8: "charp", 9: "bool", 10: "invbool", 11: "hexint"}
# type -> (size in bytes, signed, minimum, maximum)
_INT_PARAMS = {
    "byte": (1, False), "short": (2, True), "ushort": (2, False), "int": (4, True),
    "uint": (4, False), "long": (8, True), "ulong": (8, False), "hexint": (4, False),
}


# The licences the kernel's license_is_gpl_compatible() accepts.
GPL_COMPATIBLE = frozenset({"GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL",
                            "Dual MIT/GPL", "Dual MPL/GPL"})

KSYMTAB_ENTRY = struct.Struct("<QQQ")          # struct kernel_symbol in linux/export.h
KSYMTAB_SECTIONS = {"__ksymtab": False, "__ksymtab_gpl": True}    # section -> GPL-only


@dataclass(frozen=True)
class KernelSymbol:
    """One symbol a module exports (``EXPORT_SYMBOL*``)."""

    name: str
    value: int
    gpl_only: bool
    namespace: str | None
    owner: str                                 # the exporting module's name


class ModuleError(OSError):
    """insmod/rmmod failed: ``errno`` is what the kernel would return,
    ``strerror`` says why in words."""

    def __init__(self, err: int, message: str) -> None:
        super().__init__(err, message)


class ModuleOops(ModuleError):
    """A module's code crashed; ``stop`` says how, ``report`` is the oops text."""

    def __init__(self, message: str, stop: "Stop", report: list[str]) -> None:
        super().__init__(errno.EFAULT, message)
        self.stop = stop
        self.report = report


@dataclass
class Param:
    name: str
    type: str
    va: int
    perm: int


@dataclass
class Module:
    name: str
    path: str | None
    base: int
    npages: int
    frames: int                                # first physical frame (contiguous)
    sections: dict[str, tuple[int, int]]       # name -> (va, size)
    symbols: dict[str, int]                    # defined global symbols
    functions: list[tuple[int, int, str]]      # (va, size, name), sorted, for oopses
    init: int | None
    exit: int | None
    params: list[Param]
    modinfo: dict[str, list[str]]
    builtin: bool = False
    state: str = "coming"
    ioremaps: list[int] = field(default_factory=list)
    #: What it exports to modules loaded after it (EXPORT_SYMBOL*), by name.
    exports: dict[str, KernelSymbol] = field(default_factory=dict)
    #: The modules whose exports it links against (lsmod's "Used by" of those).
    uses: tuple[str, ...] = ()

    @property
    def license(self) -> str:
        return (self.modinfo.get("license") or [""])[0]

    @property
    def size(self) -> int:
        return self.npages * PAGE_SIZE

    def contains(self, va: int) -> bool:
        return self.base <= va < self.base + self.size

    def symbolize(self, va: int) -> tuple[str, int, int] | None:
        """(function, offset, size) of the code at ``va``."""
        best = None
        for start, size, name in self.functions:
            if start <= va and (va < start + size or (size == 0 and best is None)):
                best = (name, va - start, size)
            if start > va:
                break
        return best


@dataclass
class CompileResult:
    obj: bytes
    warnings: str
    path: Path


def module_name(path: str | Path) -> str:
    """The kernel's module name for a file: its stem, '-' read as '_'."""
    name = Path(path).name
    for suffix in (".ko", ".o", ".c"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return name.replace("-", "_")


def bundled_drivers() -> list[str]:
    return sorted(p.stem for p in DRIVERS_DIR.glob("*.c"))


def resolve_target(target: str) -> tuple[Path, str]:
    """What ``insmod TARGET`` means: a .c or object file, or a bundled
    driver's name.  Returns (path, module name)."""
    path = Path(target)
    if path.is_file():
        return path.resolve(), module_name(path)
    if "/" not in target and not target.endswith((".c", ".o", ".ko")):
        bundled = DRIVERS_DIR / f"{target}.c"
        if bundled.is_file():
            return bundled, module_name(bundled)
    raise ModuleError(errno.ENOENT,
                      f"{target}: no such file, and no bundled driver of that name "
                      f"(bundled: {', '.join(bundled_drivers()) or 'none'})")


def default_cache_dir() -> Path:
    env = os.environ.get("FTRACE_MMIO_CACHE")
    base = Path(env) if env else Path(tempfile.gettempdir()) / f"ftrace-mmio-{os.getuid()}"
    return base / "modules"


def _gcc_env() -> dict[str, str]:
    # Plain ASCII quotes and English messages, whatever the user's locale.
    return {**os.environ, "LC_ALL": "C"}


@functools.cache
def gcc_identity() -> str:
    try:
        out = subprocess.run(["gcc", "-dumpfullversion", "-dumpmachine"], capture_output=True,
                             text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ModuleError(errno.ENOEXEC, f"cannot run gcc: {exc}") from None
    return out.stdout.strip()


class Compiler:
    """gcc with the kernel-module flags and an object cache."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()

    def _cache(self) -> Path:
        self.cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.cache_dir

    def compile_file(self, source: Path, name: str, extra: Sequence[str] = ()) -> CompileResult:
        # __FILE__ (BUG, WARN) relative to the driver's directory, as the
        # kernel build makes it relative to the source tree.
        flags = [*CFLAGS, *extra, f'-DKBUILD_MODNAME="{name}"', f'-DKBUILD_BASENAME="{name}"',
                 "-iquote", str(source.parent), f"-fmacro-prefix-map={source.parent}/="]
        pp = subprocess.run(["gcc", "-E", *flags, str(source)], capture_output=True, env=_gcc_env())
        if pp.returncode:
            raise ModuleError(errno.ENOEXEC, f"compiling {source} failed:\n{pp.stderr.decode(errors='replace')}")
        return self._compile_preprocessed(pp.stdout, name, flags)

    def compile_source(self, text: str, name: str, extra: Sequence[str] = ()) -> CompileResult:
        """Compile C source held in a string (it may #include our headers).
        The text is kept as ``src/<name>.c`` in the cache, a stable path, so
        the object cache hits next time."""
        src_dir = self._cache() / "src"
        src_dir.mkdir(exist_ok=True, mode=0o700)
        source = src_dir / f"{name}.c"
        if not source.is_file() or source.read_text() != text:
            tmp = source.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(text)
            os.replace(tmp, source)
        return self.compile_file(source, name, extra)

    def compile_text(self, text: str, name: str, extra: Sequence[str] = ()) -> CompileResult:
        """Compile self-contained C (no #include)."""
        flags = [*CFLAGS, *extra]
        return self._compile_preprocessed(text.encode(), name, flags)

    def _compile_preprocessed(self, pp: bytes, name: str, flags: list[str]) -> CompileResult:
        key = hashlib.sha256("\0".join([gcc_identity(), *flags]).encode() + b"\0" + pp).hexdigest()[:24]
        cache = self._cache()
        obj = cache / f"{name}-{key}.o"
        log = obj.with_suffix(".log")
        if obj.is_file():
            return CompileResult(obj.read_bytes(), log.read_text() if log.is_file() else "", obj)
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=f".{name}-", suffix=".o")
        os.close(fd)
        try:
            cc = subprocess.run(["gcc", "-c", "-x", "cpp-output", *flags, "-o", tmp, "-"],
                                input=pp, capture_output=True, env=_gcc_env())
            warnings = cc.stderr.decode(errors="replace")
            if cc.returncode:
                raise ModuleError(errno.ENOEXEC, f"compiling {name} failed:\n{warnings}")
            log.write_text(warnings)
            os.replace(tmp, obj)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return CompileResult(obj.read_bytes(), warnings, obj)


# --------------------------------------------------------------------------


def _kind(flags: int) -> str | None:
    SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4
    if not flags & SHF_ALLOC:
        return None
    if flags & SHF_EXECINSTR:
        return "text"
    return "rw" if flags & SHF_WRITE else "ro"


def parse_int_param(value: str, signed: bool, size: int, base: int = 0) -> int:
    """The kernel's kstrto*: optional sign, base 0 means 0x hex / 0 octal /
    decimal, base 16 takes an optional 0x, one trailing newline allowed.
    ValueError(errno) on failure."""
    if base not in (0, 8, 10, 16):
        raise ValueError(errno.EINVAL)
    s = value[:-1] if value.endswith("\n") else value
    neg = False
    if s.startswith("+"):
        s = s[1:]
    elif s.startswith("-") and signed:
        neg, s = True, s[1:]
    if base == 16 and s[:2].lower() == "0x" and len(s) > 2:
        s = s[2:]
    if base == 0:
        if s[:2].lower() == "0x" and len(s) > 2:
            base, s = 16, s[2:]
        elif s.startswith("0") and len(s) > 1:
            base, s = 8, s[1:]
        else:
            base = 10
    if not s or not all(c in "0123456789abcdef"[:base] for c in s.lower()):
        raise ValueError(errno.EINVAL)
    n = int(s, base)
    if neg:
        n = -n
    bits = 8 * size
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not lo <= n <= hi:
        raise ValueError(errno.ERANGE)
    return n


def parse_bool_param(value: str | None) -> bool:
    if value is None or value == "":
        return True                     # "flag" alone means set
    c = value[:1]
    if c in "yY1tT" or value.lower() == "on":
        return True
    if c in "nN0fF" or value.lower() == "off":
        return False
    raise ValueError(errno.EINVAL)


class Loader:
    """Places relocatable objects in the module area of ``mm``."""

    def __init__(self, mm: Mm) -> None:
        self.mm = mm

    def load(self, obj: bytes, name: str, resolve: Callable[[str], int | None],
             args: Sequence[str] = (), path: str | None = None,
             log: Callable[[str], None] = lambda s: None,
             module_export: Callable[[str], KernelSymbol | None] = lambda s: None,
             builtin: bool = False) -> Module:
        """``resolve`` finds the kernel's own symbols; ``module_export`` what
        loaded modules export (consulted second, as the kernel searches
        vmlinux before the modules).  ``builtin`` code is the kernel's own:
        it goes into the kernel image area, not the module area, so the
        kernel growing does not move where modules load (as vmlinux and
        modules are apart on Linux)."""
        try:
            elf = ELFFile(io.BytesIO(obj))
            if elf.elfclass != 64 or elf["e_machine"] != "EM_X86_64" or elf["e_type"] != "ET_REL":
                raise ModuleError(errno.ENOEXEC, f"{name}: not an x86-64 relocatable object (Invalid module format)")
            return self._load(elf, name, resolve, args, path, log, module_export,
                              self.mm.kernel_image if builtin else self.mm.modules)
        except ELFError as exc:
            raise ModuleError(errno.ENOEXEC, f"{name}: Invalid module format ({exc})") from None

    def _load(self, elf: ELFFile, name: str, resolve, args, path, log, module_export, area) -> Module:
        sections = list(elf.iter_sections())
        groups: dict[str, list[int]] = {"text": [], "ro": [], "rw": []}
        for idx, sec in enumerate(sections):
            kind = _kind(sec["sh_flags"])
            if kind is not None and sec["sh_size"]:
                groups[kind].append(idx)
        symtab = next((s for s in sections if isinstance(s, SymbolTableSection)), None)
        if symtab is None:
            raise ModuleError(errno.ENOEXEC, f"{name}: no symbol table (Invalid module format)")
        symbols = list(symtab.iter_symbols())

        # Layout: offsets within the area, groups page-aligned.
        offsets: dict[int, int] = {}
        group_ranges: dict[str, tuple[int, int]] = {}
        cursor = 0
        common: dict[int, int] = {}                      # symbol index -> offset
        for kind in ("text", "ro", "rw"):
            start = cursor
            for idx in groups[kind]:
                sec = sections[idx]
                align = max(1, sec["sh_addralign"])
                cursor = (cursor + align - 1) // align * align
                offsets[idx] = cursor
                cursor += sec["sh_size"]
            if kind == "rw":
                for si, sym in enumerate(symbols):
                    if sym["st_shndx"] == "SHN_COMMON":
                        align = max(1, sym["st_value"])
                        cursor = (cursor + align - 1) // align * align
                        common[si] = cursor
                        cursor += sym["st_size"]
            cursor = page_align(cursor)
            group_ranges[kind] = (start, cursor)
        total = max(cursor, PAGE_SIZE)
        npages = total // PAGE_SIZE

        base = area.alloc(total, PAGE_SIZE)
        if base is None:
            raise ModuleError(errno.ENOMEM, f"{name}: module area full")
        image = bytearray(total)
        for idx, off in offsets.items():
            sec = sections[idx]
            if sec["sh_type"] != "SHT_NOBITS":
                data = sec.data()
                image[off:off + len(data)] = data

        # Symbols.
        def sym_value(si: int) -> int | None:
            sym = symbols[si]
            shndx = sym["st_shndx"]
            if si in common:
                return base + common[si]
            if shndx == "SHN_UNDEF":
                return None
            if shndx == "SHN_ABS":
                return sym["st_value"]
            if isinstance(shndx, int) and shndx in offsets:
                return base + offsets[shndx] + sym["st_value"]
            return None

        defined: dict[str, int] = {}
        functions: list[tuple[int, int, str]] = []
        for si, sym in enumerate(symbols):
            value = sym_value(si)
            if value is None or not sym.name:
                continue
            if sym["st_info"]["bind"] in ("STB_GLOBAL", "STB_WEAK"):
                defined[sym.name] = value
            if sym["st_info"]["type"] == "STT_FUNC":
                functions.append((value, sym["st_size"], sym.name))
        functions.sort()

        modinfo = self._modinfo(sections)
        gpl_ok = (modinfo.get("license") or [""])[0] in GPL_COMPATIBLE
        imports = set(modinfo.get("import_ns", ()))
        resolved: dict[int, int] = {}
        unknown: list[str] = []
        uses: dict[str, None] = {}
        bad_ns: list[KernelSymbol] = []
        for si, sym in enumerate(symbols):
            if si == 0 or sym["st_shndx"] != "SHN_UNDEF":
                continue
            target = defined.get(sym.name)
            if target is None:
                target = resolve(sym.name)
            if target is None:
                ks = module_export(sym.name)
                # A GPL-only export is invisible to a module under another
                # licence: the kernel reports it as unknown.
                if ks is not None and (gpl_ok or not ks.gpl_only):
                    if ks.namespace and ks.namespace not in imports:
                        bad_ns.append(ks)
                    target = ks.value
                    uses[ks.owner] = None
            if target is None:
                if sym["st_info"]["bind"] == "STB_WEAK":
                    target = 0
                else:
                    unknown.append(sym.name)
                    continue
            resolved[si] = target

        try:
            if unknown:
                for sym_name in unknown:
                    log(f"{name}: Unknown symbol {sym_name} (err -2)")
                raise ModuleError(errno.ENOENT, f"Unknown symbol in module: {', '.join(unknown)}")
            if bad_ns:
                for ks in bad_ns:
                    log(f"{name}: module uses symbol ({ks.name}) from namespace {ks.namespace}, "
                        "but does not import it.")
                raise ModuleError(errno.EINVAL, f"{name}: uses symbol {bad_ns[0].name} from namespace "
                                  f"{bad_ns[0].namespace} without MODULE_IMPORT_NS({bad_ns[0].namespace})")
            self._relocate(sections, offsets, symbols, sym_value, resolved, base, image, name, log)
            exports = self._exports(sections, offsets, base, image, name)
            for ks in exports.values():
                owner = "kernel" if resolve(ks.name) is not None else \
                    getattr(module_export(ks.name), "owner", None)
                if owner is not None:
                    log(f"{name}: exports duplicate symbol {ks.name} (owned by {owner})")
                    raise ModuleError(errno.ENOEXEC, f"{name}: exports duplicate symbol {ks.name} "
                                      f"(owned by {owner})")
            params = self._params(sections, offsets, base, image, name)
            self._set_params(params, args, base, image, name, log)
        except BaseException:
            area.free(base)
            raise

        # Memory: one contiguous run of frames, mapped with per-group rights.
        try:
            frames = self.mm.alloc_frames(npages)
        except MemoryError:
            area.free(base)
            raise ModuleError(errno.ENOMEM, f"{name}: out of memory for {npages} pages") from None
        self.mm.cpu.write_phys(frames, bytes(image))
        for kind, (start, end) in group_ranges.items():
            for off in range(start, end, PAGE_SIZE):
                self.mm.map_page(base + off, frames + off, writable=(kind == "rw"),
                                 executable=(kind == "text"))
        self.mm.cpu.flush_code_cache()

        sec_map = {sections[i].name: (base + off, sections[i]["sh_size"]) for i, off in offsets.items()}
        return Module(name=name, path=path, base=base, npages=npages, frames=frames, sections=sec_map,
                      symbols=defined, functions=functions, init=defined.get("init_module"),
                      exit=defined.get("cleanup_module"), params=params, modinfo=modinfo,
                      exports=exports, uses=tuple(uses))

    def _relocate(self, sections, offsets, symbols, sym_value, resolved, base, image, name, log) -> None:
        for rsec in sections:
            if not isinstance(rsec, RelocationSection):
                continue
            target_idx = rsec["sh_info"]
            if target_idx not in offsets:
                continue                                  # debug info and the like
            if not rsec.is_RELA():
                raise ModuleError(errno.ENOEXEC, f"{name}: REL relocations are not used on x86-64")
            sec_off = offsets[target_idx]
            for rel in rsec.iter_relocations():
                rtype = rel["r_info_type"]
                si = rel["r_info_sym"]
                if rtype == R_X86_64_NONE:
                    continue
                s = resolved[si] if si in resolved else sym_value(si)
                if s is None:
                    s = 0
                a = rel["r_addend"]
                off = sec_off + rel["r_offset"]
                p = base + off
                if rtype == R_X86_64_64:
                    struct.pack_into("<Q", image, off, (s + a) & (2**64 - 1))
                    continue
                if rtype in (R_X86_64_PC32, R_X86_64_PLT32):
                    value, fmt = s + a - p, "<i"
                elif rtype == R_X86_64_32S:
                    value, fmt = _signed64(s + a), "<i"
                elif rtype == R_X86_64_32:
                    value, fmt = (s + a) & (2**64 - 1), "<I"
                elif rtype == R_X86_64_PC64:
                    struct.pack_into("<Q", image, off, (s + a - p) & (2**64 - 1))
                    continue
                else:
                    log(f"{name}: Unknown rela relocation: {rtype}")
                    raise ModuleError(errno.ENOEXEC, f"{name}: unsupported relocation type {rtype} "
                                      f"in {sections[target_idx].name}")
                try:
                    struct.pack_into(fmt, image, off, value)
                except struct.error:
                    log(f"{name}: overflow in relocation type {rtype} val {s + a:x}")
                    raise ModuleError(errno.ENOEXEC, f"{name}: {RELOC_NAMES.get(rtype, rtype)} relocation "
                                      f"overflow in {sections[target_idx].name} (value {s + a:#x})") from None

    @staticmethod
    def _exports(sections, offsets, base, image, name) -> dict[str, KernelSymbol]:
        """The ``struct kernel_symbol`` entries, read after relocation."""
        out: dict[str, KernelSymbol] = {}
        for idx, sec in enumerate(sections):
            gpl = KSYMTAB_SECTIONS.get(sec.name)
            if gpl is None or idx not in offsets:
                continue
            off = offsets[idx]
            for k in range(sec["sh_size"] // KSYMTAB_ENTRY.size):
                value, name_va, ns_va = KSYMTAB_ENTRY.unpack_from(image, off + k * KSYMTAB_ENTRY.size)
                sym = _cstring(image, name_va - base).decode(errors="replace")
                ns = _cstring(image, ns_va - base).decode(errors="replace") if ns_va else None
                out[sym] = KernelSymbol(sym, value, gpl, ns or None, name)
        return out

    def _params(self, sections, offsets, base, image, name) -> list[Param]:
        out = []
        for idx, sec in enumerate(sections):
            if sec.name != "__param" or idx not in offsets:
                continue
            off = offsets[idx]
            for k in range(sec["sh_size"] // PARAM_ENTRY.size):
                name_va, arg_va, ptype, perm = PARAM_ENTRY.unpack_from(image, off + k * PARAM_ENTRY.size)
                pname = _cstring(image, name_va - base).decode(errors="replace")
                if ptype not in PARAM_TYPES:
                    raise ModuleError(errno.ENOEXEC, f"{name}: parameter {pname} has unknown type {ptype}")
                out.append(Param(pname, PARAM_TYPES[ptype], arg_va, perm))
        return out

    @staticmethod
    def _modinfo(sections) -> dict[str, list[str]]:
        info: dict[str, list[str]] = {}
        for sec in sections:
            if sec.name == ".modinfo":
                for item in sec.data().split(b"\0"):
                    if b"=" in item:
                        k, v = item.decode(errors="replace").split("=", 1)
                        info.setdefault(k, []).append(v)
        return info

    def _set_params(self, params: list[Param], args: Sequence[str], base: int, image: bytearray,
                    name: str, log) -> None:
        by_name = {p.name.replace("-", "_"): p for p in params}
        for arg in args:
            key, eq, value = arg.partition("=")
            p = by_name.get(key.replace("-", "_"))
            if p is None:
                log(f"{name}: unknown parameter '{key}' ignored")
                continue
            off = p.va - base
            try:
                if p.type in ("bool", "invbool"):
                    flag = parse_bool_param(value if eq else None)
                    image[off] = int(flag != (p.type == "invbool"))
                elif p.type == "charp":
                    if not eq:
                        raise ValueError(errno.EINVAL)
                    raw = value.encode()
                    if len(raw) > CHARP_MAX:
                        log(f"{p.name}: string parameter too long")
                        raise ValueError(errno.ENOSPC)
                    ptr = self.mm.kmalloc(len(raw) + 1)
                    if not ptr:
                        raise ValueError(errno.ENOMEM)
                    self.mm.write(ptr, raw + b"\0")
                    struct.pack_into("<Q", image, off, ptr)
                else:
                    if not eq:
                        raise ValueError(errno.EINVAL)
                    size, signed = _INT_PARAMS[p.type]
                    n = parse_int_param(value, signed, size)
                    image[off:off + size] = (n & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
            except ValueError as exc:
                err = exc.args[0] if exc.args and isinstance(exc.args[0], int) else errno.EINVAL
                log(f"{name}: '{value}' invalid for parameter '{key}'")
                raise ModuleError(err, f"'{value}' invalid for parameter '{key}' ({p.type})") from None

    def unload(self, module: Module) -> None:
        self.mm.unmap_pages(module.base, module.npages)
        self.mm.free_frames(module.frames)
        self.mm.modules.free(module.base)
        self.mm.cpu.flush_code_cache()


def _signed64(v: int) -> int:
    v &= 2**64 - 1
    return v - 2**64 if v >> 63 else v


def _cstring(image: bytearray, off: int) -> bytes:
    if not 0 <= off < len(image):
        return b"?"
    end = image.find(b"\0", off)
    return bytes(image[off:end if end >= 0 else len(image)])
