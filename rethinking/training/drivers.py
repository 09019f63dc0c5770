"""The two training drivers: one epoch of Keras' ``Model.train_step`` over a dataset.

``keras_epoch`` runs it through ``model.fit``; ``distributed_epoch`` through ``strategy.run``, for
``MultiWorkerMirroredStrategy`` where Keras 3's ``fit`` fails (keras-team/keras#20585). Both report
the running loss to TensorBoard about ten times per epoch through ``BatchLossLogger`` and stop an
epoch at a NaN loss.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import keras
import tensorflow as tf

from rethinking.data.pipeline import supervised
from rethinking.training import summaries


class BatchLossLogger(keras.callbacks.Callback):
    """Writes the running training loss about ten times per epoch and stops on a NaN loss.

    ``batch`` is the index of the last step of the call (several with ``steps_per_execution``).
    """

    def __init__(self, writer: summaries.RunWriters, first_step: int, every: int) -> None:
        super().__init__()
        self.writer, self.first_step, self.every = writer, first_step, max(1, every)
        self.last_bucket = -1
        self.nan = False

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        bucket = batch // self.every
        if not logs or "loss" not in logs or bucket == self.last_bucket:
            return
        self.last_bucket = bucket
        loss = float(logs["loss"])
        if not math.isfinite(loss):
            self.nan = True
            self.model.stop_training = True
            return
        summaries.write_batch_loss(self.writer, self.first_step + batch + 1, loss)


class BatchEvents(keras.callbacks.Callback):
    """Passes the batch events of the drivers' one-epoch calls on to the user's callbacks.

    Their epoch and train events come from the engine, with its epoch numbers and its metrics
    (``model.fit`` runs one epoch per call, so its own epoch events would always say epoch 0).
    """

    def __init__(self, callbacks: keras.callbacks.CallbackList) -> None:
        super().__init__()
        self.callbacks = callbacks

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.callbacks.on_train_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.callbacks.on_train_batch_end(batch, logs)


@tf.autograph.experimental.do_not_convert
def _every_batch(*_: Any) -> bool:
    return True


def keras_epoch(model: keras.Model, dataset: tf.data.Dataset, callbacks: Sequence[keras.callbacks.Callback]) -> dict[str, float]:
    """One epoch through ``model.fit``.

    ``fit`` gets the epoch's step count and a dataset whose cardinality it cannot see: told the
    cardinality, Keras opens the next epoch's iterator as soon as an epoch ends (for the next epoch
    of the same call, which ours never has) and throws it away: 0.025 s an epoch on the digits
    (``benchmarks/feed.py``, 50,000 CIFAR-size examples: 0.99 s an epoch before and after).
    """
    data = supervised(dataset)
    steps = int(data.cardinality())
    known: dict[str, int] = {}
    if steps > 0:  # (unknown or infinite: Keras counts the steps itself)
        data, known = data.filter(_every_batch), {"steps_per_epoch": steps}  # a filter's count is unknown
    history = model.fit(data, epochs=1, verbose=0, shuffle=False, callbacks=list(callbacks), **known)
    return {k: float(v[-1]) for k, v in history.history.items() if v}


def distributed_epoch(model: keras.Model, strategy: tf.distribute.Strategy, dataset: tf.data.Dataset,
                      step_fn: Callable, callbacks: Sequence[keras.callbacks.Callback]) -> dict[str, float]:
    """One epoch of ``model.train_step`` under ``strategy.run`` (the multi-worker driver).

    Each global batch is split over the workers' replicas (auto-shard by data), so every worker
    sees its part of exactly the batches a single process would.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    distributed = strategy.experimental_distribute_dataset(supervised(dataset).with_options(options))
    model.reset_metrics()
    logs: dict[str, float] = {}
    for callback in callbacks:
        callback.set_model(model)
    for batch_index, batch in enumerate(distributed):
        outputs = step_fn(batch)
        logs = {k: _replica_mean(strategy, v) for k, v in outputs.items()}
        for callback in callbacks:
            callback.on_train_batch_end(batch_index, logs)
        if model.stop_training:
            break
    return logs


def _replica_mean(strategy: tf.distribute.Strategy, value: Any) -> float:
    """A per-replica metric as ``model.fit`` reports it (Keras' ``reduce_per_replica``, "mean"): the
    mean over the replicas (all workers' under multi-worker), not the first replica's."""
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return float(strategy.reduce("MEAN", value, axis=None))
    return float(tf.reduce_mean(strategy.experimental_local_results(value)))


def make_distributed_step(model: keras.Model, strategy: tf.distribute.Strategy) -> Callable:
    """A ``tf.function`` running ``model.train_step`` on each replica's part of a batch."""
    @tf.function
    def step(batch):
        return strategy.run(model.train_step, args=(batch,))

    return step
