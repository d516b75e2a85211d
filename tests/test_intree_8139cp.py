"""Linux 6.1's drivers/net/ethernet/realtek/8139cp.c, unchanged, with
drivers/net/mii.c built unchanged as its own module (as Debian ships it), on
the RTL8139C+ model: the probe traces exactly as the real kernel's
(tests/data/oracle/intree/8139cp/dump.txt: 510 accesses, mostly the 93C46
EEPROM bit-banged for the MAC address), prints the kernel's lines, registers
eth0, and the ethtool operations it stored reach the chip through the
driver's own code (EEPROM reads, mii.ko's MDIO through the PHY registers).

The sources come from Debian's linux-source-6.1 package, fetched once per
machine by ftrace_mmio.intree (never committed).  Without them these tests
skip on a developer's machine with the reason, and fail under CI=true.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path

import pytest

from ftrace_mmio import intree
from ftrace_mmio.kernel.module import ModuleError
from ftrace_mmio.machine.config import load_machine_file
from ftrace_mmio.machine.devices.rtl8139 import DEFAULT_MAC, TX_VERSION_8139CPLUS, Rtl8139, Rtl8139Regs
from ftrace_mmio.trace.clock import TimeBase
from intree_util import linux_sources
from machine_util import driver

pytestmark = pytest.mark.intree

ROOT = Path(__file__).resolve().parent.parent
ORACLE = ROOT / "tests" / "data" / "oracle" / "intree" / "8139cp"
MACHINE_FILE = ROOT / "docs" / "examples" / "rtl8139.toml"
SOURCES = ("drivers/net/mii.c", "drivers/net/ethernet/realtek/8139cp.c")
CFG9346 = 0x50


@pytest.fixture(scope="module")
def sources() -> list[Path]:
    return linux_sources(*SOURCES)


def driver_lines(dmesg: str) -> list[str]:
    """The driver's own lines, without timestamps; the %p value (the real
    kernel printed "(____ptrval____)" that early after boot, we print the
    hashed pointer) as <ptr>."""
    out = []
    for m in re.finditer(r"^\[[ \d.]+\] (8139cp.*)$", dmesg, re.M):
        out.append(re.sub(r"at 0x(\(____ptrval____\)|[0-9a-f]{16}),", "at 0x<ptr>,", m.group(1)))
    return out


# ---- the reference ------------------------------------------------------------------------------


def test_oracle_data_is_the_probe():
    recs = intree.normalise((ORACLE / "dump.txt").read_text())
    rw = [r for r in recs if r[0] in ("R", "W")]
    assert recs[0] == ("MAP", 0x100) and recs[-1] == ("MARK", "X is up") and len(rw) == 510
    assert sum(r[2] == CFG9346 for r in rw) == 500                 # the EEPROM
    assert rw[-2:] == [("W", 1, CFG9346, 0), ("R", 1, CFG9346, 0)]
    assert driver_lines((ORACLE / "dmesg.txt").read_text()) == [
        "8139cp: 8139cp: 10/100 PCI Ethernet driver v1.3 (Mar 22, 2004)",
        "8139cp 0000:00:02.0 eth0: RTL-8139C+ at 0x<ptr>, 52:54:00:12:34:56, IRQ 10",
    ]


def test_build_and_trace_equals_the_real_kernel(sources):
    run = intree.build_and_trace("8139cp")
    assert run.warnings == ""                      # unchanged sources, no warnings
    same, report = intree.compare_dumps((ORACLE / "dump.txt").read_text(), run.dump)
    assert same, report
    real = next(l for l in (ORACLE / "dump.txt").read_text().splitlines() if "10ec8139" in l)
    assert real in run.dump.splitlines()           # the PCIDEV line, byte for byte
    assert driver_lines(run.dmesg) == driver_lines((ORACLE / "dmesg.txt").read_text())


@pytest.mark.parametrize("engine, decoder", [("fast", "full"), ("faithful", "pf_in")])
def test_every_engine_and_decoder_trace_it_alike(sources, tmp_path, engine, decoder):
    machine_file = tmp_path / "rtl8139.toml"
    machine_file.write_text(MACHINE_FILE.read_text()
                            + f'\n[mmiotrace]\nengine = "{engine}"\ndecoder = "{decoder}"\n')
    run = intree.build_and_trace("8139cp", machine_file=machine_file)
    same, report = intree.compare_dumps((ORACLE / "dump.txt").read_text(), run.dump)
    assert same, report


# ---- the modules, eth0 and what the driver stored -------------------------------------------------


@pytest.fixture(scope="module")
def machine(sources, tmp_path_factory):
    m = load_machine_file(MACHINE_FILE).build_machine(TimeBase(), cache_dir=tmp_path_factory.getbasetemp() / "mc")
    try:
        for path in sources:
            assert m.insmod(path).warnings == ""
        m.insmod(driver("netdev_peek"))
        yield m
    finally:
        m.close()


def peek(m, fn, *args):
    return m.call("netdev_peek", fn, *args)


def test_8139cp_links_against_mii(machine):
    mods = {i.name: i for i in machine.lsmod()}
    assert mods["mii"].used_by == ["8139cp"] and mods["8139cp"].used_by == []
    exported = machine.run_on_cpu(lambda: set(machine.modules["mii"].exports))
    assert {"mii_ethtool_get_link_ksettings", "mii_check_media", "generic_mii_ioctl"} <= exported
    with pytest.raises(ModuleError) as exc:
        machine.rmmod("mii")
    assert exc.value.errno == errno.EWOULDBLOCK and "8139cp" in str(exc.value)


def test_eth0_is_registered_with_the_eeprom_address(machine):
    assert peek(machine, "peek_ifindex") == 2       # 1 is the loopback device's on Linux
    assert bytes(peek(machine, "peek_mac", i) for i in range(6)) == DEFAULT_MAC
    assert bytes(peek(machine, "peek_perm_mac", i) for i in range(6)) == DEFAULT_MAC
    assert peek(machine, "peek_state") == (1 << 8) | 0b10   # NETREG_REGISTERED, present, not running
    assert [peek(machine, "peek_mtu", i) for i in range(3)] == [1500, 60, 4096]
    assert peek(machine, "peek_ops") == 1
    assert peek(machine, "peek_napi") == 16 * 100 + 10 + 1   # weight 16, listed, disabled
    netif_f_sg, netif_f_rxcsum_hi = 1 << 0, 1 << (40 - 32)
    assert peek(machine, "peek_features", 0) & netif_f_sg
    assert peek(machine, "peek_features", 1) & netif_f_rxcsum_hi
    assert machine.pci_devices()[0]["driver"] == "8139cp"


def test_ethtool_operations_reach_the_chip(machine):
    assert peek(machine, "peek_drvinfo") == 1
    assert peek(machine, "peek_regs_len") == 256
    # The driver bit-bangs the EEPROM again: ID, vendor, device, the MAC words.
    words = [peek(machine, "peek_eeprom_word", w) for w in (0, 1, 2, 7, 8, 9)]
    assert words == [0x8129, 0x10EC, 0x8139, 0x5452, 0x1200, 0x5634]
    # mii.ko reads the PHY registers through the driver's mdio_read.
    assert peek(machine, "peek_link") == 100 * 10 + 1 + (1 << 16)


def test_remove_unregisters_and_frees(machine):
    machine.rmmod("netdev_peek")
    machine.rmmod("8139cp")
    machine.rmmod("mii")
    assert machine.lsmod() == []
    assert machine.pci_devices()[0]["driver"] in (None, "")
    # A second load gets eth0 again (the name is free), ifindex moves on.
    for path in [intree.source_path(rel) for rel in SOURCES]:
        machine.insmod(path)
    machine.insmod(driver("netdev_peek"))
    assert peek(machine, "peek_ifindex") == 3
    assert "8139cp 0000:00:02.0 eth0: RTL-8139C+" in machine.dmesg_text().rsplit("8139cp: 10/100", 1)[-1]


# ---- the device model -------------------------------------------------------------------------------


class Driver:
    """8139cp's EEPROM routine, step by step, against the model (Python)."""

    def __init__(self, dev: Rtl8139) -> None:
        self.region = dev.region(1)
        self.log: list[tuple] = []

    def w(self, off: int, width: int, v: int) -> None:
        self.region.write(off, width, v)
        self.log.append(("W", width, off, v))

    def r(self, off: int, width: int) -> int:
        v = self.region.read(off, width)
        self.log.append(("R", width, off, v))
        return v

    def read_eeprom(self, location: int, addr_len: int) -> int:
        cmd = location | (6 << addr_len)
        self.w(CFG9346, 1, 0x80), self.w(CFG9346, 1, 0x88), self.r(CFG9346, 1)
        for i in range(3 + addr_len - 1, -1, -1):
            bit = 2 if cmd & (1 << i) else 0
            self.w(CFG9346, 1, 0x88 | bit), self.r(CFG9346, 1)
            self.w(CFG9346, 1, 0x8C | bit), self.r(CFG9346, 1)
        self.w(CFG9346, 1, 0x88), self.r(CFG9346, 1)
        value = 0
        for _ in range(16):
            self.w(CFG9346, 1, 0x8C), self.r(CFG9346, 1)
            value = value << 1 | (self.r(CFG9346, 1) & 1)
            self.w(CFG9346, 1, 0x88), self.r(CFG9346, 1)
        self.w(CFG9346, 1, 0), self.r(CFG9346, 1)
        return value


