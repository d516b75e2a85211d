"""The kernel's mmiotrace line formats, one function per record kind.

These are facts of the format (trace_mmiotrace.c's printf strings), kept in
one place: the tracer writes its lines with them and the analysis parser
reprints parsed records with them, so a round trip cannot drift from what
the tracer produces. Timestamps are whole microseconds here; the tracer
rounds its nanoseconds with :func:`ns_to_us` first, as the kernel does.
"""

from __future__ import annotations

from typing import Iterable


def ns_to_us(ns: int) -> int:
    """The kernel's ns2usecs: rounded to the nearest microsecond, not truncated."""
    return (ns + 500) // 1000


def ts(us: int) -> str:
    """``%u.%06lu``: seconds (wrapping at 32 bits, unpadded), then six digits."""
    return f"{(us // 1_000_000) & 0xFFFFFFFF}.{us % 1_000_000:06d}"


def rw_line(op: str, width: int, us: int, map_id: int, phys: int, value: int, pc: int, pid: int = 0) -> str:
    """An ``R`` or ``W`` record."""
    return f"{op} {width} {ts(us)} {map_id} 0x{phys:x} 0x{value:x} 0x{pc:x} {pid}\n"


def unknown_line(us: int, map_id: int, phys: int, raw3: Iterable[int], pc: int, pid: int = 0) -> str:
    """An ``UNKNOWN`` record: the first three bytes at the faulting instruction."""
    b = ",".join(f"{x & 0xFF:02x}" for x in raw3)
    return f"UNKNOWN {ts(us)} {map_id} 0x{phys:x} {b} 0x{pc:x} {pid}\n"


def map_line(us: int, map_id: int, phys: int, virt: int, length: int, pc: int = 0, pid: int = 0) -> str:
    """A ``MAP`` record (ioremap); the kernel always prints pc 0x0 and pid 0."""
    return f"MAP {ts(us)} {map_id} 0x{phys:x} 0x{virt:x} 0x{length:x} 0x{pc:x} {pid}\n"


def unmap_line(us: int, map_id: int, pc: int = 0, pid: int = 0) -> str:
    """An ``UNMAP`` record (iounmap); map id -1 for an address no traced mapping had."""
    return f"UNMAP {ts(us)} {map_id} 0x{pc:x} {pid}\n"


def mark_line(us: int, text: str) -> str:
    """A ``MARK``: ``text`` as stored, its newline included (the format adds none)."""
    return f"MARK {ts(us)} {text}"


def lost_line(count: int) -> str:
    """mmiotrace's own loss report; the kernel stamps it 0.000000 (it comes late)."""
    return f"MARK 0.000000 Lost {count} events.\n"


def pcidev_line(busdevfn: int, vendor_device: int, irq: int, starts: Iterable[int],
                sizes: Iterable[int], driver: str | None) -> str:
    """One ``PCIDEV`` line; with no driver bound it ends in a space before the newline."""
    parts = [f"PCIDEV {busdevfn:04x} {vendor_device:08x} {irq:x}"]
    parts += [f" {v:x}" for v in starts]
    parts += [f" {v:x}" for v in sizes]
    parts.append(f" {driver}\n" if driver else " \n")
    return "".join(parts)
