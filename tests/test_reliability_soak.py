"""The soak, short: scripts/soak on a real mount, its report checked.

The same script as the long runs in docs/reliability.md, for a few seconds:
marker-writing shells, shells reading `trace` in a loop, one `cat
trace_pipe` that is stopped for a while so the buffer overflows, and (when
the mount has a machine) a driver loaded and unloaded in a loop under
mmiotrace. The report must account for every marker, show no duplicate, no
stall, no RSS growth past the allowance and no wake-ups of an idle daemon.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fuse_util import needs_fuse

SOAK = Path(__file__).resolve().parent.parent / "scripts" / "soak"
pytestmark = [needs_fuse, pytest.mark.fuse, pytest.mark.slow]


def soak(*args: str, pause: float = 1.5) -> dict:
    # The timeout is a safety net against a hang, far above the run's length.
    result = subprocess.run([sys.executable, str(SOAK), *args, "--json", "--quiet", "--interval", "1",
                             "--idle-seconds", "1", "--buffer-size-kb", "16", "--pause-reader", str(pause),
                             "--stall-seconds", "20"],
                            capture_output=True, text=True, timeout=600)
    report = json.loads(result.stdout)
    assert result.returncode == (0 if report["verdict"] == "PASS" else 1)
    return report


def check_common(rep: dict) -> None:
    assert rep["verdict"] == "PASS", (rep["problems"], rep["stalls"])
    assert rep["markers_written"] > 1000 and rep["markers_read"] > 0
    assert rep["duplicates"] == 0 and rep["out_of_order"] == 0
    assert rep["unexplained_losses"] == 0
    assert rep["lost_reported"] > 0           # the stopped reader made the buffer overflow
    assert rep["entry_lines"] == rep["stats_read_events"]
    assert rep["trace_reads"] > 0 and rep["trace_read_errors"] == 0
    # An idle daemon with nothing open does not poll: 0 wake-ups measured here;
    # 1/s of slack for a stray statfs (a `df` elsewhere on the host) in the window.
    assert rep["idle_wakeups_per_s"] <= 1
    assert rep["stalls"] == []


def test_short_soak_without_drivers_accounts_for_every_marker() -> None:
    # Markers alone fill 16 KiB slowly on a loaded machine: a longer pause
    # (the reader stops at 2P s for P s) makes sure the buffer overflows.
    rep = soak("8", "--no-drivers", pause=2.5)
    check_common(rep)
    assert rep["tracer"] == "nop"
    # nop: exact, marker by marker.
    assert rep["markers_read"] + rep["lost_reported"] + rep["markers_refused"] == rep["markers_written"]
    assert rep["lost_reported"] == rep["stats_overrun"]


def test_short_soak_with_drivers_under_mmiotrace() -> None:
    rep = soak("6")
    check_common(rep)
    if rep["tracer"] != "mmiotrace":
        pytest.skip(f"no driver loop on this mount: {rep['drivers']}")
    assert rep["driver_cycles"] > 0 and rep["driver_errors"] == 0
    # Lost events are not attributed to markers or MMIO records: a bound.
    assert rep["markers_written"] - rep["markers_refused"] - rep["markers_read"] <= rep["lost_reported"]


def test_soak_help_has_examples() -> None:
    result = subprocess.run([sys.executable, str(SOAK), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "examples:" in result.stdout and "./scripts/soak 600" in result.stdout
