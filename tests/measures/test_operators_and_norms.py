"""The norm-based measures against hand computations on tiny networks."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from rethinking.measures import norms
from rethinking.measures.operators import explicit_matrix, linear_operators, spectral_norm, two_one_norm


def _two_layer(w1, b1, w2, b2, activation="relu") -> keras.Model:
    inputs = keras.Input(shape=(w1.shape[0],))
    hidden = keras.layers.Dense(w1.shape[1], activation=activation, name="hidden")(inputs)
    outputs = keras.layers.Dense(w2.shape[1], name="out")(hidden)
    model = keras.Model(inputs, outputs)
    model.get_layer("hidden").set_weights([w1, b1])
    model.get_layer("out").set_weights([w2, b2])
    return model


@pytest.fixture
def two_layer():
    rng = np.random.default_rng(0)
    w1, b1 = rng.standard_normal((4, 3)), rng.standard_normal(3)
    w2, b2 = rng.standard_normal((3, 2)), rng.standard_normal(2)
    return _two_layer(w1, b1, w2, b2), (w1, b1, w2, b2)


def test_path_norm_of_a_two_layer_relu_network_matches_numpy(two_layer):
    model, (w1, b1, w2, b2) = two_layer
    # Every parameter squared, all-ones input: every path's product of squared weights, summed.
    hidden = np.ones(4) @ w1**2 + b1**2
    expected = float(np.sum(hidden @ w2**2 + b2**2))
    result = norms.path_norm(model)
    assert result["path_norm_squared"] == pytest.approx(expected, rel=1e-5)
    assert result["path_norm"] == pytest.approx(math.sqrt(expected), rel=1e-5)


def test_products_sums_and_spectral_complexity_of_a_two_layer_network_match_numpy(two_layer):
    model, (w1, _, w2, _) = two_layer
    measures = norms.spectral_measures(model)
    fro = [np.linalg.norm(w1), np.linalg.norm(w2)]
    spec = [np.linalg.svd(w1, compute_uv=False)[0], np.linalg.svd(w2, compute_uv=False)[0]]
    assert measures["log_frobenius_product"] == pytest.approx(math.log(fro[0] * fro[1]), rel=1e-6)
    assert measures["frobenius_sum"] == pytest.approx(fro[0] ** 2 + fro[1] ** 2, rel=1e-6)
    assert measures["log_spectral_product"] == pytest.approx(math.log(spec[0] * spec[1]), rel=1e-6)
    assert measures["spectral_sum"] == pytest.approx(spec[0] ** 2 + spec[1] ** 2, rel=1e-6)
    # R_A with M = 0: ||A^T||_{2,1} sums the norms of each unit's incoming weights (columns of a Keras kernel).
    two_one = [np.linalg.norm(w1, axis=0).sum(), np.linalg.norm(w2, axis=0).sum()]
    expected = spec[0] * spec[1] * sum((t / s) ** (2 / 3) for s, t in zip(spec, two_one)) ** 1.5
    assert measures["spectral_complexity"] == pytest.approx(expected, rel=1e-6)


def test_parameter_norm_and_distance_from_init(two_layer):
    model, (w1, b1, w2, b2) = two_layer
    assert norms.parameter_norm(model) == pytest.approx(
        math.sqrt(sum(np.sum(a**2) for a in (w1, b1, w2, b2))), rel=1e-6)
    shifted = _two_layer(w1 + 1.0, b1, w2, b2 - 2.0)
    assert norms.distance_from_init(model, shifted) == pytest.approx(math.sqrt(w1.size * 1.0 + b2.size * 4.0), rel=1e-6)
    assert norms.distance_from_init(model, model) == 0.0
    other = _two_layer(np.ones((4, 5)), np.ones(5), np.ones((5, 2)), np.ones(2))
    with pytest.raises(ValueError, match="same architecture"):
        norms.distance_from_init(model, other)


@pytest.mark.parametrize("strides,padding", [(1, "same"), (2, "same"), (1, "valid"), (2, "valid")])
def test_convolution_spectral_and_two_one_norms_match_its_explicit_matrix(strides, padding):
    inputs = keras.Input(shape=(5, 6, 2))
    outputs = keras.layers.Conv2D(3, 3, strides=strides, padding=padding, name="conv")(inputs)
    model = keras.Model(inputs, outputs)
    keras.utils.set_random_seed(1)
    model.get_layer("conv").set_weights([np.random.default_rng(2).standard_normal((3, 3, 2, 3)), np.zeros(3)])
    (op,) = linear_operators(model)
    matrix = explicit_matrix(op)
    # The explicit matrix is the layer itself (bias zero): check it on a random input.
    x = np.random.default_rng(3).standard_normal((1, 5, 6, 2)).astype("float32")
    assert np.allclose(matrix @ x.reshape(-1).astype(np.float64), model(x).numpy().reshape(-1), atol=1e-4)
    assert spectral_norm(op) == pytest.approx(np.linalg.svd(matrix, compute_uv=False)[0], rel=1e-4)
    # Its rows are (output position, channel); at the borders a row holds only the taps inside the image.
    assert two_one_norm(op) == pytest.approx(np.linalg.norm(matrix, axis=1).sum(), rel=1e-9)
    # Not the kernel tensor's reshaped matrix (the mistake the operator view avoids).
    kernel_matrix = op.kernel.reshape(-1, 3)
    assert spectral_norm(op) != pytest.approx(np.linalg.svd(kernel_matrix, compute_uv=False)[0], rel=1e-3)


def test_spectral_norm_is_deterministic_for_its_seed():
    inputs = keras.Input(shape=(6, 6, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3, padding="same")(inputs))
    (op,) = linear_operators(model)
    assert spectral_norm(op, seed=3) == spectral_norm(op, seed=3)


def test_batch_norm_is_folded_into_the_layer_before_it():
    inputs = keras.Input(shape=(3,))
    x = keras.layers.Dense(4, use_bias=False, name="dense")(inputs)
    x = keras.layers.BatchNormalization(epsilon=1e-3, name="bn")(x)
    outputs = keras.layers.Dense(2, name="out")(keras.layers.ReLU()(x))
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(4)
    kernel = rng.standard_normal((3, 4))
    gamma, beta, mean, var = rng.uniform(0.5, 2, 4), rng.standard_normal(4), rng.standard_normal(4), rng.uniform(0.5, 2, 4)
    model.get_layer("dense").set_weights([kernel])
    model.get_layer("bn").set_weights([gamma, beta, mean, var])
    dense, out = linear_operators(model)
    scale = gamma / np.sqrt(var + 1e-3)
    assert dense.folded == "bn" and out.folded is None
    assert np.allclose(dense.kernel, kernel * scale)
    # Path norm: the folded affine map a x + b enters squared (a^2 x + b^2).
    w2, b2 = model.get_layer("out").get_weights()
    hidden = np.ones(3) @ (kernel**2) * scale**2 + (beta - scale * mean) ** 2
    expected = float(np.sum(hidden @ w2.astype(np.float64) ** 2 + b2.astype(np.float64) ** 2))
    assert norms.path_norm(model)["path_norm_squared"] == pytest.approx(expected, rel=1e-4)
    assert len(linear_operators(model, fold_batch_norm=False)) == 2
    assert np.allclose(linear_operators(model, fold_batch_norm=False)[0].kernel, kernel)


def test_rescaling_a_relu_layer_and_the_next_one_leaves_path_norm_and_spectral_complexity_unchanged(two_layer):
    model, (w1, b1, w2, b2) = two_layer
    c = 7.0  # relu(c z) = c relu(z): the function is unchanged
    rescaled = _two_layer(w1 * c, b1 * c, w2 / c, b2)
    x = np.random.default_rng(5).standard_normal((8, 4)).astype("float32")
    assert np.allclose(model(x), rescaled(x), atol=1e-4)
    assert norms.path_norm(rescaled)["path_norm"] == pytest.approx(norms.path_norm(model)["path_norm"], rel=1e-5)
    assert norms.spectral_measures(rescaled)["spectral_complexity"] == pytest.approx(
        norms.spectral_measures(model)["spectral_complexity"], rel=1e-6)
    # ... while the Frobenius sum, which is not invariant, changes.
    assert norms.spectral_measures(rescaled)["frobenius_sum"] != pytest.approx(
        norms.spectral_measures(model)["frobenius_sum"], rel=1e-2)


def test_spectral_complexity_with_the_initial_weights_as_reference(two_layer):
    model, (w1, b1, w2, b2) = two_layer
    assert norms.spectral_measures(model, model)["spectral_complexity_init"] == 0.0
    start = _two_layer(w1 * 0.5, b1, w2 * 0.5, b2)
    spec = [np.linalg.svd(w, compute_uv=False)[0] for w in (w1, w2)]
    two_one = [np.linalg.norm(w * 0.5, axis=0).sum() for w in (w1, w2)]  # ||(A - M)^T||_{2,1} with M = A / 2
    expected = spec[0] * spec[1] * sum((t / s) ** (2 / 3) for s, t in zip(spec, two_one)) ** 1.5
    assert norms.spectral_measures(model, start)["spectral_complexity_init"] == pytest.approx(expected, rel=1e-6)


def test_spectral_complexity_edge_cases():
    assert norms.spectral_complexity([2.0, 0.0], [1.0, 0.0]) == 0.0
    assert norms.spectral_complexity([1e200, 1e200], [1e200, 1e200]) == float("inf")  # beyond float range
    assert norms.spectral_complexity([1e200, 1e200], [1.0, 1.0]) == pytest.approx(2**1.5 * 1e200, rel=1e-9)
    with pytest.raises(ValueError, match="one \\(2,1\\) norm per spectral norm"):
        norms.spectral_complexity([1.0], [1.0, 2.0])


def test_a_model_without_linear_layers_or_with_unsupported_ones_is_refused():
    inputs = keras.Input(shape=(4,))
    with pytest.raises(ValueError, match="no Dense or Conv2D layer"):
        linear_operators(keras.Model(inputs, keras.layers.ReLU()(inputs)))
    images = keras.Input(shape=(6, 6, 2))
    depthwise = keras.Model(images, keras.layers.DepthwiseConv2D(3)(images))
    with pytest.raises(ValueError, match="only Dense and Conv2D"):
        linear_operators(depthwise)
