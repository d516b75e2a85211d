"""``ftrace-mmio check``, ``annotate``, ``stats``, ``convert``, ``replay``, ``diff``: working with dumps.

All of them read a dump (a file, or ``-`` for standard input) with the
tolerant parser: damaged lines are reported on stderr with their line
number and the rest is still used; ``--strict`` stops at the first one
(exit status 2). See docs/analysis.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, BinaryIO, Callable

from . import positive_int

FMT = argparse.RawDescriptionHelpFormatter
SHOW_PROBLEMS = 20


class _Fail(Exception):
    """Ends a command with a message on stderr and exit status 2."""


def _source(path: str) -> Any:
    """A path, or standard input's bytes for ``-``; errors name the file and say why."""
    if path == "-":
        return sys.stdin.buffer
    p = Path(path)
    if p.is_dir():
        raise _Fail(f"{path}: is a directory")
    if not p.exists():
        raise _Fail(f"{path}: no such file")
    try:
        with p.open("rb"):
            pass
    except OSError as exc:
        raise _Fail(f"{path}: {exc.strerror}") from None
    return p


class _Problems:
    """Prints the first problems of a dump on stderr, counts the rest."""

    def __init__(self, prog: str, name: str, quiet: bool = False) -> None:
        self.prog, self.name, self.quiet = prog, name, quiet
        self.count = 0

    def __call__(self, problem: Any) -> None:
        self.count += 1
        if not self.quiet and self.count <= SHOW_PROBLEMS:
            print(f"{self.prog}: {self.name}: {problem}", file=sys.stderr)

    def summary(self) -> None:
        if not self.quiet and self.count > SHOW_PROBLEMS:
            print(f"{self.prog}: {self.name}: {self.count} problems in all "
                  f"({self.count - SHOW_PROBLEMS} not shown)", file=sys.stderr)


def _run(prog: str, fn: Callable[[], int]) -> int:
    from ..analysis.parse import DumpError
    from ..analysis.regmaps import RegmapError
    try:
        return fn()
    except _Fail as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    except DumpError as exc:
        print(f"{prog}: {exc} (--strict)", file=sys.stderr)
        return 2
    except RegmapError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2


def _out(path: str | None) -> BinaryIO:
    """A binary writer for ``-o FILE`` or stdout."""
    if path and path != "-":
        try:
            return open(path, "wb")
        except OSError as exc:
            raise _Fail(f"cannot write {path}: {exc.strerror}") from None
    return sys.stdout.buffer


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


# --- register maps -------------------------------------------------------------------------------


def add_regmap_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--regmap", action="append", default=[], metavar="[VVVV:DDDD=]NAME|FILE",
                   help="register names from a built-in model (edu, nvlike, testmmio, uart16550) or a Python "
                        "file; alone it applies to every device (and to mappings when the dump has no "
                        "PCIDEV lines), with VVVV:DDDD= only to devices with those PCI ids. Without it, "
                        "devices are matched to the built-in models by their ids. Repeatable.")
    p.add_argument("--machine", metavar="FILE", default=None,
                   help="the machine file the trace was made with: its devices' models (your own .py "
                        "models included) name the registers of the devices with their PCI ids")


def regmaps_from(args: argparse.Namespace) -> tuple[Any, dict, tuple]:
    """(forced, bind, extra) register maps from --regmap and --machine."""
    from ..analysis.regmaps import RegmapError, load_regmaps, machine_maps
    forced, bind = None, {}
    for spec in args.regmap:
        ids, eq, what = spec.partition("=")
        if eq and "/" not in ids and not ids.endswith(".py"):
            try:
                vendor, device = (int(x, 16) for x in ids.split(":"))
                if not (0 <= vendor <= 0xffff and 0 <= device <= 0xffff):
                    raise ValueError
            except ValueError:
                raise RegmapError(f"--regmap {spec}: {ids!r} is not VVVV:DDDD (hex PCI ids)") from None
            bind[(vendor, device)] = load_regmaps(what)
        else:
            if forced is not None:
                raise RegmapError("--regmap without ids can be given once (use VVVV:DDDD=... for more)")
            forced = load_regmaps(spec)
    extra = machine_maps(args.machine) if getattr(args, "machine", None) else ()
    return forced, bind, extra


