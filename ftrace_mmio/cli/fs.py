"""``ftrace-mmio mount``, ``umount`` and ``mounts``: the tracefs look-alike over FUSE.

``mount`` starts the daemon (``ftrace_mmio.daemon``) in a new session and
returns once the mount is verified: the directory is a mount point and its
filesystem is FUSE (statfs magic 0x65735546). ``-f`` serves in the
foreground instead.

``umount`` unmounts only what it can prove is ours: the top-most mount at
that path in /proc/mounts must have our fsname. A daemon that died leaves a
"Transport endpoint is not connected" mount point; that is detached lazily.
"""

from __future__ import annotations

import argparse
import errno
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from . import CliError, positive_int

FSNAME = "ftrace-mmio"
FSTYPE = "fuse.tracefs"
#: The host's real tracing directories: never mounted over by accident.
REAL_TRACEFS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0




# ---------------------------------------------------------------------------
# /proc/mounts


@dataclass
class MountLine:
    source: str
    target: str
    fstype: str
    options: str


def _unescape(field: str) -> str:
    # /proc/mounts writes space, tab, newline and backslash as \ooo.
    out, i = [], 0
    while i < len(field):
        code = field[i + 1:i + 4]
        if field[i] == "\\" and len(code) == 3 and code.isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mounts_at(path: str) -> list[MountLine]:
    """Mounts on ``path`` in /proc/mounts order; the last one is on top."""
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 4 and _unescape(parts[1]) == path:
            found.append(MountLine(_unescape(parts[0]), _unescape(parts[1]), parts[2], parts[3]))
    return found


def our_mount(path: str) -> bool:
    lines = mounts_at(path)
    return bool(lines) and lines[-1].source == FSNAME and lines[-1].fstype == FSTYPE


# ---------------------------------------------------------------------------
# mount


def _check_mountpoint(path: str, allow_sys: bool) -> str:
    real = os.path.realpath(path)
    if real in REAL_TRACEFS and not allow_sys:
        raise CliError(f"refusing to mount over the host's tracing directory {real}; "
                       "use a directory of your own, or pass --over-real-tracefs if you really mean it")
    if our_mount(real) and _daemon_died(real):
        raise CliError(f"{path} is still an ftrace-mmio mount whose daemon died "
                       f"(Transport endpoint is not connected); recover it first: ftrace-mmio umount {path}")
    if not os.path.isdir(real):
        raise CliError(f"{path}: not a directory (create it first: mkdir -p {path})")
    if os.path.ismount(real) and real not in REAL_TRACEFS:
        raise CliError(f"{path} is already a mount point")
    if real not in REAL_TRACEFS and any(os.scandir(real)):
        raise CliError(f"{path} is not empty; mount on an empty directory")
    return real


def _fusermount() -> str:
    for name in ("fusermount", "fusermount3"):
        found = shutil.which(name)
        if found:
            return found
    raise CliError("fusermount not found: apt-get install fuse3")


def _daemon_argv(args: argparse.Namespace, mountpoint: str, ready_fd: int, log_file: str) -> list[str]:
    argv = [sys.executable, "-m", "ftrace_mmio", "mount", "-f", mountpoint,
            "--ready-fd", str(ready_fd), "--log-file", log_file]
    # Only what the user gave: the rest comes from the machine file or the defaults.
    if args.machine:
        argv += ["--machine", os.path.abspath(args.machine)]
    for option, value in (("--cpus", args.cpus), ("--clock", args.clock),
                          ("--buffer-size-kb", args.buffer_size_kb), ("--decoder", args.decoder),
                          ("--engine", getattr(args, "engine", None)),
                          ("--run-budget", getattr(args, "run_budget", None))):
        if value is not None:
            argv += [option, str(value)]
    if args.filter_offset is not None:
        argv += ["--filter-offset", hex(args.filter_offset)]
    if args.allow_other:
        argv.append("--allow-other")
    if args.over_real_tracefs:
        argv.append("--over-real-tracefs")
    if args.nommiotrace:
        argv.append("--nommiotrace")
    if args.trace_pc:
        argv.append("--trace-pc")
    return argv


