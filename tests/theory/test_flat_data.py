"""Flat data for the theory: pixels in [0, 1], the training pipeline's corrupted labels, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from rethinking.data import Corruption, DataConfig
from rethinking.data.pipeline import build_pipeline
from rethinking.theory.flat_data import load_flat, one_hot


def test_pixels_are_flat_and_in_the_unit_interval():
    data = load_flat("digits", n_train=100, n_test=30)
    assert data.x_train.shape == (100, 64) and data.x_test.shape == (30, 64)
    assert data.x_train.dtype == np.float64 and 0.0 <= data.x_train.min() and data.x_train.max() == 1.0
    assert data.num_classes == 10 and data.image_shape == (8, 8, 1) and not data.corrupted.any()
    assert load_flat("digits", n_train=5, n_test=5, dtype=np.float32).x_train.dtype == np.float32


def test_random_labels_are_the_ones_training_sees_with_the_same_seed():
    data = load_flat("digits", n_train=200, n_test=10, corruption_prob=1.0, seed=7)
    config = DataConfig(dataset="digits", corruption=Corruption(labels="random"), seed=7, train_examples=200)
    pipeline = build_pipeline(config, batch_size=50)
    trained = np.concatenate([ex["label"].numpy() for ex in pipeline.corrupted_train.batch(50)])
    np.testing.assert_array_equal(data.y_train, trained)
    assert 0.8 < data.corrupted.mean() < 0.98  # about 9 in 10 labels change with 10 classes


def test_test_labels_stay_true():
    clean = load_flat("digits", n_train=10, n_test=50)
    noisy = load_flat("digits", n_train=10, n_test=50, corruption_prob=1.0)
    np.testing.assert_array_equal(clean.y_test, noisy.y_test)


@pytest.mark.parametrize("kwargs,match", [
    ({"n_train": 5000}, "exceeds the 1,438 examples"),
    ({"n_test": 0}, "at least 1"),
    ({"corruption_prob": 1.5}, r"\[0, 1\]"),
])
def test_counts_and_probabilities_out_of_range_are_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_flat("digits", **kwargs)


def test_one_hot():
    np.testing.assert_array_equal(one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
