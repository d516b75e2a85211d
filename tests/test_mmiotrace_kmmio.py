"""kmmio on the real machine: armed pages, the #PF -> single step -> #DB cycle.

A compiled test driver (tests/drivers/mmio_maps.c) maps device memory and
makes single accesses on demand; the tests look at the page tables (a real
walk through guest memory), kmmio's page table and the trace.
"""

from __future__ import annotations

import errno

import pytest

from ftrace_mmio.machine.mm import PAGE_SIZE
from ftrace_mmio.mmiotrace.kmmio import KmmioProbe
from ftrace_mmio.mmiotrace.mmio_mod import MmiotraceParams
from mmiotrace_util import DRIVERS, TESTMMIO_BAR0, Traced, drain, events, rw


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "modcache"


def _traced(cache, **params) -> Traced:
    t = Traced(cache, MmiotraceParams(**params))
    t.machine.insmod(str(DRIVERS / "mmio_maps.c"))
    return t


@pytest.fixture(scope="module")
def full(cache):
    t = _traced(cache)
    yield t
    t.close()


@pytest.fixture(scope="module")
def pf_in(cache):
    t = _traced(cache, decoder="pf_in")
    yield t
    t.close()


class Session:
    """mmiotrace selected and trace_pipe open for one test."""

    def __init__(self, t: Traced) -> None:
        self.t = t

    def __enter__(self) -> "Session":
        self.t.enable()
        self.pipe = self.t.open_pipe()
        self.seq = self.t.last_seq()
        return self

    def read(self) -> str:
        return drain(self.pipe)

    def dmesg(self) -> list[str]:
        return self.t.dmesg(self.seq)

    def __exit__(self, *exc: object) -> None:
        self.pipe.close()
        self.t.disable()


def _present(t: Traced, va: int) -> bool:
    return t.machine.run_on_cpu(t.machine.mm.walk, va) is not None


def test_ioremap_arms_every_page_and_iounmap_disarms(full: Traced) -> None:
    kmmio = full.tracer.mmio.kmmio
    with Session(full):
        cookie = full.call("map", TESTMMIO_BAR0 + 0x10, 0x2000)   # touches three pages
        first = cookie & ~(PAGE_SIZE - 1)
        pages = [first + i * PAGE_SIZE for i in range(3)]
        assert sorted(kmmio.pages) == pages
        assert all(kmmio.pages[p].count == 1 and kmmio.pages[p].armed for p in pages)
        assert not any(_present(full, p) for p in pages)
        assert full.machine.mm.is_present(first) is False      # Mm's own view agrees
        full.call("wr32", cookie, 0x1234)
        # Re-armed after the access.
        assert not _present(full, first) and kmmio.pages[first].armed
        full.call("unmap", cookie)
        assert kmmio.pages == {} and kmmio.probes == []


def test_every_access_faults_steps_and_traps_once(full: Traced) -> None:
    with Session(full) as s:
        cookie = full.call("map", TESTMMIO_BAR0, 0x1000)
        assert full.call("burst", cookie, 100) == sum(range(100))
        full.call("unmap", cookie)
        evs = events(s.read())
    assert [e.kind for e in evs] == ["MAP"] + ["W"] * 100 + ["R"] * 100 + ["UNMAP"]
    assert rw(evs)[:3] == [("W", 4, TESTMMIO_BAR0, 0), ("W", 4, TESTMMIO_BAR0 + 4, 1), ("W", 4, TESTMMIO_BAR0 + 8, 2)]
    assert rw(evs)[100] == ("R", 4, TESTMMIO_BAR0, 0)
    assert not full.tracer.mmio.kmmio.ctx.active


def test_register_refuses_a_start_inside_another_probe(full: Traced) -> None:
    kmmio = full.tracer.mmio.kmmio
    m = full.machine
    with Session(full):
        cookie = full.call("map", TESTMMIO_BAR0, 0x3000)

        def on_cpu():
            inside = KmmioProbe(cookie + 0x1800, 0x100)
            nowhere = KmmioProbe(0xFFFF_C900_7000_0000, 0x1000)
            return kmmio.register_probe(inside), kmmio.register_probe(nowhere)

        assert m.run_on_cpu(on_cpu) == (-errno.EEXIST, -errno.EINVAL)
        full.call("unmap", cookie)


