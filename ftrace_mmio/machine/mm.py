"""Memory: physical RAM, x86-64 page tables, and the kernel's address areas.

The layout copies x86-64 Linux so addresses in oopses and traces look
familiar::

    0xffff888000000000  direct map of all RAM (2 MiB pages, NX): kmalloc
    0xffffc90000000000  vmalloc area: kernel stack, ioremap (4 KiB pages, NX)
    0xffffffff81000000  kernel text: the return pad and the kernel-API stubs
    0xffffffffc0000000  modules: text RX, rodata R+NX, data/bss RW+NX

Physical RAM starts at 0; frame 0 is never handed out.  The lower half of
RAM holds page tables, module pages and stacks (the frame allocator); the
upper half is the kmalloc heap.  Page tables must stay below 4 GiB because
unicorn truncates CR3 to 32 bits (emulation.md P10), so RAM is capped there.

Data is mapped NX on purpose: stores to executable pages take unicorn's slow
path and cost 6-9x more (P7).

Every PTE this module writes is also kept in a Python-side shadow, so that
``virt_to_phys`` and present-bit flips cost one dict lookup instead of a
four-level walk through guest memory; :meth:`Mm.walk` does the real walk.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from .cpu import Cpu

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_MASK = ~(PAGE_SIZE - 1)
HUGE_SIZE = 1 << 21

PTE_P = 1 << 0
PTE_RW = 1 << 1
PTE_PWT = 1 << 3
PTE_PCD = 1 << 4
PTE_A = 1 << 5
PTE_D = 1 << 6
PTE_PS = 1 << 7
PTE_G = 1 << 8
PTE_NX = 1 << 63
PTE_ADDR = 0x000F_FFFF_FFFF_F000

DIRECT_MAP = 0xFFFF_8880_0000_0000
VMALLOC_START = 0xFFFF_C900_0000_0000
VMALLOC_END = 0xFFFF_E900_0000_0000
KERNEL_TEXT = 0xFFFF_FFFF_8100_0000
KERNEL_IMAGE = 0xFFFF_FFFF_8120_0000      # the kernel's own guest code (klib, core), past the stub pages
KERNEL_IMAGE_END = 0xFFFF_FFFF_A000_0000
MODULES_VADDR = 0xFFFF_FFFF_C000_0000
MODULES_END = 0xFFFF_FFFF_FF00_0000

ZERO_SIZE_PTR = 0x10          # what kmalloc(0) returns, as in the kernel


def page_align(n: int) -> int:
    return (n + PAGE_SIZE - 1) & PAGE_MASK


class MemoryFault(Exception):
    """A kernel-side access (printk reading a string, a copy into a buffer)
    touched an address with no present mapping to RAM."""

    def __init__(self, va: int, write: bool = False) -> None:
        super().__init__(f"{'write to' if write else 'read from'} unmapped address {va:#x}")
        self.va = va
        self.write = write


class Extents:
    """First-fit allocator over [start, end), with alignment; used for
    physical frames, the kmalloc heap and the virtual areas."""

    def __init__(self, start: int, end: int) -> None:
        self.start, self.end = start, end
        self._free: list[tuple[int, int]] = [(start, end)]   # sorted, coalesced
        self.used: dict[int, int] = {}                        # start -> size

    def alloc(self, size: int, align: int = 1) -> int | None:
        for i, (lo, hi) in enumerate(self._free):
            addr = (lo + align - 1) // align * align
            if addr + size <= hi:
                pieces = []
                if lo < addr:
                    pieces.append((lo, addr))
                if addr + size < hi:
                    pieces.append((addr + size, hi))
                self._free[i:i + 1] = pieces
                self.used[addr] = size
                return addr
        return None

    def free(self, addr: int) -> int:
        """Release an allocation; returns its size.  KeyError if ``addr``
        was not returned by :meth:`alloc`."""
        size = self.used.pop(addr)
        lo, hi = addr, addr + size
        i = bisect.bisect_left(self._free, (lo, hi))
        if i < len(self._free) and self._free[i][0] == hi:
            hi = self._free.pop(i)[1]
        if i > 0 and self._free[i - 1][1] == lo:
            lo = self._free.pop(i - 1)[0]
            i -= 1
        self._free.insert(i, (lo, hi))
        return size

    def owner(self, addr: int) -> int | None:
        """The allocation containing ``addr``, if any."""
        starts = sorted(self.used)
        i = bisect.bisect_right(starts, addr) - 1
        if i >= 0 and addr < starts[i] + self.used[starts[i]]:
            return starts[i]
        return None

    @property
    def free_bytes(self) -> int:
        return sum(hi - lo for lo, hi in self._free)


@dataclass
class IoMapping:
    """One ioremap: ``cookie`` is what the driver got back."""

    cookie: int
    va: int              # page-aligned start of the mapped pages
    npages: int
    phys: int            # unaligned, as passed to ioremap
    size: int            # unaligned, as passed to ioremap
    owner: str | None    # module that created it


class Mm:
    """Page tables and the allocators behind kmalloc, vmalloc and ioremap."""

    def __init__(self, cpu: Cpu, ram_size: int) -> None:
        if ram_size % HUGE_SIZE or ram_size < 8 * HUGE_SIZE or ram_size > 1 << 31:
            raise ValueError("RAM size must be a multiple of 2 MiB between 16 MiB and 2 GiB")
        self.cpu = cpu
        self.ram_size = ram_size
        heap_start = ram_size // 2
        self.frames = Extents(PAGE_SIZE, heap_start)
        self.heap = Extents(DIRECT_MAP + heap_start, DIRECT_MAP + ram_size)
        self.vmalloc = Extents(VMALLOC_START, VMALLOC_END)
        self.modules = Extents(MODULES_VADDR, MODULES_END)
        self.kernel_image = Extents(KERNEL_IMAGE, KERNEL_IMAGE_END)
        self._pte_addr: dict[int, int] = {}     # virtual page number -> PTE physical address
        self._pte_val: dict[int, int] = {}      # virtual page number -> PTE value
        self.iomaps: dict[int, IoMapping] = {}  # cookie -> mapping
        self.pml4 = self.alloc_frames(1)
        self._map_direct()
        cpu.translate = self.virt_to_phys

    # ---- frames ------------------------------------------------------------

    def alloc_frames(self, n: int) -> int:
        pa = self.frames.alloc(n * PAGE_SIZE, PAGE_SIZE)
        if pa is None:
            raise MemoryError(f"out of physical pages ({n} wanted)")
        self.cpu.write_phys(pa, bytes(n * PAGE_SIZE))
        return pa

    def free_frames(self, pa: int) -> None:
        self.frames.free(pa)

    # ---- page tables ----------------------------------------------------------

    def _table_entry(self, va: int, levels: int) -> int:
        """Physical address of the entry for ``va`` at depth ``levels``
        (1 = PML4 ... 4 = PTE), creating intermediate tables."""
        table = self.pml4
        for depth, shift in enumerate((39, 30, 21, 12)[:levels], start=1):
            entry_addr = table + 8 * ((va >> shift) & 511)
            if depth == levels:
                return entry_addr
            entry = self.cpu.read_u64(entry_addr)
            if not entry & PTE_P:
                entry = self.alloc_frames(1) | PTE_P | PTE_RW | PTE_A
                self.cpu.write_u64(entry_addr, entry)
            elif entry & PTE_PS:
                raise ValueError(f"{va:#x} is inside a large page")
            table = entry & PTE_ADDR
        raise AssertionError("unreachable")

    def _map_direct(self) -> None:
        for off in range(0, self.ram_size, HUGE_SIZE):
            pde = self._table_entry(DIRECT_MAP + off, 3)
            self.cpu.write_u64(pde, off | PTE_P | PTE_RW | PTE_A | PTE_D | PTE_PS | PTE_G | PTE_NX)

    def map_page(self, va: int, pa: int, *, writable: bool = False, executable: bool = False,
                 uncached: bool = False, present: bool = True) -> None:
        """Map one 4 KiB page.  Mapping over an existing page replaces it
        (flush the TLB yourself if it was present)."""
        pte = (pa & PTE_ADDR) | PTE_A | PTE_D | PTE_G
        if present:
            pte |= PTE_P
        if writable:
            pte |= PTE_RW
        if not executable:
            pte |= PTE_NX
        if uncached:
            pte |= PTE_PCD | PTE_PWT
        vpn = va >> PAGE_SHIFT
        addr = self._pte_addr.get(vpn)
        if addr is None:
            addr = self._pte_addr[vpn] = self._table_entry(va, 4)
        self._pte_val[vpn] = pte
        self.cpu.write_u64(addr, pte)

    def unmap_pages(self, va: int, npages: int) -> None:
        """Remove mappings and flush the TLB once."""
        for i in range(npages):
            vpn = (va >> PAGE_SHIFT) + i
            addr = self._pte_addr.pop(vpn, None)
            self._pte_val.pop(vpn, None)
            if addr is not None:
                self.cpu.write_u64(addr, 0)
        self.cpu.flush_tlb()

    def pte_address(self, va: int) -> int | None:
        """Physical address of the 4 KiB PTE mapping ``va`` (None if there
        is none, e.g. inside the direct map's large pages)."""
        return self._pte_addr.get(va >> PAGE_SHIFT)

    def pte(self, va: int) -> int | None:
        return self._pte_val.get(va >> PAGE_SHIFT)

    @property
    def pte_shadow(self) -> dict[int, int]:
        """The live shadow: virtual page number -> PTE value.  Anyone who
        writes a PTE into guest memory directly (a fast path that skips
        :meth:`set_present`) must store the new value here too."""
        return self._pte_val

    def is_present(self, va: int) -> bool:
        pte = self._pte_val.get(va >> PAGE_SHIFT)
        return pte is not None and bool(pte & PTE_P)

    def set_present(self, va: int, present: bool, flush: bool = True) -> None:
        """Set or clear the present bit of the 4 KiB page holding ``va``
        (what kmmio arms and disarms).  Clearing flushes the TLB unless
        ``flush`` is False (then the caller must call ``cpu.flush_tlb()``
        before running guest code); setting never needs a flush."""
        vpn = va >> PAGE_SHIFT
        pte = self._pte_val[vpn]
        new = pte | PTE_P if present else pte & ~PTE_P
        if new != pte:
            self._pte_val[vpn] = new
            self.cpu.write_u64(self._pte_addr[vpn], new)
        if not present and flush:
            self.cpu.flush_tlb()

    def walk(self, va: int) -> tuple[int, int] | None:
        """A real page-table walk through guest memory: (physical address,
        leaf entry) or None if a level is not present."""
        table = self.pml4
        for shift in (39, 30, 21, 12):
            entry = self.cpu.read_u64(table + 8 * ((va >> shift) & 511))
            if not entry & PTE_P:
                return None
            if shift in (30, 21) and entry & PTE_PS:
                size = 1 << shift
                return (entry & PTE_ADDR & ~(size - 1)) | (va & (size - 1)), entry
            table = entry & PTE_ADDR
        return (entry & PTE_ADDR) | (va & (PAGE_SIZE - 1)), entry

    def virt_to_phys(self, va: int, present_only: bool = True) -> int:
        """Translate a kernel virtual address; :class:`MemoryFault` if no
        page maps it (or it is not present and ``present_only``)."""
        if DIRECT_MAP <= va < DIRECT_MAP + self.ram_size:
            return va - DIRECT_MAP
        pte = self._pte_val.get(va >> PAGE_SHIFT)
        if pte is None or (present_only and not pte & PTE_P):
            raise MemoryFault(va)
        return (pte & PTE_ADDR) | (va & (PAGE_SIZE - 1))

    # ---- kernel-virtual memory access (RAM only) ------------------------------

    def _ram_chunks(self, va: int, size: int, write: bool):
        while size > 0:
            try:
                pa = self.virt_to_phys(va)
            except MemoryFault:
                raise MemoryFault(va, write) from None
            n = min(size, PAGE_SIZE - (va & (PAGE_SIZE - 1)))
            if pa + n > self.ram_size:
                # Device memory: reading it here would bypass the device path.
                raise MemoryFault(va, write)
            if write and not self._pte_writable(va):
                raise MemoryFault(va, write)
            yield pa, n
            va += n
            size -= n

    def _pte_writable(self, va: int) -> bool:
        if DIRECT_MAP <= va < DIRECT_MAP + self.ram_size:
            return True
        return bool(self._pte_val.get(va >> PAGE_SHIFT, 0) & PTE_RW)

    def read(self, va: int, size: int) -> bytes:
        return b"".join(self.cpu.read_phys(pa, n) for pa, n in self._ram_chunks(va, size, False))

    def write(self, va: int, data: bytes) -> None:
        off = 0
        for pa, n in self._ram_chunks(va, len(data), True):
            self.cpu.write_phys(pa, data[off:off + n])
            off += n

    def read_uint(self, va: int, size: int) -> int:
        return int.from_bytes(self.read(va, size), "little")

    def write_uint(self, va: int, size: int, value: int) -> None:
        self.write(va, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))

    def read_cstring(self, va: int, limit: int = 1 << 16) -> bytes:
        """A NUL-terminated string, read page by page."""
        out = bytearray()
        while len(out) < limit:
            chunk = self.read(va, PAGE_SIZE - (va & (PAGE_SIZE - 1)))
            nul = chunk.find(b"\0")
            if nul >= 0:
                out += chunk[:nul]
                return bytes(out[:limit])
            out += chunk
            va += len(chunk)
        return bytes(out[:limit])

    # ---- kmalloc ------------------------------------------------------------------

    def kmalloc(self, size: int) -> int:
        """A direct-map address, or 0 when the heap is exhausted.  Power-of-
        two sizes are naturally aligned (up to a page), as the kernel
        promises."""
        if size == 0:
            return ZERO_SIZE_PTR
        align = min(PAGE_SIZE, max(8, 1 << (size - 1).bit_length()))
        return self.heap.alloc(size, align) or 0

    def kfree(self, va: int) -> None:
        """KeyError for a pointer kmalloc did not return (or freed twice)."""
        if va == 0 or va == ZERO_SIZE_PTR:
            return
        self.heap.free(va)

    def ksize(self, va: int) -> int | None:
        return self.heap.used.get(va)

    # ---- vmalloc area: stacks and ioremap ------------------------------------------

    def map_new_pages(self, va: int, npages: int, *, writable: bool, executable: bool) -> int:
        """Back ``npages`` pages at ``va`` with fresh zeroed frames
        (physically contiguous); returns the first frame."""
        pa = self.alloc_frames(npages)
        for i in range(npages):
            self.map_page(va + i * PAGE_SIZE, pa + i * PAGE_SIZE, writable=writable, executable=executable)
        return pa

    def alloc_stack(self, size: int) -> tuple[int, int]:
        """A kernel stack with an unmapped guard page below it:
        returns (lowest mapped address, top)."""
        npages = page_align(size) // PAGE_SIZE
        area = self.vmalloc.alloc((npages + 1) * PAGE_SIZE, PAGE_SIZE)
        assert area is not None
        self.map_new_pages(area + PAGE_SIZE, npages, writable=True, executable=False)
        return area + PAGE_SIZE, area + (npages + 1) * PAGE_SIZE

    def ioremap(self, phys: int, size: int, owner: str | None = None) -> int:
        """Map device memory; returns the cookie (page-aligned area plus the
        offset of ``phys`` in its page), 0 if it cannot.  Areas are aligned
        to their size rounded up to a power of two (like the kernel's
        get_vm_area for ioremap) and followed by a guard page."""
        if size == 0 or phys + size - 1 >= 1 << 52 or phys < 0:
            return 0
        offset = phys & (PAGE_SIZE - 1)
        first = phys & PAGE_MASK
        npages = page_align(offset + size) // PAGE_SIZE
        align = min(1 << 30, max(PAGE_SIZE, 1 << (npages * PAGE_SIZE - 1).bit_length()))
        va = self.vmalloc.alloc((npages + 1) * PAGE_SIZE, align)
        if va is None:
            return 0
        for i in range(npages):
            self.map_page(va + i * PAGE_SIZE, first + i * PAGE_SIZE, writable=True, uncached=True)
        cookie = va + offset
        self.iomaps[cookie] = IoMapping(cookie, va, npages, phys, size, owner)
        return cookie

    def find_iomap(self, addr: int) -> IoMapping | None:
        """The mapping iounmap(addr) means: like the kernel, the one whose
        area starts at the page holding ``addr``."""
        m = self.iomaps.get(addr)
        if m is not None:
            return m
        base = addr & PAGE_MASK
        return next((m for m in self.iomaps.values() if m.va == base), None)

    def iounmap(self, mapping: IoMapping) -> None:
        del self.iomaps[mapping.cookie]
        self.unmap_pages(mapping.va, mapping.npages)
        self.vmalloc.free(mapping.va)

    @staticmethod
    def is_vmalloc(va: int) -> bool:
        return VMALLOC_START <= va < VMALLOC_END
