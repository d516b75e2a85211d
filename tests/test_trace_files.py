"""Every control file's accepted and rejected writes, modes and errno, in process.

The tree is driven the way the FUSE and pyfakefs adapters drive it: open
with a Request, truncate separately for O_TRUNC, read/write with offsets.
"""

from __future__ import annotations

import errno
import os
import stat
import threading

import pytest

from ftrace_mmio.trace.array import TraceArray
from ftrace_mmio.trace.clock import TimeBase
from ftrace_mmio.trace.tracer import Tracer, register_tracer, tracer_names, unregister_tracer
from tracefs.nodes import Dir, File, Request
from trace_util import Tree, raises_errno

RDWR = os.O_RDWR
WRONLY = os.O_WRONLY


@pytest.fixture
def tree() -> Tree:
    return Tree()


class RecordingTracer(Tracer):
    """A second tracer, to switch to; it notes which hooks ran."""

    name = "rectest"
    options = {"rec_opt": False}

    def __init__(self, array: TraceArray) -> None:
        super().__init__(array)
        self.calls: list[str] = []

    def init(self) -> None:
        self.calls.append("init")

    def reset(self) -> None:
        self.calls.append("reset")

    def start(self) -> None:
        self.calls.append("start")

    def stop(self) -> None:
        self.calls.append("stop")


@pytest.fixture
def rectracer():
    register_tracer(RecordingTracer)
    yield RecordingTracer
    unregister_tracer(RecordingTracer)


def entries(tree: Tree) -> str:
    """The entries-in-buffer/entries-written line of the trace header."""
    return tree.text("trace").splitlines()[2]


# -- the tree ------------------------------------------------------------------------

EXPECTED_MODES = {
    "": 0o700,
    "options": 0o750, "per_cpu": 0o750, "per_cpu/cpu0": 0o750, "per_cpu/cpu1": 0o750,
    "instances": 0o750, "events": 0o750,
    "available_tracers": 0o440, "README": 0o440, "buffer_total_size_kb": 0o440,
    "saved_cmdlines": 0o440, "saved_tgids": 0o440, "timestamp_mode": 0o440,
    "trace_pipe": 0o440, "per_cpu/cpu0/stats": 0o440, "per_cpu/cpu1/trace_pipe": 0o440,
    "per_cpu/cpu0/trace_pipe_raw": 0o440,
    "current_tracer": 0o640, "tracing_on": 0o640, "trace": 0o640, "buffer_size_kb": 0o640,
    "buffer_percent": 0o640, "buffer_subbuf_size_kb": 0o640, "trace_clock": 0o640,
    "trace_options": 0o640, "tracing_cpumask": 0o640, "tracing_thresh": 0o640,
    "options/overwrite": 0o640, "options/test_nop_refuse": 0o640, "per_cpu/cpu1/trace": 0o640,
    "per_cpu/cpu0/buffer_size_kb": 0o640, "set_event": 0o640, "error_log": 0o640,
    "trace_marker": 0o220, "free_buffer": 0o200,
}


@pytest.mark.parametrize("path,perm", sorted(EXPECTED_MODES.items()))
def test_modes(tree: Tree, path: str, perm: int) -> None:
    node = tree.root.lookup(path)
    assert stat.S_IMODE(node.mode) == perm
    assert stat.S_ISDIR(node.mode) == (perm in (0o700, 0o750, 0o755))


def test_function_filter_files_are_absent(tree: Tree) -> None:
    # So `trace-cmd reset` skips them and finishes with status 0.
    for name in ("set_ftrace_filter", "set_ftrace_notrace", "set_graph_function", "set_graph_notrace"):
        with raises_errno(errno.ENOENT):
            tree.root.lookup(name)


def test_mkdir_and_create_are_refused(tree: Tree) -> None:
    with raises_errno(errno.EPERM):
        tree.root.mkdir("new")
    with raises_errno(errno.EACCES):
        tree.root.create("new")
    instances = tree.root.lookup("instances")
    assert isinstance(instances, Dir) and instances.children == {}


# -- small files: reads and offsets --------------------------------------------------------


def test_available_tracers_newest_first_nop_last(tree: Tree, rectracer) -> None:
    text = tree.text("available_tracers")
    assert text == " ".join(tracer_names()) + "\n"
    assert text.startswith("rectest ") and text.endswith(" nop\n")


def test_pread_and_reading_past_the_end(tree: Tree) -> None:
    with tree.opened("current_tracer") as h:
        assert h.read(100, 1, h._req) == b"op\n"
        assert h.read(100, 3, h._req) == b"\n"
        assert h.read(100, 4, h._req) == b""
        assert h.read(100, 1000, h._req) == b""
        assert h.seek_end() == 0


