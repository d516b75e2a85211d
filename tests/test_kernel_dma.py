"""DMA: the kernel's DMA mapping API and the machine's DMA path, end to end.

A real C driver (tests/drivers/dma_test.c) maps memory with the DMA API and
programs a DMA engine model (tests/dma_model.py) that copies through its
device port; the tests look at guest RAM, the model's buffer and dmesg.
Each test gets a fresh machine, so the fault rate limit and the once-only
warnings start clean.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ftrace_mmio.machine.machine import Machine
from ftrace_mmio.machine.mm import DIRECT_MAP
from ftrace_mmio.machine.pci import default_bus
from ftrace_mmio.trace.clock import TimeBase

from machine_util import driver, last_seq, new_lines

MODEL = str(Path(__file__).resolve().parent / "dma_model.py")
MOD = "dma_test"
BIDIR, TO_DEV, FROM_DEV = 0, 1, 2
ERR = (1 << 64) - 1
SLOT = "00:01.0"        # the first free slot of the default machine


@pytest.fixture
def make(tmp_path_factory):
    machines: list[Machine] = []
    cache = tmp_path_factory.getbasetemp() / "modcache"

    def build(*params: str, ram_mb: int = 128) -> Machine:
        tb = TimeBase()
        m = Machine(default_bus(tb, [MODEL]), tb, ram_mb=ram_mb, cache_dir=cache)
        machines.append(m)
        m.insmod(driver(MOD), list(params))
        return m

    yield build
    for m in machines:
        m.close()


def model(m: Machine):
    return next(d.model for d in m.pci_bus.devices if d.model.name == "dmaeng")


def pdev(m: Machine):
    return next(d for d in m.pci_bus.devices if d.model.name == "dmaeng")


def call(m: Machine, fn: str, *args: int) -> int:
    return m.call(MOD, f"dmat_{fn}", *args)


def signed(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


def poke(m: Machine, va: int, data: bytes) -> None:
    m.run_on_cpu(m.mm.write, va, data)


def pattern(n: int, seed: int) -> bytes:
    return bytes((i * 7 + seed) & 0xFF for i in range(n))


def dmar_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("DMAR: ")]


def fault_line(write: bool, bus: int) -> str:
    kind, code, text = (("DMA Write", "0x05", "PTE Write access is not set") if write
                        else ("DMA Read", "0x06", "PTE Read access is not set"))
    return (f"DMAR: [{kind} NO_PASID] Request device [{SLOT}] fault addr {bus & ~0xFFF:#x} "
            f"[fault reason {code}] {text}")


# ---- what the driver mapped, the device reaches --------------------------------------------------

def test_coherent_buffer_both_ways(make):
    m = make()
    va = call(m, "alloc_coherent", 8192)
    bus = call(m, "last_handle")
    assert va and va == DIRECT_MAP + bus          # direct mapping: bus address = physical
    assert bus % 8192 == 0                         # aligned to its size's order
    assert bus + 8192 <= 1 << 32                   # below the default 32-bit coherent mask
    assert m.read_virt(va, 8192) == bytes(8192)    # zeroed
    seq = last_seq(m)
    out = pattern(1024, 1)
    poke(m, va, out)
    assert call(m, "xfer", bus, 0, 1024, 0) == 1                 # RAM -> device
    assert bytes(model(m).buffer[:1024]) == out
    back = pattern(512, 99)
    model(m).buffer[2048:2560] = back
    assert call(m, "xfer", bus + 4096, 2048, 512, 1) == 2        # device -> RAM
    assert m.read_virt(va + 4096, 512) == back
    assert dmar_lines(new_lines(m, seq)) == []
    call(m, "free_coherent", va, 8192, bus)
    assert m.dma.mappings(pdev(m)) == []


def test_map_single_with_sync(make):
    m = make()
    buf = call(m, "kmalloc", 512)
    out = pattern(512, 5)
    poke(m, buf, out)
    bus = call(m, "map_single", buf, 512, TO_DEV)
    assert signed(call(m, "mapping_error", bus)) == 0 and bus == buf - DIRECT_MAP
    call(m, "sync_for_device", bus, 512, TO_DEV)
    call(m, "xfer", bus, 100, 512, 0)
    assert bytes(model(m).buffer[100:612]) == out
    call(m, "unmap_single", bus, 512, TO_DEV)

    bus = call(m, "map_single", buf, 512, FROM_DEV)
    back = pattern(512, 77)
    model(m).buffer[:512] = back
    seq = last_seq(m)
    call(m, "xfer", bus, 0, 512, 1)
    call(m, "sync_for_cpu", bus, 512, FROM_DEV)
    assert m.read_virt(buf, 512) == back
    call(m, "unmap_single", bus, 512, FROM_DEV)
    assert new_lines(m, seq) == []


def test_map_page_and_sg(make):
    m = make()
    buf = call(m, "kmalloc", 3000)
    bus = call(m, "map_page", buf, 3000, FROM_DEV)
    assert bus == buf - DIRECT_MAP
    model(m).buffer[:3000] = pattern(3000, 3)
    call(m, "xfer", bus, 0, 3000, 1)
    assert m.read_virt(buf, 3000) == pattern(3000, 3)
    call(m, "unmap_page", bus, 3000, FROM_DEV)

    assert call(m, "map_sg", buf, 3000, 3, BIDIR) == 3
    segs = [(call(m, "sg_addr", i), call(m, "sg_len", i)) for i in range(3)]
    assert segs == [(buf - DIRECT_MAP + i * 1000, 1000) for i in range(3)]
    for i, (addr, n) in enumerate(segs):
        model(m).buffer[:n] = bytes([0x10 + i]) * n
        call(m, "xfer", addr, 0, n, 1)
    assert m.read_virt(buf, 3000) == b"\x10" * 1000 + b"\x11" * 1000 + b"\x12" * 1000
    call(m, "unmap_sg", BIDIR)
    assert m.dma.mappings(pdev(m)) == []


def test_chained_scatterlist(make):
    m = make()
    buf = call(m, "kmalloc", 3 * 512)
    poke(m, buf, bytes(3 * 512))
    assert call(m, "map_sg_chain", buf, 512, FROM_DEV) == 3
    addrs = [call(m, "sg_chain_addr", i) for i in range(3)]
    assert addrs == [buf - DIRECT_MAP + i * 512 for i in range(3)]
    model(m).buffer[:1536] = pattern(1536, 9)
    call(m, "xfer", addrs[0], 0, 1536, 1)      # one transfer across the three adjacent entries
    assert m.read_virt(buf, 1536) == pattern(1536, 9)
    call(m, "unmap_sg_chain", FROM_DEV)
    assert m.dma.mappings(pdev(m)) == []


def test_sg_mapping_fails_whole_when_one_entry_is_above_the_mask(make):
    m = make("mask_bits=28", ram_mb=512)
    assert signed(call(m, "map_sg", call(m, "kmalloc", 3000), 3000, 3, TO_DEV)) == -5
    assert m.dma.mappings(pdev(m)) == []
    low = call(m, "alloc_coherent", 4096)
    before = m.dma.mappings(pdev(m))
    assert call(m, "map_sg_pair", low, call(m, "kmalloc", 64), 64, TO_DEV) == 0
    assert m.dma.mappings(pdev(m)) == before        # the low entry was mapped, then undone


# ---- what it did not map, the device does not reach ---------------------------------------------------

def test_unmapped_memory_faults_and_stays_unchanged(make):
    m = make()
    buf = call(m, "kmalloc", 256)
    poke(m, buf, b"\x5a" * 256)
    model(m).buffer[:256] = b"\xee" * 256
    seq = last_seq(m)
    call(m, "xfer", buf - DIRECT_MAP, 0, 256, 1)
    assert m.read_virt(buf, 256) == b"\x5a" * 256
    assert dmar_lines(new_lines(m, seq)) == [fault_line(True, buf - DIRECT_MAP)]
    # A read of unmapped memory gets all ones, also with a fault line.
    seq = last_seq(m)
    call(m, "xfer", buf - DIRECT_MAP, 0, 16, 0)
    assert bytes(model(m).buffer[:16]) == b"\xff" * 16
    assert dmar_lines(new_lines(m, seq)) == [fault_line(False, buf - DIRECT_MAP)]
    assert [(f.write, f.reason) for f in m.dma.faults] == [(True, "unmapped"), (False, "unmapped")]


def test_direction_is_enforced(make):
    m = make()
    buf = call(m, "kmalloc", 128)
    poke(m, buf, b"\x33" * 128)
    model(m).buffer[:128] = b"\x44" * 128
    seq = last_seq(m)
    bus = call(m, "map_single", buf, 128, TO_DEV)
    call(m, "xfer", bus, 0, 128, 1)                      # device writes a to-device buffer
    assert m.read_virt(buf, 128) == b"\x33" * 128
    call(m, "unmap_single", bus, 128, TO_DEV)
    bus = call(m, "map_single", buf, 128, FROM_DEV)
    call(m, "xfer", bus, 0, 128, 0)                      # device reads a from-device buffer
    assert bytes(model(m).buffer[:128]) == b"\xff" * 128
    call(m, "unmap_single", bus, 128, FROM_DEV)
    assert dmar_lines(new_lines(m, seq)) == [fault_line(True, bus), fault_line(False, bus)]
    assert [f.reason for f in m.dma.faults] == ["read-only", "write-only"]


def test_running_off_the_end_of_a_mapping_writes_nothing(make):
    m = make()
    buf = call(m, "kmalloc", 256)
    poke(m, buf, bytes(256))
    bus = call(m, "map_single", buf, 100, FROM_DEV)
    model(m).buffer[:200] = b"\x77" * 200
    call(m, "xfer", bus, 0, 200, 1)
    assert m.read_virt(buf, 256) == bytes(256)
    assert m.dma.faults[-1].addr == bus + 100


def test_after_unmap_the_same_address_faults(make):
    m = make()
    buf = call(m, "kmalloc", 64)
    bus = call(m, "map_single", buf, 64, FROM_DEV)
    model(m).buffer[:64] = b"\x01" * 64
    call(m, "xfer", bus, 0, 64, 1)
    assert m.read_virt(buf, 64) == b"\x01" * 64
    call(m, "unmap_single", bus, 64, FROM_DEV)
    model(m).buffer[:64] = b"\x02" * 64
    seq = last_seq(m)
    call(m, "xfer", bus, 0, 64, 1)
    assert m.read_virt(buf, 64) == b"\x01" * 64
    assert dmar_lines(new_lines(m, seq)) == [fault_line(True, bus)]
    # A freed coherent buffer is gone for the device too.
    va = call(m, "alloc_coherent", 4096)
    cbus = call(m, "last_handle")
    call(m, "free_coherent", va, 4096, cbus)
    call(m, "xfer", cbus, 0, 64, 1)
    assert m.dma.faults[-1].addr == cbus and m.dma.faults[-1].reason == "unmapped"


def test_without_pci_set_master_dma_is_dropped(make):
    m = make("master=0")
    va = call(m, "alloc_coherent", 4096)
    bus = call(m, "last_handle")
    poke(m, va, b"\x66" * 64)
    model(m).buffer[:64] = b"\x99" * 64
    seq = last_seq(m)
    call(m, "xfer", bus, 0, 64, 1)
    assert m.read_virt(va, 64) == b"\x66" * 64
    call(m, "xfer", bus, 0, 64, 0)
    assert bytes(model(m).buffer[:64]) == b"\xff" * 64
    lines = new_lines(m, seq)
    assert lines == [
        f"pci 0000:{SLOT}: DMA write of 64 bytes at {bus:#x} dropped: bus mastering is off "
        "(PCI_COMMAND_MASTER clear; pci_set_master not called)",
        f"pci 0000:{SLOT}: DMA read of 64 bytes at {bus:#x} dropped: bus mastering is off "
        "(PCI_COMMAND_MASTER clear; pci_set_master not called)",
    ]


def test_fault_lines_are_rate_limited_like_the_kernel(make):
    m = make()
    buf = call(m, "kmalloc", 64)
    seq = last_seq(m)
    for _ in range(13):
        call(m, "xfer", buf - DIRECT_MAP, 0, 4, 1)
    assert len(dmar_lines(new_lines(m, seq))) == 10
    assert len(m.dma.faults) == 13
    m.time_base.advance(5_000_000_000)
    seq = last_seq(m)
    call(m, "xfer", buf - DIRECT_MAP, 0, 4, 1)
    assert new_lines(m, seq) == ["dmar_fault: 3 callbacks suppressed", fault_line(True, buf - DIRECT_MAP)]


# ---- masks ---------------------------------------------------------------------------------------------

def test_mask_refuses_buffers_above_it(make):
    # 512 MiB: kmalloc's heap is the upper half, 256..512 MiB, above 28 bits.
    m = make("mask_bits=28", ram_mb=512)
    assert call(m, "get_mask") == (1 << 28) - 1
    buf = call(m, "kmalloc", 256)
    assert buf - DIRECT_MAP >= 1 << 28
    seq = last_seq(m)
    bus = call(m, "map_single", buf, 256, TO_DEV)
    assert bus == ERR and signed(call(m, "mapping_error", bus)) == -12
    lines = new_lines(m, seq)
    assert lines[0] == "------------[ cut here ]------------"
    assert lines[1] == (f"dma_test 0000:{SLOT}: DMA addr {buf - DIRECT_MAP:#018x}+256 overflow "
                        "(mask fffffff, bus limit 0).")
    assert lines[2].startswith("WARNING: CPU: 0 PID: 1 at kernel/dma/direct.h:")
    assert m.dma.mappings(pdev(m)) == []
    # Coherent memory comes from below the mask, and works.
    va = call(m, "alloc_coherent", 4096)
    cbus = call(m, "last_handle")
    assert va and cbus + 4096 <= 1 << 28
    model(m).buffer[:16] = b"\xab" * 16
    call(m, "xfer", cbus, 0, 16, 1)
    assert m.read_virt(va, 16) == b"\xab" * 16
    # The kernel takes no mask below 24 bits (x86's ZONE_DMA).
    assert signed(call(m, "set_mask", 20)) == -5
    assert call(m, "get_mask") == (1 << 28) - 1
    assert signed(call(m, "set_mask", 64)) == 0


def test_stack_memory_cannot_be_mapped(make):
    m = make()
    seq = last_seq(m)
    assert signed(call(m, "map_stack")) == -12
    assert any("is not in the direct map" in line for line in new_lines(m, seq))


def test_unmapping_what_was_not_mapped_is_reported(make):
    m = make()
    seq = last_seq(m)
    call(m, "unmap_single", 0x123000, 64, TO_DEV)
    assert new_lines(m, seq) == [
        f"DMA-API: dma_test 0000:{SLOT}: device driver tries to free DMA memory it has not allocated "
        "[device address=0x0000000000123000] [size=64 bytes]"]


# ---- managed buffers and pools -------------------------------------------------------------------------

def test_dmam_buffers_are_freed_at_rmmod(make):
    m = make()
    va = call(m, "dmam_alloc", 4096)
    bus = call(m, "last_handle")
    assert bus in m.mm.frames.used
    m.rmmod(MOD)
    assert bus not in m.mm.frames.used
    assert m.dma.mappings(pdev(m)) == []


def test_dmam_buffers_are_freed_when_probe_fails(make):
    m = make()
    m.rmmod(MOD)
    seq = last_seq(m)
    m.insmod(driver(MOD), ["fail_init=1"])        # the module loads; the probe fails
    text = "\n".join(new_lines(m, seq))
    found = re.search(r"dmam buffer at bus (0x[0-9a-f]+) \(ok\), failing probe", text)
    assert found, text
    bus = int(found.group(1), 16)
    assert bus not in m.mm.frames.used
    assert m.dma.mappings(pdev(m)) == []


def test_dmam_free_coherent(make):
    m = make()
    va = call(m, "dmam_alloc", 4096)
    bus = call(m, "last_handle")
    call(m, "dmam_free", va, 4096, bus)
    assert bus not in m.mm.frames.used
    m.rmmod(MOD)                                    # nothing left to release twice


def test_dma_pool(make):
    m = make()
    assert call(m, "pool_create", 96, 32, 256) == 0
    blocks = []
    for _ in range(20):
        va = call(m, "pool_alloc")
        bus = call(m, "last_handle")
        assert va and bus == va - DIRECT_MAP and bus % 32 == 0
        assert bus // 256 == (bus + 95) // 256              # never crosses the boundary
        blocks.append((va, bus))
    assert len({b for _, b in blocks}) == 20
    va, bus = blocks[7]
    model(m).buffer[:96] = b"\xc3" * 96
    call(m, "xfer", bus, 0, 96, 1)
    assert m.read_virt(va, 96) == b"\xc3" * 96
    call(m, "pool_free", va, bus)
    assert call(m, "pool_alloc") == va                     # reused, and zeroed (zalloc)
    assert m.read_virt(va, 96) == bytes(96)
    seq = last_seq(m)
    call(m, "pool_destroy")
    assert any("dma_pool_destroy dmat busy" in line for line in new_lines(m, seq))
    assert m.dma.mappings(pdev(m)) == []


def test_dmam_pool_is_destroyed_at_rmmod(make):
    m = make()
    assert call(m, "dmam_pool_create", 64) == 0
    va = call(m, "pool_alloc")
    bus = call(m, "last_handle")
    page = bus & ~0xFFF
    assert page in m.mm.frames.used and len(m.dma.mappings(pdev(m))) == 1
    m.rmmod(MOD)
    assert page not in m.mm.frames.used
    assert m.dma.mappings(pdev(m)) == []


def test_dmam_pool_destroy(make):
    m = make()
    assert call(m, "dmam_pool_create", 64) == 0
    call(m, "pool_alloc")
    seq = last_seq(m)
    call(m, "dmam_pool_destroy")
    assert m.dma.mappings(pdev(m)) == []
    lines = new_lines(m, seq)
    assert any("dma_pool_destroy dmat busy" in line for line in lines)
    assert not any(line.startswith("WARNING") for line in lines)
    m.rmmod(MOD)                                    # its record is gone: nothing destroyed twice


def test_leaks_are_reported_at_rmmod_and_stay_mapped(make):
    m = make()
    buf = call(m, "kmalloc", 64)
    bus = call(m, "map_single", buf, 64, TO_DEV)
    call(m, "alloc_coherent", 4096)
    seq = last_seq(m)
    m.rmmod(MOD)
    assert new_lines(m, seq) == [
        f"DMA-API: pci 0000:{SLOT}: device driver has pending DMA allocations while released "
        "from device [count=2]",
        f"One of leaked entries details: [device address={bus:#018x}] [size=64 bytes] "
        "[mapped with DMA_TO_DEVICE] [mapped as single]",
    ]
    assert len(m.dma.mappings(pdev(m))) == 2


def test_machine_file_with_the_model(tmp_path, tmp_path_factory):
    """The user's path: a machine file puts the model at a slot of its choice."""
    from ftrace_mmio.machine.config import load_machine_file

    (tmp_path / "dma.toml").write_text(
        '[machine]\nram_mb = 512\n\n[[device]]\nmodel = "%s"\nslot = "00:05.0"\n' % MODEL)
    config = load_machine_file(tmp_path / "dma.toml")
    with config.build_machine(TimeBase(), cache_dir=tmp_path_factory.getbasetemp() / "modcache") as m:
        m.insmod(driver(MOD), ["mask_bits=28"])
        va = call(m, "alloc_coherent", 4096)
        bus = call(m, "last_handle")
        assert bus + 4096 <= 1 << 28
        model(m).buffer[:8] = b"12345678"
        call(m, "xfer", bus, 0, 8, 1)
        assert m.read_virt(va, 8) == b"12345678"
        seq = last_seq(m)
        call(m, "xfer", bus + 4096, 0, 8, 1)
        assert dmar_lines(new_lines(m, seq)) == [
            f"DMAR: [DMA Write NO_PASID] Request device [00:05.0] fault addr {bus + 4096:#x} "
            "[fault reason 0x05] PTE Write access is not set"]
