"""The nop tracer: traces nothing itself; markers and printks still land.

Its two options exist to exercise tracer options: setting
``test_nop_accept`` is allowed, setting ``test_nop_refuse`` is refused.
"""

from __future__ import annotations

import errno

from .tracer import Tracer, register_tracer


@register_tracer
class NopTracer(Tracer):
    name = "nop"
    options = {"test_nop_accept": False, "test_nop_refuse": False}

    def set_option(self, name: str, value: bool) -> None:
        if name == "test_nop_refuse":
            raise OSError(errno.EINVAL, "nop refuses test_nop_refuse")
        super().set_option(name, value)
