"""``rethinking expressivity``, ``kernel`` and ``linear``: the paper's theory (Sections 4 and 5)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import click

from rethinking.cli.base import (
    cli,
    friendly_errors,
    start_tensorflow,
    theory_data_options,
)


# ------------------------------------------------------------------------------------------- theory


def _resolved_corruption_prob(labels: str, corruption_prob: float | None) -> float:
    from rethinking.config import Corruption  # noqa: PLC0415

    if labels in ("human", "matrix"):  # the theory reads labels through corrupt_labels only
        raise click.UsageError(f"--labels {labels} is for training runs; the theory commands take --labels true, "
                               "partial or random.")
    return Corruption(labels=labels, corruption_prob=corruption_prob).resolved_corruption_prob


def _labels_text(labels: str, p: float, seed: int) -> str:
    return "true labels" if labels == "true" else f"{labels} labels (p = {p:g}, seed {seed})"


def _write_json(path: str | None, values: dict[str, Any]) -> None:
    if not path:
        return
    import json  # noqa: PLC0415

    from rethinking.training.rundir import atomic_write_text  # noqa: PLC0415

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(path), json.dumps(values, indent=2) + "\n")
    click.echo(f"  wrote {path}")


def _gb(num_bytes: float) -> str:
    return f"{num_bytes / 1e9:.2f} GB"


@cli.command()
@theory_data_options
@click.option("--n", "n_points", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Training images to fit (the first N).")
@click.option("--depth", type=click.IntRange(min=1), default=1, show_default=True,
              help="Hidden layers: 1 is the paper's two-layer network; k spreads the same 2n + d weights over k layers.")
@click.option("--save", type=click.Path(dir_okay=False), default=None, help="Also save the Keras model (.keras).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write the numbers to this JSON file.")
@friendly_errors
def expressivity(dataset: str, data_dir: str | None, labels: str, corruption_prob: float | None, seed: int,
                 n_points: int, depth: int, save: str | None, out: str | None) -> None:
    """Build the paper's 2n + d weight network (Theorem 1) that fits N images exactly.

    Example: rethinking expressivity --dataset cifar10 --n 2000 --labels random
    """
    import time  # noqa: PLC0415

    if save and not save.endswith(".keras"):
        raise click.UsageError(f"--save writes a Keras model file: give it a .keras name. Received: {save}")
    p = _resolved_corruption_prob(labels, corruption_prob)
    start_tensorflow()
    from rethinking.theory import flat_data, expressivity as theorem  # noqa: PLC0415

    data = flat_data.load_flat(dataset, n_train=n_points, n_test=1, corruption_prob=p, seed=seed, data_dir=data_dir)
    n, d = data.x_train.shape
    theorem.check_depth(depth, n)
    click.echo(f"expressivity: {n:,} training images of {data.name} (d = {d:,}), {_labels_text(labels, p, seed)}, depth {depth}")
    start = time.perf_counter()
    construction = theorem.construct(data.x_train, data.y_train, seed=seed)
    model = theorem.to_keras(construction, data.image_shape, depth=depth)
    seconds = time.perf_counter() - start
    error = theorem.max_error(model, data.x_train.reshape((n, *data.image_shape)), data.y_train)
    scale = float(abs(data.y_train).max()) or 1.0
    params = model.count_params()
    click.echo(f"  parameters: {params:,} = 2n + d = 2 x {n:,} + {d:,}" + (" (exact)" if params == 2 * n + d else " (MISMATCH)"))
    widths = theorem.hidden_widths(model)
    click.echo(f"  hidden layer widths: {', '.join(f'{w:,}' for w in widths)}")
    click.echo(f"  max |c(x_i) - y_i| over the {n:,} points: {error:.3g} (relative to max |y|: {error / scale:.3g}); "
               f"built in {seconds:.1f} s")
    click.echo(f"  smallest gap between sorted projections <a, x_i>: {construction.min_gap:.3g}"
               + (f"; {construction.spare_units} repeated points" if construction.spare_units else ""))
    if save:
        Path(save).parent.mkdir(parents=True, exist_ok=True)
        model.save(save)
        click.echo(f"  saved {save}")
    _write_json(out, {"dataset": data.name, "n": n, "dim": d, "labels": labels, "corruption_prob": p, "seed": seed,
                      "depth": depth, "parameters": params, "max_error": error, "relative_max_error": error / scale,
                      "min_gap": construction.min_gap, "seconds": seconds})


@cli.command()
@theory_data_options
@click.option("--n", "n_points", type=click.IntRange(min=1), default=None, help="Training images (the first N) [default: all].")
@click.option("--test-n", type=click.IntRange(min=1), default=None, help="Test images (the first N) [default: all].")
@click.option("--kernel", "kernel_name", type=click.Choice(("gaussian", "linear")), default="gaussian", show_default=True,
              help="gaussian: exp(-gamma ||x - x'||^2); linear: <x, x'> (solved in the primal).")
@click.option("--gamma", type=float, default=None,
              help="Gaussian width [default: 0.02 x 784 / d on pixels (the paper's 0.02 on MNIST, scaled); 1 / d on "
                   "random conv features].")
@click.option("--ridge", type=float, default=0.0, show_default=True, help="lambda in (K + lambda I) alpha = Y; 0 interpolates.")
@click.option("--dtype", type=click.Choice(("float64", "float32")), default=None,
              help="Precision of the data and the Gram matrix (float32 halves its memory) [default: float64 for "
                   "cholesky, float32 for pcg].")
@click.option("--solver", type=click.Choice(("auto", "cholesky", "pcg")), default="auto", show_default=True,
              help="cholesky: exact, the whole n x n Gram matrix in memory; pcg: conjugate gradients on half of it "
                   "with a Nyström preconditioner (docs/theory.md); auto: cholesky where it fits in --memory-gb, else pcg.")
@click.option("--memory-gb", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Memory budget of --solver auto [default: a third of this machine's memory].")
@click.option("--rank", type=click.IntRange(min=1), default=None, help="Landmarks of pcg's Nyström preconditioner [default: 1000].")
@click.option("--tolerance", type=click.FloatRange(min=0, min_open=True, max=1, max_open=True), default=None,
              help="pcg stops at this relative residual ||K alpha - Y|| / ||Y|| per class [default: 5e-3; tightened while a training point is misclassified].")
@click.option("--block-rows", type=click.IntRange(min=1), default=2048, show_default=True,
              help="Rows per block of the Gram matrix and of predictions (memory: block x n).")
@click.option("--features", type=click.Choice(("pixels", "random-conv")), default="pixels", show_default=True,
              help="The kernel's inputs: raw pixels, or features of a random conv net (8 per filter).")
@click.option("--filters", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Random 6x6 filters for --features random-conv (the paper: 32,000).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write the numbers to this JSON file.")
@friendly_errors
def kernel(dataset: str, data_dir: str | None, labels: str, corruption_prob: float | None, seed: int,
           n_points: int | None, test_n: int | None, kernel_name: str, gamma: float | None, ridge: float,
           dtype: str | None, solver: str, memory_gb: float | None, rank: int | None, tolerance: float | None,
           block_rows: int, features: str, filters: int, out: str | None) -> None:
    """Interpolate one-hot labels with a kernel (Section 5): solve K alpha = Y, report errors and norm.

    Example: rethinking kernel --dataset mnist --labels random
    """
    import numpy as np  # noqa: PLC0415

    from rethinking.theory import kernels  # noqa: PLC0415 (NumPy only)
    from rethinking.theory.child import in_child  # noqa: PLC0415

    p = _resolved_corruption_prob(labels, corruption_prob)
    kernels.check_kernel(kernel_name, gamma, ridge)
    if solver != "auto" and kernel_name == "linear":
        raise click.UsageError("--solver applies to the gaussian kernel (the linear kernel is solved in the primal).")
    if (rank is not None or tolerance is not None) and solver == "cholesky":
        raise click.UsageError("--rank and --tolerance are pcg's: drop them or use --solver pcg (or auto).")
    # The data (and random conv features) are prepared in a child process: TensorFlow stays out of
    # this one, whose memory goes to the Gram matrix.
    data_dtype = np.dtype(dtype or ("float32" if solver == "pcg" else "float64")).type
    data = in_child("rethinking.theory.flat_data:kernel_inputs", dataset=dataset, n_train=n_points, n_test=test_n,
                    corruption_prob=p, seed=seed, data_dir=data_dir, dtype=data_dtype, features=features,
                    filters=filters)
    if features == "random-conv":
        click.echo(f"features: {filters:,} random 6x6 filters -> {8 * filters:,} features per image", err=True)
    x_train, x_test = data.x_train, data.x_test
    n, d = x_train.shape
    if features == "random-conv" and gamma is None and kernel_name == "gaussian":
        gamma = kernels.features_gamma(d)
    chosen = "cholesky" if kernel_name == "linear" else solver
    if solver == "auto" and kernel_name == "gaussian":
        budget = int(memory_gb * 1e9) if memory_gb is not None else kernels.memory_budget_bytes()
        chosen, auto_dtype = kernels.choose_solver(n, d, data_dtype, budget, rank)
        if dtype is None and auto_dtype != data_dtype:
            x_train, x_test = x_train.astype(auto_dtype), x_test.astype(auto_dtype)
        if budget is not None:
            click.echo(f"  solver auto: {chosen} (memory budget {_gb(budget)}; --solver to choose)")
    need = kernels.check_memory(n, x_train.dtype.type, kernel_name) if chosen == "cholesky" else 0
    used_gamma = kernels.default_gamma(d) if (gamma is None and kernel_name == "gaussian") else gamma
    what = f"gaussian exp(-{used_gamma:.4g} ||x - x'||^2)" if kernel_name == "gaussian" else "linear <x, x'>"
    on = "random conv features of " if features == "random-conv" else ""
    click.echo(f"kernel: {what}, {on}{n:,} training / {len(x_test):,} test images of {data.name} (d = {d:,}), "
               f"{_labels_text(labels, p, seed)}" + (f", ridge {ridge:g}" if ridge else ""))
    if need:
        click.echo(f"  Gram matrix {n:,} x {n:,} in {x_train.dtype}: {_gb(need)}")
    elif chosen == "pcg":
        from rethinking.theory.kernel_solvers import HALF_BLOCK_ROWS, stored_half_bytes  # noqa: PLC0415

        click.echo(f"  half of the Gram matrix {n:,} x {n:,} in {x_train.dtype}: "
                   f"{_gb(stored_half_bytes(n, x_train.dtype.type, min(block_rows, HALF_BLOCK_ROWS)))}")

    interactive = sys.stderr.isatty()

    def progress(stage: str, block: int, blocks: int) -> None:
        if interactive:  # one line per stage, updated in place
            click.echo(f"\r  {stage}: {block}/{blocks}", nl=block == blocks, err=True)
        elif blocks > 1 and block in (1, blocks) or block % 10 == 0:  # logs: a few lines per stage
            click.echo(f"  {stage}: {block}/{blocks}", err=True)

    fit = kernels.fit_kernel(x_train, data.y_train, x_test, data.y_test, num_classes=data.num_classes,
                             kernel=kernel_name, gamma=gamma, ridge=ridge, block_rows=block_rows, progress=progress,
                             solver=chosen, rank=rank, tolerance=tolerance)
    iterations = f" ({fit.iterations} iterations)" if fit.iterations is not None else ""
    click.echo(f"  solver: {fit.solver}; Gram {fit.gram_seconds:.1f} s, solve {fit.solve_seconds:.1f} s{iterations}, "
               f"predictions {fit.predict_seconds:.1f} s; peak memory {_gb(fit.peak_rss_bytes)}")
    click.echo(f"  training error {100 * fit.train_error:.2f}%   test error {100 * fit.test_error:.2f}% (chance "
               f"{100 * (1 - 1 / data.num_classes):.0f}%)   norm sqrt(alpha^T K alpha) {fit.norm:.4g}")
    _write_json(out, {"dataset": data.name, "labels": labels, "corruption_prob": p, "seed": seed, "features": features,
                      "filters": filters if features == "random-conv" else None, **dataclasses.asdict(fit)})


@cli.command()
@theory_data_options
@click.option("--n", "n_points", type=click.IntRange(min=1), default=100, show_default=True,
              help="Training images (the first N); fewer than the pixels for a non-unique solution.")
@click.option("--test-n", type=click.IntRange(min=1), default=None, help="Test images (the first N) [default: all].")
@click.option("--epochs", type=click.IntRange(min=1), default=2000, show_default=True, help="SGD passes over the data.")
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True, help="SGD examples per step.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write the numbers to this JSON file.")
@friendly_errors
def linear(dataset: str, data_dir: str | None, labels: str, corruption_prob: float | None, seed: int, n_points: int,
           test_n: int | None, epochs: int, batch_size: int, out: str | None) -> None:
    """Linear least squares with n < d: SGD from zero ends at the minimum-norm solution (Section 5).

    Example: rethinking linear --dataset mnist --n 100 --epochs 4000
    """
    p = _resolved_corruption_prob(labels, corruption_prob)
    start_tensorflow()
    from rethinking.theory import flat_data, linear as least_squares  # noqa: PLC0415

    data = flat_data.load_flat(dataset, n_train=n_points, n_test=test_n, corruption_prob=p, seed=seed, data_dir=data_dir)
    n, d = data.x_train.shape
    relation = "n < d: many solutions" if n < d else "n >= d: at most one least-squares solution, nothing to choose between"
    click.echo(f"linear: {n:,} training / {len(data.x_test):,} test images of {data.name} (d = {d:,}; {relation}), "
               f"{_labels_text(labels, p, seed)}; SGD from zero, {epochs:,} epochs, batch {batch_size}")
    r = least_squares.compare_sgd_to_min_norm(data.x_train, data.y_train, data.x_test, data.y_test,
                                              num_classes=data.num_classes, epochs=epochs, batch_size=batch_size, seed=seed)
    click.echo(f"  ||W||: SGD {r.sgd_norm:.6g}, minimum norm (pseudo-inverse) {r.min_norm:.6g}; "
               f"||W_sgd - W_min|| / ||W_min|| = {r.relative_distance:.3g}")
    click.echo(f"  SGD's part outside the row space of X: {r.outside_row_space:.3g} of ||W||; "
               f"relative residual ||X W - Y|| / ||Y||: {r.sgd_train_residual:.3g}")
    click.echo(f"  training error: SGD {100 * r.sgd_train_error:.2f}%, minimum norm {100 * r.min_norm_train_error:.2f}%; "
               f"test error: SGD {100 * r.sgd_test_error:.2f}%, minimum norm {100 * r.min_norm_test_error:.2f}%")
    _write_json(out, {"dataset": data.name, "labels": labels, "corruption_prob": p, "seed": seed,
                      "batch_size": batch_size, **dataclasses.asdict(r)})


