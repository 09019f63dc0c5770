"""The paper's Figure 1: every condition is fitted (1a), time to fit (1b) and test error (1c) against
the label corruption level.

* ``figure1a``: training loss vs steps, one curve per data condition, one panel per model; time to
  fit of each condition relative to true labels, paired by seed.
* ``figure1b``: time to fit relative to the same seed's true-label run vs the corruption level;
  runs that did not fit are censored at their cap (a lower bound, marked), never dropped; the trend
  "grows with p" by Page's exact test blocked by seed.
* ``figure1c``: test error at the end of training vs the corruption level (Page's test again).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rethinking.reports.claims import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Claim, Section, judge
from rethinking.reports.formatting import INTERVALS_NOTE, markdown, pct_ci, test_pct
from rethinking.reports.plotting import NO_CURVES, figure_title, paper_setting, plot_mean_curve, pyplot, save
from rethinking.reports.stats import fit_time, format_p, page_trend, pair_by_seed, paired, paired_t_p, summarize
from rethinking.reports.tables import (CONDITION_ORDER, condition, finished, model_label, read_metrics,
                                       seed_groups, training_loss)

Rows = Sequence[Mapping[str, Any]]


def fitted_claim(subject: str, runs: Rows) -> Claim:
    """"every run of ``subject`` fitted within its cap", judged by counting (no test)."""
    fitted = sum(1 for r in runs if r.get("fit_step") not in (None, ""))
    verdict = SUPPORTED if fitted == len(runs) else NOT_SUPPORTED
    return Claim(f"{subject}: every run reaches the fit threshold within its cap", f"{fitted} of {len(runs)} runs",
                 "observed (no test)", verdict=verdict)


def slower_claim(statement: str, runs: Rows, baseline: Rows, slower: bool = True) -> Claim:
    """"``runs`` take longer (or, ``slower=False``, less long) to fit than ``baseline``", paired by seed:
    the estimate is the per-seed ratio of steps to fit, the test a one-sided paired t-test on the
    per-seed differences (censored runs at their cap: conservative for "slower" of a censored run)."""
    pairs = [(fit_time(r), fit_time(b)) for r, b in pair_by_seed(runs, baseline)]
    ratio = paired(pairs, "ratio")
    differences = paired(pairs, "difference")
    p = paired_t_p(differences.values, "greater" if slower else "less")
    mean = ratio.summary.mean
    direction = (mean > 1) if slower else (mean < 1)
    if p is None:
        return Claim(statement, ratio.text(), "one seed: no test", direction=direction, verdict=INCONCLUSIVE
                     if ratio.summary.n else NOT_SUPPORTED)
    return Claim(statement, f"time ratio {ratio.text()}",
                 f"paired t-test on the steps, one-sided p {format_p(p)}", p, direction)


def _conditions(runs: Rows) -> list[list[Mapping[str, Any]]]:
    ordered = sorted(runs, key=lambda r: CONDITION_ORDER.index(condition(r)) if condition(r) in CONDITION_ORDER else 99)
    return seed_groups(ordered)


def figure1a(rows: Rows, out: Path | None, paper: Rows = ()) -> Section:
    """Training loss vs steps per data condition; one panel per model (mean and 95% band over seeds)."""
    done = finished(rows)
    models = sorted({model_label(r) for r in done})
    if not models:
        return Section(None, "No finished run yet.")
    plt = pyplot()
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 3.6), squeeze=False)
    summary, claims = [], []
    for ax, model in zip(axes[0], models):
        mine = [r for r in done if model_label(r) == model]
        truth = [r for r in mine if condition(r) == "true labels"]
        groups = _conditions(mine)
        for group in groups:
            name = condition(group[0])
            if any(read_metrics(r["run_dir"]) for r in group):
                plot_mean_curve(ax, group, training_loss, marker=".", label=name)
            times = summarize([fit_time(r) for r in group])
            relative = paired([(fit_time(r), fit_time(b)) for r, b in pair_by_seed(group, truth)], "ratio")
            summary.append([model, name, times.text(), relative.text() if name != "true labels" else "1",
                            pct_ci([r.get("train_accuracy") for r in group]),
                            test_pct(group)])
        claims.append(fitted_claim(f"{model}: all conditions", mine))
        by_name = {condition(g[0]): g for g in groups}
        if truth and "random labels" in by_name:
            claims.append(slower_claim(f"{model}: random labels take longer to fit than true labels",
                                           by_name["random labels"], truth))
        for pixels in ("random pixels", "gaussian"):
            if pixels in by_name and "random labels" in by_name:
                claims.append(slower_claim(f"{model}: {pixels} fit sooner than random labels", by_name[pixels],
                                           by_name["random labels"], slower=False))
        ax.set(title=model, xlabel="thousand steps", ylabel="average training loss per epoch")
        if ax.has_data():
            ax.legend(fontsize=8)
    path = save(fig, out / "figure1a.png" if out else None, figure_title("Figure 1a", rows))
    text = markdown(["model", "condition", "steps to fit", "relative to true labels", "train acc %", "test acc %"],
                    summary)
    text += f"\n\n{INTERVALS_NOTE}"
    if not any(ax.has_data() for ax in axes[0]):
        text = f"{NO_CURVES}\n\n{text}"
    return Section(path, text, tuple(judge(claims)))


def _by_corruption(rows: Rows) -> dict[str, list[Mapping[str, Any]]]:
    curves: dict[str, list[Mapping[str, Any]]] = {}
    for r in finished(rows):
        if r.get("pixels") in (None, "original") and r.get("labels") in (None, "true", "partial", "random"):
            curves.setdefault(model_label(r), []).append(r)
    return {m: sorted(rs, key=lambda r: r.get("corruption_prob") or 0) for m, rs in sorted(curves.items())}


def _corruption_figure(rows: Rows) -> tuple[dict[str, list[Mapping[str, Any]]], Any, Any] | None:
    """Figures 1b/1c: the finished label-corruption runs by model, and a figure to draw them on."""
    curves = _by_corruption(rows)
    if not curves:
        return None
    fig, ax = pyplot().subplots(figsize=(5, 3.6))
    return curves, fig, ax


def _p(row: Mapping[str, Any]) -> float:
    return float(row.get("corruption_prob") or 0)


def trend_claim(statement: str, points: Sequence[tuple[Any, float, float | None]]) -> Claim:
    """"y grows with x" by Page's exact test blocked by seed (``(seed, x, y)`` points)."""
    trend = page_trend([p for p in points if p[2] is not None])
    if trend.p_value is None:
        return Claim(statement, "-", trend.text(), verdict=INCONCLUSIVE)
    return Claim(statement, f"mean within-seed Spearman rho = {trend.rho:.2f}", trend.text(), trend.p_value,
                 trend.rho > 0)


