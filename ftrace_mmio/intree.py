"""In-tree Linux drivers, unchanged: their sources from Debian's kernel source package.

The kernel's text is never committed here.  ``fetch()`` takes Debian's
``linux-source-6.1`` package (``apt-get download``, once per machine) into a
cache outside the repository, and extracts from the tarball inside it only the
files the drivers below need.  ``source_path("drivers/watchdog/i6300esb.c")``
is where one of them is; ``build_and_trace(name)`` builds a driver set on the
emulated machine with the matching device and traces it as the oracle
(``../shared/oracle/kmod-trace --modprobe NAME --device DEV``) did on a real
kernel.

The cache is ``$FTRACE_MMIO_LINUX_SOURCE`` if set, else
``${XDG_CACHE_HOME:-~/.cache}/ftrace-mmio/linux-source-6.1``.  It holds the
.deb (kept so that a new file list needs no second download), the extracted
files under ``tree/`` and ``stamp.json`` (package version and file list).

A .deb is an ``ar`` archive; its ``data.tar.xz`` holds
``usr/src/linux-source-6.1.tar.xz``, itself the kernel tree.  Both are read as
streams, once, so extraction needs no temporary copy of the 130 MB tarball.
"""

from __future__ import annotations

import fcntl
import json
import lzma
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Iterator

PACKAGE = "linux-source-6.1"
INNER_TARBALL = "usr/src/linux-source-6.1.tar.xz"
ENV_CACHE = "FTRACE_MMIO_LINUX_SOURCE"
STAMP = "stamp.json"

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "docs" / "examples"


class IntreeError(RuntimeError):
    """The sources cannot be had (no apt-get, not root, no network ...): the
    message says what to do."""


@dataclass(frozen=True)
class IntreeDriver:
    """One driver set: the in-tree files built as modules, in load order."""

    name: str
    #: Paths inside the kernel tree compiled as modules, dependencies first.
    modules: tuple[str, ...]
    #: Further files the modules include (headers beside them).
    headers: tuple[str, ...] = ()
    #: The machine file with the matching device.
    machine_file: str = ""
    #: What the oracle did after loading: "watchdog" opens /dev/watchdog0,
    #: writes once, writes 'V' and closes (kmod-trace --watchdog).
    workflow: str = ""
    description: str = ""

    @property
    def files(self) -> tuple[str, ...]:
        return (*self.modules, *self.headers)


DRIVERS: dict[str, IntreeDriver] = {
    "i6300esb": IntreeDriver(
        "i6300esb", ("drivers/watchdog/i6300esb.c",),
        machine_file="i6300esb.toml", workflow="watchdog",
        description="Intel 6300ESB watchdog (8086:25ab): probe, open, ping, magic close"),
    "pvpanic": IntreeDriver(
        "pvpanic", ("drivers/misc/pvpanic/pvpanic.c", "drivers/misc/pvpanic/pvpanic-pci.c"),
        headers=("drivers/misc/pvpanic/pvpanic.h",),
        machine_file="pvpanic.toml",
        description="QEMU's pvpanic-pci (1b36:0011): probe"),
    "8139cp": IntreeDriver(
        "8139cp", ("drivers/net/mii.c", "drivers/net/ethernet/realtek/8139cp.c"),
        machine_file="rtl8139.toml",
        description="RTL8139C+ (10ec:8139): probe (the EEPROM holds the MAC address)"),
}


def all_files() -> tuple[str, ...]:
    """Every kernel-tree path any driver set needs (the extraction list)."""
    seen: dict[str, None] = {}
    for drv in DRIVERS.values():
        for f in drv.files:
            seen[f] = None
    return tuple(seen)


# ---- the cache -------------------------------------------------------------------------

def cache_dir() -> Path:
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ftrace-mmio" / PACKAGE


def _read_stamp(cache: Path) -> dict:
    try:
        return json.loads((cache / STAMP).read_text())
    except (OSError, ValueError):
        return {}


def _have(cache: Path, files: tuple[str, ...]) -> bool:
    stamp = _read_stamp(cache)
    done = set(stamp.get("files", ()))
    return all(f in done and (cache / "tree" / f).is_file() for f in files)


Progress = Callable[[str], None]


def _quiet(_msg: str) -> None:
    pass


def _find_deb(cache: Path) -> Path | None:
    debs = sorted(cache.glob(f"{PACKAGE}_*_all.deb"))
    return debs[-1] if debs else None


