"""Report pieces that need no training: which loss Figure 1a plots, and the accuracy table's rows."""

from __future__ import annotations

import math

import pytest

from rethinking.reports.accuracy import accuracy_table
from rethinking.reports.tables import condition, model_label, training_loss


def test_figure1a_plots_the_training_mode_batch_loss_and_falls_back_before_the_first_step():
    assert training_loss({"batch_loss": 0.7, "train_loss": 90.0}) == 0.7  # not the inference-mode spike
    assert training_loss({"batch_loss": math.nan, "train_loss": 2.3}) == 2.3  # epoch 0: no batch yet
    assert math.isnan(training_loss({}))


def test_conditions_are_named_as_in_figure_1a():
    assert condition({"pixels": "original", "corruption_prob": 0.0}) == "true labels"
    assert condition({"pixels": "original", "corruption_prob": 1.0}) == "random labels"
    assert condition({"pixels": "original", "corruption_prob": 0.4}) == "labels corrupted p=0.4"
    assert condition({"pixels": "shuffled", "corruption_prob": 0.0}) == "shuffled pixels"
    assert condition({"pixels": "gaussian", "corruption_prob": 0.0}) == "gaussian"


def test_the_accuracy_table_names_each_runs_data_and_matches_paper_cells_only_for_real_pixels():
    paper = [{"model": "mlp_1x512", "random_crop": False, "weight_decay": False, "train": 100.0, "test": 50.51}]
    base = {"model": "mlp_1x512", "batch_norm": False, "random_crop": False, "weight_decay": 0.0, "labels": "true",
            "corruption_prob": 0.0, "status": "fitted", "train_accuracy": 1.0, "test_accuracy": 0.4,
            "best_test_accuracy": 0.42}
    rows = accuracy_table([{**base, "pixels": "original"}, {**base, "pixels": "random"}], paper).splitlines()
    assert "| true labels | 100.00 / 40.00 | 42.00 | **0 of 1** | 100.00 / 50.51 |" in rows[2]  # no fit_step: marked
    assert "| random pixels | 100.00 / 40.00 | 42.00 | **0 of 1** | - |" in rows[3]


def test_model_labels_say_batch_norm_and_width_when_they_differ_from_the_papers():
    assert model_label({"model": "inception_small", "batch_norm": True, "width_multiplier": 1.0}) == "inception_small"
    assert model_label({"model": "inception_small", "batch_norm": False, "width_multiplier": 0.5}) == \
        "inception_small (no BN, width 0.5)"
    assert model_label({"model": "mlp_1x512", "batch_norm": True, "width_multiplier": 1}) == "mlp_1x512 (BN)"


def test_the_papers_numbers_are_stored_once_and_match_its_tables():
    from rethinking.reports.registry import REPORTS
    from rethinking.reports.tables import paper_claims, paper_numbers, paper_rows

    paper = paper_numbers()
    assert set(paper["claims"]) == set(REPORTS)  # every report has the paper's word on it
    assert len(paper["table1"]) == 19 and len(paper["table2"]) == 3 and len(paper["figure1c"]) == 6
    inception = {(r.get("labels", "true"), r.get("batch_norm", True), r["random_crop"], r["weight_decay"]): r["test"]
                 for r in paper["table1"] if r["model"] == "inception_small"}
    assert inception[("true", True, False, False)] == 85.75 and inception[("true", True, True, True)] == 89.05
    # Figure 1c's end points are Table 1's no-regularizer test errors.
    for point in paper["figure1c"]:
        labels = "random" if point["corruption_prob"] == 1.0 else "true"
        row = next(r for r in paper["table1"] if r["model"] == point["model"] and r.get("labels", "true") == labels
                   and not r["random_crop"] and not r["weight_decay"] and r.get("batch_norm", True))
        assert math.isclose(point["test_error"], 100 - row["test"])
    # A sweep's own [paper] tables take precedence; its notes are listed after the paper's claims.
    own = {"paper": {"table1": [{"model": "mlp", "train": 1.0, "test": 2.0}], "notes": ["mine"]}}
    assert paper_rows(own, "table1") == own["paper"]["table1"] and paper_rows(own, "table2") == paper["table2"]
    assert paper_claims(own, ["figure1b"]) == [*paper["claims"]["figure1b"], "mine"]


