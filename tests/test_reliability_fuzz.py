"""Fuzzing the control files: random bytes into every writable file.

The kernel's promise for a control file: a write is either taken, or
refused with one of the errnos that file gives (spec tracefs.md §0, §9), and
a refused write changes nothing. Two documented exceptions, both kernel
behaviour: ``current_tracer`` and ``set_event`` expand the buffer to its
default size before they look at the bytes, and a ``trace_marker`` write
refused because the buffer is full (overwrite 0) is counted in that CPU's
``dropped events``.

In process, through the node tree the adapters serve: many examples. Over
the real FUSE mount: a few, each compared with an in-process mirror that
received the same writes (same result, same control-file contents).
"""

from __future__ import annotations

import errno
import os
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuse_util import Mount, mounted, needs_fuse, shared_mount  # noqa: F401 - fixtures
from reliability_util import (
    allowed_errnos,
    diff,
    fuzz_settings,
    payloads,
    snapshot,
    writable_files,
)
from ftrace_mmio.trace.array import TraceArray
from trace_util import Tree

try:  # the mmiotrace tracer registers itself on import; fuzz switching to it too
    import ftrace_mmio.mmiotrace.tracer  # noqa: F401
except ImportError:
    pass

WRITABLE = writable_files(Tree().root)

# Valid writes that put the tree in states where the parsers' neighbours
# matter: expanded or not, tiny buffer, overwrite off, tracing off, markers
# off, a CPU masked out, another clock, data on both CPUs.
SETUP_STEPS: list[tuple[str, bytes]] = [
    ("current_tracer", b"nop"),
    ("buffer_size_kb", b"1"),
    ("per_cpu/cpu1/buffer_size_kb", b"2"),
    ("options/overwrite", b"0"),
    ("tracing_on", b"0"),
    ("options/markers", b"0"),
    ("tracing_cpumask", b"1"),
    ("trace_clock", b"counter"),
    ("trace_options", b"noirq-info"),
    ("options/pause-on-trace", b"1"),
    ("marker", b"10"),
    ("marker", b"300"),
]


def apply_setup(tree: Tree, steps: list[int], cpu: int) -> None:
    for i in steps:
        path, data = SETUP_STEPS[i]
        if path == "marker":
            tree.array.marker_cpu = cpu
            for n in range(int(data)):
                try:
                    tree.marker(b"m%06d\n" % n)
                except OSError as exc:
                    assert exc.errno in (errno.EBADF, errno.EINVAL)
        else:
            tree.write(path, data)


setups = st.tuples(
    st.lists(st.integers(0, len(SETUP_STEPS) - 1), max_size=5),
    st.integers(0, 1),
)
writes = st.lists(
    st.tuples(st.sampled_from(WRITABLE), payloads(), st.booleans()),
    min_size=1, max_size=6,
)

_DROPPED = re.compile(rb"^dropped events: (\d+)$", re.M)


def check_refusal(path: str, code: int, before: dict[str, bytes], after: dict[str, bytes]) -> None:
    """A refused write left everything as it was, but for the kernel's two exceptions."""
    changed = diff(before, after)
    if path in ("current_tracer", "set_event") and b"expanded" in before["buffer_size_kb"]:
        # Expanded first, refused after (the kernel's order).
        expansion = {"buffer_size_kb", "buffer_total_size_kb"} | {
            p for p in changed if re.fullmatch(r"per_cpu/cpu\d+/buffer_size_kb", p)}
        assert set(changed) <= expansion, f"{path}: refused write changed {sorted(changed)}"
        assert b"expanded" not in after["buffer_size_kb"]
        return
    if path == "trace_marker" and code == errno.EBADF:
        for p, (old, new) in changed.items():
            assert re.fullmatch(r"per_cpu/cpu\d+/stats", p), f"refused marker changed {p}"
            # Only the drop counter moves, and only up.
            assert _DROPPED.sub(b"", old) == _DROPPED.sub(b"", new)
            assert int(_DROPPED.search(new)[1]) > int(_DROPPED.search(old)[1])
        return
    assert not changed, f"{path}: refused write changed {sorted(changed)}"


