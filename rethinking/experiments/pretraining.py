"""The ``pretraining`` report: training from another run's network against training from scratch.

For sweeps with ``init_from_run`` (Maennel et al. 2020, "What do neural networks learn when trained
with random labels?"): the runs that start from a source run, the same runs from scratch, and the
sources themselves. Per grid point (mean and 95% interval over seeds): epochs to fit, final and best
test accuracy; per kind of source, the paired difference to the run from scratch of the same seed
(a negative epoch difference: the pre-trained network fits faster). Figure: training and test
accuracy per epoch, from scratch and from each kind of source.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def _from_scratch_key(row: Mapping[str, Any]) -> tuple:
    from rethinking.experiments.report import _DESCRIPTORS  # noqa: PLC0415

    return tuple(row.get(c) for c in _DESCRIPTORS if c != "init_from")


def split_runs(rows: Sequence[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]],
                                                             list[Mapping[str, Any]]]:
    """Finished rows as (sources, started from a source, from scratch with a started twin).

    A source is a row another row starts from; "from scratch" are the rows without a source whose
    grid point (all but the source) is that of a started row.
    """
    from rethinking.experiments.report import finished  # noqa: PLC0415

    done = finished(rows)
    used = {r.get("init_from") for r in done if r.get("init_from")}
    sources = [r for r in done if r.get("run") in used]
    started = [r for r in done if r.get("init_from")]
    twins = {_from_scratch_key(r) for r in started}
    scratch = [r for r in done if not r.get("init_from") and r.get("run") not in used and _from_scratch_key(r) in twins]
    return sources, started, scratch


def start_label(row: Mapping[str, Any]) -> str:
    """``from scratch`` or ``from <kind of source>``."""
    from rethinking.experiments.report import source_kind  # noqa: PLC0415

    return f"from {source_kind(row['init_from'])}" if row.get("init_from") else "from scratch"


def _fit_epoch(row: Mapping[str, Any]) -> float | None:
    return row.get("fit_epoch") if row.get("fit_epoch") not in (None, "") else None


def pretraining(rows: Sequence[Mapping[str, Any]], out: Path) -> tuple[Path | None, str]:
    """The comparison table, the paired differences and the accuracy-per-epoch figure."""
    from rethinking.experiments.report import (_markdown, _num_ci, _pct_ci, _plt, _save, condition,  # noqa: PLC0415
                                               mean_ci, model_label, plot_mean_curve, read_metrics, seed_groups)

    sources, started, scratch = split_runs(rows)
    if not started:
        return None, "No finished run starts from another run of the sweep (init_from_run): nothing to compare."
    table = []
    for group in seed_groups(scratch + started):
        first = group[0]
        fitted = [_fit_epoch(r) for r in group if _fit_epoch(r) is not None]
        table.append([model_label(first), condition(first), start_label(first), len(group),
                      _num_ci(fitted) + (f" ({len(group) - len(fitted)} not fitted)" if len(fitted) < len(group) else ""),
                      _pct_ci([r.get("test_accuracy") for r in group]), _pct_ci([r.get("best_test_accuracy") for r in group])])
    by_seed = {(_from_scratch_key(r), r.get("seed"), r.get("init_seed")): r for r in scratch}
    paired = []
    for group in seed_groups(started):
        pairs = [(r, by_seed.get((_from_scratch_key(r), r.get("seed"), r.get("init_seed")))) for r in group]
        pairs = [(r, s) for r, s in pairs if s is not None]
        if not pairs:
            continue
        epochs = [_fit_epoch(r) - _fit_epoch(s) for r, s in pairs if _fit_epoch(r) is not None and _fit_epoch(s) is not None]
        tests = [r["test_accuracy"] - s["test_accuracy"] for r, s in pairs]
        mean, half, n = mean_ci(epochs)
        verdict = "-" if n < 2 or half is None else ("faster" if mean + half < 0 else "slower" if mean - half > 0
                                                      else "no difference beyond the interval")
        paired.append([model_label(group[0]), condition(group[0]), start_label(group[0]), len(pairs),
                       (f"{mean:+.1f}" + (f" ± {half:.1f}" if half is not None else "")) if n else "-", verdict,
                       _pct_ci(tests)])
    source_table = [[r["run"], condition(r), _fit_epoch(r) if _fit_epoch(r) is not None else "not fitted",
                     _pct_ci([r.get("train_accuracy")])] for r in sources]
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for group in seed_groups(scratch + started):
        label = f"{condition(group[0])}, {start_label(group[0])}"
        curves = [r for r in group if read_metrics(r["run_dir"])]
        if not curves:
            continue
        for ax, key in zip(axes, ("train_accuracy", "test_accuracy")):
            plot_mean_curve(ax, curves, lambda m, key=key: m.get(key, math.nan), x=lambda m: m["epoch"], label=label)
    for ax, what in zip(axes, ("training accuracy", "test accuracy")):
        ax.set(xlabel="epoch", ylabel=what, ylim=(0, 1.02))
        if ax.has_data():
            ax.legend(fontsize=7)
    path = _save(fig, out / "pretraining.png")
    text = [_markdown(["model", "labels", "start", "seeds", "epochs to fit", "test acc % (final)",
                       "test acc % (best epoch)"], table), "",
            "Paired by seed (each run against the run from scratch of the same seed): epochs to fit, "
            "pre-trained minus from scratch (negative: faster), and final test accuracy, difference in points.", "",
            _markdown(["model", "labels", "start", "pairs", "epochs to fit, difference", "verdict (95%)",
                       "test acc difference (points)"], paired), "",
            "The source runs:", "", _markdown(["run", "labels", "epoch fitted", "train acc %"], source_table)]
    return path, "\n".join(text)