def test_model_eeprom_bit_by_bit_as_the_real_chip_answered():
    dev = Rtl8139()
    drv = Driver(dev)
    # cp_stop_hw, then the probe's four reads: addr_len 8 first (not an 8129), then 6.
    drv.w(0x3E, 2, ~drv.r(0x3E, 2) & 0xFFFF), drv.w(0x3C, 2, 0), drv.r(0x3C, 2)
    drv.w(0x37, 1, 0), drv.w(0xE0, 2, 0), drv.r(0xE0, 2)
    drv.w(0x3E, 2, ~drv.r(0x3E, 2) & 0xFFFF), drv.r(0x3E, 2)
    assert drv.read_eeprom(0, 8) != 0x8129
    assert [drv.read_eeprom(i, 6) for i in (7, 8, 9)] == [0x5452, 0x1200, 0x5634]
    real = [r for r in intree.normalise((ORACLE / "dump.txt").read_text()) if r[0] in ("R", "W")]
    assert drv.log == real
    assert drv.read_eeprom(0, 6) == 0x8129 and dev.eeprom.reads[-1] == 0


def test_model_registers():
    dev = Rtl8139()
    io, mem = dev.region(0), dev.region(1)
    assert mem.read(0x40, 4) & 0x7CC00000 == TX_VERSION_8139CPLUS          # RTL8139C+
    mem.write(0x40, 4, 0)
    assert mem.read(0x40, 4) == TX_VERSION_8139CPLUS                       # read-only version
    assert bytes(io.read(i, 1) for i in range(6)) == DEFAULT_MAC            # both BARs, one chip
    mem.write(0x00, 1, 0x02)
    assert io.read(0x00, 1) == 0x02
    mem.write(0x37, 1, 0x0C)                                                # TX and RX enable
    assert mem.read(0x37, 1) == 0x0D                                        # + RX buffer empty
    mem.write(0x37, 1, 0x10)                                                # reset
    assert mem.read(0x37, 1) == 0x01 and mem.read(0x00, 1) == 0x52 and dev.resets == 2
    dev.regs.set("INTR_STATUS", 0x0025)
    mem.write(0x3E, 2, 0x0021)                                              # write 1 to clear
    assert mem.read(0x3E, 2) == 0x0004
    assert mem.read(0x50, 1) == 0                                           # normal mode: no EEDO
    mem.write(0x50, 1, 0x40)                                                # auto-load: reset, reads 0
    assert mem.read(0x50, 1) == 0 and dev.resets == 3
    assert mem.read(0x64, 2) & 0x0024 == 0x0024                             # link up, autoneg done
    mem.write(0x62, 2, 0x9200)                                              # PHY reset, restart: done at once
    assert mem.read(0x62, 2) == 0x1000
    assert Rtl8139Regs.label(0x50) == "CFG9346" and Rtl8139Regs.label(0xE0) == "CPCMD"


