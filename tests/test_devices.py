"""Device models driven directly through their regions, as the CPU's accesses reach them.

Each access here is one instruction's worth: an offset and a width of 1, 2,
4 or 8 bytes. The C drivers in ftrace_mmio/drivers make the same accesses on
the emulated CPU; these tests pin down what the devices answer.
"""

from __future__ import annotations

import textwrap

import pytest

from ftrace_mmio.machine.devices import (BUILTIN_MODELS, AccessRecord, BarSpec, DeviceModel,
                                         MemoryRegion, ModelLoadError, RegisterRegion,
                                         available_models, create_model, load_model_file,
                                         model_class)
from ftrace_mmio.machine.devices.nvlike import ENGINES_PRESENT, NvLike, NvLikeRegs
from ftrace_mmio.machine.devices.testmmio import TestMmio, TestMmioRegs
from ftrace_mmio.machine.devices.uart16550 import Uart16550
from ftrace_mmio.machine.pci import PciBus
from ftrace_mmio.trace.clock import DET_STEP_NS, TimeBase

MiB = 1 << 20


# --- testmmio ----------------------------------------------------------------------------------


@pytest.fixture
def fb() -> MemoryRegion:
    return TestMmio().region(0)


@pytest.mark.parametrize("width", [1, 2, 4, 8])
@pytest.mark.parametrize("offset", [0, 0x3, 0xffd, 0x400100, 0x7ffff8])
def test_testmmio_reads_back_every_width(fb, width, offset):
    value = 0x8877665544332211 & ((1 << 8 * width) - 1)
    fb.write(offset, width, value)
    assert fb.read(offset, width) == value
    # Neighbouring bytes were not touched.
    if offset:
        assert fb.read(offset - 1, 1) == 0
    if offset + width < fb.size:
        assert fb.read(offset + width, 1) == 0


def test_testmmio_is_little_endian_bytes(fb):
    fb.write(0x10, 4, 0xdeadbeef)
    assert [fb.read(0x10 + i, 1) for i in range(4)] == [0xef, 0xbe, 0xad, 0xde]
    assert fb.read(0x12, 2) == 0xdead
    assert fb.read(0x0e, 8) == 0x0000deadbeef0000


def test_testmmio_is_sparse(fb):
    assert fb.size == 8 * MiB
    assert fb.read(0x123456, 4) == 0
    fb.write(0, 1, 1)
    fb.write(0x7fffff, 1, 2)
    fb.write(0x400ffe, 4, 3)        # spans two pages
    assert fb.store.resident == 4 * 4096


def test_testmmio_pattern_of_testmmiotrace(fb):
    """The module's write/read test, in Python: RAM-like BAR memory gives zero errors."""
    def v16(i): return (12 * i + 7) & 0xffff
    def v32(i): return (212371 * i + 13) & 0xffffffff
    for i in range(256):
        fb.write(i, 1, i)
    for i in range(1024, 5 * 1024, 2):
        fb.write(i, 2, v16(i))
    for i in range(5 * 1024, 16 * 1024, 4):
        fb.write(i, 4, v32(i))
    errors = [sum(fb.read(i, 1) != i for i in range(256)),
              sum(fb.read(i, 2) != v16(i) for i in range(1024, 5 * 1024, 2)),
              sum(fb.read(i, 4) != v32(i) for i in range(5 * 1024, 16 * 1024, 4))]
    assert errors == [0, 0, 0]
    assert v32(5120) == 0x40cf7c0d and v32(16380) == 0xcf57c9c1 and v16(1024) == 0x3007


def test_past_the_end_reads_all_ones(fb):
    assert fb.read(fb.size - 2, 4) == 0xffffffff
    fb.write(fb.size, 1, 5)
    assert list(fb.unknown) == [("R", fb.size - 2, 4, 0xffffffff), ("W", fb.size, 1, 5)]