@pytest.mark.parametrize(
    "path,text",
    [
        ("tracing_on", "1\n"),
        ("current_tracer", "nop\n"),
        ("buffer_percent", "50\n"),
        ("buffer_subbuf_size_kb", "4\n"),
        ("tracing_cpumask", "3\n"),
        ("tracing_thresh", "0\n"),
        ("timestamp_mode", "[delta] absolute\n"),
        ("saved_cmdlines", ""),
        ("saved_cmdlines_size", "6552\n"),
        ("saved_tgids", ""),
        ("set_event", ""),
        ("error_log", ""),
        ("dynamic_events", ""),
        ("uprobe_events", ""),
        ("events/enable", "0\n"),
        ("options/overwrite", "1\n"),
        ("options/verbose", "0\n"),
        ("options/test_nop_accept", "0\n"),
    ],
)
def test_initial_values(tree: Tree, path: str, text: str) -> None:
    assert tree.text(path) == text


def test_readme_is_our_own_text(tree: Tree) -> None:
    text = tree.text("README")
    assert text.startswith("ftrace-mmio tracing mini-HOWTO:\n\n")
    assert text.endswith("\n")
    for name in ("trace_pipe", "trace_marker", "buffer_size_kb", "trace_clock", "det"):
        assert name in text


@pytest.mark.parametrize("path", ["trace_marker", "free_buffer"])
def test_write_only_files_have_no_read(tree: Tree, path: str) -> None:
    with tree.opened(path, os.O_RDONLY) as h, raises_errno(errno.EINVAL):
        h.read(100, 0, h._req)


@pytest.mark.parametrize("path", ["available_tracers", "README", "per_cpu/cpu0/stats", "timestamp_mode"])
def test_read_only_files_have_no_write(tree: Tree, path: str) -> None:
    with raises_errno(errno.EINVAL):
        tree.write(path, b"1")


def test_truncate_is_accepted_everywhere(tree: Tree) -> None:
    for path, node in tree.root.walk():
        if isinstance(node, File) and node.name not in ("trace",):
            node.truncate(Request(flags=os.O_WRONLY | os.O_TRUNC))
    assert tree.text("tracing_on") == "1\n"


# -- integer parsing (§0.1) ----------------------------------------------------------------

ACCEPTED = [b"0", b"1", b"0\n", b"1\n", b"+0", b"+1", b"00", b"01", b"2", b"7\n", b"1\0"]
REJECTED = [b"", b"\n", b" 1", b"0 ", b"0\t", b"abc", b"-1", b"0x0", b"1\n\n", b"+", b"1 \n"]


@pytest.mark.parametrize("data", ACCEPTED)
def test_tracing_on_accepts(tree: Tree, data: bytes) -> None:
    tree.write("tracing_on", b"0")
    assert tree.write("tracing_on", data) == len(data)
    value = int(data.strip(b"\0\n+"))
    assert tree.text("tracing_on") == ("1\n" if value else "0\n")


@pytest.mark.parametrize("path", ["tracing_on", "options/overwrite", "buffer_size_kb", "buffer_percent", "per_cpu/cpu1/buffer_size_kb", "buffer_subbuf_size_kb"])
@pytest.mark.parametrize("data", REJECTED)
def test_integer_files_reject(tree: Tree, path: str, data: bytes) -> None:
    before = tree.text(path)
    with raises_errno(errno.EINVAL):
        tree.write(path, data)
    assert tree.text(path) == before


@pytest.mark.parametrize("path", ["tracing_on", "options/markers", "buffer_size_kb", "buffer_percent"])
def test_overflow_is_erange(tree: Tree, path: str) -> None:
    with raises_errno(errno.ERANGE):
        tree.write(path, b"99999999999999999999999")


def test_erange_wins_over_trailing_junk(tree: Tree) -> None:
    with raises_errno(errno.ERANGE):
        tree.write("tracing_on", b"99999999999999999999999x")


def test_writes_ignore_the_offset(tree: Tree) -> None:
    # trace-cmd: one O_RDWR fd, "0" at offset 0, later "1" at offset 1.
    with tree.opened("tracing_on", RDWR) as h:
        assert h.write(b"0", 0, h._req) == 1
        assert tree.text("tracing_on") == "0\n"
        assert h.write(b"1", 1, h._req) == 1
        assert tree.text("tracing_on") == "1\n"
        assert h.write(b"0", 1000, h._req) == 1
    assert tree.text("tracing_on") == "0\n"


def test_one_write_is_one_command(tree: Tree) -> None:
    # "10" split over two writes is "1" then "0".
    with tree.opened("tracing_on", WRONLY) as h:
        h.write(b"1", 0, h._req)
        h.write(b"0", 1, h._req)
    assert tree.text("tracing_on") == "0\n"


