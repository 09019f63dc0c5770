"""Margins, the Jacobian norm, sharpness, PAC-Bayes flatness and the classical bounds."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from rethinking.measures import bounds, margins, norms, sharpness


def test_margins_and_their_percentile_on_hand_logits():
    logits = np.array([[3.0, 1.0, 0.0], [0.0, 2.0, 5.0], [1.0, 1.0, 1.0], [-1.0, 4.0, 2.0]])
    labels = np.array([0, 1, 2, 1])
    assert margins.margins(logits, labels).tolist() == [2.0, -3.0, 0.0, 2.0]
    # NumPy's linear interpolation: the 10th percentile of (-3, 0, 2, 2) lies 0.3 of the way from -3 to 0.
    assert margins.percentile(margins.margins(logits, labels)) == pytest.approx(-2.1)
    with pytest.raises(ValueError, match=r"Labels must lie in \[0, 2\]"):
        margins.margins(logits, np.array([0, 1, 3, 0]))


def test_normalized_margins_divide_by_spectral_complexity_times_data_norm_over_n():
    m = np.array([1.0, 2.0, 4.0, 8.0])
    assert margins.normalized_margins(m, 2.0, 4.0).tolist() == [0.5, 1.0, 2.0, 4.0]  # scale 2 * 4 / 4
    assert np.isnan(margins.normalized_margins(m, float("inf"), 1.0)).all()


def _mlp(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(6,))
    hidden = keras.layers.Dense(16, activation="relu", name="hidden")(inputs)
    return keras.Model(inputs, keras.layers.Dense(3, name="out")(hidden))


def _data(n: int = 96, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6)).astype("float32")
    return x, (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 1).astype(np.int64)


def test_normalized_margin_is_unchanged_when_a_relu_layer_and_the_next_are_rescaled():
    model = _mlp()
    x, y = _data()
    w1, b1 = model.get_layer("hidden").get_weights()
    w2, b2 = model.get_layer("out").get_weights()
    rescaled = _mlp(1)
    rescaled.get_layer("hidden").set_weights([w1 * 5.0, b1 * 5.0])
    rescaled.get_layer("out").set_weights([w2 / 5.0, b2])

    def normalized(net):
        logits, labels, data_norm = margins.logits_and_labels(net, (x, y))
        r_a = norms.spectral_measures(net)["spectral_complexity"]
        return margins.normalized_margins(margins.margins(logits, labels), r_a, data_norm)

    assert np.allclose(normalized(model), normalized(rescaled), rtol=1e-4, atol=1e-7)


def test_data_in_every_accepted_form_gives_the_same_margins():
    model = _mlp()
    x, y = _data()
    arrays = margins.logits_and_labels(model, (x, y))
    pairs = margins.logits_and_labels(model, tf.data.Dataset.from_tensor_slices((x, y)).batch(10))
    dicts = margins.logits_and_labels(model, tf.data.Dataset.from_tensor_slices({"image": x, "label": y}).batch(7))
    for other in (pairs, dicts):
        assert np.allclose(arrays[0], other[0], atol=1e-6) and (arrays[1] == other[1]).all()
        assert arrays[2] == pytest.approx(other[2], rel=1e-9)
    assert arrays[2] == pytest.approx(float(np.linalg.norm(x.astype(np.float64))), rel=1e-9)


def test_jacobian_norm_of_a_linear_softmax_model_matches_the_closed_form():
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(4,))
    model = keras.Model(inputs, keras.layers.Dense(3, name="out")(inputs))
    x, _ = _data(8)
    x = x[:, :4]
    w, b = (a.astype(np.float64) for a in model.get_layer("out").get_weights())
    expected = []
    for row in x.astype(np.float64):
        z = row @ w + b
        p = np.exp(z - z.max())
        p /= p.sum()
        jacobian = (np.diag(p) - np.outer(p, p)) @ w.T  # d softmax / dz times dz / dx
        expected.append(np.linalg.norm(jacobian))
    got = margins.jacobian_norm(model, (x, np.zeros(len(x), np.int64)), examples=8)
    assert got == pytest.approx(float(np.mean(expected)), rel=1e-4)
    assert margins.jacobian_norm(model, (x, np.zeros(len(x), np.int64)), examples=3) == pytest.approx(
        float(np.mean(expected[:3])), rel=1e-4)


def _trained(seed: int = 0) -> tuple[keras.Model, tuple[np.ndarray, np.ndarray]]:
    model = _mlp(seed)
    x, y = _data(128)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=60, batch_size=32, verbose=0)
    return model, (x, y)


@pytest.fixture(scope="module")
def trained():
    return _trained()


@pytest.mark.slow
def test_flatness_search_is_deterministic_stops_within_tolerance_and_restores_the_weights(trained):
    model, data = trained
    before = [w.numpy().copy() for w in model.trainable_weights]
    first = sharpness.pac_bayes_flatness(model, data, tolerance=0.05, draws=3)
    second = sharpness.pac_bayes_flatness(model, data, tolerance=0.05, draws=3)
    assert first == second
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, model.trainable_weights))
    assert 0 < first.sigma < sharpness.SIGMA_MAX and first.flatness == pytest.approx(1 / first.sigma**2)
    assert first.perturbed_error - first.error <= 0.1
    # The bracket: within tolerance, and its upper end (recomputed here) exceeds the target.
    assert first.above - first.sigma <= 0.05 * first.above
    evaluator = sharpness._Evaluator(model, *data)
    with sharpness._restored(model) as saved:
        errors = []
        for k in range(3):
            for w, value, (z, z2) in zip(model.trainable_weights, saved, sharpness._noise(saved, 0, k)):
                w.assign(value + first.above * np.abs(value) * z + 1e-3 * z2)
            errors.append(evaluator()[1])
    assert np.mean(errors) - first.error > 0.1
    assert sharpness.pac_bayes_flatness(model, data, tolerance=0.05, draws=3, seed=1) != first  # another seed


@pytest.mark.slow
def test_a_sharper_parameterization_of_the_same_function_has_a_larger_epsilon_sharpness(trained):
    model, data = trained
    sharp = _mlp(0)
    sharp.set_weights(model.get_weights())
    w2, b2 = sharp.get_layer("out").get_weights()
    w1, b1 = sharp.get_layer("hidden").get_weights()
    # The same function with the first layer 20x larger and the second 20x smaller: additive
    # noise of the same size now moves the output much more (Dinh et al. 2017's reparameterization).
    sharp.get_layer("hidden").set_weights([w1 * 20, b1 * 20])
    sharp.get_layer("out").set_weights([w2 / 20, b2])
    assert sharpness.epsilon_sharpness(sharp, data) > sharpness.epsilon_sharpness(model, data)
    assert sharpness.epsilon_sharpness(model, data) >= 0


def test_pac_bayes_kl_and_bound_by_hand():
    w, w0 = [np.array([1.0, -2.0])], [np.array([0.0, 0.0])]
    sigma, eps = 0.5, 0.1
    v = sigma**2 * np.array([1.0, 4.0]) + eps**2
    prior = (v.sum() + 5.0) / 2
    assert sharpness.pac_bayes_kl(w, w0, sigma, eps) == pytest.approx(0.5 * np.sum(np.log(prior / v)))
    assert sharpness.pac_bayes_bound(0.1, 3.0, 1000) == pytest.approx(
        0.1 + math.sqrt((3.0 + math.log(2 * math.sqrt(1000) / 0.05)) / 2000))
    with pytest.raises(ValueError, match="initial weights have 3 values"):
        sharpness.pac_bayes_kl(w, [np.zeros(3)], sigma)
    with pytest.raises(ValueError, match="examples >= 2"):
        sharpness.pac_bayes_bound(0.1, 1.0, 1)
    with pytest.raises(ValueError, match="0 < target < 1"):
        sharpness.pac_bayes_flatness(_mlp(), _data(), target=1.5)


def test_vc_bound_is_vacuous_with_more_parameters_than_examples_and_shrinks_with_data():
    assert bounds.vc_bound(1_600_000, 50_000) > 1  # a small Inception on CIFAR-10
    assert bounds.vc_bound(10, 1_000_000) < bounds.vc_bound(10, 10_000) < 1
    d, m = 100, 10_000
    assert bounds.vc_bound(d, m) == pytest.approx(
        math.sqrt(8 * (d * math.log(2 * math.e * m / d) + math.log(4 / 0.05)) / m))
    assert bounds.vc_bound(1000, 10) == pytest.approx(math.sqrt(8 * (20 * math.log(2) + math.log(80)) / 10))
    with pytest.raises(ValueError, match="parameters >= 1"):
        bounds.vc_bound(0, 10)


def test_rademacher_estimate_from_random_label_runs():
    assert bounds.rademacher_estimate([1.0, 1.0, 1.0], 10) == 1.0  # fitted: saturated
    assert bounds.rademacher_estimate([0.1], 10) == pytest.approx(0.0)  # chance
    assert bounds.rademacher_estimate([0.75], 2) == pytest.approx(0.5)  # binary: 2a - 1
    assert bounds.rademacher_bound(1.0, 50_000) > 2
    with pytest.raises(ValueError, match="at least one random-label run"):
        bounds.rademacher_estimate([], 10)
    with pytest.raises(ValueError, match=r"fraction in \[0, 1\]"):
        bounds.rademacher_estimate([1.2], 10)
