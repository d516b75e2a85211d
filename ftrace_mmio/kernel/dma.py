"""kernel/dma: the DMA mapping API (linux/dma-mapping.h, linux/dmapool.h).

Direct mapping, as x86 without an IOMMU: a bus address is the physical
address.  What an IOMMU would add is kept too: every mapping is entered in
the machine's DMA table for that device (machine/dma.py), so a device model
reaches exactly what the driver mapped, in the direction it mapped it, until
it is unmapped; anything else is a DMA fault in dmesg.

Masks live where the kernel keeps them: ``*dev->dma_mask`` (pci_dev.dma_mask)
and ``dev->coherent_dma_mask``; a PCI device starts with 32 bits in both, as
the PCI core gives it.  A mapping above the streaming mask fails (the kernel's
dma_capable(); no swiotlb to bounce through on a small x86 machine) with
the kernel's one-time "DMA addr ... overflow" warning.  Coherent memory is
zeroed, page-aligned (to its size's power-of-two order), physically
contiguous, and taken from the low physical pages so it lies below the
coherent mask; it is refused (NULL) when it cannot.

The managed variants (dmam_alloc_coherent, dmam_pool_create) are guest C
on devres (kernel/core/dma.c): released after remove() or a failed probe().
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import Any

from ..machine.cpu import CpuStop, Stop
from ..machine.mm import DIRECT_MAP, PAGE_SIZE
from .api import Subsystem, _s32, _u32, export
from .pci import PCI_DEV_DEV_OFF

DMA_BIDIRECTIONAL, DMA_TO_DEVICE, DMA_FROM_DEVICE, DMA_NONE = 0, 1, 2, 3
DMA_MAPPING_ERROR = (1 << 64) - 1
MASK64 = (1 << 64) - 1
GFP_ZERO = 0x100


def dma_bit_mask(n: int) -> int:
    return MASK64 if n >= 64 else (1 << n) - 1


DEVICE_DMA_MASK_OFF = 40                    # struct device: u64 *dma_mask
DEVICE_COHERENT_MASK_OFF = 48               # struct device: u64 coherent_dma_mask
MIN_MASK = dma_bit_mask(24)                 # x86's ZONE_DMA: the smallest mask dma_supported() takes

VMEMMAP_START = 0xFFFF_EA00_0000_0000        # asm/page.h: struct page array, 64 bytes a page
STRUCT_PAGE_SIZE = 64
SG_SIZE = 32                                 # struct scatterlist (linux/scatterlist.h)
SG_CHAIN, SG_END = 0x1, 0x2
SG_DMA_ADDRESS_OFF, SG_DMA_LENGTH_OFF = 16, 24

KIND = {DMA_BIDIRECTIONAL: "bidirectional", DMA_TO_DEVICE: "to device", DMA_FROM_DEVICE: "from device"}


@dataclass
class CoherentBuffer:
    dev: int                # struct device *
    pdev: Any
    phys: int
    size: int               # as asked
    span: int               # pages taken, in bytes


@dataclass
class Pool:
    """A dma_pool: blocks carved from coherent pages, none crossing ``boundary``."""

    va: int                 # the struct dma_pool * (a small kmalloc; dev at offset 0 for core/dma.c)
    dev: int
    pdev: Any
    name: str
    size: int
    boundary: int
    allocation: int
    pages: list[int] = field(default_factory=list)      # cpu addresses of coherent chunks
    free: list[int] = field(default_factory=list)       # free block cpu addresses
    used: set[int] = field(default_factory=set)


class Dma(Subsystem):
    """dma_set_mask, coherent memory, streaming mappings, sync, pools."""

    name = "dma"

    def __init__(self, api) -> None:
        super().__init__(api)
        self._coherent: dict[int, CoherentBuffer] = {}           # cpu address -> buffer
        self._pools: dict[int, Pool] = {}                        # struct dma_pool * -> pool
        self._overflow_warned = False

    # ---- helpers -------------------------------------------------------------------------

    def dma_mask(self, dev: int) -> int:
        """``*dev->dma_mask``, 0 when the device has no mask pointer."""
        ptr = self.mm.read_uint(dev + DEVICE_DMA_MASK_OFF, 8)
        return self.mm.read_uint(ptr, 8) if ptr else 0

    def coherent_mask(self, dev: int) -> int:
        return self.mm.read_uint(dev + DEVICE_COHERENT_MASK_OFF, 8)

    def _module(self) -> str | None:
        mod = self.machine.current_module
        return mod.name if mod is not None else None

    def _pdev(self, dev_va: int):
        return self.api.pci.device_of(dev_va) if dev_va else None

    def _prefix(self, dev: int) -> str:
        """``driver 0000:00:01.0``, as dev_printk shows a device."""
        return self.api.device.prefix(dev).removesuffix(": ")

    def _no_device(self, fn: str, dev_va: int) -> None:
        self.machine.log.log(4, f"{fn}: {dev_va:#x} is not the struct device of a PCI device; "
                                "this machine does DMA for PCI devices only")

    def _bug(self, text: str) -> None:
        stop = Stop("bug", text, [f"kernel BUG: {text}", "invalid opcode: 0000 [#{n}]"], vector=6)
        self.api._at_caller(stop)
        raise CpuStop(stop)

    def _check_dir(self, fn: str, direction: int) -> int:
        direction = _u32(direction)
        if direction not in KIND:
            self._bug(f"{fn}: invalid DMA direction {direction}")
        return direction

    def _debug(self, dev: int, what: str, addr: int, size: int) -> None:
        """A line in the format of the kernel's DMA-API debugging checks."""
        self.machine.log.log(3, f"DMA-API: {self._prefix(dev)}: device driver tries to {what} "
                                f"[device address={addr:#018x}] [size={size} bytes]")

    def _capable(self, dev: int, fn: str, bus: int, size: int) -> bool:
        """dma_capable(): the whole range under the streaming mask; the
        kernel's one-time warning when not."""
        mask = self.dma_mask(dev)
        if bus + max(size, 1) - 1 <= mask:
            return True
        if not self._overflow_warned:
            self._overflow_warned = True
            log = self.machine.log
            log.log(4, "------------[ cut here ]------------")
            log.log(4, f"{self._prefix(dev)}: DMA addr {bus:#018x}+{size} overflow "
                       f"(mask {mask:x}, bus limit 0).")
            log.log(4, f"WARNING: CPU: 0 PID: 1 at kernel/dma/direct.h:103 "
                       f"{self.machine.symbolize(self.api.exports[fn])}")
            log.log(4, "---[ end trace 0000000000000000 ]---")
        return False

    def _map(self, dev: int, pdev: Any, fn: str, phys: int, size: int, direction: int, kind: str) -> int:
        bus = phys                               # direct mapping
        if not self._capable(dev, fn, bus, size):
            return DMA_MAPPING_ERROR
        self.machine.dma.map(pdev, bus, phys, size, kind=kind, owner=self._module(),
                             device_reads=direction in (DMA_BIDIRECTIONAL, DMA_TO_DEVICE),
                             device_writes=direction in (DMA_BIDIRECTIONAL, DMA_FROM_DEVICE))
        return bus

    def _unmap(self, dev: int, pdev: Any, bus: int, size: int) -> None:
        if self.machine.dma.unmap(pdev, bus, size) is None:
            if self.machine.dma.unmap(pdev, bus) is None:
                self._debug(dev, "free DMA memory it has not allocated", bus, size)
            else:
                self._debug(dev, "free DMA memory with a different size than it was mapped", bus, size)

    def _ram_phys(self, va: int, size: int) -> int | None:
        """Physical address of a direct-map range, or None."""
        pa = va - DIRECT_MAP
        if 0 <= pa and pa + size <= self.mm.ram_size:
            return pa
        return None

    def _page_phys(self, page: int) -> int | None:
        off = page - VMEMMAP_START
        if off < 0 or off % STRUCT_PAGE_SIZE:
            return None
        pa = off // STRUCT_PAGE_SIZE * PAGE_SIZE
        return pa if pa < self.mm.ram_size else None

    # ---- masks ---------------------------------------------------------------------------

    @export(nargs=2)
    def dma_set_mask(self, dev: int, mask: int) -> int:
        """-EIO below 24 bits (dma_supported() on x86) or without a mask pointer."""
        ptr = self.mm.read_uint(dev + DEVICE_DMA_MASK_OFF, 8) if self._pdev(dev) is not None else 0
        if not ptr or mask < MIN_MASK:
            return -errno.EIO
        self.mm.write_uint(ptr, 8, mask)
        return 0

    @export(nargs=2)
    def dma_set_coherent_mask(self, dev: int, mask: int) -> int:
        if self._pdev(dev) is None or mask < MIN_MASK:
            return -errno.EIO
        self.mm.write_uint(dev + DEVICE_COHERENT_MASK_OFF, 8, mask)
        return 0

    # ---- coherent memory -------------------------------------------------------------------

    def alloc_coherent(self, dev: int, fn: str, size: int, handle: int = 0) -> int:
        """Coherent memory for the device at ``dev``: its cpu address (0 if
        none), the bus address written to ``handle`` when given."""
        pdev = self._pdev(dev)
        if pdev is None:
            self._no_device(fn, dev)
            return 0
        if size == 0:
            return 0
        span = (size + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE
        order_bytes = 1 << (span - 1).bit_length()       # aligned to its order, as the API promises
        frames = self.mm.frames                           # the low half of RAM, lowest first
        pa = frames.alloc(span, max(PAGE_SIZE, order_bytes))
        if pa is None:
            return 0
        if pa + size - 1 > self.coherent_mask(dev):
            frames.free(pa)
            self.machine.log.log(4, f"{self._prefix(dev)}: {fn}: no memory below the coherent "
                                    f"mask {self.coherent_mask(dev):#x} for {size} bytes")
            return 0
        self.cpu.write_phys(pa, bytes(span))              # the API returns zeroed memory
        va = DIRECT_MAP + pa
        self.machine.dma.map(pdev, pa, pa, size, device_reads=True, device_writes=True, kind="coherent",
                             owner=self._module())
        self._coherent[va] = CoherentBuffer(dev, pdev, pa, size, span)
        if handle:
            self.mm.write_uint(handle, 8, pa)
        return va

    def free_coherent(self, dev: int, fn: str, size: int, cpu_addr: int, handle: int) -> None:
        pdev = self._pdev(dev)
        if pdev is None:
            self._no_device(fn, dev)
            return
        buf = self._coherent.get(cpu_addr)
        if buf is None or buf.pdev is not pdev or buf.phys != handle:
            self._debug(dev, "free DMA memory it has not allocated", handle, size)
            return
        if buf.size != size:
            self._debug(dev, "free DMA memory with a different size than it was allocated", handle, size)
        self._release(cpu_addr)

    def _release(self, cpu_addr: int) -> None:
        buf = self._coherent.pop(cpu_addr)
        self.machine.dma.unmap(buf.pdev, buf.phys, buf.size)
        self.mm.frames.free(buf.phys)

    @export(nargs=5)
    def dma_alloc_attrs(self, dev: int, size: int, handle: int, gfp: int, attrs: int) -> int:
        return self.alloc_coherent(dev, "dma_alloc_attrs", size, handle)

    @export(nargs=5)
    def dma_free_attrs(self, dev: int, size: int, cpu_addr: int, handle: int, attrs: int) -> None:
        self.free_coherent(dev, "dma_free_attrs", size, cpu_addr, handle)

    def coherent_buffers(self) -> list[CoherentBuffer]:
        return list(self._coherent.values())

    # ---- streaming mappings ------------------------------------------------------------------

    @export(nargs=5)
    def dma_map_single_attrs(self, dev: int, ptr: int, size: int, direction: int, attrs: int) -> int:
        direction = self._check_dir("dma_map_single", direction)
        pdev = self._pdev(dev)
        if pdev is None:
            self._no_device("dma_map_single", dev)
            return DMA_MAPPING_ERROR
        pa = self._ram_phys(ptr, size)
        if pa is None:
            self.machine.log.log(4, f"{self._prefix(dev)}: dma_map_single: {ptr:#x} is not in the "
                                    "direct map (stack, vmalloc and module memory cannot be DMA-mapped)")
            return DMA_MAPPING_ERROR
        # The kernel's dma_map_single is an inline around dma_map_page_attrs.
        return self._map(dev, pdev, "dma_map_page_attrs", pa, size, direction, "single")

    @export(nargs=5)
    def dma_unmap_single_attrs(self, dev: int, addr: int, size: int, direction: int, attrs: int) -> None:
        self._check_dir("dma_unmap_single", direction)
        pdev = self._pdev(dev)
        if pdev is not None:
            self._unmap(dev, pdev, addr, size)

    @export(nargs=6)
    def dma_map_page_attrs(self, dev: int, page: int, offset: int, size: int, direction: int,
                           attrs: int) -> int:
        direction = self._check_dir("dma_map_page", direction)
        pdev = self._pdev(dev)
        if pdev is None:
            self._no_device("dma_map_page", dev)
            return DMA_MAPPING_ERROR
        base = self._page_phys(page)
        if base is None or base + offset + size > self.mm.ram_size:
            self.machine.log.log(4, f"{self._prefix(dev)}: dma_map_page: {page:#x}+{offset:#x} "
                                    "is not a page of RAM")
            return DMA_MAPPING_ERROR
        return self._map(dev, pdev, "dma_map_page_attrs", base + offset, size, direction, "page")

    @export(nargs=5)
    def dma_unmap_page_attrs(self, dev: int, addr: int, size: int, direction: int, attrs: int) -> None:
        self._check_dir("dma_unmap_page", direction)
        pdev = self._pdev(dev)
        if pdev is not None:
            self._unmap(dev, pdev, addr, size)

    def _sg_entries(self, sg: int, nents: int):
        """(address, page_link, offset, length) of the first ``nents`` entries,
        following chain links."""
        out = []
        while sg and len(out) < nents:
            raw = self.mm.read(sg, SG_SIZE)
            link = int.from_bytes(raw[0:8], "little")
            if link & SG_CHAIN:
                sg = link & ~(SG_CHAIN | SG_END)
                continue
            out.append((sg, link, int.from_bytes(raw[8:12], "little"), int.from_bytes(raw[12:16], "little")))
            if link & SG_END:
                break
            sg += SG_SIZE
        return out

    @export(nargs=5)
    def dma_map_sg_attrs(self, dev: int, sg: int, nents: int, direction: int, attrs: int) -> int:
        """Maps every entry (no merging: the count returned is ``nents``);
        0 if any fails, with the ones done unmapped again."""
        direction = self._check_dir("dma_map_sg", direction)
        pdev = self._pdev(dev)
        if pdev is None:
            self._no_device("dma_map_sg", dev)
            return 0
        nents = _s32(nents)
        if nents <= 0:
            return 0
        done: list[tuple[int, int]] = []
        for ent, link, offset, length in self._sg_entries(sg, nents):
            base = self._page_phys(link & ~(SG_CHAIN | SG_END))
            bus = DMA_MAPPING_ERROR
            if base is not None and base + offset + length <= self.mm.ram_size:
                bus = self._map(dev, pdev, "dma_map_sg_attrs", base + offset, length, direction, "sg")
            if bus == DMA_MAPPING_ERROR:
                for b, n in done:
                    self.machine.dma.unmap(pdev, b, n)
                return 0
            self.mm.write_uint(ent + SG_DMA_ADDRESS_OFF, 8, bus)
            self.mm.write_uint(ent + SG_DMA_LENGTH_OFF, 4, length)
            done.append((bus, length))
        return len(done)

    @export(nargs=5)
    def dma_unmap_sg_attrs(self, dev: int, sg: int, nents: int, direction: int, attrs: int) -> None:
        self._check_dir("dma_unmap_sg", direction)
        pdev = self._pdev(dev)
        if pdev is None:
            return
        for ent, _link, _offset, length in self._sg_entries(sg, _s32(nents)):
            self._unmap(dev, pdev, self.mm.read_uint(ent + SG_DMA_ADDRESS_OFF, 8), length)

    # ---- sync: x86 is cache-coherent, so only the checks remain -------------------------------

    def _sync(self, dev: int, addr: int, size: int, direction: int, fn: str) -> None:
        self._check_dir(fn, direction)
        pdev = self._pdev(dev)
        if pdev is None:
            return
        for m in self.machine.dma.mappings(pdev):
            if m.bus <= addr and addr + size <= m.end:
                return
        self._debug(dev, "sync DMA memory it has not allocated", addr, size)

    @export(nargs=4)
    def dma_sync_single_for_cpu(self, dev: int, addr: int, size: int, direction: int) -> None:
        self._sync(dev, addr, size, direction, "dma_sync_single_for_cpu")

    @export(nargs=4)
    def dma_sync_single_for_device(self, dev: int, addr: int, size: int, direction: int) -> None:
        self._sync(dev, addr, size, direction, "dma_sync_single_for_device")

    def _sync_sg(self, dev: int, sg: int, nents: int, direction: int, fn: str) -> None:
        for ent, _link, _offset, length in self._sg_entries(sg, _s32(nents)):
            self._sync(dev, self.mm.read_uint(ent + SG_DMA_ADDRESS_OFF, 8), length, direction, fn)

    @export(nargs=4)
    def dma_sync_sg_for_cpu(self, dev: int, sg: int, nents: int, direction: int) -> None:
        self._sync_sg(dev, sg, nents, direction, "dma_sync_sg_for_cpu")

    @export(nargs=4)
    def dma_sync_sg_for_device(self, dev: int, sg: int, nents: int, direction: int) -> None:
        self._sync_sg(dev, sg, nents, direction, "dma_sync_sg_for_device")

    # ---- pools ---------------------------------------------------------------------------------

    @export(nargs=5)
    def dma_pool_create(self, name: int, dev: int, size: int, align: int, boundary: int) -> int:
        pdev = self._pdev(dev)
        if pdev is None:
            self._no_device("dma_pool_create", dev)
            return 0
        align = align or 1
        if size == 0 or size > 1 << 31 or align & (align - 1) or boundary & (boundary - 1):
            return 0
        size = max(8, (size + align - 1) // align * align)
        allocation = max(PAGE_SIZE, size)
        boundary = boundary or allocation
        if boundary < size:
            return 0
        va = self.mm.kmalloc(64)
        if not va:
            return 0
        text = self.mm.read_cstring(name, 32).decode("utf-8", "replace") if name else ""
        self.mm.write(va, dev.to_bytes(8, "little") + bytes(56))
        self._pools[va] = Pool(va, dev, pdev, text, size, min(boundary, allocation), allocation)
        return va

    def _pool_destroy(self, pool: Pool) -> None:
        del self._pools[pool.va]
        if pool.used:
            self.machine.log.log(3, f"{self._prefix(pool.dev)}: dma_pool_destroy {pool.name} busy")
        for page in pool.pages:
            self._release(page)
        self.mm.kfree(pool.va)

    @export(nargs=1)
    def dma_pool_destroy(self, pool_va: int) -> None:
        pool = self._pools.get(pool_va)
        if pool is not None:
            self._pool_destroy(pool)

    @export(nargs=3)
    def dma_pool_alloc(self, pool_va: int, gfp: int, handle: int) -> int:
        pool = self._pools.get(pool_va)
        if pool is None:
            self._bug(f"dma_pool_alloc: {pool_va:#x} is not a dma_pool")
        if not pool.free:
            page = self.alloc_coherent(pool.dev, "dma_pool_alloc", pool.allocation)
            if not page:
                return 0
            pool.pages.append(page)
            blocks, off = [], 0
            while off + pool.size <= pool.allocation:
                if off // pool.boundary != (off + pool.size - 1) // pool.boundary:
                    off = (off // pool.boundary + 1) * pool.boundary
                    continue
                blocks.append(page + off)
                off += pool.size
            pool.free.extend(reversed(blocks))
        va = pool.free.pop()
        pool.used.add(va)
        if _u32(gfp) & GFP_ZERO:
            self.mm.write(va, bytes(pool.size))
        if handle:
            self.mm.write_uint(handle, 8, va - DIRECT_MAP)
        return va

    @export(nargs=3)
    def dma_pool_free(self, pool_va: int, vaddr: int, addr: int) -> None:
        pool = self._pools.get(pool_va)
        if pool is None or vaddr not in pool.used or addr != vaddr - DIRECT_MAP:
            if pool is not None:
                self._debug(pool.dev, "free DMA memory it has not allocated", addr, pool.size)
            return
        pool.used.discard(vaddr)
        pool.free.append(vaddr)

    # ---- module lifetime ------------------------------------------------------------------------

    def module_unloaded(self, module: Any) -> None:
        """Say so when a module leaves DMA mappings or coherent buffers
        behind (the kernel's DMA-API debugging does at unbind).  They stay
        mapped, as in the kernel: the device can still reach them."""
        left = self.machine.dma.owned_by(module.name)
        by_device: dict[int, list] = {}
        for pdev, m in left:
            if pdev is not None:
                by_device.setdefault(id(pdev), [pdev]).append(m)
        for pdev, first, *rest in by_device.values():
            dev = self.api.pci.pci_va[id(pdev)] + PCI_DEV_DEV_OFF
            self.machine.log.log(4, f"DMA-API: {self._prefix(dev)}: device driver has pending DMA "
                                    f"allocations while released from device [count={1 + len(rest)}]")
            direction = ("DMA_BIDIRECTIONAL" if first.device_reads and first.device_writes else
                         "DMA_TO_DEVICE" if first.device_reads else "DMA_FROM_DEVICE")
            kind = "scatter-gather" if first.kind == "sg" else first.kind
            self.machine.log.log(4, f"One of leaked entries details: [device address={first.bus:#018x}] "
                                    f"[size={first.size} bytes] [mapped with {direction}] [mapped as {kind}]")