# -- current_tracer (§1.2) -----------------------------------------------------------------


@pytest.mark.parametrize("data", [b"nop", b"nop\n", b"  nop \n", b"nop\t\n\n", b"\nnop\n", b"nop\0junk"])
def test_current_tracer_strips_blanks(tree: Tree, data: bytes) -> None:
    assert tree.echo("current_tracer", data) == len(data)
    assert tree.text("current_tracer") == "nop\n"


def test_long_current_tracer_write_returns_full_count(tree: Tree) -> None:
    data = b"nop" + b" " * 200 + b"ignored"
    assert tree.write("current_tracer", data) == len(data)


@pytest.mark.parametrize("data", [b"bogus\n", b"", b"\n", b"mmiotracex", b"no p"])
def test_unknown_tracer_is_einval_but_still_expands(tree: Tree, data: bytes) -> None:
    assert tree.text("buffer_size_kb") == "7 (expanded: 1408)\n"
    with raises_errno(errno.EINVAL):
        tree.write("current_tracer", data)
    assert tree.text("buffer_size_kb") == "1410\n"
    assert tree.text("current_tracer") == "nop\n"


def test_same_tracer_is_a_no_op(tree: Tree) -> None:
    tree.marker(b"kept")
    tree.echo("current_tracer", b"nop\n")
    assert entries(tree) == "# entries-in-buffer/entries-written: 1/1   #P:2"


def test_switching_resets_and_inits_in_order(tree: Tree, rectracer) -> None:
    tree.marker(b"gone")
    tree.echo("current_tracer", b"rectest\n")
    rec = tree.array.tracer
    assert isinstance(rec, RecordingTracer) and rec.calls == ["init"]
    assert tree.text("current_tracer") == "rectest\n"
    assert entries(tree) == "# entries-in-buffer/entries-written: 0/0   #P:2"
    tree.marker(b"also gone")
    tree.echo("current_tracer", b"nop")
    assert rec.calls == ["init", "reset"]
    assert entries(tree) == "# entries-in-buffer/entries-written: 0/0   #P:2"


def test_tracer_change_while_a_pipe_is_open_is_ebusy(tree: Tree, rectracer) -> None:
    for pipe in ("trace_pipe", "per_cpu/cpu1/trace_pipe"):
        with tree.opened(pipe):
            with raises_errno(errno.EBUSY):
                tree.echo("current_tracer", b"rectest")
            # The same name passes: that check comes first.
            assert tree.echo("current_tracer", b"nop") == 3
    assert tree.echo("current_tracer", b"rectest") == 7


def test_tracer_options_follow_the_current_tracer(tree: Tree, rectracer) -> None:
    assert tree.text("trace_options").endswith("notest_nop_accept\nnotest_nop_refuse\n")
    tree.echo("current_tracer", b"rectest")
    assert tree.text("trace_options").endswith("stacktrace\nnorec_opt\n")
    # options/ holds every registered tracer's options all the time.
    assert tree.text("options/test_nop_accept") == "0\n"
    assert tree.text("options/rec_opt") == "0\n"


# -- tracing_on (§1.3) ---------------------------------------------------------------------


def test_tracing_on_calls_start_and_stop_once(tree: Tree, rectracer) -> None:
    tree.echo("current_tracer", b"rectest")
    rec = tree.array.tracer
    tree.write("tracing_on", b"1")  # unchanged: nothing
    tree.write("tracing_on", b"0")
    tree.write("tracing_on", b"0")
    tree.write("tracing_on", b"5")
    assert rec.calls == ["init", "stop", "start"]


def test_tracing_off_keeps_data_and_refuses_markers(tree: Tree) -> None:
    tree.marker(b"before")
    tree.write("tracing_on", b"0")
    with raises_errno(errno.EBADF):
        tree.marker(b"after")
    assert "before" in tree.text("trace")
    with tree.opened("trace_pipe") as h:
        assert b"before" in h.read(4096, 0, h._req)


# -- trace (§1.4) ---------------------------------------------------------------------------


def test_trace_accepts_and_ignores_writes(tree: Tree) -> None:
    tree.marker(b"x")
    assert tree.write("trace", b"anything at all\n") == 16
    assert entries(tree).endswith("1/1   #P:2")


