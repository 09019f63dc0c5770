"""Can the engine feed a GPU? A ``rethinking train`` epoch against ``model.fit`` plus the same
evaluations on the same pipeline, with a near-free model, so that the engine's own work shows.

A GPU consumes batches of a small network far faster than these 2 CPU cores train it; a network of
one dense layer (``near_free``: 30,730 parameters) on 50,000 CIFAR-size examples stands in for it:
what is left of an epoch is the input pipeline and the engine's bookkeeping (evaluation of the
whole training set split into corrupted and clean labels, per-example dynamics, examples.npz,
metrics.csv, TensorBoard, a checkpoint). Data: random uint8 images and labels, 50,000 training and
10,000 test (written to a temporary .npz). Both contenders use ``DataPipeline`` (centre crop 28,
per-image standardization, full shuffle; cached), batch 128, the engine's default evaluation batch
(``evaluation_batch_size``: 4,096 for this model):

* ``rethinking``: ``rethinking.train`` with ``model=near_free``;
* ``bare``: the same model built and compiled the same way, ``model.fit`` on ``pipeline.train(e)``
  then ``model.evaluate`` on the training set in order and on the test set.

Each measurement runs in its own process, the two take turns (``--rounds``); median of the epochs
after the first.

    python benchmarks/feed.py --epochs 4 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def near_free(input_shape, num_classes, **switches):
    """Flatten and one dense layer: the network a GPU would train for free."""
    import keras  # noqa: PLC0415

    inputs = keras.Input(input_shape)
    return keras.Model(inputs, keras.layers.Dense(num_classes, name="logits")(keras.layers.Flatten()(inputs)),
                       name="near_free")


def _config(data: str, epochs: int, logs: str):
    from rethinking.config import RunConfig, TrainConfig  # noqa: PLC0415
    from rethinking.data import Corruption, DataConfig  # noqa: PLC0415

    return RunConfig(data=DataConfig(dataset=data, corruption=Corruption(labels="random")),
                     train=TrainConfig(epochs=epochs, batch_size=128, learning_rate=0.01), log_dir=logs)


def _rethinking(data: str, epochs: int) -> list[float]:
    from rethinking.training import train  # noqa: PLC0415

    marks: list[float] = []
    with tempfile.TemporaryDirectory() as logs:
        train(_config(data, epochs, logs), model=near_free, progress=lambda row: marks.append(time.perf_counter()))
    return [b - a for a, b in zip(marks, marks[1:])][1:]  # marks[0]: epoch 0; the first epoch compiles


def _bare(data: str, epochs: int) -> list[float]:
    import dataclasses  # noqa: PLC0415

    from rethinking.data import build_pipeline, supervised  # noqa: PLC0415
    from rethinking.training.assembly import assemble_model, use_builder  # noqa: PLC0415
    from rethinking.training.evaluation import evaluation_batch_size  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as logs:
        config = use_builder(_config(data, epochs, logs), near_free)
        pipeline = build_pipeline(config.data, config.train.batch_size)
        model, _ = assemble_model(config, pipeline)
        evaluation = dataclasses.replace(pipeline, batch_size=evaluation_batch_size(model, config.train.batch_size))
        times = []
        for epoch in range(epochs):
            start = time.perf_counter()
            model.fit(supervised(pipeline.train(epoch)), epochs=1, verbose=0)
            model.evaluate(supervised(evaluation.train_in_order()), verbose=0)
            model.evaluate(supervised(evaluation.test()), verbose=0)
            times.append(time.perf_counter() - start)
    return times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--worker", choices=("rethinking", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--data", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        from rethinking import runtime  # noqa: PLC0415

        runtime.configure()
        fn = _rethinking if args.worker == "rethinking" else _bare
        print(json.dumps(fn(args.data, args.epochs)))
        return
    import numpy as np  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as folder:
        data = str(Path(folder) / "random.npz")
        rng = np.random.default_rng(0)
        np.savez(data, x_train=rng.integers(0, 256, (50_000, 32, 32, 3), dtype=np.uint8),
                 y_train=rng.integers(0, 10, 50_000), x_test=rng.integers(0, 256, (10_000, 32, 32, 3), dtype=np.uint8),
                 y_test=rng.integers(0, 10, 10_000))
        times: dict[str, list[float]] = {"bare": [], "rethinking": []}
        for _ in range(args.rounds):
            for kind in times:
                out = subprocess.run([sys.executable, __file__, "--worker", kind, "--data", data, "--epochs",
                                      str(args.epochs)], capture_output=True, text=True, check=True,
                                     env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
                times[kind] += json.loads(out.stdout.strip().splitlines()[-1])
    bare, ours = statistics.median(times["bare"]), statistics.median(times["rethinking"])
    print("| near-free model, 50,000 examples | bare fit + 2 x evaluate (s/epoch) | rethinking train (s/epoch) | ratio |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| medians of {len(times['bare'])} / {len(times['rethinking'])} epochs | {bare:.2f} | {ours:.2f} | "
          f"{ours / bare:.2f}x |")


if __name__ == "__main__":
    main()