def test_bad_width_is_refused(fb):
    with pytest.raises(ValueError, match="width 3"):
        fb.read(0, 3)
    with pytest.raises(ValueError, match="width 16"):
        fb.write(0, 16, 0)


def test_testmmio_display_registers():
    dev = TestMmio()
    mmio = dev.region(2)
    assert mmio.read(0x500, 2) == 0xb0c5
    mmio.write(0x500, 2, 0)
    assert mmio.read(0x500, 2) == 0xb0c5               # ro
    assert mmio.read(0x514, 2) == 128                  # 8 MiB in 64 KiB units
    mmio.write(0x502, 2, 1024)
    assert mmio.read(0x502, 2) == 1024
    assert TestMmioRegs.decode(0x508, 0x41, 2) == \
        "DISPI_ENABLE = 0x41 (ENABLED=1, GETCAPS=0, BANK_GRANULARITY_32K=0, LFB_ENABLED=1, NOCLEARMEM=0)"


def test_access_log_records_every_access_in_order():
    dev = TestMmio()
    log = dev.enable_access_log()
    dev.region(0).write(0x400100, 4, 0x1234)
    dev.region(0).read(0x400100, 4)
    dev.region(2).read(0x500, 2)
    assert log == [AccessRecord(0, "W", 0x400100, 4, 0x1234), AccessRecord(0, "R", 0x400100, 4, 0x1234),
                   AccessRecord(2, "R", 0x500, 2, 0xb0c5)]
    dev.region(0).peek(0, 4)                           # peeks are not accesses
    dev.disable_access_log()
    dev.region(0).read(0, 4)
    assert len(log) == 3


# --- nvlike ------------------------------------------------------------------------------------


@pytest.fixture
def nv() -> NvLike:
    dev = NvLike()
    dev.attach(TimeBase())
    return dev


def test_nvlike_identity(nv):
    bar0 = nv.region(0)
    assert bar0.read(0x0, 4) == 0x0e4000a1
    bar0.write(0x0, 4, 0)
    assert bar0.read(0x0, 4) == 0x0e4000a1
    assert bar0.read(0x2, 2) == 0x0e40
    assert NvLikeRegs.decode(0, 0x0e4000a1) == "PMC_BOOT_0 = 0xe4000a1 (STEPPING=0xa1, CHIPSET=GK104)"


def test_nvlike_engine_enable_keeps_present_engines(nv):
    bar0 = nv.region(0)
    assert bar0.read(0x200, 4) == 0
    bar0.write(0x200, 4, 0xffffffff)
    assert bar0.read(0x200, 4) == ENGINES_PRESENT
    assert ENGINES_PRESENT & (1 << 8) and ENGINES_PRESENT & (1 << 12) and not ENGINES_PRESENT & 1
    bar0.write(0x200, 4, 0x100)
    assert nv.regs.reg("PMC_ENABLE").PFIFO == 1 and nv.regs.reg("PMC_ENABLE").PGRAPH == 0


def read_timer(bar0) -> int:
    while True:
        hi = bar0.read(0x9410, 4)
        lo = bar0.read(0x9400, 4)
        if bar0.read(0x9410, 4) == hi:
            return hi << 32 | lo


def test_nvlike_timer_follows_the_machine_clock(nv):
    bar0 = nv.region(0)
    t0 = read_timer(bar0)
    nv.time_base.advance(250_000_000)
    t1 = read_timer(bar0)
    assert t1 - t0 >= 250_000_000


def test_nvlike_timer_is_exact_on_the_deterministic_clock():
    dev = NvLike()
    dev.attach(TimeBase(deterministic=True))
    bar0 = dev.region(0)
    # Every clock reading advances the virtual clock by DET_STEP_NS.
    assert bar0.read(0x9400, 4) == DET_STEP_NS
    assert bar0.read(0x9400, 4) == 2 * DET_STEP_NS
    dev.time_base.advance(10_000)
    assert bar0.read(0x9400, 4) == 3 * DET_STEP_NS + 10_000
    # Setting the counter: high half first, then the low half, as nouveau does.
    bar0.write(0x9410, 4, 0x12)
    bar0.write(0x9400, 4, 0x100)
    assert bar0.read(0x9410, 4) == 0x12
    assert bar0.read(0x9400, 4) == 0x100 + 2 * DET_STEP_NS


