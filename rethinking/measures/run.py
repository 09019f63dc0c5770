"""Every measure of one finished run, written to its ``measures.json``.

The trained network comes from ``model.keras``, its training set from the run's own pipeline
(index order, no augmentation, the labels it was trained on: random ones in a random-label run),
the initial weights from ``initial.weights.h5`` (written by every run since this module exists).
A run from before it has its initial weights rebuilt from its config and seed, exactly as the
engine built them (``initial_network``); a run initialized from another run (``--init-from``)
cannot be rebuilt so, and its init-relative measures are left out with the reason.

``measures.json`` is written atomically by the process that computes it, holding the run's lock;
the run's other files are only read. Computing the measures of a run twice gives the same values
(every random draw is seeded); only the recorded timings differ.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from rethinking.measures import bounds, margins, norms, sharpness
from rethinking.measures.operators import linear_operators
from rethinking.training.rundir import INITIAL_WEIGHTS

logger = logging.getLogger(__name__)

MEASURES_FILE = "measures.json"
# Percentiles of the normalized margin distribution kept for the figure (1st .. 99th).
DISTRIBUTION_PERCENTILES = tuple(range(1, 100))
MEASURE_NAMES = (
    "parameter_count", "parameter_norm", "distance_from_init", "log_frobenius_product", "frobenius_sum",
    "log_spectral_product", "spectral_sum", "spectral_complexity", "spectral_complexity_init", "path_norm",
    "path_norm_squared", "output_margin", "spectral_normalized_margin", "jacobian_norm", "epsilon_sharpness",
    "pac_bayes_sigma", "pac_bayes_flatness", "pac_bayes_bound", "vc_bound",
)


def initial_network(directory: Path, model: keras.Model, config: Any) -> tuple[keras.Model | None, str]:
    """The run's network at its initial weights, and where they came from.

    Returns:
        ``(network, "saved")`` from ``initial.weights.h5``; ``(network, "rebuilt")`` from the
        config's builder and seed for a run without the file; ``(None, reason)`` when neither is
        possible.
    """
    path = Path(directory) / INITIAL_WEIGHTS
    if path.is_file():
        initial = keras.models.clone_model(model)
        initial.load_weights(path)
        return initial, "saved"
    if getattr(config.train, "init_from", None):
        return None, f"no {INITIAL_WEIGHTS}, and a run initialized from another run cannot be rebuilt"
    from rethinking.training.assembly import build_model  # noqa: PLC0415 (TensorFlow-heavy)

    keras.utils.set_random_seed(config.init_seed)
    rebuilt = build_model(config, tuple(model.input_shape[1:]), int(model.output_shape[-1]))
    return rebuilt, "rebuilt"


def training_data(config: Any, model: keras.Model):
    """The run's training set in index order, without augmentation, with its training labels, in the
    batches the run's evaluations used."""
    from rethinking.data.reuse import reused_pipeline  # noqa: PLC0415
    from rethinking.training.evaluation import evaluation_batch_size  # noqa: PLC0415

    batch = evaluation_batch_size(model, config.train.batch_size, chosen=config.train.eval_batch_size)
    # Measured right after training (train --measures, a sweep), the run's own pipeline, caches filled;
    # only the batching depends on the batch size, as in the engine's evaluations.
    pipeline = reused_pipeline(config.data, config.train.batch_size)
    return dataclasses.replace(pipeline, batch_size=batch).train_in_order()


