"""The run directory: one folder that says everything about a run.

::

    <log_dir>/<experiment>/<run>/
        config.json      the RunConfig (what ``rethinking train --resume <run>`` reads back)
        metrics.csv      one row per epoch (rewritten whole after every epoch, so it never holds
                         epochs a resumed run redid)
        examples.csv     per training example: label, true label, corrupted or not, first epoch
                         it was classified correctly (memorization order)
        results.json     final and best metrics, time to fit, wall time, images/s, versions,
                         git revision, the reproducing command; status running / finished /
                         fitted / diverged / failed
        inputs.png       the first training images as the network sees them (corrupted)
        checkpoints/     weights + optimizer + run state of the last epochs (``latest.json`` names
                         the newest complete one)
        events.out.tfevents.*   TensorBoard scalars, images and hparams

Every file is written to a temporary name and renamed, so a kill at any moment leaves either the
old or the new version, never half a file.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import platform
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rethinking.atomic import FILE_MODE, atomic_write_text  # noqa: F401 (re-exported)
from rethinking.config import RunConfig, dataset_fingerprint

CONFIG_FILE = "config.json"
RESULTS_FILE = "results.json"
METRICS_FILE = "metrics.csv"
EXAMPLES_FILE = "examples.csv"
INPUTS_FILE = "inputs.png"
CHECKPOINT_DIR = "checkpoints"
# results.json statuses: the run has everything it promises on disk ...
COMPLETE_STATUSES = ("finished", "fitted")
# ... and outcomes a rerun would only repeat (a sweep skips them; diverging is deterministic).
DONE_STATUSES = (*COMPLETE_STATUSES, "diverged")


def run_dir(config: RunConfig) -> Path:
    """``<log_dir>/<experiment>/<run name>``."""
    return Path(config.log_dir) / config.experiment / config.resolved_run_name


def write_json(path: Path, values: dict[str, Any]) -> None:
    """Pretty JSON, atomically."""
    atomic_write_text(path, json.dumps(values, indent=2, sort_keys=False, default=_jsonable) + "\n")


def read_json(path: Path) -> dict[str, Any]:
    """Reads a JSON object; a clear ``ValueError`` when the file is not one."""
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); fix or delete it.") from err
    if not isinstance(values, dict):
        raise ValueError(f"{path} must hold a JSON object.")
    return values


def write_csv(path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """A CSV with a header row, atomically (floats with 6 significant digits)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()})
    atomic_write_text(path, buffer.getvalue())


# Keys of config.json beside the RunConfig's own: what the run's data was (not options).
DATA_IDENTITY_KEYS = ("dataset_sha256",)


def data_identity(config: RunConfig) -> dict[str, Any]:
    """``{"dataset_sha256": ...}``: the content hash of a ``.npz`` dataset (None for named datasets)."""
    return {"dataset_sha256": dataset_fingerprint(config.data.dataset)}


def config_record(config: RunConfig) -> dict[str, Any]:
    """What config.json holds: the ``RunConfig`` and the identity of its data."""
    return {**config.to_dict(), **data_identity(config)}


def _stored_record(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise ValueError(f"{directory} is not a run directory (no {CONFIG_FILE}); give the folder rethinking train wrote.")
    return read_json(path)


def load_config(directory: str | Path) -> RunConfig:
    """The ``RunConfig`` stored in a run directory (for ``--resume``)."""
    return _config_of_record(directory, _stored_record(directory))


def _config_of_record(directory: str | Path, record: dict[str, Any]) -> RunConfig:
    values = {key: value for key, value in record.items() if key not in DATA_IDENTITY_KEYS}
    try:
        return RunConfig.from_dict(values)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{Path(directory) / CONFIG_FILE} is not a valid run config: {err}") from err


def config_of_run(directory: str | Path) -> RunConfig:
    """The config of a run folder, pointed at where the folder is now (it may have been moved)."""
    path = Path(directory).resolve()
    config = load_config(path)
    return dataclasses.replace(config, log_dir=str(path.parent.parent), experiment=path.parent.name, run_name=path.name)


def check_same_config(directory: Path, config: RunConfig) -> None:
    """Raises ``ValueError`` if ``directory`` holds a run of a different config."""
    record = _stored_record(directory)  # read once: the config and its data identity
    stored = _config_of_record(directory, record)
    if _comparable(stored) != _comparable(config):
        raise ValueError(
            f"{directory} holds a run with a different config; choose another --run-name, "
            "or pass --overwrite to start it again."
        )
    recorded = record.get("dataset_sha256")
    current = data_identity(config)["dataset_sha256"]
    if recorded is not None and current is not None and recorded != current:
        raise ValueError(
            f"{directory} was trained on another version of {config.data.dataset} (sha256 {recorded[:12]}..., now "
            f"{current[:12]}...); choose another --run-name, or pass --overwrite to train on the new file."
        )


def readable_weights(path: Path) -> bool:
    """Whether ``path`` is a complete, readable HDF5 weights file."""
    if not path.is_file():
        return False
    try:
        import h5py  # noqa: PLC0415 (a Keras dependency)

        with h5py.File(path, "r") as f:
            f.visit(lambda name: None)
        return True
    except Exception:  # noqa: BLE001 (truncated or garbled: any error means unreadable)
        return False


def check_writable_root(log_dir: Path) -> None:
    """Raises ``OSError`` with a clear message unless run folders can be created under ``log_dir``."""
    existing = log_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise NotADirectoryError(f"--log-dir {log_dir}: {existing} is a file, not a folder; give a folder for the runs.")
    if existing.exists() and not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(f"--log-dir {log_dir}: {existing} is not writable; give a folder you can write to.")


def _comparable(config: RunConfig) -> dict[str, Any]:
    values = config.to_dict()
    values.pop("run_name")  # the folder is the name: an explicit name equal to the derived one is the same run
    values.pop("log_dir")   # the same folder reached through a different path
    return values


def versions() -> dict[str, str]:
    """Versions of what the results depend on."""
    import keras  # noqa: PLC0415
    import numpy  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415

    import rethinking  # noqa: PLC0415

    return {"rethinking": rethinking.__version__, "python": platform.python_version(),
            "tensorflow": tf.__version__, "keras": keras.__version__, "numpy": numpy.__version__,
            "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"), "machine": platform.machine()}


def git_revision() -> str | None:
    """The git commit of the installed ``rethinking`` source (``+dirty`` if modified), or None."""
    source = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out + ("+dirty" if dirty else "") if out else None


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()  # numpy scalars
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
