"""Wall time of one sweep run by ``rethinking run SWEEP --workers N`` for several N, side by side.

The sweep: ``--runs`` runs of one model on one dataset with random labels (different seeds), a fixed
number of epochs each (no stopping at fit), so every repetition does the same work. Each
measurement is a fresh log folder and one ``rethinking run`` process tree, timed from start to
exit (TensorFlow start-up of every worker included, as a user waits for it). Worker counts take
turns (``--rounds``), because this shared VM's speed drifts by +-25% over minutes.

    python benchmarks/workers.py --workers 1 2 --runs 4 --epochs 10
    python benchmarks/workers.py --dataset ../shared/datasets/mnist_subset.npz --train-examples 5000

The default dataset is the embedded ``digits`` (in every clone); ``../shared/datasets`` exists in
this workplace only.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SWEEP = """\
[sweep]
name = "workers-benchmark"
description = "The same runs, timed with different --workers."
seeds = {seeds}

[base]
data = {{ dataset = "{dataset}", train_examples = {train_examples}, corruption = {{ labels = "random" }} }}
model = {{ name = "{model}" }}
train = {{ epochs = {epochs}, batch_size = 128 }}
"""


def sweep_text(model: str, dataset: str, train_examples: int, runs: int, epochs: int) -> str:
    """The benchmark's sweep file: ``runs`` seeds of one run."""
    return SWEEP.format(seeds=list(range(runs)), dataset=dataset, train_examples=train_examples, model=model,
                        epochs=epochs)


def time_sweep(sweep_file: Path, workers: int) -> float:
    """Seconds for ``rethinking run`` with ``workers`` workers, in a fresh log folder."""
    with tempfile.TemporaryDirectory() as logs:
        command = [sys.executable, "-m", "rethinking.cli", "run", str(sweep_file), "--workers", str(workers),
                   "--set", f"log_dir={logs}"]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)  # noqa: S603 (our own command)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"--workers {workers} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        if "finished" not in done.stdout:
            raise SystemExit(f"--workers {workers}: no finished run in the output:\n{done.stdout[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--model", default="mlp_1x512")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--train-examples", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    dataset = str(Path(args.dataset).resolve()) if args.dataset.endswith(".npz") else args.dataset
    times: dict[int, list[float]] = {w: [] for w in args.workers}
    with tempfile.TemporaryDirectory() as folder:
        sweep_file = Path(folder) / "workers_benchmark.toml"
        sweep_file.write_text(sweep_text(args.model, dataset, args.train_examples, args.runs, args.epochs))
        for round_index in range(args.rounds):
            order = args.workers if round_index % 2 == 0 else list(reversed(args.workers))
            for workers in order:
                times[workers].append(time_sweep(sweep_file, workers))
                print(f"round {round_index + 1}, --workers {workers}: {times[workers][-1]:.1f} s", flush=True)
    base = statistics.median(times[args.workers[0]])
    print(f"\n{args.runs} runs of {args.model} on {args.dataset} ({args.train_examples} examples, random labels, "
          f"{args.epochs} epochs each)\n")
    print("| --workers | wall time per round (s) | median (s) | speed-up |")
    print("| --- | --- | --- | --- |")
    for workers, seconds in times.items():
        median = statistics.median(seconds)
        print(f"| {workers} | {', '.join(f'{s:.1f}' for s in seconds)} | {median:.1f} | {base / median:.2f}x |")


if __name__ == "__main__":
    main()
