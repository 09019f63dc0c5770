"""Pixel work on the host or on the device (``--pixel-ops``): what each placement asks of a CPU core.

For random CIFAR-size data (uint8 32x32x3, the network sees 28x28) with the centre crop and with the
random crop + flip, per thread of the input pipeline (second epoch, cached, batch 128):

* ``host``: images/s of ``DataPipeline.train`` (crop, flip, permutation and standardization in
  tf.data), what a CPU core feeds with ``--pixel-ops host``;
* ``device, host part``: images/s of the raw batches (``DataPipeline.raw().train``: shuffle, batch,
  the per-example crop corners and flips), what a CPU core feeds with ``--pixel-ops device``;
* ``device part here``: images/s of the pixel work itself (``DevicePixels.images`` in a graph, as the
  engine runs it) on this machine's device on batches already in memory: on a GPU machine, the GPU's.

Rounds alternate the placements (``--rounds``); the table gives the median of the rounds.

    python benchmarks/pixel_ops.py
    python benchmarks/pixel_ops.py --examples 50000 --threads 1 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _data(folder: str, n: int) -> str:
    import numpy as np  # noqa: PLC0415

    path = os.path.join(folder, "data.npz")
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), y_train=rng.integers(0, 10, n),
             x_test=rng.integers(0, 256, (100, 32, 32, 3), dtype=np.uint8), y_test=rng.integers(0, 10, 100))
    return path


def _rate(dataset, n: int, threads: int) -> float:
    import tensorflow as tf  # noqa: PLC0415

    options = tf.data.Options()
    options.threading.private_threadpool_size = threads  # per core: the pipeline's own threads too
    dataset = dataset.with_options(options)
    start = time.perf_counter()
    for _ in dataset:
        pass
    return n / (time.perf_counter() - start)


def measure(path: str, n: int, augment: bool, rounds: int, threads: int) -> dict[str, float]:
    """Median images/s of the host pipeline, the raw pipeline and the device-side pixel work."""
    import tensorflow as tf  # noqa: PLC0415

    from rethinking.data import DataConfig, Preprocessing, build_pipeline  # noqa: PLC0415
    from rethinking.data.device_pixels import pixel_inputs  # noqa: PLC0415

    prep = Preprocessing(random_crop=augment, flip=augment)
    host = build_pipeline(DataConfig(dataset=path, preprocessing=prep), 128)
    raw = host.raw()
    for ds in (host.train(0), raw.train(0)):  # fill the caches
        for _ in ds:
            pass
    work = tf.function(raw.device_pixels().images)  # as the engine runs it: outside XLA
    batches = [pixel_inputs(b) for b in raw.train(1)]
    work(batches[0])  # compile (and once for the last, smaller batch)
    work(batches[-1])
    rates: dict[str, list[float]] = {"host": [], "device, host part": [], "device part here": []}
    for epoch in range(1, rounds + 1):
        rates["host"].append(_rate(host.train(epoch), n, threads))
        rates["device, host part"].append(_rate(raw.train(epoch), n, threads))
        start = time.perf_counter()
        for b in batches:
            work(b).numpy()
        rates["device part here"].append(n / (time.perf_counter() - start))
    return {k: statistics.median(v) for k, v in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=1, help="threads of TensorFlow (rates are per thread)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from rethinking import runtime  # noqa: PLC0415

    runtime.configure()
    import tensorflow as tf  # noqa: PLC0415

    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    print(f"# {args.examples:,} random 32x32x3 uint8 images, batch 128, {args.threads} thread(s), device {device}; "
          f"images/s per thread, median of {args.rounds} rounds")
    print("| augmentation | host (tf.data does the pixel work) | device: host part | device: the pixel work here |")
    print("| --- | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as folder:
        path = _data(folder, args.examples)
        for augment in (False, True):
            r = measure(path, args.examples, augment, args.rounds, args.threads)
            t = args.threads
            print(f"| {'random crop + flip' if augment else 'centre crop'} | {r['host'] / t:,.0f} | "
                  f"{r['device, host part'] / t:,.0f} | {r['device part here'] / t:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
