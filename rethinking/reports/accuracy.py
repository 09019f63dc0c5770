"""The paper's Tables 1 and 2: train / test accuracy per model and regularizer setting.

Ours beside the paper's, with every run that did not reach the fit threshold marked. The claims:
each model fits true and random labels without regularizers (counted), and each regularizer setting
against none, paired by seed over the runs that fitted (a run that did not fit is left out of the
comparison, and the claim says why): regularizers can raise test accuracy, but are not needed to fit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rethinking.reports.claims import INCONCLUSIVE, Claim, Section, judge
from rethinking.reports.figure1 import fitted_claim
from rethinking.reports.formatting import INTERVALS_NOTE, markdown, pct_ci, test_pct
from rethinking.reports.stats import format_p, mcnemar, pair_by_seed, paired, paired_t_p
from rethinking.reports.plotting import paper_setting
from rethinking.reports.tables import (condition, default_batch_norm, finished, model_label, read_test_correct,
                                       regularizers, seed_groups)
from rethinking.training.rundir import COMPLETE_STATUSES

Rows = Sequence[Mapping[str, Any]]


def reached_fit(row: Mapping[str, Any]) -> bool:
    """Whether a run reached its fit threshold (``fit_step`` recorded) at some epoch."""
    return row.get("fit_step") not in (None, "")


def _paper_cell(paper: Rows, row: Mapping[str, Any]) -> str:
    for p in paper:
        default_bn = default_batch_norm(str(p.get("model", "")))
        if (p.get("model") == row.get("model") and bool(p.get("batch_norm", default_bn)) == bool(row.get("batch_norm"))
                and bool(p.get("random_crop")) == bool(row.get("random_crop"))
                and bool(p.get("weight_decay")) == bool((row.get("weight_decay") or 0) > 0)
                and p.get("labels", "true") == row.get("labels") and row.get("pixels") in (None, "original")):
            return " / ".join(f"{p[k]:.2f}" if isinstance(p.get(k), (int, float)) else "-" for k in ("train", "test"))
    return "-"


def accuracy_table(rows: Rows, paper: Rows = ()) -> str:
    """Table 1 / Table 2: train / test accuracy % per model and regularizers (mean and 95% interval
    over seeds when a grid point has several), the runs that reached the fit threshold, and the paper's."""
    body = []
    for group in seed_groups(rows):
        done = [r for r in group if r.get("status") in COMPLETE_STATUSES]
        first = group[0]
        ours = (f"{pct_ci([r.get('train_accuracy') for r in done])} / {test_pct(done)}"
                if done else f"({first.get('status')})")
        fitted = sum(reached_fit(r) for r in done)
        body.append([model_label(first), regularizers(first), condition(first), ours,
                     pct_ci([r.get("best_test_accuracy") for r in done]),
                     f"{fitted} of {len(done)}" if fitted == len(done) else f"**{fitted} of {len(done)}**",
                     _paper_cell(paper, first)])
    return markdown(["model", "regularizers", "data", "train / test % (ours)", "best test % (ours)",
                     "reached fit threshold", f"train / test % ({paper_setting(rows)})"], body) + f"\n\n{INTERVALS_NOTE}"


def regularizer_claims(rows: Rows) -> list[Claim]:
    """Per model: no regularizer fits true and random labels; each regularizer setting vs none,
    paired by seed over runs that both reached the fit threshold."""
    claims = []
    done = [r for r in finished(rows) if r.get("pixels") in (None, "original")]
    for model in dict.fromkeys(model_label(r) for r in done):
        mine = [r for r in done if model_label(r) == model]
        bare = [r for r in mine if regularizers(r) == "none" and not (r.get("dropout") or 0)]
        truth = [r for r in bare if condition(r) == "true labels"]
        randoms = [r for r in bare if condition(r) == "random labels"]
        if truth or randoms:
            which = " and ".join(dict.fromkeys(condition(r) for r in truth + randoms))
            claims.append(fitted_claim(f"{model}: no regularizer, {which}", truth + randoms))
        for setting in dict.fromkeys(regularizers(r) for r in mine if condition(r) == "true labels"):
            if setting == "none" or not truth:
                continue
            regular = [r for r in mine if condition(r) == "true labels" and regularizers(r) == setting]
            claims.append(gain_claim(f"{model}: {setting} raises test accuracy over none", regular, truth))
    return claims


def gain_claim(statement: str, runs: Rows, baseline: Rows) -> Claim:
    pairs = pair_by_seed(runs, baseline)
    kept = [(r, b) for r, b in pairs if reached_fit(r) and reached_fit(b)]
    left_out = len(pairs) - len(kept)
    why = f"; {left_out} seed(s) left out: a run did not reach the fit threshold" if left_out else ""
    if not kept:
        return Claim(statement, "-", f"no pair of runs that both fitted{why}", verdict=INCONCLUSIVE)
    diff = paired([(r["test_accuracy"], b["test_accuracy"]) for r, b in kept], "difference")
    mean, half, n = diff.summary.mean, diff.summary.half, diff.summary.n
    estimate = f"{100 * mean:+.2f}" + (f" ± {100 * half:.2f}" if half is not None else "") + \
        f" points (n={n}, paired by seed)"
    p = paired_t_p(diff.values, "greater")
    if p is None:
        return _one_seed_claim(statement, estimate, kept[0], why)
    return Claim(statement, estimate, f"paired t-test, one-sided p {format_p(p)}{why}", p, mean > 0)


def _one_seed_claim(statement: str, estimate: str, pair: tuple[Mapping[str, Any], Mapping[str, Any]], why: str) -> Claim:
    """One run against one: McNemar's exact test on their per-example test results, one-sided (the
    first better), when both runs kept them (test_examples.csv); else no test."""
    first, second = (read_test_correct(r.get("run_dir")) for r in pair)
    better = pair[0]["test_accuracy"] > pair[1]["test_accuracy"]
    if not first or not second or set(first) != set(second):
        return Claim(statement, estimate, f"one seed, no per-example test results: no test{why}", direction=better,
                     verdict=INCONCLUSIVE)
    only_first = sum(first[i] and not second[i] for i in first)
    only_second = sum(second[i] and not first[i] for i in first)
    p = mcnemar(only_first, only_second, "greater")
    return Claim(statement, estimate, f"one seed: McNemar's exact test on the {len(first):,} test examples "
                 f"({only_first} right only with, {only_second} only without), one-sided p {format_p(p)}{why}", p,
                 only_first > only_second)


def table1(rows: Rows, out: Path | None, paper: Rows = ()) -> Section:
    """Table 1 (CIFAR-10): the accuracy table and the regularizer claims."""
    return Section(None, accuracy_table(rows, paper), tuple(judge(regularizer_claims(rows))))


def table2(rows: Rows, out: Path | None, paper: Rows = ()) -> Section:
    """Table 2 (ImageNet): the accuracy table and the regularizer claims."""
    return table1(rows, out, paper)