def test_nvlike_alarm_raises_a_w1c_interrupt(nv):
    bar0 = nv.region(0)
    bar0.write(0x9140, 4, 1)
    now = bar0.read(0x9400, 4)
    bar0.write(0x9420, 4, (now + 1_000_000) & 0xffffffff)
    assert bar0.read(0x9100, 4) == 0
    assert bar0.read(0x100, 4) == 0
    nv.time_base.advance(2_000_000)
    assert bar0.read(0x100, 4) == 1 << 20          # PMC_INTR_0.PTIMER
    assert bar0.read(0x9100, 4) == 1
    bar0.write(0x9100, 4, 0)                        # writing 0 clears nothing
    assert bar0.read(0x9100, 4) == 1
    bar0.write(0x9100, 4, 1)                        # writing 1 clears
    assert bar0.read(0x9100, 4) == 0
    assert bar0.read(0x100, 4) == 0
    nv.time_base.advance(2_000_000)                 # fired once, not again
    assert bar0.read(0x9100, 4) == 0


def test_nvlike_pramin_and_bar1_share_vram(nv):
    bar0, bar1 = nv.region(0), nv.region(1)
    bar0.write(0x1700, 4, 0x20)                     # window at VRAM 0x200000
    bar0.write(0x700000, 4, 0xdeadbeef)
    bar0.write(0x7ffffc, 2, 0x1234)
    assert bar0.read(0x700000, 4) == 0xdeadbeef
    assert bar1.read(0x200000, 4) == 0xdeadbeef
    assert bar1.read(0x2ffffc, 2) == 0x1234
    bar1.write(0x210000, 8, 0x0102030405060708)
    assert bar0.read(0x710000, 8) == 0x0102030405060708
    bar0.write(0x1700, 4, 0x21)                     # move the window by 64 KiB
    assert bar0.read(0x700000, 8) == 0x0102030405060708
    bar0.write(0x1700, 4, 0x02000020)               # system memory target: not modelled
    assert bar0.read(0x700000, 4) == 0


def test_nvlike_unknown_registers(nv):
    bar0 = nv.region(0)
    assert bar0.read(0x13d4, 1) == 0
    bar0.write(0x610000, 4, 5)
    assert bar0.read(0x610000, 4) == 0
    assert [(a.kind, a.offset, a.width) for a in bar0.unknown] == \
        [("R", 0x13d4, 1), ("W", 0x610000, 4), ("R", 0x610000, 4)]


def test_nvlike_decodes_the_handmade_trace_registers():
    assert NvLikeRegs.decode(0x9400, 0x12345678) == "PTIMER_TIME_0 = 0x12345678"
    text = NvLikeRegs.decode(0x200, 0xffffffff)
    assert text.startswith("PMC_ENABLE = 0xffffffff (UNK0=1, PPPP=1, PXBAR=1,")
    assert text.endswith("PDISPLAY=1, UNK31=1, unknown=0x3c84e00)")
    assert NvLikeRegs.decode(0x1700, 0x20) == "PBUS_BAR0_WINDOW = 0x20 (OFFSET=0x20, TARGET=VRAM)"
    assert NvLikeRegs.label(0x700000) == "PRAMIN"
    assert NvLikeRegs.label(0x13d4) is None


def test_nvlike_bars():
    assert [(b.index, b.size, b.kind, b.prefetchable) for b in NvLike.bars] == [
        (0, 16 * MiB, "mem32", False), (1, 128 * MiB, "mem64", True),
        (3, 32 * MiB, "mem64", True), (5, 128, "io", False)]
    assert NvLike.rom_size == 512 * 1024


