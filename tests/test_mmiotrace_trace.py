"""mmiotrace end to end on the real machine: goldens, parameters, lost events,
the tracer's life cycle, and a differential check against the devices.

Goldens are whole trace_pipe byte streams of real C drivers (compiled by
gcc, run on the emulated CPU) with the deterministic ``det`` clock, made by
the same code path as ``ftrace-mmio run``. They depend on gcc's code
generation only where the trace shows code (trace_pc, UNKNOWN bytes).
Regenerate with FTRACE_MMIO_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import functools
import io

import pytest

from ftrace_mmio.cli.run import trace_run
from ftrace_mmio.machine.machine import Machine
from ftrace_mmio.mmiotrace.mmio_mod import MmiotraceParams
from mmiotrace_util import (
    DRIVERS,
    TESTMMIO_BAR0,
    Traced,
    check_grammar,
    drain,
    events,
    golden,
    rw,
    expected_testmmiotrace,
)
from trace_util import raises_errno


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "modcache"


def run_trace(cache, target: str, *args: str, **kw) -> tuple[str | None, bytes, str]:
    out = io.BytesIO()
    kw.setdefault("clock", "det")
    failure, dmesg = trace_run(target, list(args), out, machine_factory=functools.partial(Machine, cache_dir=cache), **kw)
    return failure, out.getvalue(), dmesg


# -- goldens and the spec's testmmiotrace ------------------------------------------------


@pytest.fixture(scope="module")
def testmmiotrace_trace(cache) -> bytes:
    failure, data, _ = run_trace(cache, "testmmiotrace", f"mmio_address={TESTMMIO_BAR0:#x}")
    assert failure is None
    return data


def test_testmmiotrace_golden(testmmiotrace_trace: bytes) -> None:
    golden("testmmiotrace.det.mmiotrace", testmmiotrace_trace)


def test_testmmiotrace_follows_the_spec(testmmiotrace_trace: bytes) -> None:
    text = testmmiotrace_trace.decode()
    lines = check_grammar(text)
    assert lines[0] == "VERSION 20070824\n"
    pcidev = [line for line in lines if line.startswith("PCIDEV ")]
    assert lines[1:1 + len(pcidev)] == pcidev and len(pcidev) == 3
    # testmmio at 00:03.0 with its 8 MiB prefetchable BAR0 and 4 KiB BAR2, no driver bound.
    assert pcidev[1] == "PCIDEV 0018 12341111 11 fd000008 0 fd800000 0 0 0 0 800000 0 1000 0 0 0 0 \n"
    evs = events(text)
    assert len(evs) == 10268 == len(lines) - 1 - len(pcidev)
    assert evs[0].kind == "MAP" and evs[0].fields[1:] == ("1", "0xfd000000", evs[0].fields[3], "0x800000", "0x0", "0")
    marks = [" ".join(e.fields[1:]) for e in evs if e.kind == "MARK"]
    assert marks[1:] == ["Write test.", "Read test.", "Read errors: 8-bit 0, 16-bit 0, 32-bit 0.", "Read far test."]
    assert marks[0].startswith("ioremap returned ") and len(marks[0].split()[-1]) == 17  # 16 hex digits and "."
    assert rw(evs) == expected_testmmiotrace()
    assert all(e.map_id == 1 and e.pc == 0 for e in evs if e.kind in "RW")
    # The bulk test: ten maps of one page, each unmapped at once.
    tail = evs[-21:]
    assert [(e.kind, e.map_id) for e in tail] == [("UNMAP", 1)] + [
        (kind, i) for i in range(2, 12) for kind in ("MAP", "UNMAP")]
    assert all(e.fields[4] == "0x1000" for e in tail if e.kind == "MAP")
    assert not any(e.kind == "UNKNOWN" for e in evs)
    ts = [float(e.fields[1] if e.kind in "RW" else e.fields[0]) for e in evs]
    assert ts == sorted(ts)


def test_testmmiotrace_is_the_same_with_the_kernels_decoder(cache, testmmiotrace_trace: bytes) -> None:
    failure, data, _ = run_trace(cache, "testmmiotrace", f"mmio_address={TESTMMIO_BAR0:#x}",
                                 params=MmiotraceParams(decoder="pf_in"))
    assert failure is None
    assert data == testmmiotrace_trace


def test_nvlike_golden(cache) -> None:
    failure, data, _ = run_trace(cache, "nvlike")
    assert failure is None
    check_grammar(data.decode())
    golden("nvlike.det.mmiotrace", data)


@pytest.mark.parametrize("decoder", ["full", "pf_in"])
def test_instruction_classes_golden(cache, decoder: str) -> None:
    failure, data, dmesg = run_trace(cache, str(DRIVERS / "mmio_insns.c"), params=MmiotraceParams(decoder=decoder))
    assert failure is None
    text = data.decode()
    evs = events(text)
    unknown = [e for e in evs if e.kind == "UNKNOWN"]
    if decoder == "full":
        # A valid instruction never becomes UNKNOWN.
        assert unknown == []
    else:
        assert len(unknown) == 39
    golden(f"mmio_insns.{decoder}.det.mmiotrace", data)


def test_instruction_classes_record_real_values(cache) -> None:
    _, data, _ = run_trace(cache, str(DRIVERS / "mmio_insns.c"))
    got = rw(events(data.decode()))
    fb = TESTMMIO_BAR0
    # Spot checks where the kernel's decoder is wrong or blind.
    assert ("R", 1, fb + 0x20, 0xF1) in got                      # movsbl: the byte, not 0xfffffff1
    assert ("W", 4, fb + 0x3C, 0x01020304) in got                # mov imm with a SIB byte
    assert ("W", 8, fb + 0x40, 0xFFFFFFFFFFFFFFFE) in got        # REX.W C7
    i = got.index(("W", 4, fb + 0x40, 0x10))
    assert got[i + 1:i + 3] == [("R", 4, fb + 0x40, 0x10), ("W", 4, fb + 0x40, 0x110)]  # or: R then W
    assert [r for r in got if r[2] in (fb + 0x90, fb + 0x98)] == [
        ("W", 8, fb + 0x90, 0x0102030401020304), ("W", 8, fb + 0x98, 0)]              # movdqu store: 2 x 8
    assert ("W", 4, fb + 0x1100, 0x5EED5EED) in got              # movs between two armed pages
    assert ("W", 4, fb + 0x4110, 0x0DD0F00D) in got              # first page of an unaligned mapping


# -- parameters ---------------------------------------------------------------------------


def _session(t: Traced):
    t.enable()
    return t.open_pipe()


def test_filter_offset_traces_one_mapping_and_uses_no_ids_for_others(cache) -> None:
    t = Traced(cache, MmiotraceParams(filter_offset=TESTMMIO_BAR0 + 0x1000))
    try:
        t.machine.insmod(str(DRIVERS / "mmio_maps.c"))
        pipe = _session(t)
        other = t.call("map", TESTMMIO_BAR0, 0x1000)
        mine = t.call("map", TESTMMIO_BAR0 + 0x1000, 0x1000)
        t.call("wr32", other, 1)
        t.call("wr32", mine, 2)
        t.call("unmap", other)
        t.call("unmap", mine)
        evs = events(drain(pipe))
        pipe.close()
    finally:
        t.close()
    # The filtered mapping's iounmap is still looked up, finds nothing: -1,
    # as the kernel's iounmap hook has no filter.
    assert [(e.kind, e.map_id) for e in evs] == [("MAP", 1), ("W", 1), ("UNMAP", -1), ("UNMAP", 1)]
    assert evs[0].fields[2] == f"{TESTMMIO_BAR0 + 0x1000:#x}"


def test_unmap_of_an_untraced_cookie_is_minus_one(cache) -> None:
    t = Traced(cache)
    try:
        t.machine.insmod(str(DRIVERS / "mmio_maps.c"))
        before = t.call("map", TESTMMIO_BAR0, 0x1000)       # mapped before tracing
        pipe = _session(t)
        t.call("wr32", before, 7)                           # not traced
        t.call("unmap", before)
        evs = events(drain(pipe))
        pipe.close()
    finally:
        t.close()
    assert [(e.kind, e.map_id) for e in evs] == [("UNMAP", -1)]


def test_nommiotrace_logs_maps_but_arms_nothing(cache) -> None:
    t = Traced(cache, MmiotraceParams(nommiotrace=True))
    try:
        t.machine.insmod(str(DRIVERS / "mmio_maps.c"))
        seq = t.last_seq()
        pipe = _session(t)
        cookie = t.call("map", TESTMMIO_BAR0, 0x1000)
        assert t.tracer.mmio.kmmio.pages == {}
        t.call("wr32", cookie, 3)
        assert t.call("rd32", cookie) == 3
        t.call("unmap", cookie)
        evs = events(drain(pipe))
        pipe.close()
        log = t.dmesg(seq)
    finally:
        t.close()
    assert [(e.kind, e.map_id) for e in evs] == [("MAP", 1), ("UNMAP", 1)]
    assert log[0] == "mmiotrace: MMIO tracing disabled."


def test_trace_pc_records_the_faulting_instruction(cache) -> None:
    t = Traced(cache, MmiotraceParams(trace_pc=True))
    try:
        t.machine.insmod(str(DRIVERS / "mmio_maps.c"))
        module = t.machine.modules["mmio_maps"]
        pipe = _session(t)
        cookie = t.call("map", TESTMMIO_BAR0, 0x1000)
        t.call("wr32", cookie, 3)
        t.call("rd32", cookie)
        t.call("unmap", cookie)
        evs = events(drain(pipe))
        pipe.close()
        wr32 = module.symbols["wr32"]
        rd32 = module.symbols["rd32"]
        code = {pc: t.machine.read_virt(pc, 2) for pc in (evs[1].pc, evs[2].pc)}
    finally:
        t.close()
    assert [e.kind for e in evs] == ["MAP", "W", "R", "UNMAP"]
    assert wr32 <= evs[1].pc < wr32 + 16 and rd32 <= evs[2].pc < rd32 + 16
    assert code[evs[1].pc][0] == 0x89 and code[evs[2].pc][0] == 0x8B     # the movs themselves
    assert evs[0].fields[5] == "0x0"                                     # MAP's pc is always 0


# -- the tracer's life cycle ------------------------------------------------------------------


def test_enable_and_disable_log_the_kernels_sequence(cache) -> None:
    t = Traced(cache)
    try:
        t.machine.insmod(str(DRIVERS / "mmio_maps.c"))
        seq = t.last_seq()
        t.enable()
        assert t.array.online_cpus == 1
        pipe = t.open_pipe()
        kept = t.call("map", TESTMMIO_BAR0 + 0x100, 0x2000)
        pipe.close()
        t.disable()
        assert t.array.online_cpus == 2
        log = t.dmesg(seq)
        # Purged: no longer armed, no fault on access.
        assert t.tracer.mmio.kmmio.pages == {}
        t.call("wr32", kept, 1)
        t.call("unmap", kept)
    finally:
        t.close()
    assert log == [
        "mmiotrace: Disabling non-boot CPUs...",
        "mmiotrace: CPU1 is down.",
        "mmiotrace: enabled.",
        f"mmiotrace: purging non-iounmapped trace @0x{kept:08x}, size 0x2000.",
        "mmiotrace: Re-enabling CPUs...",
        "mmiotrace: enabled CPU1.",
        "mmiotrace: disabled.",
    ]


def test_purged_mappings_get_no_unmap_and_ids_continue(cache) -> None:
    t = Traced(cache)
    try:
        t.machine.insmod(str(DRIVERS / "mmio_maps.c"))
        t.enable()
        pipe = t.open_pipe()
        first = t.call("map", TESTMMIO_BAR0, 0x1000)
        t.call("map", TESTMMIO_BAR0, 0x1000)
        t.array.set_tracing_on(False)
        first_text = drain(pipe)
        pipe.close()
        t.array.set_tracing_on(True)
        t.disable()                       # purges both, silently in the trace
        t.call("unmap", first)
        pipe = _session(t)
        t.call("unmap", t.call("map", TESTMMIO_BAR0, 0x1000))
        second = events(drain(pipe))
        pipe.close()
    finally:
        t.close()
    assert [(e.kind, e.map_id) for e in events(first_text)] == [("MAP", 1), ("MAP", 2)]
    # A new session: ids go on from 3, never reset while the machine runs.
    assert [(e.kind, e.map_id) for e in second] == [("MAP", 3), ("UNMAP", 3)]


def test_mmiotrace_printk_only_while_enabled(cache) -> None:
    t = Traced(cache)
    try:
        t.machine.insmod(str(DRIVERS / "mmio_maps.c"))
        t.call("mark", 1)                         # nop: nothing
        pipe = _session(t)
        t.call("mark", 2)
        text = drain(pipe)
        pipe.close()
    finally:
        t.close()
    assert [" ".join(e.fields[1:]) for e in events(text)] == ["mark 2"]


def test_pcidev_one_line_per_read(cache) -> None:
    t = Traced(cache)
    try:
        pipe = _session(t)
        reads = [pipe.read(65536, nonblock=True) for _ in range(4)]
        with raises_errno(11):
            pipe.read(65536, nonblock=True)
        pipe.close()
    finally:
        t.close()
    assert reads[0] == b"VERSION 20070824\n"
    assert [r.split()[1] for r in reads[1:]] == [b"0010", b"0018", b"0020"]
    assert all(r.count(b"\n") == 1 for r in reads)


def test_trace_file_under_mmiotrace(cache) -> None:
    from trace_util import Tree

    t = Traced(cache)
    try:
        t.machine.insmod(str(DRIVERS / "mmio_maps.c"))
        tree = Tree(t.array)
        tree.echo("current_tracer", b"mmiotrace\n")
        cookie = t.call("map", TESTMMIO_BAR0, 0x1000)
        t.call("wr32", cookie, 0x42)
        t.call("unmap", cookie)
        text = tree.text("trace")
        tree.echo("current_tracer", b"nop\n")
    finally:
        t.close()
    lines = text.splitlines(keepends=True)
    assert lines[:3] == ["# tracer: mmiotrace\n", "#\n", "# entries-in-buffer/entries-written: 3/3   #P:1\n"]
    body = [line for line in lines if not line.startswith("#")]
    assert [line.split()[0] for line in body] == ["MAP", "W", "UNMAP"]
    assert "VERSION" not in text and "PCIDEV" not in text


# -- lost events --------------------------------------------------------------------------------


@pytest.mark.parametrize("overwrite", [True, False])
def test_lost_events_are_counted_exactly(cache, overwrite: bool) -> None:
    """A tiny buffer and a reader that reads only at the end."""
    t = Traced(cache, buffer_size_kb=4)
    try:
        t.array.set_option("overwrite", overwrite)
        seq = t.last_seq()
        pipe = _session(t)
        t.machine.insmod("testmmiotrace", [f"mmio_address={TESTMMIO_BAR0:#x}"])
        t.machine.rmmod("testmmiotrace")
        text = drain(pipe, size=4096)
        again = drain(pipe)
        pipe.close()
        log = t.dmesg(seq)
    finally:
        t.close()
    evs = events(text)
    lost = sum(int(e.fields[0]) for e in evs if e.kind == "LOST")
    assert lost > 0 and again == ""
    if overwrite:
        # Every entry counts: overruns include markers.
        delivered = [e for e in evs if e.kind != "LOST"]
        assert len(delivered) + lost == 10268
    else:
        # Refused markers are not mmiotrace's to count (the kernel's rule).
        delivered = [e for e in evs if e.kind not in ("LOST", "MARK")]
        assert len(delivered) + lost == 10263
    assert log.count("mmiotrace has lost events") == 1


def test_lost_events_while_reading_concurrently(cache) -> None:
    failure, data, dmesg = run_trace(cache, "testmmiotrace", f"mmio_address={TESTMMIO_BAR0:#x}", buffer_size_kb=4)
    assert failure is None
    evs = events(data.decode())
    lost = sum(int(e.fields[0]) for e in evs if e.kind == "LOST")
    delivered = [e for e in evs if e.kind != "LOST"]
    assert len(delivered) + lost == 10268
    assert dmesg.count("mmiotrace has lost events") == (1 if lost else 0)


def test_tracing_off_refuses_and_reports_later(cache) -> None:
    t = Traced(cache)
    try:
        t.machine.insmod(str(DRIVERS / "mmio_maps.c"))
        t.enable()
        cookie = t.call("map", TESTMMIO_BAR0, 0x1000)
        t.array.set_tracing_on(False)
        t.call("burst", cookie, 10)                # 20 records refused
        t.array.set_tracing_on(True)               # clears, keeps the count
        t.call("wr32", cookie, 9)
        pipe = t.open_pipe()
        text = drain(pipe)
        pipe.close()
        t.call("unmap", cookie)
    finally:
        t.close()
    lines = text.splitlines()
    assert lines[1] == "MARK 0.000000 Lost 20 events."
    assert [e.kind for e in events(text)] == ["LOST", "W"]


# -- differential: the fault path against the devices' own logs ------------------------------------


@pytest.mark.parametrize("driver, args", [
    ("testmmiotrace", [f"mmio_address={TESTMMIO_BAR0:#x}"]),
    ("nvlike", []),
    ("uart16550", []),
    (str(DRIVERS / "mmio_insns.c"), []),
])
def test_trace_equals_the_device_access_log(cache, driver: str, args: list[str]) -> None:
    t = Traced(cache)
    try:
        logs = []
        for dev in t.machine.pci_bus.devices:
            log = dev.model.enable_access_log()
            ranges = {i: (r.start, r.end + 1) for i, r in enumerate(dev.resources) if r.end}
            logs.append((ranges, log))
        pipe = _session(t)
        t.machine.insmod(driver, args)
        name = next(iter(t.machine.modules))
        t.machine.rmmod(name)
        got = rw(events(drain(pipe)))
        pipe.close()
    finally:
        t.close()
    assert got, "the driver touched no device"
    total = 0
    for ranges, log in logs:
        expected = [(rec.kind, rec.width, ranges[rec.bar][0] + rec.offset, rec.value) for rec in log]
        mine = [r for r in got if any(lo <= r[2] < hi for lo, hi in ranges.values())]
        # Each device saw exactly what the trace says it saw, in the same order.
        assert mine == expected
        total += len(expected)
    assert total == len(got)


def test_disabling_while_a_driver_runs_waits_for_the_cpu(cache) -> None:
    """echo nop while the CPU is busy in a driver: no deadlock, the mapping is purged after."""
    import threading

    t = Traced(cache)
    try:
        t.machine.insmod(str(DRIVERS / "mmio_maps.c"))
        t.enable()
        cookie = t.call("map", TESTMMIO_BAR0, 0x1000)
        done: list[int] = []
        worker = threading.Thread(target=lambda: done.append(t.call("burst", cookie, 3000)))
        worker.start()
        t.disable()
        worker.join(timeout=120)          # a safety net, not a measurement
        slots = {i & 0x3FF: i for i in range(3000)}          # the last write to each slot
        assert done == [sum(slots[i & 0x3FF] for i in range(3000))]
        assert t.tracer.mmio.kmmio.pages == {} and not t.tracer.mmio.trace_list
        t.call("unmap", cookie)
    finally:
        t.close()


def test_past_the_end_of_the_last_page(cache) -> None:
    """Bytes after the mapping in its last page: dropped by default, logged by pf_in (the kernel)."""
    got = {}
    for decoder in ("full", "pf_in"):
        t = Traced(cache, MmiotraceParams(decoder=decoder))
        try:
            t.machine.insmod(str(DRIVERS / "mmio_maps.c"))
            pipe = _session(t)
            cookie = t.call("map", TESTMMIO_BAR0 + 0x50000, 0x100)
            t.call("wr32", cookie + 0x200, 0x77)
            t.call("unmap", cookie)
            got[decoder] = rw(events(drain(pipe)))
            pipe.close()
        finally:
            t.close()
    assert got == {"full": [], "pf_in": [("W", 4, TESTMMIO_BAR0 + 0x50200, 0x77)]}
