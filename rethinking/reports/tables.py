"""A sweep's results table and its runs, as every report reads them.

``load_table`` reads the ``results.json`` (or ``results.csv``) that ``rethinking run`` wrote; the
helpers below name a run's data condition, model and regularizers, group runs that differ by seed
only, read each run's per-epoch ``metrics.csv``, and give the paper's published numbers
(``paper.toml``, stored once) for a report.
"""

from __future__ import annotations

import csv
import functools
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rethinking.config.run import MODEL_SWITCHES
from rethinking.reports.registry import REPORT_NAMES
from rethinking.training.rundir import COMPLETE_STATUSES

CONDITION_ORDER = ("true labels", "random labels", "shuffled pixels", "random pixels", "gaussian")
PAPER_FILE = Path(__file__).with_name("paper.toml")


def load_table(path: str | Path) -> dict[str, Any]:
    """Reads a sweep table: the ``results.json`` written by ``rethinking run``, or its ``results.csv``.

    Accepts either file or the folder holding them (results.json first). A results.csv alone
    (e.g. committed without its JSON twin) gives the same rows; its reports and the paper's numbers
    are those of the shipped sweep of the same name (the folder's name), else every report.

    Raises:
        ValueError: missing, unreadable or not a sweep table.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "results.json" if (path / "results.json").is_file() or not (path / "results.csv").is_file() \
            else path / "results.csv"
    if not path.is_file():
        raise ValueError(f"No results table {path}: pass the results.json that 'rethinking run' wrote "
                         "(tensorboard_logs/<sweep>/results.json).")
    if path.suffix == ".csv":
        table = _table_from_csv(path)
    else:
        try:
            table = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{path} is not valid JSON: {err}.") from err
    if not isinstance(table, dict) or not isinstance(table.get("runs"), list) or "sweep" not in table:
        raise ValueError(f"{path} is not a sweep results table (no 'sweep' and 'runs'): pass the results.json "
                         "that 'rethinking run' wrote.")
    for number, row in enumerate(table["runs"], 1):
        problem = _row_problem(row)
        if problem:
            raise ValueError(f"{path}: row {number} of 'runs' is not a run's row ({problem}); rebuild the table with "
                             "'rethinking run SWEEP' (it rewrites it from the run folders).")
    table["_path"] = str(path)
    for row in table["runs"]:
        if isinstance(row.get("run_dir"), str):
            row["run_dir"] = str(_run_folder(path.parent, row["run_dir"]))
    return table


def _row_problem(row: Any) -> str | None:
    """What makes ``row`` unusable as a row of a results table, else None."""
    if not isinstance(row, dict):
        return f"{type(row).__name__} {row!r}, not an object"
    for key in ("run", "status"):
        if not isinstance(row.get(key), str) or not row[key]:
            return f"its {key!r} is {row.get(key)!r}, not a name" if key in row else f"no {key!r}"
    if row.get("run_dir") is not None and not isinstance(row["run_dir"], str):
        return f"its 'run_dir' is {row['run_dir']!r}, not a folder"
    return None


def _run_folder(table_folder: Path, stored: str) -> Path:
    """A run's folder: relative to the table's (today's tables), else as stored (absolute, or
    relative to where an older table was written), else beside the table under the same name."""
    for candidate in (table_folder / stored, Path(stored), table_folder / Path(stored).name):
        if candidate.is_dir():
            return candidate
    return table_folder / stored


def _csv_value(text: str) -> Any:
    """A results.csv cell as the JSON table holds it: None, bool, int, float or text."""
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _table_from_csv(path: Path) -> dict[str, Any]:
    """A results.csv as a table; its sweep facts from the shipped sweep named like its folder."""
    from rethinking.experiments.sweep import load_sweep, shipped_sweeps  # noqa: PLC0415

    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = [{k: _csv_value(v or "") for k, v in row.items()} for row in csv.DictReader(f)]
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"{path} is not a readable CSV table: {err}.") from err
    if not rows or "run" not in rows[0] or "status" not in rows[0]:
        raise ValueError(f"{path} is not a sweep results table (no 'run' and 'status' columns): pass the "
                         "results.csv or results.json that 'rethinking run' wrote.")
    name = path.parent.name
    sweeps = [load_sweep(p) for p in shipped_sweeps().values()]
    sweep = next((s for s in sweeps if s.name == name), None)
    return {"sweep": name, "description": sweep.description if sweep else "",
            "source": sweep.path if sweep else str(path), "reports": list(sweep.reports) if sweep else list(REPORT_NAMES),
            "paper": dict(sweep.paper) if sweep else {}, "updated": "(results.csv)", "runs": rows}


def read_metrics(run_dir: str | Path | None) -> list[dict[str, float]]:
    """A run's metrics.csv as rows of floats ([] if it has none).

    Read once per file version (path, size, modification time): a report asks for the same run's
    metrics from several figures and filters.
    """
    path = Path(run_dir) / "metrics.csv" if run_dir else None
    if path is None or not path.is_file():
        return []
    stat = path.stat()
    return list(_metrics_file(str(path), stat.st_size, stat.st_mtime_ns))


@functools.lru_cache(maxsize=512)
def _metrics_file(path: str, size: int, mtime_ns: int) -> tuple[dict[str, float], ...]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return tuple({k: _float(v) for k, v in row.items()} for row in csv.DictReader(f))
    except (UnicodeDecodeError, csv.Error, ValueError, TypeError) as err:
        raise ValueError(f"{path} is not a readable metrics table ({err}); rerun the run's command to rewrite "
                         "it from its checkpoint.") from None


def test_size(row: Mapping[str, Any]) -> int | None:
    """The number of test examples a run was evaluated on: the table's ``test_size``, else its
    results.json's (None when neither says)."""
    if isinstance(row.get("test_size"), int):
        return row["test_size"]
    size = (read_run_json(row, "results.json") or {}).get("test_size")
    return size if isinstance(size, int) else None


