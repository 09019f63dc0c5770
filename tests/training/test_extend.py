"""A finished run can be extended: a larger --epochs continues it from its last checkpoint."""

from __future__ import annotations

import csv
import dataclasses
import json

import pytest

from rethinking.training import train
from tests.training.helpers import digits_run, same_weights


def _epochs(run) -> list[int]:
    return [int(r["epoch"]) for r in csv.DictReader((run / "metrics.csv").open())]


@pytest.mark.slow
def test_extending_a_finished_run_trains_only_the_new_epochs_and_ends_as_one_long_run(tmp_path):
    short = digits_run(tmp_path / "a", epochs=2, deterministic=True)
    first = train(short)
    run = tmp_path / "a" / "default" / first["run_dir"].split("/")[-1]
    trained = []
    longer = dataclasses.replace(short, train=dataclasses.replace(short.train, epochs=4))
    extended = train(longer, progress=lambda row: trained.append(row["epoch"]))
    assert extended["run_dir"] == first["run_dir"]  # the same folder: the cap is not part of the run's name
    assert trained == [3, 4] and extended["epochs_trained"] == 4 and extended["status"] == "finished"
    assert _epochs(run) == [0, 1, 2, 3, 4]
    assert json.loads((run / "config.json").read_text())["train"]["epochs"] == 4
    straight = train(dataclasses.replace(longer, log_dir=str(tmp_path / "b")))
    other = tmp_path / "b" / "default" / straight["run_dir"].split("/")[-1]
    assert same_weights(run / "final.weights.h5", other / "final.weights.h5")
    assert [r["train_loss"] for r in csv.DictReader((run / "metrics.csv").open())][1:] == \
        [r["train_loss"] for r in csv.DictReader((other / "metrics.csv").open())][1:]
    assert train(longer)["already_complete"]  # and then it is complete


@pytest.mark.slow
def test_a_shorter_cap_than_trained_is_refused(tmp_path):
    config = digits_run(tmp_path, epochs=2, run_name="r")
    train(config)
    with pytest.raises(ValueError, match="has trained 2 epochs: ask for --epochs 2 or more"):
        train(dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=1)))


@pytest.mark.slow
def test_resume_refuses_flags_that_change_the_run_and_accepts_a_larger_cap(cli, tmp_path):
    code, _, err = cli("train", "--model", "mlp_1x512", "--dataset", "digits", "--epochs", "1", "--batch-size", "64",
                       "--no-jit-compile", "--log-dir", str(tmp_path), "--run-name", "r")
    assert code == 0, err
    run = str(tmp_path / "default" / "r")
    code, _, err = cli("train", "--resume", run, "--labels", "random", "--learning-rate", "0.5")
    assert code == 2 and "--labels, --learning-rate would change it" in err and err.count("\n") == 1
    code, out, err = cli("train", "--resume", run, "--epochs", "2")
    assert code == 0, err
    assert "epoch    2/2" in out and json.loads((tmp_path / "default" / "r" / "results.json").read_text())["epochs_trained"] == 2


@pytest.mark.slow
def test_a_deterministic_run_records_no_xla_and_leaves_determinism_off(tmp_path):
    import warnings

    from tensorflow.python.framework import config as framework_config

    assert not framework_config.is_op_determinism_enabled()
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Model doesn't support `jit_compile=True`")
        results = train(digits_run(tmp_path, epochs=1, deterministic=True, run_name="det"))
    assert results["compile"]["jit_compile"] is False  # what ran: Keras runs no XLA under determinism
    # The switch is process-wide: the next run of the process (a sweep's, a tuner's) is not deterministic.
    assert not framework_config.is_op_determinism_enabled()
    framework_config.enable_op_determinism()  # a state the caller set is left as it was
    try:
        train(digits_run(tmp_path, epochs=1, deterministic=True, run_name="det2"))
        assert framework_config.is_op_determinism_enabled()
    finally:
        framework_config.disable_op_determinism()
