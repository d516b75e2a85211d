"""How the command feels: --help with an example everywhere, errors that say
what to do next, progress on a terminal only, and run's closing summary."""

from __future__ import annotations

import argparse
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from ftrace_mmio.cli import build_parser
from mmiotrace_util import GOLDEN, TESTMMIO_BAR0

TIMEOUT = 120  # a safety net against a hang, not a measurement


def ftrace_mmio(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "ftrace_mmio", *args], capture_output=True, timeout=TIMEOUT,
                          env=env)


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_there_are_the_workflow_commands() -> None:
    names = set(subcommands())
    assert {"mount", "umount", "mounts", "insmod", "rmmod", "lsmod", "lspci", "dmesg", "run", "machine",
            "exec"} <= names


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_command_has_help_with_an_example(name: str) -> None:
    text = subcommands()[name].format_help()
    assert "example" in text
    examples = [line.strip() for line in text.split("example", 1)[1].splitlines()[1:]]
    assert any(line.startswith("ftrace-mmio ") or "ftrace-mmio " in line for line in examples), text


def test_help_works_from_the_shell() -> None:
    for args in (["--help"], ["exec", "--help"], ["machine", "--help"], ["run", "--help"]):
        result = ftrace_mmio(*args)
        assert result.returncode == 0
        assert b"example" in result.stdout


@pytest.mark.parametrize("args, advice", [
    (["insmod", "nvlike"], "start one: ftrace-mmio mount DIR"),
    (["exec", "--", "true"], "start one: ftrace-mmio mount DIR"),
    (["machine"], "--show-default, or --check FILE"),
    (["run", "nvlike", "--machine", "/nonexistent.toml"], "cannot read it"),
    (["run", "no_such_driver"], "bundled: "),
])
def test_errors_say_what_to_do_next(tmp_path: Path, args: list[str], advice: str) -> None:
    env = {**os.environ, "FTRACE_MMIO_RUNTIME_DIR": str(tmp_path / "run")}   # no mounts here
    result = ftrace_mmio(*args, env=env)
    assert result.returncode != 0
    assert advice in result.stderr.decode()
    assert b"Traceback" not in result.stderr


def test_run_says_where_the_trace_went_and_keeps_stdout_the_trace(tmp_path: Path) -> None:
    golden = (GOLDEN / "testmmiotrace.det.mmiotrace").read_bytes()
    args = ["run", "testmmiotrace", f"mmio_address={TESTMMIO_BAR0:#x}", "--clock", "det"]
    to_stdout = ftrace_mmio(*args)
    assert to_stdout.returncode == 0
    assert to_stdout.stdout == golden
    summary = "ftrace-mmio run: 10268 events (5121 R, 5120 W, 11 MAP, 11 UNMAP, 5 MARK) written to"
    # In a pipe: one line on stderr, no progress.
    assert to_stdout.stderr.decode() == f"{summary} stdout\n"
    out = tmp_path / "t.txt"
    to_file = ftrace_mmio(*args, "-o", str(out))
    assert to_file.returncode == 0 and to_file.stdout == b""
    assert out.read_bytes() == golden
    assert to_file.stderr.decode() == f"{summary} {out}\n"


def test_run_shows_progress_on_a_terminal(tmp_path: Path) -> None:
    out = tmp_path / "t.txt"
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "ftrace_mmio", "run", "testmmiotrace",
                             f"mmio_address={TESTMMIO_BAR0:#x}", "-o", str(out)],
                            stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:      # EIO: the other side is closed
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert proc.wait(TIMEOUT) == 0
    text = seen.decode(errors="replace")
    assert "\r\x1b[Kftrace-mmio run: compiling and loading testmmiotrace" in text
    assert " lines, " in text and " KiB so far" in text
    # The status line is erased before the summary, which stays.
    assert text.rstrip().endswith(f"written to {out}")
    assert "\r\x1b[Kftrace-mmio run: 10268 events" in text
    assert out.read_text().startswith("VERSION 20070824\n")
