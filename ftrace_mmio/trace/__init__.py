"""kernel/trace: the ftrace core. Knows nothing of FUSE or CPUs."""

# nop is the boot tracer: registered before anything else can be, so that it
# is always last in available_tracers, as on the kernel.
from . import nop as _nop  # noqa: F401
