"""Helpers to drive the tracing tree in process, the way the adapters do."""

from __future__ import annotations

import errno
import os
from contextlib import contextmanager
from typing import Iterator

import pytest

from ftrace_mmio.trace.array import TraceArray
from ftrace_mmio.trace.files import build_tree
from tracefs.nodes import Dir, File, Handle, Request

PID = 6016


class Tree:
    """A tracing tree over a TraceArray, with file-like helpers."""

    def __init__(self, array: TraceArray | None = None, **kw: object) -> None:
        self.array = array if array is not None else TraceArray(clock="det", **kw)  # type: ignore[arg-type]
        self.root: Dir = build_tree(self.array)

    def node(self, path: str) -> File:
        node = self.root.lookup(path)
        assert isinstance(node, File), path
        return node

    def open(self, path: str, flags: int = os.O_RDONLY, pid: int = PID, **kw: object) -> Handle:
        req = Request(flags=flags, pid=pid, **kw)  # type: ignore[arg-type]
        node = self.node(path)
        handle = node.open(req)
        handle._req = req  # type: ignore[attr-defined]
        if flags & os.O_TRUNC:
            node.truncate(req)
        return handle

    @contextmanager
    def opened(self, path: str, flags: int = os.O_RDONLY, **kw: object) -> Iterator[Handle]:
        handle = self.open(path, flags, **kw)
        try:
            yield handle
        finally:
            handle.release()

    def read(self, path: str, size: int = 65536) -> bytes:
        """Whole contents, read like cat: successive reads until one returns nothing."""
        with self.opened(path) as h:
            out = b""
            while True:
                chunk = h.read(size, len(out), h._req)  # type: ignore[attr-defined]
                if not chunk:
                    return out
                out += chunk

    def text(self, path: str) -> str:
        return self.read(path).decode()

    def write(self, path: str, data: bytes, flags: int = os.O_WRONLY, pid: int = PID) -> int:
        """One open, one write(), one close, like ``echo -n data > path`` without O_TRUNC."""
        with self.opened(path, flags, pid=pid) as h:
            return h.write(data, 0, h._req)  # type: ignore[attr-defined]

    def echo(self, path: str, data: bytes, pid: int = PID) -> int:
        """Like the shell's ``echo``: O_WRONLY|O_CREAT|O_TRUNC, then write."""
        return self.write(path, data, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, pid=pid)

    def marker(self, text: bytes, pid: int = PID) -> int:
        return self.write("trace_marker", text, pid=pid)


def raises_errno(code: int):
    """pytest.raises for an OSError with exactly this errno."""

    class _Check:
        def __enter__(self):
            self._ctx = pytest.raises(OSError)
            self._info = self._ctx.__enter__()
            return self._info

        def __exit__(self, *exc):
            result = self._ctx.__exit__(*exc)
            if not result:
                return result  # another exception type: let it through
            got = self._info.value.errno
            assert got == code, f"errno {errno.errorcode.get(got, got)}, wanted {errno.errorcode[code]}"
            return result

    return _Check()
