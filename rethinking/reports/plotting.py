"""Figures: matplotlib without a display, one style, every figure as PNG, PDF and SVG."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rethinking.atomic import atomic_write_with
from rethinking.reports.stats import mean_ci
from rethinking.reports.tables import read_metrics

NO_CURVES = ("The curves need the runs' per-epoch metrics (metrics.csv), and no run folder with one is "
             "beside this table ('rethinking export' copies a sweep with them).")
# Every figure is written in these formats beside each other (report.md shows the PNG).
FIGURE_FORMATS = (".png", ".pdf", ".svg")


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def save(fig, path: Path | None) -> Path | None:
    """Writes the figure as PNG, PDF and SVG; None (nothing written) when no axis has anything drawn
    or ``path`` is None (a report asked for its tables and claims only)."""
    if path is None or not any(ax.has_data() for ax in fig.axes):
        pyplot().close(fig)
        return None
    fig.tight_layout()
    for suffix in FIGURE_FORMATS:
        atomic_write_with(path.with_suffix(suffix), lambda tmp: fig.savefig(tmp, dpi=120))
    pyplot().close(fig)
    return path


def thousand_steps(metrics: Mapping[str, float]) -> float:
    """The x axis of the learning curves: thousand training steps."""
    return metrics["step"] / 1000


def mean_curve(runs: Sequence[Mapping[str, Any]], value: Callable[[Mapping[str, float]], float],
               x: Callable[[Mapping[str, float]], float] = thousand_steps
               ) -> tuple[list[float], list[float], list[float]]:
    """Per epoch, over the runs (seeds) that reached it: ``x`` (default: thousand steps), mean of
    ``value``, CI half-width."""
    by_epoch: dict[int, list[tuple[float, float]]] = {}
    for r in runs:
        for m in read_metrics(r["run_dir"]):
            y = value(m)
            if not math.isnan(y):
                by_epoch.setdefault(int(m["epoch"]), []).append((x(m), y))
    xs, ys, halves = [], [], []
    for epoch in sorted(by_epoch):
        points = by_epoch[epoch]
        mean, half, _ = mean_ci([y for _, y in points])
        xs.append(points[0][0])
        ys.append(mean)
        halves.append(half or 0.0)
    return xs, ys, halves


def plot_mean_curve(ax, runs: Sequence[Mapping[str, Any]], value: Callable[[Mapping[str, float]], float],
                    x: Callable[[Mapping[str, float]], float] = thousand_steps, **style: Any) -> None:
    """``mean_curve`` drawn on ``ax``: the mean line and, over several seeds, its 95% band."""
    xs, ys, halves = mean_curve(runs, value, x)
    line, = ax.plot(xs, ys, **style)
    if any(halves):
        ax.fill_between(xs, [y - h for y, h in zip(ys, halves)], [y + h for y, h in zip(ys, halves)],
                        color=line.get_color(), alpha=0.2)


