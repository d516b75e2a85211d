"""Shared material for the analysis tests: nvlike traces recorded once per session.

The traces are real: the bundled nvlike driver (and a copy changed to write
one different value) runs on the emulated machine under mmiotrace with the
deterministic clock, through the same in-process API as ``ftrace-mmio run``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import ftrace_mmio.drivers
from ftrace_mmio.cli.run import trace_run

# shared/ sits beside the work tree (and beside CI's clone).
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
if not CORPUS.is_dir():
    CORPUS = Path("/work/shared/corpus")
GOLDEN = Path(__file__).resolve().parent / "golden"
NVLIKE_C = Path(ftrace_mmio.drivers.__file__).resolve().parent / "nvlike.c"

# The one change made to the driver copy: PTIMER_NUMERATOR gets 1001 instead of 1000.
ORIGINAL_WRITE = "nv_wr32(NV_PTIMER_NUMERATOR, 1000);"
CHANGED_WRITE = "nv_wr32(NV_PTIMER_NUMERATOR, 1001);"
TIMEOUT = 120   # a safety net against a hang, not a measurement


@dataclass(frozen=True)
class NvTraces:
    dir: Path
    original: Path          # trace of the bundled driver
    changed_driver: Path    # nvlike.c with the one different write
    changed: Path           # trace of the changed driver


def record(target: str | Path, out: Path) -> Path:
    with out.open("wb") as f:
        failure, dmesg = trace_run(str(target), [], f, clock="det")
    assert failure is None, f"{failure}\n{dmesg}"
    return out


_cache: dict[str, NvTraces] = {}


@pytest.fixture(scope="session")
def nv(tmp_path_factory: pytest.TempPathFactory) -> NvTraces:
    # Session-scoped, and cached here as well: test modules that import the fixture
    # each get their own FixtureDef, and the recording should still happen once.
    if "nv" not in _cache:
        d = tmp_path_factory.mktemp("nvtraces")
        source = NVLIKE_C.read_text()
        assert source.count(ORIGINAL_WRITE) == 1, "nvlike.c changed: pick another write to alter"
        changed_c = d / "nvlike.c"
        changed_c.write_text(source.replace(ORIGINAL_WRITE, CHANGED_WRITE))
        _cache["nv"] = NvTraces(d, record("nvlike", d / "nv.txt"), changed_c,
                                record(changed_c, d / "nv_changed.txt"))
    return _cache["nv"]


def line_of(path: Path, predicate) -> int:
    """The 1-based number of the first line of ``path`` for which ``predicate(text)`` holds."""
    for n, text in enumerate(path.read_text().splitlines(), 1):
        if predicate(text):
            return n
    raise AssertionError(f"no such line in {path}")


def cli(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """``ftrace-mmio ARGS`` as a user runs it."""
    return subprocess.run([sys.executable, "-m", "ftrace_mmio", *args], input=stdin, capture_output=True,
                          timeout=TIMEOUT, cwd=cwd, env=dict(os.environ))


def sh(script: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """A shell pipeline with the venv's ``ftrace-mmio`` first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return subprocess.run(["bash", "-o", "pipefail", "-c", script], capture_output=True, text=True,
                          timeout=TIMEOUT, cwd=cwd, env=env)