def test_trace_o_trunc_clears_everything(tree: Tree) -> None:
    for _ in range(300):
        tree.marker(b"msg 0000\n")
    tree.array.marker_cpu = 1
    tree.marker(b"on cpu1")
    tree.echo("trace", b"")
    assert entries(tree) == "# entries-in-buffer/entries-written: 0/0   #P:2"
    for cpu in (0, 1):
        stats = tree.text(f"per_cpu/cpu{cpu}/stats").splitlines()
        assert stats[:4] == ["entries: 0", "overrun: 0", "commit overrun: 0", "bytes: 0"]
        assert stats[6:] == ["dropped events: 0", "read events: 0"]


def test_trace_open_for_writing_without_trunc_clears_nothing(tree: Tree) -> None:
    tree.marker(b"x")
    with tree.opened("trace", WRONLY):
        pass
    assert entries(tree).endswith("1/1   #P:2")


def test_per_cpu_trace_trunc_clears_one_cpu(tree: Tree) -> None:
    for _ in range(300):
        tree.marker(b"msg 0000\n")
    tree.array.marker_cpu = 1
    for _ in range(4):
        tree.marker(b"msg 0000\n")
    assert entries(tree) == "# entries-in-buffer/entries-written: 177/304   #P:2"
    # The per-CPU file's header shows the totals of all CPUs.
    assert tree.text("per_cpu/cpu1/trace").splitlines()[2].endswith("177/304   #P:2")
    tree.echo("per_cpu/cpu1/trace", b"")
    assert entries(tree) == "# entries-in-buffer/entries-written: 173/300   #P:2"
    assert tree.text("per_cpu/cpu1/stats").startswith("entries: 0\noverrun: 0\n")


def test_trace_seek_end(tree: Tree) -> None:
    with tree.opened("trace") as h, raises_errno(errno.EINVAL):
        h.seek_end()
    with tree.opened("trace", WRONLY) as h:
        assert h.seek_end() == 0


def test_trace_is_fixed_at_open_until_reread_from_zero(tree: Tree) -> None:
    tree.marker(b"one")
    with tree.opened("trace") as h:
        tree.marker(b"two")
        first = h.read(65536, 0, h._req)
        assert b"one" in first and b"two" not in first
        assert h.read(65536, len(first), h._req) == b""
        again = h.read(65536, 0, h._req)  # like lseek(0): a fresh view
        assert b"two" in again


def test_trace_pread_and_small_reads(tree: Tree) -> None:
    for i in range(50):
        tree.marker(b"line %d" % i)
    whole = tree.read("trace")
    assert tree.read("trace", size=7) == whole
    with tree.opened("trace") as h:
        assert h.read(30, 500, h._req) == whole[500:530]
        assert h.read(30, 10, h._req) == whole[10:40]  # backwards works too


def test_trace_reads_twice_the_same(tree: Tree) -> None:
    tree.marker(b"a")
    assert tree.read("trace") == tree.read("trace")


def test_pause_on_trace(tree: Tree) -> None:
    tree.write("options/pause-on-trace", b"1")
    with tree.opened("trace"):
        with raises_errno(errno.EBADF):
            tree.marker(b"paused")
    assert tree.marker(b"resumed") == 7


# -- trace_pipe (§2) ----------------------------------------------------------------------


def test_pipe_empty_nonblock_is_eagain(tree: Tree) -> None:
    with tree.opened("trace_pipe", os.O_RDONLY | os.O_NONBLOCK) as h:
        assert h.stream
        assert not h.poll()
        with raises_errno(errno.EAGAIN):
            h.read(4096, 0, h._req)


@pytest.mark.parametrize(
    "first,second",
    [
        ("trace_pipe", "trace_pipe"),
        ("trace_pipe", "per_cpu/cpu0/trace_pipe"),
        ("per_cpu/cpu1/trace_pipe", "trace_pipe"),
        ("per_cpu/cpu1/trace_pipe", "per_cpu/cpu1/trace_pipe"),
    ],
)
def test_overlapping_pipes_are_ebusy(tree: Tree, first: str, second: str) -> None:
    with tree.opened(first):
        with raises_errno(errno.EBUSY):
            tree.open(second)
    with tree.opened(second):  # free again once closed
        pass


def test_different_cpu_pipes_can_be_open_together(tree: Tree) -> None:
    with tree.opened("per_cpu/cpu0/trace_pipe"), tree.opened("per_cpu/cpu1/trace_pipe"):
        assert tree.array.pipes_open == 2
    assert tree.array.pipes_open == 0


def test_pipe_consumes(tree: Tree) -> None:
    for i in range(5):
        tree.marker(b"m%d" % i)
    with tree.opened("trace_pipe") as h:
        line = h.read(74, 0, h._req)  # exactly one 74-byte line
        assert line.endswith(b"m0\n") and line.count(b"\n") == 1
    assert entries(tree).endswith("4/4   #P:2")
    assert "read events: 1\n" in tree.text("per_cpu/cpu0/stats")


