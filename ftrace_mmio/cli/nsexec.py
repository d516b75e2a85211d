"""``ftrace-mmio exec``: run unmodified tools (trace-cmd, scripts that hard-code
/sys/kernel/tracing) against a mount's emulated tracefs.

The command runs in a private mount namespace in which the mount is
bind-mounted over /sys/kernel/tracing. Nothing outside the namespace changes,
and the namespace ends with the command: this process unmounts nothing.

How libtracefs finds its directory decides the rest (spec tracefs.md §8): it
takes the first /proc/mounts line of type ``tracefs`` and, if there is none,
mounts a real tracefs itself. So:

* host has a tracefs mounted ("mounts" method): ours goes on top of every
  tracefs mount point and /sys/kernel/tracing; the host's lines stay
  underneath, where libtracefs finds them, and the paths resolve to ours.
* host has none ("preload" method): a tiny preloaded library tells libtracefs
  the directory (``tracefs_set_tracing_dir``) so it never looks, let alone
  mounts. No real tracefs is mounted, ever.

In both, the command runs without CAP_SYS_ADMIN, so nothing in it can mount
a real tracefs or unmount ours, and /proc/sys is read-only except for
private, writable copies of the few files tools write (kernel/ftrace_enabled:
trace-cmd record and start), which vanish with the namespace. A preloaded
helper also lets splice() out of the mount work (trace-cmd record and
extract splice trace_pipe_raw; see SHIM_SOURCE). Before the
command starts, every bound path must be our FUSE filesystem (statfs magic
0x65735546 and our fsname at the top of /proc/self/mounts), or nothing runs.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import errno
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import CliError
from .fs import FSNAME, FSTYPE, _unescape, mounts_at, our_mount

TRACING = "/sys/kernel/tracing"
CPU_POSSIBLE = "/sys/devices/system/cpu/possible"
PROC_SYS = "/proc/sys"
KALLSYMS = "/proc/kallsyms"
#: /proc/sys files a command may write, privately (see _private_proc_sys), and what
#: they start with: the emulated kernel's value, or None for a copy of the host's.
#: trace-cmd record/start write ftrace_enabled (function tracing is compiled in and
#: on, as on a distribution kernel) and lower kptr_restrict while reading kallsyms.
PRIVATE_PROC_SYS: dict[str, str | None] = {
    "kernel/ftrace_enabled": "1\n",
    "kernel/kptr_restrict": None,
}
#: What the preload shim reads: the directory libtracefs is to use.
DIR_ENV = "FTRACE_MMIO_TRACING_DIR"
#: Set for the command: the mount point whose tracefs it sees.
MOUNT_ENV = "FTRACE_MMIO_EXEC_MOUNT"

# <sched.h>, <sys/mount.h>, <linux/prctl.h>, <linux/capability.h>
CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x1, 0x20, 0x1000, 0x4000, 0x40000
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
CAP_SYS_ADMIN = 21

SHIM_SOURCE = r"""
/* ftrace-mmio exec's preloaded helper (our code; see ftrace_mmio/cli/nsexec.py).
 *
 * 1. Point libtracefs at $FTRACE_MMIO_TRACING_DIR before main(). Without a
 *    tracefs line in /proc/mounts, libtracefs would mount the real tracefs;
 *    told the directory, it never looks. Programs without libtracefs are
 *    untouched.
 * 2. splice() out of our FUSE files. The kernel serves splice on a FUSE file
 *    from the page cache, which the daemon refuses (EINVAL: it would cache
 *    one open's contents for everybody; after a short read the kernel may
 *    even answer 0, "end of file"); trace-cmd splices trace_pipe_raw into a
 *    pipe and treats EINVAL as fatal. For exactly that case (source on a
 *    FUSE filesystem, no offsets, destination a pipe) the bytes are moved
 *    with read() + write(), which the daemon serves: one page of
 *    trace_pipe_raw per call, blocking as splice would (SPLICE_F_NONBLOCK
 *    is honoured with a poll first). For a stream without offsets that is
 *    what splice means. Everything else goes to libc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#define FTRACE_MMIO_FUSE_MAGIC 0x65735546
#define FTRACE_MMIO_SPLICE_MAX 65536

__attribute__((constructor)) static void ftrace_mmio_tracing_dir(void)
{
	const char *dir = getenv("FTRACE_MMIO_TRACING_DIR");
	int (*set_dir)(const char *);

	if (!dir || !*dir)
		return;
	set_dir = (int (*)(const char *))dlsym(RTLD_DEFAULT, "tracefs_set_tracing_dir");
	if (set_dir && set_dir(dir) != 0)
		fprintf(stderr, "ftrace-mmio exec: tracefs_set_tracing_dir(%s) failed\n", dir);
}

typedef ssize_t (*ftrace_mmio_splice_fn)(int, loff_t *, int, loff_t *, size_t, unsigned int);

ssize_t splice(int fd_in, loff_t *off_in, int fd_out, loff_t *off_out, size_t len, unsigned int flags)
{
	static ftrace_mmio_splice_fn real;
	static __thread char buf[FTRACE_MMIO_SPLICE_MAX];
	struct statfs sfs;
	struct stat st;
	ssize_t n, done;
	int saved;

	if (!real)
		real = (ftrace_mmio_splice_fn)dlsym(RTLD_NEXT, "splice");
	saved = errno;
	if (off_in || off_out || fstatfs(fd_in, &sfs) != 0 ||
	    (unsigned long)sfs.f_type != FTRACE_MMIO_FUSE_MAGIC ||
	    fstat(fd_out, &st) != 0 || !S_ISFIFO(st.st_mode)) {
		errno = saved;
		return real(fd_in, off_in, fd_out, off_out, len, flags);
	}
	if (flags & SPLICE_F_NONBLOCK) {
		struct pollfd pfd = { .fd = fd_in, .events = POLLIN };

		if (poll(&pfd, 1, 0) <= 0 || !(pfd.revents & POLLIN)) {
			errno = EAGAIN;
			return -1;
		}
	}
	if (len > sizeof(buf))
		len = sizeof(buf);
	/* No more than the pipe holds, so that the write below cannot wait for a
	 * reader (trace-cmd passes the pipe's size and drains it after each call). */
	n = fcntl(fd_out, F_GETPIPE_SZ);
	if (n > 0 && len > (size_t)n)
		len = n;
	n = read(fd_in, buf, len);
	if (n <= 0)
		return n;
	for (done = 0; done < n;) {
		ssize_t w = write(fd_out, buf + done, n - done);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			/* The bytes were consumed from the source: report what reached the pipe. */
			return done ? done : -1;
		}
		done += w;
	}
	return done;
}
"""


class NamespaceError(CliError):
    """The namespace could not be set up or verified; the command was not run."""


@dataclass
class Plan:
    """What ``exec`` will do, decided before anything changes."""

    mountpoint: str          # our FUSE mount in the host namespace
    targets: list[str]       # where it is bound inside the namespace
    method: str              # "mounts" or "preload"
    cpus: int | None         # the machine's CPU count, for /sys/devices/system/cpu/possible
    shim: str | None = None  # the preload library (method "preload")


# ---------------------------------------------------------------------------
# libc


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise NamespaceError(f"{what}: {os.strerror(err)}")


def _mount(libc: ctypes.CDLL, source: str | None, target: str, flags: int) -> None:
    _check(libc.mount(source.encode() if source else None, target.encode(), None,
                      ctypes.c_ulong(flags), None),
           f"mount {source or ''} {target}")


# ---------------------------------------------------------------------------
# planning (no side effects)


def tracefs_mount_points() -> list[str]:
    """Mount points of the host's real tracefs, in /proc/mounts order (libtracefs takes the first)."""
    points = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2] == "tracefs":
            point = _unescape(parts[1])
            if point not in points:
                points.append(point)
    return points


