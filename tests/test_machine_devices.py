"""Device semantics through the CPU: a driver's instruction reaches the
device model once, at its own width (1/2/4/8), never split; string
instructions per element; page-spanning accesses whole; read side
effects happen once per read."""

from __future__ import annotations

import pytest

from ftrace_mmio.machine.devices.base import BarSpec, DeviceModel, Region
from ftrace_mmio.machine.pci import PciBus

from machine_util import driver, make_machine

BAR0 = 0xFB000000
STATUS, COUNTER, W1C, RO = 0x000, 0x010, 0x020, 0x028


class ProbeRegion(Region):
    """RAM-like, except: STATUS reads 0x5 once then 0 (read to clear);
    COUNTER counts its reads; W1C clears the bits written as 1; RO ignores
    writes.  Every access is logged exactly as delivered."""

    def __init__(self) -> None:
        super().__init__(0x2000, "probe")
        self.mem = bytearray(0x2000)
        self.accesses: list[tuple] = []
        self.status = 0x5
        self.counter = 0
        self.w1c = 0xFF
        self.peeks = 0

    def _get(self, off: int, width: int) -> int:
        return int.from_bytes(self.mem[off:off + width], "little")

    def _read(self, off: int, width: int) -> int:
        self.accesses.append(("R", off, width))
        if off == STATUS:
            value, self.status = self.status, 0
            return value
        if off == COUNTER:
            self.counter += 1
            return self.counter
        if off == W1C:
            return self.w1c
        if off == RO:
            return 0xC0DE
        return self._get(off, width)

    def _write(self, off: int, width: int, value: int) -> None:
        self.accesses.append(("W", off, width, value))
        if off == W1C:
            self.w1c &= ~value
        elif off != RO:
            self.mem[off:off + width] = value.to_bytes(width, "little")

    def _peek(self, off: int, width: int) -> int:
        self.peeks += 1
        return self._get(off, width)


class Probe(DeviceModel):
    name = "probe"
    vendor = 0x5150
    device = 0x0001
    class_code = 0xFF0000
    bars = (BarSpec(0, 0x2000, "mem32"),)

    def __init__(self) -> None:
        super().__init__()
        self.bar0 = self.set_region(0, ProbeRegion())


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    bus = PciBus()
    model = Probe()
    bus.add(model, "00:05.0", {0: BAR0}, irq=5)
    m = make_machine(tmp_path_factory, pci_bus=bus)
    m.insmod(driver("mmio_probe"))
    m.probe = model.bar0
    yield m
    m.close()


@pytest.fixture
def dev(machine):
    region = machine.probe
    region.accesses.clear()
    return region


def call(machine, fn, *args):
    return machine.call("mmio_probe", fn, *args)


@pytest.mark.parametrize("width, fn, value", [
    (1, "8", 0xA5), (2, "16", 0xBEEF), (4, "32", 0xDEADBEEF), (8, "64", 0x0123456789ABCDEF)])
def test_each_width_is_one_access(machine, dev, width, fn, value):
    call(machine, f"wr{fn}", 0x100, value)
    assert call(machine, f"rd{fn}", 0x100) == value
    assert dev.accesses == [("W", 0x100, width, value), ("R", 0x100, width)]


def test_ioread_iowrite_are_the_same_accesses(machine, dev):
    call(machine, "io_wr16", 0x200, 0x1234)
    assert call(machine, "io_rd32", 0x200) & 0xFFFF == 0x1234
    assert dev.accesses == [("W", 0x200, 2, 0x1234), ("R", 0x200, 4)]


def test_read_to_clear_and_counter_see_one_read_each(machine, dev):
    assert call(machine, "rd32", STATUS) == 0x5
    assert call(machine, "rd32", STATUS) == 0
    # An 8-byte read is one device read: unicorn's two 4-byte pieces come
    # from the stash, so the counter moves by one per readq.
    assert call(machine, "rd64", COUNTER) == 1
    assert call(machine, "rd64", COUNTER) == 2
    assert dev.accesses == [("R", STATUS, 4), ("R", STATUS, 4), ("R", COUNTER, 8), ("R", COUNTER, 8)]


def test_w1c_and_read_only(machine, dev):
    call(machine, "wr32", W1C, 0x0F)
    assert call(machine, "rd32", W1C) == 0xF0
    call(machine, "wr32", RO, 0xFFFF)
    assert call(machine, "rd32", RO) == 0xC0DE


def test_read_modify_write_instruction(machine, dev):
    call(machine, "wr32", 0x300, 0x100)
    call(machine, "or32", 0x300, 0x3)
    assert call(machine, "rd32", 0x300) == 0x103
    assert dev.accesses[1:3] == [("R", 0x300, 4), ("W", 0x300, 4, 0x103)]


