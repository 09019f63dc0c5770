"""`rethinking run`, `report` and `tune`: output, exit statuses, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.experiments.helpers import digits_sweep


SWEEP = """
[sweep]
name = "cli-sweep"
description = "Two tiny runs."
reports = ["table1", "figure1c"]

[base]
data = {{ dataset = "digits", train_examples = 128 }}
model = {{ name = "mlp_1x512" }}
train = {{ epochs = 1, batch_size = 64 }}
log_dir = "{log_dir}"

[[grid]]
"data.corruption" = [{{ labels = "true" }}, {{ labels = "random" }}]

[paper]
notes = ["A claim."]
"""


@pytest.fixture
def sweep_file(tmp_path) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP.format(log_dir=(tmp_path / "logs").as_posix()))
    return path


def test_dry_run_lists_the_runs_and_trains_nothing(cli, sweep_file, tmp_path):
    code, out, err = cli("run", str(sweep_file), "--dry-run")
    assert code == 0, err
    assert "cli-sweep: 2 runs (0 done, 2 to run)" in out
    assert out.count("pending") == 2 and "data.corruption={labels=random}" in out
    assert not (tmp_path / "logs").exists()
    code, out, _ = cli("run", str(sweep_file), "--dry-run", "--only", "data.corruption.labels=random")
    assert code == 0 and "1 runs" in out


@pytest.mark.slow
def test_run_then_rerun_then_report(cli, sweep_file, tmp_path):
    code, out, err = cli("run", str(sweep_file))
    assert code == 0, err
    assert "[1/2] training" in out and "[2/2] finished" in out and "epoch 1/1" in out
    results = tmp_path / "logs" / "cli-sweep" / "results.json"
    assert results.is_file() and f"rethinking report {results}" in out
    code, out, _ = cli("run", str(sweep_file))
    assert code == 0 and out.count("finished, skipped") == 2
    code, out, err = cli("report", str(results.parent), "--out", str(tmp_path / "rep"))
    assert code == 0, err
    assert "figure1c.png" in out and (tmp_path / "rep" / "report.md").is_file()


def test_set_overrides_make_new_runs(cli, sweep_file):
    code, out, err = cli("run", str(sweep_file), "--dry-run", "--set", "train.epochs=2", "--set", "data.seed=3")
    assert code == 0, err
    assert "seed3" in out


@pytest.mark.parametrize("args, fragment", [
    (["run", "missing.toml"], "No sweep file"),
    (["run", "{sweep}", "--only", "model.colour=red"], "not a config field"),
    (["run", "{sweep}", "--only", "seed"], "--only: Expected KEY=VALUE"),
    (["run", "{sweep}", "--set", "train.epochs=-1"], "is invalid"),
    (["run", "{sweep}", "--set", "data.dataset=nowhere/x.npz"], "does not exist"),
    (["run", "{sweep}", "--set", "train=5"], "train is a table of options, not 5"),  # once an AttributeError
    (["run", "{sweep}", "--set", "data=1"], "data is a table of options, not 1"),
    (["run", "{sweep}", "--set", "model=[1,2]"], "model is a table of options, not [1, 2]"),
    (["report", "nowhere/results.json"], "No results table"),
    (["tune", "--learning-rates", "0.1"], "LOW,HIGH"),
    (["tune", "--batch-sizes", "a,b"], "comma-separated numbers"),
    (["tune", "--weight-decays", "-1"], "weight_decay"),
])
def test_usage_errors_are_one_line_exit_2(cli, sweep_file, args, fragment):
    args = [a.replace("{sweep}", str(sweep_file)) for a in args]
    code, out, err = cli(*args)
    assert code == 2
    assert fragment in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.slow
def test_tune_runs_two_trials_and_writes_the_best_as_a_sweep(cli, tmp_path):
    out_file = tmp_path / "best.toml"
    code, out, err = cli("tune", "--model", "mlp_1x512", "--train-examples", "200", "--epochs", "1",
                         "--algorithm", "random", "--max-trials", "2", "--batch-sizes", "32,64",
                         "--log-dir", str(tmp_path / "logs"), "--write-sweep", str(out_file))
    assert code == 0, err
    assert "best: learning rate" in out and str(tmp_path / "logs" / "tune-mlp_1x512") in out
    table = out.split("trial  learning rate")[1].split("best:")[0]
    rows = [line.split() for line in table.splitlines()[1:] if line.strip()]
    assert [r[0] for r in rows] == ["0", "1"] and all(0 <= float(r[-1]) <= 1 for r in rows)
    code, out, err = cli("run", str(out_file), "--dry-run")
    assert code == 0, err
    assert "1 runs" in out


def test_sweeps_lists_the_shipped_ones_and_run_takes_a_name(cli):
    from rethinking.experiments.sweep import shipped_sweeps

    code, out, err = cli("sweeps")
    assert code == 0, err
    listed = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()[1:] if line and line[0] != "F"}
    assert set(listed) == set(shipped_sweeps()) and listed["table1"] == 19 and listed["laptop/figure1a"] == 15
    code, out, err = cli("run", "laptop/figure1a", "--dry-run")
    assert code == 0 and out.startswith("laptop-figure1a: 15 runs"), err


def _four_runs(tmp_path: Path, seeds: int = 4) -> Path:
    return digits_sweep(tmp_path, "four", seeds, epochs=2, train_examples=300, batch_size=64)


def test_shard_k_of_n_selects_every_nth_run(cli, tmp_path):
    sweep = _four_runs(tmp_path)
    _, everything, _ = cli("run", str(sweep), "--dry-run")
    names = [line.split()[2] for line in everything.splitlines()[1:]]
    for k in (0, 1):
        code, out, err = cli("run", str(sweep), "--dry-run", "--shard", f"{k}/2")
        assert code == 0, err
        assert [line.split()[2] for line in out.splitlines()[1:]] == names[k::2]
    code, _, err = cli("run", str(sweep), "--shard", "2/2")
    assert code == 2 and "--shard takes K/N with 0 <= K < N" in err


@pytest.mark.slow
def test_three_concurrent_processes_train_every_run_exactly_once_and_leave_one_table(tmp_path, cli):
    """`--workers 2` (two worker processes) and a third, independent `rethinking run` on six runs
    (this test's own process: one TensorFlow start-up fewer)."""
    import csv as csv_module
    import subprocess
    import sys

    sweep = _four_runs(tmp_path, seeds=6)
    with_workers = subprocess.Popen([sys.executable, "-m", "rethinking.cli", "run", str(sweep), "--workers", "2"],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    alone_code, alone_out, alone_err = cli("run", str(sweep))
    outputs = [with_workers.communicate(timeout=600)[0], alone_out + alone_err]
    assert with_workers.returncode == 0 and alone_code == 0, outputs
    assert "[worker 0] started" in outputs[0] and "[worker 1] started" in outputs[0]
    finished = [line for out in outputs for line in out.splitlines() if "] finished: train acc" in line]
    assert len(finished) == 6, outputs  # each run finished by one process; the others skip it or find it locked
    table = json.loads((tmp_path / "logs" / "four" / "results.json").read_text())["runs"]
    assert [r["status"] for r in table] == ["finished"] * 6
    assert len((tmp_path / "logs" / "four" / "results.csv").read_text().splitlines()) == 7  # header + 6 rows
    for row in table:
        with open(tmp_path / "logs" / "four" / row["run_dir"] / "metrics.csv") as f:
            assert [int(r["epoch"]) for r in csv_module.DictReader(f)] == [0, 1, 2]  # trained once, no epoch twice


def test_seeds_from_the_command_line(cli, tmp_path):
    sweep = _four_runs(tmp_path)
    code, out, err = cli("run", str(sweep), "--dry-run", "--seeds", "2", "--seed-varies", "init")
    assert code == 0, err
    assert out.startswith("four: 8 runs")  # four grid points x two initialization seeds
    labels = [line.split("(", 1)[1] for line in out.splitlines()[1:]]
    assert sum("train.init_seed=1" in label for label in labels) == 4
    code, _, err = cli("run", str(sweep), "--workers", "2", "--shard", "0/2")
    assert code == 2 and "does not combine with --shard" in err