def _download(cache: Path, progress: Progress) -> Path:
    """``apt-get download`` into the cache (as root, ``apt-get update`` first
    when the package is unknown)."""
    if shutil.which("apt-get") is None:
        raise IntreeError(f"cannot fetch {PACKAGE}: no apt-get here. On Debian/Ubuntu run "
                          f"`apt-get download {PACKAGE}` and put the .deb in {cache}, "
                          f"or set {ENV_CACHE} to a directory holding one")
    cache.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"}

    def attempt() -> subprocess.CompletedProcess:
        # apt drops privileges to _apt for the download; a cache under root's
        # home is not writable for it, so it falls back to root with a warning.
        return subprocess.run(["apt-get", "download", "-q", PACKAGE], cwd=cache, env=env,
                              capture_output=True, text=True)

    progress(f"downloading {PACKAGE} (about 140 MB, once per machine) into {cache}")
    res = attempt()
    if res.returncode != 0 and os.geteuid() == 0:
        progress("apt-get update (the package index does not know the package yet)")
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, text=True)
        res = attempt()
    deb = _find_deb(cache)
    if res.returncode != 0 or deb is None:
        hint = ("run `sudo apt-get update` and retry, or `apt-get download " + PACKAGE +
                f"` yourself into {cache}") if os.geteuid() != 0 else \
            "check the network and the APT sources (the package is in Debian bookworm)"
        detail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise IntreeError(f"cannot fetch {PACKAGE}: apt-get download failed: {detail[0]}; {hint}")
    return deb


def _ar_members(f: IO[bytes]) -> Iterator[tuple[str, int]]:
    """(name, size) of each member of an ``ar`` archive, leaving ``f`` at its data."""
    if f.read(8) != b"!<arch>\n":
        raise IntreeError("not a Debian package (no ar magic)")
    while True:
        header = f.read(60)
        if len(header) < 60:
            return
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        start = f.tell()
        yield name, size
        f.seek(start + size + (size & 1))


def _extract(deb: Path, dest: Path, files: tuple[str, ...], progress: Progress) -> list[str]:
    """Stream the inner kernel tarball once and write the wanted members."""
    prefix = f"{PACKAGE}/"
    wanted = set(files)
    got: list[str] = []
    with deb.open("rb") as f:
        for name, size in _ar_members(f):
            if not name.startswith("data.tar"):
                continue
            progress(f"reading {deb.name} ({name})")
            with tarfile.open(fileobj=f, mode="r|*") as outer:
                for member in outer:
                    if member.name.lstrip("./") != INNER_TARBALL:
                        continue
                    inner_f = outer.extractfile(member)
                    progress(f"scanning {INNER_TARBALL} for {len(wanted)} files (one pass, ~30 s)")
                    with tarfile.open(fileobj=inner_f, mode="r|xz") as inner:
                        seen, next_report = 0, time.monotonic() + 5
                        for m in inner:
                            seen += 1
                            if time.monotonic() >= next_report:
                                next_report += 5
                                progress(f"  ... {seen:,} entries scanned, {len(got)}/{len(wanted)} found")
                            rel = m.name[len(prefix):] if m.name.startswith(prefix) else m.name
                            if rel in wanted and m.isfile():
                                data = inner.extractfile(m).read()
                                out = dest / rel
                                out.parent.mkdir(parents=True, exist_ok=True)
                                out.write_bytes(data)
                                got.append(rel)
                                progress(f"  {rel}")
                                if len(got) == len(wanted):
                                    return got
                    return got
    return got


def fetch(files: tuple[str, ...] | None = None, progress: Progress = _quiet) -> Path:
    """Make sure ``files`` (default: every driver's) are in the cache; returns
    the tree they are under.  Downloads the package at most once."""
    files = tuple(files) if files is not None else all_files()
    cache = cache_dir()
    tree = cache / "tree"
    if _have(cache, files):
        return tree
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IntreeError(f"cannot create the source cache {cache}: {exc.strerror}; "
                          f"set {ENV_CACHE} to a writable directory") from None
    # One fetch at a time per cache (parallel test runs, two terminals).
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _have(cache, files):
            return tree
        return _fetch_locked(cache, tree, files, progress)


def _fetch_locked(cache: Path, tree: Path, files: tuple[str, ...], progress: Progress) -> Path:
    deb = _find_deb(cache) or _download(cache, progress)
    stamp = _read_stamp(cache)
    todo = tuple(sorted(set(files) | set(stamp.get("files", ()))))
    staging = Path(tempfile.mkdtemp(prefix="tree.", dir=cache))
    try:
        try:
            got = _extract(deb, staging, todo, progress)
        except (tarfile.TarError, EOFError, lzma.LZMAError, ValueError, IntreeError) as exc:
            # A damaged package (an interrupted copy): fetch it again, once.
            progress(f"{deb.name} is damaged ({exc}); downloading it again")
            deb.unlink()
            shutil.rmtree(staging)
            staging.mkdir()
            deb = _download(cache, progress)
            got = _extract(deb, staging, todo, progress)
        missing = sorted(set(files) - set(got))
        if missing:
            raise IntreeError(f"{deb.name} has no {', '.join(missing)}")
        # Replace the tree as a whole: an interrupted extraction leaves the old one.
        old = cache / "tree.old"
        if old.exists():
            shutil.rmtree(old)
        if tree.exists():
            tree.rename(old)
        staging.rename(tree)
        if old.exists():
            shutil.rmtree(old)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    version = deb.name.split("_")[1] if deb.name.count("_") >= 2 else "?"
    (cache / STAMP).write_text(json.dumps({"package": PACKAGE, "version": version, "deb": deb.name,
                                           "files": sorted(got)}, indent=1) + "\n")
    return tree


