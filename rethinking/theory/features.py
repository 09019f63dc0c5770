"""Random convolutional features (Section 5's CIFAR-10 kernel on random-network features).

The paper reports 17% CIFAR-10 test error for kernel regression on the features of a random
convolutional network with 32,000 random filters (after Coates and Ng). The paper gives no more
detail; our version, scaled down by default (our choices, docs/theory.md):

1. each image is standardized (``tf.image.per_image_standardization``: zero mean, unit variance);
2. it is convolved (valid padding, stride 1) with F random filters of size 6 x 6 x C, entries drawn
   from a standard normal and each filter scaled to unit norm;
3. each response r gives two features, max(r - alpha, 0) and max(-r - alpha, 0) (a soft threshold,
   alpha = 0.25 x the responses' expected scale);
4. features are summed over the four quadrants of the image: 8 F numbers per image;
5. every feature is standardized with the training set's mean and standard deviation.

The filters are a pure function of (seed, F, filter shape), so train and test share them.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

# Filter side in pixels (Coates and Ng's 6x6 receptive fields).
FILTER_SIZE = 6
# Soft threshold, in units of a response's standard deviation on standardized images (about 1 for a
# unit-norm filter over independent unit-variance pixels).
THRESHOLD = 0.25
# Images per batch while computing features (memory: batch x H x W x F floats).
FEATURE_BATCH = 64


def random_filters(num_filters: int, channels: int, *, seed: int = 0, size: int = FILTER_SIZE) -> np.ndarray:
    """F unit-norm Gaussian filters, shape (size, size, channels, F), float32."""
    if num_filters < 1:
        raise ValueError(f"--filters must be at least 1. Received: {num_filters}")
    w = np.random.default_rng(seed).standard_normal((size, size, channels, num_filters)).astype(np.float32)
    return w / np.linalg.norm(w.reshape(-1, num_filters), axis=0)


def conv_features(images: np.ndarray, filters: np.ndarray, *, batch: int = FEATURE_BATCH) -> np.ndarray:
    """8 F pooled soft-threshold features per image (before standardization), float32.

    Args:
        images: (N, H, W, C) pixels in [0, 1] (``random_conv_features`` reshapes flat rows).
        filters: from ``random_filters``.
        batch: images per step.

    Raises:
        ValueError: images smaller than the filters.
    """
    size = filters.shape[0]
    if images.shape[1] < size + 1 or images.shape[2] < size + 1:
        raise ValueError(f"Random conv features need images larger than the {size}x{size} filters. "
                         f"Received images of {images.shape[1]}x{images.shape[2]}.")
    kernel = tf.constant(filters)

    @tf.function(reduce_retracing=True)
    def encode(x: tf.Tensor) -> tf.Tensor:
        x = tf.image.per_image_standardization(x)
        r = tf.nn.conv2d(x, kernel, strides=1, padding="VALID")
        h, w = tf.shape(r)[1] // 2, tf.shape(r)[2] // 2
        parts = [tf.nn.relu(r - THRESHOLD), tf.nn.relu(-r - THRESHOLD)]
        pooled = []
        for part in parts:
            for rows in (slice(None, h), slice(h, None)):
                for cols in (slice(None, w), slice(w, None)):
                    pooled.append(tf.reduce_sum(part[:, rows, cols, :], axis=[1, 2]))
        return tf.concat(pooled, axis=-1)

    out = [encode(tf.constant(images[i:i + batch], tf.float32)).numpy() for i in range(0, len(images), batch)]
    return np.concatenate(out) if out else np.zeros((0, 8 * filters.shape[-1]), np.float32)


def standardize(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both sets scaled by the training set's per-feature mean and standard deviation (constant
    features get standard deviation 1)."""
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std[std == 0] = 1.0
    return (train - mean) / std, (test - mean) / std


def random_conv_features(x_train: np.ndarray, x_test: np.ndarray, image_shape: tuple[int, int, int], *,
                         num_filters: int, seed: int = 0, dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Standardized random conv features of flat [0, 1] images (rows of ``x_train`` / ``x_test``).

    Returns:
        (train features, test features), each (N, 8 F) in ``dtype``.
    """
    filters = random_filters(num_filters, image_shape[2], seed=seed)
    train = conv_features(x_train.reshape((-1, *image_shape)), filters)
    test = conv_features(x_test.reshape((-1, *image_shape)), filters)
    train, test = standardize(train.astype(np.float64), test.astype(np.float64))
    return train.astype(dtype, copy=False), test.astype(dtype, copy=False)