def test_unattached_timer_says_so():
    with pytest.raises(RuntimeError, match="not attached to a machine clock"):
        NvLike().region(0).read(0x9400, 4)


# --- uart16550 ---------------------------------------------------------------------------------

RBR = THR = DLL = 0
IER = DLM = 1
IIR = FCR = 2
LCR, MCR, LSR, MSR, SCR = 3, 4, 5, 6, 7
EVT_STATUS, EVT_MASK, FIFO_LEVEL, TX_COUNT, EXT_ID = 0x40, 0x44, 0x48, 0x4c, 0x50


class Port:
    """Byte-wide register access helpers over the UART's region."""

    def __init__(self) -> None:
        self.dev = Uart16550()
        self.bar = self.dev.region(0)

    def out(self, reg: int, value: int, width: int = 1) -> None:
        self.bar.write(reg, width, value)

    def inb(self, reg: int, width: int = 1) -> int:
        return self.bar.read(reg, width)

    def setup(self, loop: bool = True) -> None:
        self.out(LCR, 0x80)
        self.out(DLL, 1)
        self.out(DLM, 0)
        self.out(LCR, 0x03)
        self.out(FCR, 0x07)
        self.out(MCR, 0x10 if loop else 0x0b)


@pytest.fixture
def port() -> Port:
    return Port()


def test_uart_power_on_state(port):
    assert [port.inb(r) for r in range(8)] == [0, 0, 0x01, 0, 0, 0x60, 0xb0, 0]
    assert port.inb(EXT_ID, 4) == 0x16550a01


def test_uart_scratch_and_divisor_latch(port):
    port.out(SCR, 0x5a)
    assert port.inb(SCR) == 0x5a
    port.out(IER, 0x05)
    port.out(LCR, 0x80)                             # DLAB: offsets 0/1 are the divisor
    port.out(DLL, 0x0c)
    port.out(DLM, 0x00)
    assert (port.inb(DLL), port.inb(DLM)) == (0x0c, 0)
    port.out(LCR, 0x03)
    assert port.inb(IER) == 0x05                    # IER was not overwritten by DLM
    assert (port.dev.divisor, port.dev.baud) == (12, 9600)


def test_uart_lsr_moves_the_transmitter_one_character_per_read(port):
    port.setup()
    for ch in b"abc":
        port.out(THR, ch)
    # a in the shift register, b c in the FIFO. Each read reports, then one character
    # goes out (and, looped back, comes in): nothing yet; a in; b in, THR empty; all sent.
    assert [port.inb(LSR) for _ in range(4)] == [0x00, 0x01, 0x21, 0x61]
    assert port.inb(FIFO_LEVEL, 4) == 3
    assert bytes(port.inb(RBR) for _ in range(3)) == b"abc"
    assert port.inb(LSR) == 0x60
    assert port.inb(RBR) == 0                        # empty FIFO reads 0


def test_uart_one_access_is_one_side_effect(port):
    """A 32-bit read over RBR..LCR pops one received byte, not four."""
    port.setup()
    port.dev.receive(b"xyz")
    value = port.inb(RBR, 4)
    assert value & 0xff == ord("x")
    assert port.inb(FIFO_LEVEL, 4) & 0xff == 2


def test_uart_overrun_bit_is_read_to_clear(port):
    port.setup()
    port.dev.receive(bytes(range(17)))              # one more than the FIFO holds
    assert port.inb(LSR) == 0x63                     # DR | OE | THRE | TEMT
    assert port.inb(LSR) == 0x61                     # OE cleared by the read
    assert port.inb(FIFO_LEVEL, 4) & 0xff == 16