def _cpu_count(mountpoint: str) -> int | None:
    from ..control import ControlError, call

    try:
        return int(call("status", mount=mountpoint, timeout=10)["cpus"])
    except (ControlError, KeyError, TypeError, ValueError):
        return None


def plan(mount: str | None, force_preload: bool = False) -> Plan:
    from ..control import ControlError, find_mount
    from tracefs.fuse import is_fuse_mount

    try:
        entry = find_mount(mount)
    except ControlError as exc:
        raise CliError(exc.strerror) from None
    mountpoint = os.path.realpath(entry.mountpoint)
    if not (is_fuse_mount(mountpoint) and our_mount(mountpoint)):
        raise CliError(f"{mountpoint} is not an ftrace-mmio FUSE mount; refusing to bind it anywhere")
    if not os.path.isdir(TRACING):
        raise CliError(f"{TRACING} does not exist here (is sysfs mounted?); there is nothing to bind over")
    real = tracefs_mount_points()
    method = "preload" if force_preload or not real else "mounts"
    targets = [TRACING] + [p for p in real if p != TRACING]
    return Plan(mountpoint, targets, method, _cpu_count(mountpoint))


def build_shim() -> str:
    """Compile the preload library once per user (cached by its source's hash)."""
    from ..kernel.module import default_cache_dir

    gcc = shutil.which("gcc")
    if gcc is None:
        raise CliError(
            "the host has no tracefs mounted, and without one libtracefs (trace-cmd) would mount "
            "the real tracefs itself; ftrace-mmio points it at ours with a small preloaded library "
            "instead, which needs gcc (apt-get install gcc). Alternatively mount the host's tracefs "
            f"yourself (mount -t tracefs nodev {TRACING}): ftrace-mmio then binds over it and "
            "never writes to it.")
    digest = hashlib.sha256(SHIM_SOURCE.encode()).hexdigest()[:16]
    cache = default_cache_dir().parent
    cache.mkdir(parents=True, exist_ok=True, mode=0o700)
    shim = cache / f"tracefs-dir-shim-{digest}.so"
    if shim.is_file():
        return str(shim)
    fd, tmp = tempfile.mkstemp(dir=cache, prefix=".shim-", suffix=".so")
    os.close(fd)
    try:
        result = subprocess.run([gcc, "-shared", "-fPIC", "-O2", "-o", tmp, "-x", "c", "-"],
                                input=SHIM_SOURCE.encode(), capture_output=True)
        if result.returncode != 0:
            raise CliError("building the libtracefs preload shim failed:\n"
                           + result.stderr.decode(errors="replace"))
        os.replace(tmp, shim)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return str(shim)


