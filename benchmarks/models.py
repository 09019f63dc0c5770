"""Training throughput of the paper's models: our builders vs plain Keras vs hand-written PyTorch.

All in one run, so that a shared machine's drift hits every row alike. Per model, at batch 128 on
random 28x28x3 inputs, SGD with momentum 0.9:

* ``keras plain``: a straightforward Keras definition of the same network (written here, not our
  builder), ``compile()`` with its defaults (``jit_compile="auto"``, i.e. XLA) and ``model.fit``;
* ``rethinking``: our builder, in a process set up by ``rethinking.runtime.configure()`` (as every
  ``rethinking`` command is), compiled with the model's defaults
  (``rethinking.models.COMPILE_DEFAULTS``: XLA or not, steps per execution);
* ``pytorch``: the same network in PyTorch, best of eager NCHW, channels-last and ``torch.compile``
  (skipped if torch is not installed: ``pip install torch``).

Each measurement runs in a process of its own, since kernel-library settings are read when
TensorFlow is imported, and the contenders take turns for ``--rounds`` rounds (the best of each is
kept): on a shared virtual machine, throughput drifts by tens of percent within minutes.

It also prints the analytic training FLOPs per image, the achieved GFLOP/s, and that as a fraction
of this machine's float32 matmul peak measured in the same run (best of TensorFlow and NumPy). With
PyTorch and two or more rounds, a second table pairs ours with PyTorch's best variant round by round
(the two measured minutes apart) and gives the median ratio, which drift between rounds leaves alone.

    python benchmarks/models.py                       # all four models
    python benchmarks/models.py --models mlp_1x512 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

if __name__ == "__main__" and "rethinking" in sys.argv:  # the rethinking worker: our process settings first
    from rethinking import runtime

    runtime.configure()

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from rethinking.data.pipeline import without_autotune  # noqa: E402
from rethinking.models import COMPILE_DEFAULTS, MODELS  # noqa: E402
from rethinking.models.flops import training_flops  # noqa: E402

BATCH = 128
SHAPE = (28, 28, 3)
NUM_CLASSES = 10
# Steps timed per repeat: enough for about 5-10 s per measurement on 2 cores.
STEPS = {"mlp_1x512": 400, "mlp_3x512": 200, "alexnet_small": 30, "inception_small": 8}


# --------------------------------------------------------------------------- plain Keras references


def plain_keras(name: str) -> keras.Model:
    """The same networks as a user would write them in Keras, without our builders."""
    L = keras.layers
    inputs = keras.Input(SHAPE)
    if name.startswith("mlp"):
        x = L.Flatten()(inputs)
        for _ in range(int(name.split("_")[1][0])):
            x = L.Dense(512, activation="relu")(x)
    elif name == "alexnet_small":
        x = inputs
        for _ in range(2):
            x = L.Conv2D(64, 5, padding="same", activation="relu")(x)
            x = L.MaxPooling2D(3, 2, padding="same")(x)
            x = L.Lambda(lambda t: tf.nn.local_response_normalization(t, 4, 1.0, 0.001 / 9, 0.75))(x)
        x = L.Flatten()(x)
        x = L.Dense(384, activation="relu")(x)
        x = L.Dense(192, activation="relu")(x)
    else:
        def conv(t, f, k, s=1):
            t = L.Conv2D(f, k, strides=s, padding="same", use_bias=False)(t)
            return L.ReLU()(L.BatchNormalization(scale=False)(t))

        x = conv(inputs, 96, 3)
        for kind, f in (("i", (32, 32)), ("i", (32, 48)), ("d", 80), ("i", (112, 48)), ("i", (96, 64)),
                        ("i", (80, 80)), ("i", (48, 96)), ("d", 96), ("i", (176, 160)), ("i", (176, 160))):
            if kind == "i":
                x = L.Concatenate()([conv(x, f[0], 1), conv(x, f[1], 3)])
            else:
                x = L.Concatenate()([conv(x, f, 3, 2), L.MaxPooling2D(3, 2, padding="same")(x)])
        x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, L.Dense(NUM_CLASSES)(x))


class _StepClock(keras.callbacks.Callback):
    """Records (steps done, time) after every call of the train function."""

    def __init__(self) -> None:
        super().__init__()
        self.marks: list[tuple[int, float]] = []

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.marks.append((batch + 1, time.perf_counter()))


def keras_rate(model: keras.Model, steps: int, repeats: int, prepare=None, **compile_kwargs) -> float:
    """Best images/s of ``model.fit`` over ``repeats`` windows of ``steps`` batches of one fit call.

    Timed between train-function calls by a callback, so the end-of-``fit`` teardown is left out:
    deleting a tf.data iterator that autotunes can wait up to tens of seconds on tf.data's
    back-off (``rethinking.data.pipeline.without_autotune``), which would swamp an 8-step window.
    """
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), **compile_kwargs)
    rng = np.random.RandomState(0)
    x = rng.rand(BATCH * 4, *SHAPE).astype("float32")
    y = rng.randint(0, NUM_CLASSES, BATCH * 4)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH).cache().repeat().prefetch(8)
    if prepare is not None:  # e.g. the tf.data options rethinking gives model.fit
        data = prepare(data)
    spe = int(compile_kwargs.get("steps_per_execution", 1))
    warm = max(spe, steps // 4 // spe * spe)
    model.fit(data, steps_per_epoch=warm, epochs=1, verbose=0, shuffle=False)  # trace, compile, warm up
    clock = _StepClock()
    model.fit(data, steps_per_epoch=warm + repeats * steps, epochs=1, verbose=0, shuffle=False, callbacks=[clock])
    at = dict(clock.marks)  # steps done -> time; the first call of a fit warms up again: start after it
    edges = [at[warm + k * steps] for k in range(repeats + 1)]  # disjoint windows, like the torch loops
    return max(steps * BATCH / (b - a) for a, b in zip(edges, edges[1:]))


# --------------------------------------------------------------------------- PyTorch references


def torch_model(name: str):
    import torch.nn as nn  # noqa: PLC0415

    if name.startswith("mlp"):
        depth = int(name.split("_")[1][0])
        layers, width = [nn.Flatten()], 2352
        for _ in range(depth):
            layers += [nn.Linear(width, 512), nn.ReLU()]
            width = 512
        return nn.Sequential(*layers, nn.Linear(width, NUM_CLASSES))
    if name == "alexnet_small":
        block = lambda c: [nn.Conv2d(c, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2, padding=1),  # noqa: E731
                           nn.LocalResponseNorm(9, alpha=0.001, beta=0.75, k=1.0)]
        return nn.Sequential(*block(3), *block(64), nn.Flatten(), nn.Linear(3136, 384), nn.ReLU(),
                             nn.Linear(384, 192), nn.ReLU(), nn.Linear(192, NUM_CLASSES))
    import torch  # noqa: PLC0415

    def conv(c_in, c_out, k, s=1):
        return nn.Sequential(nn.Conv2d(c_in, c_out, k, s, padding=k // 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())

    class Inception(nn.Module):
        def __init__(self, c, a, b):
            super().__init__()
            self.one, self.three = conv(c, a, 1), conv(c, b, 3)

        def forward(self, x):
            return torch.cat([self.one(x), self.three(x)], 1)

    class Down(nn.Module):
        def __init__(self, c, f):
            super().__init__()
            self.conv, self.pool = conv(c, f, 3, 2), nn.MaxPool2d(3, 2, padding=1)

        def forward(self, x):
            return torch.cat([self.conv(x), self.pool(x)], 1)

    return nn.Sequential(conv(3, 96, 3), Inception(96, 32, 32), Inception(64, 32, 48), Down(80, 80),
                         Inception(160, 112, 48), Inception(160, 96, 64), Inception(160, 80, 80), Inception(160, 48, 96),
                         Down(144, 96), Inception(240, 176, 160), Inception(336, 176, 160),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(336, NUM_CLASSES))


def torch_rate(name: str, steps: int, repeats: int) -> tuple[float, str]:
    """Best images/s of a plain PyTorch training loop, over eager, channels-last and torch.compile."""
    import torch  # noqa: PLC0415

    torch.set_num_threads(os.cpu_count() or 1)
    results = {}
    for mode in ("eager", "channels_last", "compile"):
        model = torch_model(name)
        x = torch.rand(BATCH, SHAPE[2], SHAPE[0], SHAPE[1])
        y = torch.randint(0, NUM_CLASSES, (BATCH,))
        if mode == "channels_last" and not name.startswith("mlp"):
            model, x = model.to(memory_format=torch.channels_last), x.to(memory_format=torch.channels_last)
        elif mode == "channels_last":
            continue
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        loss_fn = torch.nn.CrossEntropyLoss()

        def step(model=model, optimizer=optimizer, loss_fn=loss_fn, x=x, y=y):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()

        if mode == "compile":
            try:
                step = torch.compile(step)
            except Exception as err:  # noqa: BLE001 (a benchmark reports and goes on)
                print(f"  torch.compile unavailable for {name}: {err}")
                continue
        try:
            for _ in range(3):
                step()
        except Exception as err:  # noqa: BLE001
            print(f"  torch {mode} failed for {name}: {type(err).__name__}: {err}")
            continue
        best = 0.0
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(steps):
                step()
            best = max(best, steps * BATCH / (time.perf_counter() - start))
        results[mode] = best
    mode = max(results, key=results.get)
    return results[mode], mode


# --------------------------------------------------------------------------- machine peak


def matmul_peak_gflops(n: int = 2048, repeats: int = 3) -> float:
    """Best float32 matmul GFLOP/s of TensorFlow on this machine."""
    a = tf.random.normal([n, n])
    matmul = tf.function(lambda u, v: tf.matmul(u, v))
    matmul(a, a).numpy()
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(10):
            out = matmul(a, a)
        out.numpy()
        best = max(best, 10 * 2 * n**3 / (time.perf_counter() - start) / 1e9)
    return best


def worker(kind: str, name: str, repeats: int) -> dict:
    """Measures one contender on one model in this process."""
    steps = STEPS[name]
    if kind == "keras":
        return {"rate": keras_rate(plain_keras(name), steps, repeats), "mode": "default compile"}
    if kind == "rethinking":
        settings = COMPILE_DEFAULTS[name]
        # Trained as ``rethinking train`` trains: its tf.data options (``pipeline.without_autotune``).
        rate = keras_rate(MODELS[name](SHAPE, NUM_CLASSES), steps, repeats, prepare=without_autotune, **settings)
        mode = ("XLA" if settings["jit_compile"] else "graph") + f", {settings['steps_per_execution']} steps/call"
        return {"rate": rate, "mode": mode + f", oneDNN {os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'default')}"}
    rate, mode = torch_rate(name, steps, repeats)
    return {"rate": rate, "mode": mode}


def measure(kind: str, name: str, repeats: int) -> dict:
    """Runs ``worker`` in a fresh process, so that each contender gets its own TensorFlow settings."""
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"} if kind == "rethinking" else dict(os.environ)
    out = subprocess.run([sys.executable, __file__, "--worker", kind, "--models", name, "--repeats", str(repeats)],
                         capture_output=True, text=True, env=env, check=False)
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {"rate": float("nan"), "mode": f"failed: {out.stderr.strip().splitlines()[-1:]}"}


def numpy_peak_gflops(n: int = 2048, repeats: int = 3) -> float:
    """Best float32 matmul GFLOP/s of NumPy's BLAS (often a faster GEMM than TensorFlow's)."""
    a = np.random.rand(n, n).astype(np.float32)
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(10):
            a @ a
        best = max(best, 10 * 2 * n**3 / (time.perf_counter() - start) / 1e9)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(STEPS), choices=list(STEPS))
    parser.add_argument("--repeats", type=int, default=2, help="timed epochs per measurement")
    parser.add_argument("--rounds", type=int, default=2, help="turns each contender takes (best kept; ratios paired by round)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch rows")
    parser.add_argument("--worker", choices=("keras", "rethinking", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.models[0], args.repeats)))
        return
    try:
        import torch  # noqa: PLC0415

        torch_version = None if args.no_torch else torch.__version__
    except ImportError:
        torch_version = None
    peak = max(matmul_peak_gflops(), numpy_peak_gflops())
    print(f"# Training throughput, batch {BATCH}, {SHAPE[0]}x{SHAPE[1]}x{SHAPE[2]} inputs, SGD momentum 0.9; "
          f"{platform.node()}, {os.cpu_count()} CPUs, TF {tf.__version__}, Keras {keras.__version__}"
          + (f", torch {torch_version}" if torch_version else "")
          + f"; float32 matmul peak {peak:.0f} GFLOP/s (best of TF and NumPy, 2048x2048)")
    print()
    print("| model | GFLOP/img (train) | keras plain (img/s) | pytorch best (img/s) | rethinking (img/s) | rethinking GFLOP/s | % of peak | vs best other |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    kinds = ["keras", "rethinking"] + (["torch"] if torch_version else [])
    paired: dict[str, list[float]] = {}
    for name in args.models:
        flops = training_flops(MODELS[name](SHAPE, NUM_CLASSES))
        best = {kind: {"rate": 0.0, "mode": "-"} for kind in kinds}
        for _ in range(args.rounds):
            measured = {kind: measure(kind, name, args.repeats) for kind in kinds}
            for kind, result in measured.items():
                if result["rate"] > best[kind]["rate"]:
                    best[kind] = result
            if torch_version:  # ours and PyTorch's best variant, measured minutes apart in one round
                paired.setdefault(name, []).append(measured["rethinking"]["rate"] / measured["torch"]["rate"])
        plain, ours = best["keras"]["rate"], best["rethinking"]
        best_torch = best.get("torch", {"rate": float("nan"), "mode": "-"})
        other = max(plain, best_torch["rate"] if torch_version else 0.0)
        gflops = ours["rate"] * flops / 1e9
        print(f"| {name} | {flops / 1e9:.3f} | {plain:,.0f} | {best_torch['rate']:,.0f} ({best_torch['mode']}) | "
              f"{ours['rate']:,.0f} ({ours['mode']}) | {gflops:.1f} | {100 * gflops / peak:.0f}% | "
              f"{ours['rate'] / other:.2f}x |", flush=True)
    if paired and args.rounds > 1:
        print_paired(paired)


def print_paired(paired: dict[str, list[float]]) -> None:
    """Ours / best PyTorch variant round by round, and the median: a ratio the VM's drift between rounds leaves alone."""
    print()
    print("| model | ours / best PyTorch, round by round | median |")
    print("| --- | --- | ---: |")
    for name, ratios in paired.items():
        print(f"| {name} | {', '.join(f'{r:.2f}' for r in ratios)} | {statistics.median(ratios):.2f}x |")


if __name__ == "__main__":
    main()
