"""The theory experiments' data as arrays, one-hot targets and the classification error: plain
NumPy (no TensorFlow), so the kernel solve runs in a process without TensorFlow (the data are read
in a child process, ``child.in_child``, and come back as a ``FlatData``)."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class FlatData:
    """Flattened images and labels.

    Attributes:
        x_train: (n, d) float, pixels in [0, 1].
        y_train: (n,) int64, the (possibly corrupted) training labels.
        x_test: (m, d) float.
        y_test: (m,) int64, true labels.
        num_classes: K.
        image_shape: one image's (H, W, C).
        name: the dataset's name.
        corrupted: (n,) bool, True where a training label differs from the true one.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    image_shape: tuple[int, int, int]
    name: str
    corrupted: np.ndarray



def one_hot(labels: np.ndarray, num_classes: int, dtype: type = np.float64) -> np.ndarray:
    """(n, K) one-hot targets."""
    out = np.zeros((len(labels), num_classes), dtype=dtype)
    out[np.arange(len(labels)), labels] = 1
    return out


def classification_error(scores: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose largest score is not the label (NaN for no rows)."""
    return float(np.mean(np.argmax(scores, axis=1) != labels)) if len(labels) else float("nan")
