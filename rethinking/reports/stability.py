"""The ``stability`` report: empirical uniform stability (Hardt, Recht and Singer 2016).

A learning algorithm is uniformly stable when replacing one training example changes the loss of
what it learns by little on every point. The sweep trains pairs of runs that differ in one
training example only (``data.replace_example = K``: example K's image and label replaced by the
first unused training example, at the same position, so both runs see the same batches otherwise
and start from the same weights). Per pair, from the files the runs write:

* **on the replaced example**: ``|loss_S(z_K) - loss_S'(z_K)|``, the loss of the network trained
  with ``z_K`` (``examples.csv``) against the one trained without it (``results.json``
  ``replaced_example``): how much the network depends on that one example;
* **on the test set**: the mean and the maximum over test examples of ``|loss_S(z) - loss_S'(z)|``
  (``test_examples.csv``), and the fraction of test examples the two networks classify
  differently.

Claims (exact sign tests over pairs): the replaced example's loss moves more than a test
example's does on average (the network memorizes its own training points), and more with random
than with true labels (matched by seed and replaced example).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rethinking.reports.claims import Claim, Section, judge
from rethinking.reports.formatting import markdown
from rethinking.reports.plotting import figure_title, pyplot, save
from rethinking.reports.stats import format_p, mean_ci, sign_test
from rethinking.reports.tables import DESCRIPTORS, condition, finished, model_label, read_run_json, regularizers


def _read_csv(path: Path) -> dict[int, dict[str, str]]:
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as f:
        return {int(r["index"]): r for r in csv.DictReader(f)}


def _key(row: Mapping[str, Any]) -> str:
    return json.dumps([row.get(c) for c in DESCRIPTORS if c != "replace_example"] + [row.get("seed")], default=str)


def pairs(rows: Sequence[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(run on S, run on S') pairs: every run with a replaced example and its partner without one,
    equal in everything else (seed included)."""
    done = finished(rows)
    base = {_key(r): r for r in done if r.get("replace_example") in (None, "")}
    return [(base[_key(r)], r) for r in done if r.get("replace_example") not in (None, "") and _key(r) in base]


def pair_differences(full: Mapping[str, Any], replaced: Mapping[str, Any]) -> dict[str, float] | None:
    """The loss differences of one pair (None when a file or a loss column is missing)."""
    record = (read_run_json(replaced, "results.json") or {}).get("replaced_example")
    examples = _read_csv(Path(full["run_dir"]) / "examples.csv") if full.get("run_dir") else {}
    test_full = _read_csv(Path(full["run_dir"]) / "test_examples.csv") if full.get("run_dir") else {}
    test_replaced = _read_csv(Path(replaced["run_dir"]) / "test_examples.csv") if replaced.get("run_dir") else {}
    if not record or record["index"] not in examples or "loss" not in examples[record["index"]]:
        return None
    common = [i for i in test_full if i in test_replaced]
    if not common or "loss" not in test_full[common[0]] or "loss" not in test_replaced[common[0]]:
        return None
    deltas = [abs(float(test_full[i]["loss"]) - float(test_replaced[i]["loss"])) for i in common]
    differ = sum(test_full[i]["correct"] != test_replaced[i]["correct"] for i in common)
    return {"example": abs(float(examples[record["index"]]["loss"]) - float(record["loss"])),
            "test_mean": sum(deltas) / len(deltas), "test_max": max(deltas), "disagreement": differ / len(common)}


def _cell(values: Sequence[float], scale: float = 1.0, digits: int = 3) -> str:
    finite = [scale * v for v in values if math.isfinite(v)]
    if not finite:
        return "-"
    mean, half, _ = mean_ci(finite)
    return f"{mean:.{digits}g}" + (f" ± {half:.2g}" if half is not None else "")