def test_pages_are_refcounted(full: Traced) -> None:
    """Two probes share a page: it stays armed until the second one goes."""
    kmmio = full.tracer.mmio.kmmio
    m = full.machine
    with Session(full):
        # nommiotrace-like: a mapping made by the test itself, probes by hand.
        cookie = full.call("map", TESTMMIO_BAR0 + 0x10000, 0x2000)
        full.call("unmap", cookie)
        va = m.run_on_cpu(m.mm.ioremap, TESTMMIO_BAR0 + 0x10000, 0x2000)
        a = KmmioProbe(va + 0x1800, 0x800)          # the second page only
        b = KmmioProbe(va, 0x1100)                  # both pages
        assert m.run_on_cpu(kmmio.register_probe, a) == 0
        assert m.run_on_cpu(kmmio.register_probe, b) == 0
        assert kmmio.pages[va].count == 1 and kmmio.pages[va + PAGE_SIZE].count == 2
        assert kmmio.probes == [b, a]                # newest first
        m.run_on_cpu(kmmio.unregister_probe, a)
        assert kmmio.pages[va + PAGE_SIZE].count == 1 and not _present(full, va + PAGE_SIZE)
        m.run_on_cpu(kmmio.unregister_probe, b)
        assert kmmio.pages == {} and _present(full, va) and _present(full, va + PAGE_SIZE)
        m.run_on_cpu(lambda: m.mm.iounmap(m.mm.find_iomap(va)))


def test_access_spanning_two_armed_pages_is_traced_once(full: Traced) -> None:
    kmmio = full.tracer.mmio.kmmio
    with Session(full) as s:
        cookie = full.call("map", TESTMMIO_BAR0, 0x2000)
        full.call("wr32", cookie + 0xFFE, 0xC0FFEE11)
        assert full.call("rd32", cookie + 0xFFE) == 0xC0FFEE11
        pages = sorted(kmmio.pages)
        # Both pages armed again afterwards.
        assert all(kmmio.pages[p].armed for p in pages) and not any(_present(full, p) for p in pages)
        full.call("unmap", cookie)
        evs = events(s.read())
        log = s.dmesg()
    assert rw(evs) == [("W", 4, TESTMMIO_BAR0 + 0xFFE, 0xC0FFEE11), ("R", 4, TESTMMIO_BAR0 + 0xFFE, 0xC0FFEE11)]
    assert not any("recursive probe hit" in line for line in log)


def test_spanning_access_in_kernel_mode_logs_the_kernels_lines(pf_in: Traced) -> None:
    with Session(pf_in) as s:
        cookie = pf_in.call("map", TESTMMIO_BAR0, 0x2000)
        pf_in.call("wr32", cookie + 0xFFE, 0xC0FFEE11)
        pf_in.call("unmap", cookie)
        evs = events(s.read())
        log = s.dmesg()
    # The kernel would oops here; we log its lines and finish the step.
    page = cookie & ~(PAGE_SIZE - 1)
    assert f"mmiotrace: recursive probe hit on CPU 0, for address 0x{page + PAGE_SIZE:08x}. Ignoring." in log
    assert f"mmiotrace: previous hit was at 0x{page:08x}." in log
    assert rw(evs) == [("W", 4, TESTMMIO_BAR0 + 0xFFE, 0xC0FFEE11)]


@pytest.mark.parametrize("mode", ["full", "pf_in"])
def test_unaligned_first_page(mode: str, request) -> None:
    """A mapping starting inside a page: the kernel finds no probe for that page."""
    t: Traced = request.getfixturevalue(mode)
    with Session(t) as s:
        cookie = t.call("map", TESTMMIO_BAR0 + 0x20100, 0x2000)   # pages: +0x20000, +0x21000, +0x22000
        t.call("wr32", cookie + 0x10, 0x11)                      # first page
        t.call("wr32", cookie + 0x1000, 0x22)                    # second page
        assert t.call("rd32", cookie + 0x10) == 0x11             # the device saw it either way
        t.call("unmap", cookie)
        got = rw(events(s.read()))
    second = ("W", 4, TESTMMIO_BAR0 + 0x21100, 0x22)
    if mode == "full":
        assert got == [("W", 4, TESTMMIO_BAR0 + 0x20110, 0x11), second, ("R", 4, TESTMMIO_BAR0 + 0x20110, 0x11)]
    else:
        assert got == [second]


def test_access_outside_the_mapping_but_in_its_page_is_dropped(full: Traced) -> None:
    with Session(full) as s:
        cookie = full.call("map", TESTMMIO_BAR0 + 0x30100, 0x100)
        # The page is armed as a whole; the bytes below the cookie are not the mapping's.
        full.call("wr32", cookie - 0x10, 0x5)
        full.call("wr32", cookie, 0x6)
        full.call("unmap", cookie)
        got = rw(events(s.read()))
    assert got == [("W", 4, TESTMMIO_BAR0 + 0x30100, 0x6)]


