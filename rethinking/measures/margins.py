"""Output margins, spectrally normalized margins and the input-output Jacobian norm.

* ``margin(x, y) = f(x)_y - max_{j != y} f(x)_j`` on the logits, over the training examples with
  the labels the network was trained on (random ones in a random-label run); ``output_margin`` is
  its 10th percentile (Jiang et al. 2020 take the 10th percentile rather than the minimum, which
  one example decides).
* ``spectral_normalized_margin``: the 10th percentile of ``margin / (R_A ||X||_F / n)``, the
  quantity Bartlett et al.'s bound divides by (``||X||_F`` the Frobenius norm of the n training
  inputs as the network sees them); the whole distribution is kept for the figure.
* ``jacobian_norm``: the Frobenius norm of the Jacobian of the softmax output with respect to the
  input, averaged over training examples (Novak et al. 2018).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

MARGIN_PERCENTILE = 10.0


def batches(data: Any, batch_size: int = 256) -> Iterable[tuple[np.ndarray, np.ndarray]]:
    """``(images, labels)`` NumPy batches from a tf.data pipeline or arrays.

    Args:
        data: a ``tf.data.Dataset`` of ``(images, labels)`` batches or of dicts with ``"image"``
            and ``"label"`` (the toolkit's pipelines), or a pair of arrays ``(images, labels)``.
        batch_size: the batch size for arrays.
    """
    if isinstance(data, tuple) and len(data) == 2 and not isinstance(data[0], tf.data.Dataset):
        images, labels = np.asarray(data[0]), np.asarray(data[1])
        for start in range(0, len(images), batch_size):
            yield images[start:start + batch_size], labels[start:start + batch_size]
        return
    for element in data:
        if isinstance(element, dict):
            images, labels = element["image"], element["label"]
        else:
            images, labels = element[0], element[1]
        yield np.asarray(images), np.asarray(labels)


def logits_and_labels(model: keras.Model, data: Any) -> tuple[np.ndarray, np.ndarray, float]:
    """The model's logits (inference mode) and the labels over ``data``, and ``||X||_F``."""
    outputs, labels, squares = [], [], 0.0
    for images, y in batches(data):
        outputs.append(np.asarray(keras.ops.convert_to_numpy(model(images, training=False)), np.float64))
        labels.append(y.astype(np.int64).reshape(-1))
        squares += float(np.sum(np.asarray(images, np.float64) ** 2))
    if not outputs:
        raise ValueError("The data are empty: the margins need at least one example.")
    return np.concatenate(outputs), np.concatenate(labels), math.sqrt(squares)


def margins(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``f(x)_y - max_{j != y} f(x)_j`` per example.

    Raises:
        ValueError: a label outside the logits' classes.
    """
    logits = np.asarray(logits, np.float64)
    labels = np.asarray(labels, np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= logits.shape[1]):
        raise ValueError(f"Labels must lie in [0, {logits.shape[1] - 1}]. Received: {labels.min()}..{labels.max()}")
    rows = np.arange(len(labels))
    correct = logits[rows, labels]
    others = logits.copy()
    others[rows, labels] = -np.inf
    return correct - others.max(axis=1)


def percentile(values: np.ndarray, q: float = MARGIN_PERCENTILE) -> float:
    """The ``q``-th percentile (linear interpolation, NumPy's default)."""
    return float(np.percentile(np.asarray(values, np.float64), q))


def normalized_margins(margin: np.ndarray, spectral_complexity: float, data_norm: float) -> np.ndarray:
    """Bartlett et al.'s normalized margins ``margin / (R_A ||X||_F / n)``."""
    scale = spectral_complexity * data_norm / len(margin)
    if not scale > 0 or not math.isfinite(scale):
        return np.full(len(margin), np.nan)
    return np.asarray(margin, np.float64) / scale


def jacobian_norm(model: keras.Model, data: Any, examples: int = 256) -> float:
    """The mean over the first ``examples`` examples of ``||d softmax(f(x)) / dx||_F``.

    ``||J||_F^2 = sum_k ||d p_k / dx||^2``: one backward pass per class of the batch's summed
    ``p_k`` gives every example's row ``k`` at once (examples do not interact in inference mode).
    """
    squared_rows = _jacobian_rows(model)
    total, count = 0.0, 0
    for images, _ in batches(data):
        images = tf.convert_to_tensor(images[: examples - count], tf.float32)
        total += float(tf.reduce_sum(tf.sqrt(squared_rows(images))))
        count += int(images.shape[0])
        if count >= examples:
            break
    if count == 0:
        raise ValueError("The data are empty: the Jacobian norm needs at least one example.")
    return total / count


def _jacobian_rows(model: keras.Model):
    @tf.function(reduce_retracing=True)
    def squared_norms(images):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(images)
            probabilities = tf.nn.softmax(tf.cast(model(images, training=False), tf.float32))
            columns = [tf.reduce_sum(probabilities[:, k]) for k in range(probabilities.shape[-1])]
        total = tf.zeros(tf.shape(images)[:1])
        for column in columns:
            gradient = tape.gradient(column, images)
            total += tf.reduce_sum(tf.reshape(gradient * gradient, (tf.shape(images)[0], -1)), axis=1)
        del tape
        return total
    return squared_norms