def _wait_ready(read_fd: int, timeout: float) -> str:
    """The daemon's one status line ("ready <socket>" / "error <why>"), or ""."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([read_fd], [], [], left)
        if not ready:
            break
        chunk = os.read(read_fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()


def _tail(path: str, lines: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def cmd_mount(args: argparse.Namespace) -> int:
    from tracefs.fuse import FuseUnavailable, check_fuse, is_fuse_mount

    from ftrace_mmio.cli.run import machine_config
    from ftrace_mmio.machine.config import MachineFileError

    mountpoint = _check_mountpoint(args.dir, args.over_real_tracefs)
    try:
        # Checked here, before a daemon starts, so a mistake comes back as one clear line.
        machine = machine_config(args)
    except (MachineFileError, ValueError) as exc:
        raise CliError(str(exc)) from None
    try:
        check_fuse()
    except FuseUnavailable as exc:
        raise CliError(str(exc)) from None
    if args.foreground:
        from ftrace_mmio.daemon import DaemonConfig, run

        return run(DaemonConfig(
            mountpoint=mountpoint, cpus=machine.cpus, clock=machine.clock,
            buffer_size_kb=machine.buffer_size_kb, params=machine.mmiotrace, machine=machine,
            allow_other=args.allow_other,
            nonempty=args.over_real_tracefs, ready_fd=args.ready_fd, log_file=args.log_file or "",
        ))

    from ftrace_mmio.control import runtime_dir

    rundir = runtime_dir()
    fd, log_file = tempfile.mkstemp(prefix="daemon-", suffix=".log", dir=rundir)
    read_fd, write_fd = os.pipe()
    try:
        proc = subprocess.Popen(
            _daemon_argv(args, mountpoint, write_fd, log_file),
            stdin=subprocess.DEVNULL, stdout=fd, stderr=fd,
            pass_fds=(write_fd,), start_new_session=True,
            cwd="/",  # a daemon must not keep the caller's directory busy
        )
    finally:
        os.close(fd)
        os.close(write_fd)
    try:
        status = _wait_ready(read_fd, START_TIMEOUT)
    finally:
        os.close(read_fd)
    word, _, rest = status.partition(" ")
    if word != "ready":
        # After "error" the daemon exits by itself; after silence, make it.
        try:
            proc.wait(STOP_TIMEOUT if word == "error" else 0.1)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        why = rest if word == "error" else "the daemon exited before it was ready"
        details = _tail(log_file)
        Path(log_file).unlink(missing_ok=True)  # shown below; nothing else to keep it for
        raise CliError(f"mount on {mountpoint} failed: {why}" + (f"\n{details}" if details else ""))
    if not (is_fuse_mount(mountpoint) and our_mount(mountpoint)):
        proc.terminate()
        raise CliError(f"mount on {mountpoint} could not be verified (not a FUSE mount); daemon stopped")
    print(f"mounted ftrace-mmio tracefs at {mountpoint} (daemon pid {proc.pid})")
    print(f"control socket: {rest}")
    return 0


# ---------------------------------------------------------------------------
# umount


def _daemon_pid(mountpoint: str) -> int | None:
    from ftrace_mmio.control import running_mounts

    for entry in running_mounts():
        if os.path.realpath(entry.mountpoint) == mountpoint:
            return entry.pid
    return None


def _wait_gone(pid: int, timeout: float) -> bool:
    from ftrace_mmio.control import pid_alive

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return not pid_alive(pid)


def _daemon_died(path: str) -> bool:
    """True if the FUSE mount at ``path`` has lost its daemon.

    statfs always reaches the daemon; stat may be answered from the kernel's
    attribute cache for a second after the daemon died.
    """
    try:
        os.statvfs(path)
    except OSError as exc:
        return exc.errno in (errno.ENOTCONN, errno.ECONNABORTED)
    return False


def _connected(path: str) -> bool:
    """False when the daemon behind a FUSE mount is gone."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno in (errno.ENOTCONN, errno.ECONNABORTED):
            return False
        raise
    return True


def unmount(path: str, lazy: bool = False) -> None:
    """Unmount our FUSE mount at ``path`` and wait for its daemon to exit."""
    mountpoint = os.path.realpath(path)  # lstat errors (a dead mount) do not stop realpath
    lines = mounts_at(mountpoint)
    if not lines:
        raise CliError(f"{path} is not mounted")
    if not our_mount(mountpoint):
        top = lines[-1]
        raise CliError(f"{path} is not an ftrace-mmio mount (top mount is {top.source} type {top.fstype}); "
                       "leaving it alone")
    pid = _daemon_pid(mountpoint)
    dead = not _connected(mountpoint)
    flags = "-uz" if (dead or lazy) else "-u"
    result = subprocess.run([_fusermount(), flags, mountpoint], capture_output=True, text=True)
    if result.returncode != 0:
        message = result.stderr.strip() or f"fusermount {flags} failed"
        if "busy" in message.lower():
            message += "\n(a process still has a file open there; stop it, or use: ftrace-mmio umount --lazy)"
        raise CliError(message)
    if pid is not None and lazy and not dead:
        # Detached, but a daemon keeps serving the files still open (a reader
        # blocked in trace_pipe would wait for data forever): end it now. Its
        # blocked reads then end at once (the reader sees ECONNABORTED) and it exits.
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    if pid is not None and not _wait_gone(pid, STOP_TIMEOUT):
        # Unmounted but not exiting (a reader it still serves after a lazy
        # detach): ask it to finish.
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        if not _wait_gone(pid, STOP_TIMEOUT):
            raise CliError(f"unmounted {mountpoint}, but daemon pid {pid} is still running")
    from ftrace_mmio.control import running_mounts

    running_mounts()  # drops the registry entry of a daemon that died


