"""Experiments: pipeline files and sweeps (``run``), the reproduction report (``report``), and
hyperparameter search (``tune``).

    from rethinking.experiments import load_pipeline, run_pipeline, write_report
    pipeline = load_pipeline("pipelines/laptop/figure1a.toml")
    rows, folder = run_pipeline(pipeline)
    write_report(folder / "results.json")
"""

from rethinking.experiments.report import REPORTS, load_table, write_report
from rethinking.experiments.runner import DONE_STATUSES, plan, run_pipeline
from rethinking.experiments.sweep import Pipeline, PlannedRun, expand, load_pipeline, parse_assignment, parse_pipeline
from rethinking.experiments.tuning import TuneSpec, pipeline_toml, tune

__all__ = [
    "DONE_STATUSES", "REPORTS", "Pipeline", "PlannedRun", "TuneSpec", "expand", "load_pipeline", "load_table",
    "parse_assignment", "parse_pipeline", "pipeline_toml", "plan", "run_pipeline", "tune", "write_report",
]
