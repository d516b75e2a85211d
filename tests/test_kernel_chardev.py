"""Character devices (kernel/core/chardev.c, kernel/chardev.py): device
numbers, misc devices, register_chrdev, user memory, and the mount's dev/
reached by real shell tools over FUSE."""

from __future__ import annotations

import errno
import os
import struct

import pytest

from fuse_util import cli, fresh_mount, needs_fuse, runtime_dir, wait_until  # noqa: F401 - fixtures
from machine_util import driver, make_machine

from ftrace_mmio.kernel.chardev import MISC_MAJOR, major, minor


def _ioc(direction: int, nr: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (ord("c") << 8) | nr


CHR_GET = _ioc(2, 1, 4)
CHR_SET = _ioc(1, 2, 4)
CHR_BAD = _ioc(2, 3, 4)
CHR_COUNT = _ioc(0, 4, 0)


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    m = make_machine(tmp_path_factory)
    m.insmod(driver("chr_misc"))
    yield m
    m.close()


def test_misc_device_gets_dynamic_minor_127_and_chrdev_major_254(machine):
    nodes = machine.kapi.chardev.nodes()
    assert (major(nodes["chrtest"]), minor(nodes["chrtest"])) == (MISC_MAJOR, 127)
    assert (major(nodes["chrold"]), minor(nodes["chrold"])) == (254, 0)


def test_open_read_write_seek_ioctl_release(machine):
    cd = machine.kapi.chardev
    f = cd.open("chrtest", os.O_RDWR)
    try:
        assert not f.stream
        assert cd.write(f, b"hello world") == 11
        assert cd.read(f, 100, 0) == b"hello world"
        assert cd.read(f, 100, 6) == b"world"          # the driver honours *ppos
        assert cd.ioctl(f, CHR_SET, data=struct.pack("<i", -7)) == (0, b"")
        assert cd.ioctl(f, CHR_GET, out_size=4) == (0, struct.pack("<i", -7))
        count, _ = cd.ioctl(f, CHR_COUNT, arg=0)
        assert count >= 1
    finally:
        cd.release(f)
    assert "chrtest: open" in machine.dmesg_text()
    assert "chrtest: release" in machine.dmesg_text()


def test_copy_to_a_kernel_pointer_is_efault(machine):
    cd = machine.kapi.chardev
    f = cd.open("chrtest", os.O_RDONLY)
    try:
        with pytest.raises(OSError) as exc:
            cd.ioctl(f, CHR_BAD, out_size=4)
        assert exc.value.errno == errno.EFAULT
        with pytest.raises(OSError) as exc:             # opened read-only
            cd.write(f, b"x")
        assert exc.value.errno == errno.EBADF
    finally:
        cd.release(f)


def test_register_chrdev_is_nonseekable(machine):
    cd = machine.kapi.chardev
    f = cd.open("chrold", os.O_RDWR)
    try:
        assert f.stream
        assert cd.read(f, 10) == b"old\n"
        assert cd.write(f, b"abc") == 3
    finally:
        cd.release(f)
    assert "chrold: wrote 3: abc" in machine.dmesg_text()


def test_unknown_node_and_deregistration(tmp_path_factory):
    m = make_machine(tmp_path_factory)
    try:
        with pytest.raises(OSError) as exc:
            m.kapi.chardev.open("chrtest")
        assert exc.value.errno == errno.ENOENT
        m.insmod(driver("chr_misc"))
        assert set(m.kapi.chardev.nodes()) == {"chrtest", "chrold"}
        m.rmmod("chr_misc")
        assert m.kapi.chardev.nodes() == {}
    finally:
        m.close()


@needs_fuse
def test_dev_nodes_over_fuse_with_shell_tools(fresh_mount):  # noqa: F811
    mnt = fresh_mount
    assert mnt.ok("ls dev") == ""
    r = cli("insmod", driver("chr_misc"), "--mount", str(mnt.path))
    assert r.returncode == 0, r.stderr
    assert mnt.ok("ls dev").split() == ["chrold", "chrtest"]
    mnt.ok("echo 'from the shell' > dev/chrtest")
    assert mnt.ok("cat dev/chrtest") == "from the shell\n"
    assert mnt.ok("dd if=dev/chrtest bs=1 skip=5 count=3 status=none") == "the"
    mnt.ok("printf abc > dev/chrold")
    # ioctl through the FUSE mount: the command number's size and direction carry the int.
    code = (
        "import fcntl, struct, os\n"
        f"fd = os.open('dev/chrtest', os.O_RDWR)\n"
        f"fcntl.ioctl(fd, {CHR_SET}, struct.pack('<i', 1234))\n"
        f"print(struct.unpack('<i', fcntl.ioctl(fd, {CHR_GET}, bytes(4)))[0])\n"
        "os.close(fd)\n"
    )
    r = mnt.py(code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "1234"
    # release reaches the driver after close returns (FUSE sends it on its own)
    assert wait_until(lambda: cli("dmesg", "--mount", str(mnt.path)).stdout.count("chrtest: release") >= 4)
    dmesg = cli("dmesg", "--mount", str(mnt.path)).stdout
    assert "chrold: wrote 3: abc" in dmesg
    r = cli("rmmod", "chr_misc", "--mount", str(mnt.path))
    assert r.returncode == 0, r.stderr
    assert mnt.ok("ls dev") == ""
    assert mnt.sh("cat dev/chrtest").returncode != 0


@pytest.mark.tracefs(machine=True)
def test_dev_nodes_in_the_pyfakefs_fixture(tracefs):
    dev = "/sys/kernel/tracing/dev"
    assert os.listdir(dev) == []
    tracefs.insmod(driver("chr_misc"))
    assert sorted(os.listdir(dev)) == ["chrold", "chrtest"]
    with open(f"{dev}/chrtest", "w") as f:
        f.write("fake fs")
    with open(f"{dev}/chrtest") as f:
        assert f.read() == "fake fs"
    # close is synchronous here: the release already ran
    assert tracefs.system.machine.dmesg_text().count("chrtest: release") == 2
    tracefs.rmmod("chr_misc")
    assert os.listdir(dev) == []


CHR_OOPS = _ioc(0, 5, 0)


def test_an_oops_in_a_file_operation_is_eio_and_reported(tmp_path_factory):
    m = make_machine(tmp_path_factory)
    try:
        m.insmod(driver("chr_misc"))
        cd = m.kapi.chardev
        f = cd.open("chrtest", os.O_RDWR, comm="oopser")
        with pytest.raises(OSError) as exc:
            cd.ioctl(f, CHR_OOPS, arg=0, comm="oopser")
        assert exc.value.errno == errno.EIO
        log = m.dmesg_text()
        assert "BUG: kernel NULL pointer dereference, address: 0000000000000010" in log
        assert "Comm: oopser" in log                    # the process that made the call
        # the machine goes on: the same file still works
        assert cd.write(f, b"after") == 5
        cd.release(f)
    finally:
        m.close()


def test_rmmod_with_an_open_file_leaves_it_dead(tmp_path_factory):
    m = make_machine(tmp_path_factory)
    try:
        m.insmod(driver("chr_misc"))
        cd = m.kapi.chardev
        f = cd.open("chrtest", os.O_RDWR)
        m.rmmod("chr_misc")
        assert "chr_misc unloaded with chrtest open" in m.dmesg_text()
        with pytest.raises(OSError) as exc:
            cd.write(f, b"x")
        assert exc.value.errno == errno.ENODEV
        cd.release(f)                                   # nothing runs: the code is gone
        assert cd.open_files() == []
    finally:
        m.close()