def figure1b(rows: Rows, out: Path | None, paper: Rows = ()) -> Section:
    """Time to fit relative to the same seed's true-label run vs the corruption level (mean and 95%
    interval over seeds, paired by seed; censored runs at their cap, marked as lower bounds)."""
    start = _corruption_figure(rows)
    if start is None:
        return Section(None, "No finished run yet.")
    curves, fig, ax = start
    table: list[list[Any]] = []
    claims: list[Claim] = []
    for model, rs in curves.items():
        truth = [r for r in rs if _p(r) == 0]
        xs, ys, errs, bounds = [], [], [], []
        for group in seed_groups(rs):
            p = _p(group[0])
            steps = summarize([fit_time(r) for r in group])
            rel = paired([(fit_time(r), fit_time(b)) for r, b in pair_by_seed(group, truth)], "ratio")
            not_fitted = [str(r.get("seed")) for r in group if fit_time(r) is not None and fit_time(r).censored]
            table.append([model, f"{p:g}", steps.text(), rel.text() if p else "1",
                          f"{len(not_fitted)} (seed {', '.join(not_fitted)})" if not_fitted else "0"])
            if rel.summary.n:
                xs.append(p)
                ys.append(rel.summary.mean)
                errs.append(rel.summary.half or 0.0)
                bounds.append(bool(rel.lower_bounds))
        if xs:
            line, *_ = ax.errorbar(xs, ys, yerr=errs, marker="o", capsize=3, label=model)
            lower = [(x, y) for x, y, b in zip(xs, ys, bounds) if b]
            if lower:  # a lower bound: a run did not fit within its cap
                ax.scatter(*zip(*lower), marker="^", s=80, facecolors="none", edgecolors=line.get_color())
        claims.append(trend_claim(f"{model}: time to fit grows with p",
                                  [(r.get("seed"), _p(r), fit_time(r).value if fit_time(r) else None) for r in rs]))
        randoms = [r for r in rs if _p(r) == 1]
        if randoms and truth:
            claims.append(slower_claim(f"{model}: random labels take longer to fit than true labels", randoms, truth))
    ax.set(xlabel="label corruption", ylabel="time to fit relative to\ntrue labels (same seed)")
    if ax.has_data():  # no run fitted: nothing to label (and save writes no figure)
        ax.legend(fontsize=8)
    path = save(fig, out / "figure1b.png" if out else None, figure_title("Figure 1b", rows))
    text = markdown(["model", "corruption", "steps to fit", "relative to true labels", "runs not fitted"], table)
    note = ("Relative to true labels: per seed against the same seed's true-label run, Student-t interval over the "
            "seeds. A run that did not fit counts at its cap (≥: a lower bound; ▵ in the figure).")
    return Section(path, f"{text}\n\n{note}", tuple(judge(claims)))