def test_uart_overrun_raised_during_an_lsr_read_survives_it(port):
    port.setup()
    port.dev.receive(bytes(16))
    port.out(THR, 1)                                 # goes out (back to RX) on the next LSR read
    assert port.inb(LSR) & 0x02 == 0                 # this read caused the overrun...
    assert port.inb(LSR) & 0x02 == 0x02              # ...the next one reports it
    assert port.inb(LSR) & 0x02 == 0


def test_uart_fifo_disabled_holds_one_byte(port):
    port.out(MCR, 0x10)
    port.dev.receive(b"ab")
    assert port.inb(LSR) == 0x63
    assert port.inb(RBR) == ord("a")


def test_uart_msr_delta_bits_clear_on_read(port):
    port.setup()                                     # entering loopback drops CTS, DSR, DCD
    assert port.inb(MSR) == 0x0b
    assert port.inb(MSR) == 0x00
    port.out(MCR, 0x10 | 0x0f)                       # DTR RTS OUT1 OUT2 up: all inputs rise
    assert port.inb(MSR) == 0xfb
    port.out(MCR, 0x10 | 0x0b)                       # OUT1 (RI) falls: trailing edge
    assert port.inb(MSR) == 0xb4
    assert port.inb(MSR) == 0xb0


def test_uart_iir_thr_empty_clears_when_read(port):
    port.setup()
    port.out(IER, 0x02)
    assert port.inb(IIR) == 0xc2
    assert port.inb(IIR) == 0xc1
    port.dev.receive(b"!")
    port.out(IER, 0x01)
    assert port.inb(IIR) == 0xc4                     # received data available
    assert port.inb(IIR) == 0xc4                     # stays until the byte is read
    port.inb(RBR)
    assert port.inb(IIR) == 0xc1


def test_uart_event_block_w1c_and_rc(port):
    port.setup()
    port.out(EVT_STATUS, 0xffffffff, 4)
    port.out(THR, ord("q"))
    port.inb(LSR)
    assert port.inb(EVT_STATUS, 4) == 0x03           # RX (looped back) and TX_EMPTY
    port.out(EVT_STATUS, 0x01, 4)
    assert port.inb(EVT_STATUS, 4) == 0x02
    port.out(EVT_STATUS, 0x02, 4)
    assert port.inb(EVT_STATUS, 4) == 0
    assert port.inb(TX_COUNT, 4) == 1
    assert port.inb(TX_COUNT, 4) == 0


def test_uart_irq_line(port):
    port.setup()
    port.out(EVT_STATUS, 0xffffffff, 4)
    assert not port.dev.irq_asserted
    port.out(EVT_MASK, 0x01, 4)
    port.dev.receive(b"a")
    assert port.dev.irq_asserted
    port.out(EVT_STATUS, 0x01, 4)
    assert not port.dev.irq_asserted


def test_uart_output_reaches_the_wire_outside_loopback(port):
    port.setup(loop=False)
    for ch in b"hi\n":
        port.out(THR, ch)
    while not port.inb(LSR) & 0x40:
        pass
    assert port.dev.take_output() == b"hi\n"
    assert port.dev.take_output() == b""


def test_uart_fcr_clears_fifos_and_is_write_only(port):
    port.setup()
    port.dev.receive(b"abc")
    port.out(FCR, 0x03)
    assert port.inb(LSR) & 0x01 == 0
    assert port.inb(IIR) & 0xc0 == 0xc0              # reading offset 2 gives IIR, not FCR


