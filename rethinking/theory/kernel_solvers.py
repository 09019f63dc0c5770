"""Kernel interpolation without a second n x n matrix: preconditioned conjugate gradients.

``solve_pcg`` solves (K + ridge I) alpha = Y for a symmetric positive (semi)definite Gram matrix
stored as its lower block triangle (``HalfGram``: n (n + block) / 2 values, half of the full
matrix, in float32 by default: 7.26 GB for MNIST's n = 60,000 where the full float64 matrix is
28.8 GB), with a Nyström preconditioner built from ``rank`` landmark columns computed from the
data (never from the stored matrix).

Why this method (our choice; the paper used an exact solver on 24 cores with 30 GB):

* A pass over all n^2 kernel values recomputed from the data costs n^2 d multiply-adds (about
  three minutes at n = 60,000 on this 2-core machine): an iterative method that recomputes the
  kernel each iteration (EigenPro, Falkon-style) can afford only a few passes in ten minutes.
  Computing the kernel once and storing half of it in float32 makes an iteration a read of that
  half (about a second), so hundreds of iterations fit.
* Conjugate gradients converge in about sqrt(kappa) iterations; the Gaussian kernel's few large
  eigenvalues make kappa huge (3 x 10^5 on 6,000 MNIST images). The Nyström preconditioner
  (Frangella, Tropp and Udell 2023, "Randomized Nyström preconditioning") maps the top ``rank``
  eigenvalues of its approximation down to its smallest one, so kappa becomes about
  lambda_rank / lambda_min (hundreds to thousands).
* float32 storage changes K by float32 rounding (about 6e-8 relative per entry); the vectors and
  their sums are float64.

The preconditioner's landmarks are a uniform sample of the training points drawn with a fixed
seed, so the solve is deterministic.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import scipy.linalg

Progress = Callable[[str, int, int], None]
# Landmarks of the preconditioner: rank 1000 took 330 iterations at n = 60,000 where 500 takes more
# (docs/benchmarks.md); its basis is 240 MB in float32 there, within the 8 GB the solve may use.
DEFAULT_RANK = 1000
# The relative residual at which the solve stops: at n = 24,680 the test error at 5e-3 is within 0.01
# points of the exact float64 solve's and no fitted value is 0.02 from its one-hot target
# (docs/benchmarks.md); ``kernels.fit_kernel`` tightens it where a training point is still misclassified.
DEFAULT_TOLERANCE = 5e-3
DEFAULT_MAX_ITERATIONS = 2000
# Rows per block of the stored half (it holds n (n + block) / 2 values: 7.26 GB in float32 at n = 60,000).
HALF_BLOCK_ROWS = 512
# Columns per tile of ``HalfGram.matmul`` (a 512 x 1024 float32 tile is 2 MB: it stays in cache between its two products).
MATMUL_TILE = 1024


class NotConverged(ValueError):
    """The iteration did not reach its tolerance: the system is (numerically) singular or too ill-conditioned."""


@dataclasses.dataclass
class HalfGram:
    """The lower block triangle of a symmetric n x n matrix: ``rows[i]`` = K[start_i:stop_i, :stop_i].

    Attributes:
        rows: one array per row block, each holding its columns up to its last row.
        starts: the first row of each block.
        n: the matrix's size.
    """

    rows: list[np.ndarray]
    starts: list[int]
    n: int

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        return sum(block.nbytes for block in self.rows)

    def diagonal(self) -> np.ndarray:
        """K's diagonal (float64)."""
        return np.concatenate([np.diagonal(block[:, start:]) for start, block in zip(self.starts, self.rows)]
                              ).astype(np.float64)

    def matmul(self, a: np.ndarray) -> np.ndarray:
        """K @ a for a (n, c) array, in float64.

        Each stored value is read from memory once: a row block is walked in tiles of
        ``MATMUL_TILE`` columns (2 MB in float32, held in cache), and each tile serves both its own
        product and the mirrored one above the diagonal (reading each block twice, once per
        product, made an iteration about 20% slower at n = 24,680).
        """
        low = np.asarray(a).astype(self.rows[0].dtype, copy=False)
        out = np.zeros((self.n, low.shape[1]), dtype=np.float64)
        for start, block in zip(self.starts, self.rows):
            stop = start + len(block)
            mine = low[start:stop]
            acc = block[:, start:] @ mine  # the diagonal block
            for column in range(0, start, MATMUL_TILE):
                end = min(column + MATMUL_TILE, start)
                tile = block[:, column:end]
                acc += tile @ low[column:end]
                out[column:end] += tile.T @ mine  # the mirrored tile above the diagonal
            out[start:stop] += acc
        return out


