"""The learning-dynamics reports: AUROC and thresholds, and both figures from a tiny real sweep."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from rethinking.reports.learning_dynamics import auroc, best_threshold, read_examples, score, separation
from rethinking.reports.write import write_report
from rethinking.experiments.runner import run_sweep
from rethinking.experiments.sweep import parse_sweep


def test_auroc_matches_scikit_learn_and_its_extremes():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    positives = rng.random(300) < 0.3
    scores = rng.integers(0, 5, 300) + positives  # ties on purpose, positives score a little higher
    assert auroc(scores, positives) == pytest.approx(roc_auc_score(positives, scores), abs=1e-12)
    assert auroc([0, 1, 2, 3], [False, False, True, True]) == 1.0
    assert auroc([3, 2, 1, 0], [False, False, True, True]) == 0.0
    assert auroc([1, 1, 1, 1], [False, True, False, True]) == 0.5
    assert np.isnan(auroc([1, 2], [True, True]))


def test_best_threshold_maximizes_f1():
    scores = [0, 0, 1, 1, 2, 3]
    positives = [False, False, False, True, True, True]
    threshold, precision, recall = best_threshold(scores, positives)
    # score >= 2: 2 of 3 positives, no false positive (F1 0.8); >= 1: 3 of 3 and one false (F1 0.857).
    assert (threshold, precision, recall) == (1.0, 0.75, 1.0)


def test_never_learned_examples_rank_last_learned_and_most_forgotten():
    examples = {"first_learned_epoch": np.array([1, 5, -1, 2]), "forgetting_events": np.array([0, 3, 0, 1]),
                "label_corrupted": np.array([0, 1, 1, 0])}
    assert score(examples, "learned late").tolist() == [1.0, 5.0, 6.0, 2.0]
    # Toneva et al.: the never learned (example 2, no event counted) rank as forgotten the most.
    assert score(examples, "forgotten often").tolist() == [0.0, 3.0, 4.0, 1.0]
    result = separation(examples)
    assert result["learned late"][0] == 1.0  # both corrupted examples rank above both clean ones
    assert result["forgotten often"][0] == 1.0  # counted as never forgotten it was 0.625
    # examples.csv's forgetting_score column, when there, is the score.
    assert score({**examples, "forgetting_score": np.array([0, 3, 9, 1])}, "forgotten often").tolist() == [0, 3, 9, 1]


SWEEP = {
    "sweep": {"name": "dynamics", "reports": ["learning_order", "forgetting"], "seeds": [0, 1]},
    "base": {"data": {"dataset": "digits", "train_examples": 300,
                      "corruption": {"labels": "partial", "corruption_prob": 0.5}},
             "model": {"name": "mlp_1x512"}, "train": {"epochs": 6, "batch_size": 32, "learning_rate": 0.05, "jit_compile": False}},
    "grid": [{"model.dropout": [0.0, 0.5]}],
}


@pytest.mark.slow
def test_both_figures_and_tables_from_a_tiny_real_sweep(tmp_path):
    doc = {**SWEEP, "base": {**SWEEP["base"], "log_dir": str(tmp_path)}}
    rows, folder = run_sweep(parse_sweep(doc))
    assert len(rows) == 4 and all(r["status"] == "finished" for r in rows)
    examples = read_examples(tmp_path / "dynamics" / rows[0]["run_dir"])
    assert examples is not None and len(examples["index"]) == 300
    with open(tmp_path / "dynamics" / rows[0]["run_dir"] / "metrics.csv") as f:
        metrics = list(csv.DictReader(f))
    # The per-epoch clean accuracy of metrics.csv is the examples' clean fraction correct at the end.
    clean = examples["label_corrupted"] == 0
    assert examples["correct_at_end"][clean].mean() == pytest.approx(float(metrics[-1]["train_accuracy_clean"]), abs=1e-4)
    written = {p.name for p in write_report(folder / "results.json", tmp_path / "report")}
    assert {"learning_order.png", "forgetting.png", "report.md"} <= written
    text = (tmp_path / "report" / "report.md").read_text()
    assert text.count("| mlp_1x512, no regularizer, p=0.5 | 2 |") == 2  # a row of each table, over the two seeds
    assert text.count("| mlp_1x512, dropout 0.5, p=0.5 | 2 |") == 2
    assert "mlp_1x512, dropout 0.5, p=0.5: clean examples are fitted before corrupted ones" in text
    assert "'forgotten often' finds the corrupted examples better than chance" in text
    assert "(n=2)" in text  # intervals over the two seeds
    assert "Arpit et al. 2017" in text and "Toneva et al. 2019" in text
    # Exported, the copy keeps each run's examples.csv for these reports, and reports the same.
    from rethinking.experiments.export import export_sweep

    copy, copied = export_sweep(folder, tmp_path / "shared")
    assert copied == 4 and all((copy / "runs" / p.name / "examples.csv").is_file() for p in (copy / "runs").iterdir())
    assert {"learning_order.png", "forgetting.png"} <= {p.name for p in write_report(copy)}
    assert (copy / "report" / "report.md").read_text().split("## learning_order")[1] == text.split("## learning_order")[1]
    # Without the runs' examples.csv and metrics.csv (a table copied alone) both say why, in one line each.
    alone = tmp_path / "alone" / "dynamics"
    alone.mkdir(parents=True)
    (alone / "results.csv").write_text((folder / "results.csv").read_text())
    (alone / "results.json").write_text((folder / "results.json").read_text().replace('"run_dir": "', '"run_dir": "gone/'))
    assert {p.name for p in write_report(alone / "results.json")} == {"report.md", "claims.md"}
    lines = (alone / "report" / "report.md").read_text()
    assert "need the runs' per-epoch metrics" in lines and "need the runs' examples.csv" in lines
