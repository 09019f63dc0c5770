"""The epoch drivers: one ``model.fit`` epoch opens one iterator over the epoch's data."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.data.ops import iterator_ops

from rethinking.training import drivers


def test_a_fit_epoch_opens_one_iterator_and_callbacks_still_see_the_step_count(monkeypatch):
    """Told the cardinality, Keras opened the next epoch's iterator at each epoch's end (0.025 s
    on the digits; its prefetch could start refilling the shuffle buffer) for an epoch that never comes."""
    x = np.arange(160, dtype=np.float32).reshape(40, 4)
    dataset = tf.data.Dataset.from_tensor_slices({"image": x, "label": np.arange(40) % 3, "index": np.arange(40)}).batch(8)
    assert int(dataset.cardinality()) == 5
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True), steps_per_execution=2)
    steps: list[object] = []

    class Steps(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            steps.append(self.params.get("steps"))

    drivers.keras_epoch(model, dataset, [])  # the first epoch also builds the model and traces its step
    opened: list[int] = []
    real_init = iterator_ops.OwnedIterator.__init__

    def counting_init(self, *args, **kwargs):
        opened.append(1)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(iterator_ops.OwnedIterator, "__init__", counting_init)
    logs = drivers.keras_epoch(model, dataset, [Steps()])
    assert len(opened) == 1 and steps == [5, 5, 5] and np.isfinite(logs["loss"])  # 3 calls of 2, 2 and 1 steps
