"""Registers declared as data: bitfields, register maps, and the state they back.

The declarations follow the style of the Asahi Linux m1n1 proxy client: one
class per register layout whose upper-case attributes are its bitfields, and
one class per register block whose upper-case attributes place registers at
offsets::

    class R_PMC_ENABLE(Register32):
        PFIFO  = 8                  # one bit
        PGRAPH = 12
        LEVEL  = 23, 20             # msb, lsb
        MODE   = 25, 24, E_MODE     # msb, lsb, enum (IntEnum or {value: name})
        ERR    = Field(31, access=W1C)   # a bit whose access differs from the register's

    class NvRegs(RegMap):
        PMC_BOOT_0 = 0x000000, R_PMC_BOOT_0, RO, 0x0e4000a1   # offset, layout, access, reset
        PMC_ENABLE = 0x000200, R_PMC_ENABLE                   # rw, reset 0
        SCRATCH    = irange(0x1400, 16, 4), Register32        # an array of 16 registers
        PRAMIN     = Window(0x700000, 0x100000)               # a named span, no registers

Everything here is pure data and arithmetic: the trace annotator uses a map to
name offsets and decode values without any emulator (``NvRegs.decode(0x200,
0x100)`` gives ``"PMC_ENABLE = 0x100 (PFIFO=1, PGRAPH=0, ...)"``), and device
models use :class:`RegisterFile` to keep register state with the access rules
(rw/ro/wo/w1c/rc) and their own side-effect hooks.
"""

from __future__ import annotations

import bisect
import collections
import enum
from dataclasses import dataclass, field, replace
from typing import Any, Callable, ClassVar, Iterator, Mapping, NamedTuple, Protocol

__all__ = [
    "Unclaimed", "Access", "RW", "RO", "WO", "W1C", "RC",
    "Field", "Register", "Register8", "Register16", "Register32", "Register64",
    "RegDef", "Window", "Hit", "RegMap", "RegisterFile", "irange", "reg",
]


class Access(enum.StrEnum):
    """How the CPU's reads and writes act on a register's bits."""

    RW = "rw"    # read/write storage
    RO = "ro"    # read-only: writes are ignored
    WO = "wo"    # write-only: the value is kept for the device, reads return 0
    W1C = "w1c"  # write 1 to clear: writing a 1 clears that bit, 0 leaves it
    RC = "rc"    # read to clear: a read returns the bits, then clears them

    @property
    def readable(self) -> bool:
        return self is not Access.WO

    @property
    def writable(self) -> bool:
        return self in (Access.RW, Access.WO, Access.W1C)


RW, RO, WO, W1C, RC = Access.RW, Access.RO, Access.WO, Access.W1C, Access.RC


def _access(value: Access | str) -> Access:
    try:
        return Access(value)
    except ValueError:
        raise ValueError(f"unknown access {value!r}: use one of rw, ro, wo, w1c, rc") from None


def _mask(width_bytes: int) -> int:
    return (1 << (8 * width_bytes)) - 1


# --- bitfields and register layouts ----------------------------------------------------------

EnumSpec = type[enum.IntEnum] | Mapping[int, str] | None