def source_path(rel: str, progress: Progress = _quiet) -> Path:
    """The extracted file ``rel`` (a path inside the kernel tree), fetching
    the sources first if needed."""
    files = all_files() if rel in all_files() else (*all_files(), rel)
    return fetch(files, progress) / rel


def package_version() -> str:
    return _read_stamp(cache_dir()).get("version", "")


# ---- building and tracing ----------------------------------------------------------------

MARKER = "X is up"                    # what the oracle's kmod-trace writes at the end


@dataclass
class IntreeRun:
    """What ``build_and_trace`` saw: the dump (trace_pipe bytes, as ``cat``
    read them), the kernel log, and what the workflow did."""

    driver: IntreeDriver
    dump: str
    dmesg: str
    workflow: list[str] = field(default_factory=list)
    warnings: str = ""


def _watchdog_workflow(machine, say: Progress) -> list[str]:
    """kmod-trace --watchdog: open /dev/watchdog0 (start), write once (ping),
    write 'V', close (magic close: stop)."""
    cd = machine.kapi.chardev
    lines = []
    if "watchdog0" not in cd.nodes():
        return ["no /dev/watchdog0"]
    say("open dev/watchdog0, ping, 'V', close")
    f = cd.open("watchdog0", os.O_WRONLY, comm="sh")
    lines.append("open rc=0")
    try:
        cd.write(f, b"x", comm="sh")
        lines.append("ping write rc=0")
        cd.write(f, b"V", comm="sh")
        lines.append("magic write rc=0")
    finally:
        cd.release(f, comm="sh")
    lines.append("closed")
    return lines


WORKFLOWS = {"watchdog": _watchdog_workflow}


def build_and_trace(name: str, *, machine_file: str | Path | None = None, progress: Progress = _quiet,
                    params: tuple[str, ...] = ()) -> IntreeRun:
    """Build the driver set ``name`` from the kernel's files, unchanged, and
    trace it on the machine with its device as the oracle did: dependencies
    load before mmiotrace is selected, the driver while tracing, then the
    workflow, then the marker; the driver stays loaded (no rmmod)."""
    from .daemon import system_from_config
    from .machine.config import load_machine_file

    try:
        drv = DRIVERS[name]
    except KeyError:
        raise IntreeError(f"no in-tree driver set {name!r} (known: {', '.join(DRIVERS)})") from None
    tree = fetch(progress=progress)
    path = Path(machine_file) if machine_file else EXAMPLES / drv.machine_file
    if not path.is_file():
        raise IntreeError(f"no machine file {path} for {name}")
    progress(f"booting the machine of {path.name}")
    system = system_from_config(load_machine_file(str(path)))
    array, machine = system.array, system.machine
    chunks: list[bytes] = []
    try:
        *deps, last = drv.modules
        warnings = []
        for dep in deps:
            progress(f"building and loading {dep} (untraced dependency)")
            info = machine.insmod(tree / dep)
            warnings.append(info.warnings)
        array.set_tracer("mmiotrace")
        pipe = array.open_pipe()
        stop = threading.Event()

        def reader() -> None:
            while True:
                try:
                    chunks.append(pipe.read(128 * 1024, interrupted=stop.is_set))
                except OSError:
                    return

        thread = threading.Thread(target=reader, name="trace_pipe reader", daemon=True)
        thread.start()
        workflow: list[str] = []
        try:
            progress(f"building and loading {last}")
            info = machine.insmod(tree / last, list(params))
            warnings.append(info.warnings)
            if drv.workflow:
                workflow = WORKFLOWS[drv.workflow](machine, progress)
            array.write_marker((MARKER + "\n").encode())
        finally:
            # Everything committed so far is read before the reader stops.
            stop.set()
            thread.join()
            pipe.close()
            array.set_tracer("nop")
        return IntreeRun(drv, b"".join(chunks).decode("utf-8", "replace"), machine.dmesg_text(),
                         workflow, "".join(w for w in warnings if w))
    finally:
        system.close()


# ---- comparing with the real kernel's dump ------------------------------------------------

