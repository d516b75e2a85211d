"""The core trace options (trace_options, options/*), in the kernel's order.

Names and defaults are the kernel's. Most only change output details we do
not model (symbols, raw/hex/bin formats); those are stored and shown but have
no effect, and docs/tracefs.md says which ones act.
"""

from __future__ import annotations

CORE_OPTIONS: tuple[tuple[str, bool], ...] = (
    ("print-parent", True),
    ("sym-offset", False),
    ("sym-addr", False),
    ("verbose", False),
    ("raw", False),
    ("hex", False),
    ("bin", False),
    ("block", False),
    ("fields", False),
    ("trace_printk", True),
    ("annotate", True),
    ("userstacktrace", False),
    ("sym-userobj", False),
    ("printk-msg-only", False),
    ("context-info", True),
    ("latency-format", False),
    ("record-cmd", True),
    ("record-tgid", False),
    ("overwrite", True),
    ("disable_on_free", False),
    ("irq-info", True),
    ("markers", True),
    ("event-fork", False),
    ("trace_printk_dest", True),
    ("copy_trace_marker", True),
    ("pause-on-trace", False),
    ("hash-ptr", True),
    ("function-trace", True),
    ("function-fork", False),
    ("stacktrace", False),
)

CORE_OPTION_NAMES: tuple[str, ...] = tuple(name for name, _ in CORE_OPTIONS)

# The top-level instance always prints trace_printk into its own buffer.
CANNOT_CLEAR = frozenset({"trace_printk_dest"})


def default_options() -> dict[str, bool]:
    return dict(CORE_OPTIONS)