def test_a_trap_flag_set_before_the_fault_is_passed_on(full: Traced) -> None:
    """Under a debugger: kmmio handles its fault and step, the debugger still gets the trap."""
    m = full.machine
    seen: list[int] = []

    def debugger() -> bool:
        seen.append(m.cpu.rip)
        return True

    with Session(full) as s:
        # The debugger's handler comes after kmmio's, as a later notifier would.
        m.run_on_cpu(m.cpu.add_debug_handler, debugger)
        try:
            cookie = full.call("map", TESTMMIO_BAR0, 0x1000)
            full.call("wr32", cookie + 8, 0xABCD)
            assert full.call("rd32_single_stepped", cookie + 8) == 0xABCD
            full.call("unmap", cookie)
        finally:
            m.run_on_cpu(m.cpu.remove_debug_handler, debugger)
        got = rw(events(s.read()))
        unexpected = [line for line in s.dmesg() if line == "mmiotrace: unexpected debug trap on CPU 0."]
    assert got == [("W", 4, TESTMMIO_BAR0 + 8, 0xABCD), ("R", 4, TESTMMIO_BAR0 + 8, 0xABCD)]
    # Every trap reached the debugger; all but the one after the traced
    # access were not kmmio's, and it said so.
    assert len(seen) >= 3
    assert len(unexpected) == len(seen) - 1


def test_rep_string_instructions_give_one_record_per_iteration(cache) -> None:
    t = Traced(cache)
    t.machine.insmod(str(DRIVERS / "mmio_insns.c"))
    try:
        with Session(t) as s:
            # mmio_insns maps at init: reload it inside the session.
            t.machine.rmmod("mmio_insns")
            t.machine.insmod(str(DRIVERS / "mmio_insns.c"))
            s.read()
            t.call("string_ops", module="mmio_insns")
            got = rw(events(s.read()))
    finally:
        t.close()
    stos = [r for r in got if r[0] == "W" and r[1] == 1]
    assert [r[2] for r in stos] == [TESTMMIO_BAR0 + 0x70 + i for i in range(4)]      # rep stosb x4
    stosw = [r for r in got if r[0] == "W" and r[1] == 2]
    assert [r[2] for r in stosw] == [TESTMMIO_BAR0 + 0x74, TESTMMIO_BAR0 + 0x76]     # rep stosw x2
    cmps = [r for r in got if r[0] == "R" and r[1] == 1]
    # repe cmpsb over 4 equal bytes, then repne scasb finding 0xa2 at the third.
    assert [r[2] - TESTMMIO_BAR0 for r in cmps] == [0x60, 0x61, 0x62, 0x63, 0x60, 0x61, 0x62]


def test_an_unexpected_debug_trap_is_logged_and_not_taken(full: Traced) -> None:
    m = full.machine
    with Session(full) as s:
        assert m.run_on_cpu(full.tracer.mmio.kmmio.debug_handler) is False
        assert s.dmesg() == ["mmiotrace: unexpected debug trap on CPU 0."]


def test_a_second_fault_during_the_step_opens_that_page_too(full: Traced) -> None:
    """Without a plan from the pre handler, the spanning access faults twice:
    the second page is opened for the same step, and both are re-armed."""
    kmmio = full.tracer.mmio.kmmio
    m = full.machine
    calls: list[str] = []
    va = m.run_on_cpu(m.mm.ioremap, TESTMMIO_BAR0 + 0x40000, 0x2000)
    probe = KmmioProbe(va, 0x2000, lambda p, addr, rip: calls.append(f"pre {addr - va:#x}"),
                       lambda p: calls.append(f"post {kmmio.step_pages() == [va, va + PAGE_SIZE]}"))
    with Session(full):
        assert m.run_on_cpu(kmmio.register_probe, probe) == 0
        full.call("wr32", va + 0xFFE, 0x12345678)
        assert calls == ["pre 0xffe", "post True"]
        assert kmmio.pages[va].armed and kmmio.pages[va + PAGE_SIZE].armed
        assert not _present(full, va) and not _present(full, va + PAGE_SIZE)
        m.run_on_cpu(kmmio.unregister_probe, probe)
    assert full.call("rd32", va + 0xFFE) == 0x12345678
    m.run_on_cpu(lambda: m.mm.iounmap(m.mm.find_iomap(va)))


def test_module_unload_forgets_its_decodes(cache) -> None:
    t = _traced(cache)
    try:
        with Session(t):
            cookie = t.call("map", TESTMMIO_BAR0, 0x1000)
            t.call("wr32", cookie, 1)
            t.call("rd32", cookie)
            module = t.machine.modules["mmio_maps"]
            cached = list(t.tracer.mmio.decoder._cache)
            assert len(cached) == 2 and all(module.contains(pc) for pc in cached)
            t.call("unmap", cookie)
            t.machine.rmmod("mmio_maps")
            # Another module may be loaded at the same addresses next.
            assert len(t.tracer.mmio.decoder) == 0
    finally:
        t.close()