def fuzz_write(tree: Tree, path: str, data: bytes, trunc: bool) -> int | OSError:
    """One open (O_TRUNC if asked), one write(), one close; the result or the OSError."""
    flags = os.O_WRONLY | (os.O_TRUNC | os.O_CREAT if trunc else 0)
    try:
        n = tree.write(path, data, flags)
    except OSError as exc:
        assert exc.errno in allowed_errnos(path), (
            f"write {data[:80]!r} to {path}: {errno.errorcode.get(exc.errno, exc.errno)} "
            f"is not an errno this file gives")
        return exc
    assert isinstance(n, int) and 0 <= n <= max(len(data), 0), f"{path}: write returned {n!r}"
    return n


# Every file gets its own examples; of the options (one parser) a few that act.
PER_FILE = [p for p in WRITABLE if not p.startswith("options/")] + [
    "options/overwrite", "options/markers", "options/trace_printk_dest", "options/test_nop_refuse",
    "options/pause-on-trace", "options/disable_on_free", "options/irq-info",
]


def run_writes(tree: Tree, ops: list[tuple[str, bytes, bool]]) -> None:
    for path, data, trunc in ops:
        before = snapshot(tree.root)   # also proves every readable file still reads
        result = fuzz_write(tree, path, data, trunc)
        if isinstance(result, OSError) and not trunc:
            check_refusal(path, result.errno, before, snapshot(tree.root))
    snapshot(tree.root)


@pytest.mark.parametrize("path", PER_FILE)
@fuzz_settings(25)
@given(setup=setups, data=st.lists(payloads(), min_size=1, max_size=3))
def test_random_writes_to_one_file(path: str, setup, data: list[bytes]) -> None:
    tree = Tree()
    apply_setup(tree, *setup)
    run_writes(tree, [(path, d, False) for d in data])


@fuzz_settings(100)
@given(setup=setups, ops=writes)
def test_random_writes_across_files(setup, ops) -> None:
    # Sequences: one write's effect is the next one's starting state.
    tree = Tree()
    apply_setup(tree, *setup)
    run_writes(tree, ops)


@fuzz_settings(60)
@given(path=st.sampled_from(WRITABLE), data=payloads())
def test_a_refused_write_with_a_reader_open_changes_nothing(path, data) -> None:
    # With trace_pipe open, switching tracers is EBUSY; nothing else may break.
    tree = Tree()
    tree.write("current_tracer", b"nop")
    tree.marker(b"before\n")
    with tree.opened("trace_pipe", os.O_RDONLY | os.O_NONBLOCK):
        before = snapshot(tree.root)
        result = fuzz_write(tree, path, data, trunc=False)
        if isinstance(result, OSError):
            check_refusal(path, result.errno, before, snapshot(tree.root))


def test_the_fuzzer_reaches_every_writable_file_and_every_errno() -> None:
    # Guard against a fuzzer that silently stopped exercising something.
    assert set(WRITABLE) >= {"current_tracer", "tracing_on", "trace_marker", "buffer_size_kb",
                             "trace_clock", "trace_options", "tracing_cpumask", "options/overwrite",
                             "per_cpu/cpu0/buffer_size_kb", "events/enable", "free_buffer"}
    for path in WRITABLE:
        allowed_errnos(path)  # every writable file has its errno set
    tree = Tree()
    got = {}
    for path, data in [("tracing_on", b"x"), ("tracing_on", b"9" * 30), ("tracing_cpumask", b"123456789"),
                       ("buffer_size_kb", b"99999999999999"), ("trace_clock", b"x" * 64)]:
        result = fuzz_write(tree, path, data, trunc=False)
        assert isinstance(result, OSError)
        got[path, data[:4]] = result.errno
    assert set(got.values()) == {errno.EINVAL, errno.ERANGE, errno.EOVERFLOW, errno.ENOMEM}


