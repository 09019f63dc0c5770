"""Reports of per-example learning dynamics: learning order and forgetting under label noise.

Two reports of ``rethinking report`` (names in ``rethinking.reports.registry``), read from each run's
``metrics.csv`` and ``examples.csv`` (training/dynamics.py says how they are counted):

* ``learning_order``: per grid point, the fraction of clean and of corrupted training examples
  classified as labelled, per epoch (mean and 95% band over seeds): Arpit et al. 2017 ("A closer
  look at memorization in deep networks") find that networks fit the clean examples first and the
  noise later, and that regularizers (dropout) delay the memorization of noise more than learning.
* ``forgetting``: per grid point, histograms of forgetting events for clean and corrupted examples
  (Toneva et al. 2019, "An empirical study of example forgetting"), and how well "forgotten often"
  or "learned late" picks out the corrupted examples, which the toolkit knows: the area under the
  ROC curve (AUROC; 0.5 = no better than chance) and the precision and recall at the threshold of
  the best F1, mean and 95% interval over seeds.

Scores: "forgotten often" is the forgetting-event count, never-learned examples ranking as forgotten
the most (Toneva et al.; ``forgetting_score`` in examples.csv); "learned late" (ours) is the first
epoch after training began at which an example was classified as labelled (``first_learned_epoch``;
being right by chance before training does not count), never-learned examples ranking last.

Claims: clean examples are fitted before corrupted ones (per run, the epoch at which half of the
corrupted examples are fitted minus that of the clean ones; a run whose corrupted half is never
fitted counts at its last epoch, a lower bound), and each score finds the corrupted examples better
than chance (AUROC > 0.5), each a one-sided t-test over the seeds.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rethinking.reports.claims import INCONCLUSIVE, Claim, Section, judge
from rethinking.reports.formatting import markdown, num_ci, pct_ci
from rethinking.reports.plotting import figure_title, NO_CURVES, plot_mean_curve, pyplot, save
from rethinking.reports.stats import format_p, mean_ci, paired_t_p
from rethinking.reports.tables import condition, finished, model_label, read_metrics, seed_groups

EXAMPLES_FILE = "examples.csv"
SCORES = ("forgotten often", "learned late")


def read_examples(run_dir: str | Path | None) -> dict[str, np.ndarray] | None:
    """A run's examples.csv as integer columns, the loss as float (None when missing or written before the dynamics)."""
    path = Path(run_dir) / EXAMPLES_FILE if run_dir else None
    if path is None or not path.is_file():
        return None
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or "forgetting_events" not in rows[0]:
        return None
    return {key: (np.array([float(r[key]) for r in rows], np.float64) if key == "loss"
                  else np.array([int(r[key]) for r in rows], np.int64)) for key in rows[0]}


def auroc(scores: Sequence[float], positives: Sequence[bool]) -> float:
    """Probability that a positive scores above a negative (ties count half); NaN without both."""
    from scipy.stats import rankdata  # noqa: PLC0415

    scores, positives = np.asarray(scores, float), np.asarray(positives, bool)
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rankdata(scores)  # average ranks for ties: the Mann-Whitney U statistic
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def best_threshold(scores: Sequence[float], positives: Sequence[bool]) -> tuple[float, float, float]:
    """The threshold (flag ``score >= t``) of the best F1, with its precision and recall."""
    scores, positives = np.asarray(scores, float), np.asarray(positives, bool)
    best = (math.nan, math.nan, math.nan, -1.0)
    for threshold in np.unique(scores):
        flagged = scores >= threshold
        true_pos = int((flagged & positives).sum())
        if true_pos == 0:
            continue
        precision, recall = true_pos / int(flagged.sum()), true_pos / int(positives.sum())
        f1 = 2 * precision * recall / (precision + recall)
        if f1 > best[3]:
            best = (float(threshold), precision, recall, f1)
    return best[0], best[1], best[2]


def forgetting_score(examples: Mapping[str, np.ndarray]) -> np.ndarray:
    """Forgetting events, with never-learned examples ranked as forgotten the most (Toneva et al.
    2019): the ``forgetting_score`` column, or, for an examples.csv written before it, the events
    with never-learned examples set above the largest count (the same ranking)."""
    if "forgetting_score" in examples:
        return examples["forgetting_score"].astype(float)
    events = examples["forgetting_events"].astype(float)
    never = examples["first_learned_epoch"] < 0
    return np.where(never, events.max(initial=0.0) + 1, events)


