"""Input-pipeline throughput of the clean and of each corrupted pipeline.

Measures examples/s of ``DataPipeline.train(epoch)`` (shuffle, preprocessing, batching; no model)
on synthetic 32x32x3 uint8 images, for the first epoch (which pays the corruption and fills the
cache) and for later epochs (which should cost what the clean pipeline costs: the target is
within 10%). With ``--random-crop`` the training images are cached uncropped and the pixel
permutations of shuffled and random pixels are applied per batch after the crop, so that cost is
in the later epochs. Prints a markdown table.

    python benchmarks/pipeline.py                 # 50,000 images, batch 128, 3 later epochs
    python benchmarks/pipeline.py --num-images 5000 --later-epochs 1   # a quick look
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from rethinking.data import Corruption, DataConfig, Preprocessing, build_pipeline  # noqa: E402
from rethinking.data.datasets import from_arrays  # noqa: E402

CONDITIONS = {
    "clean": Corruption(),
    "partial labels p=0.5": Corruption(labels="partial", corruption_prob=0.5),
    "random labels": Corruption(labels="random"),
    "shuffled pixels": Corruption(pixels="shuffled"),
    "random pixels": Corruption(pixels="random"),
    "gaussian": Corruption(pixels="gaussian"),
}


def epoch_rate(dataset: tf.data.Dataset, n: int) -> float:
    """Examples per second of one full pass."""
    start = time.perf_counter()
    for _ in dataset:
        pass
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-images", type=int, default=50_000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--later-epochs", type=int, default=3, help="later epochs timed (median reported)")
    parser.add_argument("--random-crop", action="store_true", help="time with the random-crop augmentation on")
    args = parser.parse_args()

    rng = np.random.RandomState(0)
    n = args.num_images
    x = rng.randint(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    y = rng.randint(0, 10, size=n).astype(np.int64)
    bundle = from_arrays("synthetic", "npz", x, y, x[:1000], y[:1000])
    prep = Preprocessing(random_crop=args.random_crop)

    print(f"# Input pipeline, {n:,} synthetic 32x32x3 images, batch {args.batch_size}, "
          f"{'random crop' if args.random_crop else 'centre crop'}; {platform.node()}, {os.cpu_count()} CPUs, "
          f"TF {tf.__version__}")
    print()
    pipelines, first = {}, {}
    for name, corruption in CONDITIONS.items():
        pipelines[name] = build_pipeline(DataConfig(corruption=corruption, preprocessing=prep), args.batch_size, bundle=bundle)
        first[name] = epoch_rate(pipelines[name].train(0), n)  # pays the corruption, fills the cache
    # Later epochs round-robin over the conditions, so that drift of a shared machine hits all alike;
    # every other round in reverse order, so that no condition always runs first (or last).
    later: dict[str, list[float]] = {name: [] for name in CONDITIONS}
    for epoch in range(1, 1 + args.later_epochs):
        order = list(pipelines.items())
        for name, pipeline in (order if epoch % 2 else order[::-1]):
            later[name].append(epoch_rate(pipeline.train(epoch), n))
    clean = statistics.median(later["clean"])
    print("| condition | first epoch (ex/s) | later epochs (ex/s, median) | later vs clean |")
    print("| --- | ---: | ---: | ---: |")
    for name in CONDITIONS:
        rate = statistics.median(later[name])
        print(f"| {name} | {first[name]:,.0f} | {rate:,.0f} | {rate / clean:.2f}x |")

if __name__ == "__main__":
    main()