def test_uart_driver_sequence():
    """What drivers/uart16550.c does, step by step, and what it should print."""
    p = Port()
    p.setup()
    assert p.inb(MSR) == 0x0b and p.inb(MSR) == 0
    p.out(EVT_STATUS, 0xffffffff, 4)
    for ch in b"hello, mmio":
        p.out(THR, ch)
    polls = 0
    while not p.inb(LSR) & 0x40:
        polls += 1
    got = bytearray()
    while p.inb(LSR) & 0x01:
        got.append(p.inb(RBR))
    assert (polls, bytes(got)) == (11, b"hello, mmio")
    assert (p.inb(TX_COUNT, 4), p.inb(TX_COUNT, 4)) == (11, 0)
    seen = 0
    for i in range(17):
        p.out(THR, ord("A") + i)
    while True:
        lsr = p.inb(LSR)
        seen |= lsr
        if lsr & 0x40:
            break
    assert seen & 0x02 and not p.inb(LSR) & 0x02
    assert p.inb(EVT_STATUS, 4) == 0x17              # RX, TX_EMPTY, LINE, OVERRUN


def test_uart_reset(port):
    port.setup()
    port.dev.receive(b"abc")
    port.dev.reset()
    assert port.inb(LSR) == 0x60 and port.inb(MCR) == 0


# --- the registry and user models --------------------------------------------------------------


def test_builtin_models():
    models = available_models()
    assert models == sorted(models)
    assert {"edu", "nvlike", "testmmio", "uart16550", "pvpanic"} <= set(models)
    assert model_class("nvlike") is NvLike
    for cls in BUILTIN_MODELS.values():
        cls.validate()
        assert cls.description
    with pytest.raises(TypeError):
        BUILTIN_MODELS["x"] = NvLike  # type: ignore[index]
    with pytest.raises(ModelLoadError, match="unknown device model 'gpu'.*edu, .*nvlike, .*testmmio, uart16550"):
        model_class("gpu")


USER_MODEL = '''
from ftrace_mmio.machine.devices.base import BarSpec, DeviceModel, RegisterRegion
from ftrace_mmio.machine.regmap import RegMap, Register32, RO, W1C

class R_STATUS(Register32):
    BUSY = 0
    DONE = 1

class WidgetRegs(RegMap):
    ID = 0x00, Register32, RO, 0x57494447
    COUNT = 0x04, Register32
    STATUS = 0x08, R_STATUS, W1C

class Widget(DeviceModel):
    name = "widget"
    vendor, device, class_code = 0x1af4, 0x10ff, 0x088000
    bars = (BarSpec(0, 0x1000),)

    def __init__(self):
        super().__init__()
        self.regs = self.set_region(0, RegisterRegion(WidgetRegs, 0x1000)).regs
        self.regs.on_write("COUNT", self.kick)

    def kick(self, index, value, old):
        self.regs.set_bits("STATUS", R_STATUS.DONE.mask)
'''


def test_load_a_user_model_and_plug_it_in(tmp_path):
    path = tmp_path / "widget.py"
    path.write_text(USER_MODEL)
    cls = load_model_file(path)
    assert cls.name == "widget" and model_class(str(path)) .name == "widget"
    bus = PciBus(TimeBase())
    dev = bus.add(create_model(str(path)))
    (start, size, region), = dev.io_regions()
    assert (start, size) == (0xc0000000, 0x1000)
    assert region.read(0, 4) == 0x57494447
    region.write(4, 4, 1)
    assert region.read(8, 4) == 2
    region.write(8, 4, 2)
    assert region.read(8, 4) == 0


@pytest.mark.parametrize("source, message", [
    ("x = 1\n", "no DeviceModel subclass with a name"),
    ("import nonexistent_module_xyz\n", "ModuleNotFoundError"),
    ("def broken(:\n", "SyntaxError"),
    (USER_MODEL + "\nclass Other(Widget):\n    name = 'other'\n", "several models \\(Widget, Other\\)"),
    (USER_MODEL.replace("BarSpec(0, 0x1000)", "BarSpec(0, 0x1800)"), "not a power of two"),
    (USER_MODEL + "\nMODEL = R_STATUS\n", "MODEL is not a DeviceModel subclass"),
])
def test_bad_model_files_are_explained(tmp_path, source, message):
    path = tmp_path / "bad.py"
    path.write_text(source)
    with pytest.raises(ModelLoadError, match=f"device model file {path}: .*{message}"):
        load_model_file(path)


