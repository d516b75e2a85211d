"""Machine files: what an emulated machine is made of, as data.

A :class:`MachineConfig` says which PCI devices sit where (model, slot, BAR
addresses and sizes, ROM, IRQ), how many CPUs the trace array has, the
buffer size and clock it boots with, and mmiotrace's boot parameters. The
built-in machine is :func:`default_config`; a TOML file describes another
(:func:`load_machine_file`, format in docs/guide.md "Machine files"), and
``ftrace-mmio machine --show-default`` prints the default in that format so
users start from something that works.

A file is checked completely when it is loaded, devices included (their
models are instantiated on a scratch bus), so a mistake is reported before
anything is mounted, as ``FILE:LINE: key: what is wrong; what to do``.
tomllib gives the line of a syntax error but not of a value, so
:class:`_KeyLines` finds the line each key was written on.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from ..mmiotrace.decode import DecoderMode
from ..mmiotrace.mmio_mod import ENGINES, MmiotraceParams
from ..trace.array import CLOCK_NAMES, MAX_PAGES_PER_CPU, TRACE_BUF_SIZE_DEFAULT
from .devices import ModelLoadError, model_class
from .devices.base import DeviceModel
from .pci import DEFAULT_MACHINE, PciBus, parse_slot, slot_name

if TYPE_CHECKING:
    from ..trace.clock import TimeBase
    from .machine import Machine

#: The kernel's trace_buf_size default: 1408 KiB per CPU once the buffer is expanded.
DEFAULT_BUFFER_SIZE_KB = TRACE_BUF_SIZE_DEFAULT // 1024
MAX_CPUS = 256
MAX_RAM_MB = 4096
DEFAULT_RAM_MB = 128
#: Wall-clock seconds one call into module code may take (docs/kernel/time.md).
DEFAULT_RUN_BUDGET_S = 60.0
MAX_RUN_BUDGET_S = 7 * 24 * 3600.0

_MACHINE_KEYS = ("cpus", "buffer_size_kb", "clock", "ram_mb", "run_budget_s")
_MMIOTRACE_KEYS = ("filter_offset", "nommiotrace", "trace_pc", "decoder", "engine")
_DEVICE_KEYS = ("model", "slot", "irq", "rom", "bar0", "bar1", "bar2", "bar3", "bar4", "bar5")
_BAR_KEYS = ("address", "size")


class MachineFileError(ValueError):
    """A machine file that cannot be used; the message names the file, line and key."""

    def __init__(self, source: str, line: int | None, key: str, problem: str) -> None:
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")
        self.source = source
        self.line = line
        self.key = key
        self.problem = problem


@dataclass(frozen=True)
class DeviceConfig:
    """One PCI function: a model at a slot. Anything left None is assigned by the bus."""

    #: A bundled model's name (nvlike, testmmio, uart16550) or the path of a .py model file.
    model: str
    slot: str | None = None
    irq: int | None = None
    #: BAR index -> physical (or I/O port) address.
    addresses: Mapping[int, int] = field(default_factory=lambda: MappingProxyType({}))
    #: BAR index -> size, where it differs from what the model declares.
    sizes: Mapping[int, int] = field(default_factory=lambda: MappingProxyType({}))
    #: Expansion ROM address; None lets the bus choose (for models with a ROM).
    rom: int | None = None
    #: The boot VGA device's ROM resource points at the BIOS copy at 0xc0000.
    rom_shadow: bool = False

    def model_class(self) -> type[DeviceModel]:
        """The model class, with BAR sizes changed where the file asks for it."""
        cls = model_class(self.model)
        if not self.sizes:
            return cls
        declared = {b.index: b for b in cls.bars}
        bars = tuple(dataclasses.replace(b, size=self.sizes.get(b.index, b.size)) for b in cls.bars)
        unknown = sorted(set(self.sizes) - set(declared))
        if unknown:
            raise ValueError(f"{cls.name} has no BAR{unknown[0]}")
        resized = type(cls.__name__, (cls,), {"bars": bars, "__module__": cls.__module__})
        resized.validate()
        return resized

    def create(self) -> DeviceModel:
        cls = self.model_class()
        try:
            return cls()
        except ValueError as exc:
            # DeviceModel.set_region refuses a region whose size is not its BAR's:
            # this model builds that BAR's region at a fixed size (its registers need it).
            m = re.search(r"BAR(\d) is 0x[0-9a-f]+ bytes, region is (0x[0-9a-f]+)", str(exc))
            if m and int(m.group(1)) in self.sizes:
                fixed = int(m.group(2), 16)
                raise ValueError(f"{cls.name} BAR{m.group(1)} has a fixed size of {fixed:#x} bytes "
                                 f"(its registers need it); remove size or set it to {fixed:#x}") from None
            raise


@dataclass(frozen=True)
class MachineConfig:
    """Everything that makes one emulated machine and its trace array."""

    devices: tuple[DeviceConfig, ...] = ()
    cpus: int = 2
    buffer_size_kb: int = DEFAULT_BUFFER_SIZE_KB
    clock: str = "local"
    ram_mb: int = DEFAULT_RAM_MB
    run_budget_s: float = DEFAULT_RUN_BUDGET_S
    mmiotrace: MmiotraceParams = MmiotraceParams()
    #: Where it came from, for messages: a file path, or "<default>".
    source: str = "<default>"

    def replace(self, **changes: Any) -> MachineConfig:
        """A copy with some fields changed (None values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def build_bus(self, time_base: TimeBase | None = None) -> PciBus:
        """The PCI bus with every device plugged in, in file order."""
        bus = PciBus(time_base)
        for dev in self.devices:
            bus.add(dev.create(), dev.slot, dict(dev.addresses), dev.irq, dev.rom, dev.rom_shadow)
        return bus

    def build_machine(self, time_base: TimeBase, **kwargs: Any) -> Machine:
        from .machine import Machine

        kwargs.setdefault("run_budget_s", self.run_budget_s)
        return Machine(self.build_bus(time_base), time_base, ram_mb=self.ram_mb, **kwargs)

    def to_toml(self, header: str = "") -> str:
        """This machine as a machine file (what ``load_machine_file`` reads back)."""
        p = self.mmiotrace
        out = [header] if header else []
        out += [
            "[machine]",
            "# CPUs of the trace array: #P: in trace, per_cpu/cpuN",
            f"cpus = {self.cpus}",
            "# per-CPU ring buffer size once expanded (the kernel's default is 1408)",
            f"buffer_size_kb = {self.buffer_size_kb}",
            f"# trace_clock at boot: {', '.join(CLOCK_NAMES)}",
            f'clock = "{self.clock}"',
            "# guest RAM in MiB",
            f"ram_mb = {self.ram_mb}",
            "# wall-clock seconds a call into a module (init, exit) may run before it is stopped",
            f"run_budget_s = {self.run_budget_s:g}",
            "",
            "# Boot parameters, like the kernel's mmiotrace.X= (fixed for the machine's life)",
            "[mmiotrace]",
            "# trace only ioremaps of exactly this physical address (0: all of them)",
            f"filter_offset = {p.filter_offset:#x}",
            "# true: log MAP and UNMAP only, arm nothing",
            f"nommiotrace = {str(p.nommiotrace).lower()}",
            "# true: record the faulting instruction's address in R/W/UNKNOWN lines",
            f"trace_pc = {str(p.trace_pc).lower()}",
            "# full (every access as it really is) or pf_in (the kernel's decoder, quirks included)",
            f'decoder = "{p.decoder}"',
            "# faithful (page faults and single steps, as the kernel) or fast (at the device; same output)",
            f'engine = "{p.engine}"',
        ]
        for dev in self.devices:
            out += ["", "[[device]]", f'model = "{_toml_string(dev.model)}"']
            if dev.slot is not None:
                out.append(f'slot = "{dev.slot}"')
            if dev.irq is not None:
                out.append(f"irq = {dev.irq:#x}")
            for index in sorted(set(dev.addresses) | set(dev.sizes)):
                address, size = dev.addresses.get(index), dev.sizes.get(index)
                if size is None:
                    out.append(f"bar{index} = {address:#x}")
                else:
                    parts = ([f"address = {address:#x}"] if address is not None else []) + [f"size = {size:#x}"]
                    out.append(f"bar{index} = {{ {', '.join(parts)} }}")
            if dev.rom_shadow:
                out.append('rom = "shadow"')
            elif dev.rom is not None:
                out.append(f"rom = {dev.rom:#x}")
        return "\n".join(out) + "\n"


def _toml_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def default_config() -> MachineConfig:
    """The built-in machine: nvlike, testmmio and uart16550 at 00:02.0-00:04.0,
    2 CPUs, the kernel's default buffer size, the local clock."""
    devices = tuple(
        DeviceConfig(model=plan.model, slot=plan.slot, irq=plan.irq,
                     addresses=MappingProxyType(dict(plan.bars)), rom=plan.rom)
        for plan in DEFAULT_MACHINE)
    return MachineConfig(devices=devices)


DEFAULT_HEADER = """\
# An ftrace-mmio machine file: the built-in default machine.
# Copy it, change it, and use it with:
#   ftrace-mmio mount --machine my-machine.toml /tmp/t
#   ftrace-mmio run --machine my-machine.toml nvlike
# Every key is optional except each device's model; what a device leaves out
# (slot, irq, barN, rom) the bus assigns. barN = ADDRESS, or
# barN = { address = ADDRESS, size = SIZE } where the model allows another size.
"""


# --- reading a file ---------------------------------------------------------------------------


class _KeyLines:
    """The line each key of a TOML document was written on.

    Enough TOML to place keys: ``[table]``, ``[[array]]`` (elements counted),
    ``key = value`` and dotted keys, inline tables on one line. Keys are
    tuples like ``("device", 1, "bar0", "size")``. Multi-line strings and
    arrays are skipped over.
    """

    _HEADER = re.compile(r"\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
    _KEY = re.compile(r'\s*((?:[A-Za-z0-9_-]+|"[^"]*"|\'[^\']*\')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|\'[^\']*\'))*)\s*=')
    _INNER = re.compile(r'([{,])\s*([A-Za-z0-9_-]+|"[^"]*")\s*=')

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple, int] = {}
        counts: dict[tuple, int] = {}
        prefix: tuple = ()
        pending = ""          # the closing quote of a multi-line string we are inside
        depth = 0             # brackets of a multi-line array still open
        for number, line in enumerate(text.splitlines(), 1):
            if pending:
                if pending in line:
                    pending = ""
                continue
            if depth > 0:
                depth += line.count("[") - line.count("]")
                continue
            head = self._HEADER.match(line)
            if head and not self._KEY.match(line):
                parts = self._split(head.group(2))
                path = self._resolve(parts, counts)
                if head.group(1) == "[[":
                    counts[tuple(parts)] = counts.get(tuple(parts), 0) + 1
                    path = path + (counts[tuple(parts)] - 1,)
                prefix = path
                self.lines.setdefault(prefix, number)
                continue
            key = self._KEY.match(line)
            if not key:
                continue
            path = prefix + tuple(self._split(key.group(1)))
            self.lines.setdefault(path, number)
            value = line[key.end():].strip()
            for quote in ('"""', "'''"):
                if value.startswith(quote) and value.count(quote) == 1:
                    pending = quote
            if value.startswith("{"):
                for inner in self._INNER.finditer(value):
                    self.lines.setdefault(path + (inner.group(2).strip("\"'"),), number)
            elif value.startswith("["):
                depth = value.count("[") - value.count("]")

    @staticmethod
    def _split(dotted: str) -> list[str]:
        return [p.strip().strip("\"'") for p in re.findall(r'"[^"]*"|\'[^\']*\'|[^.]+', dotted)]

    @staticmethod
    def _resolve(parts: list[str], counts: dict[tuple, int]) -> tuple:
        # [device.bar0] after [[device]] means the bar0 of the latest device.
        path: tuple = ()
        for i, part in enumerate(parts):
            path += (part,)
            n = counts.get(tuple(parts[:i + 1]))
            if n and i < len(parts) - 1:
                path += (n - 1,)
        return path

    def line(self, path: tuple) -> int | None:
        """The line of ``path``, or of the nearest enclosing key that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None


def _dotted(path: tuple) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


class _Reader:
    """Turns a parsed document into a MachineConfig, one checked key at a time."""

    def __init__(self, text: str, source: str, base_dir: Path) -> None:
        self.source = source
        self.base_dir = base_dir
        self.keys = _KeyLines(text)

    def error(self, path: tuple, problem: str) -> MachineFileError:
        return MachineFileError(self.source, self.keys.line(path), _dotted(path), problem)

    def table(self, doc: Mapping[str, Any], path: tuple, allowed: Iterable[str]) -> Mapping[str, Any]:
        value = doc
        if not isinstance(value, dict):
            raise self.error(path, f"expected a table, got {_kind(value)}")
        allowed = tuple(allowed)
        for key in value:
            if key not in allowed:
                hint = _closest(key, allowed)
                raise self.error(path + (key,), f"unknown key{hint}; known keys here: {', '.join(allowed)}")
        return value

    def integer(self, value: Any, path: tuple, low: int, high: int, what: str = "") -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(path, f"expected an integer{what}, got {_kind(value)} {value!r}")
        if not low <= value <= high:
            raise self.error(path, f"{value:#x} is outside {low:#x}..{high:#x}{what}"
                             if high > 0xffff else f"{value} is outside {low}..{high}{what}")
        return value

    def seconds(self, value: Any, path: tuple, high: float) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(path, f"expected a number of seconds, got {_kind(value)} {value!r}")
        if not 0 < value <= high:
            raise self.error(path, f"{value:g} is outside 0 (exclusive)..{high:g} seconds")
        return float(value)

    def boolean(self, value: Any, path: tuple) -> bool:
        if not isinstance(value, bool):
            raise self.error(path, f"expected true or false, got {_kind(value)} {value!r}")
        return value

    def string(self, value: Any, path: tuple) -> str:
        if not isinstance(value, str):
            raise self.error(path, f"expected a string, got {_kind(value)} {value!r}")
        return value

    def read(self, doc: dict[str, Any]) -> MachineConfig:
        self.table(doc, (), ("machine", "mmiotrace", "device"))
        config = MachineConfig(source=self.source)
        machine = doc.get("machine", {})
        self.table(machine, ("machine",), _MACHINE_KEYS)
        changes: dict[str, Any] = {}
        if "cpus" in machine:
            changes["cpus"] = self.integer(machine["cpus"], ("machine", "cpus"), 1, MAX_CPUS)
        if "buffer_size_kb" in machine:
            changes["buffer_size_kb"] = self.integer(machine["buffer_size_kb"], ("machine", "buffer_size_kb"),
                                                     1, MAX_PAGES_PER_CPU * 4)
        if "clock" in machine:
            clock = self.string(machine["clock"], ("machine", "clock"))
            if clock not in CLOCK_NAMES:
                raise self.error(("machine", "clock"), f"unknown trace clock {clock!r}; "
                                 f"one of {', '.join(CLOCK_NAMES)}")
            changes["clock"] = clock
        if "ram_mb" in machine:
            changes["ram_mb"] = self.integer(machine["ram_mb"], ("machine", "ram_mb"), 16, MAX_RAM_MB)
        if "run_budget_s" in machine:
            changes["run_budget_s"] = self.seconds(machine["run_budget_s"], ("machine", "run_budget_s"),
                                                   MAX_RUN_BUDGET_S)
        params = doc.get("mmiotrace", {})
        self.table(params, ("mmiotrace",), _MMIOTRACE_KEYS)
        p = MmiotraceParams()
        if "filter_offset" in params:
            p = dataclasses.replace(p, filter_offset=self.integer(
                params["filter_offset"], ("mmiotrace", "filter_offset"), 0, (1 << 64) - 1, " (a physical address)"))
        for flag in ("nommiotrace", "trace_pc"):
            if flag in params:
                p = dataclasses.replace(p, **{flag: self.boolean(params[flag], ("mmiotrace", flag))})
        if "decoder" in params:
            decoder = self.string(params["decoder"], ("mmiotrace", "decoder"))
            modes = [m.value for m in DecoderMode]
            if decoder not in modes:
                raise self.error(("mmiotrace", "decoder"), f"unknown decoder {decoder!r}; one of {', '.join(modes)}")
            p = dataclasses.replace(p, decoder=decoder)
        if "engine" in params:
            engine = self.string(params["engine"], ("mmiotrace", "engine"))
            if engine not in ENGINES:
                raise self.error(("mmiotrace", "engine"), f"unknown engine {engine!r}; one of {', '.join(ENGINES)}")
            p = dataclasses.replace(p, engine=engine)
        changes["mmiotrace"] = p
        devices = doc.get("device", [])
        if not isinstance(devices, list):
            raise self.error(("device",), "write each device as its own [[device]] table")
        changes["devices"] = tuple(self.device(d, ("device", i)) for i, d in enumerate(devices))
        config = config.replace(**changes)
        self.check_bus(config)
        return config

    def device(self, table: Any, path: tuple) -> DeviceConfig:
        self.table(table, path, _DEVICE_KEYS)
        if "model" not in table:
            raise self.error(path, "no model: say which device this is, e.g. model = \"nvlike\" "
                                   "or model = \"./mydev.py\"")
        model = self.string(table["model"], path + ("model",))
        if "/" in model or model.endswith(".py"):
            # A user's model file is found next to the machine file, wherever we are run from.
            model = str((self.base_dir / model).resolve())
        try:
            cls = model_class(model)
        except ModelLoadError as exc:
            raise self.error(path + ("model",), str(exc)) from None
        slot = None
        if "slot" in table:
            slot = self.string(table["slot"], path + ("slot",))
            try:
                slot = slot_name(*parse_slot(slot))
            except ValueError as exc:
                raise self.error(path + ("slot",), f"{exc}, e.g. \"00:05.0\"") from None
        irq = self.integer(table["irq"], path + ("irq",), 0, 0xff) if "irq" in table else None
        addresses: dict[int, int] = {}
        sizes: dict[int, int] = {}
        declared = {b.index: b for b in cls.bars}
        for index in range(6):
            key = f"bar{index}"
            if key not in table:
                continue
            if index not in declared:
                have = ", ".join(f"bar{i}" for i in sorted(declared)) or "none"
                raise self.error(path + (key,), f"{cls.name} has no BAR{index} (its BARs: {have})")
            value = table[key]
            if isinstance(value, dict):
                self.table(value, path + (key,), _BAR_KEYS)
                if "address" in value:
                    addresses[index] = self.integer(value["address"], path + (key, "address"), 1, (1 << 64) - 1)
                if "size" in value:
                    size = self.integer(value["size"], path + (key, "size"), 1, (1 << 64) - 1)
                    if size != declared[index].size:
                        sizes[index] = size
            else:
                addresses[index] = self.integer(value, path + (key,), 1, (1 << 64) - 1,
                                                " (an address, or { address = ..., size = ... })")
        rom: int | None = None
        rom_shadow = False
        if "rom" in table:
            value = table["rom"]
            if value == "shadow":
                rom_shadow = True
            elif isinstance(value, int) and not isinstance(value, bool):
                rom = self.integer(value, path + ("rom",), 1, (1 << 32) - 1)
            else:
                raise self.error(path + ("rom",), f'expected an address or "shadow", got {value!r}')
            if not cls.rom_size and not rom_shadow:
                raise self.error(path + ("rom",), f"{cls.name} has no expansion ROM")
        return DeviceConfig(model=model, slot=slot, irq=irq, addresses=MappingProxyType(addresses),
                            sizes=MappingProxyType(sizes), rom=rom, rom_shadow=rom_shadow)

    def check_bus(self, config: MachineConfig) -> None:
        """Plug every device into a scratch bus; a refusal names the key it is about."""
        bus = PciBus(None)
        # The bus keeps slot order; messages use the file's order.
        file_index: dict[int, int] = {}
        for i, dev in enumerate(config.devices):
            path = ("device", i)
            try:
                model = dev.create()
            except (ValueError, ModelLoadError) as exc:
                where = (f"bar{min(dev.sizes)}", "size") if dev.sizes else ("model",)
                raise self.error(path + where, str(exc)) from None
            if dev.slot is not None and any(slot_name(*d.slot) == dev.slot for d in bus.devices):
                other = next(d for d in bus.devices if slot_name(*d.slot) == dev.slot)
                raise self.error(path + ("slot",), f"slot {dev.slot} is taken by {other.model.name} "
                                 f"({_dotted(('device', file_index[id(other)]))}); pick a free one or "
                                 "leave slot out")
            for index, start in dev.addresses.items():
                size = model.bar(index).size
                clash = _clash(bus, start, start + size - 1, model.bar(index).is_io)
                if clash:
                    raise self.error(path + (f"bar{index}",),
                                     f"{start:#x}-{start + size - 1:#x} overlaps {clash}; "
                                     "pick a free address aligned to the BAR's size, or leave it out")
            try:
                added = bus.add(model, dev.slot, dict(dev.addresses), dev.irq, dev.rom, dev.rom_shadow)
            except ValueError as exc:
                raise self.error(path + (_key_for(str(exc), dev),), str(exc)) from None
            file_index[id(added)] = i


def _clash(bus: PciBus, start: int, end: int, io: bool) -> str:
    for d in bus.devices:
        for i, r in enumerate(d.resources):
            if r.end and bool(r.flags & 0x100) == io and start <= r.end and r.start <= end:
                what = "the ROM" if i == 6 else f"BAR{i}"
                return f"{what} of {d.model.name} at {d.name} ({r.start:#x}-{r.end:#x})"
    return ""


def _key_for(message: str, dev: DeviceConfig) -> str:
    m = re.search(r"\bBAR(\d)\b", message)
    if m and int(m.group(1)) in dev.addresses:
        return f"bar{m.group(1)}"
    if "ROM" in message:
        return "rom"
    if "irq" in message:
        return "irq"
    if "slot" in message:
        return "slot"
    return "model"


def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "an array",
            dict: "a table"}.get(type(value), type(value).__name__)


def _closest(key: str, allowed: Iterable[str]) -> str:
    import difflib

    near = difflib.get_close_matches(key, list(allowed), n=1)
    return f" (did you mean {near[0]!r}?)" if near else ""


def parse_machine_text(text: str, source: str = "<string>", base_dir: str | Path = ".") -> MachineConfig:
    """A machine described in TOML text; relative model paths are taken from ``base_dir``."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line = int(m.group(1)) if m else None
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise MachineFileError(source, line, "", f"not valid TOML: {reason} "
                               f"(column {m.group(2) if m else '?'})") from None
    return _Reader(text, source, Path(base_dir)).read(doc)


# A machine file describes a handful of devices; anything this large is a
# mistake (a wrong path, a dump given as --machine), refused before reading it.
MAX_MACHINE_FILE_BYTES = 1 << 20


def load_machine_file(path: str | Path) -> MachineConfig:
    """Read and check a machine file. MachineFileError says where it is wrong."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_MACHINE_FILE_BYTES:
            raise MachineFileError(str(path), None, "", f"too large for a machine file ({size} bytes; "
                                   f"at most {MAX_MACHINE_FILE_BYTES >> 10} KiB)")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MachineFileError(str(path), None, "", f"cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise MachineFileError(str(path), None, "", f"not UTF-8 text ({exc.reason})") from None
    return parse_machine_text(text, str(path), path.resolve().parent)
