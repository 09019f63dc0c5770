"""SGD from zero on underdetermined least squares converges to the minimum-norm solution."""

from __future__ import annotations

import numpy as np
import pytest

from rethinking.theory.linear import (compare_sgd_to_min_norm, min_norm_least_squares, outside_row_space,
                                      sgd_least_squares)


@pytest.fixture
def underdetermined():
    rng = np.random.default_rng(0)
    return rng.standard_normal((30, 120)), rng.standard_normal((30, 3))


@pytest.mark.parametrize("batch_size", [1, 7, 30])
def test_sgd_from_zero_converges_to_the_pseudo_inverse_solution(underdetermined, batch_size):
    x, y = underdetermined
    w = sgd_least_squares(x, y, epochs=3000, batch_size=batch_size)
    w_min = min_norm_least_squares(x, y)
    np.testing.assert_allclose(w_min, np.linalg.pinv(x) @ y, atol=1e-10)
    assert np.linalg.norm(x @ w - y) < 1e-8 * np.linalg.norm(y)
    assert np.linalg.norm(w - w_min) < 1e-7 * np.linalg.norm(w_min)


def test_from_another_start_sgd_fits_but_keeps_the_starts_component_outside_the_row_space(underdetermined):
    x, y = underdetermined
    start = np.random.default_rng(1).standard_normal((120, 3))
    w = sgd_least_squares(x, y, epochs=3000, init=start)
    w_min = min_norm_least_squares(x, y)
    assert np.linalg.norm(x @ w - y) < 1e-8 * np.linalg.norm(y)  # still a solution ...
    assert np.linalg.norm(w) > 2 * np.linalg.norm(w_min)  # ... but not the minimum-norm one
    outside = start - np.linalg.pinv(x) @ (x @ start)
    np.testing.assert_allclose(w - w_min, outside, atol=1e-7)


def test_the_zero_start_never_leaves_the_row_space(underdetermined):
    x, y = underdetermined
    w = sgd_least_squares(x, y, epochs=1)  # far from converged
    assert np.linalg.norm(w) > 0 and outside_row_space(x, w) < 1e-12


def test_the_comparison_on_real_digits_agrees():
    from rethinking.theory.flat_data import load_flat

    data = load_flat("digits", n_train=20, n_test=200)  # 20 images of 64 pixels: n < d
    early = compare_sgd_to_min_norm(data.x_train, data.y_train, data.x_test, data.y_test, num_classes=10, epochs=20)
    late = compare_sgd_to_min_norm(data.x_train, data.y_train, data.x_test, data.y_test, num_classes=10, epochs=2000)
    assert late.n == 20 and late.dim == 64
    assert early.outside_row_space < 1e-10 and late.outside_row_space < 1e-10
    assert late.relative_distance < 1e-9 < early.relative_distance
    assert late.sgd_train_error == late.min_norm_train_error == 0.0
    assert late.sgd_test_error == late.min_norm_test_error


@pytest.mark.parametrize("kwargs,match", [({"epochs": 0}, "epochs and batch_size"), ({"batch_size": 0}, "epochs"),
                                          ({"learning_rate": -1.0}, "learning_rate must be positive")])
def test_bad_sgd_settings_are_clear_errors(underdetermined, kwargs, match):
    x, y = underdetermined
    with pytest.raises(ValueError, match=match):
        sgd_least_squares(x, y, **kwargs)
