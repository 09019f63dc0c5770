"""Kernel interpolation (Section 5): solve K alpha = Y exactly, then predict with K(x, X) alpha.

Memory: the only n x n array is the Gram matrix (n^2 x 8 bytes in float64: 4.9 GB for n = 24,680;
28.8 GB for the paper's n = 60,000, or 14.4 GB in float32). It is built blockwise and factored in
place (a tiled Cholesky), so the peak is one Gram matrix plus (block x n) work arrays. Predictions on the
training and test points are recomputed blockwise from the data after the solve; that is also how
the training error and the norm sqrt(alpha^T K alpha) are measured (K alpha, never K again).

The linear kernel is solved in the primal instead: the minimum-norm least-squares W = pinv(X) Y
(d x K, d the number of pixels). It interpolates when n <= d and the points are in general
position, and its RKHS norm is ||W||_F.
"""

from __future__ import annotations

import dataclasses
import math
import os
import resource
import time
from collections.abc import Callable

import numpy as np
import scipy.linalg

from rethinking.theory.arrays import classification_error, one_hot

KERNELS = ("gaussian", "linear")
# The paper's MNIST kernel: exp(-0.02 ||x - x'||^2) on 784 pixels in [0, 1].
PAPER_MNIST_GAMMA = 0.02
PAPER_MNIST_DIM = 784
# Rows per block of the Gram matrix and of predictions (memory: block x n values).
DEFAULT_BLOCK_ROWS = 2048

Progress = Callable[[str, int, int], None]


def default_gamma(dim: int) -> float:
    """gamma = 0.02 x 784 / d: the paper's MNIST value, scaled so exponents stay comparable for other
    image sizes (our choice; the paper does not give its CIFAR-10 gamma)."""
    return PAPER_MNIST_GAMMA * PAPER_MNIST_DIM / dim


def check_kernel(kernel: str, gamma: float | None, ridge: float) -> None:
    """Raises ValueError for an unknown kernel, gamma <= 0 or ridge < 0."""
    if kernel not in KERNELS:
        raise ValueError(f"Unknown kernel {kernel!r}: choose one of {', '.join(KERNELS)}.")
    if gamma is not None and not (gamma > 0 and math.isfinite(gamma)):
        raise ValueError(f"gamma must be a positive number. Received: gamma={gamma}")
    if not (ridge >= 0 and math.isfinite(ridge)):
        raise ValueError(f"ridge must be >= 0 (0: exact interpolation). Received: ridge={ridge}")


def features_gamma(dim: int) -> float:
    """The default gamma on standardized random conv features: 1 / d (our choice).

    ||x - x'||^2 of standardized features is about 2d, so 1/d puts typical pairs at exp(-2), where
    the paper's 0.02 puts MNIST pixel pairs.
    """
    return 1.0 / dim


def check_memory(n: int, dtype: type, kernel: str = "gaussian", available: int | None = None) -> int:
    """The bytes of the n x n Gram matrix, after checking that they fit in 90% of the free memory.

    Returns:
        The Gram matrix's bytes (0 for the linear kernel, solved in the primal).

    Raises:
        ValueError: it does not fit; the message gives the largest n that does.
    """
    need = gram_bytes(n, dtype) if kernel == "gaussian" else 0
    available = available_memory_bytes() if available is None else available
    if need and available is not None and need > 0.9 * available:
        smaller = int((0.9 * available / np.dtype(dtype).itemsize) ** 0.5)
        hint = " or --dtype float32" if np.dtype(dtype) == np.float64 else ""
        raise ValueError(f"the {n:,} x {n:,} Gram matrix needs {need / 1e9:.2f} GB in {np.dtype(dtype).name} but "
                         f"{available / 1e9:.2f} GB are free: use --n {smaller:,} or less{hint}.")
    return need


SOLVERS = ("auto", "cholesky", "pcg")


def memory_budget_bytes() -> int | None:
    """The default memory budget of a kernel solve: a third of the machine's memory (our choice:
    room for the rest of the machine's work); None where unknown."""
    total = _meminfo_bytes("MemTotal")
    return None if total is None else total // 3


