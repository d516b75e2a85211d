"""PCI: config space, BAR sizing, the kernel's resources, PCIDEV data, the bus, lspci.

The PCIDEV checks rebuild real devices from real traces (the IPU4 capture in
the corpus, the examples in mmiotrace.md §1.4) and compare the formatted
line byte for byte.
"""

from __future__ import annotations

import json

import pytest

from ftrace_mmio.machine.devices import BarSpec, DeviceModel
from ftrace_mmio.machine.pci import (DEFAULT_MACHINE, IORESOURCE_IO, IORESOURCE_MEM,
                                     IORESOURCE_MEM_64, IORESOURCE_PREFETCH, IORESOURCE_READONLY,
                                     IORESOURCE_SIZEALIGN, PCI_ANY_ID, PCIBIOS_BAD_REGISTER_NUMBER,
                                     PciBus, PciConfigError, PciDevice, class_name, default_bus,
                                     device_name, parse_slot)
from ftrace_mmio.trace.clock import TimeBase

KiB, MiB = 1 << 10, 1 << 20


def pcidev_line(dev: PciDevice) -> str:
    """The tracer's PCIDEV format (mmiotrace.md §1.4), applied to pcidev_fields()."""
    f = dev.pcidev_fields()
    return (f"PCIDEV {f.busdevfn:04x} {f.vendor_device:08x} {f.irq:x}"
            + "".join(f" {s:x}" for s in f.starts) + "".join(f" {s:x}" for s in f.sizes)
            + f" {f.driver or ''}\n")


def model(name: str, vendor: int, device: int, bars=(), rom_size: int = 0, **attrs) -> DeviceModel:
    cls = type(name, (DeviceModel,), {"name": name, "vendor": vendor, "device": device,
                                      "bars": tuple(bars), "rom_size": rom_size, **attrs})
    return cls()


@pytest.fixture
def bus() -> PciBus:
    return default_bus(TimeBase())


# --- PCIDEV data against real lines ------------------------------------------------------------


def test_pcidev_i915_with_shadowed_rom():
    # corpus/ipu4_apollolake_trace.trimmed.mmiotrace, line 3
    m = model("i915", 0x8086, 0x5a84, [BarSpec(0, 16 * MiB, "mem64"),
                                       BarSpec(2, 256 * MiB, "mem64", prefetchable=True),
                                       BarSpec(4, 0x40, "io")])
    dev = PciDevice(m, "00:02.0", {0: 0x91000000, 2: 0x80000000, 4: 0xf000}, 0x86, rom_shadow=True)
    dev.driver = "i915"
    assert pcidev_line(dev) == ("PCIDEV 0010 80865a84 86 91000004 0 8000000c 0 f001 0 c0002 "
                                "1000000 0 10000000 0 40 0 20000 i915\n")


def test_pcidev_ahci_with_io_bars():
    # corpus/ipu4_apollolake_trace.trimmed.mmiotrace: the SATA controller
    m = model("ahci", 0x8086, 0x5ae3, [BarSpec(0, 0x2000), BarSpec(1, 0x100), BarSpec(2, 8, "io"),
                                       BarSpec(3, 4, "io"), BarSpec(4, 0x20, "io"), BarSpec(5, 0x800)])
    dev = PciDevice(m, "00:12.0", {0: 0x92310000, 1: 0x92322000, 2: 0xf090, 3: 0xf080, 4: 0xf060,
                                   5: 0x92321000}, 0x7e)
    dev.driver = "ahci"
    assert pcidev_line(dev) == ("PCIDEV 0090 80865ae3 7e 92310000 92322000 f091 f081 f061 92321000 0 "
                                "2000 100 8 4 20 800 0 ahci\n")


