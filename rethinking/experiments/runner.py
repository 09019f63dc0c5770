"""Running a sweep: every run of its grid, skipping finished ones, recording failures, one table.

A sweep is resumable at two levels: a run that finished (or diverged: a deterministic outcome,
e.g. the paper's AlexNet with weight decay on random labels) is skipped, and a run that was killed
resumes from its last checkpoint (the engine's doing). A run that raises is recorded as failed
(with its error in the table and ``error.txt`` in its folder) and the sweep goes on; rerunning the
sweep retries it. A run owned by another live process (its ``run.lock``) is recorded as ``locked``
and left alone. A dataset that cannot be had here stops the sweep: every run would fail alike.

After every run the sweep's table is rebuilt from all of the sweep's run folders (kill-safe), in
``<log_dir>/<sweep>/``: ``results.csv`` (one row per run of the whole grid, whatever subset this
process ran, e.g. with ``--only``) and ``results.json`` (the same rows plus the sweep's name,
reports and paper numbers: all ``rethinking report`` needs). A run another live process is
training shows as ``running``. Run folders are given relative to the table's folder, so a copied
or committed sweep folder reports anywhere.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import gc
import logging
import os
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from rethinking.config import RunConfig
from rethinking.config.run import MODEL_SWITCHES, is_dataset_path
from rethinking.experiments.sweep import Sweep, PlannedRun, expand, select
from rethinking.training.rundir import DONE_STATUSES  # the one definition (no TensorFlow)

logger = logging.getLogger(__name__)

TABLE_CSV = "results.csv"
TABLE_JSON = "results.json"
ERROR_FILE = "error.txt"
# Columns of the table: who the run is, then what it gave (fractions for accuracies).
DESCRIPTOR_COLUMNS = ("run", "label", "dataset", "train_examples", "train_offset", "replace_example", "model", *MODEL_SWITCHES, "batch_norm",
                      "weight_decay", "dropout", "width_multiplier", "random_crop", "labels", "corruption_prob",
                      "label_noise", "label_set", "transition", "pixels", "seed", "init_seed", "init_from")
RESULT_COLUMNS = ("status", "epochs_trained", "steps", "labels_changed", "train_loss", "train_accuracy",
                  "train_accuracy_clean", "train_accuracy_corrupted", "test_accuracy",
                  "best_test_accuracy", "best_test_epoch", "fit_epoch", "fit_step", "batch_fit_step", "test_size",
                  "wall_seconds", "error", "run_dir")
TABLE_COLUMNS = DESCRIPTOR_COLUMNS + RESULT_COLUMNS


def table_dir(sweep: Sweep, runs: Sequence[PlannedRun]) -> Path:
    """``<log_dir>/<sweep name>`` (the log_dir of the sweep's runs)."""
    log_dir = runs[0].config.log_dir if runs else RunConfig().log_dir
    return Path(log_dir) / sweep.name


def stored_results(config: RunConfig) -> dict[str, Any] | None:
    """The run's results.json, or None if it has not written one."""
    from rethinking.training import rundir  # noqa: PLC0415 (TensorFlow import)

    path = rundir.run_dir(config) / rundir.RESULTS_FILE
    if not path.is_file():
        return None
    try:
        return rundir.read_json(path)
    except ValueError:
        return None


def describe(run: PlannedRun) -> dict[str, Any]:
    """The descriptor columns of a run (what varies across the paper's tables and figures)."""
    c = run.config
    batch_norm = c.model.resolved_batch_norm
    return {
        "run": c.resolved_run_name, "label": run.label, "dataset": c.data.dataset, "train_examples": c.data.train_examples,
        "train_offset": c.data.train_offset, "replace_example": c.data.replace_example,
        "model": c.model.name, **{switch: getattr(c.model, switch) for switch in MODEL_SWITCHES},
        "batch_norm": batch_norm, "weight_decay": c.model.weight_decay,
        "dropout": c.model.dropout, "width_multiplier": c.model.width_multiplier,
        "random_crop": c.data.preprocessing.random_crop, "labels": c.data.corruption.labels,
        "corruption_prob": c.data.corruption.resolved_corruption_prob,
        "label_noise": c.data.corruption.label_noise, "label_set": c.data.corruption.label_set,
        "transition": c.data.corruption.transition, "pixels": c.data.corruption.pixels, "seed": c.data.seed,
        "init_seed": c.init_seed,
        # The source run's folder name (its own row in the same table when it is a run of the sweep).
        "init_from": Path(c.train.init_from).name if c.train.init_from else None,
    }


def _stored_error(folder: Path) -> str | None:
    """The last line of a failed run's error.txt (the exception), if any."""
    try:
        lines = [line for line in (folder / ERROR_FILE).read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError:
        return None
    return lines[-1] if lines else None


def _in_progress(folder: Path) -> bool:
    """Whether a live process holds the run's lock (it is training the run now)."""
    from rethinking.training.runlock import LOCK_FILE, is_stale, read_holder  # noqa: PLC0415 (no TensorFlow)

    holder = read_holder(folder / LOCK_FILE)
    return holder is not None and not is_stale(holder)


def table_row(run: PlannedRun, results: Mapping[str, Any] | None, error: str | None = None,
              relative_to: Path | None = None) -> dict[str, Any]:
    """One row of the sweep table: the run's descriptors and its results (blank if not run).

    ``relative_to``: the table's folder; the run's folder is then given relative to it.
    """
    from rethinking.training import rundir  # noqa: PLC0415

    results = dict(results or {})
    row = describe(run)
    for column in RESULT_COLUMNS:
        row[column] = results.get(column)
    folder = rundir.run_dir(run.config)
    # No results.json but an error.txt: the run failed before the engine wrote anything.
    row["status"] = results.get("status", "failed" if (folder / ERROR_FILE).is_file() else "pending")
    if row["status"] not in DONE_STATUSES and _in_progress(folder):
        row["status"] = "running"
    row["error"] = error if error is not None else results.get("error") or (
        _stored_error(folder) if row["status"] == "failed" else None)
    row["run_dir"] = os.path.relpath(folder, relative_to) if relative_to is not None else str(folder)
    return row


def rebuild_table(directory: Path, sweep: Sweep, runs: Sequence[PlannedRun]) -> list[dict[str, Any]]:
    """Rebuilds results.csv / results.json from every run's folder (any process may); returns the rows."""
    rows = [table_row(run, stored_results(run.config), relative_to=directory) for run in runs]
    write_table(directory, sweep, rows)
    return rows


def write_table(directory: Path, sweep: Sweep, rows: Sequence[Mapping[str, Any]]) -> tuple[Path, Path]:
    """Writes results.csv and results.json for the sweep (atomically); returns their paths."""
    from rethinking.training import rundir  # noqa: PLC0415

    csv_path, json_path = directory / TABLE_CSV, directory / TABLE_JSON
    rundir.write_csv(csv_path, rows, TABLE_COLUMNS)
    rundir.write_json(json_path, {
        "sweep": sweep.name, "description": sweep.description, "source": sweep.path,
        "reports": list(sweep.reports), "paper": dict(sweep.paper), "seeds": list(sweep.seeds),
        "seed_varies": sweep.seed_varies,
        "updated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "runs": list(rows),
    })
    return csv_path, json_path


def check_local_files(runs: Sequence[PlannedRun]) -> None:
    """Fails before any training if a run names a .npz file that does not exist.

    Raises:
        ValueError: naming the missing file.
    """
    for path in sorted({r.config.data.dataset for r in runs if is_dataset_path(r.config.data.dataset)}):
        if not Path(path).is_file():
            raise ValueError(f"Dataset file {path} does not exist: fix the path, or override it with "
                             "--set data.dataset=PATH.")


def sweep_status(runs: Sequence[PlannedRun]) -> tuple[list[dict[str, Any]], int]:
    """Each run's table row as it stands (from its results.json; running if another process holds
    it), and how many are done."""
    rows = [table_row(run, stored_results(run.config)) for run in runs]
    return rows, sum(row["status"] in DONE_STATUSES for row in rows)


def parse_share(text: str, flag: str = "--shard") -> tuple[int, int]:
    """``"K/N"`` -> ``(K, N)`` with 0 <= K < N (a SLURM array task id and the task count)."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        k, n = -1, 0
    if not 0 <= k < n:
        raise ValueError(f"{flag} takes K/N with 0 <= K < N (e.g. {flag} 0/4 ... 3/4). Received: {text!r}")
    return k, n


def share(runs: Sequence[PlannedRun], k: int, n: int) -> list[PlannedRun]:
    """The deterministic share K of N of a sweep's runs: every N-th run from the K-th (grid order),
    a run that starts from another run of the sweep going with its source (so one task trains both)."""
    sources = sources_of(runs)
    owner: dict[int, int] = {}
    position = 0
    for i, run in enumerate(runs):
        source = sources.get(i)
        if source is not None and source in owner:
            owner[i] = owner[source]
        else:
            owner[i] = position % n
            position += 1
    return [run for i, run in enumerate(runs) if owner[i] == k]


def sources_of(runs: Sequence[PlannedRun]) -> dict[int, int]:
    """``{i: j}``: run ``i`` starts from the network of run ``j`` of ``runs`` (its ``init_from``)."""
    folders = {os.path.normpath(Path(r.config.log_dir) / r.config.experiment / r.config.resolved_run_name): j
               for j, r in enumerate(runs)}
    result = {}
    for i, run in enumerate(runs):
        source = run.config.train.init_from
        if source is not None and os.path.normpath(source) in folders:
            result[i] = folders[os.path.normpath(source)]
    return result


# Seconds between looks at a source run another process is training (a dependent run waits for it).
SOURCE_POLL_SECONDS = 5.0


def plan(sweep: Sweep, overrides: Mapping[str, Any] | None = None,
         only: Sequence[tuple[str, Any]] = ()) -> list[PlannedRun]:
    """The runs a sweep would do: the expanded grid, overridden and filtered."""
    return narrow(expand(sweep, overrides), only)


def narrow(runs: Sequence[PlannedRun], only: Sequence[tuple[str, Any]] = ()) -> list[PlannedRun]:
    """The planned runs matching the ``--only`` filters (all of them without filters), with the
    source runs they start from (``init_from_run``).

    Raises:
        ValueError: no run matches, or a filter key is not a config field.
    """
    chosen = select(runs, only)
    if not chosen:
        raise ValueError("No run of the sweep matches the --only filters.")
    # A chosen run that starts from another run of the sweep brings its source along.
    sources = sources_of(runs)
    keep = {i for i, run in enumerate(runs) if run in chosen}
    pending = list(keep)
    while pending:
        source = sources.get(pending.pop())
        if source is not None and source not in keep:
            keep.add(source)
            pending.append(source)
    return [run for i, run in enumerate(runs) if i in keep]


def write_hparams_experiment(directory: Path, runs: Sequence[PlannedRun]) -> None:
    """The sweep folder's HParams experiment config: the hyperparameters its runs vary, and the metrics.

    Written before any run starts, so the runs find it and do not write the single-run one.
    """
    from rethinking.training import summaries  # noqa: PLC0415 (TensorFlow)

    try:
        values = [summaries.hparams_of(run.config, run.config.learning_rate, run.config.model.resolved_batch_norm)
                  for run in runs]
    except (ValueError, ImportError):  # a user's model that cannot be resolved here: the runs write their own
        return
    summaries.write_experiment(directory, summaries.declared_hparams(values))


def run_sweep(
    sweep: Sweep,
    *,
    overrides: Mapping[str, Any] | None = None,
    only: Sequence[tuple[str, Any]] = (),
    progress: Callable[[dict[str, Any]], None] | None = None,
    step_progress: Callable[[Any], None] | None = None,
    train_fn: Callable[..., dict[str, Any]] | None = None,
    shard: tuple[int, int] | None = None,
    prefer: tuple[int, int] | None = None,
) -> tuple[list[dict[str, Any]], Path]:
    """Runs (or resumes) a sweep's sweep.

    Args:
        sweep: the sweep.
        overrides: dotted keys set on every run (``--set``); they change the runs' configs and so
            their folders.
        only: ``(key, value)`` filters (``--only``).
        progress: called with events: ``{"event": "start" | "skip" | "done", "index", "total",
            "run", "row"}``, ``{"event": "wait", ..., "source"}`` while a run waits for its source
            run (``init_from_run``) that another process trains, and, during training,
            ``{"event": "epoch", ...}`` with the epoch row.
        step_progress: passed on to ``train`` (progress inside each epoch of a run).
        train_fn: the training function (``rethinking.training.train``); tests pass their own.
        shard: ``(K, N)``: run only share K of N (``--shard``, cluster array jobs).
        prefer: ``(K, N)``: run share K of N first, then help with the others' (``--workers``: a
            run another process holds is left to it, so every run is trained once).

    Returns:
        The table rows and the folder holding results.csv / results.json.

    Raises:
        ValueError: an invalid sweep, override or filter, or a missing dataset file.
        DatasetUnavailableError: a dataset that cannot be loaded on this machine.
        KeyboardInterrupt: after writing the table (rerun the command to resume).
    """
    import keras  # noqa: PLC0415

    from rethinking.data.datasets import DatasetUnavailableError  # noqa: PLC0415
    from rethinking.training import TrainingDiverged, rundir  # noqa: PLC0415
    from rethinking.training.runlock import LockLost, RunLocked  # noqa: PLC0415
    from rethinking.training import train as default_train  # noqa: PLC0415

    train_fn = train_fn or default_train
    every_run = plan(sweep, overrides)  # the table covers the whole grid, whatever this process runs
    runs = narrow(every_run, only)
    if shard is not None:
        runs = share(runs, *shard)
    if prefer is not None:
        mine = share(runs, *prefer)
        runs = mine + [run for run in runs if run not in mine]
    check_local_files(runs)
    directory = table_dir(sweep, every_run)
    write_hparams_experiment(directory, every_run)
    table = rebuild_table(directory, sweep, every_run)
    by_name = {row["run"]: row for row in table}
    rows = [by_name[run.config.resolved_run_name] for run in runs]
    notify = progress or (lambda event: None)
    sources = sources_of(runs)
    queue = collections.deque(range(len(runs)))
    with _long_lived_objects_frozen():
        while queue:
            index = queue.popleft()
            run = runs[index]
            base = {"index": index, "total": len(runs), "run": run}
            if rows[index]["status"] not in DONE_STATUSES:  # another process may have finished it since
                rows[index] = table_row(run, stored_results(run.config), relative_to=directory)
            if rows[index]["status"] in DONE_STATUSES:
                _measure(run, stored_results(run.config) or {})  # a run killed while it was being measured
                notify({**base, "event": "skip", "row": rows[index]})
                continue
            source = sources.get(index)
            if source is not None and (stored_results(runs[source].config) or {}).get("status") not in rundir.COMPLETE_STATUSES:
                if source in queue:  # this process trains the source first
                    queue.append(index)
                    continue
                if _in_progress(rundir.run_dir(runs[source].config)):  # another process is training it: wait
                    notify({**base, "event": "wait", "row": rows[index], "source": runs[source]})
                    time.sleep(SOURCE_POLL_SECONDS)
                    queue.append(index)
                    continue
                # Otherwise the source failed or nobody trains it: training refuses in one line, the run
                # is recorded as failed, and a rerun trains it once its source is complete.
            notify({**base, "event": "start", "row": rows[index]})
            error = None
            try:
                steps = {} if step_progress is None else {"step_progress": step_progress}
                results = train_fn(run.config, progress=lambda epoch_row: notify({**base, "event": "epoch", "row": epoch_row}),
                                   **steps)
            except TrainingDiverged as err:
                results, error = stored_results(run.config) or {"status": "diverged"}, str(err)
            except (RunLocked, LockLost) as err:  # another process owns the run: write nothing into it
                results, error = {"status": "locked"}, str(err)
                logger.warning("Run %s skipped: %s", run.config.resolved_run_name, err)
            except DatasetUnavailableError:
                raise
            except KeyboardInterrupt:
                rebuild_table(directory, sweep, every_run)
                raise
            except Exception as err:  # noqa: BLE001 (a sweep records any failure of one run and goes on)
                error = f"{type(err).__name__}: {err}"
                logger.warning("Run %s failed: %s", run.config.resolved_run_name, error)
                results = {**(stored_results(run.config) or {}), "status": "failed"}
                run_folder = rundir.run_dir(run.config)
                run_folder.mkdir(parents=True, exist_ok=True)
                rundir.atomic_write_text(run_folder / ERROR_FILE, traceback.format_exc())
            finally:
                keras.backend.clear_session()  # many models in one process: free the last one's graph
                gc.freeze()  # what survives lives on (see _long_lived_objects_frozen)
            if error is None:
                error = _measure(run, results)
            rows[index] = table_row(run, results, error, relative_to=directory)
            rebuild_table(directory, sweep, every_run)
            notify({**base, "event": "done", "row": rows[index]})
    return rows, directory


@contextlib.contextmanager
def _long_lived_objects_frozen() -> Iterator[None]:
    """Moves the objects alive now to Python's permanent generation (``gc.freeze``) for the sweep.

    Keras' ``clear_session`` after each run collects garbage, and a full collection walks every
    tracked object: about 400,000 once TensorFlow and Keras are imported, 0.34 s on 2 cores
    (measured), for a tiny run a sixth of its time. Frozen, they are skipped; refcounting still frees
    what they drop. Unfrozen when the sweep ends, so a notebook's objects are collected as before.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _measure(run: PlannedRun, results: Mapping[str, Any]) -> str | None:
    """Computes the measures of a completed run that asks for them (``train.measures``) and lacks them.

    Returns:
        None, or the one-line error of a measuring that failed (the run itself stays complete; a
        rerun of the sweep measures it again). A run another process holds is left to it.
    """
    import keras  # noqa: PLC0415

    from rethinking.measures.run import MEASURES_FILE, after_training  # noqa: PLC0415
    from rethinking.training import rundir  # noqa: PLC0415
    from rethinking.training.runlock import LockLost, RunLocked  # noqa: PLC0415

    if not run.config.train.measures or (rundir.run_dir(run.config) / MEASURES_FILE).is_file():
        return None
    try:
        after_training(run.config, dict(results))
    except (RunLocked, LockLost):
        return None
    except Exception as err:  # noqa: BLE001 (recorded in the table; the sweep goes on)
        logger.warning("Measuring run %s failed: %s", run.config.resolved_run_name, err)
        return f"measures failed: {type(err).__name__}: {err}"
    finally:
        keras.backend.clear_session()
    return None
