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

from rethinking.reports.claims import INCONCLUSIVE, Claim, Section, judge
from rethinking.reports.formatting import markdown, num_ci, pct_ci
from rethinking.reports.plotting import figure_title, plot_mean_curve, pyplot, save
from rethinking.reports.stats import fit_time, format_p, paired, paired_t_p
from rethinking.reports.tables import DESCRIPTORS, condition, finished, model_label, read_metrics, seed_groups, source_kind


def _from_scratch_key(row: Mapping[str, Any]) -> tuple:

    return tuple(row.get(c) for c in DESCRIPTORS if c != "init_from")


def split_runs(rows: Sequence[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]],
                                                             list[Mapping[str, Any]]]:
    """Finished rows as (sources, started from a source, from scratch with a started twin).

    A source is a row another row starts from; "from scratch" are the rows without a source whose
    grid point (all but the source) is that of a started row.
    """
    done = finished(rows)
    used = {r.get("init_from") for r in done if r.get("init_from")}
    sources = [r for r in done if r.get("run") in used]
    started = [r for r in done if r.get("init_from")]
    twins = {_from_scratch_key(r) for r in started}
    scratch = [r for r in done if not r.get("init_from") and r.get("run") not in used and _from_scratch_key(r) in twins]
    return sources, started, scratch


def start_label(row: Mapping[str, Any]) -> str:
    """``from scratch`` or ``from <kind of source>``."""
    return f"from {source_kind(row['init_from'])}" if row.get("init_from") else "from scratch"


def _fit_epoch(row: Mapping[str, Any]) -> float | None:
    return row.get("fit_epoch") if row.get("fit_epoch") not in (None, "") else None


def pretraining(rows: Sequence[Mapping[str, Any]], out: Path | None, paper: Sequence[Mapping[str, Any]] = ()) -> Section:
    """The comparison table, the paired differences and the accuracy-per-epoch figure."""
    sources, started, scratch = split_runs(rows)
    if not started:
        return Section(None, "No finished run starts from another run of the sweep (init_from_run): nothing to compare.")
    table = []
    for group in seed_groups(scratch + started):
        first = group[0]
        fitted = [_fit_epoch(r) for r in group if _fit_epoch(r) is not None]
        table.append([model_label(first), condition(first), start_label(first), len(group),
                      num_ci(fitted) + (f" ({len(group) - len(fitted)} not fitted)" if len(fitted) < len(group) else ""),
                      pct_ci([r.get("test_accuracy") for r in group]), pct_ci([r.get("best_test_accuracy") for r in group])])
    by_seed = {(_from_scratch_key(r), r.get("seed"), r.get("init_seed")): r for r in scratch}
    differences, claims = [], []
    for group in seed_groups(started):
        pairs = [(r, by_seed.get((_from_scratch_key(r), r.get("seed"), r.get("init_seed")))) for r in group]
        pairs = [(r, s) for r, s in pairs if s is not None]
        if not pairs:
            continue
        name = f"{model_label(group[0])}, {condition(group[0])}, {start_label(group[0])}"
        epochs = paired([(fit_time(r, "fit_epoch", "epochs_trained"), fit_time(s, "fit_epoch", "epochs_trained"))
                         for r, s in pairs], "difference")
        tests = paired([(r["test_accuracy"], s["test_accuracy"]) for r, s in pairs], "difference")
        differences.append([model_label(group[0]), condition(group[0]), start_label(group[0]), len(pairs),
                            epochs.text(1, "epochs"), pct_ci(tests.values)])
        for what, diff, digits in (("epochs to fit", epochs, 1), ("final test accuracy", tests, None)):
            p = paired_t_p(diff.values, "two-sided")
            estimate = diff.text(1, "epochs") if digits else (
                f"{100 * diff.summary.mean:+.2f}" + (f" ± {100 * diff.summary.half:.2f}" if diff.summary.half is not None
                                                     else "") + f" points (n={diff.summary.n}, paired by seed)")
            statement = f"{name}: {what} differs from scratch"
            claims.append(Claim(statement, estimate, f"paired t-test, two-sided p {format_p(p)}", p) if p is not None
                          else Claim(statement, estimate, "one seed: no test", verdict=INCONCLUSIVE))
    source_table = [[r["run"], condition(r), _fit_epoch(r) if _fit_epoch(r) is not None else "not fitted",
                     pct_ci([r.get("train_accuracy")])] for r in sources]
    plt = pyplot()
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
    path = save(fig, out / "pretraining.png" if out else None, figure_title("Random-label pre-training", rows))
    text = [markdown(["model", "labels", "start", "seeds", "epochs to fit", "test acc % (final)",
                       "test acc % (best epoch)"], table), "",
            "Paired by seed (each run against the run from scratch of the same seed): epochs to fit, "
            "pre-trained minus from scratch (negative: faster), and final test accuracy, difference in points.", "",
            markdown(["model", "labels", "start", "pairs", "epochs to fit, difference", "test acc difference (points)"],
                     differences), "",
            "The source runs:", "", markdown(["run", "labels", "epoch fitted", "train acc %"], source_table)]
    return Section(path, "\n".join(text), tuple(judge(claims)))
