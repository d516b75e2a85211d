"""The tracer interface and the registry behind available_tracers.

A tracer is a class; each TraceArray makes its own instance of a tracer the
first time it needs one (to switch to it or to set one of its options) and
keeps it, so per-tracer state lives in the instance and per-tracer option
values survive switching away and back, as the kernel's do.

The hooks are the kernel's ``struct tracer`` callbacks. The array calls them
with its own locking done; hooks may call back into the array (commit,
clear) but must not switch tracers.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, ClassVar, Mapping

if TYPE_CHECKING:
    from .array import TraceArray
    from .entries import Entry
    from .pipe import PipeReader


class Tracer:
    #: The name written to current_tracer.
    name: ClassVar[str] = ""
    #: Tracer-specific options and their defaults (options/NAME files).
    options: ClassVar[Mapping[str, bool]] = {}

    def __init__(self, array: TraceArray) -> None:
        self.array = array
        self.option_values: dict[str, bool] = dict(self.options)

    # -- lifecycle ---------------------------------------------------------

    def init(self) -> None:
        """Becoming the current tracer. The buffers were just cleared."""

    def reset(self) -> None:
        """Stopping being the current tracer (before the next one's init)."""

    def start(self) -> None:
        """tracing_on went 0 -> 1."""

    def stop(self) -> None:
        """tracing_on went 1 -> 0."""

    # -- trace_pipe --------------------------------------------------------

    def pipe_open(self, pipe: PipeReader) -> None:
        """A trace_pipe was opened. ``pipe.queue(text)`` makes text the first thing read."""

    def pipe_close(self, pipe: PipeReader) -> None:
        """That trace_pipe was closed."""

    def read(self, pipe: PipeReader) -> str | None:
        """Called at the start of each trace_pipe read that has no text left over.

        Returning text makes it the whole result of that read (what does not
        fit the reader's buffer is returned by the next reads); None or ""
        lets the read go on to the entries.
        """
        return None

    # -- output ------------------------------------------------------------

    def print_line(self, entry: Entry) -> str | None:
        """The text for one entry, in trace and trace_pipe.

        None means "use the default format"; "" prints nothing (the entry is
        still consumed).
        """
        return None

    def print_header(self, entries: int, written: int) -> str | None:
        """Replaces the trace file's header after its first two lines. None: default."""
        return None

    # -- options -----------------------------------------------------------

    def set_option(self, name: str, value: bool) -> None:
        """Change one of this tracer's options; raise OSError(EINVAL) to refuse."""
        if name not in self.option_values:
            raise OSError(errno.EINVAL, f"{self.name} has no option {name}")
        self.option_values[name] = value


# The one piece of global state: which tracers exist. Newest first.
_registry: list[type[Tracer]] = []


def register_tracer(cls: type[Tracer]) -> type[Tracer]:
    """Make a tracer available to every TraceArray. Usable as a class decorator.

    Registering the same class again is a no-op; another class with a taken
    name is an error.
    """
    if not cls.name or any(c in cls.name for c in " \t\n"):
        raise ValueError(f"bad tracer name {cls.name!r}")
    for existing in _registry:
        if existing.name == cls.name:
            if existing is cls:
                return cls
            raise ValueError(f"tracer {cls.name!r} already registered")
    _registry.insert(0, cls)
    return cls


def unregister_tracer(cls: type[Tracer]) -> None:
    if cls in _registry:
        _registry.remove(cls)


def find_tracer(name: str) -> type[Tracer] | None:
    for cls in _registry:
        if cls.name == name:
            return cls
    return None


def tracer_names() -> list[str]:
    """Registered names, newest first (so nop, registered first, is last)."""
    return [cls.name for cls in _registry]


def registered_tracers() -> list[type[Tracer]]:
    return list(_registry)