def resolver_factory(args: argparse.Namespace) -> Callable[[], Any]:
    """Makes resolvers (one per dump) with the maps of --regmap and --machine, loaded once."""
    from ..analysis.resolve import Resolver
    forced, bind, extra = regmaps_from(args)
    return lambda: Resolver(forced, bind, extra)


def resolver_from(args: argparse.Namespace):
    return resolver_factory(args)()


# --- check ----------------------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> int:
    from ..analysis.parse import DumpParser

    def run() -> int:
        problems = _Problems("check", args.dump, quiet=args.quiet)
        parser = DumpParser(args.strict, problems)
        counts: dict[str, int] = {}
        out = _out(args.reprint) if args.reprint else None
        try:
            if out is None:
                from ..analysis.parse import Batch
                # Runs of R/W lines come as batches: counted without a record each.
                for item in parser.items(_source(args.dump)):
                    kind, n = ("RW", len(item)) if type(item) is Batch else (item.kind, 1)
                    counts[kind] = counts.get(kind, 0) + n
            for rec in parser.parse(_source(args.dump)) if out is not None else ():
                counts[rec.kind] = counts.get(rec.kind, 0) + 1
                out.write(_encode(rec.format()))
        finally:
            if out is not None and out is not sys.stdout.buffer:
                out.close()
        problems.summary()
        what = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no records"
        # With the records on stdout, the summary goes to stderr.
        print(f"{args.dump}: {parser.lines} lines, {what}; "
              f"{parser.problem_count} problem{'' if parser.problem_count == 1 else 's'}",
              file=sys.stderr if args.reprint == "-" else sys.stdout)
        return 1 if parser.problem_count else 0

    return _run("check", run)


# --- annotate -------------------------------------------------------------------------------------


def cmd_annotate(args: argparse.Namespace) -> int:
    from ..analysis.annotate import annotate

    def run() -> int:
        resolver = resolver_from(args)
        source = _source(args.dump)
        problems = _Problems("annotate", args.dump)
        out = _out(args.output)
        try:
            annotate(source, resolver, lambda s: out.write(_encode(s)), strict=args.strict, on_problem=problems)
            out.flush()
        finally:
            if out is not sys.stdout.buffer:
                out.close()
        problems.summary()
        return 0

    return _run("annotate", run)


# --- stats ----------------------------------------------------------------------------------------


def cmd_stats(args: argparse.Namespace) -> int:
    from ..analysis.parse import DumpParser
    from ..analysis.stats import make_collector

    def run() -> int:
        resolver = resolver_from(args)
        source = _source(args.dump)
        problems = _Problems("stats", args.dump)
        collector = make_collector(resolver, args.gap_us, args.min_iterations, plot=bool(args.plot))
        parser = DumpParser(args.strict, problems)
        feed = collector.feed_item
        for item in parser.items(source):
            feed(item)
        stats = collector.finish()
        timeline = collector.timeline
        stats.source = args.dump
        stats.lines, stats.problems, stats.problem_count = parser.lines, parser.problems, parser.problem_count
        problems.summary()
        if args.plot:
            from ..analysis.plot import PlotError, render_plot
            try:
                drawn = render_plot(stats, timeline, args.plot, max_rows=args.rows)   # type: ignore[arg-type]
            except PlotError as exc:
                raise _Fail(str(exc)) from None
            print(f"stats: plot of {drawn['rows']} registers written to {args.plot}", file=sys.stderr)
        if args.json:
            print(json.dumps(stats.as_dict(), indent=2))
        else:
            sys.stdout.write(stats.render())
        return 0

    return _run("stats", run)


# --- replay ---------------------------------------------------------------------------------------