def score(examples: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    """Per example, one of ``SCORES``: higher means "more likely corrupted"."""
    if name == "forgotten often":
        return forgetting_score(examples)
    if name == "learned late":
        # The first epoch correct after training began; the never learned rank after every learned one.
        first = examples["first_learned_epoch"].astype(float)
        return np.where(first < 0, first.max(initial=0.0) + 1, first)
    raise ValueError(f"Unknown score {name!r}: use one of {', '.join(SCORES)}.")


def separation(examples: Mapping[str, np.ndarray]) -> dict[str, tuple[float, float, float]]:
    """Per score: (AUROC, precision, recall at the best F1) for picking out the corrupted examples."""
    positives = examples["label_corrupted"].astype(bool)
    result = {}
    for name in SCORES:
        values = score(examples, name)
        _, precision, recall = best_threshold(values, positives)
        result[name] = (auroc(values, positives), precision, recall)
    return result


def setting(row: Mapping[str, Any]) -> str:
    """A grid point's name: model, regularizers (dropout included) and label corruption (p, or the
    human label set or transition matrix)."""
    regs = ((["crop"] if row.get("random_crop") else []) + ([f"wd {row['weight_decay']:g}"] if row.get("weight_decay")
            else []) + ([f"dropout {row['dropout']:g}"] if row.get("dropout") else []))
    if row.get("labels") in ("human", "matrix"):
        labels = condition(row)
    else:
        labels = f"p={row.get('corruption_prob') or 0:g}"
    return f"{model_label(row)}, {' + '.join(regs) or 'no regularizer'}, {labels}"


def _noisy_groups(rows: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """Finished runs with some but not all labels corrupted, grouped by grid point."""
    noisy = [r for r in finished(rows) if (0 < (r.get("corruption_prob") or 0) < 1 or r.get("labels") in ("human", "matrix"))
             and r.get("pixels") in (None, "original")]
    return seed_groups(noisy)


def _epoch_reaching(metrics: Sequence[Mapping[str, float]], key: str, level: float) -> float | None:
    return next((m["epoch"] for m in metrics if m.get(key, math.nan) >= level), None)


def _panels(count: int):
    """A figure with one panel per grid point, side by side: (figure, axes)."""
    fig, axes = pyplot().subplots(1, count, figsize=(4.6 * count, 3.6), squeeze=False)
    return fig, axes[0]


def _label_panel(ax, row: Mapping[str, Any], xlabel: str, ylabel: str, **limits: Any) -> None:
    ax.set(title=setting(row), xlabel=xlabel, ylabel=ylabel, **limits)
    ax.title.set_fontsize(8)
    ax.legend(fontsize=8)


def learning_order(rows: Sequence[Mapping[str, Any]], out: Path | None, paper: Sequence[Mapping[str, Any]] = ()
                   ) -> Section:
    """Fraction of clean vs corrupted training examples fitted per epoch, one panel per grid point."""
    groups = _noisy_groups(rows)
    if not groups:
        return Section(None, "No finished run with partially corrupted labels (0 < p < 1): nothing to split into clean "
                       "and corrupted.")
    curves = [[r for r in g if read_metrics(r["run_dir"])] for g in groups]
    if not any(curves):
        return Section(None, NO_CURVES)
    fig, axes = _panels(len(groups))
    table, claims = [], []
    for ax, group in zip(axes, curves):
        if not group:
            continue
        for key, style, name in (("train_accuracy_clean", "-", "clean"), ("train_accuracy_corrupted", "--", "corrupted")):
            plot_mean_curve(ax, group, lambda m, key=key: m.get(key, math.nan), x=lambda m: m["epoch"],
                            linestyle=style, label=f"{name} examples")
        _label_panel(ax, group[0], "epoch", "fraction fitted (inference mode)", ylim=(0, 1.02))
        reach = {key: [_epoch_reaching(read_metrics(r["run_dir"]), key, 0.5) for r in group]
                 for key in ("train_accuracy_clean", "train_accuracy_corrupted")}
        table.append([setting(group[0]), len(group),
                      num_ci([e for e in reach["train_accuracy_clean"] if e is not None]),
                      num_ci([e for e in reach["train_accuracy_corrupted"] if e is not None])
                      + _missing(reach["train_accuracy_corrupted"])])
        claims.append(_order_claim(group, reach))
    path = save(fig, out / "learning_order.png" if out else None, figure_title("Learning order", rows))
    text = markdown(["grid point", "seeds", "epoch half the clean examples are fitted",
                     "epoch half the corrupted examples are fitted"], table)
    return Section(path, text, tuple(judge(claims)))


def _order_claim(group: Sequence[Mapping[str, Any]], reach: Mapping[str, Sequence[float | None]]) -> Claim:
    """Clean before corrupted: per run, corrupted minus clean epoch of half fitted (censored: last epoch)."""
    lags = []
    for run, clean, corrupted in zip(group, reach["train_accuracy_clean"], reach["train_accuracy_corrupted"]):
        last = read_metrics(run["run_dir"])[-1]["epoch"]
        lags.append((corrupted if corrupted is not None else last) - (clean if clean is not None else last))
    censored = sum(c is None for c in reach["train_accuracy_corrupted"])
    mean, half, n = mean_ci(lags)
    estimate = (f"{'≥ ' if censored else ''}{mean:+.1f}" + (f" ± {half:.1f}" if half is not None else "") +
                f" epochs (n={n}" + (f", {censored} censored at the last epoch" if censored else "") + ")")
    statement = f"{setting(group[0])}: clean examples are fitted before corrupted ones"
    p = paired_t_p(lags, "greater")
    if p is None:
        return Claim(statement, estimate, "one seed: no test", direction=mean > 0, verdict=INCONCLUSIVE)
    return Claim(statement, estimate, f"t-test over the seeds, one-sided p {format_p(p)}", p, mean > 0)


def _missing(values: Sequence[Any]) -> str:
    gone = sum(v is None for v in values)
    return f" ({gone} run(s) never)" if gone else ""


def forgetting(rows: Sequence[Mapping[str, Any]], out: Path | None, paper: Sequence[Mapping[str, Any]] = ()) -> Section:
    """Forgetting-event histograms (clean vs corrupted) and how well the dynamics find the noise."""
    groups = _noisy_groups(rows)
    if not groups:
        return Section(None, "No finished run with partially corrupted labels (0 < p < 1): nothing to compare.")
    with_examples = [[(r, ex) for r in g if (ex := read_examples(r["run_dir"])) is not None] for g in groups]
    if not any(with_examples):
        return Section(None, "The histograms need the runs' examples.csv with forgetting counts (written since this "
                             "version; 'rethinking export' copies it for these reports).")
    fig, axes = _panels(len(groups))
    table, claims = [], []
    for ax, group in zip(axes, with_examples):
        if not group:
            continue
        events = np.concatenate([ex["forgetting_events"] for _, ex in group])
        corrupted = np.concatenate([ex["label_corrupted"] for _, ex in group]).astype(bool)
        bins = np.arange(0, max(int(events.max(initial=0)), 1) + 2) - 0.5
        for mask, name in ((~corrupted, "clean"), (corrupted, "corrupted")):
            ax.hist(events[mask], bins=bins, alpha=0.6, label=f"{name} examples", density=True)
        _label_panel(ax, group[0][0], "forgetting events", "fraction of examples")
        per_seed = [separation(ex) for _, ex in group]
        mean_events = {name: [float(ex["forgetting_events"][ex["label_corrupted"].astype(bool) == want].mean())
                              for _, ex in group] for name, want in (("clean", False), ("corrupted", True))}
        row = [setting(group[0][0]), len(group), _ci(mean_events["clean"]), _ci(mean_events["corrupted"])]
        for name in ("forgotten often", "learned late"):
            row += [_ci([s[name][0] for s in per_seed]), pct_ci([s[name][1] for s in per_seed]),
                    pct_ci([s[name][2] for s in per_seed])]
        table.append(row)
        for name in SCORES:
            aurocs = [s[name][0] for s in per_seed]
            mean, half, n = mean_ci(aurocs)
            estimate = f"AUROC {mean:.2f}" + (f" ± {half:.2f}" if half is not None else "") + f" (n={n})"
            statement = f"{setting(group[0][0])}: '{name}' finds the corrupted examples better than chance"
            p = paired_t_p([a - 0.5 for a in aurocs], "greater")
            claims.append(Claim(statement, estimate, f"t-test of AUROC > 0.5 over the seeds, one-sided p {format_p(p)}",
                                p, mean > 0.5) if p is not None else
                          Claim(statement, estimate, "one seed: no test", direction=mean > 0.5, verdict=INCONCLUSIVE))
    path = save(fig, out / "forgetting.png" if out else None, figure_title("Forgetting", rows))
    header = ["grid point", "seeds", "forgetting events, clean", "forgetting events, corrupted",
              "AUROC forgotten often", "precision %", "recall %", "AUROC learned late", "precision %", "recall %"]
    note = ("AUROC: how well a score picks out the corrupted examples (0.5: chance, 1: perfectly); precision "
            "and recall at the threshold of the best F1. Mean ± 95% interval over seeds.")
    return Section(path, markdown(header, table) + "\n\n" + note, tuple(judge(claims)))


def _ci(values: Sequence[float]) -> str:

    mean, half, n = mean_ci(values)
    if n == 0:
        return "-"
    return f"{mean:.2f}" if half is None else f"{mean:.2f} ± {half:.2f} (n={n})"
