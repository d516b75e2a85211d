"""Modules linking against modules: EXPORT_SYMBOL* from one, used by the next.

The rules are the kernel's (kernel/module/main.c): a module's undefined
symbols resolve against the kernel, then against the exports of loaded
modules; GPL-only exports are invisible to modules under other licences; a
namespaced export needs MODULE_IMPORT_NS; a name may be exported once; and a
module others link against cannot be unloaded (EWOULDBLOCK) until they are.
"""

from __future__ import annotations

import errno

import pytest

from ftrace_mmio.kernel.module import ModuleError
from machine_util import driver, make_machine


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    m = make_machine(tmp_path_factory)
    yield m
    m.close()


@pytest.fixture
def provider(machine):
    machine.insmod(driver("ksym_provider"))
    yield machine
    for info in machine.lsmod():
        if info.name != "ksym_provider":
            machine.rmmod(info.name)
    machine.rmmod("ksym_provider")


def test_user_links_against_the_providers_exports(provider):
    m = provider
    m.insmod(driver("ksym_user"))
    assert "ksym_user: 5 + 7 = 12, secret 42" in m.dmesg_text()
    # The calls land in the provider's code and state, not a copy.
    assert m.call("ksym_user", "ksym_user_sum") == 12
    assert m.call("ksym_user", "ksym_user_calls") == 2
    assert m.call("ksym_provider", "ksym_calls_so_far") == 2


def test_provider_exports_are_read_from_ksymtab(provider):
    mod = provider.run_on_cpu(lambda: provider.modules["ksym_provider"])
    exports = mod.exports
    assert set(exports) == {"ksym_add", "ksym_calls_so_far", "ksym_table", "ksym_secret"}
    assert not exports["ksym_add"].gpl_only and exports["ksym_calls_so_far"].gpl_only
    assert exports["ksym_secret"].namespace == "KSYM_TEST" and exports["ksym_add"].namespace is None
    assert exports["ksym_add"].value == mod.symbols["ksym_add"]
    # data: the address of the table, whose words are the table
    va = exports["ksym_table"].value
    assert provider.read_virt(va, 16) == bytes.fromhex("02000000030000000500000007000000")


def test_provider_in_use_cannot_be_removed(provider):
    m = provider
    m.insmod(driver("ksym_user"))
    with pytest.raises(ModuleError) as exc:
        m.rmmod("ksym_provider")
    assert exc.value.errno == errno.EWOULDBLOCK
    assert "in use by: ksym_user" in str(exc.value)
    assert [i.name for i in m.lsmod()] == ["ksym_user", "ksym_provider"]
    info = {i.name: i for i in m.lsmod()}
    assert info["ksym_provider"].used_by == ["ksym_user"] and info["ksym_user"].used_by == []
    assert info["ksym_provider"].as_dict()["used_by"] == ["ksym_user"]
    m.rmmod("ksym_user")
    assert m.lsmod()[0].used_by == []          # free again: the fixture removes it


def test_user_without_provider_is_unknown_symbols(machine):
    with pytest.raises(ModuleError) as exc:
        machine.insmod(driver("ksym_user"))
    assert exc.value.errno == errno.ENOENT
    text = machine.dmesg_text()
    for sym in ("ksym_add", "ksym_calls_so_far", "ksym_table", "ksym_secret"):
        assert f"ksym_user: Unknown symbol {sym} (err -2)" in text
    assert "ksym_user" not in [i.name for i in machine.lsmod()]


def test_gpl_only_exports_are_hidden_from_other_licences(provider):
    m = provider
    with pytest.raises(ModuleError) as exc:
        m.insmod(driver("ksym_proprietary"))
    assert exc.value.errno == errno.ENOENT and "ksym_calls_so_far" in str(exc.value)
    assert "ksym_add" not in str(exc.value)
    m.insmod(driver("ksym_plain"))               # the plain export is everyone's
    assert m.call("ksym_plain", "ksym_plain_two") == 2
    assert m.lsmod()[1].used_by == ["ksym_plain"]


def test_namespace_must_be_imported(provider):
    with pytest.raises(ModuleError) as exc:
        provider.insmod(driver("ksym_no_import"))
    assert exc.value.errno == errno.EINVAL
    assert ("ksym_no_import: module uses symbol (ksym_secret) from namespace KSYM_TEST, "
            "but does not import it.") in provider.dmesg_text()


def test_a_name_is_exported_once(provider):
    with pytest.raises(ModuleError) as exc:
        provider.insmod(driver("ksym_duplicate"))
    assert exc.value.errno == errno.ENOEXEC
    assert "ksym_duplicate: exports duplicate symbol ksym_add (owned by ksym_provider)" in provider.dmesg_text()
    with pytest.raises(ModuleError) as exc:
        provider.insmod(driver("ksym_kernel_dup"))
    assert exc.value.errno == errno.ENOEXEC and "owned by kernel" in str(exc.value)
    # the failed loads left nothing behind
    assert [i.name for i in provider.lsmod()] == ["ksym_provider"]


def test_unloading_the_user_frees_the_provider(machine):
    machine.insmod(driver("ksym_provider"))
    machine.insmod(driver("ksym_user"))
    machine.rmmod("ksym_user")
    machine.rmmod("ksym_provider")
    assert "ksym_provider: down after 1 calls" in machine.dmesg_text()
    # and again, from scratch: nothing stale in the export tables
    machine.insmod(driver("ksym_provider"))
    machine.insmod(driver("ksym_user"))
    assert machine.call("ksym_user", "ksym_user_calls") == 1
    machine.rmmod("ksym_user")
    machine.rmmod("ksym_provider")
