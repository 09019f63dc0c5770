"""FusedBatchNormalization: the same layer as Keras' BatchNormalization, computed by the fused kernel."""

from __future__ import annotations

import numpy as np
import pytest
import keras
import tensorflow as tf

from rethinking.models import FusedBatchNormalization


def pair(shape, **kwargs):
    """A Keras and a fused batch norm with identical (non-trivial) weights, built for ``shape``."""
    keras_bn = keras.layers.BatchNormalization(momentum=0.9, **kwargs)
    fused_bn = FusedBatchNormalization(momentum=0.9, **kwargs)
    for layer in (keras_bn, fused_bn):
        layer.build((None, *shape))
    rng = np.random.RandomState(1)
    weights = [rng.rand(*w.shape).astype("float32") + 0.5 for w in keras_bn.weights]
    keras_bn.set_weights(weights)
    fused_bn.set_weights(weights)
    return keras_bn, fused_bn


@pytest.mark.parametrize("shape", [(5, 6, 7), (7,)])
@pytest.mark.parametrize("scale", [True, False])
def test_training_outputs_gradients_and_moving_statistics_match_keras(shape, scale):
    keras_bn, fused_bn = pair(shape, scale=scale)
    x = tf.constant(np.random.RandomState(0).randn(4, *shape).astype("float32") * 3 + 1)
    results = []
    for layer in (keras_bn, fused_bn):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y * tf.sin(y))  # a loss whose gradient is not trivially zero
        grads = tape.gradient(loss, [x] + layer.trainable_weights)
        results.append((y.numpy(), [g.numpy() for g in grads], [w.numpy() for w in layer.non_trainable_weights]))
    (y_k, g_k, s_k), (y_f, g_f, s_f) = results
    np.testing.assert_allclose(y_f, y_k, rtol=1e-4, atol=1e-4)
    for a, b in zip(g_f, g_k):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
    for a, b in zip(s_f, s_k):  # moving mean and (biased) moving variance
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(s_f[0], 0.5) or not np.allclose(s_f[1], 0.5)  # the statistics did move


@pytest.mark.parametrize("shape", [(5, 6, 7), (7,)])
def test_inference_uses_moving_statistics_like_keras(shape):
    keras_bn, fused_bn = pair(shape)
    x = np.random.RandomState(2).randn(3, *shape).astype("float32")
    np.testing.assert_allclose(fused_bn(x, training=False), keras_bn(x, training=False), rtol=1e-5, atol=1e-5)
    # Not trainable (frozen, as in fine-tuning): moving statistics even in training mode.
    fused_bn.trainable = keras_bn.trainable = False
    np.testing.assert_allclose(fused_bn(x, training=True), keras_bn(x, training=True), rtol=1e-5, atol=1e-5)


def test_mixed_precision_returns_the_compute_dtype():
    layer = FusedBatchNormalization(dtype="mixed_float16")
    y = layer(tf.ones([2, 3, 3, 4], tf.float16) * 2, training=True)
    assert y.dtype == tf.float16
    assert layer.moving_mean.dtype == "float32"


def test_other_axes_fall_back_to_keras():
    keras_bn, fused_bn = (cls(axis=1, momentum=0.9) for cls in (keras.layers.BatchNormalization, FusedBatchNormalization))
    x = np.random.RandomState(3).randn(4, 3, 5, 5).astype("float32")
    np.testing.assert_allclose(fused_bn(x, training=True), keras_bn(x, training=True), rtol=1e-5, atol=1e-5)
    assert not fused_bn._fusable(tf.constant(x), None)


def test_round_trip_through_a_keras_file(tmp_path):
    inputs = keras.Input((4, 4, 2))
    model = keras.Model(inputs, FusedBatchNormalization(scale=False, name="bn")(inputs))
    model(np.ones((2, 4, 4, 2), "float32") * 3, training=True)
    model.save(tmp_path / "bn.keras")
    loaded = keras.models.load_model(tmp_path / "bn.keras")
    assert isinstance(loaded.get_layer("bn"), FusedBatchNormalization)
    x = np.random.RandomState(4).randn(2, 4, 4, 2).astype("float32")
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)
