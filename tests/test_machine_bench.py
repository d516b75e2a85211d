"""The benchmark harness runs and its two runs of compute() agree (the
figures themselves are printed by scripts/bench, not asserted here)."""

from __future__ import annotations

from ftrace_mmio.machine.bench import bench_machine, format_figures

from machine_util import make_machine


def test_bench_runs_on_a_machine(tmp_path_factory):
    m = make_machine(tmp_path_factory)
    try:
        fig = bench_machine(loops=20_000, calls=200, reads=200, repeat=1, machine=m)
    finally:
        m.close()
    assert set(fig) == {"boot_s", "compute_loops", "compute_machine_s", "compute_bare_flat_s",
                        "compute_bare_paged_s", "compute_ratio", "kapi_us_per_call", "mmio_read_us"}
    assert all(v > 0 for k, v in fig.items() if k != "kapi_us_per_call")
    text = format_figures(fig)
    assert "machine / fastest bare:" in text and "kernel API call:" in text