def test_pcidev_without_driver_ends_in_a_space():
    # corpus/ipu4_apollolake_trace.trimmed.mmiotrace: 00:1a.0, no driver bound
    m = model("nodrv", 0x8086, 0x5ac8, [BarSpec(0, 4 * KiB, "mem64"), BarSpec(2, 4 * KiB, "mem64")])
    dev = PciDevice(m, "00:1a.0", {0: 0x92314000, 2: 0x92313000}, 0xff)
    assert pcidev_line(dev) == "PCIDEV 00d0 80865ac8 ff 92314004 0 92313004 0 0 0 0 1000 0 1000 0 0 0 0 \n"


def test_pcidev_gpu_with_64bit_bars_above_4g():
    # mmiotrace.md §1.4, from the vgpu_unlock report: BAR1 and BAR3 above 1 TiB.
    m = model("ga102", 0x10de, 0x2206, [BarSpec(0, 16 * MiB), BarSpec(1, 256 * MiB, "mem64", True),
                                        BarSpec(3, 32 * MiB, "mem64", True), BarSpec(5, 0x80, "io")],
              rom_size=512 * KiB)
    dev = PciDevice(m, "c1:00.0", {0: 0xfa000000, 1: 0x18000000000, 3: 0x18010000000, 5: 0xf000}, 0x7d,
                    rom_address=0xfb000000)
    assert pcidev_line(dev) == ("PCIDEV c100 10de2206 7d fa000000 1800000000c 0 1801000000c 0 f001 "
                                "fb000000 1000000 10000000 0 2000000 0 80 80000 \n")


def test_pcidev_device_without_bars():
    # mmiotrace.md §1.4, Bay Trail example
    dev = PciDevice(model("mbi", 0x8086, 0x0f00), "00:00.0", {}, 0)
    dev.driver = "iosf_mbi_pci"
    assert pcidev_line(dev) == "PCIDEV 0000 80860f00 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 iosf_mbi_pci\n"


def test_pcidev_default_machine(bus):
    assert [pcidev_line(d) for d in bus.devices] == [
        "PCIDEV 0010 10de1180 10 f6000000 e000000c 0 f000000c 0 e001 f7000000 "
        "1000000 8000000 0 2000000 0 80 80000 \n",
        "PCIDEV 0018 12341111 11 fd000008 0 fd800000 0 0 0 0 800000 0 1000 0 0 0 0 \n",
        "PCIDEV 0020 1b360002 12 fe000000 0 0 0 0 0 0 1000 0 0 0 0 0 0 \n",
    ]
    bus.get("00:02.0").driver = "nvlike"
    assert pcidev_line(bus.get("00:02.0")).endswith(" 80 80000 nvlike\n")


# --- resources ---------------------------------------------------------------------------------


def test_resources_carry_kernel_flags(bus):
    nv = bus.get("00:02.0")
    r = nv.resources
    assert len(r) == 7
    assert r[0] == (0xf6000000, 0xf6ffffff, IORESOURCE_MEM | IORESOURCE_SIZEALIGN)
    assert r[1] == (0xe0000000, 0xe7ffffff, IORESOURCE_MEM | IORESOURCE_SIZEALIGN | IORESOURCE_PREFETCH
                    | IORESOURCE_MEM_64 | 0xc)
    assert r[2] == (0, 0, 0) and r[2].size == 0
    assert r[5] == (0xe000, 0xe07f, IORESOURCE_IO | IORESOURCE_SIZEALIGN | 0x1)
    assert r[6] == (0xf7000000, 0xf707ffff, IORESOURCE_MEM | IORESOURCE_PREFETCH | IORESOURCE_READONLY
                    | IORESOURCE_SIZEALIGN)
    assert [x.size for x in r] == [16 * MiB, 128 * MiB, 0, 32 * MiB, 0, 0x80, 512 * KiB]


@pytest.mark.parametrize("addresses, message", [
    ({0: 0xf6000800}, "aligned to its size"),
    ({0: 0}, "non-zero"),
    ({0: 0xfff00000}, "end below 0x100000000"),
    ({}, "no address for BAR0"),
    ({0: 0xf6000000, 1: 0x1000}, "BARs it does not have"),
])
def test_bad_addresses_are_refused(addresses, message):
    m = model("one", 0x1234, 1, [BarSpec(0, 16 * MiB)])
    with pytest.raises(ValueError, match=message):
        PciDevice(m, "00:05.0", addresses, 0x10)