@dataclass(frozen=True)
class Field:
    """Bits ``msb..lsb`` of a register; a data descriptor on :class:`Register` instances."""

    msb: int
    lsb: int | None = None
    enum: EnumSpec = None
    access: Access | str | None = None
    doc: str = ""
    name: str = ""

    def __post_init__(self) -> None:
        lsb = self.msb if self.lsb is None else self.lsb
        if lsb < 0 or self.msb < lsb:
            raise ValueError(f"field {self.name or '?'}: bits {self.msb}:{lsb} are not msb >= lsb >= 0")
        object.__setattr__(self, "lsb", lsb)
        if self.access is not None:
            object.__setattr__(self, "access", _access(self.access))

    @property
    def bits(self) -> int:
        return self.msb - self.lsb + 1

    @property
    def mask(self) -> int:
        """The field's bits in place within the register."""
        return ((1 << self.bits) - 1) << self.lsb

    def get(self, value: int) -> int:
        return (value >> self.lsb) & ((1 << self.bits) - 1)

    def put(self, value: int, field_value: int) -> int:
        if not 0 <= int(field_value) < (1 << self.bits):
            raise ValueError(f"field {self.name}: {field_value:#x} does not fit in {self.bits} bits")
        return (value & ~self.mask) | (int(field_value) << self.lsb)

    def label(self, field_value: int) -> str:
        """The field's value as text: 0/1 for one bit, an enum name, or hex."""
        if self.enum is not None:
            if isinstance(self.enum, Mapping):
                name = self.enum.get(field_value)
            else:
                try:
                    name = self.enum(field_value).name
                except ValueError:
                    name = None
            if name is not None:
                return name
        if self.bits == 1:
            return str(field_value)
        return hex(field_value)

    # Descriptor protocol: ``reg.PFIFO`` reads the field, ``reg.PFIFO = 1`` sets it.
    def __get__(self, obj: Register | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        raw = self.get(obj.value)
        if isinstance(self.enum, type):
            try:
                return self.enum(raw)
            except ValueError:
                return raw
        return raw

    def __set__(self, obj: Register, field_value: int) -> None:
        obj.value = self.put(obj.value, field_value)


def _as_field(name: str, spec: Any) -> Field:
    if isinstance(spec, Field):
        return replace(spec, name=name)
    if isinstance(spec, int) and not isinstance(spec, bool):
        return Field(spec, name=name)
    if isinstance(spec, tuple) and 2 <= len(spec) <= 3 and all(isinstance(x, int) for x in spec[:2]):
        return Field(spec[0], spec[1], spec[2] if len(spec) == 3 else None, name=name)
    raise TypeError(f"field {name}: expected bit, (msb, lsb[, enum]) or Field(...), got {spec!r}")


class Register:
    """A register value with named bitfields (subclass it to declare a layout).

    Upper-case class attributes are fields: ``NAME = bit``, ``NAME = msb, lsb``,
    ``NAME = msb, lsb, Enum`` or ``NAME = Field(...)``. Fields of base classes
    are inherited. Instances are small mutable values: ``R(0x101).PFIFO``.
    """

    WIDTH: ClassVar[int] = 4
    FIELDS: ClassVar[tuple[Field, ...]] = ()
    __slots__ = ("value",)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.WIDTH not in (1, 2, 4, 8):
            raise ValueError(f"{cls.__name__}: WIDTH must be 1, 2, 4 or 8 bytes")
        fields: dict[str, Field] = {f.name: f for f in cls.FIELDS}
        for name, spec in list(vars(cls).items()):
            if name in ("WIDTH", "FIELDS") or name.startswith("_") or not name.isupper():
                continue
            f = _as_field(name, spec)
            if f.msb >= 8 * cls.WIDTH:
                raise ValueError(f"{cls.__name__}.{name}: bit {f.msb} is outside a {cls.WIDTH}-byte register")
            setattr(cls, name, f)
            fields[name] = f
        cls.FIELDS = tuple(fields.values())

    def __init__(self, value: int = 0, **fields: int) -> None:
        self.value = int(value) & _mask(self.WIDTH)
        self.set(**fields)

    def set(self, **fields: int) -> Register:
        for name, v in fields.items():
            f = getattr(type(self), name, None)
            if not isinstance(f, Field):
                raise AttributeError(f"{type(self).__name__} has no field {name}")
            f.__set__(self, v)
        return self

    def fields(self) -> dict[str, int]:
        return {f.name: f.get(self.value) for f in self.FIELDS}

    @classmethod
    def describe(cls, value: int) -> str:
        """``"PFIFO=1, PGRAPH=0"``; set bits no field covers follow as ``unknown=0x...``."""
        parts = [f"{f.name}={f.label(f.get(value))}" for f in cls.FIELDS]
        covered = 0
        for f in cls.FIELDS:
            covered |= f.mask
        rest = value & ~covered & _mask(cls.WIDTH)
        if cls.FIELDS and rest:
            parts.append(f"unknown={rest:#x}")
        return ", ".join(parts)

    def __int__(self) -> int:
        return self.value

    __index__ = __int__

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Register):
            return type(self) is type(other) and self.value == other.value
        if isinstance(other, int):
            return self.value == other
        return NotImplemented

    __hash__ = None  # mutable

    def __repr__(self) -> str:
        text = self.describe(self.value)
        return f"{type(self).__name__}({self.value:#x}{': ' + text if text else ''})"


