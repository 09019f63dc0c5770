"""The paper's Figure 2: what early stopping could give (2a) and batch norm on vs off (2b).

* ``figure2a``: final vs best test accuracy of each true-label grid point (mean and 95% interval
  over seeds); the claim "the best test accuracy during training is above the final one" is a
  paired t-test over the runs (the same run's two numbers).
* ``figure2b``: training and test accuracy vs steps, batch norm on and off (mean and 95% band); the
  claim "batch norm raises test accuracy" pairs the two by seed, over runs that both reached the
  fit threshold (a run that did not is left out, and the claim says so).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rethinking.reports.accuracy import gain_claim
from rethinking.reports.claims import INCONCLUSIVE, Claim, Section, judge
from rethinking.reports.formatting import markdown, pct_ci
from rethinking.reports.plotting import figure_title, NO_CURVES, plot_mean_curve, pyplot, save
from rethinking.reports.stats import format_p, mean_ci, paired_t_p
from rethinking.reports.tables import finished, model_label, read_metrics, regularizers, seed_groups

Rows = Sequence[Mapping[str, Any]]


def figure2a(rows: Rows, out: Path | None, paper: Rows = ()) -> Section:
    """Final vs best test accuracy per grid point (true labels only: the early-stopping gain)."""
    runs = [r for r in finished(rows) if (r.get("corruption_prob") or 0) == 0 and r.get("pixels") in (None, "original")]
    if not runs:
        return Section(None, "No finished run with true labels yet.")
    groups = seed_groups(runs)
    plt = pyplot()
    labels = ["\n(".join(model_label(g[0]).split(" (", 1)) + f"\n{regularizers(g[0])}" for g in groups]
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(groups)), 4.0))
    xs = range(len(groups))
    for offset, key, name in ((-0.2, "test_accuracy", "final"), (0.2, "best_test_accuracy", "best during training")):
        stats = [mean_ci([r[key] for r in g]) for g in groups]
        ax.bar([x + offset for x in xs], [m for m, _, _ in stats], width=0.4, label=name,
               yerr=[h or 0.0 for _, h, _ in stats], capsize=3)
    ax.set_xticks(list(xs), labels, fontsize=7)
    ax.set(ylabel="test accuracy")
    ax.set_ylim(0, max(1.0, ax.get_ylim()[1]))  # no error bar cut at 100%
    ax.legend(fontsize=8)
    path = save(fig, out / "figure2a.png" if out else None, figure_title("Figure 2a", rows))
    table = [[model_label(g[0]), regularizers(g[0]), pct_ci([r["test_accuracy"] for r in g]),
              pct_ci([r["best_test_accuracy"] for r in g]), ", ".join(str(r.get("best_test_epoch")) for r in g),
              pct_ci([r["best_test_accuracy"] - r["test_accuracy"] for r in g])] for g in groups]
    gains = [r["best_test_accuracy"] - r["test_accuracy"] for r in runs]
    mean, half, n = mean_ci(gains)
    p = paired_t_p(gains, "greater")
    estimate = f"{100 * mean:+.2f}" + (f" ± {100 * half:.2f}" if half is not None else "") + f" points (n={n} runs)"
    claim = (Claim("the best test accuracy during training is above the final one (early stopping helps)", estimate,
                   f"paired t-test over the runs, one-sided p {format_p(p)}", p, mean > 0) if p is not None else
             Claim("the best test accuracy during training is above the final one", estimate, "one run: no test",
                   verdict=INCONCLUSIVE))
    return Section(path, markdown(["model", "regularizers", "final test %", "best test %", "best at epoch",
                                   "gain (points)"], table), tuple(judge([claim])))


def figure2b(rows: Rows, out: Path | None, paper: Rows = ()) -> Section:
    """Training and test accuracy vs steps, batch norm on vs off (mean and 95% band over seeds)."""
    runs = [r for r in finished(rows) if str(r.get("model", "")).startswith("inception")]
    if not runs:
        return Section(None, "No finished Inception run yet.")
    table = [[model_label(g[0]), regularizers(g[0]), pct_ci([r["train_accuracy"] for r in g]),
              pct_ci([r["test_accuracy"] for r in g]), pct_ci([r["best_test_accuracy"] for r in g]),
              f"{sum(r.get('fit_step') not in (None, '') for r in g)} of {len(g)}"]
             for g in seed_groups(runs)]
    text = markdown(["model", "regularizers", "train %", "test %", "best test %", "reached fit threshold"], table)
    claims = []
    for setting in dict.fromkeys(regularizers(r) for r in runs):
        on = [r for r in runs if r.get("batch_norm") and regularizers(r) == setting]
        off = [r for r in runs if not r.get("batch_norm") and regularizers(r) == setting]
        if on and off:
            claims.append(gain_claim(f"batch norm raises test accuracy ({setting})", on, off))
    curves = [r for r in runs if read_metrics(r["run_dir"])]
    if not curves:
        return Section(None, f"{NO_CURVES}\n\n{text}", tuple(judge(claims)))
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for group in seed_groups(curves):
        first = group[0]
        name = f"{'BN' if first.get('batch_norm') else 'no BN'}, {regularizers(first)}"
        for ax, key in zip(axes, ("train_accuracy", "test_accuracy")):
            plot_mean_curve(ax, group, lambda m, key=key: m[key], label=name)
    for ax, what in zip(axes, ("training accuracy", "test accuracy")):
        ax.set(xlabel="thousand steps", ylabel=what, ylim=(0, 1))
        ax.legend(fontsize=8)
    path = save(fig, out / "figure2b.png" if out else None, figure_title("Figure 2b", rows))
    return Section(path, text, tuple(judge(claims)))
