"""Seconds per epoch of ``rethinking train`` against a bare ``model.fit`` + ``model.evaluate`` epoch.

Needs the real CIFAR-10 subset of this workplace (``../shared/datasets/cifar10_subset.npz``, 5,438
train / 1,017 test images; a user's clone does not have it: pass ``--data`` with any .npz in the
Keras layout). Per model, one epoch of:

* ``rethinking``: ``rethinking.train`` with the default pipeline (centre crop 28, per-image
  standardization, full shuffle), the model's compile defaults, and everything the engine does
  per epoch: training, full training-set evaluation split by corrupted / clean labels, test
  evaluation, metrics.csv, examples.csv, TensorBoard, checkpoint. Timed between consecutive
  end-of-epoch reports.
* ``bare``: the same network and compile settings on the same preprocessed arrays held in memory:
  ``model.fit(x, y, epochs=1, shuffle=True)`` then ``model.evaluate`` on the training and test
  sets, as a minimal script would do.

Labels are random (the paper's main experiment). Each measurement runs in its own process and the
two take turns (``--rounds``); the median over epochs after the first is kept.

    python benchmarks/engine.py --models mlp_1x512 alexnet_small --epochs 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "cifar10_subset.npz"


def _rethinking_epochs(model: str, data: str, epochs: int) -> list[float]:
    from rethinking import runtime  # noqa: PLC0415

    runtime.configure()
    from rethinking.config import ModelConfig, RunConfig, TrainConfig  # noqa: PLC0415
    from rethinking.data import Corruption, DataConfig  # noqa: PLC0415
    from rethinking.training import train  # noqa: PLC0415

    marks: list[float] = []
    with tempfile.TemporaryDirectory() as logs:
        config = RunConfig(data=DataConfig(dataset=data, corruption=Corruption(labels="random")),
                           model=ModelConfig(name=model), train=TrainConfig(epochs=epochs), log_dir=logs)
        train(config, progress=lambda row: marks.append(time.perf_counter()))
    return [b - a for a, b in zip(marks, marks[1:])]  # marks[0]: after the epoch-0 evaluation


def _bare_epochs(model_name: str, data: str, epochs: int) -> list[float]:
    from rethinking import runtime  # noqa: PLC0415

    runtime.configure()
    import keras  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    from rethinking.models import COMPILE_DEFAULTS, MODELS  # noqa: PLC0415

    arrays = np.load(data)

    def prepare(x: np.ndarray) -> np.ndarray:  # centre crop 32 -> 28, per-image standardization
        x = x[:, 2:30, 2:30].astype("float32") / 255.0
        mean = x.mean(axis=(1, 2, 3), keepdims=True)
        std = np.maximum(x.std(axis=(1, 2, 3), keepdims=True), 1.0 / np.sqrt(x[0].size))
        return (x - mean) / std

    x_train, x_test = prepare(arrays["x_train"]), prepare(arrays["x_test"])
    y_train = np.random.RandomState(0).randint(0, 10, len(x_train))
    y_test = arrays["y_test"].reshape(-1)
    model = MODELS[model_name](x_train.shape[1:], 10)
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], **COMPILE_DEFAULTS[model_name])
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.fit(x_train, y_train, batch_size=128, epochs=1, shuffle=True, verbose=0)
        model.evaluate(x_train, y_train, batch_size=256, verbose=0)
        model.evaluate(x_test, y_test, batch_size=256, verbose=0)
        times.append(time.perf_counter() - start)
    return times[1:]  # the first epoch traces and compiles


def _measure(kind: str, model: str, data: str, epochs: int) -> list[float]:
    out = subprocess.run([sys.executable, __file__, "--worker", kind, "--models", model, "--data", data,
                          "--epochs", str(epochs)], capture_output=True, text=True, check=False)
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("["):
            return json.loads(line)
    raise RuntimeError(f"{kind} {model} failed: {out.stderr.strip()[-1500:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["mlp_1x512", "alexnet_small"])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="an .npz in the Keras layout (32x32x3 images)")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per measurement (the first is not timed)")
    parser.add_argument("--rounds", type=int, default=2, help="turns each contender takes")
    parser.add_argument("--worker", choices=("rethinking", "bare"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        fn = _rethinking_epochs if args.worker == "rethinking" else _bare_epochs
        print(json.dumps(fn(args.models[0], args.data, args.epochs)))
        return
    if not Path(args.data).is_file():
        sys.exit(f"Error: {args.data} not found; pass --data PATH.npz (x_train, y_train, x_test, y_test).")
    import numpy as np  # noqa: PLC0415

    print(f"# Seconds per epoch, random labels, batch 128, {Path(args.data).name}; {os.cpu_count()} CPUs; "
          f"median of epochs 2..{args.epochs}, best of {args.rounds} rounds")
    print()
    print("| model | bare fit + evaluate (s/epoch) | rethinking train (s/epoch) | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for model in args.models:
        best = {"bare": float("inf"), "rethinking": float("inf")}
        for _ in range(args.rounds):
            for kind in best:
                best[kind] = min(best[kind], float(np.median(_measure(kind, model, args.data, args.epochs))))
        print(f"| {model} | {best['bare']:.2f} | {best['rethinking']:.2f} | {best['rethinking'] / best['bare']:.2f}x |",
              flush=True)


if __name__ == "__main__":
    main()
