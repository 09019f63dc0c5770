"""The ``measures`` report: which measure of a trained network tracks its generalization gap?

Reads each finished run's ``measures.json`` (``rethinking measure``, or ``train.measures = true``
in the sweep file) and ranks every measure against the generalization gap (training minus test
accuracy), as Jiang et al. (2020) do:

* **Kendall's tau** (tau-b, ties counted) between the measure, oriented so that a larger value
  should mean a larger gap (margins and the flatness sigma count negatively), and the gap, over
  all measured runs, with its one-sided p-value (scipy, exact where it can be); Holm across measures.
* **Per seed** and **granulated** (Jiang et al.'s Psi): for each hyperparameter the sweep varies,
  the tau over runs that differ in that hyperparameter only (everything else, seed included,
  fixed), averaged over those groups (psi_i); Psi is the mean of the psi_i. Each is computed per
  seed, and the table gives mean and 95% interval over seeds.
* Claims of the papers, judged on the runs: Bartlett et al.'s normalized margin is smaller with
  random than with true labels, and their spectral complexity and the path norm larger (exact
  sign tests over pairs of runs equal but for the labels, matched by seed); the classical bounds
  are vacuous (observed on every run).

Figures: ``measures_margins`` (the distribution of the normalized margins, true vs partial vs
random labels: Bartlett et al.'s Figure 2 as cumulative curves from the 1st-99th percentiles) and
``measures_tau`` (the taus per measure, overall and granulated).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rethinking.reports.claims import NOT_SUPPORTED, SUPPORTED, Claim, Section, judge
from rethinking.reports.formatting import markdown
from rethinking.reports.plotting import figure_title, pyplot, save
from rethinking.reports.stats import format_p, mean_ci, sign_test
from rethinking.reports.tables import (DESCRIPTORS, condition, finished, model_label, read_run_json, regularizers,
                                       seed_groups)

MEASURES_FILE = "measures.json"
# Measure -> (label in tables and figures, direction: +1 if a larger value should mean a larger gap).
RANKED = {
    "parameter_norm": ("parameter norm", 1),
    "distance_from_init": ("distance from init.", 1),
    "log_frobenius_product": ("log prod. Frobenius", 1),
    "frobenius_sum": ("sum Frobenius^2", 1),
    "log_spectral_product": ("log prod. spectral", 1),
    "spectral_sum": ("sum spectral^2", 1),
    "spectral_complexity": ("spectral complexity R_A", 1),
    "spectral_complexity_init": ("R_A from init.", 1),
    "path_norm": ("path norm", 1),
    "output_margin": ("output margin (10th pct.)", -1),
    "spectral_normalized_margin": ("normalized margin", -1),
    "jacobian_norm": ("Jacobian norm", 1),
    "epsilon_sharpness": ("epsilon-sharpness", 1),
    "pac_bayes_flatness": ("PAC-Bayes flatness 1/sigma^2", 1),
    "pac_bayes_bound": ("PAC-Bayes bound", 1),
}


def read_measures(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """A run's measures.json (None if it has none or it is unreadable)."""
    return read_run_json(row, MEASURES_FILE)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def kendall(xs: Sequence[float | None], ys: Sequence[float | None]) -> tuple[float | None, float | None, int]:
    """Kendall's tau-b of the pairs where both values are finite, its one-sided p (tau > 0) and n.

    Returns ``(None, None, n)`` below 3 pairs or when either side is constant.
    """
    pairs = [(x, y) for x, y in zip(xs, ys) if _finite(x) and _finite(y)]
    n = len(pairs)
    if n < 3 or len({x for x, _ in pairs}) < 2 or len({y for _, y in pairs}) < 2:
        return None, None, n
    from scipy import stats  # noqa: PLC0415

    result = stats.kendalltau([x for x, _ in pairs], [y for _, y in pairs], alternative="greater")
    return float(result.statistic), float(result.pvalue), n


# The table columns that together say what data a run saw: one hyperparameter, "data" (``condition``).
DATA_COLUMNS = ("labels", "corruption_prob", "label_noise", "label_set", "transition", "pixels")
HYPERPARAMETERS = tuple(c for c in DESCRIPTORS if c not in DATA_COLUMNS) + ("data",)


def varied(records: Sequence[Mapping[str, Any]], columns: Sequence[str] = HYPERPARAMETERS) -> list[str]:
    """The hyperparameters (seed excluded) that take more than one value among ``records``."""
    return [c for c in columns if len({json.dumps(r.get(c), sort_keys=True, default=str) for r in records}) > 1]