def figure1c(rows: Rows, out: Path | None, paper: Rows = ()) -> Section:
    """Test error at the end of training vs the label corruption level (mean and 95% interval over
    seeds; paper points as crosses)."""
    start = _corruption_figure(rows)
    if start is None:
        return Section(None, "No finished run yet.")
    curves, fig, ax = start
    table: list[list[Any]] = []
    claims: list[Claim] = []
    for model, rs in curves.items():
        groups = seed_groups(rs)
        stats = [summarize([1 - r["test_accuracy"] for r in g]) for g in groups]
        line, *_ = ax.errorbar([_p(g[0]) for g in groups], [s.mean for s in stats],
                               yerr=[s.half or 0.0 for s in stats], marker="o", capsize=3, label=model)
        ours_model = [p for p in paper if p.get("model") == rs[0].get("model")]
        if ours_model:
            ax.scatter([p["corruption_prob"] for p in ours_model], [p["test_error"] / 100 for p in ours_model],
                       marker="x", color=line.get_color(), label=f"{rs[0].get('model')} ({paper_setting(rows, short=True)})")
        for g in groups:
            p = _p(g[0])
            match = next((q for q in ours_model if abs(q["corruption_prob"] - p) < 1e-9), None)
            fitted = sum(1 for r in g if r.get("fit_step") not in (None, ""))
            table.append([model, f"{p:g}", test_pct(g, error=True),
                          f"{match['test_error']:.2f}" if match else "-", pct_ci([r.get("train_accuracy") for r in g]),
                          f"{fitted} of {len(g)}"])
        claims.append(trend_claim(f"{model}: test error grows with p",
                                  [(r.get("seed"), _p(r), 1 - r["test_accuracy"]) for r in rs]))
    ax.set(xlabel="label corruption", ylabel="test error")
    ax.set_ylim(bottom=0)  # the top follows the data: no error bar cut
    ax.legend(fontsize=7)
    path = save(fig, out / "figure1c.png" if out else None, figure_title("Figure 1c", rows))
    text = markdown(["model", "corruption", "test error % (ours)", f"test error % ({paper_setting(rows)})", "train acc % (ours)",
                     "runs fitted"], table) + f"\n\n{INTERVALS_NOTE}"
    return Section(path, text, tuple(judge(claims)))
