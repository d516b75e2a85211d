"""``ftrace-mmio annotate``: every line of a dump, with where it went and what it means.

The original line is kept as it was, byte for byte, and the annotation is
appended after ``  # ``, so ``grep PMC_ENABLE`` finds the accesses and
``sed 's/  # .*//'`` gives the dump back::

    R 4 0.000010 1 0xf6000000 0xe4000a1 0x0 0  # nvlike BAR0+0x000000 PMC_BOOT_0 = 0xe4000a1 (STEPPING=0xa1, CHIPSET=GK104)

Lines that say nothing about a device (VERSION, markers, the header) are
copied unchanged.
"""

from __future__ import annotations

from typing import Callable

from .parse import Access, Batch, DumpParser, Map, PciDev, Problem, Record, Source, Unknown, Unmap
from .resolve import Resolver, Where

__all__ = ["annotation", "annotate"]


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n:#x} bytes"


def _access_note(where: Where, op: str, width: int, value: int) -> str:
    text = where.decode(value, width, op)
    return f"{where.location} {text}" if text else where.location


def annotation(rec: Record, resolver: Resolver) -> str | None:
    """The annotation for one record (the resolver must have been fed it already)."""
    if isinstance(rec, Access):
        return _access_note(resolver.where(rec.phys, rec.map_id), rec.op, rec.width, rec.value)
    if isinstance(rec, Unknown):
        where = resolver.where(rec.phys, rec.map_id)
        reg = where.register()
        return f"{where.location} {reg}" if reg else where.location
    if isinstance(rec, Map):
        where = resolver.where(rec.phys, rec.map_id)
        return f"map{rec.map_id} = {where.location}, {_size(rec.length)}"
    if isinstance(rec, PciDev):
        dev = next((d for d in resolver.devices if d.pcidev is rec), None)
        if dev is None or dev.maps is None:
            return None
        named = ", ".join(f"BAR{i} {m.__name__}" for i, m in sorted(dev.maps.bars.items()))
        return f"{dev.name} {rec.slot}" + (f" (registers: {named})" if named else "")
    return None


#: Annotations of R/W accesses remembered between two changes of the mappings: a driver's
#: trace repeats the same (register, value) pairs (polling), and decoding fields is the cost.
NOTE_CACHE = 1 << 16


def annotate(source: Source, resolver: Resolver, write: Callable[[str], None], *,
             strict: bool = False, on_problem: Callable[[Problem], None] | None = None) -> DumpParser:
    """Annotate a dump, writing each output line (newline included) with ``write``.

    Lines are copied from the input as they were, not reprinted, so a dump
    the kernel did not print (zero-padded values, say) still shows as it
    is. Returns the parser, whose ``problems`` say what could not be read.
    """
    parser = DumpParser(strict, on_problem, keep_raw=True)
    notes: dict[tuple[int, int, int, int, int], str] = {}
    for item in parser.items(source):
        if type(item) is Batch:
            # Runs of R/W lines: the tokenizer's fields, a note per distinct access.
            out = []
            buf, base = item.buf, item.base   # type: ignore[union-attr]
            for ts, phys, value, pc, _length, map_id, pid, start, ln, kind, width in item.fields():  # type: ignore[union-attr]
                key = (phys, map_id, kind, width, value)
                note = notes.get(key)
                if note is None:
                    if len(notes) >= NOTE_CACHE:
                        notes.clear()
                    note = notes[key] = _access_note(resolver.where(phys, map_id), "R" if kind == 1 else "W",
                                                     width, value)
                out.append(f"{buf[base + start:base + start + ln].decode('ascii')}  # {note}\n")
            write("".join(out))
            continue
        rec: Record = item   # type: ignore[assignment]
        resolver.feed(rec)
        if isinstance(rec, (Map, Unmap, PciDev)):
            notes.clear()
        note = annotation(rec, resolver)
        # Records that span lines (markers, joined PCIDEV) keep their own line breaks;
        # the note goes on the last one, where grep shows it with the record's end.
        write(f"{rec.raw}  # {note}\n" if note else f"{rec.raw}\n")
    return parser
