"""The run directory: one folder that says everything about a run.

::

    <log_dir>/<experiment>/<run>/
        config.json      the RunConfig (what ``rethinking train --resume <run>`` reads back)
        metrics.csv      one row per epoch (rewritten whole after every epoch, so it never holds
                         epochs a resumed run redid)
        examples.csv     per training example: label, true label, corrupted or not, first epoch
                         it was classified correctly (memorization order), forgetting events
                         (written when the run completes)
        examples.npz     the same columns as arrays, written after every epoch
        test_examples.csv per test example: the label and whether the final network got it right
                         (McNemar's test between two runs on the same test set)
        results.json     final and best metrics, time to fit, wall time, images/s, versions,
                         git revision, the reproducing command; status running / finished /
                         fitted / diverged / failed
        inputs.png       the first training images as the network sees them (corrupted)
        initial.weights.h5 the weights training started from (the measures' distance from
                         initialization; written before the first checkpoint)
        final.weights.h5 the weights at the end of training
        model.keras      the trained model (architecture + weights; ``load_run`` reads it)
        checkpoints/     weights + optimizer + run state of the last epochs (``latest.json`` names
                         the newest complete one)
        events.out.tfevents.*   TensorBoard: hparams, the input grid, time to fit
        train/ validation/ train_corrupted/ train_clean/   TensorBoard curves (``summaries``)

Every file is written to a temporary name and renamed, so a kill at any moment leaves either the
old or the new version, never half a file.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import os
import platform
import shutil
import subprocess
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any


from rethinking.atomic import FILE_MODE, atomic_write_text, atomic_write_with  # noqa: F401 (re-exported)
from rethinking.config import RunConfig
from rethinking.config.run import content_identity
from rethinking.config.run import file_fingerprint
from rethinking.config.run import run_identity
from rethinking.config.reproducing_command import command_line
from rethinking.training.runlock import LOCK_FILE

if TYPE_CHECKING:
    from rethinking.training.run_state import RunState

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
RESULTS_FILE = "results.json"
METRICS_FILE = "metrics.csv"
EXAMPLES_FILE = "examples.csv"
EXAMPLES_BINARY_FILE = "examples.npz"
TEST_EXAMPLES_FILE = "test_examples.csv"
TEST_EXAMPLE_COLUMNS = ("index", "label", "correct", "loss")
INPUTS_FILE = "inputs.png"
CHECKPOINT_DIR = "checkpoints"
FINAL_WEIGHTS = "final.weights.h5"
INITIAL_WEIGHTS = "initial.weights.h5"
MODEL_FILE = "model.keras"
METRIC_COLUMNS = ("epoch", "step", "learning_rate", "batch_loss", "train_loss", "train_accuracy",
                  "train_accuracy_corrupted", "train_accuracy_clean", "test_loss", "test_accuracy",
                  "best_test_accuracy", "epoch_seconds", "train_images_per_second")
EXAMPLE_COLUMNS = ("index", "label", "true_label", "label_corrupted", "first_correct_epoch", "first_learned_epoch",
                   "forgetting_events", "forgetting_score", "epochs_correct", "never_learned", "correct_at_end", "loss")
# results.json statuses: the run has everything it promises on disk ...
COMPLETE_STATUSES = ("finished", "fitted")
# ... and outcomes a rerun would only repeat (a sweep skips them; diverging is deterministic).
DONE_STATUSES = (*COMPLETE_STATUSES, "diverged")


def metric_columns(rows: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    """metrics.csv's columns: the engine's, then any extra ones (``batch_<metric>``) in first-seen order."""
    extra = dict.fromkeys(k for row in rows for k in row if k not in METRIC_COLUMNS)
    return (*METRIC_COLUMNS, *extra)


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
DATA_IDENTITY_KEYS = ("dataset_sha256", "transition_sha256")


def data_identity(config: RunConfig) -> dict[str, Any]:
    """``{"dataset_sha256": ..., "transition_sha256": ...}``: the content hashes of a ``.npz``
    dataset and of a transition-matrix file (None where the run reads no such file)."""
    return content_identity(config)


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
    current = data_identity(config)
    for key, path in (("dataset_sha256", config.data.dataset), ("transition_sha256", config.data.corruption.transition)):
        recorded = record.get(key)
        if recorded is not None and current[key] is not None and recorded != current[key]:
            raise ValueError(
                f"{directory} was trained on another version of {path} (sha256 {recorded[:12]}..., now "
                f"{current[key][:12]}...); choose another --run-name, or pass --overwrite to train on the new file."
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
    # The folder is the run: its name and path are not compared; the epoch cap may grow (an extension).
    return run_identity(config)


def versions() -> dict[str, str]:
    """Versions of what the results depend on."""
    import keras  # noqa: PLC0415
    import numpy  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415

    import rethinking  # noqa: PLC0415

    return {"rethinking": rethinking.__version__, "python": platform.python_version(),
            "tensorflow": tf.__version__, "keras": keras.__version__, "numpy": numpy.__version__,
            "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"), "machine": platform.machine()}


def git_revision(source: Path | None = None) -> str | None:
    """The git commit of ``rethinking``'s own source checkout (``+dirty`` if modified), else None.

    Only when rethinking runs from a clone of its repository (editable install): an installed
    package records its version (``versions()``), never the revision of whatever repository it
    happens to sit in (a virtual environment inside a user's project).
    """
    source = source or Path(__file__).resolve().parents[2]
    setup = source / "setup.cfg"
    if not (source / ".git").exists() or not setup.is_file() or "name = rethinking" not in setup.read_text():
        return None
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


def clear(directory: Path) -> None:
    """Deletes a run directory's contents (``--overwrite``), keeping this process's lock file.

    ``config.json`` goes last: a kill part-way leaves the old config, so the folder cannot be
    resumed under another config by mistake (that is refused; ``--overwrite`` again finishes the job).
    """
    paths = sorted(directory.iterdir(), key=lambda path: path.name == CONFIG_FILE)
    for path in paths:
        if path.name == LOCK_FILE:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def stored_complete(directory: Path, config: RunConfig) -> dict[str, Any] | None:
    """Checks the run directory's config; returns its results if the run completed."""
    if not (directory / CONFIG_FILE).is_file():
        return None
    check_same_config(directory, config)
    results_path = directory / RESULTS_FILE
    if not results_path.is_file():
        return None
    try:
        stored = read_json(results_path)
    except ValueError:
        logger.warning("%s is unreadable; resuming the run from its checkpoints to rewrite it.", results_path)
        return None
    trained = int(stored.get("epochs_trained") or 0)
    if trained > config.train.epochs:
        raise ValueError(f"{directory} has trained {trained} epochs: ask for --epochs {trained} or more to continue "
                         "it, or choose another --run-name.")
    if stored.get("status") not in COMPLETE_STATUSES:
        return None
    extends = trained < config.train.epochs and stored["status"] != "fitted" and not stored.get("stopped_by_callback")
    return None if extends else stored


def record_epoch_cap(directory: Path, config: RunConfig) -> None:
    """Rewrites config.json when a run is continued with a larger epoch cap (an extension)."""
    if load_config(directory).train.epochs != config.train.epochs:
        write_json(directory / CONFIG_FILE, config_record(config))


# The files a completed run promises whose content results.json records (sha256), so a rerun finds
# one that was truncated or garbled since (repaired from the last checkpoint) instead of trusting it.
CHECKSUMMED_FILES = (METRICS_FILE, EXAMPLES_FILE, TEST_EXAMPLES_FILE, FINAL_WEIGHTS, MODEL_FILE)


def file_checksums(directory: Path) -> dict[str, str]:
    """``{file name: sha256}`` of the promised files present in ``directory`` (``CHECKSUMMED_FILES``)."""
    sums = {name: file_fingerprint(directory / name) for name in CHECKSUMMED_FILES}
    return {name: digest for name, digest in sums.items() if digest is not None}


def missing_outputs(directory: Path, own_dir: Path | None = None,
                    checksums: dict[str, str] | None = None) -> list[str]:
    """The files a completed run promises that are missing, unreadable, or changed since the run
    recorded their ``checksums`` (results.json's ``files``; runs of older versions have none).
    Empty: all there."""
    missing = [name for name in (CONFIG_FILE, METRICS_FILE, EXAMPLES_FILE, TEST_EXAMPLES_FILE)
               if not (directory / name).is_file() or (directory / name).stat().st_size == 0]
    if not readable_weights((own_dir or directory) / FINAL_WEIGHTS):
        missing.append(FINAL_WEIGHTS)
    if own_dir in (None, directory) and not zipfile.is_zipfile(directory / MODEL_FILE):
        missing.append(MODEL_FILE)
    if own_dir in (None, directory) and isinstance(checksums, dict):
        missing += [f"{name} (changed since the run completed)" for name, digest in checksums.items()
                    if name in CHECKSUMMED_FILES and name not in missing
                    and file_fingerprint(directory / name) not in (None, digest)]
    return missing


def save_weights_atomically(model: Any, path: Path) -> None:
    """``model.save_weights`` to a temporary file in the same folder, then a rename (kill-safe)."""
    atomic_write_with(path, lambda tmp: model.save_weights(str(tmp)))


def save_model_atomically(model: Any, path: Path) -> None:
    """``model.save`` (a ``.keras`` file) to a temporary file in the same folder, then a rename."""
    atomic_write_with(path, lambda tmp: model.save(str(tmp)))


def labels_changed(train_examples: Any) -> float | None:
    """The fraction of training labels that differ from the true ones, from an evaluation of the
    training set (a ``SplitEvaluation``); None before the training set was evaluated."""
    if train_examples is None or not train_examples.label_corrupted.size:
        return None
    return float(train_examples.label_corrupted.mean())


def results_record(config: RunConfig, state: RunState, status: str, directory: Path, pipeline: Any,
             settings: dict[str, Any], strategy: Any, batch_norm: bool) -> dict[str, Any]:
    """What ``results.json`` says of a run in ``status`` (``pipeline``: its ``DataPipeline``;
    ``strategy``: its ``tf.distribute.Strategy``; ``settings``: the compile settings)."""
    last = state.history[-1] if state.history else {}
    return {
        "status": status,
        "run_dir": str(directory),
        "epochs_trained": state.epoch,
        "steps": state.step,
        "train_loss": last.get("train_loss"),
        "train_accuracy": last.get("train_accuracy"),
        "train_accuracy_corrupted": last.get("train_accuracy_corrupted"),
        "train_accuracy_clean": last.get("train_accuracy_clean"),
        "test_loss": last.get("test_loss"),
        "test_accuracy": last.get("test_accuracy"),
        "best_test_accuracy": state.best_test_accuracy,
        "best_test_epoch": state.best_test_epoch,
        "fit_threshold": config.train.fit_threshold,
        "fit_epoch": state.fit_epoch,
        "fit_step": state.fit_step,
        "fit_every": config.train.fit_every,
        "batch_fit_step": state.batch_fit_step,
        # Never correct at an evaluation after training began: examples.csv's never_learned, summed.
        "examples_never_fitted": int((state.dynamics.first_learned < 0).sum()),
        # The fraction of training labels that differ from the true ones, as trained (for human and
        # matrix labels the measured noise rate; for partial corruption about p (K-1)/K).
        "labels_changed": labels_changed(state.train_examples),
        "examples_forgotten": int((state.dynamics.forgetting_events > 0).sum()),
        "dynamics_since_epoch": state.dynamics.since_epoch,
        "wall_seconds": state.wall_seconds,
        "train_seconds": state.train_seconds,
        "train_images_per_second": state.images_trained / state.train_seconds if state.train_seconds else None,
        "train_size": pipeline.info.train_size,
        "test_size": pipeline.info.test_size,
        "num_classes": pipeline.info.num_classes,
        "learning_rate": config.learning_rate,
        "batch_norm": batch_norm,
        "compile": settings,
        "strategy": config.train.strategy,
        "strategy_class": type(strategy).__name__,
        "replicas": strategy.num_replicas_in_sync,
        "versions": versions(),
        "git_revision": git_revision(),
        **data_identity(config),
        "command": command_line(config),
    }
