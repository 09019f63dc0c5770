"""What ``--fit-every STEPS`` costs: seconds per epoch of ``rethinking train`` with and without it.

Needs a CIFAR-10 ``.npz`` in the Keras layout (default: the workplace's real subset,
``../shared/datasets/cifar10_subset.npz``; a user's clone does not have it: pass ``--data``). The
laptop sweeps' setting: the first 1,000 training images, the half-width small Inception, batch 64
(16 steps an epoch), random labels so that no run fits (a fitted run stops evaluating within
epochs, which would hide the cost). Each measurement runs in its own process and the settings take
turns (``--rounds``); the median over epochs after the first is kept.

    python benchmarks/fit_every.py --every 4 2 --epochs 4 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "cifar10_subset.npz"


def _epoch_seconds(data: str, every: int | None, epochs: int) -> list[float]:
    from rethinking import runtime  # noqa: PLC0415

    runtime.configure()
    from rethinking.config import Corruption, DataConfig, ModelConfig, RunConfig, TrainConfig  # noqa: PLC0415
    from rethinking.training import train  # noqa: PLC0415

    seconds: list[float] = []
    with tempfile.TemporaryDirectory() as log_dir:
        config = RunConfig(
            data=DataConfig(dataset=data, train_examples=1000, corruption=Corruption(labels="random")),
            model=ModelConfig(name="inception_small", width_multiplier=0.5),
            train=TrainConfig(epochs=epochs, batch_size=64, fit_every=every), log_dir=log_dir)
        train(config, progress=lambda row: seconds.append(row["epoch_seconds"]) if row["epoch"] else None)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--every", type=int, nargs="+", default=[4])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        every = int(args.child) or None
        print(json.dumps(_epoch_seconds(args.data, every, args.epochs)))
        return
    settings = [0, *args.every]  # 0: once an epoch (the default)
    times: dict[int, list[float]] = {s: [] for s in settings}
    for _ in range(args.rounds):
        for setting in settings:
            out = subprocess.run([sys.executable, __file__, "--data", args.data, "--epochs", str(args.epochs),
                                  "--child", str(setting)], capture_output=True, text=True, check=True).stdout
            times[setting] += json.loads(out.strip().splitlines()[-1])[1:]  # the first epoch compiles
    base = statistics.median(times[0])
    print("| fit check | evaluations per epoch (16 steps) | seconds per epoch (median) | relative |")
    print("| --- | ---: | ---: | ---: |")
    for setting in settings:
        median = statistics.median(times[setting])
        per_epoch = 1 if setting == 0 else 1 + len([s for s in range(setting, 16, setting)])
        name = "once an epoch (default)" if setting == 0 else f"--fit-every {setting}"
        print(f"| {name} | {per_epoch} | {median:.2f} | {median / base:.2f}x |")


if __name__ == "__main__":
    main()
