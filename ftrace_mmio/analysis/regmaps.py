"""Which register map names the offsets of which device.

The device models declare their registers as :class:`RegMap` classes, one per
BAR; the analysis tools reuse exactly those declarations, matched to a dump's
devices by the PCI vendor and device id of its PCIDEV lines. Users bring
their own as a Python file that defines any one of:

* ``REGMAPS = {0: MyBar0Regs, 2: MyBar2Regs}`` (optionally ``VENDOR``,
  ``DEVICE`` and ``NAME``, so that the file also matches by id);
* a :class:`~ftrace_mmio.machine.devices.base.DeviceModel` subclass: its
  register BARs, ids and name are used, as for the built-in models;
* a single :class:`RegMap` subclass: it names BAR0 (or the mapping, for a
  dump with no PCIDEV lines).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from ..machine.devices import BUILTIN_MODELS, DeviceModel, ModelLoadError, RegisterRegion, import_python_file
from ..machine.regmap import RegMap

__all__ = ["DeviceMaps", "RegmapError", "builtin_maps", "maps_for_ids", "load_regmaps", "machine_maps"]


class RegmapError(Exception):
    """A --regmap argument names nothing usable."""


@dataclass(frozen=True)
class DeviceMaps:
    """The register maps of one kind of device, by BAR index."""

    name: str
    bars: Mapping[int, type[RegMap]] = field(default_factory=dict)
    vendor: int | None = None
    device: int | None = None

    def regmap(self, bar: int) -> type[RegMap] | None:
        return self.bars.get(bar)

    @classmethod
    def from_model(cls, model_cls: type[DeviceModel]) -> DeviceMaps:
        # The regions are built in the model's __init__: an instance is the only way to see them.
        model = model_cls()
        bars = {i: r.regs.map for i, r in model.regions.items() if isinstance(r, RegisterRegion)}
        return cls(model_cls.name, MappingProxyType(bars), model_cls.vendor, model_cls.device)


@cache
def builtin_maps() -> tuple[DeviceMaps, ...]:
    """The bundled device models' maps, in name order."""
    return tuple(DeviceMaps.from_model(BUILTIN_MODELS[n]) for n in sorted(BUILTIN_MODELS))


def maps_for_ids(vendor: int, device: int,
                 extra: tuple[DeviceMaps, ...] = ()) -> DeviceMaps | None:
    """The maps whose ids match (user-supplied ones first), or None."""
    for m in (*extra, *builtin_maps()):
        if m.vendor == vendor and m.device == device:
            return m
    return None


def load_regmaps(spec: str) -> DeviceMaps:
    """A built-in model's name, or a Python file as described in the module doc."""
    if spec in BUILTIN_MODELS:
        return next(m for m in builtin_maps() if m.name == spec)
    path = Path(spec)
    if not (spec.endswith(".py") or "/" in spec):
        raise RegmapError(f"unknown register map {spec!r}: use one of "
                          f"{', '.join(sorted(BUILTIN_MODELS))}, or a .py file")
    if not path.is_file():
        raise RegmapError(f"register map file {spec}: no such file")
    module = _import(path)
    ns = vars(module)
    name = ns.get("NAME") or path.stem
    if "REGMAPS" in ns:
        bars = ns["REGMAPS"]
        if not (isinstance(bars, Mapping) and bars and all(
                isinstance(k, int) and isinstance(v, type) and issubclass(v, RegMap) for k, v in bars.items())):
            raise RegmapError(f"register map file {spec}: REGMAPS must map BAR numbers to RegMap classes")
        return DeviceMaps(str(name), MappingProxyType(dict(bars)), ns.get("VENDOR"), ns.get("DEVICE"))
    models = [v for v in ns.values() if isinstance(v, type) and issubclass(v, DeviceModel)
              and v.__module__ == module.__name__ and v.name]
    if len(models) == 1:
        try:
            return DeviceMaps.from_model(models[0])
        except Exception as exc:
            raise RegmapError(f"register map file {spec}: {models[0].__name__}(): {exc}") from exc
    maps = [v for v in ns.values() if isinstance(v, type) and issubclass(v, RegMap)
            and v.__module__ == module.__name__]
    if len(maps) == 1:
        return DeviceMaps(str(name), MappingProxyType({0: maps[0]}), ns.get("VENDOR"), ns.get("DEVICE"))
    found = f"{len(models)} device models and {len(maps)} register maps"
    raise RegmapError(f"register map file {spec}: found {found}; define REGMAPS = {{bar: RegMap, ...}}")


def machine_maps(path: str | Path) -> tuple[DeviceMaps, ...]:
    """The maps of every device model of a machine file (its users' .py models included).

    They are matched to a dump's PCIDEV lines by PCI ids, before the bundled
    models, so a trace made with ``--machine FILE`` names its registers when
    analysed with the same file.
    """
    from ..machine.config import MachineFileError, load_machine_file
    try:
        config = load_machine_file(path)
    except MachineFileError as exc:
        raise RegmapError(f"--machine {path}: {exc}") from None
    out: list[DeviceMaps] = []
    seen: set[tuple[int | None, int | None]] = set()
    for dev in config.devices:
        try:
            maps = DeviceMaps.from_model(dev.model_class())
        except Exception as exc:  # a user's model may fail in its __init__: say which
            raise RegmapError(f"--machine {path}: device model {dev.model}: {exc}") from exc
        if (maps.vendor, maps.device) not in seen:
            seen.add((maps.vendor, maps.device))
            out.append(maps)
    return tuple(out)


def _import(path: Path):
    try:
        return import_python_file(path, "register map file", "ftrace_mmio_user_regmap")
    except ModelLoadError as exc:
        raise RegmapError(str(exc)) from exc
