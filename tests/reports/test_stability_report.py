"""The stability report: pairs of runs that differ in one training example."""

from __future__ import annotations

import csv
import json

import pytest

from rethinking.reports import stability


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    from rethinking.experiments.runner import run_sweep
    from rethinking.experiments.sweep import parse_sweep

    folder = tmp_path_factory.mktemp("stability")
    sweep = parse_sweep({
        "sweep": {"name": "tiny-stability", "description": "Stability on a tiny sweep.", "reports": ["stability"]},
        "base": {"data": {"dataset": "digits", "train_examples": 120}, "model": {"name": "mlp_1x512"},
                 "train": {"epochs": 4, "batch_size": 30, "deterministic": True, "jit_compile": False},
                 "log_dir": str(folder / "logs")},
        "grid": [{"data.corruption": [{"labels": "true"}, {"labels": "random"}]},
                 {"data.corruption": [{"labels": "true"}, {"labels": "random"}], "data.replace_example": [0, 1]}],
    })
    rows, table = run_sweep(sweep)
    return rows, table


@pytest.mark.slow
def test_pairs_and_their_loss_differences_match_the_run_files(swept):
    rows, table = swept
    for row in rows:
        row["run_dir"] = str(table / row["run_dir"])
    found = stability.pairs(rows)
    assert len(found) == 4 and {r["replace_example"] for _, r in found} == {0, 1}
    for full, replaced in found:
        assert full["replace_example"] is None and full["labels"] == replaced["labels"]
        d = stability.pair_differences(full, replaced)
        record = json.loads((table / replaced["run_dir"] / "results.json").read_text())["replaced_example"]
        with open(f"{full['run_dir']}/examples.csv", newline="") as f:
            own = {int(r["index"]): float(r["loss"]) for r in csv.DictReader(f)}
        assert d["example"] == pytest.approx(abs(own[record["index"]] - record["loss"]))
        with open(f"{full['run_dir']}/test_examples.csv", newline="") as f, \
                open(f"{replaced['run_dir']}/test_examples.csv", newline="") as g:
            a, b = list(csv.DictReader(f)), list(csv.DictReader(g))
        deltas = [abs(float(x["loss"]) - float(y["loss"])) for x, y in zip(a, b)]
        assert d["test_mean"] == pytest.approx(sum(deltas) / len(deltas)) and d["test_max"] == pytest.approx(max(deltas))
        assert 0 < d["test_max"]  # one example changed: the networks differ


@pytest.mark.slow
def test_the_report_writes_the_table_the_figure_and_the_claims(swept, tmp_path):
    from rethinking.reports.write import write_report

    _, table = swept
    write_report(table, tmp_path)
    text = (tmp_path / "report.md").read_text()
    assert "loss change on the replaced example" in text and "|Δ" not in text and (tmp_path / "stability.png").is_file()
    claims = (tmp_path / "claims.md").read_text()
    assert "changes more than on a test example" in claims and "random than with true labels" in claims
    assert "exact sign test" in claims


def test_a_sweep_without_pairs_says_so():
    section = stability.stability([{"status": "finished", "run_dir": None, "replace_example": None}], None)
    assert section.figure is None and "No complete pair" in section.text
