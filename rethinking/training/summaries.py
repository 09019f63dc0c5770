"""TensorBoard output of a run, in Keras' layout: one chart per question, runs compared by overlay.

A run folder holds one event folder per curve, so TensorBoard draws curves that share a tag on
one chart (Keras' own ``train/`` and ``validation/`` convention, extended):

* ``train/``: ``epoch_accuracy`` and ``epoch_loss`` (the whole training set in inference mode,
  against the labels trained on: the paper's training accuracy), ``epoch_learning_rate``,
  ``epoch_batch_loss`` (the running training-mode loss of the epoch), the user's metrics as
  ``epoch_<name>``; by optimizer step: ``batch_loss`` about ten times per epoch and, with
  ``--fit-every``, ``probe_accuracy``;
* ``validation/``: ``epoch_accuracy``, ``epoch_loss`` and ``epoch_best_accuracy`` on the test set
  (in ``rethinking tune``: on its held-out validation split);
* ``train_corrupted/`` and ``train_clean/``: ``epoch_accuracy`` on the training examples whose
  label was and was not changed (absent where there are none);
* the run folder itself: the input grid ``inputs/training_images`` (labels drawn on, changed ones
  in red), the hyperparameters (HParams plugin) and, at the end, ``fit_epoch``, ``fit_step`` and
  ``epochs_trained``.

So the accuracy chart holds the paper's question (corrupted labels memorized while test accuracy
falls) as four curves of each run. Epoch metrics are written at x = epochs; ``steps=True``
(``--tensorboard-steps``) also writes them at x = optimizer steps, as ``step_<name>``, for runs of
different batch sizes.

HParams: each run records its hyperparameters (``write_hparams``); an experiment folder (a
sweep's, or ``<log_dir>/<experiment>`` of single runs) holds one experiment config
(``write_experiment``) declaring the hyperparameters and metrics the dashboard shows.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from rethinking.config import RunConfig

# The event folders of a run (relative to it) and the row keys each one's tags come from.
CURVES: dict[str, dict[str, str]] = {
    "train": {"epoch_accuracy": "train_accuracy", "epoch_loss": "train_loss", "epoch_learning_rate": "learning_rate",
              "epoch_batch_loss": "batch_loss"},
    "validation": {"epoch_accuracy": "test_accuracy", "epoch_loss": "test_loss",
                   "epoch_best_accuracy": "best_test_accuracy"},
    "train_corrupted": {"epoch_accuracy": "train_accuracy_corrupted"},
    "train_clean": {"epoch_accuracy": "train_accuracy_clean"},
}
FINAL_SCALARS = ("fit_epoch", "fit_step", "epochs_trained")
INPUTS_TAG = "inputs/training_images"
# The experiment config's file in an experiment folder: replaced atomically, read by TensorBoard
# as any event file (its name holds "tfevents").
EXPERIMENT_FILE = "events.out.tfevents.hparams_experiment"

# The metrics the HParams dashboard shows: (tag, event folder, display name).
HPARAMS_METRICS = (
    ("epoch_accuracy", "validation", "test accuracy"),
    ("epoch_best_accuracy", "validation", "best test accuracy"),
    ("epoch_accuracy", "train", "training accuracy"),
    ("epoch_accuracy", "train_corrupted", "training accuracy, corrupted labels"),
    ("fit_epoch", "", "epochs to fit"),
    ("fit_step", "", "steps to fit"),
    ("epoch_loss", "train", "training loss"),
    ("epoch_loss", "validation", "test loss"),
)
# The hyperparameters an experiment of single runs declares, in this order (a sweep declares the
# ones its runs vary).
SINGLE_RUN_HPARAMS = ("model", "dataset", "labels", "corruption_prob", "pixels", "learning_rate", "batch_norm",
                      "weight_decay", "dropout", "random_crop", "seed")


@dataclasses.dataclass
class RunWriters:
    """The writers of a run's event folders (``root`` is the run folder itself)."""

    root: tf.summary.SummaryWriter
    curves: dict[str, tf.summary.SummaryWriter]

    def all(self) -> list[tf.summary.SummaryWriter]:
        """Every writer."""
        return [self.root, *self.curves.values()]

    def flush(self) -> None:
        """Flushes every writer."""
        for writer in self.all():
            writer.flush()

    def close(self) -> None:
        """Closes every writer."""
        for writer in self.all():
            writer.close()


