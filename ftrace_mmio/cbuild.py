"""Building the small C helpers (kmmio_step.c, the ring buffer's pages, the
dump tokenizer): gcc once per source and compiler, cached on disk, loaded
with ctypes.

Every helper has a pure-Python twin that gives the same results, so a
helper that cannot be built (no gcc, ``FTRACE_MMIO_NATIVE=0``, a cache
directory another user could write) is only slower.  Imports nothing of the
project: reading a trace must not pay for importing the machine.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Sequence


class NativeUnavailable(RuntimeError):
    """The C helper could not be built or loaded; the Python path is used."""


def native_enabled() -> bool:
    return os.environ.get("FTRACE_MMIO_NATIVE", "1") != "0"


def cache_dir() -> Path:
    """A directory only we can write: a library loaded from it runs in this process."""
    env = os.environ.get("FTRACE_MMIO_CACHE")
    base = Path(env) if env else Path(tempfile.gettempdir()) / f"ftrace-mmio-{os.getuid()}"
    path = base / "native"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = path.stat()
    if st.st_uid != os.getuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise NativeUnavailable(f"{path} is not private to this user")
    return path


@functools.cache
def gcc_identity() -> str:
    try:
        out = subprocess.run(["gcc", "-dumpfullversion", "-dumpmachine"], capture_output=True,
                             text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise NativeUnavailable(f"cannot run gcc: {exc}") from None
    return out.stdout.strip()


def build(source: Path, cflags: Sequence[str]) -> ctypes.CDLL:
    """``source`` compiled with ``cflags`` into a shared library (cached by
    the hash of source, flags and compiler) and loaded; NativeUnavailable
    when that cannot be done."""
    if not native_enabled():
        raise NativeUnavailable("FTRACE_MMIO_NATIVE=0")
    try:
        return _build(source, cflags)
    except OSError as exc:          # e.g. a fake filesystem in a user's test
        raise NativeUnavailable(f"cannot build {source.name}: {exc}") from None


def _build(source: Path, cflags: Sequence[str]) -> ctypes.CDLL:
    text = source.read_bytes()
    key = hashlib.sha256("\0".join([gcc_identity(), *cflags]).encode() + b"\0" + text).hexdigest()[:24]
    cache = cache_dir()
    lib = cache / f"{source.stem}-{key}.so"
    if not lib.is_file():
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=f".{source.stem}-", suffix=".so")
        os.close(fd)
        try:
            cc = subprocess.run(["gcc", *cflags, "-o", tmp, str(source)], capture_output=True, text=True,
                                env={**os.environ, "LC_ALL": "C"})
            if cc.returncode:
                raise NativeUnavailable(f"gcc failed on {source.name}:\n{cc.stderr}")
            os.replace(tmp, lib)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    try:
        return ctypes.CDLL(str(lib))
    except OSError as exc:
        raise NativeUnavailable(f"cannot load {lib}: {exc}") from None
