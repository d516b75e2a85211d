"""In-tree driver sources for the tests: fetched once per machine by
ftrace_mmio.intree (never committed).  Without them a test skips with the
reason on a developer's machine and fails under CI=true."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ftrace_mmio import intree


def linux_sources(*rels: str) -> list[Path]:
    try:
        return [intree.source_path(rel) for rel in rels]
    except intree.IntreeError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"in-tree sources unavailable under CI: {exc}")
        pytest.skip(f"in-tree sources unavailable: {exc}")