def create_writers(directory: str | os.PathLike | None) -> RunWriters:
    """Writers for a run folder; no-op writers when None (non-chief workers)."""
    if directory is None:
        noop = tf.summary.create_noop_writer()
        return RunWriters(noop, {name: noop for name in CURVES})
    return RunWriters(tf.summary.create_file_writer(str(directory)),
                      {name: tf.summary.create_file_writer(os.path.join(str(directory), name)) for name in CURVES})


def drop_events_after(directory: str | os.PathLike, cutoff: float) -> int:
    """Removes from a run's curve folders (``CURVES``) every event written after ``cutoff``.

    A run resumed from a checkpoint redoes the epochs after it; their points, written before the
    kill, would otherwise show twice. ``cutoff`` is the checkpoint's ``saved_at`` (the clock that
    stamped the events); ``-inf`` drops every point (a restart without a checkpoint). Files are
    rewritten atomically; a record cut short by the kill is dropped too.

    Returns:
        The number of events removed (a cut-short record counts as one).
    """
    from rethinking.atomic import atomic_write_with  # noqa: PLC0415

    dropped = 0
    for name in CURVES:
        for path in sorted(Path(directory, name).glob("events.out.tfevents.*")):
            kept: list[bytes] = []
            removed = 0
            try:
                for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
                    event = tf.compat.v1.Event.FromString(record)
                    if event.HasField("file_version") or event.wall_time <= cutoff:
                        kept.append(record)
                    else:
                        removed += 1
            except tf.errors.DataLossError:  # the last record, cut short by the kill
                removed += 1
            if removed:
                atomic_write_with(path, lambda tmp, kept=kept: _write_records(tmp, kept))
                dropped += removed
    return dropped


def _write_records(path: Path, records: Sequence[bytes]) -> None:
    with tf.io.TFRecordWriter(str(path)) as out:
        for record in records:
            out.write(record)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float, np.floating, np.integer)) and math.isfinite(float(value))


def write_epoch(writers: RunWriters, row: Mapping[str, Any], steps: bool = False) -> None:
    """Writes one epoch's metrics at x = epoch (and at x = optimizer steps with ``steps``).

    ``row`` is a metrics row of ``metrics.csv``; its ``batch_<name>`` keys besides ``batch_loss``
    (a user's metrics, running training-batch values) go to ``train/`` as ``epoch_<name>``.
    """
    extra = {f"epoch_{key[len('batch_'):]}": key for key in row if key.startswith("batch_") and key != "batch_loss"}
    for folder, tags in CURVES.items():
        tags = {**tags, **extra} if folder == "train" else tags
        with writers.curves[folder].as_default():
            for tag, key in tags.items():
                value = row.get(key)
                if not _finite(value):
                    continue
                tf.summary.scalar(tag, float(value), step=int(row["epoch"]))
                if steps:
                    tf.summary.scalar("step_" + tag[len("epoch_"):], float(value), step=int(row["step"]))
    writers.flush()


def write_batch_loss(writers: RunWriters, step: int, loss: float) -> None:
    """The running training loss, between epochs (``train/batch_loss`` at x = steps)."""
    with writers.curves["train"].as_default():
        tf.summary.scalar("batch_loss", loss, step=step)


