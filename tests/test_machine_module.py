"""The module loader: compiling, relocations, symbols, parameters, and the
insmod/rmmod/lsmod life cycle with the kernel's errors."""

from __future__ import annotations

import errno
import shutil

import pytest
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection

from ftrace_mmio.kernel.module import ModuleError, module_name, parse_int_param

from machine_util import driver, last_seq, make_machine


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    m = make_machine(tmp_path_factory)
    yield m
    m.close()


def log_after(machine, seq):
    return [r.text for r in machine.dmesg(seq)]


def test_every_relocation_type_is_applied(machine):
    result = machine.compiler.compile_file(__import__("pathlib").Path(driver("relocs")), "relocs")
    elf = ELFFile(__import__("io").BytesIO(result.obj))
    kinds = {rel["r_info_type"] for sec in elf.iter_sections() if isinstance(sec, RelocationSection)
             for rel in sec.iter_relocations()}
    # R_X86_64_64, PC32, PLT32, 32, 32S, PC64: the object really uses them all
    assert {1, 2, 4, 10, 11, 24} <= kinds
    seq = last_seq(machine)
    machine.insmod(driver("relocs"))
    assert log_after(machine, seq) == [
        "relocs: counter 6 table 13 ptr 12 greeting hello",
        "relocs: ops 13 42 switch 100 104 -1",
        "relocs: pc64 1 weak32 0 jiffies 1",
    ]
    # no module_exit: like the kernel, it stays
    with pytest.raises(ModuleError) as info:
        machine.rmmod("relocs")
    assert info.value.errno == errno.EBUSY


def test_unknown_symbols_fail_and_are_named(machine):
    seq = last_seq(machine)
    with pytest.raises(ModuleError) as info:
        machine.insmod(driver("unknown_sym"))
    assert info.value.errno == errno.ENOENT
    assert info.value.strerror == "Unknown symbol in module: no_such_variable, no_such_function"
    assert sorted(log_after(machine, seq)) == [
        "unknown_sym: Unknown symbol no_such_function (err -2)",
        "unknown_sym: Unknown symbol no_such_variable (err -2)",
    ]
    assert "unknown_sym" not in [m.name for m in machine.lsmod()]


def test_unsupported_relocation_fails(machine):
    with pytest.raises(ModuleError) as info:
        machine.insmod(driver("reloc_bad"))
    assert info.value.errno == errno.ENOEXEC
    assert "unsupported relocation type 9" in info.value.strerror


def test_relocation_overflow_fails(machine):
    with pytest.raises(ModuleError) as info:
        machine.insmod(driver("reloc_overflow"))
    assert info.value.errno == errno.ENOEXEC
    assert "R_X86_64_32 relocation overflow" in info.value.strerror


def test_parameter_defaults(machine):
    seq = last_seq(machine)
    info = machine.insmod(driver("params"))
    machine.rmmod("params")
    assert log_after(machine, seq) == [
        "params: byte 1 short -2 ushort 3 int -4 uint 5 long -6 ulong 7",
        "params: charp default bool 0 invbool 0 hexint 0x10 renamed 9",
    ]
    assert info.params == {
        "p_bool": "bool", "p_byte": "byte", "p_charp": "charp", "p_hexint": "hexint", "p_int": "int",
        "p_invbool": "invbool", "p_long": "long", "p_short": "short", "p_uint": "uint",
        "p_ulong": "ulong", "p_ushort": "ushort", "renamed": "int"}
    assert info.description == "parameters of every type"


def test_parameters_of_every_type(machine):
    seq = last_seq(machine)
    machine.insmod(driver("params"), [
        "p_byte=255", "p_short=-32768", "p_ushort=0xffff", "p_int=-0x10", "p_uint=4000000000",
        "p_long=-9000000000", "p_ulong=0777", "p_charp=hi there", "p_bool", "p_invbool=n",
        "p_hexint=0xff", "renamed=3", "bogus=1"])
    machine.rmmod("params")
    assert log_after(machine, seq) == [
        "params: unknown parameter 'bogus' ignored",
        "params: byte 255 short -32768 ushort 65535 int -16 uint 4000000000 long -9000000000 ulong 511",
        "params: charp hi there bool 1 invbool 1 hexint 0xff renamed 3",
    ]


def test_dashes_and_underscores_are_the_same_in_parameter_names(machine):
    seq = last_seq(machine)
    machine.insmod(driver("params"), ["p-int=8"])
    machine.rmmod("params")
    assert "int 8 " in log_after(machine, seq)[0]


@pytest.mark.parametrize("arg, err", [
    ("p_byte=256", errno.ERANGE), ("p_int=12x", errno.EINVAL), ("p_uint=-1", errno.EINVAL),
    ("p_bool=maybe", errno.EINVAL), ("p_int", errno.EINVAL), ("p_short=40000", errno.ERANGE),
])
def test_invalid_parameter_fails_insmod(machine, arg, err):
    seq = last_seq(machine)
    with pytest.raises(ModuleError) as info:
        machine.insmod(driver("params"), [arg])
    assert info.value.errno == err
    name, _, value = arg.partition("=")
    assert log_after(machine, seq) == [f"params: '{value}' invalid for parameter '{name}'"]
    assert machine.lsmod() == [] or "params" not in [m.name for m in machine.lsmod()]


def test_kstrto_rules():
    assert parse_int_param("0x1F", False, 4) == 31
    assert parse_int_param("010", False, 4) == 8
    assert parse_int_param("+7\n", True, 4) == 7
    assert parse_int_param("ff", False, 4, 16) == 255
    for bad in ("", "0x", "1 ", "-", "1_0"):
        with pytest.raises(ValueError):
            parse_int_param(bad, True, 4)


