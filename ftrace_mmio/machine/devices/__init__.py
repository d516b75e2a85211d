"""Device models: the built-in ones by name, and models users write in a Python file.

A model file is ordinary Python that subclasses
:class:`~ftrace_mmio.machine.devices.base.DeviceModel` (see docs/devices.md).
``model_class("nvlike")`` gives a built-in class, ``model_class("./mydev.py")``
loads the file; ``create_model`` does either and returns an instance.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from .base import (AccessRecord, BarSpec, DeviceModel, MemoryRegion, Region, RegisterRegion,
                   SparseMemory)
from .edu import Edu
from .i6300esb import I6300Esb
from .nvlike import NvLike
from .pvpanic import Pvpanic
from .rtl8139 import Rtl8139
from .testmmio import TestMmio
from .uart16550 import Uart16550

__all__ = [
    "AccessRecord", "BarSpec", "DeviceModel", "MemoryRegion", "Region", "RegisterRegion",
    "SparseMemory", "BUILTIN_MODELS", "ModelLoadError", "available_models", "create_model",
    "load_model_file", "model_class",
]

BUILTIN_MODELS: Mapping[str, type[DeviceModel]] = MappingProxyType(
    {cls.name: cls for cls in (TestMmio, NvLike, Uart16550, Edu, Pvpanic, I6300Esb, Rtl8139)})


class ModelLoadError(Exception):
    """A model file could not be loaded, or declares something PCI cannot be."""


def available_models() -> list[str]:
    return sorted(BUILTIN_MODELS)


def import_python_file(path: Path, what: str, prefix: str):
    """Import a user's Python file as a module of its own (one per file path).

    ModelLoadError names the file as ``what`` and says what went wrong.
    """
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    module_name = f"{prefix}_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ModelLoadError(f"{what} {path}: not a Python source file")
    module = importlib.util.module_from_spec(spec)
    # Registered while it runs so that dataclasses and pickling inside it resolve the module.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise ModelLoadError(f"{what} {path}: {type(exc).__name__}: {exc}") from exc
    return module


def load_model_file(path: str | Path) -> type[DeviceModel]:
    """Import a Python file and return the device model class it defines.

    The file defines one :class:`DeviceModel` subclass with a ``name``, or
    several and says which with ``MODEL = ThatClass``.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"device model file {path}: no such file")
    module = import_python_file(path, "device model file", "ftrace_mmio_user_model")
    module_name = module.__name__
    chosen = getattr(module, "MODEL", None)
    if chosen is None:
        found = [obj for obj in vars(module).values()
                 if isinstance(obj, type) and issubclass(obj, DeviceModel)
                 and obj.__module__ == module_name and obj.name]
        if len(found) != 1:
            what = "no DeviceModel subclass with a name" if not found else \
                "several models (" + ", ".join(c.__name__ for c in found) + "); set MODEL = one of them"
            raise ModelLoadError(f"device model file {path}: {what}")
        chosen = found[0]
    if not (isinstance(chosen, type) and issubclass(chosen, DeviceModel)):
        raise ModelLoadError(f"device model file {path}: MODEL is not a DeviceModel subclass")
    try:
        chosen.validate()
    except ValueError as exc:
        raise ModelLoadError(f"device model file {path}: {exc}") from exc
    return chosen


def model_class(name_or_path: str | Path) -> type[DeviceModel]:
    """A built-in model by name, or the model in a ``.py`` file."""
    text = str(name_or_path)
    if text in BUILTIN_MODELS:
        return BUILTIN_MODELS[text]
    if text.endswith(".py") or "/" in text:
        return load_model_file(text)
    raise ModelLoadError(f"unknown device model {text!r}: built-in models are "
                         f"{', '.join(available_models())}, or give a path to a .py file")


def create_model(name_or_path: str | Path | DeviceModel) -> DeviceModel:
    if isinstance(name_or_path, DeviceModel):
        return name_or_path
    return model_class(name_or_path)()