def test_runs_that_differ_by_seed_only_form_one_group():
    from rethinking.reports.tables import seed_groups

    rows = [{"model": "mlp", "labels": "true", "corruption_prob": 0.0, "seed": s} for s in (0, 1)] + \
        [{"model": "mlp", "labels": "random", "corruption_prob": 1.0, "seed": 0}]
    assert [len(g) for g in seed_groups(rows)] == [2, 1]


def test_the_accuracy_table_shows_mean_and_interval_over_seeds():
    base = {"model": "mlp_1x512", "batch_norm": False, "random_crop": False, "weight_decay": 0.0, "labels": "true",
            "corruption_prob": 0.0, "pixels": "original", "status": "finished", "best_test_accuracy": 0.5}
    rows = [{**base, "seed": 0, "train_accuracy": 1.0, "test_accuracy": 0.50},
            {**base, "seed": 1, "train_accuracy": 1.0, "test_accuracy": 0.52}]
    line = accuracy_table(rows).splitlines()[2]
    assert "100.00 ± 0.00 (n=2) / 51.00 ± 12.71 (n=2)" in line  # t(0.975, 1) = 12.706, sd 0.01414


def test_figure2a_shows_each_grid_point_once_with_its_interval_over_seeds(tmp_path):
    from rethinking.reports.figure2 import figure2a

    base = {"model": "alexnet_small", "batch_norm": False, "random_crop": False, "weight_decay": 0.0, "labels": "true",
            "corruption_prob": 0.0, "pixels": "original", "status": "finished"}
    rows = [{**base, "seed": s, "test_accuracy": acc, "best_test_accuracy": acc + 0.02, "best_test_epoch": 5 + s}
            for s, acc in ((0, 0.40), (1, 0.42), (2, 0.44))]
    section = figure2a(rows, tmp_path)
    path, text = section.figure, section.text
    assert path is not None and path.with_suffix(".pdf").is_file()
    body = text.splitlines()[2:]
    assert len(body) == 1 and "42.00 ± 4.97 (n=3)" in body[0] and "5, 6, 7" in body[0]  # t(0.975, 2) x 0.02 / sqrt(3)
    assert "2.00 ± 0.00 (n=3)" in body[0]  # the early-stopping gain
    claim, = section.claims  # best above final in every run, no spread: p = 0
    assert claim.estimate == "+2.00 ± 0.00 points (n=3 runs)" and claim.verdict == "supported"


def test_figure1a_draws_one_mean_curve_per_condition_with_a_band_over_seeds(tmp_path):
    from rethinking.reports.figure1 import figure1a
    from rethinking.reports.plotting import mean_curve

    rows = []
    for seed, losses in ((0, [2.3, 1.0, 0.2]), (1, [2.3, 1.2, 0.4])):
        run = tmp_path / f"run{seed}"
        run.mkdir()
        lines = ["epoch,step,batch_loss,train_loss"] + [f"{e},{40 * e},{'nan' if e == 0 else loss},{loss}"
                                                        for e, loss in enumerate(losses)]
        (run / "metrics.csv").write_text("\n".join(lines) + "\n")
        rows.append({"model": "mlp_1x512", "labels": "random", "corruption_prob": 1.0, "pixels": "original",
                     "seed": seed, "status": "fitted", "fit_step": 80, "train_accuracy": 1.0, "test_accuracy": 0.1,
                     "run_dir": str(run)})
    xs, ys, halves = mean_curve(rows, lambda m: m["batch_loss"] if m["batch_loss"] == m["batch_loss"] else m["train_loss"])
    assert xs == [0.0, 0.04, 0.08] and ys == pytest.approx([2.3, 1.1, 0.3])
    sd = math.sqrt(2 * 0.1**2)  # of 1.0 and 1.2
    assert halves[0] == 0.0 and halves[1] == pytest.approx(12.706205 * sd / math.sqrt(2), rel=1e-5)
    section = figure1a(rows, tmp_path)
    assert section.figure is not None and section.figure.is_file()
    assert section.text.splitlines()[2:4] == [
        "| mlp_1x512 | random labels | 80 ± 0 (n=2) | - | 100.00 ± 0.00 (n=2) | 10.00 ± 0.00 (n=2) |", ""]
    assert section.claims[0].estimate == "2 of 2 runs" and section.claims[0].verdict == "supported"


