"""Linear least squares with fewer points than dimensions (Section 5).

With n < d, X w = y has infinitely many solutions. SGD on (1 / 2n) ||X w - y||^2 started from w = 0
only ever adds multiples of rows of X to w, so w stays in the row space of X, and the one solution
there is the minimum-norm one, pinv(X) y. ``sgd_least_squares`` and ``min_norm_least_squares`` let
you check it; started elsewhere, SGD converges to another solution (the start's component outside
the row space never changes).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.linalg

from rethinking.theory.arrays import classification_error, one_hot


def min_norm_least_squares(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """pinv(X) Y: the minimum-norm solution of X W = Y (least squares if there is none)."""
    return scipy.linalg.lstsq(np.asarray(x, np.float64), np.asarray(y, np.float64), check_finite=False)[0]


def sgd_least_squares(
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int = 100,
    batch_size: int = 1,
    learning_rate: float | None = None,
    seed: int = 0,
    init: np.ndarray | None = None,
) -> np.ndarray:
    """Minibatch SGD on (1 / 2n) ||X W - Y||^2 (float64).

    Args:
        x: (n, d) inputs.
        y: (n,) or (n, K) targets.
        epochs: passes over the data, in a fresh random order each time.
        batch_size: examples per step.
        learning_rate: step size; default 1 / max_i ||x_i||^2, with which every step moves W at
            most to the exact solution of each of its examples (a convex combination of projections),
            so the iteration converges whenever X W = Y has a solution.
        seed: seed of the example order.
        init: starting W (default: zero, which is what makes the limit the minimum-norm solution).

    Returns:
        W, shape (d,) or (d, K) like ``y``.

    Raises:
        ValueError: mismatched shapes, or epochs, batch size or learning rate < 1 / <= 0.
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if x.ndim != 2 or len(y) != len(x):
        raise ValueError(f"x must be (n, d) with one target per row. Received: x {x.shape}, y {y.shape}")
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1. Received: epochs={epochs}, batch_size={batch_size}")
    rate = 1.0 / float(np.max(np.einsum("ij,ij->i", x, x))) if learning_rate is None else learning_rate
    if not (rate > 0 and math.isfinite(rate)):
        raise ValueError(f"learning_rate must be positive. Received: learning_rate={learning_rate}")
    w = np.zeros((x.shape[1],) + y.shape[1:]) if init is None else np.array(init, dtype=np.float64)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            xb = x[batch]
            # Gradient of the batch's (1 / 2b) ||xb w - yb||^2, times b: the step of each example is
            # rate * (its residual) * x_i, averaged over the batch.
            w -= (rate / len(batch)) * (xb.T @ (xb @ w - y[batch]))
    return w


def outside_row_space(x: np.ndarray, w: np.ndarray) -> float:
    """||W - P W|| / ||W||, P the projection onto the row space of X (0 for W = 0)."""
    norm = float(np.linalg.norm(w))
    if norm == 0.0:
        return 0.0
    inside = min_norm_least_squares(x, np.asarray(x, np.float64) @ w)  # P W = pinv(X) X W
    return float(np.linalg.norm(w - inside) / norm)


@dataclasses.dataclass(frozen=True)
class MinNormComparison:
    """SGD from zero vs the pseudo-inverse on the same (n < d) problem."""

    n: int
    dim: int
    epochs: int
    sgd_norm: float
    min_norm: float
    relative_distance: float
    outside_row_space: float
    sgd_train_residual: float
    sgd_train_error: float
    min_norm_train_error: float
    sgd_test_error: float
    min_norm_test_error: float

def compare_sgd_to_min_norm(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, *,
                            num_classes: int, epochs: int = 100, batch_size: int = 1, seed: int = 0) -> MinNormComparison:
    """Fits one-hot targets with SGD from zero and with the pseudo-inverse; measures how close they are.

    Errors are classification errors (argmax of the K outputs); the residual is the relative
    ||X W - Y|| / ||Y|| of SGD's solution; ``outside_row_space`` is the part of SGD's W outside the
    row space of X relative to ||W|| (zero from a zero start, after any number of steps: the reason
    the limit is the minimum-norm solution).
    """
    targets = one_hot(y_train, num_classes)
    w_min = min_norm_least_squares(x_train, targets)
    w_sgd = sgd_least_squares(x_train, targets, epochs=epochs, batch_size=batch_size, seed=seed)

    def error(x: np.ndarray, labels: np.ndarray, w: np.ndarray) -> float:
        return classification_error(np.asarray(x, np.float64) @ w, labels)

    x = np.asarray(x_train, np.float64)
    return MinNormComparison(
        n=len(x), dim=x.shape[1], epochs=epochs, sgd_norm=float(np.linalg.norm(w_sgd)),
        min_norm=float(np.linalg.norm(w_min)),
        relative_distance=float(np.linalg.norm(w_sgd - w_min) / max(np.linalg.norm(w_min), 1e-300)),
        outside_row_space=outside_row_space(x, w_sgd),
        sgd_train_residual=float(np.linalg.norm(x @ w_sgd - targets) / np.linalg.norm(targets)),
        sgd_train_error=error(x, y_train, w_sgd), min_norm_train_error=error(x, y_train, w_min),
        sgd_test_error=error(x_test, y_test, w_sgd), min_norm_test_error=error(x_test, y_test, w_min),
    )
