"""``rethinking runs`` and ``rethinking compare`` on a folder with a finished, a running, a failed and a killed run."""

from __future__ import annotations

import csv
import dataclasses
import io
import json

import pytest

from rethinking.training import rundir, train
from rethinking.training.runlock import RunLock
from tests.training.helpers import digits_run


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory):
    """One finished run (trained), and three run folders in other states, in one log folder."""
    root = tmp_path_factory.mktemp("runs")
    finished = digits_run(root, labels="random", epochs=1, run_name="finished")
    train(finished)
    for name, seed in (("running", 1), ("failed", 2), ("killed", 3)):
        config = dataclasses.replace(finished, run_name=name, data=dataclasses.replace(finished.data, seed=seed))
        folder = rundir.run_dir(config)
        folder.mkdir(parents=True)
        rundir.write_json(folder / rundir.CONFIG_FILE, rundir.config_record(config))
        (folder / rundir.METRICS_FILE).write_text("epoch,step,train_accuracy,test_accuracy\n0,0,0.1,0.1\n3,135,0.4,0.2\n")
    (root / "default" / "failed" / "error.txt").write_text("Traceback ...\nValueError: boom\n")
    return root


@pytest.mark.slow
def test_runs_lists_every_state_with_settings_and_results(cli, log_dir):
    lock = RunLock(log_dir / "default" / "running").acquire()  # a live process (this one) trains it
    try:
        code, out, err = cli("runs", str(log_dir))
        as_csv = cli("runs", str(log_dir), "--format", "csv")[1]
    finally:
        lock.release()
    assert code == 0, err
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:] if line.startswith("default/")}
    assert {name: row[1] for name, row in rows.items()} == {
        "default/finished": "finished", "default/running": "running", "default/failed": "failed",
        "default/killed": "unfinished"}
    assert "4 runs: 1 failed, 1 finished, 1 running, 1 unfinished" in out
    table = {row["run"]: row for row in csv.DictReader(io.StringIO(as_csv))}
    assert table["default/killed"]["epochs_trained"] == "3" and table["default/killed"]["train_accuracy"] == "0.4"
    assert table["default/finished"]["epochs_trained"] == "1" and table["default/running"]["seed"] == "1"
    assert float(table["default/finished"]["test_accuracy"]) == json.loads(
        (log_dir / "default" / "finished" / "results.json").read_text())["test_accuracy"]
    # Once its process is gone the run is unfinished (a rerun resumes it), not running.
    after = cli("runs", str(log_dir))[1]
    assert [line.split()[1] for line in after.splitlines() if line.startswith("default/running")] == ["unfinished"]


@pytest.mark.slow
def test_compare_shows_the_settings_that_differ_and_the_results(cli, log_dir):
    code, out, err = cli("compare", str(log_dir / "default" / "finished"), str(log_dir / "default" / "killed"))
    assert code == 0, err
    header = out.splitlines()[0].split()
    assert header[:3] == ["run", "status", "seed"] and "model" not in header  # only what differs
    as_json = json.loads(cli("compare", str(log_dir / "default" / "finished"), str(log_dir / "default" / "killed"),
                             "--format", "json")[1])
    assert [r["seed"] for r in as_json] == [0, 3] and as_json[0]["model"] == "mlp_1x512"


def test_bad_folders_are_one_line_usage_errors(cli, tmp_path):
    code, _, err = cli("runs", str(tmp_path / "missing"))
    assert code == 2 and "is not a folder" in err and "Traceback" not in err
    code, _, err = cli("compare", str(tmp_path))
    assert code == 2 and "two or more" in err
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    code, _, err = cli("compare", str(tmp_path / "a"), str(tmp_path / "b"))
    assert code == 2 and "not a readable run config" in err


def test_an_unreadable_run_folder_is_listed_with_the_file_and_the_reason(cli, tmp_path):
    garbled = tmp_path / "default" / "garbled"
    garbled.mkdir(parents=True)
    (garbled / rundir.CONFIG_FILE).write_text("{not json")
    config = rundir.config_record(digits_run(tmp_path, run_name="x"))
    for name, bad_file, content in (("metrics", rundir.METRICS_FILE, b"epoch,train_accuracy\nx,\xff\xfe\n"),
                                    ("results", rundir.RESULTS_FILE, b"[1, 2]")):
        folder = tmp_path / "default" / name
        folder.mkdir()
        rundir.write_json(folder / rundir.CONFIG_FILE, config)
        (folder / bad_file).write_bytes(content)  # once: a UnicodeDecodeError / AttributeError traceback
    code, out, err = cli("runs", str(tmp_path))
    assert code == 0, err
    assert "3 runs: 3 unreadable" in out
    assert f"default/garbled: {garbled / rundir.CONFIG_FILE} is not a readable run config" in out
    assert f"default/metrics: {tmp_path / 'default' / 'metrics' / rundir.METRICS_FILE} is not a readable metrics table" in out
    assert f"default/results: {tmp_path / 'default' / 'results' / rundir.RESULTS_FILE} does not hold a JSON object" in out