# ---------------------------------------------------------------------------
# the namespace


def _possible(cpus: int) -> str:
    return "0\n" if cpus == 1 else f"0-{cpus - 1}\n"


def enter(p: Plan) -> None:
    """Make this process's private namespace as planned, and verify it.

    After this returns, every target resolves to our FUSE mount; on any
    failure NamespaceError is raised and the caller must not run the command
    (the namespace, and everything mounted in it, goes away with us).
    """
    libc = _libc()
    _check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    # Nothing done from here on may propagate back to the host.
    _mount(libc, None, "/", MS_REC | MS_PRIVATE)
    for target in p.targets:
        _mount(libc, p.mountpoint, target, MS_BIND)
    if os.path.isdir(PROC_SYS):
        _mount(libc, PROC_SYS, PROC_SYS, MS_BIND | MS_REC)
        _mount(libc, None, PROC_SYS, MS_REMOUNT | MS_BIND | MS_RDONLY)
        _private_proc_sys(libc)
    if os.path.isfile(KALLSYMS):
        _bind_private(libc, KALLSYMS, kallsyms_text(), 0o444)
    if p.cpus and os.path.isfile(CPU_POSSIBLE):
        # trace-cmd counts CPUs here; make it count the emulated machine's.
        try:
            host = Path(CPU_POSSIBLE).read_text()
        except OSError:
            host = ""
        if host != _possible(p.cpus):
            fd, path = tempfile.mkstemp(prefix="ftrace-mmio-cpus-")
            try:
                os.write(fd, _possible(p.cpus).encode())
                os.close(fd)
                _mount(libc, path, CPU_POSSIBLE, MS_BIND)
            finally:
                os.unlink(path)
    verify(p)


