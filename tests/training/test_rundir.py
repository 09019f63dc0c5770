"""The run folder's files: atomic JSON/CSV, the stored config and its identity checks."""

from __future__ import annotations

import csv
import dataclasses
import json

import pytest

from rethinking.config import ModelConfig, RunConfig
from rethinking.training import rundir


def test_json_and_csv_round_trip_and_floats_keep_six_digits(tmp_path):
    rundir.write_json(tmp_path / "r.json", {"a": 1, "path": tmp_path})
    assert rundir.read_json(tmp_path / "r.json") == {"a": 1, "path": str(tmp_path)}
    rundir.write_csv(tmp_path / "m.csv", [{"x": 1 / 3, "y": "s", "ignored": 0}], ("x", "y"))
    assert list(csv.DictReader((tmp_path / "m.csv").open())) == [{"x": "0.333333", "y": "s"}]


def test_read_json_rejects_what_is_not_a_json_object(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        rundir.read_json(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(ValueError, match="must hold a JSON object"):
        rundir.read_json(tmp_path / "list.json")


def test_config_record_round_trips_and_a_different_config_is_refused(tmp_path):
    config = RunConfig(model=ModelConfig(name="mlp_1x512"), log_dir=str(tmp_path))
    folder = rundir.run_dir(config)
    rundir.write_json(folder / rundir.CONFIG_FILE, rundir.config_record(config))
    assert json.loads((folder / rundir.CONFIG_FILE).read_text())["dataset_sha256"] is None
    assert rundir.load_config(folder) == config
    rundir.check_same_config(folder, dataclasses.replace(config, run_name=folder.name))  # same run, named
    with pytest.raises(ValueError, match="holds a run with a different config"):
        rundir.check_same_config(folder, dataclasses.replace(config, model=ModelConfig(name="mlp_3x512")))
    with pytest.raises(ValueError, match="is not a run directory"):
        rundir.load_config(tmp_path)


def test_statuses_are_nested_and_log_roots_are_checked(tmp_path):
    assert set(rundir.COMPLETE_STATUSES) < set(rundir.DONE_STATUSES)
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        rundir.check_writable_root(tmp_path / "file" / "logs")
    rundir.check_writable_root(tmp_path / "new" / "logs")  # a folder that does not exist yet is fine
    assert not rundir.readable_weights(tmp_path / "file")


def test_the_git_revision_is_rethinkings_own_checkout_only(tmp_path):
    import subprocess

    from rethinking.training.rundir import git_revision

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "model.py").write_text("x = 1\n")
    git("add", "model.py")
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "a user's project")
    assert git_revision(tmp_path) is None  # a repository, but not rethinking's: its revision is not ours
    (tmp_path / "setup.cfg").write_text("[metadata]\nname = rethinking\n")
    git("add", "setup.cfg")
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "rethinking")
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert git_revision(tmp_path) == head
    (tmp_path / "setup.cfg").write_text("[metadata]\nname = rethinking\n# edited\n")
    assert git_revision(tmp_path) == head + "+dirty"
    assert git_revision(tmp_path / "nowhere") is None
