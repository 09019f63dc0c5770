"""Random convolutional features: shapes, a fixed function of the seed, and useful on real digits."""

from __future__ import annotations

import numpy as np
import pytest

from rethinking.theory.flat_data import load_flat
from rethinking.theory.features import conv_features, random_conv_features, random_filters
from rethinking.theory.kernels import fit_kernel


def test_filters_are_unit_norm_and_a_function_of_the_seed():
    w = random_filters(10, 3, seed=4)
    assert w.shape == (6, 6, 3, 10)
    np.testing.assert_allclose(np.linalg.norm(w.reshape(-1, 10), axis=0), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(w, random_filters(10, 3, seed=4))
    assert not np.array_equal(w, random_filters(10, 3, seed=5))


def test_eight_pooled_features_per_filter_that_are_non_negative():
    images = np.random.default_rng(0).random((5, 12, 12, 3)).astype(np.float32)
    f = conv_features(images, random_filters(7, 3))
    assert f.shape == (5, 56) and (f >= 0).all() and f.sum() > 0


def test_features_are_standardized_with_training_statistics():
    data = load_flat("digits", n_train=300, n_test=100)
    train, test = random_conv_features(data.x_train, data.x_test, data.image_shape, num_filters=16)
    assert train.shape == (300, 128) and test.shape == (100, 128)
    varying = train.std(axis=0) > 0
    np.testing.assert_allclose(train.mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(train.std(axis=0)[varying], 1.0, rtol=1e-9)


def test_random_features_make_a_linear_model_better_than_pixels_on_digits():
    data = load_flat("digits")
    pixels = fit_kernel(data.x_train, data.y_train, data.x_test, data.y_test, num_classes=10, kernel="linear")
    train, test = random_conv_features(data.x_train, data.x_test, data.image_shape, num_filters=64)
    features = fit_kernel(train, data.y_train, test, data.y_test, num_classes=10, kernel="linear")
    assert features.test_error < 0.05 < pixels.test_error


def test_images_smaller_than_the_filters_and_zero_filters_are_errors():
    with pytest.raises(ValueError, match="larger than the 6x6 filters"):
        conv_features(np.zeros((2, 5, 5, 1), np.float32), random_filters(3, 1))
    with pytest.raises(ValueError, match="--filters must be at least 1"):
        random_filters(0, 3)
