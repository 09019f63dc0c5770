"""Kernel interpolation cost vs n: Gram matrix time, solve time, prediction time and peak memory.

The paper's MNIST setting (Gaussian kernel exp(-0.02 ||x - x'||^2) on pixels in [0, 1], no
regularization) on the first n training images. Each n runs in a process of its own, so that the
peak resident memory reported is that n's alone (it includes TensorFlow, used to read the data).
The last lines extrapolate to the paper's n = 60,000: memory n^2 x 8 bytes, solve time n^3.

Data: by default the real MNIST subset of this project's development machine,
../shared/datasets/mnist_subset.npz (24,680 training / 10,000 test images; not in a user's clone).
Pass --dataset mnist (TFDS) or any .npz path elsewhere.

    python benchmarks/kernels.py
    python benchmarks/kernels.py --solver pcg --sizes 24680,60000     # conjugate gradients, MNIST's n
    python benchmarks/kernels.py --sizes 1000,2000 --dataset digits --test-n 300
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist_subset.npz"
PAPER_N = 60_000


def shifted_copies(x, y, n: int, image_shape):
    """``x``, ``y`` grown to ``n`` rows with 1-pixel shifted copies (right, down, left, up in turn) of
    the images: more points than the data file holds (MNIST's 60,000 from the 24,680 of the subset)."""
    import numpy as np

    parts, labels = [x], [y]
    images = x.reshape((len(x), *image_shape))
    shifts = ((0, 1), (1, 0), (0, -1), (-1, 0))
    have, k = len(x), 0
    while have < n:
        dy, dx = shifts[k % 4]
        moved = np.roll(images, (dy, dx), axis=(1, 2))
        if dy:
            moved[:, 0 if dy > 0 else -1] = 0
        if dx:
            moved[:, :, 0 if dx > 0 else -1] = 0
        take = min(len(x), n - have)
        parts.append(moved[:take].reshape(take, -1))
        labels.append(y[:take])
        have, k = have + take, k + 1
    return np.concatenate(parts), np.concatenate(labels)


def worker(dataset: str, n: int, test_n: int | None, labels_p: float, dtype: str | None, gamma: float | None,
           solver: str, rank: int | None, tolerance: float | None) -> dict:
    """One measurement (in this process; the data are read in a child process, as the command does)."""
    import time

    import numpy as np

    from rethinking.theory.child import in_child
    from rethinking.theory.kernels import fit_kernel

    start = time.perf_counter()
    kind = np.dtype(dtype or ("float32" if solver == "pcg" else "float64")).type
    data = in_child("rethinking.theory.flat_data:kernel_inputs", dataset=dataset, n_train=None, n_test=test_n,
                    corruption_prob=labels_p, seed=0, data_dir=None, dtype=kind)
    x, y = data.x_train[:n], data.y_train[:n]
    if n > len(x):
        x, y = shifted_copies(x, y, n, data.image_shape)
    x_test, y_test, num_classes = data.x_test, data.y_test, data.num_classes
    del data  # the file's own training images: not part of the command's memory (the peak counts what is held)
    fit = fit_kernel(x, y, x_test, y_test, num_classes=num_classes, gamma=gamma, solver=solver, rank=rank,
                     tolerance=tolerance)
    return {**dataclasses.asdict(fit), "wall_seconds": time.perf_counter() - start}


def measure(dataset: str, n: int, test_n: int | None, labels_p: float, dtype: str | None, gamma: float | None,
            solver: str, rank: int | None, tolerance: float | None) -> dict:
    """Runs ``worker`` in a fresh process and returns its result."""
    args = [sys.executable, __file__, "--worker", "--dataset", dataset, "--sizes", str(n), "--labels-p", str(labels_p),
            "--solver", solver] + (["--dtype", dtype] if dtype else []) + (["--test-n", str(test_n)] if test_n else []) \
        + (["--gamma", str(gamma)] if gamma else []) + (["--rank", str(rank)] if rank else []) \
        + (["--tolerance", str(tolerance)] if tolerance else [])
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"n={n} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default=str(DEFAULT_DATA), help="a dataset name or .npz path")
    parser.add_argument("--sizes", default="1000,2500,5000,10000,24680", help="comma-separated training set sizes")
    parser.add_argument("--test-n", type=int, default=None, help="test images (default: all)")
    parser.add_argument("--labels-p", type=float, default=0.0, help="label corruption probability (1: random labels)")
    parser.add_argument("--dtype", choices=("float64", "float32"), default=None,
                        help="default: float64 for cholesky, float32 for pcg")
    parser.add_argument("--solver", choices=("cholesky", "pcg"), default="cholesky")
    parser.add_argument("--rank", type=int, default=None, help="pcg's preconditioner rank (default 1000)")
    parser.add_argument("--tolerance", type=float, default=None, help="pcg's relative residual (default 5e-3)")
    parser.add_argument("--gamma", type=float, default=None, help="default: 0.02 x 784 / d (the paper's 0.02 on MNIST)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.worker:
        print(json.dumps(worker(args.dataset, sizes[0], args.test_n, args.labels_p, args.dtype, args.gamma,
                                args.solver, args.rank, args.tolerance)))
        return
    print(f"# kernel interpolation on {args.dataset}: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, {args.solver}, label corruption p = {args.labels_p:g}; sizes above the file's "
          "training set are filled with 1-pixel shifted copies; peak RSS of the solving process (the data are read "
          "in a child process)")
    print("| n | solver | Gram (s) | solve (s) | iterations | predictions (s) | wall (s) | peak RSS (GB) | train error % "
          "| test error % | norm |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    rows = []
    for n in sizes:
        r = measure(args.dataset, n, args.test_n, args.labels_p, args.dtype, args.gamma, args.solver, args.rank,
                    args.tolerance)
        rows.append(r)
        print(f"| {n:,} | {args.solver} {r['dtype']} | {r['gram_seconds']:.1f} | {r['solve_seconds']:.1f} | "
              f"{r['iterations'] if r['iterations'] is not None else '-'} | {r['predict_seconds']:.1f} | "
              f"{r['wall_seconds']:.0f} | {r['peak_rss_bytes'] / 1e9:.2f} | {100 * r['train_error']:.2f} | "
              f"{100 * r['test_error']:.2f} | {r['norm']:.4g} |", flush=True)
    if args.solver == "pcg":
        return
    last = rows[-1]
    scale = PAPER_N / last["n_train"]
    print(f"\nExtrapolated to n = {PAPER_N:,}: Gram matrix {PAPER_N ** 2 * 8 / 1e9:.1f} GB in float64 "
          f"({PAPER_N ** 2 * 4 / 1e9:.1f} GB in float32); solve about {last['solve_seconds'] * scale ** 3 / 60:.0f} min "
          f"and Gram + predictions about {(last['gram_seconds'] + last['predict_seconds']) * scale ** 2 / 60:.0f} min "
          f"on this machine (n^3 and n^2 from n = {last['n_train']:,}).")


if __name__ == "__main__":
    main()
