"""Declarative registers: layouts, maps, decoding, and the access rules of RegisterFile.

Pure data and arithmetic: nothing here needs an emulator, which is the point
(the trace annotator uses the same maps).
"""

from __future__ import annotations

from enum import IntEnum

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftrace_mmio.machine.regmap import (RC, RO, RW, W1C, WO, Access, Field, Register8, Register16,
                                        Register32, Register64, RegisterFile, RegMap, Window, irange,
                                        reg)


class E_MODE(IntEnum):
    IDLE = 0
    RUN = 1
    HALT = 3


class R_CTRL(Register32):
    ENABLE = 0
    RESET = 1
    MODE = 5, 4, E_MODE
    LEVEL = 15, 8
    ERR = Field(31, access=W1C)
    DONE = Field(30, access=RC)


class R_STATUS(Register8):
    READY = 0
    CODE = 7, 4, {0x1: "OK", 0xf: "FAIL"}


class Base(RegMap):
    CTRL = 0x00, R_CTRL
    ID = 0x04, Register32, RO, 0xcafe0001


class Extra(RegMap):
    STATUS = 0x08, R_STATUS, RC, 0x11
    SECRET = 0x0c, Register32, WO
    IRQ = 0x10, Register32, W1C
    TABLE = irange(0x100, 4, 8), Register16
    RX = 0x20, Register8, RO
    TX = 0x20, Register8, WO
    WIDE = reg(0x28, Register64, reset=0x1122334455667788, doc="a 64-bit one")
    FIFO = Window(0x1000, 0x1000)


class Dev(Base, Extra):
    pass


# --- layouts -----------------------------------------------------------------------------------


def test_field_forms_become_descriptors():
    f = R_CTRL.MODE
    assert (f.name, f.msb, f.lsb, f.bits, f.mask) == ("MODE", 5, 4, 2, 0x30)
    assert R_CTRL.ENABLE.lsb == R_CTRL.ENABLE.msb == 0
    assert [x.name for x in R_CTRL.FIELDS] == ["ENABLE", "RESET", "MODE", "LEVEL", "ERR", "DONE"]
    assert R_CTRL.ERR.access is Access.W1C


def test_register_value_get_and_set():
    r = R_CTRL(0x3a31)
    assert r.ENABLE == 1 and r.RESET == 0 and r.LEVEL == 0x3a
    assert r.MODE is E_MODE.HALT
    r.LEVEL = 0x7f
    r.MODE = E_MODE.RUN
    assert int(r) == 0x7f11
    assert r == 0x7f11
    assert R_CTRL(ENABLE=1, LEVEL=2).value == 0x201
    with pytest.raises(ValueError, match="does not fit in 2 bits"):
        r.MODE = 4
    with pytest.raises(AttributeError, match="no field NOPE"):
        r.set(NOPE=1)


def test_register_value_is_masked_to_its_width():
    assert Register8(0x1ff).value == 0xff
    assert Register16(-1).value == 0xffff


def test_register_describe_and_repr():
    assert R_CTRL.describe(0x80000031) == \
        "ENABLE=1, RESET=0, MODE=HALT, LEVEL=0x0, ERR=1, DONE=0"
    # Bits no field covers are shown, not dropped.
    assert R_CTRL.describe(0x00010000).endswith(", unknown=0x10000")
    # Enum given as a mapping; unknown enum values fall back to hex.
    assert R_STATUS.describe(0x11) == "READY=1, CODE=OK"
    assert R_STATUS.describe(0x21) == "READY=1, CODE=0x2"
    assert repr(R_STATUS(0xf0)) == "R_STATUS(0xf0: READY=0, CODE=FAIL)"
    assert repr(Register32(5)) == "Register32(0x5)"


def test_register_inherits_fields():
    class R_MORE(R_CTRL):
        EXTRA = 20

    assert [f.name for f in R_MORE.FIELDS][-1] == "EXTRA"
    assert R_MORE(1 << 20).EXTRA == 1 and R_MORE(1).ENABLE == 1