def granulated(records: Sequence[Mapping[str, Any]], measure: str, hyperparameters: Sequence[str],
               direction: int = 1) -> dict[str, float | None]:
    """Jiang et al.'s granulated taus: per hyperparameter, the mean tau over groups of runs that differ
    in it only; ``"Psi"``: the mean over hyperparameters (None where no group has two values)."""
    psi: dict[str, float | None] = {}
    for hp in hyperparameters:
        others = [c for c in hyperparameters if c != hp]
        groups: dict[str, list[Mapping[str, Any]]] = {}
        for r in records:
            key = json.dumps([r.get(c) for c in others] + [r.get("seed")], default=str)
            groups.setdefault(key, []).append(r)
        taus = []
        for group in groups.values():
            if len({json.dumps(r.get(hp), default=str) for r in group}) < 2:
                continue
            tau = _tau_only(group, measure, direction)
            if tau is not None:
                taus.append(tau)
        psi[hp] = sum(taus) / len(taus) if taus else None
    values = [v for v in psi.values() if v is not None]
    psi["Psi"] = sum(values) / len(values) if values else None
    return psi


def _oriented(record: Mapping[str, Any], measure: str, direction: int) -> float | None:
    value = record["measures"].get(measure)
    return direction * value if _finite(value) else None


def _tau_only(records: Sequence[Mapping[str, Any]], measure: str, direction: int) -> float | None:
    """The tau-b of a small group (two runs: +1 or -1; None for a tie or fewer than two runs), no p-value."""
    pairs = [(x, r["generalization_gap"]) for r in records
             if (x := _oriented(r, measure, direction)) is not None and _finite(r["generalization_gap"])]
    if len(pairs) < 2:
        return None
    from scipy import stats  # noqa: PLC0415

    tau = float(stats.kendalltau([x for x, _ in pairs], [y for _, y in pairs]).statistic)
    return tau if math.isfinite(tau) else None


