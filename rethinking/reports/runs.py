"""Runs outside a sweep: list the run folders under a log folder, and compare runs side by side.

``list_runs(root)`` finds every run folder (a folder with a ``config.json``) under ``root`` and
describes it: where it is, its state (finished, fitted, running, unfinished, failed, ...), its key
settings and its results. ``compare_runs(folders)`` gives the settings on which the runs differ
and their results. Plain Python, no TensorFlow: it reads the files ``rethinking train`` writes.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rethinking.training.rundir import CONFIG_FILE, METRICS_FILE, RESULTS_FILE  # no TensorFlow

# What a listing shows of each run: its settings (by flag name), then its results.
KEY_SETTINGS = ("model", "labels", "corruption_prob", "pixels", "seed")
RESULT_KEYS = ("epochs_trained", "train_accuracy", "test_accuracy", "best_test_accuracy", "fit_epoch", "fit_step",
               "wall_seconds")
# The sweep runner's record of a run that raised before writing results (experiments/runner.py).
ERROR_FILE = "error.txt"


def find_runs(root: str | os.PathLike) -> list[Path]:
    """Every run folder under ``root`` (``root`` itself if it is one), sorted; a distributed
    run's worker folders are not runs of their own."""
    root = Path(root)
    if (root / CONFIG_FILE).is_file():
        return [root]
    return sorted(path.parent for path in root.rglob(CONFIG_FILE) if "workers" not in path.relative_to(root).parts)


def settings_of(folder: str | os.PathLike) -> dict[str, Any]:
    """The run's options by flag name (``learning_rate``, ``labels``, ...), from its config.json.

    Raises:
        ValueError: the folder holds no readable run config.
    """
    from rethinking.config import RunConfig  # noqa: PLC0415 (plain Python)
    from rethinking.config.options import option_values  # noqa: PLC0415

    path = Path(folder) / CONFIG_FILE
    try:
        record = json.loads(path.read_text())
        config = RunConfig.from_dict({k: v for k, v in record.items() if not k.endswith("_sha256")})
    except (OSError, ValueError, TypeError) as err:
        raise ValueError(f"{path} is not a readable run config ({err}).") from None
    values = {name: value for name, (spec, value) in option_values(config).items() if spec.option.hparam}
    values["corruption_prob"] = config.data.corruption.resolved_corruption_prob
    return values


def _last_metrics(folder: Path) -> dict[str, float]:
    """The last row of a run's metrics.csv as numbers ({} without one).

    Raises:
        ValueError: the file exists but is not a metrics table (naming it).
    """
    path = folder / METRICS_FILE
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        last = rows[-1] if rows else {}
        return {k: float(v) for k, v in last.items() if k in ("epoch", *_PARTIAL_KEYS) and v not in (None, "")}
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, csv.Error, ValueError, TypeError) as err:
        raise ValueError(f"{path} is not a readable metrics table ({err}).") from None


_PARTIAL_KEYS = ("train_accuracy", "test_accuracy", "best_test_accuracy")


def state_of(folder: str | os.PathLike) -> tuple[str, dict[str, Any]]:
    """``(status, results)`` of a run folder.

    Status: results.json's (``finished``, ``fitted``, ``diverged``, ``failed``, ``interrupted``)
    unless a live process holds the run's lock (``running``); without results.json ``running``,
    ``failed`` (an ``error.txt``) or ``unfinished`` (killed: a rerun resumes it). The results of a
    run without results.json are its last row of metrics.csv (epochs so far, accuracies).
    """
    from rethinking.training.runlock import LOCK_FILE, is_stale, read_holder  # noqa: PLC0415 (no TensorFlow)

    folder = Path(folder)
    try:
        results = json.loads((folder / RESULTS_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        results = None
    except (OSError, ValueError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ValueError(f"{folder / RESULTS_FILE} is not readable JSON ({err}).") from None
    if results is not None and not isinstance(results, dict):
        raise ValueError(f"{folder / RESULTS_FILE} does not hold a JSON object.")
    holder = read_holder(folder / LOCK_FILE)
    live = holder is not None and not is_stale(holder)
    if results is not None:
        return ("running" if live and results.get("status") not in ("finished", "fitted", "diverged") else
                results.get("status", "unknown")), results
    last = _last_metrics(folder)
    partial: dict[str, Any] = {}
    if last:
        partial = {"epochs_trained": int(last.get("epoch", 0)), **{k: last[k] for k in _PARTIAL_KEYS if k in last}}
    status = "running" if live else "failed" if (folder / ERROR_FILE).is_file() else "unfinished"
    return status, partial


def describe_run(folder: str | os.PathLike, root: str | os.PathLike | None = None) -> dict[str, Any]:
    """One row of a listing: ``run`` (the folder, relative to ``root``), ``status``, every setting
    (by flag name) and the results of ``RESULT_KEYS``."""
    folder = Path(folder)
    status, results = state_of(folder)
    return {"run": os.path.relpath(folder, root) if root is not None else str(folder), "status": status,
            **settings_of(folder), **{key: results.get(key) for key in RESULT_KEYS}}


def list_runs(root: str | os.PathLike) -> list[dict[str, Any]]:
    """Every run under ``root``, described (``describe_run``); unreadable folders are skipped with
    ``status`` ``unreadable``.

    Raises:
        ValueError: ``root`` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root} is not a folder: give the --log-dir of your runs (default tensorboard_logs).")
    rows = []
    for folder in find_runs(root):
        try:
            rows.append(describe_run(folder, root))
        except ValueError as err:  # the reason names the file (``rundir.read_json``, ``config_of_run``)
            rows.append({"run": os.path.relpath(folder, root), "status": "unreadable", "error": str(err)})
    return rows


def differing(rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> list[str]:
    """The keys whose values are not all equal over ``rows``."""
    return [key for key in keys if len({json.dumps(row.get(key), sort_keys=True) for row in rows}) > 1]


def compare_runs(folders: Sequence[str | os.PathLike]) -> tuple[list[str], list[dict[str, Any]]]:
    """The settings on which runs differ, and each run's row (``describe_run``).

    Raises:
        ValueError: fewer than two runs, or a folder that is not a run.
    """
    if len(folders) < 2:
        raise ValueError("compare takes two or more run folders (rethinking runs lists them).")
    rows = [describe_run(folder) for folder in folders]
    settings = [key for key in rows[0] if key not in ("run", "status", *RESULT_KEYS)]
    return differing(rows, settings), rows
