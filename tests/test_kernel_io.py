"""The I/O accessors, port I/O and unclaimed addresses, from a real driver
(tests/drivers/io_access.c) on the emulated machine, checked in the
mmiotrace trace they produce (widths, values, order) and in their results."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from mmiotrace_util import DRIVERS, TESTMMIO_BAR0, Traced, drain, events, rw

FB = TESTMMIO_BAR0
UNCLAIMED = 0xC000_0000          # a gap in the 32-bit window: no BAR, no RAM


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "modcache"


@pytest.fixture(scope="module")
def traced(cache):
    t = Traced(cache)
    t.enable()                        # before insmod: init's ioremap is traced
    pipe = t.open_pipe()
    t.machine.insmod(str(DRIVERS / "io_access.c"))
    drain(pipe)                       # the header and the init's MAP line
    yield t, pipe
    pipe.close()
    t.close()


def call(traced, fn: str, *args: int) -> tuple[int, list[tuple[str, int, int, int]], list]:
    """Run one function; its result and the R/W records (offsets into BAR0)."""
    t, pipe = traced
    ret = t.call(fn, *args, module="io_access")
    evs = events(drain(pipe))
    return ret, [(k, w, p - FB if FB <= p < FB + 0x1000 else p, v) for k, w, p, v in rw(evs)], evs


def s64(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


def test_each_width_is_one_access_of_that_width(traced) -> None:
    ret, acc, _ = call(traced, "io_widths")
    assert acc == [("W", 1, 0x0, 0x11), ("W", 2, 0x2, 0x2233), ("W", 4, 0x4, 0x44556677),
                   ("W", 8, 0x8, 0x8899AABBCCDDEEFF),
                   ("R", 1, 0x0, 0x11), ("R", 2, 0x2, 0x2233), ("R", 4, 0x4, 0x44556677),
                   ("R", 8, 0x8, 0x8899AABBCCDDEEFF)]
    assert ret == (0x11 + 0x2233 + 0x44556677 + 0x8899AABBCCDDEEFF) & ((1 << 64) - 1)


def test_relaxed_and_raw_are_the_same_accesses(traced) -> None:
    ret, acc, _ = call(traced, "io_relaxed")
    assert acc == [("W", 4, 0x10, 0x01020304), ("W", 2, 0x14, 0x0506),
                   ("R", 4, 0x10, 0x01020304), ("R", 2, 0x14, 0x0506)]
    assert ret == 0x01020304 + 0x0506


def test_ioread_iowrite_on_mmio_cookies(traced) -> None:
    ret, acc, _ = call(traced, "io_iomap")
    assert acc == [("W", 1, 0x18, 0xA1), ("W", 2, 0x1A, 0xB2C3), ("W", 4, 0x1C, 0xD4E5F607),
                   ("W", 8, 0x20, 0x1122334455667788),
                   ("R", 1, 0x18, 0xA1), ("R", 2, 0x1A, 0xB2C3), ("R", 4, 0x1C, 0xD4E5F607),
                   ("R", 8, 0x20, 0x1122334455667788)]
    assert ret == 0xA1 + 0xB2C3 + 0xD4E5F607 + 0x1122334455667788


@pytest.mark.parametrize("n", [1, 5, 16])
def test_rep_accessors_make_n_accesses_to_one_register(traced, n: int) -> None:
    ret, acc, _ = call(traced, "io_rep", n)
    assert acc == [("W", 4, 0x100, 0x1000 + i) for i in range(n)] + [("R", 4, 0x100, 0x1000 + n - 1)] * n
    assert ret == (0x1000 + n - 1) * n        # the register holds the last value written


def test_byte_word_rep_and_readsx_writesx(traced) -> None:
    ret, acc, _ = call(traced, "io_rep_small")
    assert acc == [("W", 1, 0x110, 1), ("W", 1, 0x110, 2), ("W", 1, 0x110, 3),
                   ("R", 1, 0x110, 3), ("R", 1, 0x110, 3), ("R", 1, 0x110, 3),
                   ("W", 2, 0x112, 0x4142), ("W", 2, 0x112, 0x4344),
                   ("R", 2, 0x112, 0x4344), ("R", 2, 0x112, 0x4344),
                   ("W", 4, 0x114, 7)]
    assert ret == 3 * 3 + 2 * 0x4344


def test_big_endian_accessors_swap(traced) -> None:
    ret, acc, _ = call(traced, "io_be")
    assert acc == [("W", 4, 0x40, 0x44332211), ("W", 2, 0x44, 0x6655),
                   ("R", 4, 0x40, 0x44332211), ("R", 2, 0x44, 0x6655)]
    assert ret == 0x112233445566


def test_lo_hi_and_hi_lo_are_two_4_byte_accesses_in_their_order(traced) -> None:
    ret, acc, _ = call(traced, "io_lohi")
    assert acc == [("W", 4, 0x50, 0x55667788), ("W", 4, 0x54, 0x11223344),
                   ("W", 4, 0x5C, 0x99AABBCC), ("W", 4, 0x58, 0xDDEEFF00),
                   ("R", 4, 0x50, 0x55667788), ("R", 4, 0x54, 0x11223344),
                   ("R", 4, 0x5C, 0x99AABBCC), ("R", 4, 0x58, 0xDDEEFF00)]
    assert ret == 0x1122334455667788 ^ 0x99AABBCCDDEEFF00


def test_memcpy_toio_fromio_and_memset_io(traced) -> None:
    ret, acc, _ = call(traced, "io_memcpy")
    words = [int.from_bytes(bytes(range(0x20 + 4 * i, 0x24 + 4 * i)), "little") for i in range(4)]
    assert acc == ([("W", 4, 0x80 + 4 * i, w) for i, w in enumerate(words)]
                   + [("R", 4, 0x80 + 4 * i, w) for i, w in enumerate(words)]
                   + [("W", 1, 0xA0 + i, 0xAB) for i in range(8)])
    assert ret == sum(range(0x20, 0x30))


def test_readl_poll_timeout_succeeds_at_once(traced) -> None:
    ret, acc, _ = call(traced, "io_poll_ok")
    assert ret == 0
    assert acc == [("W", 4, 0xC0, 3), ("R", 4, 0xC0, 3)]


@pytest.mark.parametrize("atomic", [0, 1])
def test_readl_poll_timeout_times_out(traced, atomic: int) -> None:
    ret, acc, evs = call(traced, "io_poll_timeout", atomic)
    assert s64(ret) == -errno.ETIMEDOUT
    assert acc[0] == ("W", 4, 0xC4, 2)
    reads = acc[1:]
    assert len(reads) >= 3 and set(reads) == {("R", 4, 0xC4, 2)}
    # The loop ran until the deadline passed on the machine clock: the
    # reads span at least the timeout (100 us atomic, 200 us sleeping).
    rws = [e for e in evs if e.kind == "R"]
    assert rws[-1].ts - rws[0].ts >= (100e-6 if atomic else 200e-6) * 0.99


def test_readx_poll_timeout_with_another_accessor(traced) -> None:
    ret, acc, _ = call(traced, "io_pollx")
    assert ret == 0x42
    assert acc == [("W", 2, 0xC8, 0x42), ("R", 2, 0xC8, 0x42)]


def test_port_io_reaches_the_io_bar_and_is_not_traced(traced) -> None:
    t, _ = traced
    (base, size, name), = t.machine.ioports.regions()
    assert name.endswith("BAR5") and size == 128          # nvlike's I/O BAR
    ret, acc, evs = call(traced, "io_ports", base)
    assert ret == 0x5A + 0x1234 + 0xDEADBEEF + 0x01010101 + 0xCAFEF00D + 0x44332211
    assert acc == [] and [e for e in evs if e.kind in ("R", "W", "UNKNOWN")] == []
    # The device model saw the accesses (its I/O BAR region holds the bytes).
    region = t.machine.ioports.find(base)[1]
    assert region.read(4, 4) == 0xDEADBEEF and region.read(0x14, 4) == 0x44332211


def test_pci_iomap_of_an_io_bar_is_a_port_cookie(traced) -> None:
    t, _ = traced
    (base, _, _), = t.machine.ioports.regions()
    ret, acc, _ = call(traced, "io_pci_iomap_io_bar")
    assert ret >> 32 == 0x6789
    assert ret & 0xFFFFFFFF == 0x10000 + base               # PIO_OFFSET + port
    assert acc == []


def test_unclaimed_ports_read_all_ones(traced) -> None:
    ret, _, _ = call(traced, "io_port_unclaimed", 0x300)
    assert ret == 0xFF_FFFF_FFFF


def test_unclaimed_physical_address_reads_all_ones_once_logged(traced) -> None:
    t, _ = traced
    seq = t.last_seq()
    ret, acc, evs = call(traced, "io_unclaimed", UNCLAIMED)
    assert ret == 0xFFFF_FFFF_FFFF_FFFF
    # Traced as on the kernel: the map, the reads with all ones, the write.
    assert acc == [("R", 4, UNCLAIMED, 0xFFFFFFFF), ("W", 4, UNCLAIMED + 4, 0x12345678),
                   ("R", 4, UNCLAIMED + 4, 0xFFFFFFFF), ("R", 1, UNCLAIMED + 8, 0xFF)]
    assert [e.kind for e in evs] == ["MAP", "R", "W", "R", "R", "UNMAP"]
    # A second mapping in the same window: no new line; the machine goes on.
    assert t.call("io_unclaimed", UNCLAIMED + 0x3000, module="io_access") == 0xFFFF_FFFF_FFFF_FFFF
    lines = [line for line in t.dmesg(seq) if "unclaimed" in line]
    assert lines == [f"unclaimed physical address {UNCLAIMED:#x} (read from): no device decodes "
                     f"[mem {UNCLAIMED:#018x}-{UNCLAIMED + 0xFFFFF:#018x}], "
                     "reads return all ones, writes are dropped"]
    assert not any("Oops" in line or "BUG" in line for line in t.dmesg(seq))
    assert t.call("io_widths", module="io_access") != 0


def test_unclaimed_reads_are_traced_by_the_fast_engine_too(cache) -> None:
    from ftrace_mmio.mmiotrace.mmio_mod import MmiotraceParams

    t = Traced(cache, MmiotraceParams(engine="fast"))
    try:
        t.enable()
        pipe = t.open_pipe()
        t.machine.insmod(str(DRIVERS / "io_access.c"))
        drain(pipe)
        assert t.call("io_unclaimed", UNCLAIMED + 0x10000, module="io_access") == 0xFFFF_FFFF_FFFF_FFFF
        acc = rw(events(drain(pipe)))
        pipe.close()
    finally:
        t.close()
    base = UNCLAIMED + 0x10000
    assert acc == [("R", 4, base, 0xFFFFFFFF), ("W", 4, base + 4, 0x12345678),
                   ("R", 4, base + 4, 0xFFFFFFFF), ("R", 1, base + 8, 0xFF)]


ORACLE_UNCLAIMED = Path(__file__).resolve().parent / "data/oracle/io_unclaimed"


def test_unclaimed_trace_has_the_real_kernels_records(cache) -> None:
    # The same module ran on the real kernel (tests/data/oracle/io_unclaimed):
    # the same records in the same order; the memory reads differ only in
    # value (QEMU answers unassigned memory with zeros, hardware and this
    # machine with all ones), the port reads are all ones on both.
    t = Traced(cache)
    try:
        t.enable()
        pipe = t.open_pipe()
        seq = t.last_seq()
        t.machine.insmod(str(DRIVERS / "io_unclaimed.c"))
        ours = [e for e in events(drain(pipe)) if e.kind in ("MAP", "R", "W", "UNMAP")]
        log = t.dmesg(seq)
        pipe.close()
    finally:
        t.close()
    theirs = [e for e in events((ORACLE_UNCLAIMED / "dump.txt").read_text())
              if e.kind in ("MAP", "R", "W", "UNMAP")]
    assert [e.kind for e in ours] == [e.kind for e in theirs]
    ones = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF}
    for a, b in zip(ours, theirs):
        if a.kind in ("R", "W"):
            assert (a.width, a.phys) == (b.width, b.phys)
            assert a.value == (ones[b.width] if a.kind == "R" else b.value)
    real = (ORACLE_UNCLAIMED / "dmesg.txt").read_text().strip()
    assert real == "io_unclaimed: 0x0 0x0 0x0 port 0xff 0xffffffff"
    assert log[-1] == "io_unclaimed: 0xffffffff 0xffffffff 0xff port 0xff 0xffffffff"