def test_pipe_short_reads_return_the_rest_first(tree: Tree) -> None:
    tree.marker(b"first")
    tree.marker(b"second")
    with tree.opened("trace_pipe", os.O_RDONLY | os.O_NONBLOCK) as h:
        head = h.read(10, 0, h._req)
        assert len(head) == 10
        # Formatting stopped once the 10 bytes were met: only line 1 was
        # consumed, and its rest comes next, alone.
        rest = h.read(4096, 0, h._req)
        assert (head + rest).endswith(b"tracing_mark_write: first\n")
        assert rest.count(b"\n") == 1
        tree.marker(b"third")
        lines = h.read(4096, 0, h._req).splitlines()
        assert [line.rsplit(b" ", 1)[1] for line in lines] == [b"second", b"third"]


def test_pipe_read_of_100_consumes_two_entries(tree: Tree) -> None:
    for i in range(3):
        tree.marker(b"m%d" % i)  # each line is 60 bytes
    with tree.opened("trace_pipe") as h:
        assert len(h.read(100, 0, h._req)) == 100
        assert entries(tree).endswith("1/1   #P:2")
        assert h.read(4096, 0, h._req).endswith(b"m1\n")
        assert h.read(4096, 0, h._req).endswith(b"m2\n")


def test_pipe_reads_whole_lines_up_to_about_8k(tree: Tree) -> None:
    for i in range(150):
        tree.marker(b"m%03d" % i)  # 76-byte lines, as observed
    with tree.opened("trace_pipe", os.O_RDONLY | os.O_NONBLOCK) as h:
        sizes = []
        while True:
            try:
                data = h.read(8192, 0, h._req)
            except OSError as exc:
                assert exc.errno == errno.EAGAIN
                break
            assert data.endswith(b"\n")
            sizes.append(len(data))
    line = 76
    assert sizes == [107 * line, 43 * line]  # the observed 8132 + 3268


def test_leftover_text_is_lost_at_close(tree: Tree) -> None:
    tree.marker(b"a")
    tree.marker(b"b")
    with tree.opened("trace_pipe") as h:
        h.read(5, 0, h._req)
    with tree.opened("trace_pipe", os.O_RDONLY | os.O_NONBLOCK) as h:
        assert h.read(4096, 0, h._req).endswith(b": b\n")


def test_lost_events_line_in_pipe(tree: Tree) -> None:
    for i in range(300):
        tree.marker(b"msg %04d\n" % i)
    with tree.opened("trace_pipe") as h:
        data = h.read(8192, 0, h._req)
    lines = data.decode().splitlines()
    assert lines[0] == "CPU:0 [LOST 127 EVENTS]"
    assert lines[1].endswith("msg 0127")


def test_blocked_pipe_reader_is_woken_by_a_marker(tree: Tree) -> None:
    result: list[bytes] = []
    with tree.opened("trace_pipe") as h:
        reader = threading.Thread(target=lambda: result.append(h.read(4096, 0, h._req)))
        reader.start()
        while not tree.array.buffer._waiters:
            threading.Event().wait(0.001)
        tree.marker(b"wake up")
        reader.join()
    assert result and result[0].endswith(b"tracing_mark_write: wake up\n")


def test_blocked_pipe_reader_ends_on_interrupt_not_on_tracing_off(tree: Tree) -> None:
    stop = threading.Event()
    errors: list[int] = []
    with tree.opened("trace_pipe", interrupted=stop.is_set) as h:
        def read() -> None:
            try:
                h.read(4096, 0, h._req)
            except OSError as exc:
                errors.append(exc.errno)

        reader = threading.Thread(target=read)
        reader.start()
        while not tree.array.buffer._waiters:
            threading.Event().wait(0.001)
        tree.write("tracing_on", b"0")  # wakes it; it finds nothing and sleeps again
        while not tree.array.buffer._waiters:
            threading.Event().wait(0.001)
        assert reader.is_alive()
        stop.set()
        reader.join()
    assert errors == [errno.EINTR]


def test_trace_pipe_raw(tree: Tree) -> None:
    with tree.opened("per_cpu/cpu0/trace_pipe_raw", os.O_RDONLY | os.O_NONBLOCK) as h:
        with raises_errno(errno.EAGAIN):
            h.read(4096, 0, h._req)
        assert tree.array.pipes_open == 1
        tree.marker(b"x")
        assert len(h.read(4096, 0, h._req)) == 4096   # one binary page (tests/test_trace_raw_pipe.py)
    assert tree.array.pipes_open == 0


# -- trace_marker (§6) ----------------------------------------------------------------------