def test_bad_layouts_are_refused():
    with pytest.raises(ValueError, match="outside a 1-byte register"):
        class R_BAD(Register8):
            HIGH = 8
    with pytest.raises(ValueError, match="msb >= lsb"):
        class R_BAD2(Register32):
            BACKWARDS = 0, 3
    with pytest.raises(TypeError, match="expected bit"):
        class R_BAD3(Register32):
            WHAT = "x"
    with pytest.raises(ValueError, match="unknown access 'rx'"):
        Field(0, access="rx")


# --- maps --------------------------------------------------------------------------------------


def test_map_collects_declarations_and_inheritance():
    assert [r.name for r in Dev.REGISTERS] == \
        ["CTRL", "ID", "STATUS", "SECRET", "IRQ", "RX", "TX", "WIDE", "TABLE"]
    assert [w.name for w in Dev.WINDOWS] == ["FIFO"]
    assert Dev.ID.access is RO and Dev.ID.reset == 0xcafe0001 and Dev.ID.width == 4
    assert Dev.get("WIDE").doc == "a 64-bit one" and Dev.WIDE.width == 8
    t = Dev.TABLE
    assert (t.offset, t.count, t.stride, t.end) == (0x100, 4, 8, 0x11a)
    with pytest.raises(KeyError, match="no register 'NOPE'"):
        Dev.get("NOPE")


def test_lookup_names_offsets():
    assert Dev.label(0x00) == "CTRL"
    assert Dev.label(0x02) == "CTRL+0x2"
    assert Dev.label(0x108) == "TABLE[1]"
    assert Dev.label(0x119) == "TABLE[3]+0x1"
    assert Dev.label(0x10a) is None          # between array elements
    assert Dev.label(0x14) is None
    assert Dev.label(0x1234) == "FIFO+0x234"
    hit = Dev.lookup(0x10c + 1 - 1)
    assert hit is None
    hit = Dev.lookup(0x111)
    assert (hit.reg.name, hit.index, hit.base, hit.rel) == ("TABLE", 2, 0x110, 1)


def test_lookup_prefers_the_register_the_direction_reaches():
    assert Dev.label(0x20, "R") == "RX"
    assert Dev.label(0x20, "W") == "TX"
    assert Dev.label(0x20) == "RX"           # no direction: first declared


def test_registers_inside_a_window_win():
    class M(RegMap):
        BLOCK = Window(0x0, 0x100)
        INNER = 0x40, Register32

    assert M.label(0x40) == "INNER"
    assert M.label(0x44) == "BLOCK+0x44"


def test_decode_text():
    assert Dev.decode(0x0, 0x80000031) == \
        "CTRL = 0x80000031 (ENABLE=1, RESET=0, MODE=HALT, LEVEL=0x0, ERR=1, DONE=0)"
    assert Dev.decode(0x4, 0xcafe0001) == "ID = 0xcafe0001"
    assert Dev.decode(0x1, 0x2a, width=1) == "CTRL+0x1 = 0x2a"
    # A narrower access to a register's start is named, but its fields are not guessed.
    assert Dev.decode(0x0, 0x31, width=1) == "CTRL = 0x31"
    assert Dev.decode(0x20, 0x41, kind="W") == "TX = 0x41"
    assert Dev.decode(0x1004, 7, width=4) == "FIFO+0x4 = 0x7"
    assert Dev.decode(0x500, 1) is None


def test_describe_table():
    lines = Dev.describe().splitlines()
    assert lines[0] == ("0x000000           CTRL                 32-bit rw  reset 0x0  "
                        "ENABLE[0], RESET[1], MODE[5:4], LEVEL[15:8], ERR[31] w1c, DONE[30] rc")
    assert "0x000100[4]+0x8    TABLE                16-bit rw  reset 0x0" in lines
    assert lines[-1] == "0x001000+0x1000    FIFO                 window"