def write_fit_probes(writers: RunWriters, probes: Sequence[tuple[int, float]]) -> None:
    """The training accuracy (inference mode) of ``--fit-every``'s evaluations within an epoch."""
    if not probes:
        return
    with writers.curves["train"].as_default():
        for step, accuracy in probes:
            tf.summary.scalar("probe_accuracy", accuracy, step=step)


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) of a PNG, from its header (the IHDR chunk comes first)."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def write_image(writers: RunWriters, png: bytes, description: str) -> None:
    """The input grid (a PNG with the labels drawn on) at step 0, stored as the PNG itself.

    The image plugin's record is [width, height, PNG bytes] (what ``tf.summary.image`` writes after
    encoding); writing the file's bytes skips decoding and re-encoding it (0.05 s a run).
    """
    from tensorboard.plugins.image import metadata as image_metadata  # noqa: PLC0415

    width, height = png_size(png)
    with writers.root.as_default():
        tf.summary.write(INPUTS_TAG, tf.constant([str(width).encode(), str(height).encode(), png]), step=0,
                         metadata=image_metadata.create_summary_metadata(display_name=None, description=description))
    writers.flush()


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


def trial_name(config: RunConfig) -> str:
    """A readable name of a run for the HParams table: data condition, switches, seed, model, digest.

    E.g. ``partial 0.2 · crop · wd 0.0005 · seed 1 · inception_small · 3f2a9c1e``: what tells
    runs of a sweep apart comes first (the dashboard's column cuts long names); settings at their
    defaults are left out. The last part is the config's digest (as in the folder name): the
    dashboard groups runs of one trial name, so two configs must never share one.
    """
    from rethinking.config.run import config_digest  # noqa: PLC0415

    c = config.data.corruption
    parts = [f"{c.labels} {c.resolved_corruption_prob:g}" if c.labels == "partial" else f"{c.labels} labels"]
    if c.pixels != "original":
        parts.append(f"{c.pixels} pixels")
    m = config.model
    if m.batch_norm is False:
        parts.append("no bn")
    if config.data.preprocessing.random_crop:
        parts.append("crop")
    if m.weight_decay:
        parts.append(f"wd {m.weight_decay:g}")
    if m.dropout:
        parts.append(f"dropout {m.dropout:g}")
    if m.width_multiplier != 1.0:
        parts.append(f"width {m.width_multiplier:g}")
    if config.data.train_examples is not None:
        parts.append(f"n {config.data.train_examples}")
    parts += [f"seed {config.data.seed}", config.model.name.rpartition(":")[2], config_digest(config)]
    return " · ".join(parts)


def write_hparams(writers: RunWriters, hparams: Mapping[str, Any], trial_id: str) -> None:
    """Records the hyperparameters (the HParams dashboard's session start) in the run folder."""
    from tensorboard.plugins.hparams import api as hp  # noqa: PLC0415 (tensorboard is heavy)

    with writers.root.as_default():
        hp.hparams(dict(hparams), trial_id=trial_id)
    writers.flush()


def write_final(writers: RunWriters, results: Mapping[str, Any], step: int) -> None:
    """The time to fit and epochs trained (HParams metrics; a run that did not fit has no ``fit_*``)."""
    with writers.root.as_default():
        for name in FINAL_SCALARS:
            value = results.get(name)
            if _finite(value):
                tf.summary.scalar(name, float(value), step=step)
    writers.flush()


def declared_hparams(hparams: Iterable[Mapping[str, Any]], names: Sequence[str] | None = None) -> list[Any]:
    """``hp.HParam``s for an experiment config: the hyperparameters that vary over ``hparams``.

    Args:
        hparams: the ``hparams_of`` dicts of the experiment's runs.
        names: declare these instead (single runs: ``SINGLE_RUN_HPARAMS``), without domains.

    Returns:
        The varying ones in the order of the first run's keys, each with a discrete domain of its
        values (seeds last); ``names`` without a domain.
    """
    from tensorboard.plugins.hparams import api as hp  # noqa: PLC0415

    if names is not None:
        return [hp.HParam(name) for name in names]
    values: dict[str, set] = {}
    for run in hparams:
        for name, value in run.items():
            values.setdefault(name, set()).add(value)
    runs_without = [name for name in values if any(name not in run for run in hparams)]
    varying = [name for name, seen in values.items() if len(seen) > 1 or name in runs_without]
    varying.sort(key=lambda name: name == "seed")
    declared = []
    for name in varying:
        seen = values[name]
        kinds = {type(v) for v in seen}
        domain = hp.Discrete(sorted(seen)) if len(kinds) == 1 and kinds <= {str, bool, int, float} else None
        declared.append(hp.HParam(name, domain))
    return declared


