"""The documented mmiotrace workflow over a real FUSE mount, driven by a shell.

This is the issue's "done when": mount, select mmiotrace, ``cat trace_pipe``
in the background, insmod testmmiotrace through the control socket, write a
marker, kill cat, switch back to nop, unmount; the dump must hold what the
spec says, and the same event lines as ``ftrace-mmio run``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ftrace_mmio.control import ControlError, call
from fuse_util import Mount, fresh_mount, needs_fuse, runtime_dir  # noqa: F401 - fixtures
from mmiotrace_util import TESTMMIO_BAR0, check_grammar, events, expected_testmmiotrace, rw

pytestmark = needs_fuse

_TS = re.compile(r"\d+\.\d{6}")


def _has_machine(m: Mount) -> bool:
    try:
        return bool(call("status", mount=str(m.path)).get("machine"))
    except ControlError:
        return False


def _without_timestamps(text: str) -> list[str]:
    return [_TS.sub("TS", line, count=1) for line in text.splitlines()]


def test_documented_workflow(fresh_mount: Mount, tmp_path: Path) -> None:  # noqa: F811
    m = fresh_mount
    if not _has_machine(m):
        pytest.skip("the mount daemon does not compose a machine yet (daemon.build_system)")
    dump = tmp_path / "dump.txt"
    cli = f"{sys.executable} -m ftrace_mmio"
    m.ok(f"""
        set -e
        echo mmiotrace > current_tracer
        cat trace_pipe > {dump} &
        cat_pid=$!
        {cli} insmod testmmiotrace mmio_address={TESTMMIO_BAR0:#x}
        echo "test done" > trace_marker
        # cat is asynchronous: wait until the marker has reached the dump.
        for i in $(seq 600); do grep -q "test done" {dump} && break; sleep 0.05; done
        # While cat runs, the tracer cannot change.
        if echo nop > current_tracer 2>/dev/null; then echo "switched under cat" >&2; exit 1; fi
        kill $cat_pid; wait $cat_pid || true
        echo nop > current_tracer
    """)
    text = dump.read_text()
    lines = check_grammar(text)
    assert lines[0] == "VERSION 20070824\n"
    assert sum(line.startswith("PCIDEV ") for line in lines) == 3
    evs = events(text)
    assert rw(evs) == expected_testmmiotrace()
    assert sum(e.kind == "W" for e in evs) == 5120 and sum(e.kind == "R" for e in evs) == 5121
    assert not any(e.kind == "UNKNOWN" for e in evs)
    assert lines[-1].endswith(" test done\n") and lines[-1].startswith("MARK ")
    # `ftrace-mmio run` gives the same event lines (timestamps aside).
    run = subprocess.run([sys.executable, "-m", "ftrace_mmio", "run", "testmmiotrace",
                          f"mmio_address={TESTMMIO_BAR0:#x}"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert _without_timestamps(run.stdout) == _without_timestamps("".join(lines[:-1]))
