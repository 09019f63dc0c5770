"""TensorBoard output of a run: scalars by epoch and by step, the input grid, hparams.

Tags (one writer, in the run directory, so the HParams dashboard pairs each run's hyperparameters
with its metrics):

* ``epoch/<metric>`` at step = epochs trained: train_loss, train_accuracy,
  train_accuracy_corrupted, train_accuracy_clean, test_loss, test_accuracy, best_test_accuracy,
  learning_rate, batch_loss (the running training-batch loss of the epoch);
* ``step/<metric>`` the same metrics at step = optimizer steps taken, plus ``step/batch_loss``
  about ten times per epoch;
* ``inputs/corrupted_training_images``: the first training images after the randomization;
* ``final/<metric>``: the run's final and best metrics, with its hyperparameters (HParams plugin).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from rethinking.config import RunConfig

EPOCH_SCALARS = ("train_loss", "train_accuracy", "train_accuracy_corrupted", "train_accuracy_clean",
                 "test_loss", "test_accuracy", "best_test_accuracy", "learning_rate", "batch_loss")
FINAL_METRICS = ("train_accuracy", "test_accuracy", "best_test_accuracy", "fit_epoch", "epochs_trained")


def create_writer(directory: str | None) -> tf.summary.SummaryWriter:
    """A writer for ``directory``; a no-op writer when None (non-chief workers)."""
    return tf.summary.create_file_writer(directory) if directory else tf.summary.create_noop_writer()


def write_epoch(writer: tf.summary.SummaryWriter, row: Mapping[str, Any]) -> None:
    """Writes one epoch's metrics at step = epoch and at step = optimizer steps."""
    with writer.as_default():
        extra = [k for k in row if k.startswith("batch_") and k not in EPOCH_SCALARS]  # a user's metrics
        for name in (*EPOCH_SCALARS, *extra):
            value = row.get(name)
            if value is None or not np.isfinite(value):
                continue
            tf.summary.scalar(f"epoch/{name}", value, step=int(row["epoch"]))
            tf.summary.scalar(f"step/{name}", value, step=int(row["step"]))
    writer.flush()


def write_batch_loss(writer: tf.summary.SummaryWriter, step: int, loss: float) -> None:
    """The running training loss, between epochs."""
    with writer.as_default():
        tf.summary.scalar("step/batch_loss", loss, step=step)


def write_fit_probes(writer: tf.summary.SummaryWriter, probes: list[tuple[int, float]]) -> None:
    """The training accuracy (inference mode) of ``--fit-every``'s evaluations within an epoch."""
    if not probes:
        return
    with writer.as_default():
        for step, accuracy in probes:
            tf.summary.scalar("step/train_accuracy_within_epoch", accuracy, step=step)


def write_images(writer: tf.summary.SummaryWriter, grid: np.ndarray, description: str) -> None:
    """The grid of corrupted training inputs (float in [0, 1], [H, W, C])."""
    image = grid if grid.shape[-1] in (1, 3, 4) else grid[..., :3]
    with writer.as_default():
        tf.summary.image("inputs/corrupted_training_images", image[None].astype(np.float32), step=0,
                         description=description)
    writer.flush()


def hparams_of(config: RunConfig, learning_rate: float, batch_norm: bool) -> dict[str, bool | int | float | str]:
    """The run's options as the HParams plugin takes them, named like their flags.

    Derived from the config's option fields (``Option.hparam``), with the values the run resolved:
    the learning rate, batch norm and the label-corruption probability actually used; options left
    at None (a model default) are omitted, as the plugin takes no None.
    """
    from rethinking.config.options import option_values  # noqa: PLC0415

    values = {name: value for name, (spec, value) in option_values(config).items() if spec.option.hparam}
    values.update(learning_rate=float(learning_rate), batch_norm=bool(batch_norm),
                  corruption_prob=float(config.data.corruption.resolved_corruption_prob))
    return {name: value for name, value in values.items() if value is not None}


def write_hparams(writer: tf.summary.SummaryWriter, hparams: Mapping[str, Any], trial_id: str) -> None:
    """Records the hyperparameters (the HParams dashboard's session start)."""
    from tensorboard.plugins.hparams import api as hp  # noqa: PLC0415 (tensorboard is heavy)

    with writer.as_default():
        hp.hparams(dict(hparams), trial_id=trial_id)
    writer.flush()


def write_final(writer: tf.summary.SummaryWriter, results: Mapping[str, Any], step: int) -> None:
    """The final metrics the HParams dashboard shows next to the hyperparameters."""
    with writer.as_default():
        for name in FINAL_METRICS:
            value = results.get(name)
            if isinstance(value, (int, float)) and np.isfinite(value):
                tf.summary.scalar(f"final/{name}", float(value), step=step)
    writer.flush()
