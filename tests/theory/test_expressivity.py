"""Theorem 1's construction: exact fits with exactly 2n + d weights, at depth 1 and k."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest

from rethinking import theory
from rethinking.theory import expressivity as E


def random_problem(n: int, d: int, seed: int = 0, classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((n, d)), rng.integers(0, classes, n).astype(np.float64)


@pytest.mark.parametrize("n,d", [(1, 1), (2, 1), (7, 3), (200, 2), (300, 64), (1500, 784)])
def test_fits_random_labels_exactly_with_2n_plus_d_weights(n, d):
    x, y = random_problem(n, d, seed=n + d)
    model = theory.fit_any_labels(x, y)  # the package's public API
    assert model.count_params() == 2 * n + d
    assert theory.max_error(model, x, y) < 1e-6 * max(1.0, np.abs(y).max())


def test_fits_real_valued_labels_and_image_shaped_points():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, size=(120, 8, 8, 3)).astype(np.float64)
    y = rng.standard_normal(120) * 1000.0
    model = E.fit_any_labels(x, y)
    assert model.count_params() == 2 * 120 + 8 * 8 * 3
    assert E.max_error(model, x, y) < 1e-6 * np.abs(y).max()


def test_points_whose_simple_projections_collide_are_still_separated():
    # Every point of {0, 1, 2}^3: each axis and every sum of coordinates maps many points to one value.
    x = np.array(list(itertools.product(range(3), repeat=3)), dtype=np.float64)
    assert E.relative_min_gap(x[:, 0]) == 0.0 and E.relative_min_gap(x.sum(axis=1)) == 0.0
    y = np.arange(len(x), dtype=np.float64)[::-1]
    construction = E.construct(x, y)
    assert E.relative_min_gap(E.project(x, construction.direction)) > 0
    assert E.max_error(construction, x, y) < 1e-9


def test_thresholds_interleave_the_sorted_projections():
    x, y = random_problem(50, 5)
    c = E.construct(x, y)
    z = np.sort(E.project(E.as_matrix(x), c.direction))
    b = c.thresholds
    assert np.all(b[0] < z[0]) and np.all(z[:-1] < b[1:]) and np.all(b[1:] < z[1:])


def test_repeated_points_with_one_label_keep_the_count_and_fit():
    x, y = random_problem(30, 4)
    x = np.concatenate([x, x[:5]])
    y = np.concatenate([y, y[:5]])
    c = E.construct(x, y)
    assert c.spare_units == 5 and c.num_parameters == 2 * 35 + 4
    model = E.to_keras(c, (4,))
    assert model.count_params() == 2 * 35 + 4 and E.max_error(model, x, y) < 1e-9


def test_identical_points_with_different_labels_are_a_clear_error():
    x = np.array([[0.0, 1.0], [2.0, 3.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"Points 0 and 2 are identical but have different labels \(1 and 4\)"):
        E.construct(x, np.array([1.0, 2.0, 4.0]))


@pytest.mark.parametrize("bad,match", [
    ((np.zeros((0, 3)), np.zeros(0)), "no points"),
    ((np.zeros((3, 2)), np.zeros(2)), "3 points but y has 2 labels"),
    ((np.array([[np.nan, 1.0]]), np.zeros(1)), "finite"),
])
def test_bad_inputs_are_clear_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        E.construct(*bad)


@pytest.mark.parametrize("depth", [2, 3, 10, 97])
def test_the_deep_variant_computes_the_same_function_with_the_same_weights(depth):
    x, y = random_problem(97, 6, seed=depth)
    c = E.construct(x, y)
    deep = E.to_keras(c, (6,), depth=depth)
    assert deep.count_params() == 2 * 97 + 6
    widths = E.hidden_widths(deep)
    assert len(widths) == depth and max(widths) <= -(-97 // depth) + 3
    assert E.max_error(deep, x, y) < 1e-9
    # Off the training points too (including points below every threshold): the same function.
    probe = np.random.default_rng(5).normal(0.5, 2.0, size=(500, 6))
    np.testing.assert_allclose(E.predict64(deep, probe), c.predict(probe), rtol=1e-9, atol=1e-9)


def test_depth_outside_one_to_n_is_an_error():
    x, y = random_problem(5, 2)
    with pytest.raises(ValueError, match="depth must be between 1 and the number of points"):
        E.fit_any_labels(x, y, depth=6)


def test_the_model_survives_a_keras_round_trip(tmp_path):
    x, y = random_problem(40, 3)
    model = E.fit_any_labels(x, y, depth=4)
    path = tmp_path / "fit.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.count_params() == model.count_params()
    assert E.max_error(loaded, x, y) < 1e-9


def test_predict_would_lose_precision_so_max_error_calls_the_model_in_float64():
    x, y = random_problem(2000, 20, seed=3)
    model = E.fit_any_labels(x, y)
    assert E.max_error(model, x, y) < 1e-6
    float32_error = np.max(np.abs(model.predict(x, verbose=0)[:, 0] - y))
    assert float32_error > 100 * E.max_error(model, x, y)  # why predict64 exists