def normalise(text: str) -> list[tuple]:
    """A dump as the records that must match, as ``../shared/oracle/compare``
    sees them: R/W as (type, width, offset inside its MAP, value), MAP as its
    size, UNMAP, MARK with its text; timestamps, pids, pcs, map ids and
    absolute addresses dropped; VERSION and PCIDEV lines are not records."""
    maps: dict[int, tuple[int, int]] = {}
    out: list[tuple] = []
    for line in text.splitlines():
        toks = line.split()
        if not toks:
            continue
        kind = toks[0]
        if kind in ("R", "W"):
            width, mapid, addr, value = int(toks[1]), int(toks[3]), int(toks[4], 16), int(toks[5], 16)
            base, size = maps.get(mapid, (None, 0))
            off: object = addr - base if base is not None and base <= addr < base + size else ("abs", addr)
            out.append((kind, width, off, value))
        elif kind == "MAP":
            mapid, phys, size = int(toks[2]), int(toks[3], 16), int(toks[5], 16)
            maps[mapid] = (phys, size)
            out.append(("MAP", size))
        elif kind == "UNMAP":
            out.append(("UNMAP",))
        elif kind == "MARK":
            out.append(("MARK", line.split(" ", 2)[2] if len(toks) > 2 else ""))
        elif kind == "UNKNOWN":
            out.append(("UNKNOWN", toks[4] if len(toks) > 4 else ""))
    return out


def compare_dumps(reference: str, ours: str) -> tuple[bool, str]:
    """(identical?, a one-paragraph report with the first divergence)."""
    a, b = normalise(reference), normalise(ours)
    if a == b:
        return True, f"IDENTICAL after normalisation ({len(a)} records)"
    i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
    ref = a[i] if i < len(a) else "(end)"
    got = b[i] if i < len(b) else "(end)"
    return False, (f"DIFFERENT: {len(a)} records in the reference, {len(b)} here; first divergence at "
                   f"record #{i + 1}: reference {ref}, here {got}")


# ---- scripts/intree ------------------------------------------------------------------------

USAGE_EXAMPLES = """\
examples:
  scripts/intree fetch                      download and extract once (about 30 s)
  scripts/intree path drivers/watchdog/i6300esb.c
  scripts/intree i6300esb -o esb.txt        build, load, open/ping/magic-close, trace
  scripts/intree i6300esb --compare tests/data/oracle/intree/i6300esb/dump.txt
"""


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="intree", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Linux 6.1 in-tree drivers, unchanged, on the emulated machine. The sources "
                    f"come from Debian's {PACKAGE} package, fetched once into {cache_dir()} "
                    f"(${ENV_CACHE} to choose); nothing of them enters the repository.",
        epilog="driver sets:\n" + "".join(f"  {d.name:10} {d.description}\n      {' '.join(d.files)}\n"
                                           for d in DRIVERS.values()) + "\n" + USAGE_EXAMPLES)
    parser.add_argument("what", metavar="DRIVER|fetch|path|list",
                        help="a driver set to build and trace, or a command")
    parser.add_argument("file", nargs="?", help="for path: a file inside the kernel tree")
    parser.add_argument("-o", "--output", help="write the dump here (default: stdout)")
    parser.add_argument("--machine", help="machine file (default: docs/examples/<driver>.toml)")
    parser.add_argument("--dmesg", action="store_true", help="print the kernel log on stderr")
    parser.add_argument("--compare", metavar="DUMP",
                        help="compare with this dump after the oracle's normalisation; exit 1 if different")
    args = parser.parse_args(argv)
    say = (lambda msg: print(f"intree: {msg}", file=sys.stderr, flush=True))
    try:
        if args.what == "fetch":
            tree = fetch(progress=say)
            print(tree)
            return 0
        if args.what == "path":
            if not args.file:
                parser.error("path needs a FILE inside the kernel tree")
            print(source_path(args.file, progress=say))
            return 0
        if args.what == "list":
            for d in DRIVERS.values():
                print(f"{d.name}: {' '.join(d.files)}")
            return 0
        run = build_and_trace(args.what, machine_file=args.machine, progress=say)
    except IntreeError as exc:
        print(f"intree: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"intree: {exc.strerror or exc}", file=sys.stderr)
        return 1
    if run.warnings:
        sys.stderr.write(run.warnings)
    if args.dmesg:
        sys.stderr.write(run.dmesg)
    for line in run.workflow:
        say(line)
    if args.output and args.output != "-":
        Path(args.output).write_text(run.dump)
        say(f"dump written to {args.output}")
    else:
        sys.stdout.write(run.dump)
    if args.compare:
        same, report = compare_dumps(Path(args.compare).read_text(), run.dump)
        say(report)
        return 0 if same else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
