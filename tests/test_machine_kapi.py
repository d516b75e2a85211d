"""Every kernel-API function, called from a compiled driver on the real
emulator; the kernel log it produces is compared line by line."""

from __future__ import annotations

import re

import pytest

from ftrace_mmio.trace.clock import TimeBase

from machine_util import driver, make_machine

# What kapi_all.c logs, in order (after the boot lines).  Two lines hold
# code offsets that depend on gcc's output; they are patterns.
EXPECTED = [
    (6, "kapi: ints -42 42 3000000000 beef BEEF 10"),
    (6, "kapi: longs -1 18446744073709551615 ffffffff12345678 1122334455667788 -9000000000 7 -7"),
    (6, "kapi: short -2 65535 ab"),
    (6, "kapi: widths [   42] [42   ] [00042] [+42] [ 42] [0xff] [010] [     00a]"),
    (6, "kapi: strings [hello] [abc] [   right] [left    ] [(null)] [ok]"),
    (6, "kapi: star [     1] [2     ] [xy]"),
    (6, re.compile(r"kapi: pointers ffffc90000001234           \(null\) 00000000[0-9a-f]{8}")),
    (6, re.compile(r"kapi: symbol test_printk\+0x0/0x[0-9a-f]+ \[kapi_all\] test_printk\+0x4 \[kapi_all\]")),
    (6, "kapi: percent 100% and many args 1 2 3 4 5 6 7 8"),
    (4, "kapi: default level"),
    (0, "kapi: emerg"),
    (1, "kapi: alert"),
    (2, "kapi: crit"),
    (3, "kapi: err"),
    (4, "kapi: warn"),
    (5, "kapi: notice"),
    (6, "kapi: cont: one two three"),
    (6, "kapi: two"),
    (6, "lines"),
    (6, 'kapi: snprintf: 22 "truncated-strin"'),
    (6, 'kapi: scnprintf: 15 "truncated-strin"'),
    (6, 'kapi: sprintf: 6 "007|ff"'),
    (6, 'kapi: vsnprintf: 24 "kapi: va_list ok -5 abc"'),
    (4, "kapi: va_list ok -5 abc"),
    (6, "kapi: vprintk returned 24"),
    (6, "kapi: kmalloc 1 kzalloc 1 kcalloc 1 aligned 1"),
    (6, "kapi: direct map 1 ksize 100"),
    (6, "kapi: zeroed sum 0"),
    (6, "kapi: memset strlen 99 strnlen 10"),
    (6, 'kapi: memmove "copy me" memcmp 0 -1'),
    (6, "kapi: strcmp 0 1 strncmp 0 strchr pha"),
    (6, 'kapi: strscpy 5 "gamma"'),
    (6, 'kapi: strscpy -7 "too"'),
    (6, 'kapi: kstrdup "duplicate" 1'),
    (6, "kapi: kmalloc(0) 0000000000000010"),
    (6, "kapi: kstrto 0 31 0 -17 -22"),
    (6, "kapi: err.h 1 -12"),
    # Deterministic clock: a delay plus the 1 us every clock reading adds.
    (6, "kapi: udelay(10): 11000 ns"),
    (6, "kapi: ndelay(500): 1500 ns"),
    (6, "kapi: mdelay(2): 2001000 ns"),
    (6, "kapi: usleep_range+fsleep: 106000 ns"),
    (6, "kapi: msleep(100): 25 jiffies, after 1"),
    (6, "kapi: msleep_interruptible+ssleep: 1040 ms"),
    (6, "kapi: conversions 250 2 1000"),
    (6, "kapi: pci devices: 3"),
    (6, "kapi: testmmio 0000:00:03.0 bus 0 devfn 18 ids 1234:1111 sub 1af4:1100 class 038000 rev 2 irq 17"),
    (6, "kapi: bar0 fd000000 len 800000 flags 42208; bar2 fd800000 len 1000; bar1 len 0"),
    (6, "kapi: config vendor 0 1234"),
    (6, "kapi: config class/rev 0 03800002"),
    (6, "kapi: config latency 0 40"),
    (6, "kapi: config unaligned word 135 1234"),
    (6, "kapi: enable 0 command 0002"),
    (6, "kapi: master command 0006"),
    (6, "kapi: request_regions 0"),
    (6, "kapi_all 0000:00:03.0: dev_info says 42"),
    (6, "kapi: pci_iomap page offset 0 readback cafef00d"),
    (6, "kapi: ioremap offset 123 readback cafef00d"),
    (6, "kapi: ioremap_uc 0123456789abcdef"),
    (6, "kapi: ioremap_cache 01234567"),
    (4, "ioremap on RAM at 0x0000000000100000 - 0x0000000000100fff"),
    (6, "kapi: ioremap of RAM 0000000000000000, of size 0 0000000000000000"),
    (4, "Trying to iounmap() nonexistent vm area (0xffffc9ff00000000)"),
    (4, "------------[ cut here ]------------"),
    (4, re.compile(r"WARNING: CPU: 0 PID: 1 at kapi_all\.c:\d+ kapi_init\+0x[0-9a-f]+/0x[0-9a-f]+ \[kapi_all\]")),
    (4, "---[ end trace 0000000000000000 ]---"),
    (6, "kapi: WARN_ON returned 1, not fired 0"),
    (6, "kapi: done"),
]


