"""What writing the per-example table costs each epoch: examples.csv (integers alone, with the loss
column) against examples.npz (the binary file written after every epoch since 2026-12-06).

The formats take turns (``--rounds``) in one process on the same random table of ``--rows``
examples; the mean of each is printed.

    python benchmarks/examples_csv.py --rows 50000 --rounds 5
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from rethinking.training.example_files import _save_with_loss  # noqa: PLC0415

    rng = np.random.default_rng(0)
    columns = rng.integers(0, 300, (args.rows, 11)).astype(np.int64)
    loss = rng.random(args.rows).astype(np.float32)
    times: dict[str, list[float]] = {"integers only": [], "with the loss column": [], "examples.npz (binary)": []}
    import tempfile  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from rethinking.training.example_files import _savez  # noqa: PLC0415

    table = {f"c{i}": columns[:, i] for i in range(11)} | {"loss": loss}
    scratch = Path(tempfile.mkdtemp())
    for _ in range(args.rounds):
        start = time.perf_counter()
        _savez(scratch / "examples.npz", table)
        times["examples.npz (binary)"].append(time.perf_counter() - start)
        start = time.perf_counter()
        np.savetxt(io.StringIO(), columns, fmt="%d", delimiter=",")
        times["integers only"].append(time.perf_counter() - start)
        start = time.perf_counter()
        _save_with_loss(io.StringIO(), columns, loss)
        times["with the loss column"].append(time.perf_counter() - start)
    print(f"| per-example table ({args.rows:,} rows) | ms per write (mean of {args.rounds}) |")
    print("| --- | ---: |")
    for name, values in times.items():
        print(f"| {name} | {1000 * statistics.mean(values):.0f} |")


if __name__ == "__main__":
    main()
