"""Helpers for the machine tests: machines with a per-module object cache,
C test drivers by name, and a log reader."""

from __future__ import annotations

from pathlib import Path

from ftrace_mmio.machine.machine import Machine

DRIVERS = Path(__file__).resolve().parent / "drivers"


def driver(name: str) -> str:
    """Path of a C test driver in tests/drivers."""
    return str(DRIVERS / f"{name}.c")


def new_lines(machine: Machine, since: int) -> list[str]:
    """Kernel-log texts logged after sequence number ``since``."""
    return [r.text for r in machine.dmesg(since)]


def last_seq(machine: Machine) -> int:
    records = machine.dmesg()
    return records[-1].seq if records else 0


def make_machine(tmp_path_factory, **kwargs) -> Machine:
    """A machine compiling into a temp cache shared by one test module."""
    cache = tmp_path_factory.getbasetemp() / "modcache"
    return Machine(cache_dir=cache, **kwargs)