def measured_records(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The finished rows that have measures, each merged with its measures.json."""
    records = []
    for row in finished(rows):
        measures = read_measures(row)
        if measures is not None:
            records.append({**row, "data": condition(row), **{k: measures.get(k) for k in (
                "measures", "generalization_gap", "normalized_margin_percentiles", "train_accuracy", "train_size",
                "num_classes")}})
    return records


def tau_table(records: Sequence[Mapping[str, Any]]) -> tuple[list[list[Any]], list[Claim], dict[str, Any]]:
    """The ranking table's rows, one claim per measure (tau > 0), and the values for the figure."""
    hyperparameters = varied(records)
    seeds = sorted({r.get("seed") for r in records}, key=str)
    rows, claims, figure = [], [], {}
    gaps = [r["generalization_gap"] for r in records]
    for measure, (label, direction) in RANKED.items():
        tau, p, n = kendall([_oriented(r, measure, direction) for r in records], gaps)
        per_seed, psi_per_seed = [], []
        for seed in seeds:
            mine = [r for r in records if r.get("seed") == seed]
            seed_tau, _, _ = kendall([_oriented(r, measure, direction) for r in mine],
                                     [r["generalization_gap"] for r in mine])
            per_seed.append(seed_tau)
            psi_per_seed.append(granulated(mine, measure, hyperparameters, direction))
        seed_taus = [t for t in per_seed if t is not None]
        seed_mean, seed_half, seed_n = mean_ci(seed_taus) if seed_taus else (None, None, 0)
        psi_values = [g["Psi"] for g in psi_per_seed if g["Psi"] is not None]
        psi = mean_ci(psi_values) if psi_values else (None, None, 0)
        by_hp = {hp: _mean([g[hp] for g in psi_per_seed if g.get(hp) is not None]) for hp in hyperparameters}
        rows.append([label, _signed(tau), f"{n}", format_p(p).removeprefix("= "), _ci(seed_mean, seed_half, seed_n),
                     _ci(*psi), ", ".join(f"{hp} {_signed(v)}" for hp, v in by_hp.items()) or "-"])
        figure[label] = (tau, psi[0], psi[1])
        if tau is not None:
            claims.append(Claim(f"{label} ranks the generalization gap (tau > 0)", f"tau = {tau:+.2f} over {n} runs",
                                f"Kendall's tau-b, one-sided p {format_p(p)}", p, direction=tau > 0))
    return rows, claims, figure


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


def _ci(mean: float | None, half: float | None, n: int) -> str:
    if mean is None:
        return "-"
    return f"{mean:+.2f}" + (f" ± {half:.2f}" if half is not None else "") + f" (n={n})"


def label_pairs(records: Sequence[Mapping[str, Any]], first: str, second: str) -> list[tuple[Mapping, Mapping]]:
    """Pairs of runs equal in everything but the labels (``first`` vs ``second`` condition), matched by seed."""
    keyed: dict[tuple, dict[str, Mapping[str, Any]]] = {}
    for r in records:
        key = tuple(json.dumps(r.get(c), default=str) for c in DESCRIPTORS
                    if c not in ("labels", "corruption_prob", "label_noise")) + (str(r.get("seed")),)
        keyed.setdefault(key, {})[condition(r)] = r
    return [(group[first], group[second]) for group in keyed.values() if first in group and second in group]


def label_claims(records: Sequence[Mapping[str, Any]]) -> list[Claim]:
    """Bartlett et al. and Neyshabur et al.: measures separate true from random labels (exact sign tests)."""
    claims = []
    pairs = label_pairs(records, "true labels", "random labels")
    for measure, (label, direction) in (("spectral_normalized_margin", RANKED["spectral_normalized_margin"]),
                                        ("spectral_complexity", RANKED["spectral_complexity"]),
                                        ("path_norm", RANKED["path_norm"]),
                                        ("pac_bayes_flatness", RANKED["pac_bayes_flatness"])):
        values = [(t["measures"].get(measure), r["measures"].get(measure)) for t, r in pairs]
        values = [(a, b) for a, b in values if _finite(a) and _finite(b)]
        if not values:
            continue
        # Random labels should give the larger oriented value (a smaller margin, a larger complexity).
        more = sum(1 for a, b in values if direction * b > direction * a)
        less = sum(1 for a, b in values if direction * b < direction * a)
        word = "smaller" if direction < 0 else "larger"
        p = sign_test(more, less)
        claims.append(Claim(f"{label} is {word} with random than with true labels",
                            f"{more} of {len(values)} pairs (same model and settings, same seed)",
                            f"exact sign test, one-sided p {format_p(p)}", p, direction=more > less))
    return claims


def bound_claims(records: Sequence[Mapping[str, Any]]) -> list[Claim]:
    """The classical bounds are vacuous on every run (an observation, not a test)."""
    from rethinking.measures.bounds import rademacher_bound, rademacher_estimate  # noqa: PLC0415 (no TensorFlow)

    claims = []
    vc = [r["measures"].get("vc_bound") for r in records if _finite(r["measures"].get("vc_bound"))]
    if vc:
        vacuous = sum(1 for v in vc if v > 1)
        claims.append(Claim("the VC bound (d = number of parameters) is vacuous (> 1)",
                            f"{vacuous} of {len(vc)} runs; smallest {min(vc):.3g}", "observed on every run",
                            verdict=SUPPORTED if vacuous == len(vc) else NOT_SUPPORTED))
    random = [r for r in records if condition(r) == "random labels"]
    if random:
        classes = int(random[0].get("num_classes") or 10)
        complexity = rademacher_estimate([float(r["train_accuracy"]) for r in random], classes)
        bound = rademacher_bound(complexity, int(min(r.get("train_size") or 1 for r in random)))
        claims.append(Claim("random labels are fitted: the empirical Rademacher complexity is saturated (>= 0.9)",
                            f"{complexity:.3f} from {len(random)} random-label runs; Rademacher bound on the gap "
                            f"{bound:.2f}", "observed",
                            verdict=SUPPORTED if complexity >= 0.9 else NOT_SUPPORTED))
    pac = [r["measures"].get("pac_bayes_bound") for r in records if _finite(r["measures"].get("pac_bayes_bound"))]
    if pac:
        claims.append(Claim("the PAC-Bayes bound is non-vacuous (< 1) on some run",
                            f"{sum(1 for v in pac if v < 1)} of {len(pac)} runs; smallest {min(pac):.3g}", "observed",
                            verdict=SUPPORTED if min(pac) < 1 else NOT_SUPPORTED))
    return claims


def point_table(records: Sequence[Mapping[str, Any]]) -> str:
    """Per grid point (mean ± 95% interval over seeds): the gap and the main measures."""
    shown = ("path_norm", "spectral_complexity", "spectral_normalized_margin", "distance_from_init",
             "pac_bayes_flatness", "pac_bayes_bound", "vc_bound")
    header = ["grid point", "seeds", "gap %", "path norm", "R_A", "normalized margin", "dist. init",
              "flatness", "PAC-Bayes bound", "VC bound"]
    rows = []
    for group in seed_groups(records):
        r0 = group[0]
        cells = [f"{model_label(r0)}, {regularizers(r0)}, {condition(r0)}", len(group),
                 _num([100 * r["generalization_gap"] for r in group])]
        cells += [_num([r["measures"].get(m) for r in group]) for m in shown]
        rows.append(cells)
    return markdown(header, rows)


def _num(values: Sequence[Any]) -> str:
    finite = [float(v) for v in values if _finite(v)]
    if not finite:
        return "-"
    mean, half, n = mean_ci(finite)
    return f"{mean:.3g}" + (f" ± {half:.2g}" if half is not None else "")


def _figures(records: Sequence[Mapping[str, Any]], taus: Mapping[str, tuple], out: Path | None) -> Path | None:
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 0.3 * len(taus) + 2.5))
    cmap = plt.get_cmap("coolwarm")
    seen = set()
    quantiles = [q / 100 for q in range(1, 100)]
    for r in sorted(records, key=lambda r: r.get("corruption_prob") or 0.0):
        points = r.get("normalized_margin_percentiles")
        name = condition(r)
        if not points:
            continue
        left.plot(points, quantiles, color=cmap(float(r.get("corruption_prob") or 0.0)), alpha=0.7, lw=1,
                  label=name if name not in seen else None)
        seen.add(name)
    left.set(xlabel="normalized margin  margin / (R_A ||X||_F / n)", ylabel="fraction of training examples below",
             title="Normalized margins (Bartlett et al. 2017), one curve per run")
    if seen:
        left.legend(fontsize=8)
    labels = list(taus)
    y = list(range(len(labels)))
    overall = [taus[k][0] if taus[k][0] is not None else 0 for k in labels]
    psi = [taus[k][1] if taus[k][1] is not None else 0 for k in labels]
    psi_err = [taus[k][2] or 0 for k in labels]
    right.barh([v - 0.2 for v in y], overall, height=0.38, label="tau, all runs")
    # Intervals clipped to tau's range [-1, 1] (with two or three seeds a t-interval can exceed it).
    clipped = [[min(h, m + 1) for m, h in zip(psi, psi_err)], [min(h, 1 - m) for m, h in zip(psi, psi_err)]]
    right.barh([v + 0.2 for v in y], psi, height=0.38, xerr=clipped, capsize=2, ecolor="0.3",
               label="granulated Psi (mean, 95% interval over seeds)")
    right.axvline(0, color="black", lw=0.8)
    right.set_yticks(y, labels, fontsize=8)
    right.invert_yaxis()
    right.set(xlim=(-1, 1), xlabel="Kendall's tau with the generalization gap",
              title="Which measure ranks the gap (Jiang et al. 2020)")
    right.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2)
    fig.tight_layout()
    return save(fig, out / "measures.png" if out else None, figure_title("Generalization measures", records))


