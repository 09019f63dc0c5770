"""The ``label_noise`` report: kinds of label noise side by side (real human labels, synthetic noise
with their transition matrix, symmetric noise at their rate).

Per grid point (mean and 95% interval over seeds): the fraction of training labels that differ from
the true ones as trained (measured, ``labels_changed`` of results.json), training accuracy on the
clean and on the changed examples, final and best test accuracy; and a figure of final and best
test error per grid point. With the ``learning_order`` report beside it, how fast each kind of noise
is memorized (Wei et al. 2022 find real human noise memorized faster than synthetic noise).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rethinking.reports.claims import INCONCLUSIVE, Claim, Section, judge
from rethinking.reports.formatting import markdown, pct_ci
from rethinking.reports.plotting import figure_title, pyplot, save
from rethinking.reports.stats import format_p, mean_ci, pair_by_seed, paired, paired_t_p
from rethinking.reports.tables import condition, finished, model_label, regularizers, seed_groups


def point_name(row: Mapping[str, Any]) -> str:
    """A grid point: model, regularizers and its labels (``human labels (worst)``, ...)."""
    labels = condition(row)
    if row.get("labels") == "partial" and row.get("label_noise") == "wrong":
        labels += " (wrong class)"
    return f"{model_label(row)}, {regularizers(row)}, {labels}"


def noise_claims(groups: Sequence[Sequence[Mapping[str, Any]]]) -> list[Claim]:
    """Every two kinds of label noise compared on final test accuracy, paired by seed, two-sided
    (no direction is claimed in advance)."""
    noisy = [g for g in groups if any(r.get("labels_changed") for r in g)]
    claims = []
    for i, first in enumerate(noisy):
        for second in noisy[i + 1:]:
            pairs = pair_by_seed(first, second)
            diff = paired([(a["test_accuracy"], b["test_accuracy"]) for a, b in pairs], "difference")
            s = diff.summary
            if not s.n:
                continue
            statement = f"test accuracy differs: {point_name(first[0])} vs {point_name(second[0])}"
            estimate = f"{100 * s.mean:+.2f}" + (f" ± {100 * s.half:.2f}" if s.half is not None else "") + \
                f" points (n={s.n}, paired by seed)"
            p = paired_t_p(diff.values, "two-sided")
            claims.append(Claim(statement, estimate, f"paired t-test, two-sided p {format_p(p)}", p) if p is not None
                          else Claim(statement, estimate, "one seed: no test", verdict=INCONCLUSIVE))
    return claims


def label_noise(rows: Sequence[Mapping[str, Any]], out: Path | None, paper: Sequence[Mapping[str, Any]] = ()) -> Section:
    """The table and the test-error figure of the kinds of label noise."""
    groups = seed_groups([r for r in finished(rows) if r.get("pixels") in (None, "original")])
    if not groups:
        return Section(None, "No finished run on original pixels yet.")
    table, names, finals, bests = [], [], [], []
    for group in groups:
        name = point_name(group[0])
        table.append([name, len(group), pct_ci([r.get("labels_changed") for r in group]),
                      pct_ci([r.get("train_accuracy_clean") for r in group]),
                      pct_ci([r.get("train_accuracy_corrupted") for r in group]),
                      pct_ci([r.get("test_accuracy") for r in group]), pct_ci([r.get("best_test_accuracy") for r in group])])
        names.append(name)
        finals.append(mean_ci([1 - r["test_accuracy"] for r in group if r.get("test_accuracy") is not None]))
        bests.append(mean_ci([1 - r["best_test_accuracy"] for r in group if r.get("best_test_accuracy") is not None]))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.4))
    y = list(range(len(names)))
    for offset, stats, label in ((-0.18, finals, "final"), (0.18, bests, "best epoch")):
        ax.barh([v + offset for v in y], [m for m, _, _ in stats], height=0.34, xerr=[h or 0 for _, h, _ in stats],
                capsize=2, label=f"test error, {label}")
    ax.set_yticks(y, names, fontsize=7)
    ax.invert_yaxis()
    ax.set(xlabel="test error (mean, 95% interval over seeds)", xlim=(0, 1))
    ax.legend(fontsize=7)
    path = save(fig, out / "label_noise.png" if out else None, figure_title("Label noise", rows))
    header = ["grid point", "seeds", "labels changed %", "train acc % (clean examples)", "train acc % (changed)",
              "test acc % (final)", "test acc % (best epoch)"]
    note = ("'Labels changed' is measured on the training examples as trained (results.json labels_changed); "
            "train accuracy on the changed examples is how much of the noise the network memorized.")
    return Section(path, markdown(header, table) + "\n\n" + note, tuple(judge(noise_claims(groups))))
