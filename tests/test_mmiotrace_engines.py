"""The fast engine against the faithful one: the same trace, byte for byte.

Each bundled driver and the instruction-class driver run twice on the real
machine, once per engine, with the deterministic clock; the whole
trace_pipe streams must be equal, for both decoders. Also: a RAM-backed
ioremap under the fast engine (no device hook sees it) is traced the
faithful way, and the fast engine arms no page for device mappings.
"""

from __future__ import annotations

import pytest

from ftrace_mmio.mmiotrace.mmio_mod import ENGINES, MmiotraceParams
from mmiotrace_util import (
    DRIVERS,
    DRIVERS_UNDER_TEST,
    TESTMMIO_BAR0,
    Traced,
    check_grammar,
    drain,
    events,
    first_difference,
    trace_dump,
)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "modcache"


@pytest.mark.parametrize("decoder", ["full", "pf_in"])
@pytest.mark.parametrize("driver, args", DRIVERS_UNDER_TEST, ids=lambda v: str(v).rsplit("/", 1)[-1])
def test_fast_engine_output_equals_the_faithful_one(cache, driver: str, args: list[str], decoder: str) -> None:
    faithful = trace_dump(cache, driver, args, decoder=decoder, engine="faithful")
    fast = trace_dump(cache, driver, args, decoder=decoder, engine="fast")
    lines = check_grammar(faithful.decode())
    assert any(line.startswith(("R ", "W ")) for line in lines)
    if fast != faithful:
        pytest.fail(first_difference(faithful, fast, ("faithful", "fast")))


def test_trace_pc_is_the_same_under_both_engines(cache) -> None:
    driver, args = DRIVERS_UNDER_TEST[0]
    faithful = trace_dump(cache, driver, args, trace_pc=True, engine="faithful")
    fast = trace_dump(cache, driver, args, trace_pc=True, engine="fast")
    assert fast == faithful
    assert any(e.pc != 0 for e in events(fast.decode()) if e.kind in ("R", "W"))


def test_unknown_engine_is_refused() -> None:
    assert ENGINES == ("faithful", "fast")
    with pytest.raises(ValueError, match="unknown engine 'quick'"):
        MmiotraceParams(engine="quick")


HOLE = 0xFC00_0000   # physical addresses no device (and no RAM) decodes


def test_fast_engine_arms_no_device_page_but_probes_other_mappings(cache) -> None:
    """Device mappings go to the fast engine (no page armed); an ioremap the
    device hooks cannot see is traced by a kmmio probe, as the faithful engine does."""
    t = Traced(cache, MmiotraceParams(engine="fast"))
    try:
        t.machine.insmod(str(DRIVERS / "mmio_maps.c"))
        t.enable()
        pipe = t.open_pipe()
        dev = t.call("map", TESTMMIO_BAR0, 0x1000)
        hole = t.call("map", HOLE, 0x1000)
        mmio = t.tracer.mmio
        assert [tr.probe.addr for tr in mmio.fast.traces] == [dev]
        assert set(mmio.kmmio.pages) == {hole}
        t.call("wr32", dev + 0x10, 0x1234)
        t.call("unmap", dev)
        t.call("unmap", hole)
        assert not mmio.fast.traces and not mmio.kmmio.pages
        evs = events(drain(pipe))
        pipe.close()
    finally:
        t.close()
    kinds = [(e.kind, e.map_id) for e in evs if e.kind in ("MAP", "R", "W", "UNMAP")]
    assert kinds == [("MAP", 1), ("MAP", 2), ("W", 1), ("UNMAP", 1), ("UNMAP", 2)]
    w = next(e for e in evs if e.kind == "W")
    assert (w.phys, w.value) == (TESTMMIO_BAR0 + 0x10, 0x1234)
