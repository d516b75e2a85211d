"""``ftrace-mmio stats --plot``: one timeline row per register.

Reads are blue ticks, writes red ticks, undecodable accesses black crosses;
a green band marks each polling loop on its registers' rows, grey bands the
gaps over the threshold, and a red dashed line every report of lost
events. Rows are the most accessed registers (``max_rows``), in device and
offset order, so neighbouring registers stay together.

Points are collected while the stats pass streams the dump, into at most
2048 time bins per register (stats.Timeline: the bins widen as the dump goes
on), so memory does not grow with the dump and a 100M-line trace draws as
fast as a short one: a tick is a bin with accesses of that kind, the
same on a 12-inch figure as a tick per access would look.

matplotlib is an optional dependency (``pip install ftrace-mmio[analysis]``);
it is imported only when a plot is drawn, with the Agg backend (no display).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .stats import DumpStats, Timeline

__all__ = ["Timeline", "PlotError", "render_plot"]

READ_COLOUR = "#1f77b4"
WRITE_COLOUR = "#d62728"
UNKNOWN_COLOUR = "#000000"
LOOP_COLOUR = "#2ca02c"
GAP_COLOUR = "#bbbbbb"
LOST_COLOUR = "#d62728"


class PlotError(Exception):
    """The plot could not be drawn (matplotlib missing, unwritable file)."""


def render_plot(stats: DumpStats, timeline: Timeline, path: str | Path, *, max_rows: int = 40,
                title: str | None = None) -> dict[str, Any]:
    """Draw the timeline into ``path`` (PNG, SVG or PDF by suffix); returns what was drawn."""
    try:
        import matplotlib
        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch
    except ImportError as exc:
        raise PlotError("--plot needs matplotlib: pip install 'ftrace-mmio[analysis]'") from exc

    regs = sorted(stats.hot(max_rows), key=lambda r: (r.device, r.space, r.offset, r.name or ""))
    hidden = len(stats.registers) - len(regs)
    if not regs:
        raise PlotError("nothing to plot: the dump has no register accesses")
    origin = stats.first_us or 0
    # Rows top to bottom in register order: matplotlib counts y upwards, so reverse.
    ypos = {r.key: len(regs) - 1 - i for i, r in enumerate(regs)}
    labels = [r.label if r.name else r.location for r in regs]

    height = max(3.0, 0.28 * len(regs) + 1.8)
    fig, ax = plt.subplots(figsize=(12, height), dpi=100)
    try:
        for g in stats.gaps:
            if g.gap_us >= stats.gap_threshold_us:
                ax.axvspan(g.at_us - g.gap_us - origin, g.at_us - origin, color=GAP_COLOUR, alpha=0.35, lw=0)
        # Loops as bands on their registers' rows, from the timeline's bins: every loop of a
        # long dump shows (stats keeps only the first ones in full), in a bounded number of bands.
        for key, y in ypos.items():
            spans = [(x - origin, w) for x, w in timeline.spans(key)]
            if spans:
                ax.broken_barh(spans, (y - 0.4, 0.8), color=LOOP_COLOUR, alpha=0.25, lw=0)
        drawn = 0
        for key, y in ypos.items():
            for kind, colour, marker in (("R", READ_COLOUR, "|"), ("W", WRITE_COLOUR, "|"),
                                         ("U", UNKNOWN_COLOUR, "x")):
                xs = [t - origin for t in timeline.times(key, kind)]
                if xs:
                    ax.scatter(xs, [y] * len(xs), marker=marker, s=120 if marker == "|" else 30,
                               c=colour, linewidths=1.2)
                    drawn += len(xs)
        for loss in stats.losses:
            # A loss report has no time of its own: it is drawn where the events before it ended.
            at = loss.at_us if loss.at_us is not None else origin
            ax.axvline(at - origin, color=LOST_COLOUR, ls="--", lw=1)
        ax.set_yticks(range(len(regs)))
        ax.set_yticklabels(list(reversed(labels)), fontsize=8, family="monospace")
        ax.set_ylim(-0.7, len(regs) - 0.3)
        ax.set_xlabel(f"microseconds since {origin // 1_000_000}.{origin % 1_000_000:06d}")
        ax.grid(axis="x", color="#dddddd", lw=0.6)
        ax.grid(axis="y", color="#eeeeee", lw=0.4)
        ax.set_axisbelow(True)
        more = f", {hidden} quieter registers not shown" if hidden > 0 else ""
        n_acc = sum(r.accesses for r in stats.registers.values())
        n_loops = stats.loop_count
        ax.set_title(title or f"{Path(stats.source).name or 'dump'}: {n_acc} accesses, "
                     f"{n_loops} polling loop{'' if n_loops == 1 else 's'}{more}", fontsize=10, loc="left")
        handles = [Line2D([], [], color=READ_COLOUR, marker="|", ls="", ms=10, label="read"),
                   Line2D([], [], color=WRITE_COLOUR, marker="|", ls="", ms=10, label="write"),
                   Patch(color=LOOP_COLOUR, alpha=0.25, label="polling loop")]
        if stats.records.get("UNKNOWN"):
            handles.append(Line2D([], [], color=UNKNOWN_COLOUR, marker="x", ls="", label="UNKNOWN"))
        if stats.gaps_over_threshold:
            handles.append(Patch(color=GAP_COLOUR, alpha=0.35, label=f"gap >= {stats.gap_threshold_us} us"))
        if stats.losses:
            handles.append(Line2D([], [], color=LOST_COLOUR, ls="--", label="lost events"))
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
        fig.tight_layout(rect=(0, 0.35 / height, 1, 1))
        try:
            fig.savefig(path)
        except OSError as exc:
            raise PlotError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        plt.close(fig)
    return {"rows": len(regs), "hidden": max(hidden, 0), "points": drawn, "loops": len(stats.loops)}