# --- config space ------------------------------------------------------------------------------


def test_config_header(bus):
    nv = bus.get("00:02.0")
    assert nv.config_read(0x00, 4) == 0x118010de
    assert nv.config_read(0x02, 2) == 0x1180
    assert nv.config_read(0x08, 4) == 0x030000a1           # class, revision
    assert nv.config_read(0x0e, 1) == 0x00                 # header type 0
    assert [nv.config_read(0x10 + 4 * i, 4) for i in range(6)] == \
        [0xf6000000, 0xe000000c, 0, 0xf000000c, 0, 0xe001]
    assert nv.config_read(0x30, 4) == 0xf7000000
    assert nv.config_read(0x3c, 2) == 0x0110               # pin INTA, line 0x10
    assert nv.command == 0x3                               # firmware left I/O and memory decode on
    uart = bus.get("00:04.0")
    assert uart.config_read(0x2c, 4) == 0x11001af4         # subsystem
    assert uart.config_read(0x08, 4) == 0x07000201
    assert uart.command == 0x2


def test_bar_sizing(bus):
    nv = bus.get("00:02.0")
    saved = [nv.config_read(0x10 + 4 * i, 4) for i in range(6)] + [nv.config_read(0x30, 4)]
    for i in range(6):
        nv.config_write(0x10 + 4 * i, 4, 0xffffffff)
    nv.config_write(0x30, 4, 0xfffff800)
    sized = [nv.config_read(0x10 + 4 * i, 4) for i in range(6)] + [nv.config_read(0x30, 4)]
    assert sized == [0xff000000,                    # 16 MiB, memory
                     0xf800000c, 0xffffffff,        # 128 MiB, 64-bit prefetchable, upper half
                     0xfe00000c, 0xffffffff,        # 32 MiB
                     0xffffff81,                    # 128 bytes of I/O
                     0xfff80000]                    # 512 KiB ROM, not enabled
    for i, value in enumerate(saved[:6]):
        nv.config_write(0x10 + 4 * i, 4, value)
    nv.config_write(0x30, 4, saved[6] | 1)
    assert [nv.config_read(0x10 + 4 * i, 4) for i in range(6)] == saved[:6]
    assert nv.config_read(0x30, 4) == 0xf7000001   # enabled
    # Sizing does not move the kernel's view of the device.
    assert nv.resources[0].start == 0xf6000000


def test_unimplemented_bars_and_read_only_fields(bus):
    uart = bus.get("00:04.0")
    uart.config_write(0x14, 4, 0xffffffff)
    assert uart.config_read(0x14, 4) == 0                # no BAR1
    uart.config_write(0x00, 4, 0)
    uart.config_write(0x08, 4, 0)
    uart.config_write(0x3d, 1, 4)
    assert uart.config_read(0x00, 4) == 0x00021b36
    assert uart.config_read(0x08, 4) == 0x07000201
    assert uart.config_read(0x3d, 1) == 1
    uart.config_write(0xc0, 4, 0x12345678)               # device-specific space: nothing there
    assert uart.config_read(0xc0, 4) == 0


def test_command_and_status_semantics(bus):
    uart = bus.get("00:04.0")
    uart.config_write(0x04, 2, 0xffff)
    assert uart.command == 0x0546                        # no I/O BARs: I/O enable stays 0
    uart.signal_status(0x2000 | 0x0100)                  # master abort, parity
    assert uart.config_read(0x06, 2) == 0x2100
    uart.config_write(0x06, 2, 0x2000)                   # write 1 to clear one of them
    assert uart.config_read(0x06, 2) == 0x0100
    uart.config_write(0x04, 4, 0x01000000)               # a dword write reaches status too
    assert uart.config_read(0x06, 2) == 0
    uart.config_write(0x3c, 1, 0x0b)
    assert uart.config_read(0x3c, 1) == 0x0b


