"""Kill-safe checkpoints: weights, optimizer and run state at the end of every epoch.

A checkpoint ``checkpoints/epoch-000012`` is the TensorFlow checkpoint of the model and optimizer
(``tf.train.Checkpoint``: every variable, including batch-norm statistics, the optimizer's
momentum and step counter, and dropout's seed state) plus ``epoch-000012.state.json`` (history,
best test accuracy, time to fit) and ``epoch-000012.examples.npz`` (per-example learning
dynamics: first epoch fitted, forgetting events, epochs correct; ``training/dynamics.py``).
Checkpoints of older versions hold only ``epoch-000012.first_correct.npy``: a run resumed from one
counts forgetting events and epochs correct from its next evaluation on (``since_epoch``). ``latest.json`` is renamed into place last, so a process killed at any
moment (SIGKILL included) leaves ``latest.json`` naming a complete checkpoint: a resumed run loses
at most the epoch in progress. The two newest checkpoints are kept.

Restoring trusts nothing: it tries the checkpoint ``latest.json`` names, then every other one
found on disk, newest first, and takes the first that reads completely (a truncated or garbled
file, a missing state file, a ``latest.json`` naming a missing checkpoint or missing itself are
skipped with a warning). Checkpoints exist but none is intact: ``CheckpointError``. Temporary
folders of a write that was killed (``*_temp``) are removed.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from rethinking.atomic import atomic_write_text, atomic_write_with, is_temporary
from rethinking.training.dynamics import ExampleDynamics
from rethinking.training.dynamics import empty as empty_dynamics
from rethinking.training.rundir import read_json, write_json
from rethinking.training.run_state import RunState  # noqa: F401 (its home before; re-exported)

logger = logging.getLogger(__name__)

LATEST = "latest.json"
KEEP = 2
_NAME = re.compile(r"^epoch-(\d{6})$")


class CheckpointError(RuntimeError):
    """Checkpoints exist but none of them can be read."""


def seed_states(model: Any) -> list[tf.Variable]:
    """The state variables of every ``keras.random.SeedGenerator`` held by a layer of ``model``."""
    import keras  # noqa: PLC0415

    states = []
    for layer in model._flatten_layers(include_self=True):  # noqa: SLF001 (Keras' own traversal)
        for value in vars(layer).values():
            if isinstance(value, keras.random.SeedGenerator):
                states.append(value.state.value)
    return states


class Checkpointer:
    """Saves and restores ``tf.train.Checkpoint(model, optimizer)`` + ``RunState`` in a folder."""

    def __init__(self, directory: str | Path, model: Any, optimizer: Any) -> None:
        self.directory = Path(directory)
        # Keras 3 seed generators (dropout's random state) are not tf.train trackables: without
        # naming their state variables here, a resumed run would redraw different dropout masks.
        self.checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, seed_states=seed_states(model))

    def latest(self) -> str | None:
        """The name ``latest.json`` gives, or None (missing or unreadable file: see ``candidates``)."""
        path = self.directory / LATEST
        try:
            name = read_json(path).get("checkpoint")
        except (OSError, ValueError):
            return None
        return name if isinstance(name, str) and _NAME.match(name) else None

    def candidates(self) -> list[str]:
        """Checkpoint names to try, best first: the one ``latest.json`` names, then all others newest first."""
        if not self.directory.is_dir():
            return []
        found = sorted({p.name.split(".")[0] for p in self.directory.iterdir()
                        if _NAME.match(p.name.split(".")[0]) and p.name.endswith(".index")}, reverse=True)
        latest = self.latest()
        return [latest, *[n for n in found if n != latest]] if latest else found

    def save(self, state: RunState) -> str:
        """Writes a checkpoint of the current variables and ``state``; returns its name."""
        name = f"epoch-{state.epoch:06d}"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.checkpoint.write(str(self.directory / name))
        state.saved_at = time.time()  # after this epoch's TensorBoard points, before any of the next's
        write_json(self.directory / f"{name}.state.json", state.to_json())
        _save_dynamics(self.directory / f"{name}.{DYNAMICS_SUFFIX}", state.dynamics)
        atomic_write_text(self.directory / LATEST, json.dumps({"checkpoint": name, "epoch": state.epoch}) + "\n")
        self._prune(keep_from=state.epoch)
        return name

    def restore(self) -> RunState | None:
        """Loads the newest intact checkpoint into the model and optimizer; returns its state.

        Returns:
            The run state, or None when there is no checkpoint at all.

        Raises:
            CheckpointError: checkpoints exist, none intact.
        """
        self.clean_temporary()
        skipped = []
        latest_path = self.directory / LATEST
        if latest_path.exists() and self.latest() is None:
            skipped.append(f"{LATEST} (unreadable)")
        for name in self.candidates():
            try:
                state = self._read(name)
            except Exception as err:  # noqa: BLE001 (any damage: truncated, garbled, missing part)
                skipped.append(f"{name} ({type(err).__name__}: {_first_line(err)})")
                continue
            if skipped:
                logger.warning("Resuming %s from %s; skipped damaged: %s.", self.directory.parent, name, "; ".join(skipped))
            return state
        if skipped and any(not s.startswith(LATEST) for s in skipped):
            raise CheckpointError(
                f"No intact checkpoint in {self.directory} ({'; '.join(skipped)}); pass --overwrite to start the run "
                "again, or restore the folder from a backup.")
        if skipped:
            logger.warning("%s: %s; no checkpoint found, starting at epoch 0.", self.directory, skipped[0])
        return None

    def _read(self, name: str) -> RunState:
        prefix = self.directory / name
        if not (self.directory / f"{name}.index").is_file():
            raise FileNotFoundError(f"{name}.index is missing")
        state = read_json(self.directory / f"{name}.state.json")
        dynamics = _load_dynamics(self.directory, name, int(state["epoch"]))
        self.checkpoint.read(str(prefix)).assert_existing_objects_matched()
        return RunState.from_json(state, dynamics)

    def clean_temporary(self) -> None:
        """Removes what killed writes left: ``*_temp`` checkpoint folders, ``.tmp`` files and the
        temporary files of atomic writes (``.epoch-000003.<pid>.<hex>.tmp.state.json``)."""
        if not self.directory.is_dir():
            return
        for path in self.directory.iterdir():
            if path.is_dir() and path.name.endswith("_temp"):
                shutil.rmtree(path, ignore_errors=True)
            elif path.name.endswith(".tmp") or is_temporary(path.name):
                path.unlink(missing_ok=True)

    def _prune(self, keep_from: int) -> None:
        epochs = sorted({int(m.group(1)) for p in self.directory.iterdir()
                         if (m := _NAME.match(p.name.split(".")[0]))})
        for epoch in epochs[:-KEEP]:
            if epoch < keep_from:
                for path in self.directory.glob(f"epoch-{epoch:06d}.*"):
                    path.unlink(missing_ok=True)


DYNAMICS_SUFFIX = "examples.npz"
_DYNAMICS_ARRAYS = ("first_correct", "first_learned", "forgetting_events", "epochs_correct", "last_correct")


def _save_dynamics(path: Path, dynamics: ExampleDynamics) -> None:
    """The per-example arrays and ``since_epoch`` in one .npz, atomically."""
    arrays = {name: getattr(dynamics, name) for name in _DYNAMICS_ARRAYS}

    def write(tmp: Path) -> None:
        with tmp.open("wb") as f:  # a file object: np.savez would append ".npz" to a path
            np.savez(f, since_epoch=np.int64(dynamics.since_epoch), **arrays)

    atomic_write_with(path, write)


def _load_dynamics(directory: Path, name: str, epoch: int) -> ExampleDynamics:
    """A checkpoint's dynamics; from an older checkpoint's first_correct.npy, counting from the next epoch."""
    path = directory / f"{name}.{DYNAMICS_SUFFIX}"
    if path.is_file():
        with np.load(path, allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in _DYNAMICS_ARRAYS}
            since = int(stored["since_epoch"])
        sizes = {a.size for a in arrays.values()}
        if len(sizes) != 1:
            raise ValueError(f"{path.name}: per-example arrays of different lengths {sorted(sizes)}")
        return ExampleDynamics(**arrays, since_epoch=since)
    older = directory / f"{name}.first_correct.npy"
    if not older.is_file():
        raise FileNotFoundError(f"{path.name} is missing")
    first_correct = np.load(older, allow_pickle=False).astype(np.int32)
    # An example first correct at epoch >= 1 was learned then (epoch 0 is before training): the older
    # checkpoint already says when; what it lacks (forgetting, epochs correct) counts from the next epoch.
    first_learned = np.where(first_correct >= 1, first_correct, -1).astype(np.int32)
    return dataclasses.replace(empty_dynamics(first_correct.size, since_epoch=epoch + 1), first_correct=first_correct,
                               first_learned=first_learned)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else ""
