"""events/: header_page, header_event and events/ftrace/*/{format,id}, byte for byte
as Linux 6.1 shows them (tests/data/kernel-6.1/tracefs/, see its README), with the
kernel's listing and modes; and the other files trace-cmd reads.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

import pytest

from ftrace_mmio.trace.formats import FTRACE_BY_NAME, FTRACE_EVENTS
from tracefs.nodes import Dir, File
from trace_util import Tree, raises_errno

DATA = Path(__file__).parent / "data" / "kernel-6.1" / "tracefs"
EVENTS = DATA / "events"
KERNEL_FTRACE_EVENTS = sorted(p.name for p in (EVENTS / "ftrace").iterdir())


def kernel_listing() -> dict[str, list[str]]:
    """ls -R events/ftrace on the kernel: directory -> names."""
    out: dict[str, list[str]] = {}
    for block in (DATA / "ls-R-events-ftrace.txt").read_text().strip().split("\n\n"):
        head, *names = block.splitlines()
        out[head.rstrip(":")] = names
    return out


@pytest.fixture
def tree() -> Tree:
    return Tree()


def test_the_kernel_data_is_complete() -> None:
    # Every event the kernel lists has its captured format here.
    assert KERNEL_FTRACE_EVENTS == kernel_listing()["events/ftrace"]
    assert len(KERNEL_FTRACE_EVENTS) == 18


@pytest.mark.parametrize("name", ["header_page", "header_event"])
def test_headers_byte_for_byte(tree: Tree, name: str) -> None:
    assert tree.read(f"events/{name}") == (EVENTS / name).read_bytes()


@pytest.mark.parametrize("name", KERNEL_FTRACE_EVENTS)
def test_ftrace_formats_byte_for_byte(tree: Tree, name: str) -> None:
    assert tree.read(f"events/ftrace/{name}/format") == (EVENTS / "ftrace" / name / "format").read_bytes()


def test_ids_are_the_kernels_record_types(tree: Tree) -> None:
    ids = {e.name: e.id for e in FTRACE_EVENTS}
    assert (ids["print"], ids["bprint"], ids["mmiotrace_rw"], ids["mmiotrace_map"]) == (5, 6, 7, 8)
    # 13 is blktrace's record type, which lives outside events/ftrace.
    assert sorted(ids.values()) == [*range(1, 13), *range(14, 20)]
    # The id file exists where the kernel has one and agrees with the format's ID line.
    assert tree.text("events/ftrace/print/id") == "5\n"
    assert tree.text("events/ftrace/function/id") == "1\n"
    for name in FTRACE_BY_NAME:
        fmt = tree.text(f"events/ftrace/{name}/format")
        assert re.search(r"^ID: (\d+)$", fmt, re.M).group(1) == str(ids[name])


def test_listing_as_the_kernels(tree: Tree) -> None:
    listing = kernel_listing()
    ftrace = tree.root.lookup("events/ftrace")
    assert isinstance(ftrace, Dir)
    assert sorted(ftrace.children) == listing["events/ftrace"]
    # No enable or filter under ftrace/: its records cannot be switched.
    for name in KERNEL_FTRACE_EVENTS:
        d = ftrace.children[name]
        assert isinstance(d, Dir)
        assert sorted(d.children) == sorted(listing[f"events/ftrace/{name}"]), name
    events = tree.root.lookup("events")
    assert {"enable", "header_page", "header_event", "ftrace"} <= set(events.children)


def kernel_modes(listing: str) -> dict[str, int]:
    """name -> permission bits, from an ls -l listing."""
    modes = {}
    for line in (DATA / listing).read_text().splitlines():
        parts = line.split()
        if len(parts) >= 9 and parts[0][0] in "-d":
            bits = 0
            for i, ch in enumerate(parts[0][1:10]):
                if ch != "-":
                    bits |= 1 << (8 - i)
            modes[parts[-1]] = bits
    return modes


def test_modes_as_the_kernels(tree: Tree) -> None:
    ref = kernel_modes("ls-l-mmiotrace-events.txt")
    for event in ("mmiotrace_rw", "mmiotrace_map"):
        for name in ("format", "hist"):
            assert tree.node(f"events/ftrace/{event}/{name}").mode & 0o7777 == ref[name] == 0o440
    top = kernel_modes("ls-l-top.txt")
    for name in ("printk_formats", "saved_cmdlines"):
        assert tree.node(name).mode & 0o7777 == top[name]
    for name in ("header_page", "header_event"):
        assert tree.node(f"events/{name}").mode & 0o7777 == 0o440


def test_format_files_are_read_only(tree: Tree) -> None:
    h = tree.open("events/ftrace/mmiotrace_rw/format")
    with raises_errno(errno.EINVAL):
        h.write(b"x", 0, h._req)  # type: ignore[attr-defined]


def test_partial_reads_at_any_offset(tree: Tree) -> None:
    """trace-cmd reads formats with small buffers; pread at any offset gives the same bytes."""
    want = (EVENTS / "ftrace" / "mmiotrace_map" / "format").read_bytes()
    with tree.opened("events/ftrace/mmiotrace_map/format") as h:
        got = b"".join(h.read(7, off, h._req) for off in range(0, len(want) + 7, 7))  # type: ignore[attr-defined]
    assert got == want


def test_printk_formats_and_saved_cmdlines(tree: Tree) -> None:
    # No binary printk formats exist here; comms are not recorded (the kernel's
    # capture is empty too: its report prints <...>).
    assert tree.text("printk_formats") == ""
    assert tree.read("saved_cmdlines") == (DATA / "saved_cmdlines").read_bytes() == b""


def test_top_level_modes_as_the_kernels(tree: Tree) -> None:
    """Every top-level entry the 6.1 kernel also has carries the kernel's mode."""
    ref = kernel_modes("ls-l-top.txt")
    ours = {name: node.mode & 0o7777 for name, node in tree.root.children.items()}
    common = sorted(set(ref) & set(ours))
    assert {"events", "trace_marker_raw", "printk_formats", "available_events", "saved_cmdlines",
            "per_cpu", "trace", "trace_pipe"} <= set(common)
    assert {name: ours[name] for name in common} == {name: ref[name] for name in common}


def test_per_cpu_modes_as_the_kernels(tree: Tree) -> None:
    ref = kernel_modes("ls-l-per_cpu-cpu0.txt")
    cpu0 = tree.root.lookup("per_cpu/cpu0")
    ours = {name: node.mode & 0o7777 for name, node in cpu0.children.items()}
    # snapshot and snapshot_raw are absent: there is no snapshot buffer here.
    assert set(ref) - set(ours) == {"snapshot", "snapshot_raw"}
    assert {name: ours[name] for name in ours} == {name: ref[name] for name in ours}
