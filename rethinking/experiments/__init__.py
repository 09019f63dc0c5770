"""Experiments: the sweep machinery: sweep files and sweeps (``run``), local workers and
hyperparameter search (``tune``). The reports on a sweep's results are ``rethinking.reports``.

    from rethinking.experiments import load_sweep, run_sweep
    from rethinking.reports import write_report
    sweep = load_sweep("laptop/figure1a")          # a shipped sweep by name, or a path
    rows, folder = run_sweep(sweep)
    write_report(folder / "results.json")
"""

from rethinking.experiments.runner import DONE_STATUSES, plan, run_sweep
from rethinking.experiments.sweep import Sweep, PlannedRun, expand, load_sweep, parse_assignment, parse_sweep
from rethinking.experiments.tuning import TuneSpec, sweep_toml, tune

__all__ = [
    "DONE_STATUSES", "Sweep", "PlannedRun", "TuneSpec", "expand", "load_sweep",
    "parse_assignment", "parse_sweep", "sweep_toml", "plan", "run_sweep", "tune",
]