# -- the same over the real FUSE mount --------------------------------------------


def value_files(root) -> list[str]:
    """Control files whose contents do not depend on time or on who wrote."""
    return sorted(p for p in snapshot(root) if not re.search(r"(^|/)(trace|stats)$", p))


def read_mount(m: Mount, paths: list[str]) -> dict[str, bytes]:
    out = {}
    for p in paths:
        with open(m.path / p, "rb") as f:
            out[p] = f.read()
    return out


def write_mount(m: Mount, path: str, data: bytes) -> int | OSError:
    fd = os.open(m.path / path, os.O_WRONLY)
    try:
        return os.write(fd, data)
    except OSError as exc:
        return exc
    finally:
        os.close(fd)


def restore_defaults(m: Mount, mirror: Tree, paths: list[str]) -> None:
    """Put every control file of the mount back to a fresh mirror's value."""
    want = {p: snapshot(mirror.root)[p] for p in paths}
    have = read_mount(m, paths)
    writable = set(writable_files(mirror.root))
    for path in ("buffer_subbuf_size_kb", "buffer_size_kb", "trace_clock", *sorted(want)):
        if have.get(path) == want[path] or path not in writable:
            continue
        value = want[path].strip()
        if path == "trace_clock":
            value = re.search(rb"\[(\S+)\]", value)[1]
        if path != "trace_options":
            assert write_mount(m, path, value) == len(value), path
    left = diff(want, read_mount(m, paths))
    assert not left, f"could not restore {left}"


@needs_fuse
@pytest.mark.fuse
@fuzz_settings(25)
@given(ops=st.lists(st.tuples(st.sampled_from(WRITABLE), payloads(max_size=120)), min_size=1, max_size=4))
def test_random_writes_over_fuse_match_the_node_tree(mounted: Mount, ops) -> None:
    mirror = Tree(TraceArray())
    mirror.write("current_tracer", b"nop")     # the fixture's reset expanded the mount too
    on_mount = set(os.listdir(mounted.path)) | {f"options/{o}" for o in os.listdir(mounted.path / "options")}
    # The test process may know tracers the daemon does not (or the reverse).
    foreign = set(mirror.text("available_tracers").split()) ^ set(
        (mounted.path / "available_tracers").read_text().split())
    paths = [p for p in value_files(mirror.root) if p.split("/")[0] in on_mount or p in on_mount]
    if foreign:
        paths.remove("available_tracers")
    restore_defaults(mounted, mirror, paths)
    for path, data in ops:
        if path == "free_buffer" or path not in paths and path not in on_mount:
            continue  # closing free_buffer shrinks the buffer: covered in process
        name = data[:100].split(b"\0")[0].strip().decode("utf-8", "surrogateescape")
        if path == "current_tracer" and name in foreign:
            continue
        over_fuse = write_mount(mounted, path, data)
        if not data:
            # The kernel's FUSE layer answers a 0-byte write itself (0) and never
            # sends it to the daemon: the one write a FUSE look-alike cannot
            # refuse like tracefs does (docs/reliability.md). Nothing changes.
            assert over_fuse == 0
            data_changed = read_mount(mounted, paths) != {p: snapshot(mirror.root)[p] for p in paths}
            assert not data_changed
            continue
        try:
            in_proc: int | OSError = mirror.write(path, data)
        except OSError as exc:
            in_proc = exc
        what = f"write {data[:60]!r} to {path}"
        if isinstance(in_proc, OSError):
            assert isinstance(over_fuse, OSError), f"{what}: FUSE took it, the tree refused"
            assert over_fuse.errno == in_proc.errno, what
        else:
            assert over_fuse == in_proc, what
        now = snapshot(mirror.root)
        assert read_mount(mounted, paths) == {p: now[p] for p in paths}, f"after {what}"
