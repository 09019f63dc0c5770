"""keras-tuner search: two tiny trials, the held-out validation split, the sweep file it writes."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from rethinking.config import ModelConfig, RunConfig, TrainConfig
from rethinking.data import DataConfig
from rethinking.data.datasets import load_dataset
from rethinking.experiments.sweep import expand, parse_sweep
from rethinking.experiments.tuning import TuneSpec, distributed_role, holdout, sweep_toml, trial_config, tune

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


def base(tmp_path) -> RunConfig:
    return RunConfig(data=DataConfig(dataset="digits", train_examples=300), model=ModelConfig(name="mlp_1x512"),
                     train=TrainConfig(epochs=1), experiment="search", log_dir=str(tmp_path))


@pytest.mark.slow
def test_two_random_trials_search_the_space_and_log_to_tensorboard(tmp_path):
    import warnings

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from rethinking.config import Corruption
    from rethinking.training.summaries import CURVES

    partial = base(tmp_path)
    partial = dataclasses.replace(partial, data=dataclasses.replace(partial.data, corruption=Corruption(labels="partial", corruption_prob=0.5)))
    spec = TuneSpec(base=partial, learning_rate=(0.01, 0.1), weight_decay=(0.0, 0.001), batch_size=(32, 64),
                    algorithm="random", max_trials=2, validation_examples=60)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = tune(spec)
    assert not [w for w in caught if "ran out of data" in str(w.message)]  # every batch is consumed, silently
    assert len(summary["trials"]) == 2 and all(t["status"] == "COMPLETED" for t in summary["trials"])
    for t in summary["trials"]:
        v = t["values"]
        assert 0.01 <= v["learning_rate"] <= 0.1 and v["weight_decay"] in (0.0, 0.001) and v["batch_size"] in (32, 64)
        assert 0.0 <= t["score"] <= 1.0
    best = summary["best"]
    assert best["score"] == max(t["score"] for t in summary["trials"])
    config = best["config"]
    assert (config.train.learning_rate, config.model.weight_decay, config.train.batch_size) == (
        best["values"]["learning_rate"], best["values"]["weight_decay"], best["values"]["batch_size"])
    board = tmp_path / "search" / "tensorboard"
    events = list(board.rglob("events.out.tfevents.*"))
    assert {e.relative_to(board).parts[0] for e in events} == {"0", "1"}  # one TensorBoard folder per trial
    # The tags of 'rethinking train' (with the corrupted/clean split), so a search and a sweep overlay.
    for t in summary["trials"]:
        (trial,) = [p.parent.parent for p in board.glob(f"{t['trial']}/*/validation/events.out.tfevents.*")]
        for folder, tags in CURVES.items():
            events = EventAccumulator(str(trial / folder), size_guidance={"tensors": 0})
            events.Reload()
            assert set(events.Tags()["tensors"]) >= set(tags), folder
        events = EventAccumulator(str(trial / "validation"), size_guidance={"tensors": 0})
        events.Reload()
        import tensorflow as tf

        assert float(tf.make_ndarray(events.Tensors("epoch_accuracy")[-1].tensor_proto)) == pytest.approx(t["score"])
    # The search state is kept: the same search again trains nothing new and gives the same best.
    again = tune(spec)
    assert summary["trials_trained"] == 2 and again["trials_trained"] == 0
    assert len(again["trials"]) == 2 and again["best"]["values"] == best["values"]


def test_the_best_trial_becomes_a_runnable_sweep(tmp_path):
    config = trial_config(base(tmp_path), {"learning_rate": 0.05, "weight_decay": 0.0005, "batch_size": 32})
    text = sweep_toml(config, "best-mlp", 'The "best" trial.', seeds=(0, 1))
    sweep = parse_sweep(tomllib.loads(text), "best-mlp.toml")
    runs = expand(sweep)
    assert [r.config.data.seed for r in runs] == [0, 1]
    expected = dataclasses.replace(config, experiment="best-mlp")
    assert dataclasses.replace(runs[0].config, run_name=None) == expected


def test_holdout_keeps_the_training_examples_apart():
    bundle = load_dataset("digits")
    split = holdout(bundle, 100)
    assert (split.info.train_size, split.info.test_size) == (bundle.info.train_size - 100, 100)
    train = np.stack([ex["image"] for ex in split.train.as_numpy_iterator()])
    held = np.stack([ex["image"] for ex in split.test.as_numpy_iterator()])
    full = np.stack([ex["image"] for ex in bundle.train.as_numpy_iterator()])
    np.testing.assert_array_equal(np.concatenate([train, held]), full)
    with pytest.raises(ValueError, match="validation_examples=2000 must be between"):
        holdout(bundle, 2000)


@pytest.mark.parametrize("kwargs, message", [
    ({"learning_rate": (0.1, 0.01)}, "0 < low < high"),
    ({"weight_decay": (-1.0,)}, "weight_decay"),
    ({"batch_size": (0,)}, "batch_size"),
    ({"objective": "f1"}, "Unknown objective"),
    ({"algorithm": "bayes"}, "Unknown algorithm"),
])
def test_bad_specs_raise_clear_errors(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        TuneSpec(base=base(tmp_path), **kwargs)


def test_tune_refuses_pixel_work_on_the_device(tmp_path):
    config = base(tmp_path)
    with pytest.raises(ValueError, match="drop --pixel-ops device"):
        TuneSpec(base=dataclasses.replace(config, data=dataclasses.replace(config.data, pixel_ops="device")))


# ------------------------------------------------------------------------------------ distributed search
def test_distributed_role_follows_keras_tuner_variables():
    address = {"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": "8000"}
    assert distributed_role({}) is None
    assert distributed_role({"KERASTUNER_TUNER_ID": "tuner0"}) is None  # an id alone: one process
    assert distributed_role({**address, "KERASTUNER_TUNER_ID": "chief"}) == "chief"
    assert distributed_role({**address, "KERASTUNER_TUNER_ID": "tuner3"}) == "tuner3"
    with pytest.raises(ValueError, match="KERASTUNER_TUNER_ID not set"):
        distributed_role(address)
    with pytest.raises(ValueError, match="KERASTUNER_ORACLE_PORT not set"):
        distributed_role({"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_TUNER_ID": "chief"})
    with pytest.raises(ValueError, match="must be a port number"):
        distributed_role({**address, "KERASTUNER_ORACLE_PORT": "http", "KERASTUNER_TUNER_ID": "chief"})


def _trained_per_worker(output: str) -> dict[str, int]:
    found = re.findall(r"worker (tuner\d): trained (\d+) trial", output)
    return {worker: int(count) for worker, count in found}


@pytest.mark.slow
def test_a_chief_and_two_workers_share_one_search_and_resume_it(tmp_path):
    command = [sys.executable, "-m", "rethinking.cli", "tune", "--dataset", "digits", "--train-examples", "300",
               "--model", "mlp_1x512", "--epochs", "1", "--algorithm", "random", "--max-trials", "4",
               "--validation-examples", "60", "--log-dir", str(tmp_path), "--experiment", "shared",
               "--workers", "2", "--write-sweep", str(tmp_path / "best.toml")]
    first = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    trained = _trained_per_worker(first.stdout)
    # Every trial was trained once, by the workers (the chief trains none).
    assert sum(trained.values()) == 4 and set(trained) <= {"tuner0", "tuner1"}, first.stdout[-3000:]
    oracle = json.loads((tmp_path / "shared" / "tune" / "oracle.json").read_text())
    assert sorted(oracle["end_order"]) == ["0", "1", "2", "3"] and oracle["ongoing_trials"] == {}
    assert re.search(r"\[chief\] best: learning rate", first.stdout)
    assert (tmp_path / "best.toml").is_file()  # written by the chief only
    statuses = [json.loads(p.read_text())["status"] for p in (tmp_path / "shared" / "tune").glob("trial_*/trial.json")]
    assert statuses == ["COMPLETED"] * 4
    # The search's state, as the chief left it, is finished: resumed, it trains no trial again.
    spec = TuneSpec(base=dataclasses.replace(base(tmp_path), experiment="shared"), algorithm="random", max_trials=4,
                    validation_examples=60)
    resumed = tune(spec)
    assert resumed["trials_trained"] == 0 and len(resumed["trials"]) == 4
    # The chief's best is a best trial of the resumed state (trials can tie on 60 validation examples,
    # and then either may be named best).
    chief_rate = float(re.search(r"\[chief\] best: learning rate ([0-9.e-]+)", first.stdout).group(1))
    top = resumed["best"]["score"]
    best_rates = [t["values"]["learning_rate"] for t in resumed["trials"] if t["score"] == top]
    assert any(rate == pytest.approx(chief_rate, rel=1e-4) for rate in best_rates), (chief_rate, resumed["trials"])


def test_workers_refuse_a_distributed_environment_and_bad_variables_are_one_line(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from rethinking.cli import cli

    args = ["tune", "--dataset", "digits", "--model", "mlp_1x512", "--log-dir", str(tmp_path)]
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "8000")
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
    result = CliRunner().invoke(cli, [*args, "--workers", "2"])
    assert result.exit_code == 2 and "--workers starts its own chief" in result.output
    monkeypatch.delenv("KERASTUNER_TUNER_ID")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "KERASTUNER_TUNER_ID not set" in result.output
    assert "Traceback" not in result.output


def test_the_chief_waits_for_its_workers_in_one_second_sleeps_not_twenty(monkeypatch):
    """keras-tuner's chief slept 20 s between checks that its workers had left: `tune --workers`
    ended up to 20 s after the last trial."""
    import time

    from keras_tuner.src.distribute import oracle_chief

    from rethinking.experiments.tuning import chief_rechecks_every_second

    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    with chief_rechecks_every_second():
        oracle_chief.time.sleep(20)  # what start_server does while it waits
        oracle_chief.time.sleep(0.5)
        assert oracle_chief.time.monotonic is time.monotonic  # the rest of the module is untouched
    assert slept == [1.0, 0.5] and oracle_chief.time is time
