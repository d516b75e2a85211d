"""The dump parser against mutated real dumps: tolerant mode never raises.

Every corpus dump is cut, spliced, bit-flipped, has lines duplicated,
dropped, swapped or glued together, and bytes inserted (NUL, CR, invalid
UTF-8, huge numbers). Tolerant mode must read every mutant to the end,
keep every line as some record (an unreadable one as Garbage, with a
problem naming its line), and print every record back without error;
strict mode may only refuse with DumpError.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reliability_util import fuzz_settings

parse = pytest.importorskip("ftrace_mmio.analysis.parse", reason="the dump parser is not in this tree")

from analysis_util import CORPUS  # noqa: E402 - shared/ beside the work tree
DUMPS = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix in (".mmiotrace", ".txt")
               and p.name != "README.md") if CORPUS.is_dir() else []
pytestmark = pytest.mark.skipif(not DUMPS, reason=f"no corpus dumps under {CORPUS}")

JUNK = [b"\0", b"\r", b"\xff\xfe", b"\xc3\x28", b" ", b"\t", b"MARK ", b"PCIDEV ", b"R 4 ", b"W 9 ",
        b"99999999999999999999999999", b"0x", b"-1", b"CPU:0 [LOST ", b"#", b"\n", b"\n\n"]


@st.composite
def mutants(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(DUMPS)).read_bytes())
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.integers(0, 6))
        if not data:
            data += draw(st.binary(max_size=40))
            continue
        at = draw(st.integers(0, len(data) - 1))
        if op == 0:                                   # cut off here
            del data[at:]
        elif op == 1:                                 # flip a bit
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == 2:                                 # insert junk
            data[at:at] = draw(st.sampled_from(JUNK))
        elif op == 3:                                 # delete a stretch
            del data[at:at + draw(st.integers(1, 64))]
        elif op == 4:                                 # duplicate a stretch
            data[at:at] = data[at:at + draw(st.integers(1, 200))]
        elif op == 5:                                 # glue two lines
            nl = data.find(b"\n", at)
            if nl >= 0:
                del data[nl]
        else:                                         # random bytes
            data[at:at] = draw(st.binary(max_size=32))
    return bytes(data)


@fuzz_settings(150)
@given(data=mutants())
def test_tolerant_mode_reads_any_mutant_to_the_end(data: bytes) -> None:
    parser = parse.DumpParser(strict=False)
    records = list(parser.parse(io.BytesIO(data)))
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    assert parser.lines == lines
    for rec in records:
        text = rec.format()                          # every record prints back
        assert isinstance(text, str)
    garbage = [r for r in records if isinstance(r, parse.Garbage)]
    assert parser.problem_count >= len(garbage)      # nothing dropped silently


@fuzz_settings(60)
@given(data=mutants())
def test_strict_mode_refuses_only_with_dump_error(data: bytes) -> None:
    try:
        for _ in parse.DumpParser(strict=True).parse(io.BytesIO(data)):
            pass
    except parse.DumpError as exc:
        assert exc.args  # names the line and the reason


def test_the_corpus_itself_is_found() -> None:
    assert any(p.suffix == ".mmiotrace" for p in DUMPS)
