"""Experiments: sweep files and sweeps (``run``), the reproduction report (``report``), and
hyperparameter search (``tune``).

    from rethinking.experiments import load_sweep, run_sweep, write_report
    sweep = load_sweep("laptop/figure1a")          # a shipped sweep by name, or a path
    rows, folder = run_sweep(sweep)
    write_report(folder / "results.json")
"""

from rethinking.experiments.report import REPORTS, load_table, write_report
from rethinking.experiments.runner import DONE_STATUSES, plan, run_sweep
from rethinking.experiments.sweep import Sweep, PlannedRun, expand, load_sweep, parse_assignment, parse_sweep
from rethinking.experiments.tuning import TuneSpec, sweep_toml, tune

__all__ = [
    "DONE_STATUSES", "REPORTS", "Sweep", "PlannedRun", "TuneSpec", "expand", "load_sweep", "load_table",
    "parse_assignment", "parse_sweep", "sweep_toml", "plan", "run_sweep", "tune", "write_report",
]