def test_bad_maps_are_refused():
    with pytest.raises(ValueError, match="reset 0x100 does not fit 1 bytes"):
        class M1(RegMap):
            X = 0, Register8, RW, 0x100
    with pytest.raises(ValueError, match="stride 2 is less than the width 4"):
        class M2(RegMap):
            X = irange(0, 4, 2), Register32
    with pytest.raises(TypeError, match="expected \\(offset, layout"):
        class M3(RegMap):
            X = 0x10
    with pytest.raises(TypeError, match="not a Register class"):
        class M4(RegMap):
            X = 0x10, int


# --- register state ----------------------------------------------------------------------------


@pytest.fixture
def regs() -> RegisterFile:
    return RegisterFile(Dev)


def test_reset_values_and_rw(regs):
    assert regs.read(0x4, 4) == 0xcafe0001
    assert regs.read(0x28, 8) == 0x1122334455667788
    regs.write(0x0, 4, 0x00002a11)
    assert regs.read(0x0, 4) == 0x2a11
    assert regs.reg("CTRL").LEVEL == 0x2a


def test_ro_ignores_writes(regs):
    regs.write(0x4, 4, 0)
    assert regs.read(0x4, 4) == 0xcafe0001


def test_wo_is_kept_but_reads_zero(regs):
    regs.write(0xc, 4, 0x1234)
    assert regs.read(0xc, 4) == 0
    assert regs.get("SECRET") == 0x1234


def test_w1c_clears_only_the_ones_written(regs):
    regs.set("IRQ", 0b1011)
    regs.write(0x10, 4, 0b0010)
    assert regs.read(0x10, 4) == 0b1001
    regs.write(0x10, 4, 0)
    assert regs.read(0x10, 4) == 0b1001


def test_rc_clears_on_read(regs):
    assert regs.read(0x8, 1) == 0x11
    assert regs.read(0x8, 1) == 0


def test_field_access_overrides_within_a_register(regs):
    regs.set("CTRL", 0xc0000001)            # ERR (w1c) and DONE (rc) latched, ENABLE set
    regs.write(0x0, 4, 0x80000000)          # 1 to ERR clears it; ENABLE is rw and becomes 0
    assert regs.get("CTRL") == 0x40000000
    regs.write(0x0, 4, 0x40000000)          # DONE is rc: writes do not touch it
    assert regs.read(0x0, 4) == 0x40000000
    assert regs.read(0x0, 4) == 0           # ...reads clear it


def test_partial_accesses_touch_only_their_bytes(regs):
    regs.write(0x0, 4, 0x24332211)          # (bits 30 and 31 are rc and w1c: not stored)
    assert regs.read(0x1, 1) == 0x22
    assert regs.read(0x2, 2) == 0x2433
    regs.write(0x2, 1, 0xaa)
    assert regs.get("CTRL") == 0x24aa2211
    # w1c and rc only act on bits inside the accessed bytes.
    regs.set("IRQ", 0x0101)
    regs.write(0x10, 1, 0xff)
    assert regs.get("IRQ") == 0x0100
    regs.set("CTRL", 0x40000000)
    regs.read(0x0, 1)
    assert regs.get("CTRL") == 0x40000000
    regs.read(0x3, 1)
    assert regs.get("CTRL") == 0


def test_an_access_across_registers_reaches_each(regs):
    regs.write(0x0, 4, 0x11111111)
    assert regs.read(0x0, 8) == 0xcafe0001_11111111
    regs.write(0x0, 8, 0xffffffff_00000000)  # the RO half stays
    assert regs.read(0x0, 8) == 0xcafe0001_00000000


