"""``ftrace-mmio convert``: a dump as a Parquet table, one typed row per record.

So that a trace -- or a directory of many -- can be queried with DuckDB,
polars, pandas or Spark (docs/analysis.md has the queries). Columns:

=============  =========  ==================================================================
dump           string     the dump's file name (several dumps can share one table)
line           uint64     the record's (first) line in the dump
type           string     R, W, UNKNOWN, MAP, UNMAP, MARK, LOST, CPU_LOST, PCIDEV, VERSION,
                          COMMENT, BUFFER_STARTED, LINE_TOO_BIG, FTRACE, GARBAGE
width          uint8      R/W: bytes accessed
timestamp_us   uint64     microseconds (the dump's secs.micros)
map_id         int64      R/W/UNKNOWN/MAP/UNMAP
address        uint64     R/W/UNKNOWN/MAP: bus address
device         string     the device the address is in (name of its register map, driver or ids)
bar            string     BAR0..BAR5, ROM, or mapN when only a MAP covers it
offset         uint64     from the start of that BAR or mapping (the address, when nothing covers it)
register       string     the register's name, when a register map knows it
value          uint64     R/W: the value; MAP: the kernel-virtual address
length         uint64     MAP: bytes mapped
pc             uint64     R/W/UNKNOWN/MAP/UNMAP
pid            uint64     R/W/UNKNOWN/MAP/UNMAP
count          uint64     LOST/CPU_LOST: events lost
text           string     MARK, FTRACE: the text; PCIDEV, COMMENT, GARBAGE...: the line
=============  =========  ==================================================================

Register names come from the same resolver as ``annotate`` (PCIDEV ids,
``--regmap``, ``--machine``). The dump streams through: rows are written a
row group at a time (``ROW_GROUP`` rows), so memory stays flat whatever the
size. Runs of R/W lines come from the C tokenizer as arrays and are turned
into columns with numpy, a register lookup per distinct address.

Needs pyarrow (and numpy): ``pip install 'ftrace-mmio[analysis]'``.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from .parse import (Access, Batch, CpuLost, DumpParser, FtraceEvent, Lost, Map, Mark, Problem, Record, Source,
                    Unknown, Unmap)
from .resolve import Resolver

__all__ = ["ConvertError", "ConvertResult", "convert", "SCHEMA_COLUMNS", "ROW_GROUP"]

ROW_GROUP = 1 << 20

SCHEMA_COLUMNS = ("dump", "line", "type", "width", "timestamp_us", "map_id", "address", "device", "bar", "offset",
                  "register", "value", "length", "pc", "pid", "count", "text")
_INT_COLUMNS = {"line": "uint64", "width": "uint8", "timestamp_us": "uint64", "map_id": "int64",
                "address": "uint64", "offset": "uint64", "value": "uint64", "length": "uint64", "pc": "uint64",
                "pid": "uint64", "count": "uint64"}
_STR_COLUMNS = ("dump", "type", "device", "bar", "register", "text")


class ConvertError(Exception):
    """pyarrow missing, or the output cannot be written."""


@dataclass
class ConvertResult:
    rows: int = 0
    dumps: int = 0
    problems: int = 0
    per_dump: dict[str, int] = field(default_factory=dict)


def _libs() -> tuple[Any, Any, Any]:
    try:
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ConvertError("convert needs pyarrow: pip install 'ftrace-mmio[analysis]'") from exc
    return np, pa, pq


def _schema(pa: Any) -> Any:
    types = {"uint64": pa.uint64(), "uint8": pa.uint8(), "int64": pa.int64()}
    # Names repeat on millions of rows: dictionary-encoded (readers see plain strings).
    return pa.schema([(c, types[_INT_COLUMNS[c]]) if c in _INT_COLUMNS
                      else (c, pa.string() if c == "text" else pa.dictionary(pa.int32(), pa.string()))
                      for c in SCHEMA_COLUMNS])


class _Table:
    """Rows on their way to a row group: numpy fragments from batches, lists from records."""

    def __init__(self, np: Any, pa: Any, writer: Any, schema: Any) -> None:
        self.np, self.pa, self.writer, self.schema = np, pa, writer, schema
        self.frags: list[dict[str, Any]] = []
        self.rows = 0
        self._slow: dict[str, list[Any]] | None = None

    def add_record_row(self, row: dict[str, Any]) -> None:
        if self._slow is None:
            self._slow = {c: [] for c in SCHEMA_COLUMNS}
            self.frags.append(self._slow)
        for c in SCHEMA_COLUMNS:
            self._slow[c].append(row.get(c))
        self.rows += 1
        if self.rows >= ROW_GROUP:
            self.flush()

    def add_columns(self, cols: dict[str, Any], n: int) -> None:
        self._slow = None
        self.frags.append(cols)
        self.rows += n
        if self.rows >= ROW_GROUP:
            self.flush()

    def flush(self) -> None:
        if not self.frags:
            return
        pa = self.pa
        tables = []
        for frag in self.frags:
            arrays = [v if isinstance(v := frag[c], pa.Array) else pa.array(v, type=self.schema.field(c).type)
                      for c in SCHEMA_COLUMNS]
            tables.append(pa.Table.from_arrays(arrays, schema=self.schema))
        table = pa.concat_tables(tables)
        self.writer.write_table(table, row_group_size=ROW_GROUP)
        self.frags.clear()
        self._slow = None
        self.rows = 0


def _record_row(rec: Record, resolver: Resolver) -> dict[str, Any]:
    row: dict[str, Any] = {"line": rec.line, "type": rec.kind}
    if isinstance(rec, (Access, Unknown)):
        where = resolver.where(rec.phys, rec.map_id)
        op = rec.op if isinstance(rec, Access) else None
        row.update(type=op or "UNKNOWN", timestamp_us=rec.ts_us, map_id=rec.map_id, address=rec.phys,
                   device=where.device or None, bar=where.space or None, offset=where.offset,
                   register=where.register(op),
                   pc=rec.pc, pid=rec.pid)
        if isinstance(rec, Access):
            row.update(width=rec.width, value=rec.value if rec.value < 1 << 64 else None)
    elif isinstance(rec, Map):
        where = resolver.where(rec.phys, rec.map_id)
        row.update(timestamp_us=rec.ts_us, map_id=rec.map_id, address=rec.phys, device=where.device or None,
                   bar=where.space or None, offset=where.offset, value=rec.virt,
                   length=rec.length, pc=rec.pc, pid=rec.pid)
    elif isinstance(rec, Unmap):
        row.update(timestamp_us=rec.ts_us, map_id=rec.map_id, pc=rec.pc, pid=rec.pid)
    elif isinstance(rec, Mark):
        row.update(timestamp_us=rec.ts_us, text=rec.text)
    elif isinstance(rec, FtraceEvent):
        row.update(timestamp_us=rec.ts_us, pid=rec.pid, text=rec.body)
    elif isinstance(rec, (Lost, CpuLost)):
        row.update(count=rec.count)
    else:
        row["text"] = rec.format().rstrip("\n")
    for k in ("address", "pc", "value", "length"):
        if row.get(k) is not None and row[k] >= 1 << 64:
            row[k] = None
    return row


class _BatchColumns:
    """R/W batches to columns, with the register of each distinct (address, map id, R/W) looked up once."""

    def __init__(self, np: Any, pa: Any, resolver: Resolver) -> None:
        self.np, self.pa, self.resolver = np, pa, resolver
        from . import native
        self.dtype = np.dtype({"names": ["ts", "phys", "value", "pc", "length", "map_id", "pid", "start", "len",
                                         "kind", "width"],
                               "formats": ["<u8", "<u8", "<u8", "<u8", "<u8", "<i8", "<u8", "<u4", "<u4", "u1", "u1"],
                               "offsets": [0, 8, 16, 24, 32, 40, 48, 56, 60, 64, 65],
                               "itemsize": ctypes.sizeof(native.FpRec)})
        self.cache: dict[tuple[int, int, int], tuple[str | None, str | None, int | None, str | None]] = {}

    def invalidate(self) -> None:
        self.cache.clear()

    def columns(self, b: Batch, dump: str) -> tuple[dict[str, Any], int]:
        np, pa = self.np, self.pa
        a = np.frombuffer(b.raw_bytes(), dtype=self.dtype)
        n = len(a)
        # Distinct (address, map id, R/W) without sorting records (slow in numpy): each
        # column to small integers first, then one integer key per combination.
        _, inv_phys = np.unique(a["phys"], return_inverse=True)
        ids, inv_map = np.unique(a["map_id"], return_inverse=True)
        combined = (inv_phys.reshape(-1).astype(np.int64) * len(ids) + inv_map.reshape(-1)) * 2 + (a["kind"] == 2)
        _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
        uniq = zip(a["phys"][first].tolist(), a["map_id"][first].tolist(), a["kind"][first].tolist())
        devices, bars, offsets, registers = [], [], [], []
        for u in uniq:
            hit = self.cache.get(u)
            if hit is None:
                phys, map_id, kind = u
                where = self.resolver.where(phys, map_id)
                hit = self.cache[u] = (where.device or None, where.space or None, where.offset,
                                       where.register("R" if kind == 1 else "W"))
            devices.append(hit[0])
            bars.append(hit[1])
            offsets.append(hit[2])
            registers.append(hit[3])
        inverse = inverse.reshape(-1)

        def strings(values: list[str | None]) -> Any:
            # Nulls go in the indices, not the dictionary (dictionaries with nulls do not unify).
            table: dict[str, int] = {}
            codes = np.asarray([-1 if v is None else table.setdefault(v, len(table)) for v in values],
                               dtype=np.int32)[inverse]
            return pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0), pa.array(list(table), pa.string()))

        offset_arr = np.asarray(offsets, dtype=np.uint64)[inverse]
        kinds = np.where(a["kind"] == 1, 0, 1).astype(np.int32)
        cols = {
            "dump": pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([dump])),
            "line": pa.array(np.arange(b.first_line, b.first_line + n, dtype=np.uint64)),
            "type": pa.DictionaryArray.from_arrays(pa.array(kinds), pa.array(["R", "W"])),
            "width": pa.array(a["width"]),
            "timestamp_us": pa.array(a["ts"]),
            "map_id": pa.array(a["map_id"]),
            "address": pa.array(a["phys"]),
            "device": strings(devices),
            "bar": strings(bars),
            "offset": pa.array(offset_arr),
            "register": strings(registers),
            "value": pa.array(a["value"]),
            "length": pa.nulls(n, pa.uint64()),
            "pc": pa.array(a["pc"]),
            "pid": pa.array(a["pid"]),
            "count": pa.nulls(n, pa.uint64()),
            "text": pa.nulls(n, pa.string()),
        }
        return cols, n


def convert(sources: Iterable[tuple[str, Source]], output: str | Path, resolver: Callable[[], Resolver] = Resolver,
            *, strict: bool = False, on_problem: Callable[[str, Problem], None] | None = None) -> ConvertResult:
    """Write the records of every ``(name, dump)`` to one Parquet file ``output``."""
    np, pa, pq = _libs()
    schema = _schema(pa)
    result = ConvertResult()
    try:
        writer = pq.ParquetWriter(str(output), schema, compression="zstd")
    except OSError as exc:
        raise ConvertError(f"cannot write {output}: {exc}") from None
    try:
        table = _Table(np, pa, writer, schema)
        for name, source in sources:
            res = resolver()
            cols = _BatchColumns(np, pa, res)
            parser = DumpParser(strict, (lambda p, name=name: on_problem(name, p)) if on_problem else None)
            rows = 0
            for item in parser.items(source):
                if type(item) is Batch:
                    c, n = cols.columns(item, name)   # type: ignore[arg-type]
                    table.add_columns(c, n)
                    rows += n
                    continue
                res.feed(item)   # type: ignore[arg-type]
                if item.kind in ("MAP", "UNMAP", "PCIDEV"):   # type: ignore[union-attr]
                    cols.invalidate()
                row = _record_row(item, res)   # type: ignore[arg-type]
                row["dump"] = name
                table.add_record_row(row)
                rows += 1
            result.per_dump[name] = rows
            result.rows += rows
            result.dumps += 1
            result.problems += parser.problem_count
        table.flush()
    finally:
        writer.close()
    return result