def test_figure2b_draws_one_band_per_grid_point(tmp_path):
    from rethinking.reports.figure2 import figure2b

    rows = []
    for seed, accs in ((0, [0.1, 0.6, 0.9]), (1, [0.1, 0.5, 0.8])):
        run = tmp_path / f"run{seed}"
        run.mkdir()
        lines = ["epoch,step,train_accuracy,test_accuracy"] + [f"{e},{40 * e},{a},{a / 2}" for e, a in enumerate(accs)]
        (run / "metrics.csv").write_text("\n".join(lines) + "\n")
        rows.append({"model": "inception_small", "batch_norm": True, "random_crop": False, "weight_decay": 0.0,
                     "labels": "true", "corruption_prob": 0.0, "pixels": "original", "seed": seed, "status": "finished",
                     "train_accuracy": accs[-1], "test_accuracy": accs[-1] / 2, "best_test_accuracy": accs[-1] / 2,
                     "run_dir": str(run)})
    section = figure2b(rows, tmp_path)
    path, text = section.figure, section.text
    assert path is not None and len(text.splitlines()) == 3  # one row for the two seeds
    assert "85.00 ± 63.53 (n=2)" in text  # mean of 0.9 and 0.8; t(0.975, 1) x sd 0.0707 / sqrt(2)


def test_report_of_a_three_seed_table_has_intervals_error_bars_and_trend_tests(tmp_path):
    """write_report on a 3-seed Figure 1b/1c table (no training: the rows a sweep would write)."""
    import json

    from rethinking.reports.write import write_report

    rows = []
    for p, steps, test in ((0.0, (100, 110, 120), 0.60), (0.5, (150, 160, 170), 0.35), (1.0, (200, 210, 230), 0.10)):
        for seed, fit in enumerate(steps):
            rows.append({"run": f"r{p}-{seed}", "label": "", "dataset": "digits", "train_examples": None, "model": "mlp_1x512",
                         "batch_norm": False, "weight_decay": 0.0, "dropout": 0.0, "width_multiplier": 1.0,
                         "random_crop": False, "labels": "partial" if 0 < p < 1 else ("random" if p else "true"),
                         "corruption_prob": p, "pixels": "original", "seed": seed, "status": "fitted",
                         "fit_step": fit, "train_accuracy": 1.0, "test_accuracy": test + 0.01 * seed,
                         "best_test_accuracy": test + 0.02, "run_dir": None})
    table = {"sweep": "seeds", "reports": ["figure1b", "figure1c"], "paper": {}, "runs": rows}
    (tmp_path / "results.json").write_text(json.dumps(table))
    written = {p.name for p in write_report(tmp_path / "results.json", tmp_path / "report")}
    assert {"figure1b.png", "figure1c.png", "report.md", "claims.md"} <= written
    for name in ("figure1b", "figure1c"):  # every figure in three formats
        assert (tmp_path / "report" / f"{name}.pdf").is_file() and (tmp_path / "report" / f"{name}.svg").is_file()
        # 300 dpi, titled with the figure, the model and the data (matplotlib's SVG keeps text as comments)
        from matplotlib import image

        height, width = image.imread(tmp_path / "report" / f"{name}.png").shape[:2]
        assert width >= 1500 and height >= 900
        svg = (tmp_path / "report" / f"{name}.svg").read_text()
        assert f"Figure {name[-2:]}: mlp_1x512 on digits (embedded)" in svg
    text = (tmp_path / "report" / "report.md").read_text()
    # The paper's numbers come from the whole CIFAR-10: marked as another setting beside digits.
    assert "test error % (paper: full CIFAR-10, another setting)" in text
    text = (tmp_path / "report" / "report.md").read_text()
    # Per seed 150/100, 160/110, 170/120: mean 1.457, sd 0.0417, t(0.975, 2) = 4.303.
    assert "| mlp_1x512 | 0.5 | 160 ± 25 (n=3) | 1.46 ± 0.10 (n=3, paired by seed) | 0 |" in text
    assert "| mlp_1x512 | 0.5 | 64.00 ± 2.48 (n=3) |" in text  # test error: 100 - (35, 36, 37)%
    # Page's L over 3 seeds x 3 levels, every seed in order: exact p = (1/6)^3; Holm over the claims.
    assert "| mlp_1x512: time to fit grows with p | mean within-seed Spearman rho = 1.00 | Page's L = 42, exact " \
        "one-sided p = 0.0046 (3 seeds x 3 levels)" in text
    assert text.count("**supported**") == 3  # the two trends and random labels slower than true
    claims = (tmp_path / "report" / "claims.md").read_text()
    assert claims.startswith("**figure1b**") and "time ratio 1.94 ± 0.13 (n=3, paired by seed)" in claims
    assert "data seeds 0, 1, 2" in text