def test_model_file_choice_with_MODEL(tmp_path):
    path = tmp_path / "two.py"
    path.write_text(USER_MODEL + "\nclass Other(Widget):\n    name = 'other'\n\nMODEL = Other\n")
    assert load_model_file(path).name == "other"


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelLoadError, match="no such file"):
        load_model_file(tmp_path / "nope.py")


@pytest.mark.parametrize("bars, rom, message", [
    ((BarSpec(0, 0x1000, "mem64"), BarSpec(1, 0x1000)), 0, "BAR1 overlaps BAR0"),
    ((BarSpec(5, 0x1000, "mem64"),), 0, "outside BAR0..BAR5"),
    ((BarSpec(0, 8),), 0, "power of two >= 16"),
    ((BarSpec(0, 0x200, "io"),), 0, "at most 256 bytes"),
    ((BarSpec(0, 0x1000, "mem"),), 0, "kind 'mem'"),
    ((), 0x1000 - 1, "rom_size"),
])
def test_model_declarations_are_validated(bars, rom, message):
    cls = type("Bad", (DeviceModel,), {"name": "bad", "vendor": 0x1234, "bars": bars, "rom_size": rom})
    with pytest.raises(ValueError, match=message):
        cls.validate()


def test_model_identity_is_validated():
    with pytest.raises(ValueError, match="set a non-empty name"):
        DeviceModel.validate()
    cls = type("NoVendor", (DeviceModel,), {"name": "x", "vendor": 0xffff})
    with pytest.raises(ValueError, match="means 'no device'"):
        cls.validate()


def test_region_size_must_match_the_bar():
    dev = TestMmio()
    with pytest.raises(ValueError, match="BAR2 is 0x1000 bytes, region is 0x2000"):
        dev.set_region(2, RegisterRegion(TestMmioRegs, 0x2000))


def test_bars_without_a_region_are_memory():
    cls = type("Plain", (DeviceModel,), {"name": "plain", "vendor": 0x1234,
                                         "bars": (BarSpec(0, 0x1000), BarSpec(1, 0x100, "io"))})
    dev = cls()
    dev.region(0).write(8, 8, 0x1122334455667788)
    assert dev.region(0).read(12, 4) == 0x11223344
    assert sorted(dev.regions) == [0, 1]


def test_model_reset():
    dev = TestMmio()
    dev.region(0).write(0, 4, 7)
    dev.region(2).write(0x502, 2, 640)
    dev.reset()
    assert dev.region(0).read(0, 4) == 0 and dev.region(2).read(0x502, 2) == 0


def test_memory_region_host_side_load_and_dump():
    region = MemoryRegion(0x2000)
    region.load(0xffe, b"\x01\x02\x03\x04")
    assert region.dump(0xffe, 4) == b"\x01\x02\x03\x04"
    assert region.read(0xffe, 4) == 0x04030201
    with pytest.raises(ValueError, match="do not fit"):
        region.load(0x1fff, b"ab")


