"""How long a command takes to start: TensorFlow imported and the embedded digits loaded.

Two ways, each in a fresh process, taking turns (this VM's timings drift): as the commands do
(``import_tensorflow_quietly``: Keras' optional imports of scikit-learn, Matplotlib and IPython
skipped; the digits read from scikit-learn's data file) and the plain way (``import tensorflow``,
then scikit-learn's ``load_digits``). The table gives the median wall time and the median CPU time
of the process (user + system).

    python benchmarks/startup.py --rounds 5
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import subprocess
import sys
import time

PROBES = {
    "as a command does": ("from rethinking import runtime; runtime.configure(); "
                          "from rethinking.cli.base import import_tensorflow_quietly; import_tensorflow_quietly(); "
                          "from rethinking.data.datasets import digits_arrays; digits_arrays()"),
    "plain import": ("from rethinking import runtime; runtime.configure(); import tensorflow; "
                     "from sklearn.datasets import load_digits; load_digits()"),
}


def run_once(code: str) -> tuple[float, float]:
    """Wall and CPU seconds of one fresh process running ``code``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-1000:])
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in PROBES}
    for _ in range(args.rounds):
        for name, code in PROBES.items():  # alternating
            times[name].append(run_once(code))
    print(f"{platform.node()} ({platform.processor() or platform.machine()}), Python {platform.python_version()}, "
          f"{args.rounds} rounds, alternating\n")
    print("| start-up | median wall (s) | median CPU (s) |")
    print("| --- | ---: | ---: |")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(w for w, _ in values):.2f} | {statistics.median(c for _, c in values):.2f} |")


if __name__ == "__main__":
    main()