def read_run_json(row: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    """The JSON file ``name`` of a row's run folder (None: no folder, no file, or unreadable)."""
    path = Path(row["run_dir"]) / name if row.get("run_dir") else None
    if path is None or not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None
    return value if isinstance(value, dict) else None


def read_test_correct(run_dir: str | Path | None) -> dict[int, bool] | None:
    """A run's test_examples.csv as ``{test example index: classified correctly}`` (None: no file)."""
    path = Path(run_dir) / "test_examples.csv" if run_dir else None
    if path is None or not path.is_file():
        return None
    try:
        with path.open(newline="", encoding="utf-8") as f:
            return {int(r["index"]): r["correct"] == "1" for r in csv.DictReader(f)}
    except (UnicodeDecodeError, csv.Error, KeyError, ValueError, TypeError) as err:
        raise ValueError(f"{path} is not a readable test_examples.csv ({type(err).__name__}: {err}); rerun the "
                         "run's command to rewrite it.") from None


def training_loss(metrics: Mapping[str, float]) -> float:
    """The loss SGD saw during an epoch: the average batch loss in training mode (``batch_loss``).

    Figure 1a plots this, like the paper. ``train_loss`` (the whole training set in inference mode
    after the epoch) is used where there is no batch loss: before the first step. With batch norm it
    spikes early while the moving statistics catch up, which is not what SGD optimizes.
    """
    batch = metrics.get("batch_loss", math.nan)
    return batch if not math.isnan(batch) else metrics.get("train_loss", math.nan)


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def condition(row: Mapping[str, Any]) -> str:
    """The data condition of a run, as Figure 1a names them."""
    if row.get("pixels") and row["pixels"] != "original":
        return "gaussian" if row["pixels"] == "gaussian" else f"{row['pixels']} pixels"
    if row.get("labels") == "human":
        return f"human labels ({row.get('label_set')})"
    if row.get("labels") == "matrix":
        transition = str(row.get("transition"))
        return f"transition-matrix labels ({transition.rpartition('/')[2]})"
    p = row.get("corruption_prob") or 0.0
    if p == 0:
        return "true labels"
    return "random labels" if p == 1 else f"labels corrupted p={p:g}"


def default_batch_norm(model: str) -> bool:
    """The registry's batch-norm default of ``model`` (False for a name it does not know)."""
    from rethinking.models import MODEL_CATALOG  # noqa: PLC0415 (plain Python)

    entry = MODEL_CATALOG.get(model)
    return bool(entry and entry.batch_norm)


_SWITCH_NAMES = {"depth": "depth", "units": "units", "width": "k"}


def model_label(row: Mapping[str, Any]) -> str:
    """``inception_small`` / ``inception_small (no BN)`` / ``inception_small (width 0.5)`` / ``alexnet_small`` ..."""
    name = str(row.get("model"))
    notes = []
    default_bn = default_batch_norm(name)
    if default_bn and row.get("batch_norm") is False:
        notes.append("no BN")
    if not default_bn and row.get("batch_norm") is True:
        notes.append("BN")
    width = row.get("width_multiplier")
    if isinstance(width, (int, float)) and width not in (0, 1):  # 0: an old table without the column
        notes.append(f"width {width:g}")
    # The model-specific switches (``mlp``'s depth and units, the ResNets' base width k).
    notes += [f"{_SWITCH_NAMES[switch]}={row[switch]}" for switch in MODEL_SWITCHES if row.get(switch) not in (None, "")]
    return f"{name} ({', '.join(notes)})" if notes else name


def regularizers(row: Mapping[str, Any]) -> str:
    """Table 1's column: ``crop + wd``, ``crop``, ``wd``, ``dropout 0.25`` (with the others) or ``none``."""
    dropout = row.get("dropout") or 0
    parts = (["crop"] if row.get("random_crop") else []) + (["wd"] if (row.get("weight_decay") or 0) > 0 else []) \
        + ([f"dropout {float(dropout):g}"] if isinstance(dropout, (int, float)) and dropout > 0 else [])
    return " + ".join(parts) or "none"


def finished(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows of runs that finished (or fitted)."""
    return [r for r in rows if r.get("status") in COMPLETE_STATUSES]


@functools.cache
def paper_numbers() -> dict[str, Any]:
    """The paper's published numbers and claims by report name (``paper.toml``, stored once)."""
    from rethinking.experiments.sweep import tomllib  # noqa: PLC0415

    return tomllib.loads(PAPER_FILE.read_text(encoding="utf-8"))


def paper_for(table: Mapping[str, Any]) -> dict[str, Any]:
    """The paper's numbers, with the sweep file's own ``[paper]`` tables taking precedence."""
    return {**paper_numbers(), **(table.get("paper") or {})}


def paper_rows(table: Mapping[str, Any], report: str) -> list[Mapping[str, Any]]:
    rows = paper_for(table).get(report, [])
    return rows if isinstance(rows, list) else []


def paper_claims(table: Mapping[str, Any], reports: Sequence[str]) -> list[str]:
    """The paper's claims about the reports drawn (each once, in report order), and the sweep's own notes."""
    paper = paper_for(table)
    claims = [c for r in reports for c in (paper.get("claims") or {}).get(r, [])] + list(paper.get("notes", []))
    return list(dict.fromkeys(claims))


# The columns of a grid point: runs that share them differ by seed only.
DESCRIPTORS = ("dataset", "train_examples", "train_offset", "replace_example", "model", *MODEL_SWITCHES, "batch_norm", "weight_decay", "dropout",
                "width_multiplier", "random_crop", "labels", "corruption_prob", "label_noise", "label_set", "transition",
                "pixels", "init_from")


def source_kind(run_name: Any) -> str | None:
    """A source run's folder name without its seed and digest (``mlp_1x512-labels_random-pixels_original``):
    what runs that start from the same kind of source share across seeds."""
    if not run_name:
        return None
    return re.sub(r"-seed\d+-[0-9a-f]{8}$", "", str(run_name))


def seed_groups(rows: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """The rows grouped by grid point (everything but the seeds), in first-seen order."""
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for row in rows:
        key = tuple(source_kind(row.get(c)) if c == "init_from" else row.get(c) for c in DESCRIPTORS)
        groups.setdefault(key, []).append(row)
    return list(groups.values())