class Hooks:
    """An ioremap hook that records what it is told and checks that the
    mapping exists both times."""

    def __init__(self, machine) -> None:
        self.machine = machine
        self.calls: list[tuple] = []

    def on_ioremap(self, phys: int, size: int, cookie: int) -> None:
        self.calls.append(("map", phys, size, cookie, self.machine.mm.is_present(cookie)))

    def on_iounmap(self, cookie: int) -> None:
        self.calls.append(("unmap", cookie, self.machine.mm.is_present(cookie)))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    machine = make_machine(tmp_path_factory, time_base=TimeBase(deterministic=True))
    markers: list[str] = []
    machine.on_trace_printk = markers.append
    hooks = Hooks(machine)
    machine.add_ioremap_hook(hooks)
    boot = machine.dmesg()[-1].seq
    info = machine.insmod(driver("kapi_all"))
    yield machine, info, boot, markers, hooks
    machine.close()


def test_every_function_logs_what_the_kernel_would(run):
    machine, info, boot, _, _ = run
    got = [(r.level, r.text) for r in machine.dmesg(boot)]
    assert len(got) == len(EXPECTED), "\n".join(t for _, t in got)
    for (level, text), (want_level, want) in zip(got, EXPECTED):
        if isinstance(want, str):
            assert (level, text) == (want_level, want)
        else:
            assert level == want_level and want.fullmatch(text), text


def test_module_info(run):
    _, info, _, _, _ = run
    assert info.name == "kapi_all"
    assert info.state == "Live"
    assert info.description == "calls every kernel API function"
    assert info.size % 4096 == 0 and info.size >= 4096
    assert info.base >> 30 == 0xFFFFFFFFC0000000 >> 30


def test_mmiotrace_printk_reaches_the_marker_hook(run):
    *_, markers, _ = run
    assert markers == ["marker 7 from kapi\n"]


def test_ioremap_hooks_see_live_mappings_in_order(run):
    *_, hooks = run
    maps = [c for c in hooks.calls if c[0] == "map"]
    unmaps = [c for c in hooks.calls if c[0] == "unmap"]
    # pci_iomap (capped at maxlen), ioremap at +0x123, then the wc/uc/cache pages
    assert [(c[1], c[2]) for c in maps] == [
        (0xFD000000, 0x2000), (0xFD000123, 0x10), (0xFD000000, 0x1000),
        (0xFD000000, 0x1000), (0xFD000000, 0x1000)]
    assert all(c[4] for c in maps), "the mapping exists when on_ioremap runs"
    assert all(c[2] for c in unmaps), "the mapping still exists when on_iounmap runs"
    assert maps[1][3] & 0xFFF == 0x123
    # every cookie handed out is returned exactly once; the pci_iomap one last
    assert sorted(c[3] for c in maps) == sorted(c[1] for c in unmaps)
    assert unmaps[-1][1] == maps[0][3]
    assert hooks.calls[-1][0] == "unmap"


def test_pci_enable_binds_the_device_until_rmmod(run):
    machine, *_ = run
    dev = next(d for d in machine.pci_bus.devices if d.vendor == 0x1234)
    assert dev.driver == "kapi_all"
    assert machine.pci_devices()[1]["driver"] == "kapi_all"
    seq = machine.dmesg()[-1].seq
    machine.rmmod("kapi_all")
    assert [r.text for r in machine.dmesg(seq)] == ["kapi: exit"]
    assert dev.driver is None
    assert machine.lsmod() == []
