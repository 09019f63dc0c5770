"""Optimizers and learning-rate schedules: the documented rate at every step, in the optimizer and the run."""

from __future__ import annotations

import csv
import dataclasses
import math

import keras
import numpy as np
import pytest

from rethinking.config import ModelConfig, RunConfig, TrainConfig
from rethinking.training import train
from rethinking.training.assembly import learning_rate_schedule, make_optimizer, scheduled_rate
from tests.training.helpers import digits_run

SPE = 10  # steps per epoch


def _config(**train) -> RunConfig:
    return RunConfig(model=ModelConfig(name="mlp_1x512"), train=TrainConfig(learning_rate=0.1, epochs=4, **train))


# Hand-computed from docs/training.md's formulas: lr 0.1, 10 steps per epoch.
EXPECTED = {
    "exponential": (dict(lr_decay=0.9), {0: 0.1, 9: 0.1, 10: 0.09, 25: 0.081, 39: 0.0729}),
    "step": (dict(lr_steps="2,3", lr_step_factor=0.1), {0: 0.1, 19: 0.1, 20: 0.01, 29: 0.01, 30: 0.001, 99: 0.001}),
    "cosine": ({}, {0: 0.1, 10: 0.1 * (1 + math.cos(math.pi / 4)) / 2, 20: 0.05, 40: 0.0, 55: 0.0}),
    "constant": ({}, {0: 0.1, 17: 0.1, 1000: 0.1}),
}


@pytest.mark.parametrize("schedule", list(EXPECTED))
def test_each_schedule_gives_the_documented_rate_at_every_step(schedule):
    extra, expected = EXPECTED[schedule]
    config = _config(schedule=schedule, **extra)
    keras_schedule = learning_rate_schedule(config, SPE)
    for step, rate in expected.items():
        assert scheduled_rate(config, step, SPE) == pytest.approx(rate, abs=1e-12)
        got = keras_schedule(step) if callable(keras_schedule) else keras_schedule
        assert float(got) == pytest.approx(rate, rel=1e-6, abs=1e-9), (schedule, step)


@pytest.mark.parametrize("optimizer, schedule", [("sgd", "step"), ("adam", "cosine"), ("adam", "exponential")])
def test_the_optimizer_follows_its_schedule_while_training(optimizer, schedule):
    extra = EXPECTED[schedule][0]
    config = _config(optimizer=optimizer, schedule=schedule, **extra)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(make_optimizer(config, SPE), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert type(model.optimizer).__name__ == {"sgd": "SGD", "adam": "Adam"}[optimizer]
    x, y = np.random.RandomState(0).rand(50, 4).astype("float32"), np.arange(50) % 3
    for steps in (5, 20, 25):  # cumulative: 5, 25, 50 steps
        model.fit(x[:2 * steps], y[:2 * steps], batch_size=2, epochs=1, verbose=0, shuffle=False)
        done = int(model.optimizer.iterations.numpy())
        assert float(model.optimizer.learning_rate) == pytest.approx(scheduled_rate(config, done, SPE), rel=1e-6, abs=1e-9)


def test_optimizer_options_and_their_checks():
    assert RunConfig(train=TrainConfig(optimizer="adam")).learning_rate == 0.001  # Keras' Adam default
    assert make_optimizer(_config(nesterov=True), SPE).nesterov
    with pytest.raises(ValueError, match="nesterov applies to --optimizer sgd"):
        TrainConfig(optimizer="adam", nesterov=True)
    with pytest.raises(ValueError, match="--schedule step takes --lr-steps"):
        TrainConfig(schedule="step")
    with pytest.raises(ValueError, match="--lr-steps only applies"):
        TrainConfig(lr_steps="3")
    with pytest.raises(ValueError, match="increasing positive epochs"):
        TrainConfig(schedule="step", lr_steps="5,2")


@pytest.mark.slow
def test_a_run_records_the_rate_of_each_epoch(tmp_path):
    config = digits_run(tmp_path, epochs=4, run_name="r", schedule="step", lr_steps="2,3", lr_step_factor=0.5)
    results = train(config)
    rows = list(csv.DictReader((tmp_path / "default" / "r" / "metrics.csv").open()))
    rates = [float(r["learning_rate"]) for r in rows[1:]]  # the rate of epochs 1..4
    assert rates == pytest.approx([0.03, 0.03, 0.015, 0.0075])
    assert all(flag in results["command"] for flag in ("--schedule step", "--lr-steps 2,3", "--lr-step-factor 0.5"))
    config_adam = dataclasses.replace(config, train=dataclasses.replace(config.train, optimizer="adam", schedule="constant",
                                                                         lr_steps=None, learning_rate=None), run_name="adam")
    assert train(config_adam)["learning_rate"] == 0.001