@pytest.mark.parametrize("off, width, fn, value", [
    (0xFFE, 4, "32", 0x44332211),
    (0xFFD, 8, "64", 0x8877665544332211),
    (0xFFF, 2, "16", 0xBBAA),
])
def test_page_spanning_access_is_whole(machine, dev, off, width, fn, value):
    call(machine, f"wr{fn}", off, value)
    assert call(machine, f"rd{fn}", off) == value
    assert dev.accesses == [("W", off, width, value), ("R", off, width)]
    assert dev.mem[off:off + width] == value.to_bytes(width, "little")


def test_unaligned_store_inside_a_page_is_whole(machine, dev):
    call(machine, "wr32", 0x401, 0xA1B2C3D4)
    assert call(machine, "rd32", 0x401) == 0xA1B2C3D4
    assert dev.accesses == [("W", 0x401, 4, 0xA1B2C3D4), ("R", 0x401, 4)]


def test_split_reads_peek_neighbours_without_side_effects(machine, dev):
    dev.mem[0xFFC:0x1004] = bytes(range(1, 9))
    peeks = dev.peeks
    assert call(machine, "rd32", 0xFFE) == 0x06050403
    assert dev.accesses == [("R", 0xFFE, 4)]
    assert dev.peeks > peeks       # bytes 0xffc, 0xffd, 0x1002, 0x1003 came from peek


def test_same_instruction_storing_the_same_byte_twice_is_two_accesses(machine, dev):
    call(machine, "wr8", 0x500, 1)
    call(machine, "wr8", 0x500, 1)
    assert dev.accesses == [("W", 0x500, 1, 1), ("W", 0x500, 1, 1)]


def test_rep_stos_is_one_access_per_element(machine, dev):
    call(machine, "stosl", 0x600, 0x5A5A5A5A, 4)
    assert dev.accesses == [("W", 0x600 + 4 * i, 4, 0x5A5A5A5A) for i in range(4)]


def test_memset_io_is_rep_stosb(machine, dev):
    call(machine, "set_io", 0x700, 0xEE, 3)
    assert dev.accesses == [("W", 0x700 + i, 1, 0xEE) for i in range(3)]


def test_memcpy_toio_aligns_then_copies_dwords(machine, dev):
    call(machine, "to_io", 0x801, 12)
    # byte to reach 2-alignment, word to reach 4, two dwords, then the tail
    assert [(a[1], a[2]) for a in dev.accesses] == [
        (0x801, 1), (0x802, 2), (0x804, 4), (0x808, 4), (0x80C, 1)]
    assert bytes(dev.mem[0x801:0x80D]) == bytes(range(0x40, 0x4C))


def test_memcpy_fromio_reads_each_element_once(machine, dev):
    dev.mem[0x900:0x908] = bytes(range(10, 18))
    expect = 0
    for b in range(10, 18):
        expect = expect * 31 + b
    assert call(machine, "from_io", 0x900, 8) == expect
    assert dev.accesses == [("R", 0x900, 4), ("R", 0x904, 4)]


def test_kernel_memcpy_into_mmio_is_rep_movsb(machine, dev):
    call(machine, "to_io", 0xA00, 0)
    dev.accesses.clear()
    call(machine, "plain_memcpy", 0xA00, 3)
    assert dev.accesses == [("W", 0xA00, 1, 0x40), ("W", 0xA01, 1, 0x41), ("W", 0xA02, 1, 0x42)]


def test_observers_get_physical_address_value_and_rip(machine, dev):
    seen = []
    machine.iomem.observers.append(lambda *a: seen.append(a))
    try:
        call(machine, "wr32", 0x104, 0x11)
        call(machine, "rd16", 0x104)
    finally:
        machine.iomem.observers.clear()
    (k1, p1, w1, v1, rip1), (k2, p2, w2, v2, rip2) = seen
    assert (k1, p1, w1, v1) == ("W", BAR0 + 0x104, 4, 0x11)
    assert (k2, p2, w2, v2) == ("R", BAR0 + 0x104, 2, 0x11)
    assert machine.symbolize(rip1).startswith("wr32+")
    assert machine.symbolize(rip2).startswith("rd16+")


def test_device_model_error_is_an_oops_not_a_crash(machine, dev):
    # ProbeRegion has no width-3 access; make the region raise instead.
    def broken(off, width):
        raise RuntimeError("model bug")
    dev._read, saved = broken, dev._read
    try:
        with pytest.raises(OSError, match="device model failed"):
            call(machine, "rd32", 0x10)
    finally:
        dev._read = saved
    assert call(machine, "rd32", 0x100) is not None
