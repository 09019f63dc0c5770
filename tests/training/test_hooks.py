"""Your model, callbacks and metrics through the engine: rethinking.train(config, model=, callbacks=, metrics=)."""

from __future__ import annotations

import csv
import json

import keras
import pytest

from rethinking.models import MODEL_CATALOG
from rethinking.training import train
from tests.training.helpers import digits_run


def small_net(input_shape, num_classes, *, dropout=0.0):
    """A researcher's builder: importable from this module, so runs record where it is."""
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(32, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes)(keras.layers.Dropout(dropout)(x)))


class Recorder(keras.callbacks.Callback):
    def __init__(self, stop_after: int | None = None):
        super().__init__()
        self.events: list[tuple] = []
        self.batches = 0
        self.stop_after = stop_after

    def on_train_begin(self, logs=None):
        self.events.append(("train_begin",))

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(("epoch_begin", epoch))

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch_end", epoch, logs["epoch"], logs["test_accuracy"], logs["train_accuracy_corrupted"]))
        if self.stop_after is not None and epoch + 1 >= self.stop_after:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self.events.append(("train_end",))


@pytest.mark.slow
def test_a_callback_sees_every_epoch_with_the_engines_metrics(tmp_path):
    recorder = Recorder()
    config = digits_run(tmp_path, epochs=3, run_name="r", steps_per_execution=1)
    results = train(config, callbacks=[recorder])
    kinds = [e[0] for e in recorder.events]
    assert kinds == ["train_begin"] + ["epoch_begin", "epoch_end"] * 3 + ["train_end"]
    ends = [e for e in recorder.events if e[0] == "epoch_end"]
    assert [(e[1], e[2]) for e in ends] == [(0, 1), (1, 2), (2, 3)]  # Keras' 0-based index, the engine's epoch
    assert all(0.0 <= e[3] <= 1.0 and 0.0 <= e[4] <= 1.0 for e in ends)
    assert recorder.batches == 3 * -(-1438 // 32)  # every training step of every epoch
    assert results["status"] == "finished" and "stopped_by_callback" not in results


@pytest.mark.slow
def test_a_callback_can_end_the_run(tmp_path):
    config = digits_run(tmp_path, epochs=6, run_name="r")
    results = train(config, callbacks=[Recorder(stop_after=2)])
    assert results["status"] == "finished" and results["epochs_trained"] == 2 and results["stopped_by_callback"]
    rows = list(csv.DictReader((tmp_path / "default" / "r" / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]


@pytest.mark.slow
def test_extra_metrics_are_logged_with_the_rest(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = digits_run(tmp_path, epochs=2, run_name="r", tensorboard_steps=True)
    train(config, metrics=[keras.metrics.SparseTopKCategoricalAccuracy(k=3, name="top3")])
    rows = list(csv.DictReader((tmp_path / "default" / "r" / "metrics.csv").open()))
    assert rows[0]["batch_top3"] == ""  # epoch 0: no training step yet
    assert all(0.0 <= float(r["batch_top3"]) <= 1.0 for r in rows[1:])
    assert float(rows[-1]["batch_top3"]) >= float(rows[-1]["train_accuracy"]) - 0.2  # top-3 is the easier score
    events = EventAccumulator(str(tmp_path / "default" / "r" / "train"), size_guidance={"tensors": 0})
    events.Reload()
    assert [e.step for e in events.Tensors("epoch_top3")] == [1, 2]
    # --tensorboard-steps: the epoch curves again at x = optimizer steps (45 an epoch)
    assert [e.step for e in events.Tensors("step_accuracy")] == [0, 45, 90]


def test_your_own_builder_is_recorded_where_it_can_be_found_again(tmp_path):
    config = digits_run(tmp_path, epochs=1)
    results = train(config, model=small_net)
    stored = json.loads((tmp_path / "default" / results["run_dir"].split("/")[-1] / "config.json").read_text())
    assert stored["model"]["name"] == f"{__name__}:small_net"
    assert results["status"] == "finished" and results["run_dir"].split("/")[-1].startswith("small_net-labels_random")


def test_a_local_factory_is_registered_under_its_name(tmp_path):
    def tiny_factory():
        return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])

    try:
        results = train(digits_run(tmp_path, epochs=1), model=tiny_factory)
        assert results["status"] == "finished" and "tiny_factory" in MODEL_CATALOG
        assert json.loads((tmp_path / "default" / results["run_dir"].split("/")[-1] / "config.json").read_text())[
            "model"]["name"] == "tiny_factory"
        with pytest.raises(ValueError, match="Give your model a name"):
            train(digits_run(tmp_path, epochs=1), model=lambda: tiny_factory())
    finally:
        MODEL_CATALOG.pop("tiny_factory", None)
