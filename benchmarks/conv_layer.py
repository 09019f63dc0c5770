"""One convolution layer, forward + backward (input and filter gradients), four implementations.

GFLOP/s of TensorFlow's native conv in graph mode and under XLA, and of im2col (extract_patches)
+ matmul in both modes (a 1x1 conv is a plain matmul). Kernel library per TF_ENABLE_ONEDNN_OPTS.

    TF_ENABLE_ONEDNN_OPTS=0 python benchmarks/conv_layer.py --size 14 --in 160 --out 80 --kernel 3
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--size", type=int, default=14, help="height = width of the input maps")
    parser.add_argument("--in", dest="c_in", type=int, default=160)
    parser.add_argument("--out", dest="c_out", type=int, default=80)
    parser.add_argument("--kernel", type=int, default=3)
    a = parser.parse_args()
    n, h, k = a.batch, a.size, a.kernel
    x = tf.Variable(tf.random.normal([n, h, h, a.c_in]))
    w = tf.Variable(tf.random.normal([k, k, a.c_in, a.c_out]) * 0.01)

    def native(x, w):
        return tf.nn.conv2d(x, w, 1, "SAME")

    def im2col(x, w):
        if k == 1:
            return tf.reshape(tf.reshape(x, [-1, a.c_in]) @ tf.reshape(w, [a.c_in, a.c_out]), [n, h, h, a.c_out])
        patches = tf.image.extract_patches(x, [1, k, k, 1], [1, 1, 1, 1], [1, 1, 1, 1], "SAME")
        flat = tf.reshape(patches, [-1, k * k * a.c_in]) @ tf.reshape(w, [k * k * a.c_in, a.c_out])
        return tf.reshape(flat, [n, h, h, a.c_out])

    macs = n * h * h * k * k * a.c_in * a.c_out
    print(f"# {k}x{k} conv {a.c_in}->{a.c_out} at {h}x{h}, batch {n}; oneDNN {os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'default')}")
    print("| implementation | GFLOP/s (fwd + bwd) |\n| --- | ---: |")
    for name, fn, jit in (("native", native, False), ("native, XLA", native, True),
                          ("im2col + matmul", im2col, False), ("im2col + matmul, XLA", im2col, True)):
        @tf.function(jit_compile=jit)
        def step(fn=fn):
            with tf.GradientTape() as tape:
                y = fn(x, w)
                loss = tf.reduce_sum(y * y)
            return tape.gradient(loss, [x, w])

        step()
        best = 0.0
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(5):
                grads = step()
            grads[0].numpy()
            # Forward, input gradient and filter gradient: 3 convolutions of 2 FLOPs per MAC.
            best = max(best, 5 * 3 * 2 * macs / (time.perf_counter() - start) / 1e9)
        print(f"| {name} | {best:.1f} |", flush=True)


if __name__ == "__main__":
    main()
