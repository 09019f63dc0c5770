"""How fast the command line answers when it has nothing to train: help and usage errors.

Each command runs in a fresh process (as a user types it), 5 times; the table gives the median
wall time and whether TensorFlow was imported. The target: under 1 s, without TensorFlow.

    python benchmarks/cli.py
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "rethinking --help": ["--help"],
    "rethinking train --help": ["train", "--help"],
    "rethinking run --help": ["run", "--help"],
    "rethinking kernel --help": ["kernel", "--help"],
    "train --labels bogus (click error)": ["train", "--labels", "bogus"],
    "train --corruption-prob 1.5 (config error)": ["train", "--labels", "partial", "--corruption-prob", "1.5"],
    "train --learning-rate inf": ["train", "--learning-rate", "inf"],
    "run missing.toml": ["run", "missing.toml"],
}
PROBE = ("import sys; from rethinking.cli import main; code = main({args!r}); "
         "print('TF' if 'tensorflow' in sys.modules else 'noTF', file=sys.stderr)")


def run_once(args: list[str]) -> tuple[float, bool]:
    """Wall seconds of one fresh process, and whether it imported TensorFlow."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    marker = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else ""
    if marker not in ("TF", "noTF"):
        raise RuntimeError(f"{args}: the probe did not finish: {out.stderr[-500:]}")
    return seconds, marker == "TF"


def main() -> None:
    print(f"# CLI answers without training; {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print()
    print("| command | median wall time (s, 5 runs) | TensorFlow imported |")
    print("| --- | ---: | --- |")
    for name, args in COMMANDS.items():
        results = [run_once(args) for _ in range(5)]
        seconds = statistics.median(r[0] for r in results)
        print(f"| `{name}` | {seconds:.2f} | {'yes' if any(r[1] for r in results) else 'no'} |")


if __name__ == "__main__":
    main()
