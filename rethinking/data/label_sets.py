"""Real human label sets (CIFAR-10N / CIFAR-100N) and class-transition-matrix label noise.

* ``--labels human --label-set NAME``: each training image gets its label from a set of real human
  annotations (Wei et al. 2022; ``rethinking.registry.conditions.HUMAN_LABEL_SETS``). At load the
  fraction of labels that differ from the true ones is measured on the whole training split and
  must match the published rate: another rate means another label set, or labels in another order
  than the images (the TFDS builder itself once had that bug, fixed in cifar10_n 1.0.2).
* ``--labels matrix --transition FILE``: each training label is drawn from row ``y`` of a K x K
  class-transition matrix T (T[i, j] = P(label j | true class i)), a pure function of (seed, split,
  example index) as every corruption; ``label-set:NAME`` uses the matrix measured from a human label
  set, so real noise and synthetic noise with the same transition matrix compare directly.

The matrix functions are NumPy; ``matrix_label`` and ``relabel`` are in-graph (eager and in
``Dataset.map``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import tensorflow as tf

from rethinking.config.data import TRANSITION_OF_LABEL_SET, Corruption
from rethinking.data import seeds
from rethinking.registry.conditions import NOISE_RATE_TOLERANCE, human_label_set
from rethinking.data.seeds import ALG as _ALG

# Rows of a transition matrix must sum to 1 within this (float rounding of a written file).
ROW_SUM_TOLERANCE = 1e-6


def read_transition(path: str | Path, num_classes: int | None = None) -> np.ndarray:
    """A K x K row-stochastic matrix from a text file (numbers separated by commas or spaces, one
    row per line, ``#`` comments) or a ``.npy`` file.

    Raises:
        ValueError: unreadable, not square, not K x K, negative or non-finite entries, or a row
            that does not sum to 1; the message says which.
    """
    path = Path(path).expanduser()
    try:
        if path.suffix == ".npy":
            matrix = np.load(path, allow_pickle=False)
        else:
            lines = [line.split("#")[0].replace(",", " ").split() for line in path.read_text(encoding="utf-8").splitlines()]
            matrix = np.array([[float(v) for v in line] for line in lines if line], dtype=np.float64)
    except (OSError, ValueError, EOFError) as err:  # EOFError: an empty .npy file
        raise ValueError(f"--transition {path}: cannot read a matrix ({err or 'the file is empty'}); write one row "
                         "of K numbers per line.") from err
    return check_transition(matrix, num_classes, str(path))


def check_transition(matrix: np.ndarray, num_classes: int | None = None, what: str = "transition") -> np.ndarray:
    """``matrix`` as float64 if it is a K x K row-stochastic matrix (K = ``num_classes`` when given).

    Raises:
        ValueError: otherwise, saying what is wrong.
    """
    try:
        matrix = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError) as err:  # e.g. a .npy of strings
        raise ValueError(f"{what}: a transition matrix holds numbers ({err}).") from None
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] < 2:
        raise ValueError(f"{what}: a transition matrix is K x K with K >= 2. Received: shape {matrix.shape}")
    if num_classes is not None and matrix.shape[0] != num_classes:
        raise ValueError(f"{what}: the dataset has {num_classes} classes, the matrix is {matrix.shape[0]} x "
                         f"{matrix.shape[1]}.")
    if not np.isfinite(matrix).all() or (matrix < 0).any():
        raise ValueError(f"{what}: entries must be finite probabilities >= 0.")
    sums = matrix.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1) > ROW_SUM_TOLERANCE)
    if bad.size:
        raise ValueError(f"{what}: row {int(bad[0])} sums to {sums[bad[0]]:.6g}; every row (a true class) must sum to 1.")
    return matrix


def measured_transition(true: np.ndarray, noisy: np.ndarray, num_classes: int) -> np.ndarray:
    """The row-normalized confusion of ``noisy`` labels against ``true`` ones (a class with no
    example keeps its label: an identity row)."""
    counts = np.zeros((num_classes, num_classes), np.float64)
    np.add.at(counts, (np.asarray(true, np.int64), np.asarray(noisy, np.int64)), 1)
    totals = counts.sum(axis=1, keepdims=True)
    return np.where(totals > 0, counts / np.maximum(totals, 1), np.eye(num_classes))


def noise_rate(true: np.ndarray, noisy: np.ndarray) -> float:
    """The fraction of labels that differ."""
    true, noisy = np.asarray(true), np.asarray(noisy)
    return float((true != noisy).mean()) if true.size else float("nan")


def check_noise_rate(name: str, dataset: str, true: np.ndarray, noisy: np.ndarray) -> float:
    """The measured noise rate of human label set ``name``, checked against the published one.

    Raises:
        ValueError: another dataset, another number of training examples, or another rate (another
            label set, or labels not in the order of the images).
    """
    label_set = human_label_set(name)
    if dataset != label_set.dataset:
        raise ValueError(f"Label set {name!r} belongs to --dataset {label_set.dataset}. Received: dataset={dataset!r}")
    if true.size != label_set.train_size:
        raise ValueError(f"{dataset} has {true.size:,} training examples; the published noise rate of {name!r} is "
                         f"measured on {label_set.train_size:,}: prepare the full dataset (tfds build {dataset}).")
    rate = noise_rate(true, noisy)
    if abs(rate - label_set.noise_rate) > NOISE_RATE_TOLERANCE:
        raise ValueError(f"Label set {name!r} of {dataset}: {100 * rate:.2f}% of the training labels differ from the "
                         f"true ones, the published rate is {100 * label_set.noise_rate:.2f}%: the labels are not in "
                         f"the order of the images, or not CIFAR-N's; rebuild the dataset with TFDS >= 4.9 "
                         f"(cifar10_n 1.0.2 fixed the order).")
    return rate


def human_labels(dataset: str, name: str, data_dir: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(true labels, human labels of set ``name``) of every training example, by index, the noise
    rate checked (``check_noise_rate``)."""
    from rethinking.data.tfds import read_label_columns  # noqa: PLC0415

    label_set = human_label_set(name)
    if dataset != label_set.dataset:
        raise ValueError(f"Label set {name!r} belongs to --dataset {label_set.dataset}. Received: dataset={dataset!r}")
    columns = read_label_columns(dataset, [label_set.feature], data_dir=data_dir)
    true, noisy = columns["label"], columns[label_set.feature]
    check_noise_rate(name, dataset, true, noisy)
    return true, noisy


def transition_matrix(corruption: Corruption, dataset: str, num_classes: int, data_dir: str | None = None) -> np.ndarray:
    """The transition matrix of ``labels="matrix"``: read from its file, or measured from a human label set."""
    if corruption.transition is None:
        raise ValueError("transition_matrix needs labels='matrix' with a transition.")
    if corruption.transition.startswith(TRANSITION_OF_LABEL_SET):
        true, noisy = human_labels(dataset, corruption.transition[len(TRANSITION_OF_LABEL_SET):], data_dir)
        return measured_transition(true, noisy, num_classes)
    return read_transition(corruption.transition, num_classes)


# ---------------------------------------------------------------------------------------------
# In-graph label functions
# ---------------------------------------------------------------------------------------------


def matrix_label(label: tf.Tensor, index: tf.Tensor, *, transition: np.ndarray | tf.Tensor, seed: int,
                 split: str = "train") -> tuple[tf.Tensor, tf.Tensor]:
    """A label drawn from row ``label`` of ``transition``, a pure function of (seed, split, index).

    One uniform draw u per example, mapped through the row's cumulative sum (inverse-CDF sampling).

    Returns:
        ``(new_label, changed)`` as ``corruptions.corrupt_label``.
    """
    cdf = tf.math.cumsum(tf.constant(transition, tf.float64) if isinstance(transition, np.ndarray)
                         else tf.cast(transition, tf.float64), axis=1)
    key = seeds.fold(seeds.stream_seed(seed, seeds.LABELS, split), index)
    u = tf.random.stateless_uniform([], key, dtype=tf.float64, alg=_ALG)
    true = tf.cast(label, tf.int64)
    row = tf.gather(cdf, true)
    # The first class whose cumulative probability exceeds u (clipped: a row summing to 1 - 1e-7).
    drawn = tf.minimum(tf.reduce_sum(tf.cast(row <= u, tf.int64)), tf.cast(tf.shape(cdf)[0] - 1, tf.int64))
    return tf.cast(drawn, label.dtype), tf.not_equal(drawn, true)


def relabel(ex: Mapping[str, tf.Tensor], labels: tf.Tensor) -> dict[str, tf.Tensor]:
    """An example dict whose label is ``labels[index]`` (a human label set, by example index)."""
    true = ex["label"]
    new = tf.cast(tf.gather(labels, tf.cast(ex["index"], tf.int64)), true.dtype)
    return {**ex, "true_label": true, "label": new, "label_corrupted": tf.not_equal(new, true)}
