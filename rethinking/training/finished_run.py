"""Reading a finished run back: its results (no TensorFlow) and its trained model."""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path
from typing import Any

from rethinking.config import RunConfig
from rethinking.training.rundir import (
    COMPLETE_STATUSES, CONFIG_FILE, MODEL_FILE, RESULTS_FILE, config_of_run, read_json,
)


@dataclasses.dataclass(frozen=True)
class LoadedRun:
    """A completed run, picked up again: ``load_run(directory)``.

    Attributes:
        model: the trained ``keras.Model`` (from ``model.keras``).
        config: its ``RunConfig`` (pointed at where the folder is now).
        results: ``results.json``.
        directory: the run folder.
    """

    model: Any
    config: RunConfig
    results: dict[str, Any]
    directory: Path


def completed_results(directory: str | Path) -> dict[str, Any]:
    """The results of a completed run folder with its model, without loading anything heavy.

    Raises:
        ValueError: not a run folder, a run that has not completed, or no readable model.keras.
    """
    path = Path(directory)
    results_path = path / RESULTS_FILE
    if not (path / CONFIG_FILE).is_file() or not results_path.is_file():
        raise ValueError(f"{path} is not a run folder (no {CONFIG_FILE} and {RESULTS_FILE}).")
    results = read_json(results_path)
    if results.get("status") not in COMPLETE_STATUSES:
        raise ValueError(f"{path} has not completed (status {results.get('status')!r}): finish it with "
                         f"'rethinking train --resume {path}' first.")
    if not zipfile.is_zipfile(path / MODEL_FILE):
        raise ValueError(f"{path} has no readable {MODEL_FILE}: 'rethinking train --resume {path}' writes it again.")
    return results


def load_run(directory: str | Path, *, compile: bool = False) -> LoadedRun:
    """The model, config and results of a completed run.

    The toolkit's layers are registered by ``import rethinking``; a builder of your own named by its
    location (``package.module:function``) or by an installed package is imported first, so the
    custom layers its module registers are known too.

    Args:
        directory: the run folder.
        compile: also restore the optimizer and loss (``keras.saving.load_model``'s ``compile``).

    Raises:
        ValueError: not a run folder, or a run that has not completed.
    """
    path = Path(directory)
    results = completed_results(path)
    config = config_of_run(path)
    from rethinking.models import model_entry  # noqa: PLC0415 (plain Python)

    try:
        model_entry(config.model.name).load()  # a user's module registers its custom layers on import
    except ValueError:
        pass  # a builder registered at run time: its layers must be registered by the caller
    import keras  # noqa: PLC0415

    from rethinking.runtime import register_layers  # noqa: PLC0415

    register_layers()
    model = keras.saving.load_model(path / MODEL_FILE, compile=compile)
    return LoadedRun(model=model, config=config, results=results, directory=path)