def body(tree: Tree) -> list[str]:
    return tree.text("trace").split("\n")[12:]


@pytest.mark.parametrize("size", [4054, 4055, 4096, 5000, 100000])
def test_marker_clamps_to_the_largest_event(tree: Tree, size: int) -> None:
    assert tree.marker(b"x" * size) == min(size, 4054)
    assert "bytes: 4080\n" in tree.text("per_cpu/cpu0/stats")


def test_marker_newline_rules(tree: Tree) -> None:
    tree.marker(b"no newline")
    tree.marker(b"line1\nline2\n")
    tree.marker(b"two\n\n")
    tree.marker(b"\n")
    assert tree.marker(b"") == 0
    tree.marker(b"tab\there  trailing spaces   ")
    lines = body(tree)
    tails = [line.split("tracing_mark_write: ", 1)[-1] for line in lines]
    assert tails == ["no newline", "line1", "line2", "two", "", "", "", "tab\there  trailing spaces   ", ""]


def test_marker_nul_stops_printing_without_newline(tree: Tree) -> None:
    assert tree.marker(b"nul\0after") == 9
    tree.marker(b"next")
    line = body(tree)[0]
    assert line.count("tracing_mark_write:") == 2
    assert line.split("tracing_mark_write: ")[1].startswith("nul           <...>-6016 ")


def test_marker_refused_when_markers_option_is_off(tree: Tree) -> None:
    tree.write("options/markers", b"0")
    with raises_errno(errno.EINVAL):
        tree.marker(b"x")


def test_marker_full_without_overwrite_is_ebadf(tree: Tree) -> None:
    tree.write("options/overwrite", b"0")
    for _ in range(254):
        tree.marker(b"msg 0000\n")
    with raises_errno(errno.EBADF):
        tree.marker(b"msg 0000\n")
    assert "dropped events: 1\n" in tree.text("per_cpu/cpu0/stats")


def test_marker_pid_and_cpu(tree: Tree) -> None:
    tree.marker(b"a", pid=42)
    tree.array.marker_cpu = 1
    tree.marker(b"b", pid=43)
    lines = body(tree)
    assert "<...>-42      [000]" in lines[0]
    assert "<...>-43      [001]" in lines[1]


def test_marker_cpu_none_uses_the_serving_cpu(tree: Tree) -> None:
    tree.array.marker_cpu = None
    tree.marker(b"x")
    assert tree.array.buffer.entries() == 1


def test_marker_on_masked_cpu_is_ebadf(tree: Tree) -> None:
    tree.echo("tracing_cpumask", b"2")
    with raises_errno(errno.EBADF):
        tree.marker(b"cpu0 is out")
    tree.array.marker_cpu = 1
    assert tree.marker(b"cpu1 is in") == 10


# -- buffer sizes (§1.7) -------------------------------------------------------------------


def test_buffer_size_before_and_after_expansion(tree: Tree) -> None:
    assert tree.text("buffer_size_kb") == "7 (expanded: 1408)\n"
    assert tree.text("buffer_total_size_kb") == "14 (expanded: 2816)\n"
    assert tree.text("per_cpu/cpu0/buffer_size_kb") == "7\n"
    tree.echo("current_tracer", b"nop")
    assert tree.text("buffer_size_kb") == "1410\n"
    assert tree.text("buffer_total_size_kb") == "2820\n"
    assert tree.text("per_cpu/cpu1/buffer_size_kb") == "1410\n"


def test_buffer_size_write(tree: Tree) -> None:
    tree.echo("buffer_size_kb", b"7")
    assert tree.text("buffer_size_kb") == "7\n"
    assert tree.text("buffer_total_size_kb") == "14\n"
    tree.echo("buffer_size_kb", b"128000\n")
    assert tree.text("buffer_size_kb") == "128002\n"
    tree.echo("per_cpu/cpu1/buffer_size_kb", b"8")
    assert tree.text("buffer_size_kb") == "X\n"
    assert tree.text("per_cpu/cpu1/buffer_size_kb") == "11\n"
    assert tree.text("buffer_total_size_kb") == "128013\n"
    with raises_errno(errno.EINVAL):
        tree.echo("buffer_size_kb", b"0")


def test_resize_keeps_data(tree: Tree) -> None:
    tree.marker(b"survives")
    tree.echo("buffer_size_kb", b"64")
    assert "survives" in tree.text("trace")


def test_configured_default_size() -> None:
    tree = Tree(buffer_size_kb=64)
    assert tree.text("buffer_size_kb") == "7 (expanded: 64)\n"
    tree.array.expand()
    assert tree.text("buffer_size_kb") == "67\n"