def test_one_runs_test_accuracy_carries_its_wilson_interval():
    from rethinking.reports.formatting import test_pct

    one = [{"test_accuracy": 484 / 1017, "test_size": 1017}]
    assert test_pct(one) == "47.59 [44.5, 50.7]"  # Wilson over the 1,017 test images (tests/reports/test_stats.py)
    assert test_pct(one, error=True) == "52.41 [49.3, 55.5]"
    assert test_pct([{"test_accuracy": 0.5}]) == "50.00"  # no count of test examples: no interval
    assert test_pct([{"test_accuracy": 0.5, "test_size": 100}, {"test_accuracy": 0.6, "test_size": 100}]).endswith("(n=2)")


@pytest.mark.parametrize("runs, fragment", [
    ([1, 2], "row 1 of 'runs' is not a run's row (int 1, not an object)"),
    ([{}], "row 1 of 'runs' is not a run's row (no 'run')"),
    ([{"run": "a", "status": "finished", "run_dir": 5}], "its 'run_dir' is 5, not a folder"),
    ([{"run": "a", "status": None}], "its 'status' is None, not a name"),
])
@pytest.mark.parametrize("command", ["report", "export"])
def test_report_and_export_refuse_a_malformed_table_in_one_line(cli, tmp_path, runs, fragment, command):
    import json

    table = tmp_path / "sweep" / "results.json"  # once: AttributeError / TypeError tracebacks
    table.parent.mkdir()
    table.write_text(json.dumps({"sweep": "s", "reports": ["table1"], "runs": runs}))
    args = [str(table)] + ([str(tmp_path / "copy")] if command == "export" else [])
    code, _, err = cli(command, *args)
    assert code == 2 and fragment in err and err.count("\n") == 1 and "Traceback" not in err, err


def test_a_garbled_metrics_or_test_examples_file_is_named_in_the_error(tmp_path):
    from rethinking.reports.tables import read_metrics, read_test_correct

    (tmp_path / "metrics.csv").write_bytes(b"epoch,train_accuracy\nx,\xff\xfe\n")
    with pytest.raises(ValueError, match=r"metrics\.csv is not a readable metrics table"):
        read_metrics(tmp_path)
    (tmp_path / "test_examples.csv").write_text("index,label\n0,3\n")  # no 'correct' column
    with pytest.raises(ValueError, match=r"test_examples\.csv is not a readable test_examples\.csv"):
        read_test_correct(tmp_path)