class Register8(Register):
    WIDTH = 1


class Register16(Register):
    WIDTH = 2


class Register32(Register):
    WIDTH = 4


class Register64(Register):
    WIDTH = 8


# --- register maps ---------------------------------------------------------------------------


def irange(start: int, count: int, stride: int = 4) -> range:
    """``count`` offsets from ``start``, ``stride`` apart: the offsets of a register array."""
    return range(start, start + count * stride, stride)


@dataclass(frozen=True)
class RegDef:
    """One register (or an array of them) placed in a map."""

    name: str
    offset: int
    type: type[Register] = Register32
    access: Access = Access.RW
    reset: int = 0
    count: int = 1          # > 1: an array NAME[0..count-1]
    stride: int = 0         # bytes between array elements
    doc: str = ""
    # Per-bit access masks, derived from the register's access and its fields' overrides.
    masks: dict[Access, int] = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "access", _access(self.access))
        full = _mask(self.width)
        if not 0 <= self.reset <= full:
            raise ValueError(f"{self.name}: reset {self.reset:#x} does not fit {self.width} bytes")
        if self.count < 1:
            raise ValueError(f"{self.name}: an array needs at least one element")
        if self.count > 1 and self.stride < self.width:
            raise ValueError(f"{self.name}: stride {self.stride} is less than the width {self.width}")
        per_bit = {a: 0 for a in Access}
        per_bit[self.access] = full
        for f in self.type.FIELDS:
            if f.access is not None:
                for a in Access:
                    per_bit[a] &= ~f.mask
                per_bit[f.access] |= f.mask
        self.masks.update(per_bit)

    @property
    def width(self) -> int:
        return self.type.WIDTH

    @property
    def end(self) -> int:
        """One past the last byte of the last element."""
        return self.offset + (self.count - 1) * self.stride + self.width

    def element_at(self, offset: int) -> tuple[int | None, int, int] | None:
        """``(index, element_offset, rel)`` if ``offset`` falls inside an element."""
        if self.count == 1:
            rel = offset - self.offset
            return (None, self.offset, rel) if 0 <= rel < self.width else None
        index, rel = divmod(offset - self.offset, self.stride)
        if 0 <= index < self.count and rel < self.width:
            return index, self.offset + index * self.stride, rel
        return None

    def offset_of(self, index: int | None = None) -> int:
        if self.count == 1:
            if index not in (None, 0):
                raise IndexError(f"{self.name} is not an array")
            return self.offset
        if index is None or not 0 <= index < self.count:
            raise IndexError(f"{self.name}[{index}]: index outside 0..{self.count - 1}")
        return self.offset + index * self.stride

    def label(self, index: int | None = None) -> str:
        return self.name if index is None else f"{self.name}[{index}]"

    def serves(self, kind: str | None) -> bool:
        """Whether a read ('R') or write ('W') names this register when several share an offset."""
        if kind == "R":
            return self.access.readable
        if kind == "W":
            return self.access.writable
        return True


@dataclass(frozen=True)
class Window:
    """A named span of offsets with no registers of its own (memory windows, FIFOs)."""

    offset: int
    size: int
    doc: str = ""
    name: str = ""

    @property
    def end(self) -> int:
        return self.offset + self.size