def write_experiment(folder: str | os.PathLike, hparams: Sequence[Any]) -> Path:
    """Writes (atomically replaces) the HParams experiment config of an experiment folder.

    Args:
        folder: the folder whose run folders the config describes (TensorBoard opened on it, or
            on the folder above, reads it).
        hparams: ``declared_hparams``' list.

    Returns:
        The written file.
    """
    from tensorboard.plugins.hparams import api as hp  # noqa: PLC0415

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    metrics = [hp.Metric(tag, group=group or None, display_name=name) for tag, group, name in HPARAMS_METRICS]
    with tempfile.TemporaryDirectory(dir=folder, prefix=".hparams-") as scratch:
        writer = tf.summary.create_file_writer(scratch)
        with writer.as_default():
            hp.hparams_config(hparams=list(hparams), metrics=metrics)
        writer.close()
        (written,) = Path(scratch).glob("events.out.tfevents.*")
        os.replace(written, folder / EXPERIMENT_FILE)
    return folder / EXPERIMENT_FILE


class EpochSummaries(keras.callbacks.Callback):
    """``rethinking train``'s TensorBoard curves from a plain ``model.fit`` (``rethinking tune``'s trials).

    After each epoch the whole training set is evaluated in inference mode (split into corrupted
    and clean examples, as the engine does) and written with ``write_epoch``; ``validation/``
    takes ``fit``'s ``val_accuracy``/``val_loss`` (tune's held-out split). A tune trial and a
    trained run then open side by side with the same tags.

    Args:
        log_dir: the trial's folder (its ``train/``, ``validation/``, ... event folders go in it).
        train_in_order: the training set in index order without augmentation (``evaluation_datasets``).
        steps_per_epoch: optimizer steps per epoch (the ``step`` of each row).
    """

    def __init__(self, log_dir: str | os.PathLike, train_in_order: tf.data.Dataset, steps_per_epoch: int) -> None:
        super().__init__()
        self.log_dir, self.dataset, self.steps_per_epoch = str(log_dir), train_in_order, steps_per_epoch
        self.writers: RunWriters | None = None
        self.predict = None
        self.best = float("nan")

    def on_train_begin(self, logs: dict | None = None) -> None:
        from rethinking.training.evaluation import make_loss_and_correct_fn  # noqa: PLC0415

        self.writers = create_writers(self.log_dir)
        self.predict = make_loss_and_correct_fn(self.model, jit_compile=False)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        from rethinking.training.evaluation import evaluate_split  # noqa: PLC0415

        logs = logs or {}
        train = evaluate_split(self.predict, self.dataset)
        test = logs.get("val_accuracy")
        if test is not None and not self.best >= float(test):
            self.best = float(test)
        rate = getattr(self.model.optimizer, "learning_rate", None)
        write_epoch(self.writers, {
            "epoch": epoch + 1, "step": (epoch + 1) * self.steps_per_epoch,
            "train_loss": train.mean_loss, "train_accuracy": train.accuracy,
            "train_accuracy_corrupted": train.accuracy_on(True), "train_accuracy_clean": train.accuracy_on(False),
            "test_accuracy": test, "test_loss": logs.get("val_loss"), "best_test_accuracy": self.best if test is not None else None,
            "learning_rate": float(np.asarray(rate)) if rate is not None else None, "batch_loss": logs.get("loss"),
        })

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.writers is not None:
            self.writers.close()
