"""What a device model is: PCI identity, BARs, and the regions the CPU reaches.

A model describes a PCI function as data (ids, class code, BAR sizes and
kinds) and gives each BAR a region object. The CPU side calls a region with
exactly the access the driver's instruction made: ``read(offset, width)`` or
``write(offset, width, value)``, width 1, 2, 4 or 8, never split. Splitting
would be visible: a read-to-clear register read as two halves clears twice,
and a FIFO would pop two bytes for one ``readw`` (emulation.md §6).

Regions are either plain memory (:class:`MemoryRegion`, sparse, so an 8 MiB
BAR costs only the pages touched) or registers (:class:`RegisterRegion`, a
:class:`~ftrace_mmio.machine.regmap.RegisterFile` with the model's hooks).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, ClassVar, Literal, NamedTuple

from ..regmap import RegisterFile, RegMap, Unclaimed

if TYPE_CHECKING:
    from ...trace.clock import TimeBase

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
PAGE_SIZE = 4096
WIDTHS = (1, 2, 4, 8)

BarKind = Literal["mem32", "mem64", "io"]


class AccessRecord(NamedTuple):
    """One access a region served, as the access log keeps it."""

    bar: int | None
    kind: str          # "R" or "W"
    offset: int
    width: int
    value: int


def _all_ones(width: int) -> int:
    return (1 << (8 * width)) - 1


class Region:
    """The device side of one BAR.

    Subclasses implement ``_read``/``_write``/``_peek``; this class checks the
    width, answers accesses past the end like an unclaimed PCI cycle (reads
    all ones, writes dropped) and feeds the access log when one is enabled.
    """

    def __init__(self, size: int, name: str = "") -> None:
        if size <= 0:
            raise ValueError("a region needs a positive size")
        self.size = size
        self.name = name
        self.model: DeviceModel | None = None
        self.bar: int | None = None
        self.log: list[AccessRecord] | None = None
        # Accesses nothing answered: past the end here, or no register in a RegisterRegion.
        self.unknown: collections.deque[Unclaimed] = collections.deque(maxlen=256)

    def _check(self, offset: int, width: int) -> bool:
        if width not in WIDTHS:
            raise ValueError(f"{self.name or 'region'}: access width {width} is not 1, 2, 4 or 8")
        return 0 <= offset and offset + width <= self.size

    def read(self, offset: int, width: int) -> int:
        if self._check(offset, width):
            value = self._read(offset, width)
        else:
            value = _all_ones(width)
            self.unknown.append(Unclaimed("R", offset, width, value))
        if self.log is not None:
            self.log.append(AccessRecord(self.bar, "R", offset, width, value))
        return value

    def write(self, offset: int, width: int, value: int) -> None:
        ok = self._check(offset, width)
        value &= _all_ones(width)
        if ok:
            self._write(offset, width, value)
        else:
            self.unknown.append(Unclaimed("W", offset, width, value))
        if self.log is not None:
            self.log.append(AccessRecord(self.bar, "W", offset, width, value))

    def peek(self, offset: int, width: int) -> int:
        """What a read would see, with no side effects and not logged.

        The CPU side uses it for bytes a split mmio callback asks for beyond
        the instruction's own access; debuggers use it to look without touching.
        """
        if not self._check(offset, width):
            return _all_ones(width)
        return self._peek(offset, width)

    def reset(self) -> None:
        """Back to the power-on state."""

    def _read(self, offset: int, width: int) -> int:
        raise NotImplementedError

    def _write(self, offset: int, width: int, value: int) -> None:
        raise NotImplementedError

    def _peek(self, offset: int, width: int) -> int:
        return self._read(offset, width)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name or '?'} bar={self.bar} size={self.size:#x}>"


class SparseMemory:
    """Byte storage allocated a page at a time; pages never written read as ``fill``."""

    def __init__(self, size: int, fill: int = 0) -> None:
        self.size = size
        self.fill = fill
        self._pages: dict[int, bytearray] = {}

    def read(self, addr: int, n: int) -> bytes:
        page, off = divmod(addr, PAGE_SIZE)
        if off + n <= PAGE_SIZE:
            buf = self._pages.get(page)
            return bytes(buf[off:off + n]) if buf is not None else bytes([self.fill]) * n
        out = bytearray()
        while n:
            chunk = min(n, PAGE_SIZE - addr % PAGE_SIZE)
            out += self.read(addr, chunk)
            addr, n = addr + chunk, n - chunk
        return bytes(out)

    def write(self, addr: int, data: bytes) -> None:
        while data:
            page, off = divmod(addr, PAGE_SIZE)
            chunk = min(len(data), PAGE_SIZE - off)
            buf = self._pages.get(page)
            if buf is None:
                buf = self._pages[page] = bytearray([self.fill]) * PAGE_SIZE
            buf[off:off + chunk] = data[:chunk]
            addr, data = addr + chunk, data[chunk:]

    def clear(self) -> None:
        self._pages.clear()

    @property
    def resident(self) -> int:
        """Bytes actually allocated."""
        return len(self._pages) * PAGE_SIZE


class MemoryRegion(Region):
    """A BAR that behaves like RAM: reads return what was written.

    ``store``/``base`` let several regions view one memory (a GPU's VRAM seen
    through a BAR and through a register window).
    """

    def __init__(self, size: int, name: str = "", store: SparseMemory | None = None,
                 base: int = 0, fill: int = 0) -> None:
        super().__init__(size, name)
        self.store = store if store is not None else SparseMemory(size, fill)
        self.base = base

    def _read(self, offset: int, width: int) -> int:
        return int.from_bytes(self.store.read(self.base + offset, width), "little")

    def _write(self, offset: int, width: int, value: int) -> None:
        self.store.write(self.base + offset, value.to_bytes(width, "little"))

    def load(self, offset: int, data: bytes) -> None:
        """Host side: put bytes in (no access log)."""
        if offset < 0 or offset + len(data) > self.size:
            raise ValueError(f"{len(data)} bytes at {offset:#x} do not fit in {self.size:#x}")
        self.store.write(self.base + offset, data)

    def dump(self, offset: int, n: int) -> bytes:
        """Host side: take bytes out (no access log)."""
        if offset < 0 or offset + n > self.size:
            raise ValueError(f"{n} bytes at {offset:#x} do not fit in {self.size:#x}")
        return self.store.read(self.base + offset, n)

    def reset(self) -> None:
        if self.base == 0 and self.store.size == self.size:
            self.store.clear()


class RegisterRegion(Region):
    """A BAR of registers declared by a :class:`RegMap`; ``regs`` is their state."""

    def __init__(self, regmap: type[RegMap], size: int, name: str = "") -> None:
        super().__init__(size, name or regmap.__name__)
        self.regs = RegisterFile(regmap)
        # One record of unclaimed accesses for the file and the region.
        self.regs.unknown = self.unknown

    def _read(self, offset: int, width: int) -> int:
        return self.regs.read(offset, width)

    def _write(self, offset: int, width: int, value: int) -> None:
        self.regs.write(offset, width, value)

    def _peek(self, offset: int, width: int) -> int:
        return self.regs.peek(offset, width)

    def reset(self) -> None:
        self.regs.reset()


@dataclass(frozen=True)
class BarSpec:
    """One BAR as the device declares it; the address is assigned by the bus."""

    index: int
    size: int
    kind: BarKind = "mem32"
    prefetchable: bool = False

    @property
    def is_io(self) -> bool:
        return self.kind == "io"

    @property
    def is_64bit(self) -> bool:
        return self.kind == "mem64"

    @property
    def slots(self) -> tuple[int, ...]:
        """The BAR registers it occupies: a 64-bit BAR takes its index and the next."""
        return (self.index, self.index + 1) if self.is_64bit else (self.index,)

    @property
    def type_bits(self) -> int:
        """The read-only low bits of the BAR register (and of the kernel's resource flags)."""
        if self.is_io:
            return 0x1
        return (0x4 if self.is_64bit else 0x0) | (0x8 if self.prefetchable else 0x0)

    def validate(self, who: str) -> None:
        if self.kind not in ("mem32", "mem64", "io"):
            raise ValueError(f"{who}: BAR{self.index} kind {self.kind!r} is not mem32, mem64 or io")
        if not 0 <= self.index <= (4 if self.is_64bit else 5):
            raise ValueError(f"{who}: BAR{self.index} {self.kind} is outside BAR0..BAR5")
        least = 4 if self.is_io else 16
        if self.size < least or self.size & (self.size - 1):
            raise ValueError(f"{who}: BAR{self.index} size {self.size:#x} is not a power of two >= {least}")
        if self.is_io and (self.prefetchable or self.size > 256):
            raise ValueError(f"{who}: BAR{self.index} I/O BARs are at most 256 bytes and not prefetchable")
        if self.kind == "mem32" and self.size > 2 * GiB:
            raise ValueError(f"{who}: BAR{self.index} 32-bit BARs are at most 2 GiB")


@dataclass(frozen=True)
class MsixSpec:
    """An MSI-X capability: ``vectors`` table entries in BAR ``bar`` at
    ``table_offset``, the pending-bit array at ``pba_offset`` (after the
    table when None).  The table is served by the machine, not the model."""

    vectors: int
    bar: int
    table_offset: int = 0
    pba_offset: int | None = None

    @property
    def pba(self) -> int:
        return self.pba_offset if self.pba_offset is not None else (self.table_offset + 16 * self.vectors + 7) & ~7

    def validate(self, who: str, bars: tuple[BarSpec, ...]) -> None:
        if not 1 <= self.vectors <= 2048:
            raise ValueError(f"{who}: MSI-X vectors {self.vectors} is outside 1..2048")
        spec = next((b for b in bars if b.index == self.bar), None)
        if spec is None or spec.is_io:
            raise ValueError(f"{who}: MSI-X table BAR{self.bar} is not a memory BAR of the model")
        if self.table_offset % 8 or self.pba % 8:
            raise ValueError(f"{who}: MSI-X table and PBA offsets must be 8-byte aligned")
        pba_size = 8 * ((self.vectors + 63) // 64)
        if self.table_offset + 16 * self.vectors > spec.size or self.pba + pba_size > spec.size:
            raise ValueError(f"{who}: MSI-X table or PBA does not fit in BAR{self.bar}")
        if self.table_offset < self.pba + pba_size and self.pba < self.table_offset + 16 * self.vectors:
            raise ValueError(f"{who}: MSI-X table and PBA overlap")


class DeviceModel:
    """A PCI function's behaviour. Subclass, fill in the class attributes, build regions.

    Class attributes are the identity the config space shows; ``__init__``
    calls ``super().__init__()`` and then ``set_region(index, region)`` for
    each BAR with behaviour. Memory BARs left without one are plain memory.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    vendor: ClassVar[int] = 0
    device: ClassVar[int] = 0
    class_code: ClassVar[int] = 0x000000     # base << 16 | sub << 8 | prog-if
    revision: ClassVar[int] = 0
    subsystem: ClassVar[tuple[int, int] | None] = None   # (subsystem vendor, subsystem id)
    interrupt_pin: ClassVar[int] = 1        # INTA; 0 = no interrupt
    irq: ClassVar[int | None] = None        # preferred IRQ line; the bus picks one if None
    bars: ClassVar[tuple[BarSpec, ...]] = ()
    rom_size: ClassVar[int] = 0             # expansion ROM size, 0 = none
    msi_vectors: ClassVar[int] = 0          # MSI capability with 1..32 vectors (power of two); 0 = none
    msi_per_vector_mask: ClassVar[bool] = False   # MSI capability with mask/pending bits
    msix: ClassVar["MsixSpec | None"] = None      # MSI-X capability and where its table lives

    def __init__(self) -> None:
        self._regions: dict[int, Region] = {}
        self.time_base: TimeBase | None = None
        self.port = None
        self.access_log: list[AccessRecord] | None = None

    # identity

    @classmethod
    def validate(cls) -> None:
        """Raise ValueError naming the problem if the declarations cannot be a PCI function."""
        who = f"device model {cls.__name__}"
        if not isinstance(cls.name, str) or not cls.name:
            raise ValueError(f"{who}: set a non-empty name")
        who = f"device model {cls.name!r}"
        for attr, top in (("vendor", 0xffff), ("device", 0xffff), ("class_code", 0xffffff),
                          ("revision", 0xff), ("interrupt_pin", 4)):
            v = getattr(cls, attr)
            if not isinstance(v, int) or not 0 <= v <= top:
                raise ValueError(f"{who}: {attr} {v!r} is outside 0..{top:#x}")
        if cls.vendor in (0, 0xffff):
            raise ValueError(f"{who}: vendor {cls.vendor:#06x} means 'no device' on PCI")
        if cls.subsystem is not None and not (
                len(cls.subsystem) == 2 and all(isinstance(x, int) and 0 <= x <= 0xffff for x in cls.subsystem)):
            raise ValueError(f"{who}: subsystem must be (vendor, id), 16 bits each")
        if cls.irq is not None and not 0 <= cls.irq <= 0xff:
            raise ValueError(f"{who}: irq {cls.irq} is outside 0..255")
        used: dict[int, int] = {}
        for bar in cls.bars:
            bar.validate(who)
            for slot in bar.slots:
                if slot in used:
                    raise ValueError(f"{who}: BAR{bar.index} overlaps BAR{used[slot]} (BAR slot {slot})")
                used[slot] = bar.index
        if cls.msi_vectors not in (0, 1, 2, 4, 8, 16, 32):
            raise ValueError(f"{who}: msi_vectors {cls.msi_vectors!r} is not 0 or a power of two up to 32")
        if cls.msix is not None:
            cls.msix.validate(who, cls.bars)
        if cls.rom_size and (cls.rom_size < 2 * KiB or cls.rom_size & (cls.rom_size - 1)):
            raise ValueError(f"{who}: rom_size {cls.rom_size:#x} is not a power of two >= 2 KiB")

    def bar(self, index: int) -> BarSpec:
        for b in self.bars:
            if b.index == index:
                return b
        raise KeyError(f"{self.name}: no BAR{index}")

    # regions

    def set_region(self, index: int, region: Region) -> Region:
        spec = self.bar(index)
        if region.size != spec.size:
            raise ValueError(f"{self.name}: BAR{index} is {spec.size:#x} bytes, region is {region.size:#x}")
        region.model, region.bar = self, index
        region.log = self.access_log
        self._regions[index] = region
        return region

    def region(self, index: int) -> Region:
        region = self._regions.get(index)
        if region is None:
            spec = self.bar(index)
            region = self.set_region(index, MemoryRegion(spec.size, f"{self.name} BAR{index}"))
        return region

    @property
    def regions(self) -> dict[int, Region]:
        """Every BAR's region, by BAR index."""
        return {b.index: self.region(b.index) for b in self.bars}

    # time and lifecycle

    def attach(self, time_base: TimeBase) -> None:
        """Join a machine: device timers read ``time_base.machine_ns()`` from now on."""
        self.time_base = time_base

    def now_ns(self) -> int:
        if self.time_base is None:
            raise RuntimeError(f"{self.name}: not attached to a machine clock (call attach())")
        return self.time_base.machine_ns()

    def reset(self) -> None:
        for region in self.regions.values():
            region.reset()

    # what the machine gives a model: interrupts, DMA, timers. The machine
    # connects ``port`` (a machine.port.DevicePort) at boot; a model that is
    # not on a machine has none, and these calls fail saying so.

    def _need_port(self):
        port = getattr(self, "port", None)
        if port is None:
            raise RuntimeError(f"{self.name}: not on a machine (no interrupts, DMA or timers)")
        return port

    def set_irq(self, level: bool) -> None:
        """Drive the function's INTx pin (level-triggered): asserted until lowered."""
        self._need_port().set_irq(bool(level))

    def msi_enabled(self) -> bool:
        """True when the driver enabled MSI or MSI-X on this function."""
        return self._need_port().msi_enabled()

    def msi_notify(self, vector: int = 0) -> None:
        """Send MSI/MSI-X message ``vector`` (an edge: one interrupt)."""
        self._need_port().msi_notify(vector)

    def dma_read(self, addr: int, size: int) -> bytes:
        """Bus-master read of guest memory at bus address ``addr``.  A read
        the driver did not map returns zeros and logs a DMA fault."""
        return self._need_port().dma_read(addr, size)

    def dma_write(self, addr: int, data: bytes) -> None:
        """Bus-master write; dropped (with a DMA fault logged) where the
        driver did not map memory for the device."""
        self._need_port().dma_write(addr, bytes(data))

    def timer_after(self, delay_ns: int, fn: Callable[[], None]):
        """Run ``fn`` once the machine clock has advanced ``delay_ns``;
        returns a handle with ``cancel()``."""
        return self._need_port().timer_after(delay_ns, fn)

    # differential testing

    def enable_access_log(self) -> list[AccessRecord]:
        """Start recording every access to every BAR; returns the (shared) list."""
        self.access_log = []
        for region in self.regions.values():
            region.log = self.access_log
        return self.access_log

    def disable_access_log(self) -> None:
        self.access_log = None
        for region in self._regions.values():
            region.log = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.vendor:04x}:{self.device:04x}>"