@pytest.mark.parametrize("offset, width", [(0x01, 2), (0x02, 4), (0xfe, 4), (0x100, 1), (-1, 1), (0, 3)])
def test_bad_config_accesses(bus, offset, width):
    with pytest.raises(PciConfigError) as info:
        bus.get("00:02.0").config_read(offset, width)
    assert info.value.code == PCIBIOS_BAD_REGISTER_NUMBER
    with pytest.raises(PciConfigError):
        bus.get("00:02.0").config_write(offset, width, 0)


def test_enable_and_refcounts(bus):
    uart = bus.get("00:04.0")
    uart.config_write(0x04, 2, 0)
    uart.enable()
    assert uart.command == 0x2 and uart.enable_count == 1
    uart.config_write(0x04, 2, 0x6)
    uart.disable()
    assert uart.command == 0x2 and uart.enable_count == 0
    assert uart.get() is uart and uart.refcount == 1
    uart.put()
    uart.put()
    assert uart.refcount == 0


# --- the bus -----------------------------------------------------------------------------------


def test_default_machine_layout(bus):
    assert [(d.name, d.model.name, d.irq) for d in bus.devices] == [
        ("00:02.0", "nvlike", 0x10), ("00:03.0", "testmmio", 0x11), ("00:04.0", "uart16550", 0x12)]
    assert [(r.start, r.size, r.region.model.name, r.region.bar) for r in bus.io_regions()] == [
        (0xe0000000, 128 * MiB, "nvlike", 1),
        (0xf0000000, 32 * MiB, "nvlike", 3),
        (0xf6000000, 16 * MiB, "nvlike", 0),
        (0xfd000000, 8 * MiB, "testmmio", 0),
        (0xfd800000, 4 * KiB, "testmmio", 2),
        (0xfe000000, 4 * KiB, "uart16550", 0),
    ]
    assert all(r.start % 4096 == 0 and r.size % 4096 == 0 for r in bus.io_regions())
    assert [p.model for p in DEFAULT_MACHINE] == ["nvlike", "testmmio", "uart16550"]
    # The models run on the bus's clock.
    assert all(d.model.time_base is bus.time_base for d in bus.devices)


def test_region_at(bus):
    region, offset = bus.region_at(0xfd400100)
    assert (region.model.name, region.bar, offset) == ("testmmio", 0, 0x400100)
    region.write(offset, 4, 0xdeadbeef)
    assert bus.get("00:03.0").model.region(0).read(0x400100, 4) == 0xdeadbeef
    assert bus.region_at(0xfd801000) is None
    assert bus.region_at(0xe000) is None                 # I/O space is not memory


def test_find_is_pci_get_device(bus):
    nv = bus.find(0x10de, PCI_ANY_ID)
    assert nv is bus.get("00:02.0")
    assert bus.find(0x10de, PCI_ANY_ID, nv) is None
    assert bus.find(0x10de, 0x1181) is None
    walk, dev = [], None
    while (dev := bus.find(PCI_ANY_ID, PCI_ANY_ID, dev)) is not None:
        walk.append(dev.name)
    assert walk == ["00:02.0", "00:03.0", "00:04.0"]
    assert bus.find(0xffffffff, 0x0002) is bus.get("00:04.0")       # the kernel's ~0


def test_added_devices_get_free_slots_addresses_and_irqs(bus):
    big = model("big", 0x1af4, 0x1110, [BarSpec(0, 0x100), BarSpec(2, 64 * MiB, "mem64", True),
                                        BarSpec(4, 32, "io")], rom_size=64 * KiB, class_code=0x050000)
    dev = bus.add(big)
    assert (dev.name, dev.irq) == ("00:01.0", 0x13)
    starts = {i: r.start for i, r in enumerate(dev.resources) if r.end}
    assert starts == {0: 0xc4000000, 2: 0xc0000000, 4: 0xc000, 6: 0xc4010000}
    assert bus.lspci_lines()[0] == "00:01.0 RAM memory: Red Hat, Inc. Inter-VM shared memory"
    # Sorted by slot, whatever the order of adding.
    assert [d.name for d in bus.devices] == ["00:01.0", "00:02.0", "00:03.0", "00:04.0"]


