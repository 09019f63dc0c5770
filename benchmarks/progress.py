"""What the progress bar inside an epoch costs: seconds per epoch with ``--progress bar`` and ``none``.

The bar is drawn into memory (a terminal's cost of drawing is not the engine's), at its real rate
(a redraw at most every 0.1 s), through the same ``StepReporter`` and ``ProgressPrinter`` as
``rethinking train``. Two settings: the embedded digits with the MLP 1x512 at batch 8 (180 small
steps an epoch: the most reporter calls per second of work), and, with ``--data``, a CIFAR-10
``.npz`` with the half-width small Inception on 1,000 images at batch 64 (the laptop sweeps'
setting). Each measurement runs in its own process and the settings take turns (``--rounds``);
the median over epochs after the first (which compiles) is kept.

    python benchmarks/progress.py --epochs 4 --rounds 3
    python benchmarks/progress.py --data ../shared/datasets/cifar10_subset.npz   # this workspace's file
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _epoch_seconds(data: str, mode: str, epochs: int) -> list[float]:
    from rethinking import runtime  # noqa: PLC0415

    runtime.configure()
    from rethinking.cli.progress import ProgressPrinter  # noqa: PLC0415
    from rethinking.config import Corruption, DataConfig, ModelConfig, RunConfig, TrainConfig  # noqa: PLC0415
    from rethinking.training import train  # noqa: PLC0415

    seconds: list[float] = []
    printer = ProgressPrinter(mode, stream=io.StringIO(), echo=lambda line: None)
    with tempfile.TemporaryDirectory() as log_dir:
        if data == "digits":
            config = RunConfig(data=DataConfig(dataset="digits", corruption=Corruption(labels="random")),
                               model=ModelConfig(name="mlp_1x512"), train=TrainConfig(epochs=epochs, batch_size=8),
                               log_dir=log_dir)
        else:
            config = RunConfig(data=DataConfig(dataset=data, train_examples=1000, corruption=Corruption(labels="random")),
                               model=ModelConfig(name="inception_small", width_multiplier=0.5),
                               train=TrainConfig(epochs=epochs, batch_size=64), log_dir=log_dir)
        train(config, progress=lambda row: seconds.append(row["epoch_seconds"]) if row["epoch"] else None,
              step_progress=None if mode == "none" else printer.step)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(_epoch_seconds(args.data, args.child, args.epochs)))
        return
    times: dict[str, list[float]] = {"none": [], "bar": []}
    for _ in range(args.rounds):
        for mode in times:
            out = subprocess.run([sys.executable, __file__, "--data", args.data, "--epochs", str(args.epochs),
                                  "--child", mode], capture_output=True, text=True, check=True).stdout
            times[mode] += json.loads(out.strip().splitlines()[-1])[1:]  # the first epoch compiles
    base = statistics.median(times["none"])
    print("| data | progress | epochs | seconds per epoch (median) | relative |")
    print("| --- | --- | ---: | ---: | ---: |")
    for mode, values in times.items():
        print(f"| {os.path.basename(args.data)} | {mode} | {len(values)} | {statistics.median(values):.3f} | "
              f"{statistics.median(values) / base:.3f}x |")


if __name__ == "__main__":
    main()