def _private_proc_sys(libc: ctypes.CDLL) -> None:
    """Writable private copies of the /proc/sys files tools write, over the read-only ones.

    trace-cmd record/start write kernel/ftrace_enabled ("Can't enable ftrace"
    otherwise) and kernel/kptr_restrict. Each gets a file of its own in this
    namespace; writes land there and go when the namespace
    does. The host's file is never opened for writing. A file the host does
    not have is left out (there is nothing to bind over), as a kernel
    without it would show.
    """
    for rel, value in PRIVATE_PROC_SYS.items():
        target = os.path.join(PROC_SYS, rel)
        if not os.path.isfile(target):
            continue
        if value is None:
            try:
                value = Path(target).read_text()
            except OSError:
                continue
        _bind_private(libc, target, value, 0o644)


def _bind_private(libc: ctypes.CDLL, target: str, value: str, mode: int) -> None:
    """Bind a file of our own holding ``value`` over ``target``, in this namespace only."""
    fd, path = tempfile.mkstemp(prefix="ftrace-mmio-private-")
    try:
        os.write(fd, value.encode())
        os.fchmod(fd, mode)
        os.close(fd)
        _mount(libc, path, target, MS_BIND)
    finally:
        os.unlink(path)   # the bind mount keeps the file alive


def kallsyms_text() -> str:
    """/proc/kallsyms as the command sees it: the emulated kernel's symbols.

    trace-cmd record copies /proc/kallsyms into trace.dat, and report (and
    KernelShark) resolve the ``ip`` of print records with it, as ``%ps``
    does in the kernel: a trace_marker record must read
    ``tracing_mark_write``. The host's symbols mean nothing for the emulated
    machine (and are not the command's business), so it sees only ours.
    """
    from ..trace.page import TRACING_MARK_WRITE_IP

    # The record's ip is a return address inside the function; the function
    # starts a little before it and the next symbol bounds it.
    start = TRACING_MARK_WRITE_IP & ~0xFF
    return (f"{start:016x} T tracing_mark_write\n"
            f"{start + 0x200:016x} T tracing_mark_raw_write\n")


def verify(p: Plan) -> None:
    """Every target is our FUSE filesystem; with the "mounts" method, the
    tracefs line libtracefs picks leads to one of them."""
    from tracefs.fuse import FUSE_SUPER_MAGIC, statfs_type

    for target in p.targets:
        try:
            magic = statfs_type(target)
        except OSError as exc:
            raise NamespaceError(f"cannot statfs {target}: {exc.strerror}") from None
        lines = mounts_at(target)
        top = lines[-1] if lines else None
        if magic != FUSE_SUPER_MAGIC or top is None or (top.source, top.fstype) != (FSNAME, FSTYPE):
            seen = f"{top.source} type {top.fstype}" if top else "nothing"
            raise NamespaceError(f"{target} is not our FUSE filesystem after binding "
                                 f"(magic {magic:#x}, top mount {seen}); not running the command")
    if p.method == "mounts":
        real = tracefs_mount_points()
        if not real or real[0] not in p.targets:
            raise NamespaceError("the tracefs line libtracefs would pick is not covered by our mount "
                                 f"({real[0] if real else 'none left'}); not running the command")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _drop_sys_admin(libc: ctypes.CDLL) -> None:
    """Make sure nothing we exec can have CAP_SYS_ADMIN, then check it."""
    # Out of the bounding set, root's exec cannot get it back from the file...
    _check(libc.prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0), "dropping CAP_SYS_ADMIN")
    # ...nor through the ambient or inheritable sets.
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(libc.capget(ctypes.byref(header), data), "capget")
    data[0].inheritable &= ~(1 << CAP_SYS_ADMIN)
    _check(libc.capset(ctypes.byref(header), data), "capset")
    status = dict(line.split(":\t", 1) for line in Path("/proc/self/status").read_text().splitlines()
                  if line.startswith("Cap"))
    for field in ("CapBnd", "CapInh", "CapAmb"):
        if int(status.get(field, "0"), 16) & (1 << CAP_SYS_ADMIN):
            raise NamespaceError(f"could not drop CAP_SYS_ADMIN ({field}); not running the command")


