"""Machine files with random TOML: a clear MachineFileError, never anything else.

Mutants of the default machine (`ftrace-mmio machine --show-default`): keys
renamed, values replaced by other types, huge and negative numbers, lines
dropped or duplicated, bytes flipped; plus random TOML documents. Loading
must either give a MachineConfig or raise MachineFileError whose message
names the source (and a line where there is one).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reliability_util import fuzz_settings

config = pytest.importorskip("ftrace_mmio.machine.config", reason="machine files are not in this tree")

DEFAULT = config.default_config().to_toml()
LINES = DEFAULT.splitlines()
VALUES = ["0", "-1", "1", "99999999999999999999999", "0x7fffffffffffffff", "1e308", "nan", "inf", "true",
          '"x"', '""', '"../../../../etc/passwd"', '"/dev/zero"', "[]", "[1, 2]", "{}", '{a = 1}',
          "1979-05-27", '"00:00.0"', '"ff:1f.7"', '"mmiotrace"', '"det"', "0xfd000000", "0x1000"]


@st.composite
def machine_texts(draw) -> str:
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 5))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.integers(0, 5))
        line = lines[i]
        if op == 0 and "=" in line:                   # another value
            lines[i] = line.split("=", 1)[0] + "= " + draw(st.sampled_from(VALUES))
        elif op == 1 and "=" in line:                 # another key
            lines[i] = draw(st.sampled_from(["bogus", "cpus", "slot", "model", "bar9", "rom", "irq"])) + \
                " =" + line.split("=", 1)[1]
        elif op == 2:
            del lines[i]
        elif op == 3:
            lines.insert(i, line)
        elif op == 4:
            lines.insert(i, draw(st.sampled_from(["[machine]", "[[device]]", "[mmiotrace]", "[x]", "[[machine]]"])))
        else:
            lines[i] = draw(st.text(max_size=40))
    return "\n".join(lines) + "\n"


toml_values = st.recursive(
    st.one_of(st.integers(-(1 << 70), 1 << 70).map(str), st.booleans().map(lambda b: str(b).lower()),
              st.text(max_size=10).map(lambda s: '"' + s.replace("\\", "").replace('"', "") + '"')),
    lambda inner: st.lists(inner, max_size=3).map(lambda v: "[" + ", ".join(v) + "]"),
    max_leaves=5,
)


@st.composite
def random_tomls(draw) -> str:
    out = []
    for _ in range(draw(st.integers(0, 4))):
        out.append(draw(st.sampled_from(["[machine]", "[[device]]", "[mmiotrace]", "[[device.bar0]]", ""])))
        for _ in range(draw(st.integers(0, 4))):
            key = draw(st.sampled_from(["cpus", "clock", "ram_mb", "buffer_size_kb", "model", "slot", "irq",
                                        "rom", "bar0", "decoder", "engine", "filter_offset", "nommiotrace"]))
            out.append(f"{key} = {draw(toml_values)}")
    return "\n".join(out) + "\n"


def load(text: str, tmp_path) -> None:
    try:
        config.parse_machine_text(text, "fuzz.toml", base_dir=tmp_path)
    except config.MachineFileError as exc:
        assert str(exc).startswith("fuzz.toml"), exc
        assert re.match(r"fuzz\.toml(:\d+)?: ", str(exc)), exc


@fuzz_settings(120)
@given(text=machine_texts())
def test_mutated_default_machine_gives_a_machine_or_a_clear_error(text: str, tmp_path) -> None:
    load(text, tmp_path)


@fuzz_settings(120)
@given(text=random_tomls())
def test_random_toml_gives_a_machine_or_a_clear_error(text: str, tmp_path) -> None:
    load(text, tmp_path)


def test_the_default_machine_round_trips(tmp_path) -> None:
    assert config.parse_machine_text(DEFAULT, "default.toml", base_dir=tmp_path).to_toml() == DEFAULT


def test_an_oversized_machine_file_is_refused_before_reading(tmp_path) -> None:
    from ftrace_mmio.machine.config import MAX_MACHINE_FILE_BYTES, MachineFileError, load_machine_file

    big = tmp_path / "huge.toml"
    big.write_text("# padding\n" * (MAX_MACHINE_FILE_BYTES // 10 + 1))
    with pytest.raises(MachineFileError, match="too large for a machine file"):
        load_machine_file(big)