def cmd_replay(args: argparse.Namespace) -> int:
    from ..analysis.replay import Recording, ReplayError, replay

    def run() -> int:
        problems = _Problems("replay", args.dump)
        recording = Recording.load(_source(args.dump), args.strict, problems, resolver=resolver_from(args))
        recording.source = args.dump
        problems.summary()
        if args.driver is None:
            return _describe_recording(recording)
        out = _out(args.output) if args.output else None
        try:
            result = replay(recording, args.driver, args.params, trace_out=out, clock=args.clock,
                            on_skip=lambda msg: print(f"replay: {msg}", file=sys.stderr))
        except ReplayError as exc:
            raise _Fail(str(exc)) from None
        except Exception as exc:  # the run's own errors (RunError, OSError) carry their reason
            from ..cli.run import RunError
            if isinstance(exc, (RunError, OSError)):
                raise _Fail(str(exc)) from None
            raise
        finally:
            if out is not None and out is not sys.stdout.buffer:
                out.close()
        if args.dmesg:
            sys.stderr.write(result.dmesg)
        if args.json:
            print(json.dumps(result.as_dict(), indent=2))
        else:
            (sys.stderr if args.output == "-" else sys.stdout).write(result.report())
        return 0 if result.ok else 1

    return _run("replay", run)


def _describe_recording(recording: Any) -> int:
    events = recording.events
    print(f"{recording.source}: {len(recording.devices)} devices, {len(events)} recorded events "
          f"({sum(e.op == 'R' for e in events)} reads, {sum(e.op == 'W' for e in events)} writes, "
          f"{sum(e.op == 'MAP' for e in events)} maps)")
    for d in recording.devices:
        used = sum(1 for e in events if any(b.contains(e.phys) for b in d.bars() if not b.is_io))
        bars = "  ".join(f"{b.name} {b.start:#x}+{b.size:#x}" for b in d.bars())
        print(f"  {d.slot} {d.ids} irq {d.irq:#x}  {used} events  {bars}")
    print("replay it: ftrace-mmio replay DUMP DRIVER [param=value ...]")
    return 0


# --- diff -----------------------------------------------------------------------------------------


def cmd_diff(args: argparse.Namespace) -> int:
    from ..analysis.diff import DiffOptions, diff_dumps

    def run() -> int:
        a, b = _source(args.a), _source(args.b)
        problems = {args.a: _Problems("diff", args.a), args.b: _Problems("diff", args.b)}
        opt = DiffOptions(args.timestamps, args.map_ids, args.addresses, args.window)
        result = diff_dumps(a, b, opt, strict=args.strict, a_name=args.a, b_name=args.b,
                            on_problem=lambda name, p: problems[name](p), resolver=resolver_factory(args))
        for p in problems.values():
            p.summary()
        if args.json:
            print(json.dumps(result.as_dict(), indent=2))
        elif not args.quiet:
            sys.stdout.write(result.render())
        return 0 if result.same else 1

    return _run("diff", run)


# --- convert --------------------------------------------------------------------------------------


def _dump_files(paths: list[str]) -> list[tuple[str, Any]]:
    """(name, source) of every dump named: files as given, directories' files (recursively, sorted)."""
    out: list[tuple[str, Any]] = []
    for path in paths:
        p = Path(path)
        if path != "-" and p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file()
                           and not any(part.startswith(".") for part in f.relative_to(p).parts))
            if not files:
                raise _Fail(f"{path}: no files in this directory")
            out += [(str(f.relative_to(p)), f) for f in files]
        else:
            out.append((path if path != "-" else "stdin", _source(path)))
    return out


def cmd_convert(args: argparse.Namespace) -> int:
    from ..analysis.convert import ConvertError, convert

    def run() -> int:
        factory = resolver_factory(args)
        dumps = _dump_files(args.dumps)
        problems: dict[str, _Problems] = {}

        def on_problem(name: str, p: Any) -> None:
            problems.setdefault(name, _Problems("convert", name))(p)

        try:
            result = convert(dumps, args.output, factory, strict=args.strict, on_problem=on_problem)
        except ConvertError as exc:
            raise _Fail(str(exc)) from None
        for p in problems.values():
            p.summary()
        print(f"convert: {result.rows} rows from {result.dumps} dump{'' if result.dumps == 1 else 's'} "
              f"written to {args.output}", file=sys.stderr)
        return 0

    return _run("convert", run)


# --- registration ---------------------------------------------------------------------------------