def test_user_model_file_doc_example_is_loadable(tmp_path):
    """The example in docs/devices.md is a working model file."""
    from pathlib import Path
    doc = (Path(__file__).parents[1] / "docs" / "devices.md").read_text()
    code = doc.split("```python\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "doc_example.py"
    path.write_text(textwrap.dedent(code))
    cls = load_model_file(path)
    dev = PciBus(TimeBase(deterministic=True)).add(cls())
    assert dev.model.name == cls.name
    region = dev.io_regions()[0].region
    assert region.read(0, 4) != 0xffffffff


# --- the bundled drivers, compiled by gcc and run on the emulated machine -----------------------


@pytest.fixture
def machine(tmp_path):
    from ftrace_mmio.machine.machine import Machine
    with Machine(time_base=TimeBase(deterministic=True), cache_dir=tmp_path / "cc") as m:
        yield m


def driver_lines(machine, name: str) -> list[str]:
    return [r.text[len(name) + 2:] for r in machine.dmesg() if r.text.startswith(name + ": ")]


def test_testmmiotrace_driver_on_the_machine(machine):
    from collections import Counter
    markers: list[str] = []
    machine.on_trace_printk = markers.append
    log = machine.pci_bus.get("00:03.0").model.enable_access_log()
    machine.insmod("testmmiotrace", ["mmio_address=0xfd000000"])
    assert driver_lines(machine, "testmmiotrace") == [
        "WARNING: mapping 8192 kB @ 0xfd000000 in PCI address space, and writing 16 kB of rubbish in there.",
        "write test.", "read test.", "read far test.", "All done."]
    assert markers[0].startswith("ioremap returned ") and markers[1:] == [
        "Write test.\n", "Read test.\n", "Read errors: 8-bit 0, 16-bit 0, 32-bit 0.\n", "Read far test.\n"]
    # The device saw exactly the module's accesses, each at its own width.
    assert Counter((a.kind, a.width) for a in log) == {
        ("W", 1): 256, ("W", 2): 2048, ("W", 4): 2816, ("R", 1): 256, ("R", 2): 2048, ("R", 4): 2817}
    assert log[256] == AccessRecord(0, "W", 0x400, 2, 0x3007)
    assert log[-1] == AccessRecord(0, "R", 0x400100, 4, 0)


def test_testmmiotrace_driver_needs_an_address(machine):
    import errno
    with pytest.raises(OSError) as info:
        machine.insmod("testmmiotrace")
    assert info.value.errno == errno.ENXIO
    assert driver_lines(machine, "testmmiotrace") == [
        "you have to use the module argument mmio_address.",
        "DO NOT LOAD THIS MODULE UNLESS YOU REALLY KNOW WHAT YOU ARE DOING!"]


def test_nvlike_driver_on_the_machine(machine):
    machine.insmod("nvlike")
    lines = driver_lines(machine, "nvlike")
    assert lines[:3] == ["BAR0 f6000000, 16 MiB", "NVIDIA GK104 (0e4000a1), chipset 0e4 stepping a1",
                         f"PMC_ENABLE reads {ENGINES_PRESENT:08x} after enabling all engines"]
    advanced = [int(line.split()[2]) for line in lines[3:6]]
    assert all(line.startswith("PTIMER advanced ") for line in lines[3:6])
    assert all(ns >= 10_000 for ns in advanced)
    assert lines[6:] == [
        "alarm: PMC_INTR_0 00100000 (PTIMER pending), PTIMER_INTR_0 00000001",
        "alarm acknowledged: PTIMER_INTR_0 00000000",
        "PRAMIN: wrote deadbeef at VRAM 200000, read back deadbeef",
        "BAR1: VRAM 200000 reads deadbeef",
        "temperature 46 C"]
    assert machine.pci_bus.get("00:02.0").model.region(1).read(0x200000, 4) == 0xdeadbeef
    machine.rmmod("nvlike")
    assert driver_lines(machine, "nvlike")[-1] == "unloaded"


def test_uart16550_driver_on_the_machine(machine):
    machine.insmod("uart16550")
    assert driver_lines(machine, "uart16550") == [
        "16550A at BAR0, scratch register reads 5a",
        "MSR 0b, then 00 (delta bits clear on read)",
        'loopback: sent 11 bytes, 11 LSR polls, received 11: "hello, mmio"',
        "TX_COUNT 11, then 0",
        "overrun: LSR showed OE 1 while draining, OE 0 on the next read, RX level 16",
        "events 00000017, after writing them back 00000000",
        "IIR c2 (THR empty), then c1"]
    uart = machine.pci_bus.get("00:04.0").model
    assert uart.take_output() == b"ready\r\n"
    machine.rmmod("uart16550")
    assert uart.regs.get("MCR") == 0