def stability(rows: Sequence[Mapping[str, Any]], out: Path | None, paper: Sequence[Mapping[str, Any]] = ()) -> Section:
    """Per grid point: the loss differences of the pairs; the claims; a bar chart."""
    measured = [(f, r, d) for f, r in pairs(rows) if (d := pair_differences(f, r)) is not None]
    if not measured:
        return Section(None, "No complete pair of runs (one with data.replace_example, its partner without) with "
                             "per-example losses yet.")
    groups: dict[str, list[tuple[Mapping, Mapping, dict[str, float]]]] = {}
    for full, replaced, d in measured:
        groups.setdefault(f"{model_label(full)}, {regularizers(full)}, {condition(full)}", []).append((full, replaced, d))
    table = []
    for name, items in groups.items():
        ds = [d for _, _, d in items]
        table.append([name, len(items), _cell([d["example"] for d in ds]), _cell([d["test_mean"] for d in ds]),
                      _cell([d["test_max"] for d in ds]), _cell([d["disagreement"] for d in ds], 100)])
    # Absolute loss changes; no "|" in a markdown table's cells.
    header = ["grid point", "pairs", "loss change on the replaced example (nats)", "mean loss change on test examples",
              "max loss change on test examples", "test predictions that differ %"]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(groups) + 1.6))
    names = list(groups)
    y = list(range(len(names)))
    for offset, key, label in ((-0.2, "example", "replaced example"), (0.2, "test_mean", "test examples (mean)")):
        stats = [mean_ci([d[key] for _, _, d in groups[n]]) for n in names]
        ax.barh([v + offset for v in y], [m for m, _, _ in stats], height=0.38, xerr=[h or 0 for _, h, _ in stats],
                capsize=2, label=label)
    ax.set_yticks(y, names, fontsize=7)
    ax.invert_yaxis()
    ax.set(xlabel="|loss difference| between the two runs of a pair (nats; mean, 95% interval)",
           title="Empirical uniform stability: replacing one training example")
    ax.legend(fontsize=7)
    fig.tight_layout()
    figure = save(fig, out / "stability.png" if out else None, figure_title("Uniform stability", rows))
    note = ("A pair: two runs equal in everything (seed, initial weights, batches) but one training example, "
            "replaced in the second by the first unused training example (data.replace_example). Intervals: "
            "mean ± 95% Student-t over pairs. The pairs of one seed share their base run: the intervals and the "
            "sign tests treat the replaced examples as the sampling units, conditional on the base runs.")
    return Section(figure, markdown(header, table) + "\n\n" + note, tuple(judge(stability_claims(measured))))


def stability_claims(measured: Sequence[tuple[Mapping, Mapping, dict[str, float]]]) -> list[Claim]:
    """The replaced example moves more than a test example; random labels less stable than true ones."""
    claims = []
    more = sum(1 for _, _, d in measured if d["example"] > d["test_mean"])
    less = sum(1 for _, _, d in measured if d["example"] < d["test_mean"])
    p = sign_test(more, less)
    claims.append(Claim("the loss on the replaced example changes more than on a test example (mean)",
                        f"{more} of {len(measured)} pairs", f"exact sign test, one-sided p {format_p(p)}", p,
                        direction=more > less))
    by = {}
    for full, replaced, d in measured:
        key = json.dumps([full.get(c) for c in DESCRIPTORS if c not in ("labels", "corruption_prob", "label_noise")]
                         + [full.get("seed"), replaced.get("replace_example")], default=str)
        by.setdefault(key, {})[condition(full)] = d["example"]
    matched = [(g["true labels"], g["random labels"]) for g in by.values() if {"true labels", "random labels"} <= set(g)]
    if matched:
        more = sum(1 for t, r in matched if r > t)
        less = sum(1 for t, r in matched if r < t)
        p = sign_test(more, less)
        claims.append(Claim("replacing an example changes its loss more with random than with true labels",
                            f"{more} of {len(matched)} pairs of pairs (same model, seed and example)",
                            f"exact sign test, one-sided p {format_p(p)}", p, direction=more > less))
    return claims