def compute(model: keras.Model, data: Any, *, initial: keras.Model | None, train_size: int,
            examples: int = 2048, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every measure of ``model`` on its training data.

    Args:
        model: the trained network (any ``keras.Model`` of Dense/Conv2D layers).
        data: its training set (see ``margins.batches``), the labels it was trained on.
        initial: the network at its initial weights (None: the init-relative measures are None).
        train_size: the number of training examples (for the bounds).
        examples: how many training examples the sharpness, flatness and Jacobian use.
        progress: called with the name of each group of measures as it starts.

    Returns:
        ``{"measures": {name: value}, "layers": [...], "normalized_margin_percentiles": [...],
        "seconds": {group: seconds}}``.
    """
    say = progress or (lambda _: None)
    seconds: dict[str, float] = {}
    values: dict[str, Any] = {}

    def timed(group: str, fn: Callable[[], dict[str, Any]]) -> None:
        say(group)
        start = time.perf_counter()
        values.update(fn())
        seconds[group] = round(time.perf_counter() - start, 3)

    operators = linear_operators(model)
    layers = norms.layer_norms(operators)
    timed("norms", lambda: {
        "parameter_count": norms.parameter_count(model), "parameter_norm": norms.parameter_norm(model),
        "distance_from_init": norms.distance_from_init(model, initial) if initial is not None else None,
        **norms.spectral_measures(model, initial, layers), **norms.path_norm(model)})
    values.setdefault("spectral_complexity_init", None)
    logits, labels, data_norm = margins.logits_and_labels(model, data)
    margin = margins.margins(logits, labels)
    normalized = margins.normalized_margins(margin, values["spectral_complexity"], data_norm)
    values["output_margin"] = margins.percentile(margin)
    values["spectral_normalized_margin"] = (margins.percentile(normalized) if np.all(np.isfinite(normalized))
                                            else None)
    subset = sharpness.first_examples(data, examples)  # read once for the three measures below
    timed("jacobian", lambda: {"jacobian_norm": margins.jacobian_norm(model, subset, examples=min(examples, 256))})
    timed("sharpness", lambda: {"epsilon_sharpness": sharpness.epsilon_sharpness(model, subset, examples=examples)})

    def flatness() -> dict[str, Any]:
        found = sharpness.pac_bayes_flatness(model, subset, examples=examples)
        bound = None
        if initial is not None:
            kl = sharpness.pac_bayes_kl(norms.parameter_values(model), norms.parameter_values(initial), found.sigma)
            bound = sharpness.pac_bayes_bound(found.perturbed_error, kl, train_size)
        return {"pac_bayes_sigma": found.sigma, "pac_bayes_flatness": found.flatness, "pac_bayes_bound": bound}

    timed("flatness", flatness)
    values["vc_bound"] = bounds.vc_bound(values["parameter_count"], train_size)
    distribution = ([margins.percentile(normalized, q) for q in DISTRIBUTION_PERCENTILES]
                    if np.all(np.isfinite(normalized)) else None)
    return {"measures": {name: _plain(values.get(name)) for name in MEASURE_NAMES}, "layers": layers,
            "normalized_margin_percentiles": distribution, "seconds": seconds}


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    return float(value)


def measure_run(directory: str | Path, *, examples: int = 2048, overwrite: bool = False,
                progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Computes (or reads back) the measures of a finished run and writes ``measures.json``.

    The process holds the run's lock while it measures (one writer per run folder): a run being
    trained or measured by another process is refused with ``RunLocked``.

    Args:
        directory: the run folder.
        examples: training examples for sharpness, flatness and the Jacobian norm.
        overwrite: recompute even if ``measures.json`` exists for the same ``examples``.
        progress: called with each group of measures as it starts.

    Raises:
        ValueError: not a run folder, a run that has not completed, or a network the measures
            cannot read (one line each).
        RunLocked: another process owns the run folder.
    """
    from rethinking.training.finished_run import load_run  # noqa: PLC0415
    from rethinking.training.rundir import read_json, write_json  # noqa: PLC0415
    from rethinking.training.runlock import RunLock  # noqa: PLC0415

    if examples < 1:
        raise ValueError(f"Need examples >= 1. Received: examples={examples}")
    path = Path(directory)
    loaded = load_run(path)  # refuses a folder that is not a run, or a run that has not completed
    target = path / MEASURES_FILE
    lock = RunLock(path).acquire()
    try:
        if target.is_file() and not overwrite:
            try:
                stored = read_json(target)
            except ValueError:
                stored = {}  # unreadable: computed again
            if stored.get("examples") == examples and stored.get("measures_version") == MEASURES_VERSION:
                return stored
        config, results = loaded.config, loaded.results
        start = time.perf_counter()
        initial, initial_source = initial_network(path, loaded.model, config)
        train_size = int(results["train_size"])
        computed = compute(loaded.model, training_data(config, loaded.model), initial=initial, train_size=train_size,
                           examples=examples, progress=progress)
        train_accuracy, test_accuracy = float(results["train_accuracy"]), float(results["test_accuracy"])
        record = {
            "measures_version": MEASURES_VERSION, "run": path.name, "status": results.get("status"),
            "train_accuracy": train_accuracy, "test_accuracy": test_accuracy,
            "generalization_gap": train_accuracy - test_accuracy, "train_size": train_size,
            "num_classes": int(results.get("num_classes") or loaded.model.output_shape[-1]),
            "examples": examples, "initial_weights": initial_source,
            **computed, "seconds_total": round(time.perf_counter() - start, 3),
        }
        lock.check()
        write_json(target, record)
        return record
    finally:
        lock.release()


MEASURES_VERSION = 1


def after_training(config: Any, results: dict[str, Any], *,
                   progress: Callable[[str], None] | None = None) -> dict[str, Any] | None:
    """The measures of a just-trained run whose config asks for them (``--measures``), else None.

    A run that did not complete (diverged, failed) has nothing to measure: None.
    """
    from rethinking.training.rundir import COMPLETE_STATUSES, run_dir  # noqa: PLC0415

    if not config.train.measures or results.get("status") not in COMPLETE_STATUSES:
        return None
    return measure_run(run_dir(config), progress=progress)
