"""ftrace-mmio: Linux mmiotrace re-created on an emulated x86-64 machine."""

__version__ = "0.1.0"
