"""Where an MLP training step spends its time: TensorFlow under XLA against PyTorch eager.

The paper's 1x512 MLP at batch 128 (2,352 inputs, 512 hidden units, 10 classes), SGD with momentum
0.9, split into the parts a step is made of, each timed in a loop of ``STEPS`` dependent repeats
(every repeat reads the previous one's result, so XLA cannot hoist or drop work):

* ``forward GEMM``: the first layer's ``x @ W`` (128 x 2352 by 2352 x 512);
* ``weight-gradient GEMM``: ``x^T @ dY`` (2352 x 128 by 128 x 512), the first layer's dW;
* ``momentum update``: Keras' SGD formula (``m = 0.9 m - lr g; w += m``) on the 1.2 M weights;
* ``whole step``: forward, loss, gradients and update, written by hand (TensorFlow: one XLA
  function, as ``rethinking train`` compiles the MLPs; PyTorch: the usual eager loop);
* ``model.fit`` (TensorFlow only): our builder trained as ``benchmarks/models.py`` trains it.

Each framework runs in a process of its own (their thread pools would otherwise compete), and the
two take turns for ``--rounds`` rounds, best kept.

    python benchmarks/mlp_step.py --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BATCH, INPUTS, HIDDEN, CLASSES = 128, 2352, 512, 10
STEPS = 20  # dependent repeats per timed call
CALLS = 10  # timed calls per measurement
PARTS = ("forward GEMM", "weight-gradient GEMM", "momentum update", "whole step", "model.fit")
GEMM_FLOPS = 2 * BATCH * INPUTS * HIDDEN  # one of the two GEMMs, in floating-point operations


def best_ms(run, calls: int = CALLS, repeats: int = 3) -> float:
    """Best milliseconds per repeat of ``run`` (which performs ``STEPS`` repeats per call)."""
    run()  # trace, compile, warm up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            run()
        best = min(best, (time.perf_counter() - start) / (calls * STEPS))
    return 1e3 * best


def tensorflow_parts() -> dict[str, float]:
    """Milliseconds per repeat of each part, TensorFlow under XLA, in a ``rethinking`` process."""
    from rethinking import runtime  # noqa: PLC0415

    runtime.configure()
    import numpy as np  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415

    rng = np.random.default_rng(0)
    x = tf.constant(rng.random((BATCH, INPUTS), dtype=np.float32))
    dy = tf.constant(rng.random((BATCH, HIDDEN), dtype=np.float32))
    y = tf.constant(rng.integers(0, CLASSES, BATCH))
    w1 = tf.Variable(rng.standard_normal((INPUTS, HIDDEN), dtype=np.float32) * 0.02)
    b1, w2, b2 = tf.Variable(tf.zeros([HIDDEN])), tf.Variable(tf.zeros([HIDDEN, CLASSES])), tf.Variable(tf.zeros([CLASSES]))
    params = (w1, b1, w2, b2)
    moments = tuple(tf.Variable(tf.zeros_like(p)) for p in params)
    grad = tf.constant(rng.standard_normal((INPUTS, HIDDEN), dtype=np.float32))

    @tf.function(jit_compile=True)
    def forward(x):
        for _ in tf.range(STEPS):
            x = x + (x @ w1)[:, :1] * 1e-30  # the next repeat depends on this product
        return x[0, 0]

    @tf.function(jit_compile=True)
    def weight_gradient(dy):
        for _ in tf.range(STEPS):
            dy = dy + tf.linalg.matmul(x, dy, transpose_a=True)[:BATCH] * 1e-30
        return dy[0, 0]

    def momentum(param, moment, g):  # Keras 3 SGD with momentum, non-Nesterov
        moment.assign(0.9 * moment - 0.01 * g)
        param.assign_add(moment)

    @tf.function(jit_compile=True)
    def update():
        for _ in tf.range(STEPS):
            momentum(w1, moments[0], grad)
        return w1[0, 0]

    @tf.function(jit_compile=True)
    def step():
        loss = tf.constant(0.0)
        for _ in tf.range(STEPS):
            with tf.GradientTape() as tape:
                logits = tf.nn.relu(x @ w1 + b1) @ w2 + b2
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
            for p, m, g in zip(params, moments, tape.gradient(loss, params)):
                momentum(p, m, g)
        return loss

    parts = {
        "forward GEMM": best_ms(lambda: forward(x).numpy()),
        "weight-gradient GEMM": best_ms(lambda: weight_gradient(dy).numpy()),
        "momentum update": best_ms(lambda: update().numpy()),
        "whole step": best_ms(lambda: step().numpy()),
    }
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import models as bench  # noqa: PLC0415  (benchmarks/models.py: the same fit measurement)

    from rethinking.data.pipeline import without_autotune  # noqa: PLC0415
    from rethinking.models import COMPILE_DEFAULTS, MODELS  # noqa: PLC0415

    model = MODELS["mlp_1x512"]((28, 28, 3), CLASSES)
    rate = bench.keras_rate(model, 400, 2, prepare=without_autotune, **COMPILE_DEFAULTS["mlp_1x512"])
    parts["model.fit"] = 1e3 * BATCH / rate
    return parts


def torch_parts() -> dict[str, float]:
    """Milliseconds per repeat of each part in PyTorch eager (its usual training loop)."""
    import torch  # noqa: PLC0415

    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(0)
    x, dy = torch.rand(BATCH, INPUTS), torch.rand(BATCH, HIDDEN)
    y = torch.randint(0, CLASSES, (BATCH,))
    weight = torch.randn(INPUTS, HIDDEN) * 0.02

    def forward():
        h = x
        for _ in range(STEPS):
            h = h + (h @ weight)[:, :1] * 1e-30

    def weight_gradient():
        d = dy
        for _ in range(STEPS):
            d = d + (x.T @ d)[:BATCH] * 1e-30

    model = torch.nn.Sequential(torch.nn.Linear(INPUTS, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, CLASSES))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    first = model[0].weight
    single = torch.optim.SGD([first], lr=0.01, momentum=0.9)

    def update():
        first.grad = torch.randn_like(first) if first.grad is None else first.grad
        for _ in range(STEPS):
            single.step()

    def step():
        for _ in range(STEPS):
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()
            optimizer.step()

    with torch.no_grad():
        parts = {"forward GEMM": best_ms(forward), "weight-gradient GEMM": best_ms(weight_gradient),
                 "momentum update": best_ms(update)}
    parts["whole step"] = best_ms(step)
    return parts


def measure(framework: str) -> dict[str, float]:
    """Runs one framework's parts in a fresh process."""
    out = subprocess.run([sys.executable, __file__, "--worker", framework], capture_output=True, text=True, check=False)
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise SystemExit(f"{framework} worker failed: {out.stderr.strip().splitlines()[-1:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="turns each framework takes (best kept)")
    parser.add_argument("--worker", choices=("tensorflow", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(tensorflow_parts() if args.worker == "tensorflow" else torch_parts()))
        return
    best: dict[str, dict[str, float]] = {"tensorflow": {}, "torch": {}}
    for _ in range(args.rounds):
        for framework in best:
            for part, ms in measure(framework).items():
                best[framework][part] = min(ms, best[framework].get(part, float("inf")))
    print(f"# MLP 1x512 training step at batch {BATCH}, ms per step (best of {args.rounds} rounds), {os.cpu_count()} CPUs")
    print()
    print("| part | TensorFlow, XLA (ms) | PyTorch eager (ms) | PyTorch / TensorFlow | TF GFLOP/s | PyTorch GFLOP/s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for part in PARTS:
        tf_ms, torch_ms = best["tensorflow"].get(part), best["torch"].get(part)
        gemm = "GEMM" in part
        cells = [f"{tf_ms:.3f}", f"{torch_ms:.3f}" if torch_ms else "-", f"{torch_ms / tf_ms:.2f}x" if torch_ms else "-",
                 f"{GEMM_FLOPS / tf_ms / 1e6:.0f}" if gemm else "-",
                 f"{GEMM_FLOPS / torch_ms / 1e6:.0f}" if gemm and torch_ms else "-"]
        print(f"| {part} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