def stored_half_bytes(n: int, dtype: type = np.float32, block_rows: int = HALF_BLOCK_ROWS) -> int:
    """Bytes of ``HalfGram`` for n points: sum of the row blocks (n (n + block) / 2 values)."""
    item = np.dtype(dtype).itemsize
    return sum((min(start + block_rows, n) - start) * min(start + block_rows, n) for start in range(0, n, block_rows)) * item


def half_gram(x: np.ndarray, kernel_block: Callable[..., np.ndarray], *, dtype: type = np.float32,
              block_rows: int = HALF_BLOCK_ROWS, progress: Progress | None = None) -> HalfGram:
    """The lower block triangle of K(x, x), computed by row blocks.

    Args:
        x: (n, d) points.
        kernel_block: ``(a, b, a_sq, b_sq) -> K(a, b)`` (``kernels.kernel_block`` with the kernel fixed).
        dtype: the stored values' type.
        block_rows: rows per block.
        progress: called as ("Gram matrix (half)", block, blocks).
    """
    n = len(x)
    sq = np.einsum("ij,ij->i", x, x)
    rows, starts = [], list(range(0, n, block_rows))
    for number, start in enumerate(starts, 1):
        stop = min(start + block_rows, n)
        rows.append(kernel_block(x[start:stop], x[:stop], sq[start:stop], sq[:stop]).astype(dtype, copy=False))
        if progress:
            progress("Gram matrix (half)", number, len(starts))
    return HalfGram(rows=rows, starts=starts, n=n)


@dataclasses.dataclass(frozen=True)
class NystromPreconditioner:
    """P^-1 = U diag((lambda_r + mu) / (lambda + mu)) U^T + (I - U U^T) for a Nyström approximation
    U diag(lambda) U^T of K (Frangella, Tropp and Udell): applied in O(n r).

    Attributes:
        basis: U, (n, r) with orthonormal columns.
        values: lambda, (r,) in decreasing order.
        shift: mu (the ridge; 0 for interpolation).
    """

    basis: np.ndarray
    values: np.ndarray
    shift: float

    def apply(self, v: np.ndarray) -> np.ndarray:
        """P^-1 v for (n, c) ``v``."""
        u = self.basis
        scale = (self.values[-1] + self.shift) / (self.values + self.shift) - 1.0
        # In U's float32: a float64 v would make NumPy copy U to float64 at every call (200 MB at n = 24,680,
        # rank 1000: a third of an iteration). Round-off ~1e-7 relative, far below the solve's tolerance.
        coefficients = u.T @ v.astype(u.dtype)
        return v + u @ (scale[:, None] * coefficients).astype(u.dtype)


def nystrom_preconditioner(x: np.ndarray, kernel_block: Callable[..., np.ndarray], rank: int, *, shift: float = 0.0,
                           seed: int = 0) -> NystromPreconditioner:
    """A rank-``rank`` Nyström preconditioner from uniformly drawn landmark points.

    K ~ C W^+ C^T with C = K(x, landmarks) and W = K(landmarks, landmarks); written as F F^T with
    F = C L^-T (L the Cholesky factor of W, shifted by a tiny multiple of its trace for
    stability), whose thin SVD gives U and lambda. Memory: a few (n, rank) float64 arrays, freed
    before the solve's matrix is built.
    """
    n = len(x)
    rank = max(1, min(rank, n))
    landmarks = np.sort(np.random.default_rng(seed).choice(n, size=rank, replace=False))
    sq = np.einsum("ij,ij->i", x, x)
    c = kernel_block(x, x[landmarks], sq, sq[landmarks]).astype(np.float64)
    w = c[landmarks]
    jitter = 1e-10 * float(np.trace(w)) + 1e-300
    factor = scipy.linalg.cholesky(w + jitter * np.eye(rank), lower=True, check_finite=False)
    f = scipy.linalg.solve_triangular(factor, c.T, lower=True, check_finite=False).T
    del c
    u, s, _ = np.linalg.svd(f, full_matrices=False)
    keep = s > s[0] * 1e-7  # directions the landmarks do not span are left to the identity part
    return NystromPreconditioner(basis=u[:, keep].astype(np.float32), values=(s[keep] ** 2), shift=float(shift))


