"""The measures report: Kendall's tau, granulated tau, the label claims, and a sweep end to end."""

from __future__ import annotations

import json

import pytest
from scipy import stats as scipy_stats

from rethinking.reports import measures as report
from rethinking.reports.stats import sign_test


def _record(gap, value, seed=0, **descriptors):
    return {"seed": seed, "generalization_gap": gap, "measures": {"path_norm": value}, **descriptors}


def test_kendall_matches_scipy_and_drops_missing_values():
    xs, ys = [1.0, 2.0, 3.0, 4.0, 5.0, None, float("nan")], [0.1, 0.3, 0.2, 0.5, 0.4, 0.9, 0.0]
    tau, p, n = report.kendall(xs, ys)
    expected = scipy_stats.kendalltau([1, 2, 3, 4, 5], [0.1, 0.3, 0.2, 0.5, 0.4], alternative="greater")
    assert n == 5 and tau == pytest.approx(expected.statistic) and p == pytest.approx(expected.pvalue)
    assert tau == pytest.approx(0.6)  # 8 concordant, 2 discordant pairs of 10
    assert report.kendall([1, 1, 1], [1, 2, 3])[0] is None  # a constant measure ranks nothing
    assert report.kendall([1, 2], [1, 2])[0] is None


def test_granulated_tau_averages_over_groups_that_differ_in_one_hyperparameter():
    records = [
        # seed 0: weight decay raises the gap and the measure in both models (tau +1, +1) ...
        _record(0.1, 1.0, model="a", weight_decay=0.0), _record(0.2, 2.0, model="a", weight_decay=1.0),
        _record(0.3, 3.0, model="b", weight_decay=0.0), _record(0.4, 4.0, model="b", weight_decay=1.0),
    ]
    psi = report.granulated(records, "path_norm", ["model", "weight_decay"])
    assert psi == {"model": 1.0, "weight_decay": 1.0, "Psi": 1.0}
    # ... and if, in model b, weight decay lowers the measure, psi(weight_decay) = (1 - 1) / 2 = 0.
    records[3] = _record(0.4, 2.5, model="b", weight_decay=1.0)
    psi = report.granulated(records, "path_norm", ["model", "weight_decay"])
    assert psi["weight_decay"] == 0.0 and psi["model"] == 1.0 and psi["Psi"] == 0.5
    # Oriented: a margin (direction -1) that falls as the gap grows counts as ranking it.
    assert report.granulated(records[:2], "path_norm", ["weight_decay"], direction=-1)["weight_decay"] == -1.0
    assert report.varied(records, ["model", "weight_decay", "dropout"]) == ["model", "weight_decay"]


def test_label_claims_pair_runs_by_everything_but_the_labels_and_use_an_exact_sign_test():
    def run(p, seed, margin, model="m"):
        return {"seed": seed, "model": model, "corruption_prob": p, "labels": "random" if p == 1 else "true",
                "generalization_gap": p, "measures": {"spectral_normalized_margin": margin}}
    records = [run(0.0, s, 2.0 + s) for s in range(4)] + [run(1.0, s, 0.5) for s in range(4)]
    records.append(run(1.0, 9, 0.1))  # no true-label partner: not paired
    (claim,) = report.label_claims(records)
    assert claim.estimate.startswith("4 of 4 pairs") and claim.p_value == pytest.approx(1 / 16)
    assert claim.direction and "smaller with random" in claim.statement
    assert sign_test(4, 0) == pytest.approx(scipy_stats.binomtest(4, 4, 0.5, alternative="greater").pvalue)
    assert sign_test(3, 2) == pytest.approx(scipy_stats.binomtest(3, 5, 0.5, alternative="greater").pvalue)


def test_a_sweep_without_enough_measured_runs_says_what_to_do(tmp_path):
    section = report.measures([{"status": "fitted", "run_dir": str(tmp_path)}], None)
    assert section.figure is None and "rethinking measure" in section.text


@pytest.mark.slow
def test_a_sweep_with_measures_measures_every_run_and_reports_the_ranking(tmp_path, cli):
    from rethinking.experiments.runner import run_sweep
    from rethinking.experiments.sweep import parse_sweep
    from rethinking.reports.write import write_report

    sweep = parse_sweep({
        "sweep": {"name": "tiny-measures", "description": "Measures on a tiny sweep.", "reports": ["measures"]},
        "base": {"data": {"dataset": "digits", "train_examples": 160}, "model": {"name": "mlp_1x512"},
                 "train": {"epochs": 3, "batch_size": 32, "measures": True, "jit_compile": False}, "log_dir": str(tmp_path / "logs")},
        "grid": [{"data.corruption": [{"labels": "true"}, {"labels": "random"}], "model.weight_decay": [0.0, 0.01],
                  "data.seed": [0, 1]}],
    })
    rows, folder = run_sweep(sweep)
    assert len(rows) == 8 and all(r["status"] == "finished" and not r.get("error") for r in rows)
    for row in rows:
        record = json.loads((folder / row["run_dir"] / "measures.json").read_text())
        assert record["examples"] == 2048 and record["measures"]["path_norm"] > 0
    out = tmp_path / "report"
    write_report(folder, out)
    text = (out / "report.md").read_text()
    assert "Kendall" in text and "granulated Psi" in text and "normalized margin" in text
    assert "Hyperparameters varied: weight_decay, data." in text and "nan" not in text
    assert (out / "measures.png").is_file()
    claims = (out / "claims.md").read_text()
    assert "VC bound" in claims and "exact sign test" in claims
    # The export carries measures.json: the report works on the copy.
    assert cli("export", str(folder), str(tmp_path / "copy"))[0] == 0
    assert all((tmp_path / "copy" / "runs" / (folder / r["run_dir"]).name / "measures.json").is_file() for r in rows)
    write_report(tmp_path / "copy", tmp_path / "copy-report")
    assert (tmp_path / "copy-report" / "report.md").read_text().count("Kendall") == text.count("Kendall")
