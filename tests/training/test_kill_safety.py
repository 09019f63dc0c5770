"""Kill-safe to the last byte: the final save, damaged checkpoints, missing files, changed data."""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest

from rethinking.config import DataConfig, RunConfig
from rethinking.training import rundir, train
from rethinking.training.checkpoints import CheckpointError
from tests.training.helpers import digits_run, same_weights


class _Killed(BaseException):
    """Stands for a SIGKILL at a chosen instant (not an Exception, so nothing handles it)."""


def _stop_after(epoch: int):
    def progress(row):
        if row["epoch"] == epoch:
            raise _Killed

    return progress


def _epochs(run: Path) -> list[int]:
    return [int(r["epoch"]) for r in csv.DictReader((run / "metrics.csv").open())]


# Trained once per module; a test that damages a run works on a copy (``_copy``): the run folder
# holds no absolute path a rerun checks (results.json's run_dir is rewritten when it finishes again).
@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[RunConfig, dict]:
    """(config, results) of a finished 2-epoch run."""
    config = digits_run(tmp_path_factory.mktemp("finished"), epochs=2, run_name="r")
    return config, train(config)


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory) -> RunConfig:
    """The config of a 5-epoch run killed after its epoch-3 checkpoint."""
    config = digits_run(tmp_path_factory.mktemp("interrupted"), epochs=5, run_name="r")
    with pytest.raises(_Killed):
        train(config, progress=_stop_after(3))
    return config


def _copy(config: RunConfig, tmp_path: Path) -> tuple[RunConfig, Path]:
    """A copy in ``tmp_path`` of the run of ``config``: (the copy's config, its folder)."""
    shutil.copytree(Path(config.log_dir) / "default", tmp_path / "default")
    return dataclasses.replace(config, log_dir=str(tmp_path)), tmp_path / "default" / "r"


def _killed_after_saving(monkeypatch, config: RunConfig, weights_file: str) -> None:
    """Trains ``config`` until ``weights_file`` is written, then dies; afterwards saving works again."""
    real_save = rundir.save_weights_atomically

    def save_then_die(model, path):
        real_save(model, path)
        if Path(path).name == weights_file:
            raise _Killed

    monkeypatch.setattr(rundir, "save_weights_atomically", save_then_die)
    with pytest.raises(_Killed):
        train(config)
    monkeypatch.setattr(rundir, "save_weights_atomically", real_save)


@pytest.mark.slow
def test_a_kill_during_the_final_save_never_leaves_a_complete_run_without_its_files(tmp_path, monkeypatch):
    config = digits_run(tmp_path, epochs=2, run_name="r")
    run = tmp_path / "default" / "r"
    # Killed after the final weights, before the summary and results.json.
    _killed_after_saving(monkeypatch, config, rundir.FINAL_WEIGHTS)
    assert json.loads((run / "results.json").read_text())["status"] not in ("finished", "fitted")
    results = train(config)
    assert results["status"] == "finished" and not results.get("already_complete")
    assert _epochs(run) == [0, 1, 2]
    assert not list(run.glob(".*tmp*"))  # no temporary file left beside the weights


@pytest.mark.slow
def test_a_kill_after_the_initial_weights_restarts_the_run_with_the_same_initial_weights(tmp_path, monkeypatch):
    config = digits_run(tmp_path, epochs=1, run_name="r")
    run = tmp_path / "default" / "r"
    _killed_after_saving(monkeypatch, config, rundir.INITIAL_WEIGHTS)  # no checkpoint yet
    first = (run / rundir.INITIAL_WEIGHTS).read_bytes()
    assert not (run / rundir.CHECKPOINT_DIR / "latest.json").exists()
    assert train(config)["status"] == "finished"
    saved, again = tmp_path / "first.weights.h5", run / rundir.INITIAL_WEIGHTS
    saved.write_bytes(first)
    assert same_weights(saved, again)  # the fresh start drew the same initial weights
    assert not same_weights(again, run / rundir.FINAL_WEIGHTS)


def _flip_middle_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["missing weights", "truncated weights", "missing examples", "missing metrics",
                                    # Damage a file check cannot see: once answered "Already complete".
                                    "garbled metrics", "truncated examples", "flipped model byte",
                                    "flipped weights byte"])