@dataclasses.dataclass(frozen=True)
class PCGResult:
    """A solve: the solution, the iterations taken and each column's final relative residual."""

    alpha: np.ndarray
    iterations: int
    relative_residuals: np.ndarray


def solve_pcg(matmul: Callable[[np.ndarray], np.ndarray], targets: np.ndarray, *, ridge: float = 0.0,
              preconditioner: NystromPreconditioner | None = None, tolerance: float = DEFAULT_TOLERANCE,
              max_iterations: int = DEFAULT_MAX_ITERATIONS, progress: Progress | None = None,
              start: np.ndarray | None = None) -> PCGResult:
    """Solves (K + ridge I) alpha = targets, column by column, by preconditioned conjugate gradients.

    Args:
        matmul: ``v -> K v`` for (n, c) arrays.
        targets: (n, c).
        ridge: lambda >= 0.
        preconditioner: P^-1 (None: none).
        tolerance: stop when every column's ||r|| / ||targets column|| is at most this.
        max_iterations: give up after this many iterations.
        progress: called as (stage, iteration, max_iterations) every 10 iterations, the stage
            naming the relative residual, and as (stage, iterations, iterations) when done.
        start: the first iterate (default zeros), e.g. an earlier solve to continue from.

    Returns:
        The ``PCGResult``.

    Raises:
        NotConverged: the tolerance was not reached within ``max_iterations``, or the iteration
            broke down (a direction of zero or negative curvature: K is not positive definite).
    """
    y = np.asarray(targets, dtype=np.float64)
    norms = np.linalg.norm(y, axis=0)
    norms[norms == 0] = 1.0

    def operator(v: np.ndarray) -> np.ndarray:
        out = matmul(v)
        return out + ridge * v if ridge else out

    def precondition(v: np.ndarray) -> np.ndarray:
        return v if preconditioner is None else preconditioner.apply(v)

    alpha = np.zeros_like(y) if start is None else np.array(start, dtype=np.float64)
    residual = y.copy() if start is None else y - operator(alpha)
    z = precondition(residual)
    direction = z.copy()
    rz = np.einsum("ij,ij->j", residual, z)
    relative = np.linalg.norm(residual, axis=0) / norms
    iteration = 0
    while relative.max() > tolerance:
        if iteration >= max_iterations:
            raise NotConverged(f"conjugate gradients did not reach a relative residual of {tolerance:g} in "
                               f"{max_iterations} iterations (now {relative.max():.2g}): the Gram matrix is "
                               "numerically singular or too ill-conditioned (repeated points?); add --ridge "
                               "(e.g. 1e-6) or use --solver cholesky.")
        iteration += 1
        kd = operator(direction)
        curvature = np.einsum("ij,ij->j", direction, kd)
        active = relative > tolerance
        if np.any(curvature[active] <= 0) or not np.all(np.isfinite(curvature)):
            raise NotConverged("conjugate gradients broke down (a direction of zero curvature): the Gram matrix is "
                               "singular; add --ridge (e.g. 1e-6).")
        step = np.where(active, rz / np.where(active, curvature, 1.0), 0.0)
        alpha += direction * step
        residual -= kd * step
        z = precondition(residual)
        rz_next = np.einsum("ij,ij->j", residual, z)
        direction = z + direction * np.where(active, rz_next / np.where(rz != 0, rz, 1.0), 0.0)
        rz = rz_next
        relative = np.linalg.norm(residual, axis=0) / norms
        if progress and iteration % 10 == 0:
            progress(f"conjugate gradients, relative residual {relative.max():.1e} (stops at {tolerance:g}), "
                     "iteration", iteration, max_iterations)
    if progress:
        progress(f"conjugate gradients, relative residual {relative.max():.1e}, iterations", iteration, iteration)
    return PCGResult(alpha=alpha, iterations=iteration, relative_residuals=relative)


def check_pcg_tolerance(tolerance: float) -> None:
    """Raises ValueError unless 0 < tolerance < 1."""
    if not (0 < tolerance < 1) or not math.isfinite(tolerance):
        raise ValueError(f"the solver's tolerance must be in (0, 1). Received: tolerance={tolerance}")
