"""Datasets as flat float matrices for the theory experiments: pixels in [0, 1], no preprocessing.

Labels go through the same in-graph corruption as training (``rethinking.data``), so "random labels"
here are the very labels a network sees under the same seed.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from rethinking.data import corruptions, datasets
from rethinking.theory.arrays import FlatData, classification_error, one_hot  # noqa: F401 (re-exported)

# Examples per batch when reading a split into memory.
READ_BATCH = 4096


def _read(ds: tf.data.Dataset, count: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xs, ys, changed = [], [], []
    for batch in ds.take(count).batch(READ_BATCH).as_numpy_iterator():
        xs.append(batch["image"].reshape(len(batch["image"]), -1).astype(dtype) / dtype.type(255))
        ys.append(batch["label"].astype(np.int64))
        changed.append(batch.get("label_corrupted", np.zeros(len(batch["label"]), dtype=bool)))
    if not xs:
        return np.zeros((0, 0), dtype), np.zeros(0, np.int64), np.zeros(0, bool)
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(changed)


def check_counts(what: str, requested: int | None, available: int) -> int:
    """The number of examples to use: ``requested`` (checked) or all.

    Raises:
        ValueError: fewer than 1 or more than the split has.
    """
    if requested is None:
        return available
    if requested < 1:
        raise ValueError(f"{what} must be at least 1. Received: {requested}")
    if requested > available:
        raise ValueError(f"{what}={requested:,} exceeds the {available:,} examples of the split: use at most {available:,}.")
    return requested


def load_flat(
    dataset: str,
    *,
    n_train: int | None = None,
    n_test: int | None = None,
    corruption_prob: float = 0.0,
    seed: int = 0,
    data_dir: str | None = None,
    dtype: type = np.float64,
) -> FlatData:
    """The first ``n_train`` training and ``n_test`` test images of a dataset as flat matrices.

    Args:
        dataset: a name or path that ``rethinking.data.load_dataset`` accepts.
        n_train: training examples (default: all).
        n_test: test examples (default: all).
        corruption_prob: probability that a training label is redrawn uniformly (1.0: random labels).
        seed: the data seed of the corruption.
        data_dir: TFDS data directory.
        dtype: float dtype of the matrices.

    Raises:
        ValueError: unknown dataset, variable-size images, counts out of range, p outside [0, 1].
        DatasetUnavailableError: a TFDS dataset that is not on this machine.
    """
    corruptions.check_probability(corruption_prob)
    bundle = datasets.load_dataset(dataset, data_dir=data_dir)
    info = bundle.info
    if any(side is None for side in info.image_shape):
        raise ValueError(f"{info.name} has images of varying size; the theory experiments need fixed-size images "
                         "(cifar10, mnist, digits, an .npz file ...).")
    n = check_counts("--n", n_train, info.train_size)
    m = check_counts("--test-n", n_test, info.test_size)
    train = corruptions.attach_index(bundle.train)
    train = corruptions.corrupt_labels(train, num_classes=info.num_classes, corruption_prob=corruption_prob, seed=seed)
    dtype = np.dtype(dtype)
    x_train, y_train, changed = _read(train, n, dtype)
    x_test, y_test, _ = _read(corruptions.attach_index(bundle.test), m, dtype)
    return FlatData(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, num_classes=info.num_classes,
                    image_shape=tuple(int(s) for s in info.image_shape), name=info.name, corrupted=changed)


def kernel_inputs(dataset: str, *, n_train: int | None, n_test: int | None, corruption_prob: float, seed: int,
                  data_dir: str | None, dtype: type, features: str = "pixels", filters: int = 1000) -> FlatData:
    """``load_flat``, then (``features="random-conv"``) the random conv features in place of the
    pixels: the inputs of ``rethinking kernel``, prepared in a child process (``in_child``)."""
    data = load_flat(dataset, n_train=n_train, n_test=n_test, corruption_prob=corruption_prob, seed=seed,
                     data_dir=data_dir, dtype=dtype)
    if features == "random-conv":
        from rethinking.theory.features import random_conv_features  # noqa: PLC0415

        x_train, x_test = random_conv_features(data.x_train, data.x_test, data.image_shape, num_filters=filters,
                                               seed=seed, dtype=dtype)
        data = dataclasses.replace(data, x_train=x_train, x_test=x_test)
    return data