def measures(rows: Sequence[Mapping[str, Any]], out: Path | None, paper: Sequence[Mapping[str, Any]] = ()) -> Section:
    """The ranking of the measures against the generalization gap, the label claims and the bounds."""
    records = measured_records(rows)
    unmeasured = len(finished(rows)) - len(records)
    if len(records) < 3:
        return Section(None, f"{len(records)} measured run(s): the ranking needs at least 3 "
                             "(run 'rethinking measure' on the sweep's runs, or set train.measures = true).")
    table_rows, tau_claims, taus = tau_table(records)
    figure = _figures(records, taus, out)
    header = ["measure", "tau (all runs)", "runs", "one-sided p", "tau per seed", "granulated Psi",
              "psi per hyperparameter"]
    text = [markdown(header, table_rows), "", point_table(records), "",
            f"Hyperparameters varied: {', '.join(varied(records)) or 'none'}. Orientation: margins count "
            "negatively (a larger margin should mean a smaller gap). tau: Kendall's tau-b over the runs; "
            "per seed and granulated (Jiang et al.'s Psi, over groups that differ in one hyperparameter): "
            "mean ± 95% Student-t interval over seeds."]
    if unmeasured:
        text.append(f"{unmeasured} finished run(s) without measures.json are left out.")
    unfitted = [r["run"] for r in records if r.get("status") != "fitted" and r.get("fit_epoch") in (None, "")]
    if unfitted:
        text.append(f"{len(unfitted)} of {len(records)} measured runs did not reach the fit threshold within their "
                    "cap; they are ranked with the others (their gap is measured all the same): "
                    + ", ".join(unfitted) + ".")
    claims = judge(label_claims(records) + tau_claims) + bound_claims(records)
    return Section(figure, "\n".join(text), tuple(claims))