def test_add_refuses_clashes(bus):
    with pytest.raises(ValueError, match="slot 00:02.0 is taken by nvlike"):
        bus.add("testmmio", "00:02.0")
    with pytest.raises(ValueError, match="overlaps another device"):
        bus.add("uart16550", "00:09.0", {0: 0xf6001000})
    with pytest.raises(ValueError, match="already on the bus"):
        bus.add(bus.get("00:03.0").model)
    with pytest.raises(KeyError, match="no device at 00:1f.7"):
        bus.get("00:1f.7")


@pytest.mark.parametrize("text, expected", [
    ("00:02.0", (0, 0x10)), ("0000:c1:00.0", (0xc1, 0)), ("00:1f.7", (0, 0xff)), ((1, 8), (1, 8))])
def test_parse_slot(text, expected):
    assert parse_slot(text) == expected


@pytest.mark.parametrize("text", ["2.0", "00:20.0", "00:02.8", "00:02", "zz:00.0", (256, 0)])
def test_parse_slot_refuses(text):
    with pytest.raises(ValueError):
        parse_slot(text)


# --- lspci -------------------------------------------------------------------------------------


def test_lspci_text(bus):
    assert bus.lspci() == (
        "00:02.0 VGA compatible controller: NVIDIA Corporation Device 1180 (rev a1)\n"
        "00:03.0 Display controller: Device 1234:1111 (rev 02)\n"
        "00:04.0 Serial controller: Red Hat, Inc. QEMU PCI 16550A Adapter (rev 01)\n")


def test_lspci_names():
    assert class_name(0x060000) == "Host bridge"
    assert class_name(0x0c0330) == "USB controller"
    assert class_name(0x0c8000) == "Serial bus controller"     # known base, unknown sub
    assert class_name(0x420000) == "Class 4200"
    assert device_name(0x8086, 0x1237) == "Intel Corporation 440FX - 82441FX PMC [Natoma]"
    assert device_name(0x8086, 0xabcd) == "Intel Corporation Device abcd"
    assert device_name(0xabcd, 0x0001) == "Device abcd:0001"


def test_lspci_json(bus):
    bus.get("00:04.0").driver = "uart16550"
    data = json.loads(json.dumps(bus.lspci_json()))
    assert [d["slot"] for d in data] == ["00:02.0", "00:03.0", "00:04.0"]
    nv = data[0]
    assert {k: nv[k] for k in ("vendor", "device", "name", "driver", "irq", "class", "revision")} == \
        {"vendor": 0x10de, "device": 0x1180, "name": "nvlike", "driver": None, "irq": 0x10,
         "class": 0x030000, "revision": 0xa1}
    assert nv["description"] == "VGA compatible controller: NVIDIA Corporation Device 1180 (rev a1)"
    assert [(b["index"], b["start"], b["size"], b["type"], b["prefetchable"]) for b in nv["bars"]] == [
        (0, 0xf6000000, 16 * MiB, "mem32", False), (1, 0xe0000000, 128 * MiB, "mem64", True),
        (3, 0xf0000000, 32 * MiB, "mem64", True), (5, 0xe000, 0x80, "io", False),
        (6, 0xf7000000, 512 * KiB, "rom", True)]
    assert nv["bars"][1]["flags"] == IORESOURCE_MEM | IORESOURCE_SIZEALIGN | IORESOURCE_PREFETCH \
        | IORESOURCE_MEM_64 | 0xc
    assert data[2]["driver"] == "uart16550" and data[2]["subsystem_vendor"] == 0x1af4


def test_default_bus_with_extra_models():
    bus = default_bus(TimeBase(), extra_models=["testmmio"])
    assert [d.model.name for d in bus.devices] == ["testmmio", "nvlike", "testmmio", "uart16550"]
    assert bus.devices[0].name == "00:01.0"
