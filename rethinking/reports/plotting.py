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


# Print resolution of the PNG (dots per inch): sharp in a paper or on a high-density screen.
DPI = 300
# Readable names of the datasets the toolkit lists; a .npz file is named by its file name.
DATASET_NAMES = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "mnist": "MNIST", "fashion_mnist": "Fashion-MNIST",
                 "digits": "digits (embedded)", "svhn_cropped": "SVHN", "imagenet2012": "ImageNet"}


def dataset_label(row: Mapping[str, Any]) -> str:
    """``CIFAR-10``, ``cifar10_subset.npz, 2,000 training images``, ...: the data a run trained on."""
    dataset = str(row.get("dataset") or "?")
    label = DATASET_NAMES.get(dataset, Path(dataset).name)
    count = row.get("train_examples")
    if isinstance(count, (int, float)) and count == count and count > 0:
        label += f", {int(count):,} training images"
    return label


def figure_title(what: str, rows: Sequence[Mapping[str, Any]]) -> str:
    """``Figure 1c: inception_small, alexnet_small on CIFAR-10``: the figure, its models and data."""
    models = list(dict.fromkeys(str(r.get("model", "?")).rpartition(":")[2] for r in rows))
    data = list(dict.fromkeys(dataset_label(r) for r in rows))
    return f"{what}: {', '.join(models)} on {'; '.join(data)}"


def paper_setting(rows: Sequence[Mapping[str, Any]], short: bool = False) -> str:
    """How to label the paper's numbers beside ours: ``paper``, or ``paper: full CIFAR-10, another
    setting`` (``short``: ``paper, full CIFAR-10``, for a legend) when these runs are not on the
    whole CIFAR-10 (the paper's numbers are)."""
    same = rows and all(r.get("dataset") == "cifar10" and not r.get("train_examples") for r in rows)
    return "paper" if same else "paper, full CIFAR-10" if short else "paper: full CIFAR-10, another setting"


def save(fig, path: Path | None, title: str | None = None) -> Path | None:
    """Writes the figure as PNG (``DPI``), PDF and SVG, titled ``title`` (``figure_title``); None
    (nothing written) when no axis has anything drawn or ``path`` is None (a report asked for its
    tables and claims only)."""
    if path is None or not any(ax.has_data() for ax in fig.axes):
        pyplot().close(fig)
        return None
    if title:
        import textwrap  # noqa: PLC0415

        characters = max(40, int(fig.get_figwidth() * 72 / 6))  # ~6 points per character at 10 points
        fig.suptitle("\n".join(textwrap.wrap(title, characters)), fontsize=10)
    fig.tight_layout()
    for suffix in FIGURE_FORMATS:
        atomic_write_with(path.with_suffix(suffix), lambda tmp: fig.savefig(tmp, dpi=DPI))
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


