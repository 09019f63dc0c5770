"""The double-descent reports: the size axis, the peak verdict, the epoch-wise shape, and both figures
from a tiny real width sweep."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from rethinking.reports.double_descent import (curves, double_descent, double_descent_epochs, epoch_shape,
                                               noise_label, peak_claims, size_key, threshold_sentence,
                                               training_dips)
from rethinking.reports.write import write_report
from rethinking.experiments.runner import run_sweep
from rethinking.experiments.sweep import parse_sweep


def _row(units, p, seed, test, train=1.0, noise="wrong", **extra):
    return {"model": "mlp", "depth": 1, "units": units, "corruption_prob": p, "label_noise": noise,
            "pixels": "original", "seed": seed, "status": "finished", "test_accuracy": test,
            "train_accuracy": train, "best_test_accuracy": test, "run_dir": None, **extra}


def test_the_size_axis_is_the_switch_that_varies():
    rows = [_row(8, 0, 0, 0.9), _row(16, 0, 0, 0.9)]
    assert size_key(rows) == "units"
    assert size_key([_row(8, 0, 0, 0.9, width_multiplier=1.0), _row(8, 0, 1, 0.9, width_multiplier=1.0)]) is None
    resnets = [{"model": "preact_resnet18", "width": k, "width_multiplier": 1.0} for k in (1, 2)]
    assert size_key(resnets) == "width"
    assert size_key([{"model": "alexnet_small", "width_multiplier": w} for w in (0.5, 1.0)]) == "width_multiplier"


def test_curves_group_seeds_by_noise_and_size_in_order():
    rows = [_row(16, 0.2, 0, 0.7), _row(8, 0.2, 1, 0.8), _row(8, 0.2, 0, 0.8), _row(8, 0, 0, 0.9, noise="uniform"),
            {**_row(4, 0.2, 0, 0.1), "status": "failed"}, {**_row(4, 0.2, 0, 0.1), "pixels": "random"}]
    result = curves(rows, "units")
    assert list(result) == ["0%", "20% wrong"]
    assert list(result["20% wrong"]) == [8.0, 16.0] and len(result["20% wrong"][8.0]) == 2
    assert noise_label({"corruption_prob": 0.1, "label_noise": "uniform"}) == "10% uniform"


def _seeds(*means, spread=(0.0, 0.01, -0.01)):
    """Per size, three seeds around ``mean`` (offsets ``spread``, the same for every size: paired)."""
    return [{(seed, seed): m + d for seed, d in enumerate(spread)} for m in means]


def _verdicts(sizes, errors):
    from rethinking.reports.claims import judge

    return [c.verdict for c in judge(peak_claims("20%", sizes, errors, "hidden units"))]


def test_a_peak_needs_both_paired_differences_beyond_chance():
    sizes = [2, 8, 16, 64]
    claims = peak_claims("20%", sizes, _seeds(0.30, 0.25, 0.35, 0.20, spread=(0.0, 0.01, -0.02)), "hidden units")
    assert [c.statement for c in claims] == [
        "20% noise: test error at hidden units 16 (the peak) is above the smaller hidden units 8",
        "20% noise: test error at hidden units 16 (the peak) is above the largest hidden units 64"]
    assert claims[0].estimate == "+10.00 ± 0.00 points (n=3, paired by seed; 34.67% vs 24.67%)"  # spread 0, .01, -.02
    assert _verdicts(sizes, _seeds(0.30, 0.25, 0.35, 0.20)) == ["supported", "supported"]
    # Seeds that disagree on the order before the peak: above the largest size, but not beyond chance
    # above the smaller one, so no peak (a peak needs both).
    noisy = [{0: 0.30, 1: 0.30, 2: 0.30}, {0: 0.20, 1: 0.40, 2: 0.15}, {0: 0.35, 1: 0.30, 2: 0.40},
             {0: 0.20, 1: 0.20, 2: 0.20}]
    assert _verdicts(sizes, noisy) == ["inconclusive", "supported"]
    # A large spread that is the same at every size: paired, the peak stands out.
    assert _verdicts(sizes, _seeds(0.30, 0.25, 0.35, 0.20, spread=(0.0, 0.1, -0.1))) == ["supported", "supported"]
    one = [{0: m} for m in (0.30, 0.25, 0.35, 0.20)]
    assert _verdicts(sizes, one) == ["inconclusive", "inconclusive"]  # one seed: no test
    assert peak_claims("20%", sizes[:2], _seeds(0.3, 0.25), "units") == []


def test_the_interpolation_threshold_is_where_training_error_first_reaches_zero():
    assert threshold_sentence([2, 8, 16], [0.5, 0.0, 0.0], "hidden units").endswith("at hidden units 8")
    assert threshold_sentence([2, 8], [0.5, 0.2], "units") == "no size reaches zero training error"


def test_a_dip_of_the_training_accuracy_is_counted():
    metrics = [{"train_accuracy": a} for a in (0.5, 0.9, 1.0, 0.88, 0.99, 1.0, float("nan"))]
    assert training_dips(metrics) == 1  # 0.88 is 12 points below the best so far
    assert training_dips([{"train_accuracy": a} for a in (0.5, 0.97, 1.0, 0.96)]) == 0  # 4 points: not a dip


def test_epoch_shape_finds_the_largest_rise_and_the_end():
    # Falls to 0.2 at epoch 2, rises to 0.4 at epoch 4, falls again to 0.22: epoch-wise double descent.
    assert epoch_shape([0.9, 0.3, 0.2, 0.25, 0.4, 0.35, 0.22]) == (2, 0.2, 4, 0.4, 0.22)
    # An early small bump does not hide the largest rise.
    assert epoch_shape([0.5, 0.55, 0.3, 0.6, 0.6]) == (2, 0.3, 3, 0.6, 0.6)
    # Never rising: low and peak are the lowest point.
    assert epoch_shape([0.9, 0.5, 0.3, 0.2]) == (3, 0.2, 3, 0.2, 0.2)
    assert epoch_shape([np.nan, 0.5, 0.6]) == (1, 0.5, 2, 0.6, 0.6)
    with pytest.raises(ValueError, match="at least one measured epoch"):
        epoch_shape([np.nan])


def test_no_size_axis_is_said_in_one_line(tmp_path):
    rows = [_row(8, 0, s, 0.9) for s in (0, 1)]
    for report in (double_descent, double_descent_epochs):
        section = report(rows, tmp_path)
        assert section.figure is None and section.text.startswith("No model size varies")


SWEEP = {
    "sweep": {"name": "widths", "reports": ["double_descent", "double_descent_epochs"], "seeds": [0, 1]},
    "base": {"data": {"dataset": "digits", "train_examples": 200},
             "model": {"name": "mlp", "depth": 1},
             "train": {"epochs": 4, "batch_size": 32, "optimizer": "adam", "schedule": "constant",
                       "jit_compile": False}},
    "grid": [{"model.units": [2, 8, 32],
              "data.corruption": [{"labels": "true"}, {"labels": "partial", "corruption_prob": 0.2, "label_noise": "wrong"}]}],
}


@pytest.mark.slow
def test_both_figures_and_tables_from_a_tiny_real_width_sweep(tmp_path):
    doc = {**SWEEP, "base": {**SWEEP["base"], "log_dir": str(tmp_path)}}
    rows, folder = run_sweep(parse_sweep(doc))
    assert len(rows) == 12 and all(r["status"] == "finished" for r in rows)
    # The table names each run's width and noise, so seeds of one point group together.
    with open(folder / "results.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert sorted({r["units"] for r in table}) == ["2", "32", "8"] and {r["label_noise"] for r in table} == {"uniform", "wrong"}
    written = {p.name for p in write_report(folder / "results.json", tmp_path / "report")}
    assert {"double_descent.png", "double_descent_epochs.png", "report.md"} <= written
    assert (tmp_path / "report" / "double_descent.pdf").is_file()
    text = (tmp_path / "report" / "report.md").read_text()
    model_wise = text.split("## double_descent\n")[1].split("## double_descent_epochs")[0]
    # One row per noise level and width, each over the two seeds, and two peak claims per noise level.
    for noise in ("0%", "20% wrong"):
        for units in (2, 8, 32):
            assert f"| {noise} | {units} | 2 |" in model_wise
        assert model_wise.count(f"| {noise} noise: test error at hidden units") == 2
        assert f"- {noise} noise: " in model_wise  # the interpolation threshold
    # The test error in the table is the mean of the runs' final test errors.
    mine = [r for r in rows if r["units"] == 8 and r["corruption_prob"] == 0]
    mean = 100 * np.mean([1 - r["test_accuracy"] for r in mine])
    line = next(line for line in model_wise.splitlines() if line.startswith("| 0% | 8 | 2 |"))
    assert line.split(" | ")[4].startswith(f"{mean:.2f} ±")
    epoch_wise = text.split("## double_descent_epochs")[1]
    assert epoch_wise.count("| 20% wrong |") == 3 and "(epoch " in epoch_wise and "Median test error over seeds" in epoch_wise
    assert "Belkin et al. 2019" in text and "Nakkiran et al. 2019" in text
