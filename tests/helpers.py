"""Small synthetic data for tests."""

from __future__ import annotations

import numpy as np

from rethinking.data.datasets import DataBundle, from_arrays


def make_images(n: int, shape=(8, 8, 3), seed: int = 0) -> np.ndarray:
    """Random uint8 images [n, *shape]."""
    return np.random.RandomState(seed).randint(0, 256, size=(n, *shape), dtype=np.uint8)


def make_labels(n: int, num_classes: int = 10, seed: int = 1) -> np.ndarray:
    """Labels covering every class, in a random order."""
    labels = np.arange(n) % num_classes
    return np.random.RandomState(seed).permutation(labels).astype(np.int64)


def synthetic_bundle(n_train: int = 200, n_test: int = 50, shape=(8, 8, 3), num_classes: int = 10) -> DataBundle:
    """An in-memory ``DataBundle`` of random images (same code path as .npz files)."""
    return from_arrays(
        "synthetic", "npz", make_images(n_train, shape, 0), make_labels(n_train, num_classes, 1),
        make_images(n_test, shape, 2), make_labels(n_test, num_classes, 3),
    )