def test_subbuf_size(tree: Tree) -> None:
    for bad in (b"3", b"5", b"256", b"0"):
        with raises_errno(errno.EINVAL):
            tree.write("buffer_subbuf_size_kb", bad)
    tree.write("buffer_subbuf_size_kb", b"8")
    assert tree.text("buffer_subbuf_size_kb") == "8\n"
    assert tree.marker(b"x" * 5000) == 4096  # the 4096 clamp now bites first


def test_buffer_percent(tree: Tree) -> None:
    tree.write("buffer_percent", b"100")
    assert tree.text("buffer_percent") == "100\n"
    with raises_errno(errno.EINVAL):
        tree.write("buffer_percent", b"101")


def test_free_buffer_shrinks_on_release(tree: Tree) -> None:
    tree.echo("buffer_size_kb", b"100")
    with tree.opened("free_buffer", os.O_RDONLY):
        assert tree.text("buffer_size_kb") == "103\n"  # 26 pages
    assert tree.text("buffer_size_kb") == "7\n"
    assert tree.text("tracing_on") == "1\n"


def test_free_buffer_disable_on_free(tree: Tree) -> None:
    tree.write("options/disable_on_free", b"1")
    assert tree.write("free_buffer", b"anything") == 8
    assert tree.text("tracing_on") == "0\n"
    assert tree.text("buffer_size_kb") == "7\n"


# -- trace_clock (§1.9) -----------------------------------------------------------------------


def test_trace_clock_default_and_switch() -> None:
    tree = Tree(TraceArray())
    assert tree.text("trace_clock") == "[local] global counter uptime perf mono mono_raw boot tai x86-tsc det\n"
    tree.echo("trace_clock", b"global\n")
    assert tree.text("trace_clock") == "local [global] counter uptime perf mono mono_raw boot tai x86-tsc det\n"
    assert tree.array.time_base.deterministic is False


def test_trace_clock_write_clears_even_when_unchanged(tree: Tree) -> None:
    tree.marker(b"x")
    tree.write("trace_clock", b"det")
    assert entries(tree).endswith("0/0   #P:2")


@pytest.mark.parametrize("data", [b"bogus", b"", b"lo cal", b"local" + b" " * 59])
def test_trace_clock_rejects(tree: Tree, data: bytes) -> None:
    with raises_errno(errno.EINVAL):
        tree.write("trace_clock", data)


def test_trace_clock_det_sets_the_machine_clock(tree: Tree) -> None:
    tree.write("trace_clock", b"local")
    assert tree.array.time_base.deterministic is False
    tree.write("trace_clock", b"  det \n")
    assert tree.array.time_base.deterministic is True


def test_a_deterministic_machine_stays_deterministic() -> None:
    tb = TimeBase(deterministic=True)
    tree = Tree(TraceArray(time_base=tb))
    tree.write("trace_clock", b"global")
    assert tb.deterministic is True


def test_constructor_rejects_unknown_clock() -> None:
    with pytest.raises(ValueError):
        TraceArray(clock="sundial")


# -- options (§1.10) -----------------------------------------------------------------------

NOP_OPTIONS = (
    "print-parent nosym-offset nosym-addr noverbose noraw nohex nobin noblock nofields "
    "trace_printk annotate nouserstacktrace nosym-userobj noprintk-msg-only context-info "
    "nolatency-format record-cmd norecord-tgid overwrite nodisable_on_free irq-info markers "
    "noevent-fork trace_printk_dest copy_trace_marker nopause-on-trace hash-ptr function-trace "
    "nofunction-fork nostacktrace notest_nop_accept notest_nop_refuse"
).split()


def test_trace_options_exact(tree: Tree) -> None:
    assert tree.text("trace_options") == "".join(f"{o}\n" for o in NOP_OPTIONS)


def test_trace_options_write(tree: Tree) -> None:
    tree.echo("trace_options", b"noannotate\n")
    assert tree.text("options/annotate") == "0\n"
    tree.echo("trace_options", b"  annotate ")
    assert tree.text("options/annotate") == "1\n"
    tree.echo("trace_options", b"test_nop_accept")
    assert "\ntest_nop_accept\n" in tree.text("trace_options")
    assert tree.text("options/test_nop_accept") == "1\n"


@pytest.mark.parametrize(
    "data",
    [b"bogus", b"nobogus", b"notrace_printk_dest", b"test_nop_refuse", b"notest_nop_refuse",
     b"annotate" + b" " * 56, b""],
)
def test_trace_options_rejects(tree: Tree, data: bytes) -> None:
    before = tree.text("trace_options")
    with raises_errno(errno.EINVAL):
        tree.write("trace_options", data)
    assert tree.text("trace_options") == before


