"""Shared pieces of the reliability tests (tests/test_reliability_*.py).

* ``fuzz_settings(n)``: hypothesis settings with ``n`` examples by default,
  so the default suite stays fast; ``FTRACE_MMIO_FUZZ_EXAMPLES=N`` in the
  environment runs every fuzz test with N examples instead (long local runs,
  see docs/reliability.md).
* ``WRITE_ERRNOS``: for every writable control file, the errnos the kernel
  may answer a write with (spec tracefs.md sections 0 and 9). Anything else
  escaping a write is a bug.
* ``snapshot(tree)``: the text of every readable, non-consuming file, the
  "state" that a rejected write must leave as it found it.
* ``payloads()``: random bytes, weighted towards what the parsers look at.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from typing import Callable

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from ftrace_mmio.trace.array import CLOCK_NAMES
from ftrace_mmio.trace.options import CORE_OPTION_NAMES
from tracefs.nodes import Dir, File, Request

_LONG = os.environ.get("FTRACE_MMIO_FUZZ_EXAMPLES")


def fuzz_settings(examples: int, **kw: object) -> settings:
    """``examples`` examples (or $FTRACE_MMIO_FUZZ_EXAMPLES), no deadline, no database."""
    n = int(_LONG) if _LONG else examples
    # Health checks are about slow or heavily filtered generation: expected
    # here (real mounts, real machines, filtered instructions).
    return settings(max_examples=n, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck), **kw)  # type: ignore[arg-type]


# -- what each writable file may answer ----------------------------------------

_NUMBER = {errno.EINVAL, errno.ERANGE}
WRITE_ERRNOS: dict[str, set[int]] = {
    "current_tracer": {errno.EINVAL, errno.EBUSY},
    "tracing_on": _NUMBER,
    "trace": set(),                      # anything is accepted and ignored
    "trace_marker": {errno.EINVAL, errno.EBADF},
    "trace_marker_raw": {errno.EINVAL, errno.EBADF},
    "events/ftrace/print/trigger": {errno.EINVAL},   # triggers are not supported here
    "buffer_size_kb": _NUMBER | {errno.ENOMEM},
    "buffer_subbuf_size_kb": _NUMBER,
    "buffer_percent": _NUMBER,
    "trace_clock": {errno.EINVAL},
    "trace_options": {errno.EINVAL},
    "tracing_cpumask": {errno.EINVAL, errno.EOVERFLOW},
    "tracing_thresh": _NUMBER,
    "free_buffer": set(),
    "saved_cmdlines_size": _NUMBER,
    "set_event": {errno.EINVAL},
    "error_log": set(),
    "dynamic_events": {errno.EINVAL},
    "uprobe_events": {errno.EINVAL},
    "events/enable": _NUMBER,
    "options/*": _NUMBER,
    "per_cpu/cpu*/trace": set(),
    "per_cpu/cpu*/buffer_size_kb": _NUMBER | {errno.ENOMEM},
}


def allowed_errnos(path: str) -> set[int]:
    path = path.lstrip("/")
    if path in WRITE_ERRNOS:
        return WRITE_ERRNOS[path]
    if path.startswith("options/"):
        return WRITE_ERRNOS["options/*"]
    generic = re.sub(r"^per_cpu/cpu\d+/", "per_cpu/cpu*/", path)
    return WRITE_ERRNOS[generic]


def files(root: Dir) -> dict[str, File]:
    return {path.lstrip("/"): node for path, node in root.walk() if isinstance(node, File)}


def writable_files(root: Dir) -> list[str]:
    return sorted(p for p, n in files(root).items() if n.mode & stat.S_IWUSR)


# Files a snapshot must not open: reading consumes (pipes), or closing acts (free_buffer).
_NOT_SNAPSHOT = re.compile(r"(^|/)(trace_pipe|trace_pipe_raw|free_buffer|trace_marker)$")
# A line that moves by itself: the clock "now".
_MOVING = re.compile(rb"^now ts:.*$", re.M)


def read_node(node: File, size: int = 1 << 16) -> bytes:
    req = Request(flags=os.O_RDONLY)
    handle = node.open(req)
    try:
        out = b""
        while True:
            chunk = handle.read(size, len(out), req)
            if not chunk:
                return out
            out += chunk
    finally:
        handle.release()


def snapshot(root: Dir) -> dict[str, bytes]:
    """Every readable, non-consuming file's bytes (the moving "now ts" blanked)."""
    out = {}
    for path, node in files(root).items():
        if _NOT_SNAPSHOT.search(path) or not node.mode & stat.S_IRUSR:
            continue
        out[path] = _MOVING.sub(b"now ts: -", read_node(node))
    return out


def diff(before: dict[str, bytes], after: dict[str, bytes]) -> dict[str, tuple[bytes, bytes]]:
    return {k: (before.get(k, b""), after.get(k, b"")) for k in before.keys() | after.keys()
            if before.get(k) != after.get(k)}


# -- payloads ------------------------------------------------------------------

_WORDS = [
    b"0", b"1", b"2", b"+1", b"00", b"7", b"4", b"8", b"100", b"101", b"1408", b"3", b"ffff",
    b"99999999999999999999999", b"18446744073709551615", b"18446744073709551616",
    b"267386880", b"267386881", b"4294967296", b"32768", b"32769", b"128", b"256",
    b"nop", b"mmiotrace", b"function", b"blk", b"no", b"noverbose",
    *(n.encode() for n in CLOCK_NAMES), *(n.encode() for n in CORE_OPTION_NAMES),
    *(b"no" + n.encode() for n in CORE_OPTION_NAMES),
    b"test_nop_accept", b"test_nop_refuse", b"*:*", b"!*:*", b"sched:*", b"#", b"p:x",
    b"1,0", b"0,3", b",", b"0x1", b"-1", b" ", b"\t", b"\n", b"\0", b"\xff", b"\xc3\x28",
]
_SEP = st.sampled_from([b"", b"", b"\n", b" ", b"\t", b"\0", b",", b"\n\n"])


@st.composite
def _wordy(draw: Callable) -> bytes:
    parts = draw(st.lists(st.tuples(_SEP, st.sampled_from(_WORDS)), min_size=1, max_size=3))
    return b"".join(a + b for a, b in parts) + draw(_SEP)


def payloads(max_size: int = 200) -> st.SearchStrategy[bytes]:
    """Bytes a careless or hostile writer sends: noise, near-misses, huge, empty."""
    return st.one_of(
        _wordy(),
        st.binary(max_size=max_size),
        st.binary(min_size=60, max_size=70),                  # around the 64-byte name limit
        st.one_of(st.integers(0, 300), st.integers(0, 1 << 70)).map(lambda n: str(n).encode()),
        st.builds(lambda b, n: b * n, st.sampled_from([b"1", b" ", b"a", b"\0"]), st.integers(95, 5000)),
    )