@dataclass(frozen=True)
class _Decl:
    offsets: int | range
    type: type[Register]
    access: Access | str
    reset: int
    doc: str


def reg(offset: int | range, type: type[Register] = Register32, access: Access | str = RW,
        reset: int = 0, doc: str = "") -> _Decl:
    """Keyword form of a map entry: ``NAME = reg(0x200, R_ENABLE, RO, reset=1, doc=...)``."""
    return _Decl(offset, type, access, reset, doc)


class Hit(NamedTuple):
    """What an offset falls in: a register element or a window, and where inside it."""

    reg: RegDef | None
    window: Window | None
    index: int | None
    base: int      # offset of the element (or window) start
    rel: int       # offset - base

    @property
    def label(self) -> str:
        name = self.reg.label(self.index) if self.reg else self.window.name  # type: ignore[union-attr]
        return f"{name}+{self.rel:#x}" if self.rel else name


def _as_regdef(name: str, spec: Any) -> RegDef | Window:
    if isinstance(spec, RegDef):
        return replace(spec, name=name)
    if isinstance(spec, Window):
        return replace(spec, name=name)
    if isinstance(spec, tuple) and 2 <= len(spec) <= 4:
        spec = _Decl(spec[0], spec[1], spec[2] if len(spec) > 2 else RW,
                     spec[3] if len(spec) > 3 else 0, "")
    if not isinstance(spec, _Decl):
        raise TypeError(f"register {name}: expected (offset, layout[, access[, reset]]), "
                        f"reg(...) or Window(...), got {spec!r}")
    if not (isinstance(spec.type, type) and issubclass(spec.type, Register)):
        raise TypeError(f"register {name}: {spec.type!r} is not a Register class")
    if isinstance(spec.offsets, range):
        r = spec.offsets
        if len(r) == 0 or r.step <= 0:
            raise ValueError(f"register {name}: empty or descending offset range")
        return RegDef(name, r.start, spec.type, spec.access, spec.reset, len(r),
                      r.step if len(r) > 1 else spec.type.WIDTH, spec.doc)
    return RegDef(name, int(spec.offsets), spec.type, spec.access, spec.reset, doc=spec.doc)