def _strict(p: argparse.ArgumentParser) -> None:
    p.add_argument("--strict", action="store_true",
                   help="stop at the first line that is not what the kernel prints (exit status 2)")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "check", help="parse a dump, report damaged lines, optionally reprint it",
        formatter_class=FMT,
        description="Parse an mmiotrace dump (trace_pipe capture or the trace file) and report every "
                    "line that is not what the kernel prints, with its line number. Exit status 0 when "
                    "there is none, 1 when there are some, 2 with --strict at the first one.",
        epilog="examples:\n"
               "  ftrace-mmio check dump.txt\n"
               "  ftrace-mmio check --reprint clean.txt mail-wrapped.txt   # join wrapped PCIDEV lines\n"
               "  ftrace-mmio check --strict dump.txt && echo kernel-clean")
    p.add_argument("dump", metavar="DUMP", help="the dump file, or - for standard input")
    p.add_argument("--reprint", metavar="FILE", help="write the records back as the kernel prints them "
                                                      "(- for stdout)")
    p.add_argument("-q", "--quiet", action="store_true", help="do not list the problems")
    _strict(p)
    p.set_defaults(func=cmd_check)

    p = subparsers.add_parser(
        "annotate", help="name the device, BAR, register and fields of every access in a dump",
        formatter_class=FMT,
        description="Copy a dump line by line, appending to each access '  # DEVICE BARn+0xOFFSET "
                    "REGISTER = VALUE (FIELD=...)' from the device models' register maps (matched by "
                    "the PCI ids of the PCIDEV lines, or chosen with --regmap). The original text is "
                    "kept, so the output stays greppable and `sed 's/  # .*//'` gives the dump back.",
        epilog="examples:\n"
               "  ftrace-mmio run nvlike --clock det -o nv.txt && ftrace-mmio annotate nv.txt | grep PTIMER\n"
               "  ftrace-mmio annotate gpu.txt --regmap 10de:1180=nvlike\n"
               "  ftrace-mmio annotate dev.txt --regmap ./mydev_regs.py -o dev.annotated")
    p.add_argument("dump", metavar="DUMP", help="the dump file, or - for standard input")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    add_regmap_argument(p)
    _strict(p)
    p.set_defaults(func=cmd_annotate)

    p = subparsers.add_parser(
        "stats", help="per-register counts, hot registers, polling loops, gaps, lost events",
        formatter_class=FMT,
        description="Summarise a dump: per device and register the reads, writes, distinct values and "
                    "first/last time; the hottest registers; polling loops (reads repeated until a value "
                    "changes: iterations and time spent); gaps in time; every lost-events report. "
                    "--plot draws a timeline per register (needs matplotlib: "
                    "pip install 'ftrace-mmio[analysis]').",
        epilog="examples:\n"
               "  ftrace-mmio stats nv.txt\n"
               "  ftrace-mmio stats nv.txt --plot nv.png\n"
               "  ftrace-mmio stats big.txt --json | jq '.loops[] | .registers'")
    p.add_argument("dump", metavar="DUMP", help="the dump file, or - for standard input")
    p.add_argument("--plot", metavar="FILE.png", help="draw the access timeline (PNG, SVG or PDF)")
    p.add_argument("--rows", type=positive_int, default=40, metavar="N",
                   help="registers in the plot: the N most accessed (default 40)")
    p.add_argument("--json", action="store_true", help="print the statistics as JSON")
    p.add_argument("--gap-us", type=positive_int, default=100, metavar="US",
                   help="count gaps of at least this many microseconds (default 100, demmio's SLEEP)")
    p.add_argument("--min-iterations", type=positive_int, default=3, metavar="N",
                   help="repetitions that make a polling loop (default 3)")
    add_regmap_argument(p)
    _strict(p)
    p.set_defaults(func=cmd_stats)

    p = subparsers.add_parser(
        "convert", help="write dumps as a Parquet table (one typed row per record) for DuckDB, polars, Spark",
        formatter_class=FMT,
        description="Convert mmiotrace dumps to one Parquet file: a row per record with its type, width, "
                    "timestamp, map id, address, device, BAR, offset, register name, value and text "
                    "(docs/analysis.md lists the columns and shows queries). A directory stands for every "
                    "file under it; the 'dump' column says which file a row came from. Needs pyarrow: "
                    "pip install 'ftrace-mmio[analysis]'.",
        epilog="examples:\n"
               "  ftrace-mmio convert nv.txt -o nv.parquet\n"
               "  ftrace-mmio convert traces/ -o all.parquet --machine my.toml\n"
               "  duckdb -c \"SELECT register, count(*) FROM 'nv.parquet' GROUP BY ALL ORDER BY 2 DESC\"")
    p.add_argument("dumps", metavar="DUMP", nargs="+", help="dump files or directories of them (- for stdin)")
    p.add_argument("-o", "--output", metavar="FILE.parquet", required=True, help="the Parquet file to write")
    add_regmap_argument(p)
    _strict(p)
    p.set_defaults(func=cmd_convert)

    p = subparsers.add_parser(
        "replay", help="run a driver against the hardware recorded in a dump",
        formatter_class=FMT,
        description="Rebuild the recorded PCI bus from the dump's PCIDEV lines (ids, IRQs, BAR "
                    "addresses) with devices that answer reads with the recorded values, in order per "
                    "register, and check every write, ioremap and iounmap against the recording. Load "
                    "and unload DRIVER on it and report the first divergence with the dump's line "
                    "number, expected and got, and the recorded lines around it. Exit status 0 when "
                    "the driver did exactly what the recording did, 1 otherwise. Without DRIVER, show "
                    "what the recording contains.",
        epilog="examples:\n"
               "  ftrace-mmio run nvlike --clock det -o nv.txt\n"
               "  ftrace-mmio replay nv.txt nvlike                   # no divergence\n"
               "  ftrace-mmio replay nv.txt ./nvlike-changed.c       # the first write that differs\n"
               "  ftrace-mmio replay nv.txt nvlike -o again.txt && ftrace-mmio diff nv.txt again.txt")
    p.add_argument("dump", metavar="DUMP", help="the recorded dump (with its VERSION/PCIDEV header)")
    p.add_argument("driver", metavar="NAME|FILE", nargs="?",
                   help="a bundled driver's name, a .c file or a .o file")
    p.add_argument("params", nargs="*", metavar="param=value", help="module parameters")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="also trace the replayed run with mmiotrace and write the trace here")
    p.add_argument("--clock", default="det", metavar="NAME", help="trace clock for -o (default det)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--dmesg", action="store_true", help="print the kernel log to stderr afterwards")
    add_regmap_argument(p)
    _strict(p)
    p.set_defaults(func=cmd_replay)

    p = subparsers.add_parser(
        "diff", help="compare two dumps: first divergence and differences per register",
        formatter_class=FMT,
        description="Align two dumps on their traffic (kind, width, address and value of every access, "
                    "mapped ranges, devices, markers), ignoring timestamps, map ids and kernel-virtual "
                    "addresses unless asked. Print the first difference with the lines around it and a "
                    "summary per register. Exit status 0 when equal, 1 when different, 2 on error.",
        epilog="examples:\n"
               "  ftrace-mmio diff blob.txt mine.txt\n"
               "  ftrace-mmio diff a.txt b.txt --timestamps --map-ids\n"
               "  ftrace-mmio diff -q a.txt b.txt || echo different")
    p.add_argument("a", metavar="A", help="the first dump (- for standard input)")
    p.add_argument("b", metavar="B", help="the second dump")
    p.add_argument("--timestamps", action="store_true", help="timestamps must match too")
    p.add_argument("--map-ids", action="store_true", help="map ids must match too")
    p.add_argument("--addresses", action="store_true",
                   help="kernel-virtual addresses must match too (MAP's virt, the PC with trace_pc)")
    p.add_argument("--window", type=positive_int, default=2000, metavar="N",
                   help="records looked ahead to realign after an insertion or deletion (default 2000)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing; the exit status tells")
    add_regmap_argument(p)
    _strict(p)
    p.set_defaults(func=cmd_diff)


__all__ = ["register", "resolver_from", "resolver_factory", "regmaps_from", "add_regmap_argument"]
