"""On a GPU: how many images per second each model needs fed, and whether the input pipeline keeps up.

For each model the table gives the images/s an accelerator would train it at (its training FLOPs per
image, 6 x the forward multiply-accumulates, against ``--tflops`` of sustained float32/TF32
throughput: default 62, i.e. 40% of an A100's 156 TFLOP/s TF32 peak, our assumption), the
images/s measured on this machine's device (``rethinking``'s builder and compile defaults, synthetic
batches already in memory, so the pipeline is not in it), and the input pipeline's images/s per CPU
core measured here (``DataPipeline`` on random CIFAR-size data, centre crop and with random crop,
one epoch after the first, with ``--pipeline-threads`` threads). The last columns: the CPU cores a
worker needs to feed its device at the needed rate.

On a GPU machine run it as is: the "measured here" column becomes that GPU's.

    python benchmarks/gpu.py
    python benchmarks/gpu.py --tflops 200 --models inception_small preact_resnet18
"""

from __future__ import annotations

import argparse
import math
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

INPUTS = {"inception_small": (28, 28, 3), "alexnet_small": (28, 28, 3), "mlp_1x512": (28, 28, 3),
          "mlp_3x512": (28, 28, 3), "preact_resnet18": (32, 32, 3), "wide_resnet28": (32, 32, 3)}


def device_rate(name: str, batch: int, steps: int) -> float:
    """Training images/s of the model on this process's device (synthetic batches in memory)."""
    import keras  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415

    from rethinking.models import COMPILE_DEFAULTS, MODELS  # noqa: PLC0415

    model = MODELS[name](INPUTS[name], 10)
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  **COMPILE_DEFAULTS[name])
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal((batch, *INPUTS[name])).astype("float32"))
    y = tf.constant(rng.integers(0, 10, batch))
    data = tf.data.Dataset.from_tensors((x, y)).repeat()
    model.fit(data, steps_per_epoch=max(2, steps // 4), epochs=1, verbose=0, shuffle=False)  # compile
    start = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    return batch * steps / (time.perf_counter() - start)


def pipeline_rate(random_crop: bool, n: int, threads: int) -> float:
    """Images/s per thread of ``DataPipeline.train`` on random uint8 CIFAR-size data (second epoch)."""
    import tempfile  # noqa: PLC0415

    import numpy as np  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415

    from rethinking.data import DataConfig, Preprocessing, build_pipeline  # noqa: PLC0415

    tf.config.threading.set_inter_op_parallelism_threads(threads)
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "data.npz")
        rng = np.random.default_rng(0)
        np.savez(path, x_train=rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), y_train=rng.integers(0, 10, n),
                 x_test=rng.integers(0, 256, (100, 32, 32, 3), dtype=np.uint8), y_test=rng.integers(0, 10, 100))
        pipeline = build_pipeline(DataConfig(dataset=path, preprocessing=Preprocessing(random_crop=random_crop)), 128)
        for _ in pipeline.train(0):
            pass
        start = time.perf_counter()
        for _ in pipeline.train(1):
            pass
        return n / (time.perf_counter() - start) / threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(INPUTS))
    parser.add_argument("--tflops", type=float, default=62.0, help="sustained TFLOP/s of the accelerator (default: 40%% of an A100's TF32 peak)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--pipeline-examples", type=int, default=20_000)
    parser.add_argument("--pipeline-threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    from rethinking import runtime  # noqa: PLC0415

    runtime.configure()
    import tensorflow as tf  # noqa: PLC0415

    from rethinking.models import MODELS  # noqa: PLC0415
    from rethinking.models.flops import forward_macs  # noqa: PLC0415

    device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    centre = pipeline_rate(False, args.pipeline_examples, args.pipeline_threads)
    crop = pipeline_rate(True, args.pipeline_examples, args.pipeline_threads)
    print(f"# {device}; needed rate at {args.tflops:g} TFLOP/s sustained; pipeline per core: {centre:,.0f} images/s "
          f"(centre crop), {crop:,.0f} (random crop), measured with {args.pipeline_threads} threads")
    print("| model | training GFLOP / image | needed images/s | steps/s at batch 128 | measured here (images/s) "
          "| cores to feed it, centre crop | random crop |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in args.models:
        flops = 6 * forward_macs(MODELS[name](INPUTS[name], 10))
        needed = args.tflops * 1e12 / flops
        measured = device_rate(name, args.batch, args.steps)
        print(f"| {name} | {flops / 1e9:.3f} | {needed:,.0f} | {needed / args.batch:,.0f} | {measured:,.0f} | "
              f"{math.ceil(needed / centre)} | {math.ceil(needed / crop)} |", flush=True)


if __name__ == "__main__":
    main()