class RegMap:
    """A block of registers, declared as upper-case class attributes (see the module doc).

    A map is used through its class: ``NvRegs.lookup(0x9404)``,
    ``NvRegs.decode(0x200, 0x100)``, ``NvRegs.PMC_ENABLE.offset``. Maps compose
    by inheritance (``class Bar0(PmcRegs, PtimerRegs): ...``).
    """

    REGISTERS: ClassVar[tuple[RegDef, ...]] = ()
    WINDOWS: ClassVar[tuple[Window, ...]] = ()
    _spans: ClassVar[list[tuple[int, int, int, RegDef | Window]]] = []
    _starts: ClassVar[list[int]] = []
    _reach: ClassVar[list[int]] = []
    _by_name: ClassVar[dict[str, RegDef | Window]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        entries: dict[str, RegDef | Window] = {}
        for base in reversed(cls.__mro__[1:]):
            if issubclass(base, RegMap):
                entries.update(base._by_name)
        for name, spec in list(vars(cls).items()):
            if name in ("REGISTERS", "WINDOWS") or name.startswith("_") or not name.isupper():
                continue
            entry = _as_regdef(name, spec)
            setattr(cls, name, entry)
            entries[name] = entry
        cls._by_name = entries
        cls.REGISTERS = tuple(sorted((e for e in entries.values() if isinstance(e, RegDef)),
                                     key=lambda r: r.offset))
        cls.WINDOWS = tuple(sorted((e for e in entries.values() if isinstance(e, Window)),
                                   key=lambda w: w.offset))
        # Spans sorted by start, with a running maximum of their ends so a lookup can
        # walk back from the bisection point and stop as soon as nothing earlier reaches.
        order = {name: i for i, name in enumerate(entries)}
        spans = sorted(((e.offset, e.end, order[e.name], e) for e in entries.values()),
                       key=lambda s: (s[0], s[2]))
        cls._spans = spans
        cls._starts = [s[0] for s in spans]
        reach, top = [], -1
        for s in spans:
            top = max(top, s[1])
            reach.append(top)
        cls._reach = reach

    @classmethod
    def get(cls, name: str) -> RegDef:
        entry = cls._by_name.get(name)
        if not isinstance(entry, RegDef):
            raise KeyError(f"{cls.__name__} has no register {name!r}")
        return entry

    @classmethod
    def window(cls, name: str) -> Window:
        entry = cls._by_name.get(name)
        if not isinstance(entry, Window):
            raise KeyError(f"{cls.__name__} has no window {name!r}")
        return entry

    @classmethod
    def lookup(cls, offset: int, kind: str | None = None) -> Hit | None:
        """The register (preferred) or window containing ``offset``.

        When registers share an offset (a read-only receive buffer and a
        write-only transmit register, say), ``kind`` 'R' or 'W' picks the one
        the access reaches; among equals the first declared wins.
        """
        best: tuple[tuple[int, int, int], Hit] | None = None
        i = bisect.bisect_right(cls._starts, offset) - 1
        while i >= 0 and cls._reach[i] > offset:
            start, end, order, entry = cls._spans[i]
            i -= 1
            if offset >= end:
                continue
            if isinstance(entry, RegDef):
                el = entry.element_at(offset)
                if el is None:
                    continue
                hit = Hit(entry, None, el[0], el[1], el[2])
                rank = (0, 0 if entry.serves(kind) else 1, order)
            else:
                hit = Hit(None, entry, None, entry.offset, offset - entry.offset)
                rank = (1, 0, order)
            if best is None or rank < best[0]:
                best = (rank, hit)
        return best[1] if best else None

    @classmethod
    def label(cls, offset: int, kind: str | None = None) -> str | None:
        """``PMC_ENABLE``, ``SCRATCH[3]``, ``PMC_ENABLE+0x2``, ``PRAMIN+0x1234`` or None."""
        hit = cls.lookup(offset, kind)
        return hit.label if hit else None

    @classmethod
    def decode(cls, offset: int, value: int, width: int | None = None,
               kind: str | None = None) -> str | None:
        """One access as text: ``"PMC_ENABLE = 0x1 (PFIFO=1, PGRAPH=0)"``.

        Fields are decoded only when the access covers the whole register;
        offsets in no register or window give None.
        """
        hit = cls.lookup(offset, kind)
        if hit is None:
            return None
        text = f"{hit.label} = {value:#x}"
        r = hit.reg
        if r is not None and hit.rel == 0 and width in (None, r.width) and r.type.FIELDS:
            text += f" ({r.type.describe(value)})"
        return text

    @classmethod
    def describe(cls) -> str:
        """The map as a table, one register or window a line (for docs and ``--help``)."""
        lines = []
        for e in sorted(cls._by_name.values(), key=lambda e: e.offset):
            if isinstance(e, RegDef):
                where = f"{e.offset:#08x}"
                if e.count > 1:
                    where += f"[{e.count}]+{e.stride:#x}"
                fields = ", ".join(
                    (f"{f.name}[{f.msb}:{f.lsb}]" if f.bits > 1 else f"{f.name}[{f.lsb}]")
                    + (f" {f.access.value}" if f.access is not None else "")
                    for f in e.type.FIELDS)
                lines.append(f"{where:<18} {e.name:<20} {8 * e.width:>2}-bit {e.access.value:<3} "
                             f"reset {e.reset:#x}{'  ' + fields if fields else ''}")
            else:
                lines.append(f"{e.offset:#08x}+{e.size:#x}".ljust(18) + f" {e.name:<20} window")
        return "\n".join(lines)


# --- register state --------------------------------------------------------------------------


class Unclaimed(NamedTuple):
    """An access no register or window took: reads gave 0, writes went nowhere."""

    kind: str       # "R" or "W"
    offset: int
    width: int
    value: int


class WindowTarget(Protocol):
    def read(self, offset: int, width: int) -> int: ...
    def write(self, offset: int, width: int, value: int) -> None: ...
    def peek(self, offset: int, width: int) -> int: ...


ReadHook = Callable[[int | None], int]
WriteHook = Callable[[int | None, int, int], None]


class RegisterFile:
    """The live registers of one map: what the CPU's accesses do to them.

    Values start at each register's reset value. ``read``/``write`` apply the
    access rules at the access's exact offset and width (a byte read of a
    32-bit register sees that byte; only the bits in the accessed bytes are
    written, cleared or read-cleared). Hooks add a device's behaviour:

    * ``on_read(name, fn)``: ``fn(index) -> value`` supplies the value the CPU
      sees (status computed from device state); read-to-clear bits are then
      cleared in the stored value.
    * ``on_write(name, fn)``: ``fn(index, value, old)`` runs after the stored
      value was updated; ``value`` is what the CPU wrote (bytes it did not
      write are taken from ``old``).

    ``get``/``set``/``set_bits``/``clear_bits`` are the hardware's own side:
    raw values with no access rules and no hooks. Accesses that reach no
    register read 0 and are ignored when written, and are remembered in
    ``unknown`` (most recent last).
    """

    def __init__(self, regmap: type[RegMap], unknown_log: int = 256) -> None:
        self.map = regmap
        # Keyed by (name, element offset): registers may share an offset (RBR/THR).
        self._values: dict[tuple[str, int], int] = {}
        self._read_hooks: dict[str, ReadHook] = {}
        self._write_hooks: dict[str, WriteHook] = {}
        self._windows: dict[str, WindowTarget] = {}
        self._fast: dict[tuple[int, str], tuple[RegDef, int | None, int] | None] = {}
        self.unknown: collections.deque[Unclaimed] = collections.deque(maxlen=unknown_log)

    # hardware side

    def reset(self) -> None:
        self._values.clear()

    def get(self, name: str, index: int | None = None) -> int:
        r = self.map.get(name)
        return self._values.get((name, r.offset_of(index)), r.reset)

    def set(self, name: str, value: int, index: int | None = None) -> None:
        r = self.map.get(name)
        self._values[(name, r.offset_of(index))] = int(value) & _mask(r.width)

    def set_bits(self, name: str, bits: int, index: int | None = None) -> None:
        self.set(name, self.get(name, index) | bits, index)

    def clear_bits(self, name: str, bits: int, index: int | None = None) -> None:
        self.set(name, self.get(name, index) & ~bits, index)

    def reg(self, name: str, index: int | None = None) -> Register:
        """A typed copy of the stored value: ``regs.reg("PMC_ENABLE").PFIFO``."""
        return self.map.get(name).type(self.get(name, index))

    def on_read(self, name: str, fn: ReadHook) -> None:
        self.map.get(name)
        self._read_hooks[name] = fn

    def on_write(self, name: str, fn: WriteHook) -> None:
        self.map.get(name)
        self._write_hooks[name] = fn

    def map_window(self, name: str, target: WindowTarget) -> None:
        """Send accesses inside window ``name`` to ``target`` (offsets relative to the window)."""
        self.map.window(name)
        self._windows[name] = target

    # CPU side

    def read(self, offset: int, width: int) -> int:
        fast = self._fast_hit(offset, width, "R")
        if fast is not None:
            r, index, base = fast
            return self._read_element(r, index, base, _mask(width))
        return self._access(offset, width, "R", 0, effects=True)

    def write(self, offset: int, width: int, value: int) -> None:
        fast = self._fast_hit(offset, width, "W")
        if fast is not None:
            r, index, base = fast
            self._write_element(r, index, base, value & _mask(width), _mask(width))
            return
        self._access(offset, width, "W", value & _mask(width), effects=True)

    def peek(self, offset: int, width: int) -> int:
        """What a read would return from stored values, without hooks or read-to-clear."""
        return self._access(offset, width, "R", 0, effects=False)

    # internals

    def _fast_hit(self, offset: int, width: int, kind: str) -> tuple[RegDef, int | None, int] | None:
        key = (offset, kind)
        try:
            hit = self._fast[key]
        except KeyError:
            h = self.map.lookup(offset, kind)
            hit = (h.reg, h.index, h.base) if h is not None and h.reg is not None and h.rel == 0 else None
            if len(self._fast) < 65536:
                self._fast[key] = hit
        if hit is not None and hit[0].width == width:
            return hit
        return None

    def _read_element(self, r: RegDef, index: int | None, base: int, bits: int) -> int:
        key = (r.name, base)
        hook = self._read_hooks.get(r.name)
        value = (hook(index) if hook else self._values.get(key, r.reset)) & _mask(r.width)
        value &= ~r.masks[Access.WO]
        # Clear what this read reported: a bit the hook raised meanwhile stays for the next read.
        rc = r.masks[Access.RC] & bits & value
        if rc:
            self._values[key] = self._values.get(key, r.reset) & ~rc
        return value

    def _write_element(self, r: RegDef, index: int | None, base: int, value: int, bits: int) -> None:
        key = (r.name, base)
        old = self._values.get(key, r.reset)
        store = (r.masks[Access.RW] | r.masks[Access.WO]) & bits
        new = (old & ~store) | (value & store)
        new &= ~(value & r.masks[Access.W1C] & bits)
        self._values[key] = new
        hook = self._write_hooks.get(r.name)
        if hook:
            hook(index, (old & ~bits) | (value & bits), old)

    def _access(self, offset: int, width: int, kind: str, value: int, effects: bool) -> int:
        """The general path: partial registers, several registers, windows, holes."""
        hit = self.map.lookup(offset, kind)
        if hit is not None and hit.window is not None and offset + width <= hit.window.end:
            target = self._windows.get(hit.window.name)
            if target is not None:
                if kind == "W":
                    target.write(hit.rel, width, value)
                    return 0
                return target.read(hit.rel, width) if effects else target.peek(hit.rel, width)
        result, pos, end, unclaimed = 0, offset, offset + width, False
        while pos < end:
            hit = self.map.lookup(pos, kind)
            if hit is None or hit.reg is None:
                # A window without a target, or nothing: bytes read 0, writes vanish.
                unclaimed = True
                pos += 1
                continue
            r = hit.reg
            n = min(r.width - hit.rel, end - pos)
            shift_reg, shift_acc = 8 * hit.rel, 8 * (pos - offset)
            bits = _mask(n) << shift_reg
            if kind == "W":
                part = ((value >> shift_acc) & _mask(n)) << shift_reg
                if effects:
                    self._write_element(r, hit.index, hit.base, part, bits)
            else:
                if effects:
                    full = self._read_element(r, hit.index, hit.base, bits)
                else:
                    full = self._values.get((r.name, hit.base), r.reset) & ~r.masks[Access.WO]
                result |= ((full >> shift_reg) & _mask(n)) << shift_acc
            pos += n
        if unclaimed and effects:
            self.unknown.append(Unclaimed(kind, offset, width, value if kind == "W" else result))
        return result

    def __iter__(self) -> Iterator[tuple[str, int]]:
        """``(label, value)`` of every register element, in offset order."""
        for r in self.map.REGISTERS:
            for i in range(r.count):
                index = i if r.count > 1 else None
                yield r.label(index), self._values.get((r.name, r.offset_of(index)), r.reset)
