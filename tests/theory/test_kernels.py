"""Kernel interpolation: the Gram matrix, exact solves, and the errors and norm it reports."""

from __future__ import annotations

import numpy as np
import pytest

from rethinking.theory import kernels as K
from rethinking.theory.flat_data import load_flat


@pytest.fixture(scope="module")
def digits():
    return load_flat("digits")


def naive_gaussian(a, b, gamma):
    return np.exp(-gamma * ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))


def test_the_blockwise_gram_matrix_equals_the_definition():
    x = np.random.default_rng(0).random((37, 5))
    for block in (1, 8, 37, 100):
        np.testing.assert_allclose(K.gram_matrix(x, "gaussian", 0.7, block_rows=block), naive_gaussian(x, x, 0.7),
                                   rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(K.gram_matrix(x, "linear", 1.0, block_rows=6), x @ x.T, rtol=1e-12)
    seen = []
    K.gram_matrix(x, "gaussian", 0.7, block_rows=10, progress=lambda *a: seen.append(a))
    assert seen == [("Gram matrix", k, 4) for k in range(1, 5)]


def test_kernel_apply_equals_the_dense_product():
    rng = np.random.default_rng(1)
    a, b, alpha = rng.random((23, 4)), rng.random((11, 4)), rng.standard_normal((11, 3))
    np.testing.assert_allclose(K.kernel_apply(a, b, alpha, "gaussian", 0.3, block_rows=5),
                               naive_gaussian(a, b, 0.3) @ alpha, rtol=1e-12)


def test_gaussian_interpolation_on_real_digits_fits_and_generalizes(digits):
    fit = K.fit_kernel(digits.x_train, digits.y_train, digits.x_test, digits.y_test, num_classes=10)
    assert fit.solver == "cholesky" and fit.train_error == 0.0
    assert fit.test_error < 0.05  # real handwritten digits: a sensible test error
    assert fit.norm > 0 and fit.peak_rss_bytes > 0 and fit.gamma == pytest.approx(0.02 * 784 / 64)


def test_random_labels_are_interpolated_with_test_error_at_chance_and_a_larger_norm(digits):
    true = K.fit_kernel(digits.x_train, digits.y_train, digits.x_test, digits.y_test, num_classes=10)
    noisy = load_flat("digits", corruption_prob=1.0)
    rand = K.fit_kernel(noisy.x_train, noisy.y_train, noisy.x_test, noisy.y_test, num_classes=10)
    assert rand.train_error == 0.0
    assert 0.8 < rand.test_error < 0.97
    assert rand.norm > 2 * true.norm  # fitting noise costs norm (the paper's norm discussion)


def test_the_norm_is_sqrt_alpha_k_alpha():
    rng = np.random.default_rng(2)
    x, y = rng.random((40, 6)), rng.integers(0, 3, 40)
    fit = K.fit_kernel(x, y, x[:5], y[:5], num_classes=3, gamma=0.5)
    gram = naive_gaussian(x, x, 0.5)
    alpha = np.linalg.solve(gram, np.eye(3)[y])
    assert fit.norm == pytest.approx(np.sqrt(np.sum(alpha * (gram @ alpha))), rel=1e-6)


def test_ridge_trades_training_fit_for_a_smaller_norm(digits):
    exact = K.fit_kernel(digits.x_train, digits.y_train, digits.x_test, digits.y_test, num_classes=10)
    ridged = K.fit_kernel(digits.x_train, digits.y_train, digits.x_test, digits.y_test, num_classes=10, ridge=10.0)
    assert ridged.norm < exact.norm


def test_a_singular_gram_matrix_falls_back_to_the_minimum_norm_solution():
    x = np.repeat(np.random.default_rng(3).random((10, 4)), 2, axis=0)  # every point twice: K is singular
    y = np.repeat(np.arange(10) % 3, 2)
    fit = K.fit_kernel(x, y, x, y, num_classes=3, gamma=1.0)
    assert fit.solver.startswith("pseudo-inverse") and fit.train_error == 0.0


def test_float32_halves_the_gram_matrix_and_gives_the_same_answer(digits):
    x32, t32 = digits.x_train.astype(np.float32), digits.x_test.astype(np.float32)
    fit32 = K.fit_kernel(x32, digits.y_train, t32, digits.y_test, num_classes=10)
    fit64 = K.fit_kernel(digits.x_train, digits.y_train, digits.x_test, digits.y_test, num_classes=10)
    assert fit32.dtype == "float32" and K.gram_bytes(1000, np.float32) * 2 == K.gram_bytes(1000)
    assert fit32.train_error == 0.0 and abs(fit32.test_error - fit64.test_error) < 0.01


def test_the_linear_kernel_is_solved_in_the_primal_with_the_minimum_norm():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((20, 50)), rng.integers(0, 4, 20)  # n < d: interpolates
    fit = K.fit_kernel(x, y, x, y, num_classes=4, kernel="linear")
    assert fit.train_error == 0.0
    assert fit.norm == pytest.approx(np.linalg.norm(np.linalg.pinv(x) @ np.eye(4)[y]), rel=1e-8)


@pytest.mark.parametrize("kwargs,match", [
    ({"kernel": "polynomial"}, "Unknown kernel 'polynomial'"),
    ({"gamma": -1.0}, "gamma must be a positive number"),
    ({"gamma": 0.0}, "gamma must be a positive number"),
    ({"ridge": -0.1}, "ridge must be >= 0"),
])
def test_bad_kernel_settings_are_clear_errors(kwargs, match):
    x = np.zeros((3, 2))
    with pytest.raises(ValueError, match=match):
        K.fit_kernel(x, np.zeros(3, int), x, np.zeros(3, int), num_classes=2, **kwargs)


@pytest.mark.parametrize("n,block", [(1, 4), (9, 4), (50, 7), (64, 64), (70, 100)])
def test_the_tiled_cholesky_matches_lapack_and_solves(n, block):
    import scipy.linalg

    rng = np.random.default_rng(n)
    a = rng.standard_normal((n, n + 3))
    spd = a @ a.T + n * np.eye(n)
    k = spd.copy()
    K.cholesky_in_place(k, block)
    np.testing.assert_allclose(np.tril(k), scipy.linalg.cholesky(spd, lower=True), rtol=1e-10, atol=1e-10)
    y = rng.standard_normal((n, 3))
    np.testing.assert_allclose(spd @ K.cholesky_solve(k, y, block), y, rtol=1e-8, atol=1e-8)


def test_the_tiled_cholesky_refuses_a_matrix_that_is_not_positive_definite():
    k = np.diag([1.0, 2.0, -1.0, 4.0])
    with pytest.raises(K.NotPositiveDefinite, match="columns 2-4"):
        K.cholesky_in_place(k, block=2)