def test_compile_error_shows_gccs_message(machine, tmp_path):
    src = tmp_path / "broken.c"
    src.write_text("#include <linux/module.h>\nint broken_init(void) { return undeclared_thing; }\n")
    with pytest.raises(ModuleError) as info:
        machine.insmod(str(src))
    assert info.value.errno == errno.ENOEXEC
    assert "broken.c:2:" in info.value.strerror
    assert "error: 'undeclared_thing' undeclared" in info.value.strerror


def test_implicit_declaration_is_an_error(machine, tmp_path):
    src = tmp_path / "implicit.c"
    src.write_text("#include <linux/module.h>\nint f(void) { return some_function(); }\n")
    with pytest.raises(ModuleError, match="implicit declaration of function 'some_function'"):
        machine.insmod(str(src))


def test_object_file_and_module_name_from_stem(machine, tmp_path):
    src = tmp_path / "my-driver.c"
    shutil.copy(driver("params"), src)
    result = machine.compiler.compile_file(src, module_name(src))
    obj = tmp_path / "my-driver.o"
    obj.write_bytes(result.obj)
    info = machine.insmod(str(obj), ["p_int=1"])
    assert info.name == "my_driver"
    assert [m.name for m in machine.lsmod()][0] == "my_driver"
    machine.rmmod("my_driver")


def test_not_an_object(machine, tmp_path):
    bad = tmp_path / "junk.o"
    bad.write_bytes(b"\x7fELF" + bytes(60))
    with pytest.raises(ModuleError) as info:
        machine.insmod(str(bad))
    assert info.value.errno == errno.ENOEXEC
    text = tmp_path / "text.ko"
    text.write_text("not elf at all")
    with pytest.raises(ModuleError, match="Invalid module format"):
        machine.insmod(str(text))


def test_life_cycle_errors(machine):
    machine.insmod(driver("params"))
    with pytest.raises(ModuleError) as info:
        machine.insmod(driver("params"))
    assert info.value.errno == errno.EEXIST
    machine.rmmod("params")
    with pytest.raises(ModuleError) as info:
        machine.rmmod("params")
    assert info.value.errno == errno.ENOENT
    assert info.value.strerror == "Module params is not currently loaded"
    machine.insmod(driver("no_exit"))
    with pytest.raises(ModuleError) as info:
        machine.rmmod("no_exit")
    assert info.value.errno == errno.EBUSY
    assert "no_exit" in [m.name for m in machine.lsmod()]


def test_lsmod_newest_first_with_sizes(machine):
    machine.insmod(driver("params"))
    mods = machine.lsmod()
    assert mods[0].name == "params" and mods[0].state == "Live"
    assert all(m.size % 4096 == 0 and m.size > 0 for m in mods)
    bases = {m.base for m in mods}
    assert len(bases) == len(mods), "every module has its own area"
    machine.rmmod("params")


def test_bundled_driver_by_name_and_its_failure(machine):
    seq = last_seq(machine)
    with pytest.raises(ModuleError) as info:
        machine.insmod("testmmiotrace")
    assert info.value.errno == errno.ENXIO
    assert log_after(machine, seq) == [
        "testmmiotrace: you have to use the module argument mmio_address.",
        "testmmiotrace: DO NOT LOAD THIS MODULE UNLESS YOU REALLY KNOW WHAT YOU ARE DOING!",
    ]
    with pytest.raises(ModuleError) as info:
        machine.insmod("no_such_driver")
    assert info.value.errno == errno.ENOENT
    assert "bundled: " in info.value.strerror and "testmmiotrace" in info.value.strerror


def test_compiled_objects_are_cached(machine):
    first = machine.compiler.compile_file(__import__("pathlib").Path(driver("params")), "params")
    again = machine.compiler.compile_file(__import__("pathlib").Path(driver("params")), "params")
    assert first.path == again.path and first.obj == again.obj


def test_text_is_read_only_and_data_not_executable(machine):
    machine.insmod(driver("params"))
    mod = machine.modules["params"]
    from ftrace_mmio.machine.mm import PTE_NX, PTE_RW
    text_va = mod.sections[".text"][0]
    data_va = next(va for name, (va, _) in mod.sections.items() if name in (".data", ".bss"))
    ro_va = mod.sections["__param"][0]
    text_pte, data_pte, ro_pte = (machine.run_on_cpu(machine.mm.pte, va) for va in (text_va, data_va, ro_va))
    assert not text_pte & PTE_RW and not text_pte & PTE_NX
    assert data_pte & PTE_RW and data_pte & PTE_NX
    assert not ro_pte & PTE_RW and ro_pte & PTE_NX
    # the real page-table walk agrees with the shadow
    walked = machine.run_on_cpu(machine.mm.walk, text_va)
    assert walked[1] == text_pte
    machine.rmmod("params")
    assert machine.run_on_cpu(machine.mm.walk, text_va) is None


def test_compiler_warnings_come_back_with_the_module(machine, tmp_path):
    src = tmp_path / "warns.c"
    src.write_text("#include <linux/module.h>\n"
                   "static int __init warns_init(void) { int unused; return 0; }\n"
                   "module_init(warns_init);\n")
    info = machine.insmod(str(src))
    assert "warns.c:2:" in info.warnings and "unused variable 'unused'" in info.warnings
    assert info.name == "warns"
