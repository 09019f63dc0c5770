"""Theorem 1's construction in NumPy (float64): a direction, interleaved thresholds, the weights.

``expressivity.py`` explains the construction and its numerical choices and turns it into a Keras
model; this module finds the numbers.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

# Where threshold b_i sits between z_{i-1} and z_i (fraction of the gap); see the module docstring.
THRESHOLD_POSITION = 0.1
# Random unit directions tried when looking for a well-separating projection.
DIRECTION_CANDIDATES = 64
# Rounds of iterative refinement of the weights.
REFINEMENT_ROUNDS = 2
# Rows per block when evaluating the network in NumPy (memory: block x n float64 values).
EVAL_BLOCK_ROWS = 1024


@dataclasses.dataclass(frozen=True)
class Construction:
    """The weights of the network that fits the labels.

    Attributes:
        direction: a, shape (d,).
        thresholds: b, shape (n,), ascending over the fitted units (spare units last, above every point).
        weights: w, shape (n,).
        min_gap: smallest gap between distinct sorted projections (units of <a, x>).
        spare_units: units with weight 0 that stand for repeated points.
    """

    direction: np.ndarray
    thresholds: np.ndarray
    weights: np.ndarray
    min_gap: float
    spare_units: int

    @property
    def num_parameters(self) -> int:
        """d + n + n."""
        return self.direction.size + self.thresholds.size + self.weights.size

    def predict(self, x: np.ndarray) -> np.ndarray:
        """c(x) for every row of ``x`` (flattened), in float64; shape (N,)."""
        return evaluate(project(as_matrix(x), self.direction), self.thresholds, self.weights)


# ---------------------------------------------------------------------------------------- pieces


def as_matrix(x: np.ndarray) -> np.ndarray:
    """The points as a float64 (n, d) matrix (images are flattened)."""
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError("x must hold points: an array of shape (n, d) or (n, ...) of numbers.")
    if x.ndim == 1:
        x = x[:, np.newaxis]
    if len(x) == 0:
        raise ValueError("x holds no points: pass at least one.")
    return np.ascontiguousarray(x.reshape(len(x), -1), dtype=np.float64)


def project(x: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """z = x a for a float64 (n, d) matrix."""
    return x @ direction


def evaluate(z: np.ndarray, thresholds: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """sum_j w_j max(z_i - b_j, 0) for every z_i, blockwise (float64)."""
    out = np.empty(len(z), dtype=np.float64)
    for start in range(0, len(z), EVAL_BLOCK_ROWS):
        block = z[start:start + EVAL_BLOCK_ROWS, np.newaxis] - thresholds[np.newaxis, :]
        out[start:start + EVAL_BLOCK_ROWS] = np.maximum(block, 0.0) @ weights
    return out


def unique_points(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of ``x`` and their labels.

    Raises:
        ValueError: two identical points with different labels (naming both).
    """
    rows, first, inverse = np.unique(x, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    labels = y[first]
    clash = np.flatnonzero(y != labels[inverse])
    if clash.size:
        i = int(clash[0])
        j = int(first[inverse[i]])
        raise ValueError(
            f"Points {j} and {i} are identical but have different labels ({y[j]:g} and {y[i]:g}): no function "
            "fits both. Remove the duplicates or give them one label.")
    return rows, labels


def relative_min_gap(z: np.ndarray) -> float:
    """Smallest gap between sorted values divided by their range (0 if two coincide; 1 for one value)."""
    if len(z) < 2:
        return 1.0
    s = np.sort(z)
    spread = s[-1] - s[0]
    return float(np.min(np.diff(s)) / spread) if spread > 0 else 0.0


def separation_score(z: np.ndarray, y: np.ndarray) -> float:
    """How safely a projection fits the labels: min over neighbours (in sorted z) with different labels
    of gap / |label step|, relative to the range of z. The network's slopes are about the inverse.

    0 if two points project to the same value (they cannot be told apart); for a single label, the
    relative smallest gap.
    """
    gap = relative_min_gap(z)
    if gap <= 0.0 or len(z) < 2:
        return gap
    order = np.argsort(z, kind="stable")
    steps = np.abs(np.diff(y[order]))
    changes = steps > 0
    if not changes.any():
        return gap
    spread = z[order[-1]] - z[order[0]]
    return float(np.min(np.diff(z[order])[changes] / steps[changes]) / spread)


def separating_direction(x: np.ndarray, y: np.ndarray | None = None, *, seed: int = 0,
                         candidates: int = DIRECTION_CANDIDATES) -> np.ndarray:
    """A unit vector whose projections of the distinct rows of ``x`` separate them as safely as we can find.

    Args:
        x: distinct points, float64 (m, d).
        y: their labels (default: all different, which scores by the smallest gap alone).
        seed: seed of the random candidates.
        candidates: how many random Gaussian directions to compare (by ``separation_score``).

    Returns:
        The direction a, shape (d,), with distinct projections.

    Raises:
        ValueError: no candidate separates the points (only possible for nearly identical points).
    """
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((x.shape[1], candidates))
    directions /= np.linalg.norm(directions, axis=0, keepdims=True)
    z = x @ directions
    labels = np.arange(len(x), dtype=np.float64) if y is None else y
    scores = [separation_score(z[:, k], labels) for k in range(candidates)]
    best = int(np.argmax(scores))
    if scores[best] <= 0.0:
        raise ValueError(
            f"No projection separates these {len(x)} points ({candidates} random directions tried): some points "
            "differ by less than float64 precision. Remove near-duplicates.")
    return directions[:, best].copy()


def interleaved_thresholds(z_sorted: np.ndarray, position: float = THRESHOLD_POSITION) -> np.ndarray:
    """b_1 < z_1 < b_2 < z_2 < ... for ascending distinct ``z_sorted``.

    b_i = z_{i-1} + position * (z_i - z_{i-1}) for i >= 2; b_1 lies one mean gap below z_1.
    """
    m = len(z_sorted)
    spread = z_sorted[-1] - z_sorted[0] if m > 1 else 0.0
    first_gap = spread / (m - 1) if m > 1 and spread > 0 else 1.0
    b = np.empty(m, dtype=np.float64)
    b[0] = z_sorted[0] - first_gap
    b[1:] = z_sorted[:-1] + position * np.diff(z_sorted)
    return b


def solve_weights(z_sorted: np.ndarray, thresholds: np.ndarray, y_sorted: np.ndarray) -> np.ndarray:
    """w with sum_{j<=i} w_j (z_i - b_j) = y_i for all i: the lower-triangular system A w = y.

    Solved as a recurrence on the slopes s_i = w_1 + ... + w_i (the network's slope on [b_i, b_{i+1}]):
    c(z_i) = c(z_{i-1}) + s_{i-1} (b_i - z_{i-1}) + s_i (z_i - b_i). Every step divides by one gap
    and no sum of large, cancelling terms is formed.
    """
    m = len(z_sorted)
    slopes = np.empty(m, dtype=np.float64)
    slopes[0] = y_sorted[0] / (z_sorted[0] - thresholds[0])
    for i in range(1, m):
        carried = y_sorted[i - 1] + slopes[i - 1] * (thresholds[i] - z_sorted[i - 1])
        slopes[i] = (y_sorted[i] - carried) / (z_sorted[i] - thresholds[i])
    return np.diff(slopes, prepend=0.0)


def construct(x: np.ndarray, y: np.ndarray, *, seed: int = 0) -> Construction:
    """The weights of the two-layer network that fits ``y`` on ``x`` exactly (Theorem 1).

    Args:
        x: n points, shape (n, d) or (n, ...) (flattened).
        y: n real labels.
        seed: seed of the random projection candidates.

    Returns:
        The ``Construction`` (2n + d weights).

    Raises:
        ValueError: empty input, mismatched lengths, non-finite values, or identical points with
            different labels.
    """
    x = as_matrix(x)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if len(y) != len(x):
        raise ValueError(f"x has {len(x)} points but y has {len(y)} labels: give one label per point.")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("x and y must be finite (found NaN or infinity).")
    n = len(x)
    points, labels = unique_points(x, y)
    direction = separating_direction(points, labels, seed=seed)
    z = project(points, direction)
    order = np.argsort(z)
    z_sorted, y_sorted = z[order], labels[order]
    b = interleaved_thresholds(z_sorted)
    w = solve_weights(z_sorted, b, y_sorted)
    for _ in range(REFINEMENT_ROUNDS):
        residual = y_sorted - evaluate(z_sorted, b, w)
        w = w + solve_weights(z_sorted, b, residual)
    spare = n - len(points)
    # Spare units (one per repeated point) sit above every point with weight 0: they never fire on
    # the data and keep the count at exactly 2n + d.
    top = z_sorted[-1] + 1.0 + np.arange(spare, dtype=np.float64)
    gaps = np.diff(z_sorted)
    return Construction(
        direction=direction, thresholds=np.concatenate([b, top]), weights=np.concatenate([w, np.zeros(spare)]),
        min_gap=float(gaps.min()) if gaps.size else math.inf, spare_units=spare,
    )