def _meminfo_bytes(field: str) -> int | None:
    """A field of /proc/meminfo in bytes (None where there is no such file or field)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def choose_solver(n: int, d: int, dtype: type, budget: int | None, rank: int | None = None) -> tuple[str, type]:
    """``(solver, dtype)`` for ``--solver auto``: the exact Cholesky where its n x n Gram matrix and the
    data fit in ``budget`` bytes, else conjugate gradients on half the Gram matrix in float32 (with
    the data and the preconditioner's n x ``rank`` basis, default ``kernel_solvers.DEFAULT_RANK``).

    Raises:
        ValueError: not even half of the Gram matrix in float32 fits.
    """
    from rethinking.theory.kernel_solvers import DEFAULT_RANK, HALF_BLOCK_ROWS, stored_half_bytes  # noqa: PLC0415

    data = n * d * np.dtype(dtype).itemsize
    if budget is None or gram_bytes(n, dtype) + data <= budget:
        return "cholesky", dtype
    half = stored_half_bytes(n, np.float32, HALF_BLOCK_ROWS) + n * d * 4 + n * min(rank or DEFAULT_RANK, n) * 4
    if half <= budget:
        return "pcg", np.float32
    # The largest n with 2 n (n + block) (half the Gram matrix in float32) + 4 n (d + rank) bytes in the budget.
    linear = 4 * (d + (rank or DEFAULT_RANK)) + 2 * HALF_BLOCK_ROWS
    largest = int((-linear + (linear**2 + 8 * budget) ** 0.5) / 4)
    raise ValueError(f"even half of the {n:,} x {n:,} Gram matrix in float32 ({half / 1e9:.1f} GB with the data and the preconditioner) exceeds "
                     f"the memory budget of {budget / 1e9:.1f} GB: use --n {largest:,} or less, or a larger --memory-gb.")


def gram_bytes(n: int, dtype: type = np.float64) -> int:
    """Bytes of an n x n Gram matrix."""
    return n * n * np.dtype(dtype).itemsize


def available_memory_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (None where there is no such file)."""
    return _meminfo_bytes("MemAvailable")


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far (Linux reports kilobytes, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if os.uname().sysname == "Darwin" else peak * 1024


def kernel_block(a: np.ndarray, b: np.ndarray, kernel: str, gamma: float,
                 a_sq: np.ndarray | None = None, b_sq: np.ndarray | None = None) -> np.ndarray:
    """K(a_i, b_j) for rows of ``a`` and ``b``: exp(-gamma ||a_i - b_j||^2) or <a_i, b_j>.

    ``a_sq`` / ``b_sq`` are the rows' squared norms, if already computed.
    """
    dots = a @ b.T
    if kernel == "linear":
        return dots
    a_sq = np.einsum("ij,ij->i", a, a) if a_sq is None else a_sq
    b_sq = np.einsum("ij,ij->i", b, b) if b_sq is None else b_sq
    # ||a - b||^2 = |a|^2 + |b|^2 - 2 <a, b>, in place; rounding can make it slightly negative.
    dots *= -2.0
    dots += a_sq[:, np.newaxis]
    dots += b_sq[np.newaxis, :]
    np.maximum(dots, 0.0, out=dots)
    dots *= -gamma
    return np.exp(dots, out=dots)


def gram_matrix(x: np.ndarray, kernel: str, gamma: float, *, block_rows: int = DEFAULT_BLOCK_ROWS,
                progress: Progress | None = None) -> np.ndarray:
    """The n x n Gram matrix of the rows of ``x`` (in ``x``'s dtype), built by row blocks.

    Only blocks on and above the diagonal are computed; each is mirrored below it.
    """
    n = len(x)
    sq = np.einsum("ij,ij->i", x, x)
    k = np.empty((n, n), dtype=x.dtype)
    blocks = math.ceil(n / block_rows)
    for number, start in enumerate(range(0, n, block_rows), 1):
        stop = min(start + block_rows, n)
        block = kernel_block(x[start:stop], x[start:], kernel, gamma, sq[start:stop], sq[start:])
        k[start:stop, start:] = block
        k[stop:, start:stop] = block[:, stop - start:].T
        if progress:
            progress("Gram matrix", number, blocks)
    return k


def kernel_apply(x_rows: np.ndarray, x_train: np.ndarray, alpha: np.ndarray, kernel: str, gamma: float, *,
                 block_rows: int = DEFAULT_BLOCK_ROWS, progress: Progress | None = None, what: str = "predictions") -> np.ndarray:
    """K(x_rows, x_train) @ alpha, by row blocks (memory: block x n)."""
    train_sq = np.einsum("ij,ij->i", x_train, x_train)
    out = np.empty((len(x_rows), alpha.shape[1]), dtype=np.float64)
    blocks = max(1, math.ceil(len(x_rows) / block_rows))
    for number, start in enumerate(range(0, len(x_rows), block_rows), 1):
        rows = x_rows[start:start + block_rows]
        out[start:start + len(rows)] = kernel_block(rows, x_train, kernel, gamma, b_sq=train_sq) @ alpha
        if progress:
            progress(what, number, blocks)
    return out


class NotPositiveDefinite(RuntimeError):
    """Cholesky failed: the Gram matrix is numerically singular."""


def cholesky_in_place(k: np.ndarray, block: int = DEFAULT_BLOCK_ROWS) -> np.ndarray:
    """Overwrites the lower triangle of the symmetric ``k`` with its Cholesky factor L (K = L L^T).

    A left-looking tiled algorithm: each column block is updated with the blocks left of it (matrix
    products of at most block x n values), its diagonal tile is factored with NumPy, and the tiles
    below it are solved against that. Only the lower triangle is read afterwards; the upper triangle
    holds leftovers. Extra memory: a few block x n arrays, never a second n x n one.

    Why not LAPACK's potrf through SciPy: SciPy's wheels link a 32-bit-integer OpenBLAS whose
    ``dpotrf`` crashed (SIGSEGV) here on the n = 24,680 MNIST Gram matrix, in place or not; NumPy's
    64-bit-integer OpenBLAS does the products.

    Raises:
        NotPositiveDefinite: K is not numerically positive definite.
    """
    n = len(k)
    for j in range(0, n, block):
        stop = min(j + block, n)
        if j:
            left = k[j:stop, :j]  # rows j..stop of L, the columns already factored
            k[j:stop, j:stop] -= left @ left.T
            for i in range(stop, n, block):
                k[i:i + block, j:stop] -= k[i:i + block, :j] @ left.T
        try:
            diagonal = np.linalg.cholesky(k[j:stop, j:stop])
        except np.linalg.LinAlgError as err:
            raise NotPositiveDefinite(f"K is not positive definite (columns {j}-{stop}): {err}") from err
        k[j:stop, j:stop] = diagonal
        for i in range(stop, n, block):
            # L_ij = A_ij L_jj^{-T}: solve L_jj X = A_ij^T.
            k[i:i + block, j:stop] = scipy.linalg.solve_triangular(
                diagonal, k[i:i + block, j:stop].T, lower=True, check_finite=False).T
    return k


def cholesky_solve(factor: np.ndarray, targets: np.ndarray, block: int = DEFAULT_BLOCK_ROWS) -> np.ndarray:
    """alpha with L L^T alpha = targets, L the lower triangle of ``factor``, by blocks (float64 result)."""
    n = len(factor)
    z = np.array(targets, dtype=np.float64)
    starts = list(range(0, n, block))
    for j in starts:  # forward: L z = Y
        stop = min(j + block, n)
        if j:
            z[j:stop] -= factor[j:stop, :j] @ z[:j]
        z[j:stop] = scipy.linalg.solve_triangular(factor[j:stop, j:stop], z[j:stop], lower=True, check_finite=False)
    for j in reversed(starts):  # backward: L^T alpha = z
        stop = min(j + block, n)
        if stop < n:
            z[j:stop] -= factor[stop:, j:stop].T @ z[stop:]
        z[j:stop] = scipy.linalg.solve_triangular(factor[j:stop, j:stop], z[j:stop], lower=True, trans="T",
                                                  check_finite=False)
    return z


def solve_cholesky(k: np.ndarray, targets: np.ndarray, ridge: float = 0.0, block: int = DEFAULT_BLOCK_ROWS) -> np.ndarray:
    """alpha with (K + ridge I) alpha = targets, factoring ``k`` IN PLACE (its contents are destroyed).

    Raises:
        NotPositiveDefinite: K + ridge I is not numerically positive definite.
    """
    if ridge:
        k.flat[::len(k) + 1] += ridge
    return cholesky_solve(cholesky_in_place(k, block), targets, block)


def solve_pseudo_inverse(k: np.ndarray, targets: np.ndarray, ridge: float = 0.0) -> np.ndarray:
    """The minimum-norm least-squares alpha for (K + ridge I) alpha = targets, by an eigendecomposition
    of the symmetric K (eigenvalues below n x eps x the largest are treated as 0). Adds the ridge to
    ``k``'s diagonal in place; needs memory for a second n x n matrix (the eigenvectors)."""
    if ridge:
        k.flat[::len(k) + 1] += ridge
    values, vectors = np.linalg.eigh(k)  # NumPy's 64-bit-integer LAPACK (see cholesky_in_place)
    keep = values > len(k) * np.finfo(k.dtype).eps * max(values.max(), 0.0)
    v = vectors[:, keep]
    return (v / values[keep]) @ (v.T @ targets)


@dataclasses.dataclass(frozen=True)
class KernelFit:
    """What ``fit_kernel`` measured. Errors are fractions; times in seconds; memory in bytes."""

    kernel: str
    gamma: float | None
    ridge: float
    n_train: int
    n_test: int
    dim: int
    dtype: str
    solver: str
    iterations: int | None
    train_error: float
    test_error: float
    norm: float
    gram_seconds: float
    solve_seconds: float
    predict_seconds: float
    peak_rss_bytes: int

def fit_kernel(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, *,
               num_classes: int, kernel: str = "gaussian", gamma: float | None = None, ridge: float = 0.0,
               block_rows: int = DEFAULT_BLOCK_ROWS, progress: Progress | None = None, solver: str = "cholesky",
               rank: int | None = None, tolerance: float | None = None) -> KernelFit:
    """Interpolates one-hot targets with a kernel and measures the solution.

    Args:
        x_train: (n, d) float32 or float64 (the Gram matrix gets this dtype).
        y_train: (n,) class indices (possibly corrupted).
        x_test: (m, d), same dtype.
        y_test: (m,) class indices.
        num_classes: K.
        kernel: ``"gaussian"`` or ``"linear"``.
        gamma: Gaussian width (default ``default_gamma(d)``); ignored by the linear kernel.
        ridge: lambda of (K + lambda I) alpha = Y; 0 interpolates.
        block_rows: rows per block.
        progress: called as (stage, block, blocks).
        solver: ``"cholesky"`` (exact; the n x n Gram matrix in ``x_train``'s dtype) or ``"pcg"``
            (conjugate gradients on half the Gram matrix in ``x_train``'s dtype, Nyström
            preconditioner; ``kernel_solvers``).
        rank: the Nyström preconditioner's landmarks (``pcg``; default ``kernel_solvers.DEFAULT_RANK``).
        tolerance: the relative residual at which ``pcg`` stops (default ``kernel_solvers.DEFAULT_TOLERANCE``).

    Returns:
        The ``KernelFit``: training error (0 for an interpolating solution), test error, the norm
        sqrt(trace(alpha^T K alpha)), times and the process's peak memory.

    Raises:
        ValueError: bad kernel, gamma or ridge, or mismatched shapes.
    """
    check_kernel(kernel, gamma, ridge)
    if x_train.ndim != 2 or x_test.ndim != 2 or x_train.shape[1] != x_test.shape[1]:
        raise ValueError(f"x_train and x_test must be (n, d) and (m, d). Received: {x_train.shape}, {x_test.shape}")
    if len(y_train) != len(x_train):
        raise ValueError(f"x_train has {len(x_train)} rows but y_train {len(y_train)} labels.")
    n, d = x_train.shape
    targets = one_hot(y_train, num_classes)
    if kernel == "linear":
        return _fit_linear(x_train, y_train, x_test, y_test, targets, ridge)
    gamma = default_gamma(d) if gamma is None else gamma
    if solver == "pcg":
        return _fit_pcg(x_train, y_train, x_test, y_test, targets, kernel, gamma, ridge, block_rows, progress, rank,
                        tolerance)
    if solver != "cholesky":
        raise ValueError(f"Unknown solver {solver!r}: use cholesky or pcg (or auto in the command).")
    iterations = None
    start = time.perf_counter()
    k = gram_matrix(x_train, kernel, gamma, block_rows=block_rows, progress=progress)
    gram_seconds = time.perf_counter() - start
    start = time.perf_counter()
    solver = "cholesky"
    try:
        alpha = solve_cholesky(k, targets, ridge, block_rows)
    except NotPositiveDefinite:
        # The factorization destroyed k: build it again, then take the minimum-norm solution.
        solver = "pseudo-inverse (K numerically singular)"
        k = gram_matrix(x_train, kernel, gamma, block_rows=block_rows, progress=progress)
        alpha = solve_pseudo_inverse(k, targets, ridge)
    del k
    solve_seconds = time.perf_counter() - start
    start = time.perf_counter()
    fitted = kernel_apply(x_train, x_train, alpha, kernel, gamma, block_rows=block_rows, progress=progress,
                          what="training predictions")
    scores = kernel_apply(x_test, x_train, alpha, kernel, gamma, block_rows=block_rows, progress=progress,
                          what="test predictions")
    predict_seconds = time.perf_counter() - start
    return KernelFit(
        kernel=kernel, gamma=gamma, ridge=ridge, n_train=n, n_test=len(x_test), dim=d, dtype=str(x_train.dtype),
        solver=solver, iterations=iterations, train_error=classification_error(fitted, y_train),
        test_error=classification_error(scores, y_test),
        norm=math.sqrt(max(float(np.sum(alpha * fitted)), 0.0)), gram_seconds=gram_seconds,
        solve_seconds=solve_seconds, predict_seconds=predict_seconds, peak_rss_bytes=peak_rss_bytes(),
    )


def _fit_pcg(x_train, y_train, x_test, y_test, targets, kernel, gamma, ridge, block_rows, progress, rank,
             tolerance) -> KernelFit:
    """``fit_kernel`` with conjugate gradients: the preconditioner first (its (n, rank) arrays are
    freed before the Gram matrix exists), then half the Gram matrix, the solve, the training
    predictions from the stored half, and the test predictions once it is freed."""
    from rethinking.theory import kernel_solvers as ks  # noqa: PLC0415

    def block(a, b, a_sq, b_sq):
        return kernel_block(a, b, kernel, gamma, a_sq, b_sq)

    rank = rank or ks.DEFAULT_RANK
    start = time.perf_counter()
    preconditioner = ks.nystrom_preconditioner(x_train, block, rank, shift=ridge)
    # Blocks of at most HALF_BLOCK_ROWS rows: the stored half is n (n + block) / 2 values.
    half = ks.half_gram(x_train, block, dtype=x_train.dtype.type, block_rows=min(block_rows, ks.HALF_BLOCK_ROWS),
                        progress=progress)
    gram_seconds = time.perf_counter() - start
    start = time.perf_counter()
    tolerance = tolerance or ks.DEFAULT_TOLERANCE
    result = ks.solve_pcg(half.matmul, targets, ridge=ridge, preconditioner=preconditioner, tolerance=tolerance,
                          progress=progress)
    iterations = result.iterations
    fitted = half.matmul(result.alpha)
    # Interpolation is the point: where a training point is still misclassified (not seen at the default
    # tolerance; possible at a loose --tolerance), continue from there with a tolerance ten times smaller.
    while not ridge and classification_error(fitted, y_train) > 0 and tolerance > 1e-9:
        tolerance /= 10
        result = ks.solve_pcg(half.matmul, targets, preconditioner=preconditioner, tolerance=tolerance,
                              progress=progress, start=result.alpha)
        iterations += result.iterations
        fitted = half.matmul(result.alpha)
    solve_seconds = time.perf_counter() - start
    start = time.perf_counter()
    del half, preconditioner
    scores = kernel_apply(x_test, x_train, result.alpha, kernel, gamma, block_rows=block_rows, progress=progress,
                          what="test predictions")
    alpha = result.alpha
    return KernelFit(
        kernel=kernel, gamma=gamma, ridge=ridge, n_train=len(x_train), n_test=len(x_test), dim=x_train.shape[1],
        dtype=str(x_train.dtype), solver=f"conjugate gradients (Nyström preconditioner, rank {rank}, "
        f"relative residual {result.relative_residuals.max():.1e})", iterations=iterations,
        train_error=classification_error(fitted, y_train), test_error=classification_error(scores, y_test),
        norm=math.sqrt(max(float(np.sum(alpha * fitted)), 0.0)), gram_seconds=gram_seconds, solve_seconds=solve_seconds,
        predict_seconds=time.perf_counter() - start, peak_rss_bytes=peak_rss_bytes(),
    )


def _fit_linear(x_train, y_train, x_test, y_test, targets, ridge) -> KernelFit:
    """The linear kernel in the primal: W = argmin ||X W - Y||^2 + ridge ||W||^2 (minimum norm if ridge = 0)."""
    start = time.perf_counter()
    x = x_train.astype(np.float64, copy=False)
    if ridge:
        # (X^T X + ridge I) W = X^T Y: the primal of (K + ridge I) alpha = Y with W = X^T alpha.
        w = scipy.linalg.solve(x.T @ x + ridge * np.eye(x.shape[1]), x.T @ targets, assume_a="pos")
    else:
        w = scipy.linalg.lstsq(x, targets, check_finite=False)[0]
    solve_seconds = time.perf_counter() - start
    start = time.perf_counter()
    fitted, scores = x @ w, x_test.astype(np.float64, copy=False) @ w
    return KernelFit(
        kernel="linear", gamma=None, ridge=ridge, n_train=len(x), n_test=len(x_test), dim=x.shape[1],
        dtype=str(x_train.dtype), solver="least squares (primal, minimum norm)" if not ridge else "ridge (primal)",
        iterations=None,
        train_error=classification_error(fitted, y_train), test_error=classification_error(scores, y_test), norm=float(np.linalg.norm(w)),
        gram_seconds=0.0, solve_seconds=solve_seconds, predict_seconds=time.perf_counter() - start,
        peak_rss_bytes=peak_rss_bytes(),
    )