def cmd_umount(args: argparse.Namespace) -> int:
    unmount(args.dir, lazy=args.lazy)
    print(f"unmounted {os.path.abspath(args.dir)}")
    return 0


def cmd_mounts(args: argparse.Namespace) -> int:
    from ftrace_mmio.control import dead_mounts, running_mounts

    entries = running_mounts()
    for entry in entries:
        print(f"{entry.mountpoint}\tpid {entry.pid}\t{entry.socket}")
    dead = dead_mounts(exclude=entries)
    for point in dead:
        print(f"{point}\tdead\tdaemon gone (Transport endpoint is not connected); "
              f"clean up: ftrace-mmio umount {point}")
    if not entries and not dead:
        print("no ftrace-mmio mounts running", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction) -> None:
    from ftrace_mmio.cli.run import add_budget_argument, add_machine_argument, add_mmiotrace_arguments

    fmt = argparse.RawDescriptionHelpFormatter
    p = subparsers.add_parser(
        "mount", help="serve a tracefs look-alike on a directory (FUSE)", formatter_class=fmt,
        description="Mount the tracing directory of a new emulated machine on DIR. By default a "
                    "daemon is started in the background and the command returns once the mount "
                    "is verified; it prints where the control socket is.",
        epilog="example:\n  mkdir -p /tmp/t && ftrace-mmio mount /tmp/t\n"
               "  cat /tmp/t/available_tracers\n  ftrace-mmio umount /tmp/t\n"
               "  ftrace-mmio mount --machine docs/examples/two-nvlike.toml /tmp/t",
    )
    p.add_argument("dir", metavar="DIR", help="an empty directory to mount on")
    p.add_argument("-f", "--foreground", action="store_true",
                   help="serve in the foreground until Ctrl-C or umount")
    p.add_argument("--cpus", type=positive_int, default=None, metavar="N", help="number of CPUs (default 2)")
    p.add_argument("--clock", default=None, metavar="NAME",
                   help="initial trace clock (local, global, mono, counter, det, ...; default local)")
    p.add_argument("--buffer-size-kb", type=positive_int, default=None, metavar="N",
                   help="per-CPU buffer size once expanded (default 1408)")
    p.add_argument("--allow-other", action="store_true",
                   help="let other users in (FUSE allow_other; non-root needs user_allow_other in /etc/fuse.conf)")
    p.add_argument("--over-real-tracefs", action="store_true",
                   help="allow DIR to be /sys/kernel/tracing or /sys/kernel/debug/tracing "
                        "(only inside a private mount namespace!)")
    p.add_argument("--ready-fd", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--log-file", default=None, help=argparse.SUPPRESS)
    add_machine_argument(p)
    add_budget_argument(p)
    add_mmiotrace_arguments(p)
    p.set_defaults(func=cmd_mount)

    p = subparsers.add_parser(
        "umount", help="unmount a tracefs look-alike and stop its daemon", formatter_class=fmt,
        description="Unmount an ftrace-mmio mount (only if /proc/mounts shows it is ours) and wait "
                    "for its daemon to exit. A mount whose daemon died is detached lazily.",
        epilog="example:\n  ftrace-mmio umount /tmp/t",
    )
    p.add_argument("dir", metavar="DIR", help="the mount point")
    p.add_argument("--lazy", action="store_true",
                   help="detach even while files are open (fusermount -uz) and stop the daemon at once: "
                        "blocked readers end with an error")
    p.set_defaults(func=cmd_umount)

    p = subparsers.add_parser(
        "mounts", help="list running ftrace-mmio mounts", formatter_class=fmt,
        description="List the mounts whose daemons are running (mount point, pid, control socket), "
                    "then this user's mounts whose daemon died (\"dead\": still in /proc/mounts, "
                    "every access fails; ftrace-mmio umount cleans them up).",
        epilog="example:\n  ftrace-mmio mounts",
    )
    p.set_defaults(func=cmd_mounts)
