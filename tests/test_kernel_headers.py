"""The headers drivers compile against: laid out like the kernel's, each
one compiling on its own, the common ones pulling in what the kernel's do,
their helpers computing what the kernel's compute (a real driver on the
machine, tests/drivers/hdr_linux.c), and their compile-time checks failing
the build where the kernel's do."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ftrace_mmio.kernel.module import CFLAGS, INCLUDE_DIR
from machine_util import driver, last_seq, make_machine, new_lines

HEADERS = sorted(str(p.relative_to(INCLUDE_DIR)) for p in INCLUDE_DIR.rglob("*.h"))


def gcc(source: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    c = tmp_path / "t.c"
    c.write_text(source)
    # A full compile: some checks are gcc "error" attributes, which only
    # fire once the optimiser has proved the call reachable.
    return subprocess.run(["gcc", "-c", *CFLAGS, *extra, "-o", str(tmp_path / "t.o"), str(c)],
                          capture_output=True, text=True)


def test_the_kernels_layout() -> None:
    for name in ("linux/module.h", "linux/io.h", "asm/io.h", "asm/processor.h", "asm/barrier.h",
                 "asm/byteorder.h", "asm/unaligned.h", "linux/iopoll.h", "linux/bitfield.h",
                 "linux/io-64-nonatomic-lo-hi.h", "linux/io-64-nonatomic-hi-lo.h",
                 "linux/kconfig.h", "linux/minmax.h", "linux/overflow.h", "linux/kstrtox.h"):
        assert name in HEADERS


@pytest.mark.parametrize("header", HEADERS)
def test_each_header_compiles_alone(header: str, tmp_path: Path) -> None:
    r = gcc(f"#include <{header}>\n", tmp_path, "-Werror")
    assert r.returncode == 0, r.stderr


def test_module_h_brings_what_the_kernels_does(tmp_path: Path) -> None:
    src = """#include <linux/module.h>
static DEFINE_SPINLOCK(l);
static DEFINE_MUTEX(m);
static LIST_HEAD(h);
int f(void *p, const char *s)
{
	unsigned long flags, end = jiffies + HZ;
	unsigned int v;
	spin_lock_irqsave(&l, flags);
	spin_unlock_irqrestore(&l, flags);
	mutex_lock(&m);
	mutex_unlock(&m);
	if (IS_ERR(p) || list_empty(&h) || kstrtouint(s, 0, &v))
		return PTR_ERR(p);
	while (time_before(jiffies, end))
		cpu_relax();
	pr_info("%s %llu %d %d\\n", __stringify(X), ktime_get_ns(), min(1, 2), S_IRUGO);
	return -ENODEV + ARRAY_SIZE(((int[3]){ 0 })) + BITS_PER_LONG;
}
"""
    r = gcc(src, tmp_path, "-Werror")
    assert r.returncode == 0, r.stderr


def test_pci_h_brings_io_and_device(tmp_path: Path) -> None:
    src = """#include <linux/pci.h>
int f(struct pci_dev *pdev)
{
	void __iomem *b = pci_iomap(pdev, 0, 0);
	dev_info(&pdev->dev, "%x\\n", readl(b) | ioread32(b));
	return IS_ERR_OR_NULL(b);
}
"""
    r = gcc(src, tmp_path, "-Werror")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("body, message", [
    ("return FIELD_PREP(GENMASK(3, 0), 16);", "FIELD_PREP: value too large for the field"),
    ("return FIELD_PREP(0, 1);", "FIELD_PREP: mask is zero"),
    ("return FIELD_PREP(0x5, 1);", "BUILD_BUG_ON failed"),
    ("return FIELD_GET(GENMASK(15, 8), (u8)x);", "FIELD_GET: type of reg too small for mask"),
    ("return FIELD_PREP(x, 1);", "FIELD_PREP: mask is not constant"),
    ("return GENMASK(0, 3);", "negative width in bit-field"),
    ("int *p = &x; return ARRAY_SIZE(p);", "must be array"),
    ("BUILD_BUG_ON(sizeof(x) != 8); return 0;", "BUILD_BUG_ON failed: sizeof(x) != 8"),
])
def test_compile_time_checks_fail_the_build(body: str, message: str, tmp_path: Path) -> None:
    src = "#include <linux/kernel.h>\n#include <linux/bitfield.h>\n" \
          f"unsigned long f(int x) {{ {body} }}\n"
    r = gcc(src, tmp_path)
    assert r.returncode != 0
    assert message in r.stderr, r.stderr


# What the real kernel (Debian 6.1 in QEMU) logged for the same source:
# tests/data/oracle/hdr_linux/README.md.
ORACLE = Path(__file__).resolve().parent / "data/oracle/hdr_linux/dmesg.txt"


def test_a_linux_style_driver_logs_what_the_real_kernel_logged(tmp_path_factory) -> None:
    m = make_machine(tmp_path_factory)
    try:
        seq = last_seq(m)
        m.insmod(driver("hdr_linux"))
        assert new_lines(m, seq) == ORACLE.read_text().splitlines()
    finally:
        m.close()