# ---- the netdev core on its own (no Linux sources needed) -----------------------------------------


@pytest.fixture(scope="module")
def plain_machine(tmp_path_factory):
    from machine_util import make_machine
    m = make_machine(tmp_path_factory)
    m.insmod(driver("netdev_basic"))
    yield m
    m.close()


def nb(m, fn, *args):
    v = m.call("netdev_basic", fn, *args)
    return v - 2**64 if v >> 63 else v


def test_netdev_names_ifindex_notifiers_and_printing(plain_machine):
    m = plain_machine
    assert nb(m, "nb_listen") == 0
    assert nb(m, "nb_add", 0, 0) == 2 and nb(m, "nb_add", 1, 0) == 3
    names = ["".join(chr(nb(m, "nb_name_char", i, k)) for k in range(4)) for i in (0, 1)]
    assert names == ["eth0", "eth1"]
    assert nb(m, "nb_add", 2, 1) == 4                         # a literal name
    assert nb(m, "nb_add", 2, 1) == -errno.EEXIST             # taken
    nb(m, "nb_remove", 0)
    assert nb(m, "nb_add", 0, 0) == 5                         # eth0 is free again; ifindex moves on
    assert "".join(chr(nb(m, "nb_name_char", 0, k)) for k in range(4)) == "eth0"
    events = [nb(m, "nb_event", i) for i in range(6)]
    assert events == [5 * 100 + 2, 5 * 100 + 3, 5 * 100 + 4, 6 * 100 + 2, 5 * 100 + 5, -1]
    text = m.dmesg_text()
    assert "(unnamed net_device) (uninitialized): before registration" in text
    assert "eth1: mac 02:00:00:00:00:01 weight 64" in text
    assert "eth0 (unregistered): after unregistration" in text
    nb(m, "nb_unlisten")


def test_netdev_state_bits_and_helpers(plain_machine):
    m = plain_machine
    assert nb(m, "nb_napi_cycle", 1) == 0 * 10 + 1             # enabled: not scheduled; disabled again
    assert nb(m, "nb_carrier", 1) == 0 * 10 + 1 + 100
    assert nb(m, "nb_crc") == 1
    assert [nb(m, "nb_msg_init", d) for d in (-1, 0, 3, 40)] == [3, 0, 7, 3]


def test_packet_path_stops_the_machine_naming_itself(plain_machine):
    from ftrace_mmio.machine.machine import ModuleOops
    m = plain_machine
    with pytest.raises(ModuleOops):
        m.call("netdev_basic", "nb_alloc_skb")
    assert "__netdev_alloc_skb: no packets on this machine" in m.dmesg_text()
