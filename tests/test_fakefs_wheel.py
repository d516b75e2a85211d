"""The pyfakefs fixture as a user has it: ftrace-mmio installed from a wheel.

Builds the wheel of this checkout, installs it (without dependencies) into a
fresh virtualenv outside the repository, and runs, from a project directory
of its own, a test suite made of every Python example in
docs/testing-with-pyfakefs.md. The repository is on no path of that run, so
a module the fixture imports while pyfakefs is active, or a file the wheel
lacks, fails here and not in a user's hands.

No network: the dependencies (pytest, pyfakefs, unicorn, ...) come from this
checkout's own environment, linked into the new venv one by one, without the
editable install of ftrace-mmio itself.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "testing-with-pyfakefs.md"
TIMEOUT = 600  # a safety net: building and installing a wheel, not a measurement

pytestmark = pytest.mark.slow


def doc_examples() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", DOC.read_text(), flags=re.S | re.M)


def as_test_module(index: int, code: str) -> str:
    """A doc block as a test file: test functions as they are, a plain script
    (the "Without pytest" example) wrapped in one."""
    if re.search(r"^def test_", code, flags=re.M):
        return code
    return f"def test_doc_block_{index}():\n" + textwrap.indent(code, "    ")


#: The environment of every step: nothing that would put this checkout on a path.
ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, f"{argv} failed:\n{result.stdout}\n{result.stderr}"
    return result


def link_dependencies(venv_site: Path) -> None:
    """Everything installed next to this test run, except ftrace-mmio itself."""
    ours = Path(sysconfig.get_paths()["purelib"])
    deps = venv_site / "_deps"
    deps.mkdir()
    for entry in ours.iterdir():
        name = entry.name.lower()
        if name.startswith(("ftrace_mmio", "ftrace-mmio", "__editable__", "tracefs")) or name.endswith(".pth"):
            continue
        (deps / entry.name).symlink_to(entry)
    (venv_site / "_deps.pth").write_text(f"{deps}\n")


def test_fixture_from_a_wheel_in_a_fresh_venv(tmp_path: Path) -> None:
    assert not str(tmp_path).startswith(str(ROOT)), "the user's project must be outside the repository"
    examples = doc_examples()
    assert len(examples) >= 5, "docs/testing-with-pyfakefs.md lost its examples"

    dist = tmp_path / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(dist), str(ROOT)], cwd=tmp_path)
    (wheel,) = dist.glob("ftrace_mmio-*.whl")

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    py = venv / "bin" / "python"
    site = Path(run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                    cwd=tmp_path).stdout.strip())
    link_dependencies(site)
    run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps",
         "--no-index", str(wheel)], cwd=tmp_path)

    project = tmp_path / "my-tool"
    (project / "tests").mkdir(parents=True)
    for i, code in enumerate(examples):
        (project / "tests" / f"test_doc_{i}.py").write_text(as_test_module(i, code))
    where = run([str(py), "-c", "import ftrace_mmio, tracefs; print(ftrace_mmio.__file__, tracefs.__file__)"],
                cwd=project).stdout
    assert str(ROOT) not in where and str(site) in where, where
    result = subprocess.run([str(py), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", "tests"],
                            cwd=project, env=ENV, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, f"the documented examples failed:\n{result.stdout}\n{result.stderr}"
    summary = result.stdout.strip().splitlines()[-1]
    assert "skipped" not in summary and "passed" in summary, summary
    count = int(summary.split()[0])
    assert count >= len(examples), summary
