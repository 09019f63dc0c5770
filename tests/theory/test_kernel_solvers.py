"""Conjugate gradients on half a Gram matrix: against the exact solve, refusals, determinism, the choice."""

from __future__ import annotations

import re

import numpy as np
import pytest

from rethinking.theory import kernel_solvers as S
from rethinking.theory import kernels as K


def gaussian_block(gamma):
    return lambda a, b, a_sq, b_sq: K.kernel_block(a, b, "gaussian", gamma, a_sq, b_sq)


@pytest.mark.parametrize("tile", [5, 1024])  # tiles of 5 columns: every block is walked in several
def test_the_half_matrix_multiplies_as_the_full_one(tile, monkeypatch):
    monkeypatch.setattr(S, "MATMUL_TILE", tile)
    x = np.random.default_rng(0).random((53, 6))
    full = K.gram_matrix(x, "gaussian", 0.5)
    a = np.random.default_rng(1).standard_normal((53, 3))
    for block in (1, 7, 53, 64):
        half = S.half_gram(x, gaussian_block(0.5), dtype=np.float64, block_rows=block)
        np.testing.assert_allclose(half.matmul(a), full @ a, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(half.diagonal(), np.ones(53))
        assert half.nbytes == S.stored_half_bytes(53, np.float64, block) < full.nbytes or block >= 53


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pcg_matches_the_exact_solve_on_small_random_problems(seed):
    rng = np.random.default_rng(seed)
    x = rng.random((300, 8))
    y = np.eye(4)[rng.integers(0, 4, 300)]
    # gamma 0.5 on 8-d points in [0, 1]: a flat kernel, condition number about 2e6 (like MNIST's).
    half = S.half_gram(x, gaussian_block(0.5), dtype=np.float64, block_rows=64)
    preconditioner = S.nystrom_preconditioner(x, gaussian_block(0.5), 60, seed=seed)
    result = S.solve_pcg(half.matmul, y, preconditioner=preconditioner, tolerance=1e-10)
    exact = np.linalg.solve(K.gram_matrix(x, "gaussian", 0.5), y)
    residual = np.linalg.norm(half.matmul(result.alpha) - y, axis=0) / np.linalg.norm(y, axis=0)
    assert residual.max() <= 1e-9 and result.relative_residuals.max() <= 1e-10
    assert np.linalg.norm(result.alpha - exact) / np.linalg.norm(exact) < 1e-3  # cond ~2e6 x residual 1e-10
    # The preconditioner is what makes it fast: without it, about four times the iterations.
    plain = S.solve_pcg(half.matmul, y, tolerance=1e-10, max_iterations=20000)
    assert result.iterations * 3 < plain.iterations


def test_the_preconditioner_maps_the_top_of_the_spectrum_to_its_smallest_value():
    x = np.random.default_rng(3).random((200, 5))
    full = K.gram_matrix(x, "gaussian", 1.0)
    p = S.nystrom_preconditioner(x, gaussian_block(1.0), 200, seed=0)  # every point a landmark: exact
    identity = np.eye(200)
    applied = p.apply(identity)  # P^-1
    values = np.linalg.eigvalsh(applied @ full)
    kept = len(p.values)
    assert values.max() / values.min() < np.linalg.cond(full) / 10  # far better conditioned
    assert np.allclose(p.basis.T.astype(np.float64) @ p.basis, np.eye(kept), atol=1e-5)


def test_a_singular_system_is_refused_in_one_line_and_a_ridge_solves_it():
    rng = np.random.default_rng(4)
    x = rng.random((80, 4))
    x[1] = x[0]  # a repeated point with another label: K alpha = Y has no solution
    y = np.eye(3)[np.r_[0, 1, rng.integers(0, 3, 78)]]
    half = S.half_gram(x, gaussian_block(1.0), dtype=np.float64)
    with pytest.raises(S.NotConverged, match="numerically singular .* add --ridge") as caught:
        S.solve_pcg(half.matmul, y, tolerance=1e-8, max_iterations=300)
    assert "\n" not in str(caught.value)
    solved = S.solve_pcg(half.matmul, y, ridge=1e-3, tolerance=1e-8, max_iterations=2000)
    assert solved.relative_residuals.max() <= 1e-8


def test_the_solve_is_deterministic():
    x = np.random.default_rng(5).random((150, 6)).astype(np.float32)
    y = np.eye(3)[np.arange(150) % 3]
    runs = []
    for _ in range(2):
        half = S.half_gram(x, gaussian_block(1.5), block_rows=32)
        p = S.nystrom_preconditioner(x, gaussian_block(1.5), 40, seed=7)
        runs.append(S.solve_pcg(half.matmul, y, preconditioner=p, tolerance=1e-6).alpha)
    assert np.array_equal(runs[0], runs[1])


def test_pcg_on_digits_interpolates_and_gives_the_exact_solves_test_error():
    from rethinking.theory.flat_data import load_flat

    data = load_flat("digits", dtype=np.float32)
    exact = K.fit_kernel(data.x_train.astype(np.float64), data.y_train, data.x_test.astype(np.float64), data.y_test,
                         num_classes=10)
    fit = K.fit_kernel(data.x_train, data.y_train, data.x_test, data.y_test, num_classes=10, solver="pcg", rank=200,
                       tolerance=1e-6)
    assert fit.train_error == 0.0 and fit.iterations is not None and fit.iterations > 0
    assert fit.test_error == exact.test_error and fit.norm == pytest.approx(exact.norm, rel=1e-4)
    assert "conjugate gradients" in fit.solver and exact.iterations is None


def test_auto_picks_cholesky_where_the_gram_matrix_fits_and_pcg_where_only_half_fits():
    assert K.choose_solver(24_680, 784, np.float64, 8 * 10**9) == ("cholesky", np.float64)  # 4.9 GB
    assert K.choose_solver(60_000, 784, np.float64, 8 * 10**9) == ("pcg", np.float32)  # 7.2 GB of 28.8
    with pytest.raises(ValueError, match="use --n .* or less") as refused:
        K.choose_solver(60_000, 784, np.float64, 2 * 10**9)
    suggested = int(re.search(r"--n ([\d,]+)", str(refused.value)).group(1).replace(",", ""))
    assert K.choose_solver(suggested, 784, np.float32, 2 * 10**9)[0] == "pcg"  # the advice fits
    with pytest.raises(ValueError):
        K.choose_solver(suggested + 100, 784, np.float32, 2 * 10**9)
    assert K.choose_solver(60_000, 784, np.float64, None) == ("cholesky", np.float64)  # no budget known


@pytest.mark.slow
def test_the_command_chooses_and_reports_the_solver(cli):
    # pcg: 640 kB of the Gram matrix's half, 102 kB of data, 80 kB of basis; cholesky would need 1.5 MB.
    code, out, err = cli("kernel", "--dataset", "digits", "--n", "400", "--test-n", "100", "--memory-gb", "0.001",
                         "--rank", "50")
    assert code == 0, err
    assert "solver auto: pcg" in out and "iterations" in out and "training error 0.00%" in out
    code, _, err = cli("kernel", "--dataset", "digits", "--solver", "cholesky", "--rank", "10")
    assert code == 2 and "pcg's" in err


def test_a_solve_continues_from_a_start_and_the_fit_tightens_a_loose_tolerance_until_it_interpolates():
    rng = np.random.default_rng(6)
    x = rng.random((400, 8)).astype(np.float32)
    labels = rng.integers(0, 5, 400)  # random labels: the hardest to interpolate
    y = np.eye(5)[labels]
    half = S.half_gram(x, gaussian_block(0.5), dtype=np.float64, block_rows=64)
    preconditioner = S.nystrom_preconditioner(x, gaussian_block(0.5), 50)
    first = S.solve_pcg(half.matmul, y, preconditioner=preconditioner, tolerance=1e-3)
    again = S.solve_pcg(half.matmul, y, preconditioner=preconditioner, tolerance=1e-3, start=first.alpha)
    assert again.iterations == 0 and np.array_equal(again.alpha, first.alpha)
    further = S.solve_pcg(half.matmul, y, preconditioner=preconditioner, tolerance=1e-6, start=first.alpha)
    assert 0 < further.iterations and further.relative_residuals.max() <= 1e-6
    # At a tolerance of 0.9 the first solve stops almost at once, misclassifying training points: the fit
    # goes on (ten times tighter each time) until none is.
    loose = S.solve_pcg(half.matmul, y, preconditioner=preconditioner, tolerance=0.9)
    assert K.classification_error(half.matmul(loose.alpha), labels) > 0
    fit = K.fit_kernel(x, labels, x[:50], labels[:50], num_classes=5, gamma=0.5, solver="pcg", rank=50, tolerance=0.9)
    assert fit.train_error == 0 and fit.iterations > loose.iterations
