"""What ``rethinking measure`` costs, per group of measures, on finished runs.

Measures each RUN_DIR again (``--overwrite``: nothing is read back) and prints the seconds of each
group (norms, Jacobian, sharpness, flatness) and in total, from the ``seconds`` that
``measures.json`` records. Run it on the runs whose cost you want to know, e.g. the laptop
Figure 1a's half-width small Inception on 1,000 CIFAR-10 images:

    python benchmarks/measures.py tensorboard_logs/laptop-figure1a/*seed0*/ --examples 1000
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="+")
    parser.add_argument("--examples", type=int, default=2048)
    args = parser.parse_args()
    from rethinking import runtime  # noqa: PLC0415

    runtime.configure()
    from rethinking.measures.run import measure_run  # noqa: PLC0415

    print("| run | parameters | norms s | Jacobian s | sharpness s | flatness s | total s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for run_dir in args.run_dirs:
        record = measure_run(run_dir, examples=args.examples, overwrite=True)
        s = record["seconds"]
        print(f"| {record['run']} | {record['measures']['parameter_count']:,} | {s['norms']:.1f} | {s['jacobian']:.1f} | "
              f"{s['sharpness']:.1f} | {s['flatness']:.1f} | {record['seconds_total']:.1f} |")


if __name__ == "__main__":
    main()