def test_option_files(tree: Tree) -> None:
    tree.write("options/overwrite", b"0\n")
    assert tree.array.buffer.overwrite is False
    assert "\nnooverwrite\n" in tree.text("trace_options")
    with raises_errno(errno.EINVAL):
        tree.write("options/overwrite", b"2")
    with raises_errno(errno.EINVAL):
        tree.write("options/trace_printk_dest", b"0")
    tree.write("options/trace_printk_dest", b"1")  # unchanged: fine
    tree.write("options/test_nop_refuse", b"0")  # unchanged: fine
    with raises_errno(errno.EINVAL):
        tree.write("options/test_nop_refuse", b"1")
    tree.write("options/test_nop_accept", b"1")
    assert tree.text("options/test_nop_accept") == "1\n"


# -- tracing_cpumask (§1.11) ---------------------------------------------------------------


def test_cpumask(tree: Tree) -> None:
    tree.echo("tracing_cpumask", b"1\n")
    assert tree.text("tracing_cpumask") == "1\n"
    tree.array.marker_cpu = 1
    with raises_errno(errno.EBADF):
        tree.marker(b"x")
    tree.echo("tracing_cpumask", b"3")  # trace-cmd reset: no newline
    assert tree.text("tracing_cpumask") == "3\n"
    assert tree.marker(b"x") == 1


@pytest.mark.parametrize("data,code", [(b"", errno.EINVAL), (b"\n", errno.EINVAL), (b"xyz", errno.EINVAL), (b"1_1", errno.EINVAL), (b"0x1", errno.EINVAL), (b"4", errno.EOVERFLOW), (b"1ffffffff", errno.EOVERFLOW)])
def test_cpumask_rejects(tree: Tree, data: bytes, code: int) -> None:
    with raises_errno(code):
        tree.write("tracing_cpumask", data)
    assert tree.text("tracing_cpumask") == "3\n"


def test_cpumask_groups_of_32_bits() -> None:
    tree = Tree(TraceArray(nr_cpus=64))
    assert tree.text("tracing_cpumask") == "ffffffff,ffffffff\n"
    tree.write("tracing_cpumask", b"1,00000001")
    assert tree.text("tracing_cpumask") == "00000001,00000001\n"
    tree40 = Tree(TraceArray(nr_cpus=40))
    assert tree40.text("tracing_cpumask") == "ff,ffffffff\n"


# -- the rest (§1.15, §1.16) ------------------------------------------------------------------


def test_trace_cmd_reset_writes_succeed(tree: Tree) -> None:
    # The writes of `trace-cmd reset`, in its order.
    with tree.opened("tracing_on", RDWR) as on:
        assert on.write(b"0", 0, on._req) == 1
        assert tree.text("current_tracer") == "nop\n"
        assert tree.write("current_tracer", b"nop") == 3
        assert tree.echo("set_event", b"!*:*\n") == 5
        assert tree.echo("trace", b"0") == 1
        assert tree.write("error_log", b" ") == 1
        assert tree.echo("trace_clock", b"local") == 5
        assert tree.echo("tracing_cpumask", b"3") == 1
        assert on.write(b"1", 1, on._req) == 1
    assert tree.text("tracing_on") == "1\n"


def test_set_event_and_events_enable(tree: Tree) -> None:
    with raises_errno(errno.EINVAL):
        tree.write("set_event", b"sched:sched_switch")
    tree.write("events/enable", b"1")
    assert tree.text("events/enable") == "0\n"  # there are no events to enable
    assert tree.text("buffer_size_kb") == "1410\n"
    with raises_errno(errno.EINVAL):
        tree.write("events/enable", b"2")


def test_probe_files_create_nothing(tree: Tree) -> None:
    assert tree.write("dynamic_events", b"\n# nothing\n") == 11
    with raises_errno(errno.EINVAL):
        tree.write("uprobe_events", b"p:myprobe /bin/sh:0x10")


def test_saved_cmdlines_size_and_thresh(tree: Tree) -> None:
    tree.write("saved_cmdlines_size", b"128")
    assert tree.text("saved_cmdlines_size") == "128\n"
    for bad in (b"0", b"32769"):
        with raises_errno(errno.EINVAL):
            tree.write("saved_cmdlines_size", bad)
    tree.write("tracing_thresh", b"100")
    assert tree.text("tracing_thresh") == "100\n"


def test_stats_counts(tree: Tree) -> None:
    for _ in range(4):
        tree.marker(b"m000\n")
    stats = tree.text("per_cpu/cpu0/stats").splitlines()
    assert stats[0] == "entries: 4" and stats[3] == "bytes: 112"
    assert tree.text("per_cpu/cpu1/stats").startswith("entries: 0\n")
