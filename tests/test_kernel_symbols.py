"""docs/kernel/symbols.md lists exactly what a module can link against."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_symbol_table_in_the_docs_is_current() -> None:
    made = subprocess.run([sys.executable, str(ROOT / "scripts" / "kernel-symbols")],
                          capture_output=True, text=True, check=True).stdout
    kept = (ROOT / "docs" / "kernel" / "symbols.md").read_text()
    assert made == kept, "run ./scripts/kernel-symbols > docs/kernel/symbols.md"
    # A few every Linux PCI driver needs, so the table cannot silently empty.
    for name in ("__pci_register_driver", "request_threaded_irq", "dma_alloc_attrs",
                 "msleep", "mod_timer", "queue_work_on", "complete", "devm_kmalloc"):
        assert f"`{name}`" in kept, name