def command_env(p: Plan) -> dict[str, str]:
    env = dict(os.environ)
    env[MOUNT_ENV] = p.mountpoint
    if p.shim:
        # Preloaded with either method, for its splice() fallback; it names the
        # directory to libtracefs only with "preload".
        env["LD_PRELOAD"] = " ".join(x for x in (p.shim, env.get("LD_PRELOAD", "")) if x)
        if p.method == "preload":
            env[DIR_ENV] = TRACING
    return env


# ---------------------------------------------------------------------------


def cmd_exec(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise CliError("no command given: ftrace-mmio exec [--mount DIR] -- CMD [ARGS...]")
    if os.geteuid() != 0:
        raise CliError("exec needs root: it makes a private mount namespace and bind-mounts there "
                       "(try: sudo ftrace-mmio exec -- " + " ".join(command) + ")")
    program = shutil.which(command[0])
    if program is None:
        raise CliError(f"{command[0]}: command not found"
                       + (" (Debian: apt-get install trace-cmd)" if command[0] == "trace-cmd" else ""))
    p = plan(args.mount, force_preload=args.preload)
    try:
        p.shim = build_shim()
    except CliError:
        if p.method == "preload":
            raise
        # Without it, trace-cmd's splice of trace_pipe_raw fails (record, extract).
        print("ftrace-mmio exec: no preload helper (gcc missing?): splice() on the mount will fail",
              file=sys.stderr)
    if p.method == "preload":
        if args.verbose or sys.stderr.isatty():
            why = "as asked" if args.preload else "the host has no tracefs mounted"
            print(f"ftrace-mmio exec: {why}; libtracefs is told the directory by a preloaded "
                  f"library, so no real tracefs is mounted", file=sys.stderr)
    enter(p)
    if args.verbose:
        print(f"ftrace-mmio exec: {', '.join(p.targets)} -> {p.mountpoint} (verified: FUSE, {FSNAME}); "
              f"method {p.method}; /proc/sys read-only (private: {', '.join(PRIVATE_PROC_SYS)}); running {' '.join(command)}", file=sys.stderr)
    _drop_sys_admin(_libc())
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(program, command, command_env(p))
    except OSError as exc:
        print(f"ftrace-mmio exec: {command[0]}: {exc.strerror}", file=sys.stderr)
        return 127 if exc.errno == errno.ENOENT else 126
    return 0  # not reached


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "exec", help="run a tool (trace-cmd, a script) with a mount as /sys/kernel/tracing",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run CMD in a private mount namespace in which the mount's tracefs is bound over "
                    f"{TRACING} (and over any other tracefs mount point), so unmodified tools use the "
                    "emulated machine. The host is not changed; the namespace ends with CMD. Before "
                    "CMD runs, every bound path is checked to be our FUSE filesystem. If the host has "
                    "a tracefs mounted its line stays underneath (libtracefs looks for it); if not, "
                    "libtracefs is pointed at the directory by a preloaded library, so it never "
                    "mounts a real one. CMD runs without CAP_SYS_ADMIN and with /proc/sys "
                    "read-only, except private copies of the files trace-cmd writes "
                    "(kernel/ftrace_enabled). Needs root.",
        epilog="examples:\n"
               "  ftrace-mmio exec -- trace-cmd list -t\n"
               "  echo mmiotrace > /tmp/t/current_tracer\n"
               "  ftrace-mmio exec --mount /tmp/t -- trace-cmd show -p   # then, in another shell:\n"
               "  ftrace-mmio insmod nvlike\n"
               "  ftrace-mmio exec -- sh -c 'cat /sys/kernel/tracing/trace'",
    )
    p.add_argument("--mount", metavar="DIR", default=None,
                   help="the mount to use (default: the only running one)")
    p.add_argument("--preload", action="store_true",
                   help="point libtracefs at the directory with the preload library even when the "
                        "host has a tracefs mounted")
    p.add_argument("-v", "--verbose", action="store_true", help="say what was bound and verified")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD ...", help="the command and its arguments")
    p.set_defaults(func=cmd_exec)