def test_unknown_offsets_read_zero_and_are_recorded(regs):
    assert regs.read(0x14, 4) == 0
    regs.write(0x18, 2, 0xbeef)
    assert regs.read(0x18, 2) == 0
    assert list(regs.unknown) == [("R", 0x14, 4, 0), ("W", 0x18, 2, 0xbeef), ("R", 0x18, 2, 0)]
    # Half known: the known part is served, the access is still recorded.
    regs.write(0x0, 4, 0x55)
    regs.unknown.clear()
    assert regs.read(0x0, 4) == 0x55
    assert not regs.unknown


def test_direction_shared_offset(regs):
    regs.set("RX", 0x41)
    regs.write(0x20, 1, 0x42)
    assert regs.get("TX") == 0x42
    assert regs.read(0x20, 1) == 0x41


def test_arrays(regs):
    regs.write(0x110, 2, 0xabcd)
    assert regs.get("TABLE", 2) == 0xabcd
    assert regs.read(0x111, 1) == 0xab
    with pytest.raises(IndexError, match=r"TABLE\[4\]"):
        regs.get("TABLE", 4)
    assert ("TABLE[2]", 0xabcd) in list(regs)


def test_hooks(regs):
    calls = []
    regs.on_read("STATUS", lambda index: 0x1f)
    regs.on_write("CTRL", lambda index, value, old: calls.append((index, value, old)))
    regs.set("STATUS", 0xff)
    assert regs.read(0x8, 1) == 0x1f         # the hook's value is what the CPU sees
    assert regs.get("STATUS") == 0xe0        # rc cleared the stored bits the read reported
    regs.write(0x0, 4, 0x1)
    regs.write(0x1, 1, 0x22)
    assert calls == [(None, 0x1, 0x0), (None, 0x2201, 0x1)]
    with pytest.raises(KeyError):
        regs.on_read("NOPE", lambda i: 0)


def test_peek_has_no_side_effects(regs):
    seen = []
    regs.on_read("STATUS", lambda index: seen.append(index) or 0x99)
    assert regs.peek(0x8, 1) == 0x11
    assert regs.peek(0x8, 1) == 0x11
    assert regs.peek(0x20, 1) == 0
    assert seen == [] and not regs.unknown


def test_windows_go_to_their_target(regs):
    class Target:
        def __init__(self):
            self.log = []

        def read(self, off, width):
            self.log.append(("R", off, width))
            return 0x77

        def peek(self, off, width):
            return 0x66

        def write(self, off, width, value):
            self.log.append(("W", off, width, value))

    t = Target()
    regs.map_window("FIFO", t)
    assert regs.read(0x1010, 4) == 0x77
    regs.write(0x1ffc, 4, 5)
    assert regs.peek(0x1000, 2) == 0x66
    assert t.log == [("R", 0x10, 4), ("W", 0xffc, 4, 5)]
    with pytest.raises(KeyError):
        regs.map_window("CTRL", t)


def test_reset_restores_power_on_values(regs):
    regs.write(0x0, 4, 0xffff)
    regs.read(0x8, 1)
    regs.reset()
    assert regs.get("CTRL") == 0 and regs.get("STATUS") == 0x11


class Flat(RegMap):
    A = 0x0, Register8
    B = 0x1, Register8
    C = 0x2, Register16
    D = 0x4, Register32
    E = 0x8, Register64
    F = 0x10, Register32
    G = 0x14, Register16
    H = 0x16, Register16


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.sampled_from([1, 2, 4, 8]),
                          st.integers(0, 24), st.integers(0, (1 << 64) - 1)), max_size=40))
def test_rw_registers_behave_like_memory_at_any_width(ops):
    """Any mix of widths and offsets over plain rw registers acts like a byte array."""
    regs = RegisterFile(Flat)
    mem = bytearray(24)
    for is_write, width, offset, value in ops:
        if offset + width > 24:
            continue
        value &= (1 << 8 * width) - 1
        if is_write:
            regs.write(offset, width, value)
            mem[offset:offset + width] = value.to_bytes(width, "little")
        else:
            assert regs.read(offset, width) == int.from_bytes(mem[offset:offset + width], "little")
