"""README command 1, ``./scripts/demo``, as a newcomer runs it: the mmiotrace
workflow on a real FUSE mount, the fallback without FUSE, and Ctrl-C in the
middle; nothing may stay mounted or running afterwards."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from fuse_util import needs_fuse

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "scripts" / "demo"
TIMEOUT = 180  # a safety net against a hang, not a measurement
WORKDIR = re.compile(r"/tmp/ftrace-mmio-demo\.\w+")


def leftovers(work: str) -> list[str]:
    """Mounts and processes that still belong to a demo run's work directory."""
    found = [line for line in Path("/proc/self/mounts").read_text().splitlines() if work in line]
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if work in cmdline:
                found.append(f"pid {proc.name}: {cmdline}")
    if Path(work).exists():
        found.append(f"{work} still exists")
    return found


def check_summary(out: str) -> None:
    assert "lines per record type:" in out
    assert re.search(r"^  VERSION +1$", out, re.M)
    assert re.search(r"^  PCIDEV +3$", out, re.M)
    assert "accesses per BAR offset (reads, writes):" in out
    # nvlike reads PMC_BOOT_0 exactly once, and writes VRAM through PRAMIN once.
    assert re.search(r"^  00:02\.0 BAR0\+0x000000 +R +1  W +0$", out, re.M)
    assert re.search(r"^  00:02\.0 BAR0\+0x700000 +R +1  W +1$", out, re.M)


@needs_fuse
def test_demo_runs_the_workflow_and_leaves_nothing_behind() -> None:
    result = subprocess.run([str(DEMO)], capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for step in ("$ ftrace-mmio mount ", "$ echo mmiotrace > current_tracer", "$ cat trace_pipe > dump.txt &",
                 "$ ftrace-mmio insmod nvlike", "$ echo 'nvlike is up' > trace_marker", "$ kill %1",
                 "$ echo nop > current_tracer", "$ ftrace-mmio umount "):
        assert step in out, f"step {step!r} missing"
    assert "filesystem magic: 65735546 (FUSE)" in out
    trace = out[out.index("VERSION 20070824\n"):]
    assert re.search(r"^MAP \d+\.\d{6} 1 0xf6000000 ", trace, re.M)
    assert re.search(r"^MARK \d+\.\d{6} nvlike is up$", trace, re.M)
    check_summary(out)
    (work,) = set(WORKDIR.findall(out))
    assert leftovers(work) == []


def test_demo_without_fuse_uses_run() -> None:
    result = subprocess.run([str(DEMO), "--no-fuse"], capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "using 'ftrace-mmio run' instead" in result.stderr
    assert "$ ftrace-mmio run nvlike -o " in result.stdout
    assert "events (" in result.stdout and "written to" in result.stdout
    check_summary(result.stdout)
    (work,) = set(WORKDIR.findall(result.stdout))
    assert leftovers(work) == []


@needs_fuse
def test_ctrl_c_in_the_middle_leaves_nothing_behind() -> None:
    # Its own process group, like a terminal's foreground job: Ctrl-C reaches all of it.
    proc = subprocess.Popen([str(DEMO)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    assert proc.stdout is not None
    out = ""
    deadline = time.monotonic() + TIMEOUT
    while "$ cat trace_pipe > dump.txt &" not in out and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        out += line
    assert "$ cat trace_pipe > dump.txt &" in out, out
    (work,) = set(WORKDIR.findall(out))
    # Mounted, with a reader: the worst moment to be interrupted.
    assert any(work in line for line in Path("/proc/self/mounts").read_text().splitlines())
    os.killpg(proc.pid, signal.SIGINT)
    rest, _ = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 130, out + rest
    assert "demo: interrupted, cleaning up" in rest
    assert leftovers(work) == []


@pytest.mark.parametrize("script", ["demo", "test"])
def test_scripts_have_help_with_an_example(script: str) -> None:
    result = subprocess.run([str(ROOT / "scripts" / script), "--help"], capture_output=True, text=True,
                            timeout=TIMEOUT)
    assert result.returncode == 0
    assert f"Example: ./scripts/{script}" in result.stdout