def test_a_complete_run_with_lost_files_is_repaired_from_its_last_checkpoint(finished, tmp_path, damage):
    config, run = _copy(finished[0], tmp_path)
    first = finished[1]
    reference = tmp_path / "reference.weights.h5"
    reference.write_bytes((run / "final.weights.h5").read_bytes())
    examples = (run / "examples.csv").read_text()
    metrics = (run / "metrics.csv").read_text()
    model = bytearray((run / "model.keras").read_bytes())
    model[len(model) // 2] ^= 0xFF  # what the flipped model.keras holds
    if damage == "missing weights":
        (run / "final.weights.h5").unlink()
    elif damage == "truncated weights":
        data = (run / "final.weights.h5").read_bytes()
        (run / "final.weights.h5").write_bytes(data[: len(data) // 2])
    elif damage == "garbled metrics":
        (run / "metrics.csv").write_text("x" * len(metrics))
    elif damage == "truncated examples":
        (run / "examples.csv").write_text(examples[: len(examples) // 2])
    elif damage == "flipped model byte":
        (run / "model.keras").write_bytes(bytes(model))
    elif damage == "flipped weights byte":
        _flip_middle_byte(run / "final.weights.h5")
    else:
        (run / f"{damage.split()[1]}.csv").unlink()
    repaired = train(config)
    assert not repaired.get("already_complete") and repaired["status"] == "finished"
    assert repaired["epochs_trained"] == 2 and repaired["train_accuracy"] == first["train_accuracy"]
    assert repaired["labels_changed"] == first["labels_changed"] is not None  # read after the evaluation
    assert same_weights(reference, run / "final.weights.h5")
    assert (run / "examples.csv").read_text() == examples
    assert (run / "metrics.csv").read_text() == metrics
    on_disk = rundir.file_checksums(run)
    assert repaired["files"] == on_disk and set(on_disk) == set(rundir.CHECKSUMMED_FILES)  # recorded anew
    for name in ("metrics.csv", "examples.csv", "test_examples.csv"):
        assert on_disk[name] == first["files"][name]  # the same content as before the damage
    if damage == "flipped model byte":
        assert (run / "model.keras").read_bytes() != bytes(model)  # the damaged file was replaced
    assert train(config)["already_complete"]


@pytest.mark.slow
@pytest.mark.parametrize("damage, resumes_at", [
    ("truncate data", 2), ("garble index", 2), ("delete state", 2), ("latest names a missing checkpoint", 2),
    ("delete latest", 3),
])
def test_a_damaged_checkpoint_falls_back_to_the_newest_intact_one(interrupted, tmp_path, caplog, damage, resumes_at):
    config, run = _copy(interrupted, tmp_path)
    ckpt = run / "checkpoints"
    assert json.loads((ckpt / "latest.json").read_text())["epoch"] == 3
    (ckpt / "epoch-000003_temp").mkdir()  # what a write killed mid-way leaves
    if damage == "truncate data":
        data = next(ckpt.glob("epoch-000003.data-*"))
        data.write_bytes(data.read_bytes()[:100])
    elif damage == "garble index":
        index = ckpt / "epoch-000003.index"
        index.write_bytes(b"\0garbage" * 50)
    elif damage == "delete state":
        (ckpt / "epoch-000003.state.json").unlink()
    elif damage == "latest names a missing checkpoint":
        for path in ckpt.glob("epoch-000003.*"):
            path.unlink()
    else:
        (ckpt / "latest.json").unlink()
    seen = []
    with caplog.at_level(logging.WARNING, logger="rethinking"):
        results = train(config, progress=lambda row: seen.append(row["epoch"]))
    assert seen[0] == resumes_at + 1, "resumed from the wrong checkpoint"
    assert results["status"] == "finished" and _epochs(run) == [0, 1, 2, 3, 4, 5]
    if resumes_at == 2 and damage != "latest names a missing checkpoint":
        assert "skipped damaged: epoch-000003" in caplog.text
    assert not (ckpt / "epoch-000003_temp").exists()


@pytest.mark.slow
def test_no_intact_checkpoint_is_one_clear_error(interrupted, tmp_path):
    config, run = _copy(interrupted, tmp_path)
    for index in (run / "checkpoints").glob("*.index"):
        index.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="No intact checkpoint .*--overwrite"):
        train(config)
    assert train(config, overwrite=True)["status"] == "finished"


def _npz(path: Path, seed: int) -> Path:
    rng = np.random.RandomState(seed)
    np.savez(path, x_train=rng.randint(0, 256, (60, 8, 8, 1), dtype=np.uint8), y_train=np.arange(60) % 3,
             x_test=rng.randint(0, 256, (12, 8, 8, 1), dtype=np.uint8), y_test=np.arange(12) % 3)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("name", ["data.npz", "DATA.NPZ", "data.arrays"])  # any file name is hashed
def test_a_changed_npz_file_is_a_new_run_and_never_resumes_an_old_one(tmp_path, name):
    data = tmp_path / name
    with open(data, "wb") as f:  # np.savez would append .npz to the other names
        np.savez(f, **dict(np.load(_npz(tmp_path / "source.npz", 0))))
    base = digits_run(tmp_path, epochs=1, labels="true")
    config = dataclasses.replace(base, data=DataConfig(dataset=str(data)))
    first = train(config)
    recorded = json.loads((Path(first["run_dir"]) / "config.json").read_text())["dataset_sha256"]
    assert recorded == first["dataset_sha256"] and len(recorded) == 64
    assert rundir.load_config(first["run_dir"]) == config  # the hash is beside the config, not in it
    data.write_bytes(_npz(tmp_path / "source.npz", 1).read_bytes())  # same path, other content
    second = train(config)
    assert not second.get("already_complete") and second["run_dir"] != first["run_dir"]
    assert second["dataset_sha256"] != recorded
    named = dataclasses.replace(config, run_name="fixed")
    train(named)
    data.write_bytes(_npz(tmp_path / "source.npz", 2).read_bytes())
    with pytest.raises(ValueError, match=f"another version of .*{name}"):
        train(named)


@pytest.mark.slow
def test_result_files_are_readable_by_collaborators(finished):
    run = Path(finished[1]["run_dir"])
    for name in ("config.json", "results.json", "metrics.csv", "examples.csv", "final.weights.h5"):
        mode = stat.S_IMODE((run / name).stat().st_mode)
        assert mode == rundir.FILE_MODE and mode & stat.S_IRGRP, (name, oct(mode))


@pytest.mark.slow
def test_temporary_files_of_killed_writes_are_removed_by_the_next_owner(finished, tmp_path):
    from rethinking.atomic import temporary_path

    config, run = _copy(finished[0], tmp_path)
    left = [temporary_path(run / "model.keras"), temporary_path(run / "final.weights.h5"),
            temporary_path(run / "checkpoints" / "epoch-000002.state.json"), temporary_path(run / "results.json")]
    for path in left:
        path.write_bytes(b"half a file")  # what a SIGKILL mid-write leaves
    kept = run / ".notes.txt"  # not ours: a hidden file that is not a temporary name
    kept.write_text("mine")
    assert train(config)["already_complete"]
    assert not [p for p in left if p.exists()] and kept.read_text() == "mine"


def _curve_steps(run: Path, folder: str = "validation", tag: str = "epoch_accuracy") -> list[int]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / folder), size_guidance={"tensors": 0}, purge_orphaned_data=False)
    events.Reload()
    return [e.step for e in events.Tensors(tag)]


@pytest.mark.slow
@pytest.mark.parametrize("killed_at", [0, 2])
def test_a_kill_between_an_epochs_points_and_its_checkpoint_leaves_each_point_once(tmp_path, monkeypatch, killed_at):
    """Once, about a third of resumes showed the redone epoch twice in TensorBoard."""
    from rethinking.training.checkpoints import Checkpointer

    config = digits_run(tmp_path, epochs=4, run_name="r")
    run = tmp_path / "default" / "r"
    real_save = Checkpointer.save

    def die_before(self, state):
        if state.epoch == killed_at:  # its TensorBoard points are written, its checkpoint is not
            raise _Killed
        return real_save(self, state)

    monkeypatch.setattr(Checkpointer, "save", die_before)
    with pytest.raises(_Killed):
        train(config)
    assert _curve_steps(run)[-1] == killed_at  # the point of the epoch without a checkpoint is on disk
    monkeypatch.setattr(Checkpointer, "save", real_save)
    assert train(config)["status"] == "finished"
    for folder in ("train", "validation"):  # TensorBoard's own purging off: the files themselves are clean
        assert _curve_steps(run, folder) == [0, 1, 2, 3, 4], folder
