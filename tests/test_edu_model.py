"""The edu device model's register behaviour, at the model's own interface.

The machine is replaced by a small port that records interrupts, serves DMA
from a bytearray and holds device timers until the test runs them; the
full-system run (real driver, real interrupts and DMA) is tests/test_edu.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pytest

from ftrace_mmio.analysis.regmaps import maps_for_ids
from ftrace_mmio.machine.devices import create_model, model_class
from ftrace_mmio.machine.devices.edu import (DMA_BUFFER_ADDR, DMA_BUFFER_SIZE, EDU_ID, Edu, EduRegs,
                                             factorial32)

ID, LIVENESS, FACTORIAL, STATUS, IRQ_STATUS = 0x00, 0x04, 0x08, 0x20, 0x24
IRQ_RAISE, IRQ_ACK = 0x60, 0x64
DMA_SRC, DMA_DST, DMA_COUNT, DMA_CMD = 0x80, 0x88, 0x90, 0x98
START, TO_RAM, DMA_IRQ = 1, 2, 4


@dataclass
class Timer:
    due: int
    fn: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class FakePort:
    """What the machine gives a model, kept in lists (unit level only)."""

    ram: bytearray = field(default_factory=lambda: bytearray(1 << 16))
    msi: bool = False
    now: int = 0
    levels: list[bool] = field(default_factory=list)
    messages: list[int] = field(default_factory=list)
    timers: list[Timer] = field(default_factory=list)
    dma_log: list[tuple[str, int, int]] = field(default_factory=list)

    def set_irq(self, level: bool) -> None:
        self.levels.append(level)

    @property
    def line(self) -> bool:
        return bool(self.levels) and self.levels[-1]

    def msi_enabled(self) -> bool:
        return self.msi

    def msi_notify(self, vector: int) -> None:
        self.messages.append(vector)

    def dma_read(self, addr: int, size: int) -> bytes:
        self.dma_log.append(("read", addr, size))
        return bytes(self.ram[addr:addr + size])

    def dma_write(self, addr: int, data: bytes) -> None:
        self.dma_log.append(("write", addr, len(data)))
        self.ram[addr:addr + len(data)] = data

    def timer_after(self, delay_ns: int, fn: Callable[[], None]) -> Timer:
        t = Timer(self.now + delay_ns, fn)
        self.timers.append(t)
        return t

    def advance(self, ns: int) -> None:
        """Move time on, running the device timers that fall due, in order."""
        end = self.now + ns
        while True:
            due = sorted((t for t in self.timers if not t.cancelled and t.due <= end), key=lambda t: t.due)
            if not due:
                break
            t = due[0]
            self.timers.remove(t)
            self.now = t.due
            t.fn()
        self.now = end


@pytest.fixture
def edu() -> Edu:
    model = create_model("edu")
    model.port = FakePort()
    return model


def rd(edu: Edu, off: int, width: int = 4) -> int:
    return edu.region(0).read(off, width)


def wr(edu: Edu, off: int, value: int, width: int = 4) -> None:
    edu.region(0).write(off, width, value)


# ---- identity ------------------------------------------------------------------------------


def test_identity_is_qemus():
    cls = model_class("edu")
    assert cls is Edu
    cls.validate()
    assert (cls.vendor, cls.device, cls.class_code, cls.revision) == (0x1234, 0x11E8, 0x00FF00, 0x10)
    assert [(b.index, b.size, b.kind) for b in cls.bars] == [(0, 1 << 20, "mem32")]
    assert cls.interrupt_pin == 1 and cls.msi_vectors == 1


def test_identification_and_liveness(edu):
    assert rd(edu, ID) == EDU_ID == 0x010000ED
    wr(edu, ID, 0)
    assert rd(edu, ID) == EDU_ID
    assert rd(edu, LIVENESS) == 0
    wr(edu, LIVENESS, 0x12345678)
    assert rd(edu, LIVENESS) == 0xEDCBA987
    wr(edu, LIVENESS, 0)
    assert rd(edu, LIVENESS) == 0xFFFFFFFF


def test_access_rules(edu):
    # Below 0x80 only 32-bit accesses count; holes and write-only registers read all ones.
    assert rd(edu, ID, 1) == 0xFF
    assert rd(edu, ID, 2) == 0xFFFF
    assert rd(edu, ID, 8) == (1 << 64) - 1
    for off in (0x0C, 0x10, 0x28, IRQ_RAISE, IRQ_ACK, 0x84, 0xA0, 0x40000, 0xFFFFC):
        assert rd(edu, off) == 0xFFFFFFFF, hex(off)
    wr(edu, LIVENESS, 0x1, width=2)
    assert rd(edu, LIVENESS) == 0
    assert edu.region(0).unknown[-1].kind == "W"
    # From 0x80 on 32- and 64-bit; a 32-bit write replaces the whole 64-bit register.
    wr(edu, DMA_SRC, 0x1_2345_6789, width=8)
    assert rd(edu, DMA_SRC, 8) == 0x1_2345_6789
    assert rd(edu, DMA_SRC, 4) == 0x2345_6789
    wr(edu, DMA_SRC, 0xABCD)
    assert rd(edu, DMA_SRC, 8) == 0xABCD
    wr(edu, DMA_SRC, 0x55, width=1)
    assert rd(edu, DMA_SRC, 8) == 0xABCD
    assert rd(edu, DMA_SRC, 2) == 0xFFFF


# ---- factorial -----------------------------------------------------------------------------


@pytest.mark.parametrize("n, result", [(0, 1), (1, 1), (5, 120), (10, 3628800), (12, 479001600),
                                       (13, 6227020800 & 0xFFFFFFFF), (33, 0x80000000), (34, 0),
                                       (0xFFFFFFFF, 0)])
def test_factorial32(n, result):
    assert factorial32(n) == result


def test_factorial_polled(edu):
    port = edu.port
    wr(edu, FACTORIAL, 10)
    assert rd(edu, STATUS) == 0x01            # busy
    assert rd(edu, FACTORIAL) == 10           # the operand until done
    wr(edu, FACTORIAL, 3)                     # ignored while busy
    port.advance(Edu.FACTORIAL_NS - 1)
    assert rd(edu, STATUS) == 0x01
    port.advance(1)
    assert rd(edu, STATUS) == 0
    assert rd(edu, FACTORIAL) == 3628800
    assert port.levels == [] and port.messages == []   # no interrupt asked for


def test_factorial_interrupt_intx(edu):
    port = edu.port
    wr(edu, STATUS, 0x80)
    wr(edu, FACTORIAL, 12)
    assert rd(edu, STATUS) == 0x81
    assert not port.line
    port.advance(Edu.FACTORIAL_NS)
    assert rd(edu, FACTORIAL) == 479001600
    assert rd(edu, IRQ_STATUS) == 0x1
    assert port.line
    wr(edu, IRQ_ACK, 0x1)
    assert rd(edu, IRQ_STATUS) == 0
    assert port.levels == [True, False]


def test_status_write_touches_only_the_interrupt_bit(edu):
    wr(edu, STATUS, 0xFFFFFFFF)
    assert rd(edu, STATUS) == 0x80            # BUSY is the device's
    wr(edu, FACTORIAL, 4)
    wr(edu, STATUS, 0)
    assert rd(edu, STATUS) == 0x01            # still busy, interrupt off
    edu.port.advance(Edu.FACTORIAL_NS)
    assert rd(edu, STATUS) == 0 and edu.port.levels == []


# ---- interrupt raise / acknowledge ---------------------------------------------------------


def test_raise_and_acknowledge_intx(edu):
    port = edu.port
    wr(edu, IRQ_RAISE, 0x10000)
    assert rd(edu, IRQ_STATUS) == 0x10000 and port.line
    wr(edu, IRQ_RAISE, 0x2)
    assert rd(edu, IRQ_STATUS) == 0x10002
    wr(edu, IRQ_ACK, 0x10000)                 # something left: the line stays up
    assert rd(edu, IRQ_STATUS) == 0x2 and port.line
    wr(edu, IRQ_ACK, 0xFFFFFFFF)
    assert rd(edu, IRQ_STATUS) == 0 and not port.line
    wr(edu, IRQ_RAISE, 0)                     # nothing to raise
    assert not port.line and port.messages == []


def test_raise_with_msi(edu):
    port = edu.port
    port.msi = True
    wr(edu, IRQ_RAISE, 0x1000)
    wr(edu, IRQ_RAISE, 0x1)                   # every raise with status set sends a message
    assert port.messages == [0, 0]
    wr(edu, IRQ_ACK, 0x1001)
    assert port.levels == []                  # INTx is never touched under MSI
    assert rd(edu, IRQ_STATUS) == 0


# ---- DMA -----------------------------------------------------------------------------------


def program_dma(edu, src, dst, count, cmd, width=8):
    wr(edu, DMA_SRC, src, width)
    wr(edu, DMA_DST, dst, width)
    wr(edu, DMA_COUNT, count)
    wr(edu, DMA_CMD, cmd)


def test_dma_round_trip_with_interrupts(edu):
    port = edu.port
    pattern = bytes((i * 7 + 3) & 0xFF for i in range(1024))
    port.ram[0x1000:0x1400] = pattern
    program_dma(edu, 0x1000, DMA_BUFFER_ADDR + 0x100, 1024, START | DMA_IRQ)
    assert rd(edu, DMA_CMD) == START | DMA_IRQ
    port.advance(Edu.DMA_NS - 1)
    assert port.dma_log == [] and rd(edu, DMA_CMD) & START
    port.advance(1)
    assert port.dma_log == [("read", 0x1000, 1024)]
    assert bytes(edu.dma_buffer[0x100:0x500]) == pattern
    assert rd(edu, DMA_CMD) == DMA_IRQ          # START cleared, the rest kept
    assert rd(edu, IRQ_STATUS) == 0x100 and port.line
    wr(edu, IRQ_ACK, 0x100)
    assert not port.line

    program_dma(edu, DMA_BUFFER_ADDR + 0x100, 0x2000, 1024, START | TO_RAM | DMA_IRQ, width=4)
    port.advance(Edu.DMA_NS)
    assert port.dma_log[-1] == ("write", 0x2000, 1024)
    assert bytes(port.ram[0x2000:0x2400]) == pattern
    assert rd(edu, DMA_CMD) == TO_RAM | DMA_IRQ
    assert rd(edu, IRQ_STATUS) == 0x100


def test_dma_whole_buffer_as_documented(edu):
    port = edu.port
    port.ram[0:DMA_BUFFER_SIZE] = bytes(range(256)) * 16
    program_dma(edu, 0, DMA_BUFFER_ADDR, DMA_BUFFER_SIZE, START)
    port.advance(Edu.DMA_NS)
    assert bytes(edu.dma_buffer) == bytes(range(256)) * 16
    assert edu.guest_errors == []
    assert port.levels == []                  # no interrupt asked for


def test_dma_registers_fixed_while_running(edu):
    port = edu.port
    program_dma(edu, 0x1000, DMA_BUFFER_ADDR, 16, START | DMA_IRQ)
    wr(edu, DMA_SRC, 0x3000, 8)
    wr(edu, DMA_COUNT, 32)
    wr(edu, DMA_CMD, START | TO_RAM)
    assert (rd(edu, DMA_SRC, 8), rd(edu, DMA_COUNT), rd(edu, DMA_CMD)) == (0x1000, 16, START | DMA_IRQ)
    port.advance(Edu.DMA_NS)
    assert port.dma_log == [("read", 0x1000, 16)]
    assert len([t for t in port.timers if not t.cancelled]) == 0


def test_dma_command_without_start_is_ignored(edu):
    port = edu.port
    wr(edu, DMA_CMD, TO_RAM | DMA_IRQ)
    assert rd(edu, DMA_CMD) == 0 and port.timers == []


def test_dma_outside_the_buffer_moves_nothing(edu):
    port = edu.port
    port.ram[0:16] = b"x" * 16
    program_dma(edu, 0, DMA_BUFFER_ADDR + DMA_BUFFER_SIZE - 8, 16, START | DMA_IRQ)
    port.advance(Edu.DMA_NS)
    assert port.dma_log == []
    assert bytes(edu.dma_buffer) == bytes(DMA_BUFFER_SIZE)
    assert "outside the buffer" in edu.guest_errors[-1]
    assert rd(edu, DMA_CMD) == DMA_IRQ and rd(edu, IRQ_STATUS) == 0x100   # ended all the same


def test_dma_address_cut_to_28_bits(edu):
    port = edu.port
    port.ram[0x3000:0x3004] = b"edu!"
    program_dma(edu, 0x7_1000_3000, DMA_BUFFER_ADDR, 4, START)
    port.advance(Edu.DMA_NS)
    assert port.dma_log == [("read", 0x3000, 4)]
    assert bytes(edu.dma_buffer[:4]) == b"edu!"
    assert "clamping" in edu.guest_errors[-1]


def test_dma_interrupt_under_msi(edu):
    port = edu.port
    port.msi = True
    program_dma(edu, 0, DMA_BUFFER_ADDR, 8, START | DMA_IRQ)
    port.advance(Edu.DMA_NS)
    assert port.messages == [0] and port.levels == []


def test_reset_cancels_work_in_flight(edu):
    port = edu.port
    wr(edu, FACTORIAL, 5)
    program_dma(edu, 0, DMA_BUFFER_ADDR, 8, START)
    edu.dma_buffer[0] = 1
    edu.reset()
    assert all(t.cancelled for t in port.timers)
    port.advance(Edu.DMA_NS)
    assert port.dma_log == [] and edu.dma_buffer[0] == 0
    assert rd(edu, STATUS) == 0 and rd(edu, FACTORIAL) == 0 and rd(edu, DMA_CMD) == 0


def test_not_on_a_machine_says_so():
    edu = Edu()
    with pytest.raises(RuntimeError, match="not on a machine"):
        edu.region(0).write(FACTORIAL, 4, 3)


# ---- the register map, for annotate --------------------------------------------------------


def test_register_map_names_accesses():
    assert EduRegs.label(0x24) == "IRQ_STATUS"
    assert EduRegs.decode(0x20, 0x81, 4, "R") == "STATUS = 0x81 (BUSY=1, IRQ_FACT=1)"
    assert EduRegs.decode(0x98, 0x7, 8, "W") == "DMA_CMD = 0x7 (START=1, TO_RAM=1, IRQ=1)"
    maps = maps_for_ids(0x1234, 0x11E8)
    assert maps is not None and maps.name == "edu" and maps.regmap(0) is EduRegs
