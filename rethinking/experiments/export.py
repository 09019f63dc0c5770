"""Exporting a sweep: its table and each run's small files, to report anywhere or commit.

The copy holds ``results.json``/``results.csv`` with run folders rewritten to ``runs/<run>`` and,
per run, the files its reports read; nothing in it names a folder of the machine that wrote it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rethinking.experiments.runner import TABLE_COLUMNS, TABLE_CSV, TABLE_JSON
from rethinking.portable import portable


# Per run, what a copied sweep needs to be reported (curves included): no checkpoints, weights or events.
# measures.json where a run has one (the measures report reads it).
EXPORTED_RUN_FILES = ("config.json", "results.json", "metrics.csv", "test_examples.csv", "measures.json")
# ... and, for the reports of per-example dynamics and stability, examples.csv (one row per training example).
EXAMPLE_REPORTS = ("learning_order", "forgetting", "stability")


def export_sweep(results: str | Path, destination: str | Path,
                 only: Sequence[tuple[str, Any]] = ()) -> tuple[Path, int]:
    """Copies a sweep's table and each run's small files so that ``rethinking report`` works on the copy.

    The copy holds ``results.json``/``results.csv`` (run folders rewritten to ``runs/<run>``) and,
    per run that has a folder, ``EXPORTED_RUN_FILES`` (and examples.csv when the sweep draws one of
    ``EXAMPLE_REPORTS``): small enough to commit beside a paper or docs. Every file is written
    atomically.

    Args:
        results: the sweep's results.json (or its folder).
        destination: the folder to write (created; files of the same names are replaced).
        only: ``(column, value)`` pairs: only the table's rows with these values are exported.

    Returns:
        The destination folder and the number of run folders copied.

    Raises:
        ValueError: an unreadable table, a destination inside the source's run folders, an unknown
            column or no row left by ``only``.
    """
    from rethinking.atomic import atomic_write_with  # noqa: PLC0415
    from rethinking.reports.tables import load_table  # noqa: PLC0415
    from rethinking.training import rundir  # noqa: PLC0415

    table = load_table(results)
    destination = Path(destination)
    if destination.resolve() == Path(table["_path"]).parent.resolve():
        raise ValueError(f"{destination} is the sweep's own folder: export to another folder.")
    check_destination(destination)
    names = EXPORTED_RUN_FILES + (("examples.csv",) if set(table.get("reports", ())) & set(EXAMPLE_REPORTS) else ())
    kept = table["runs"]
    for column, value in only:
        if column not in TABLE_COLUMNS:
            raise ValueError(f"--only {column}: not a column of the table; use one of {', '.join(TABLE_COLUMNS)}.")
        kept = [row for row in kept if _same(row.get(column), value)]
    if not kept:
        raise ValueError("No row of the table matches the --only filters.")
    rows, copied = [], 0
    for row in kept:
        row = dict(row)
        source = Path(row["run_dir"]) if row.get("run_dir") else None
        if source is not None and source.is_dir():
            target = destination / "runs" / source.name
            for name in names:
                if (source / name).is_file():
                    data = _portable_file(source / name)
                    atomic_write_with(target / name, lambda tmp, data=data: tmp.write_bytes(data))
            row["run_dir"] = f"runs/{source.name}"
            copied += 1
        else:
            row["run_dir"] = None
        rows.append(portable(row))
    meta = portable({k: v for k, v in table.items() if k not in ("runs", "_path")})
    destination.mkdir(parents=True, exist_ok=True)
    rundir.write_csv(destination / TABLE_CSV, rows, TABLE_COLUMNS)
    rundir.write_json(destination / TABLE_JSON, {**meta, "runs": rows})
    return destination, copied


def _same(cell: Any, value: Any) -> bool:
    """Whether a table cell equals an ``--only`` value (``labels=true``: the text "true" too)."""
    return cell == value or str(cell) == str(value) or (isinstance(value, bool) and str(cell).lower() == str(value).lower())


def check_destination(destination: Path) -> None:
    """Refuses a folder whose files an export would destroy: a run folder, a sweep's results folder,
    or any folder holding a results.json that is not an earlier export (a table whose run folders
    are all ``runs/<run>``, which an export may refresh).

    Raises:
        ValueError: one line naming the folder and what to do.
    """
    if (destination / "config.json").is_file():
        raise ValueError(f"{destination} is a run folder (it holds config.json): export to a new folder.")
    results = destination / TABLE_JSON
    if not results.is_file():
        return
    try:
        record = json.loads(results.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        record = None
    rows = record.get("runs") if isinstance(record, dict) else None
    exported = isinstance(rows, list) and all(
        isinstance(row, dict) and (row.get("run_dir") is None or str(row.get("run_dir")).startswith("runs/"))
        for row in rows)
    if not exported:
        raise ValueError(f"{destination} holds a {TABLE_JSON} that is not an earlier export (a run's or a sweep's): "
                         "export to a new folder.")


def _portable_file(path: Path) -> bytes:
    """A run file's bytes to share: a JSON file with every absolute path made portable (``portable``)."""
    data = path.read_bytes()
    if path.suffix != ".json":
        return data
    return (json.dumps(portable(json.loads(data)), indent=2) + "\n").encode()
