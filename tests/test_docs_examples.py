"""Every runnable shell example in README.md and docs/ is run, as a reader would.

The convention (docs/guide.md, "How the examples here are tested"):

* ```sh blocks run with ``bash -e`` and must exit 0;
* ```console blocks are ``$ command`` lines, each followed by the stdout it
  must print; a line ``...`` stands for any number of lines;
* other blocks (```text, ```python, ...) are not run.

The blocks of one page run in order in one directory of their own (the
page's examples build on each other) that looks like the top of the
checkout: its files and directories are there as symlinks, so ``docs/...``
and ``ftrace_mmio/...`` paths work, and what the examples create stays in the
temporary directory. The venv's ``bin`` is first on PATH, the runtime
directory is private, each block has a timeout. A block must not leave
anything mounted.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from ftrace_mmio.cli.fs import FSNAME, FSTYPE
from ftrace_mmio.control import running_mounts

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
# Pages written with this convention: every fenced block says what it is.
LABELLED = {"README.md", "guide.md", "format.md", "how-it-works.md", "differences.md", "consumers.md"}
RUNNABLE = ("sh", "console")
BLOCK_TIMEOUT = 120   # a safety net against a hang, not a measurement
MIRROR_SKIP = {".git", ".venv", ".pytest_cache", "__pycache__", "build", "dist"}


@dataclass
class Block:
    page: Path
    line: int          # of the opening fence
    lang: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.page.name}:{self.line}"


def blocks_of(page: Path) -> list[Block]:
    found: list[Block] = []
    fence: str | None = None
    lang, start, body = "", 0, []
    for number, line in enumerate(page.read_text().splitlines(), 1):
        m = re.match(r" {0,3}(`{3,})(.*)$", line)
        if fence is None:
            if m:
                fence, lang, start, body = m.group(1), m.group(2).strip(), number, []
        elif m and m.group(1).startswith(fence) and not m.group(2).strip():
            found.append(Block(page, start, lang, "\n".join(body) + "\n"))
            fence = None
        else:
            body.append(line)
    assert fence is None, f"{page.name}:{start}: unclosed code block"
    return found


ALL_BLOCKS = [b for page in PAGES for b in blocks_of(page)]
RUN_BLOCKS = [b for b in ALL_BLOCKS if b.lang in RUNNABLE]


def test_there_are_runnable_examples() -> None:
    pages = {b.page.name for b in RUN_BLOCKS}
    assert {"README.md", "guide.md", "format.md", "how-it-works.md", "differences.md", "consumers.md"} <= pages


@pytest.mark.parametrize("page", sorted(LABELLED))
def test_every_block_of_these_pages_is_labelled(page: str) -> None:
    path = ROOT / page if page == "README.md" else ROOT / "docs" / page
    unlabelled = [b.id for b in blocks_of(path) if not b.lang]
    assert not unlabelled, f"label these blocks (sh, console, text, python ...): {unlabelled}"


# --- safety: what a runnable block may do -------------------------------------------------------


def safety_problem(block: Block) -> str | None:
    for line in block.text.splitlines():
        if re.search(r"/sys/kernel/(debug/)?tracing", line) and "ftrace-mmio exec" not in line:
            return f"uses the real tracing path outside `ftrace-mmio exec`: {line.strip()}"
        if re.search(r"ftrace-mmio mount(\s+-\S+(\s+\S+)?)*\s+/", line) or "--over-real-tracefs" in line:
            return f"mounts outside its own directory: {line.strip()}"
        if re.search(r"\b(umount|fusermount)\b", line) and "ftrace-mmio umount" not in line:
            return f"unmounts with something other than ftrace-mmio umount: {line.strip()}"
    return None


def test_runnable_blocks_stay_in_their_directory() -> None:
    problems = [f"{b.id}: {p}" for b in RUN_BLOCKS if (p := safety_problem(b))]
    assert not problems, problems


def missing_requirement(block: Block) -> str | None:
    text = block.text
    if re.search(r"ftrace-mmio (mount|insmod|rmmod|lsmod|lspci|dmesg|exec)\b", text) \
            and not os.path.exists("/dev/fuse"):
        return "/dev/fuse is absent: no FUSE mounts here"
    if "ftrace-mmio exec" in text and os.geteuid() != 0:
        return "ftrace-mmio exec needs root"
    # ./scripts/test installs trace-cmd; under CI a missing one fails the example instead.
    if "trace-cmd" in text and shutil.which("trace-cmd") is None and os.environ.get("CI") != "true":
        return "trace-cmd is not installed"
    return None


# --- running them ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    dirs: dict[str, Path] = {}
    yield dirs
    for work in dirs.values():
        cleanup(work)


def page_dir(dirs: dict[str, Path], factory: pytest.TempPathFactory, page: Path) -> Path:
    """A directory that looks like the top of the checkout (its entries as symlinks),
    where whatever the examples create stays."""
    if page.name not in dirs:
        base = factory.mktemp(page.stem)
        work = base / "work"
        work.mkdir()
        for entry in ROOT.iterdir():
            if entry.name not in MIRROR_SKIP and not entry.name.endswith(".egg-info"):
                (work / entry.name).symlink_to(entry)
        dirs[page.name] = work
    return dirs[page.name]


def environment(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["FTRACE_MMIO_RUNTIME_DIR"] = str(work.parent / "run")
    env.pop("FTRACE_MMIO_EXEC_MOUNT", None)
    env.pop("PYTHONPATH", None)
    return env


def our_mounts_under(work: Path) -> list[str]:
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        source, target, fstype = line.split()[:3]
        if target.startswith(f"{work}/") and (source, fstype) == (FSNAME, FSTYPE):
            found.append(target)
    return found


def cleanup(work: Path) -> list[str]:
    """Unmount and stop whatever a block left behind (ours only); say what it was."""
    left = our_mounts_under(work)
    env = environment(work)
    for target in reversed(left):
        subprocess.run([sys.executable, "-m", "ftrace_mmio", "umount", "--lazy", target], env=env,
                       capture_output=True, timeout=BLOCK_TIMEOUT)
    saved = os.environ.get("FTRACE_MMIO_RUNTIME_DIR")
    os.environ["FTRACE_MMIO_RUNTIME_DIR"] = env["FTRACE_MMIO_RUNTIME_DIR"]
    try:
        for entry in running_mounts():
            left.append(f"daemon {entry.pid} for {entry.mountpoint}")
            os.kill(entry.pid, signal.SIGTERM)
    finally:
        if saved is None:
            os.environ.pop("FTRACE_MMIO_RUNTIME_DIR", None)
        else:
            os.environ["FTRACE_MMIO_RUNTIME_DIR"] = saved
    return left


def run_shell(script: str, work: Path, errexit: bool) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", *(["-e"] if errexit else []), "-c", script], cwd=work, env=environment(work),
                          capture_output=True, text=True, timeout=BLOCK_TIMEOUT, start_new_session=True)


def console_steps(text: str) -> list[tuple[str, list[str]]]:
    steps: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            assert steps, f"console block does not start with '$ ': {line!r}"
            steps[-1][1].append(line)
    return steps


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line by line; '...' alone matches any number of lines."""
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(matches(expected[1:], actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and expected[0] == actual[0] and matches(expected[1:], actual[1:])


@pytest.mark.parametrize("block", RUN_BLOCKS, ids=[b.id for b in RUN_BLOCKS])
def test_example(block: Block, page_dirs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> None:
    problem = safety_problem(block)
    assert problem is None, problem
    missing = missing_requirement(block)
    if missing:
        pytest.skip(missing)
    work = page_dir(page_dirs, tmp_path_factory, block.page)
    try:
        if block.lang == "sh":
            result = run_shell(block.text, work, errexit=True)
            assert result.returncode == 0, (f"{block.id} failed ({result.returncode}):\n{block.text}\n"
                                            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
        else:
            for command, expected in console_steps(block.text):
                result = run_shell(command, work, errexit=False)
                actual = result.stdout.splitlines()
                assert matches(expected, actual), (f"{block.id}: $ {command}\nexpected:\n" + "\n".join(expected)
                                                   + "\ngot:\n" + result.stdout + "\nstderr:\n" + result.stderr)
    finally:
        left = cleanup(work)
    assert not left, f"{block.id} left these behind: {left}"
