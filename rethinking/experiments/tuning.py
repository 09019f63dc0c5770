"""Hyperparameter search with keras-tuner: learning rate, weight decay and batch size of one run.

``tune(spec)`` searches, for a model and data condition (``spec.base``, a ``RunConfig``), the
initial learning rate (log-uniform), the weight decay and the batch size (choices) with
keras-tuner's Hyperband (or random search), and returns the best trial's config. Each trial
trains as ``rethinking train`` does (the same data pipeline, model builder, SGD with momentum and
the paper's per-epoch learning-rate decay).

Our choices (not the paper's, which reports no search):

* The objective is measured on a **validation split held out from the training set** (its last
  ``validation_examples`` examples), never on the test set, whose accuracy is what the paper
  reports. Validation examples keep their true labels and get the run's pixel condition, as test
  examples do. ``objective="accuracy"`` / ``"loss"`` tune for fitting the training labels
  instead (e.g. the fastest fit of random labels), with no validation split.
* Hyperband's ``max_epochs`` is the base config's ``train.epochs``.

Distributed search: keras-tuner's chief/worker model, configured by its environment variables
``KERASTUNER_TUNER_ID`` (``chief``, or a worker's id such as ``tuner0``), ``KERASTUNER_ORACLE_IP``
and ``KERASTUNER_ORACLE_PORT``. The chief holds the search's state and hands out trials over gRPC;
any number of workers (same command, same folder) train them. ``tune`` on the chief returns the
whole search's summary once every trial is done; on a worker, how many trials it trained. Once
the search is over, keras-tuner's chief rechecks every 20 s whether its workers have left; ours
rechecks every second (``chief_rechecks_every_second``: the chief ended up to 20 s after the last
worker).

TensorBoard: keras-tuner gives each trial a folder under ``<log_dir>/<experiment>/tensorboard``
with its hyperparameters (the HParams dashboard compares trials); its curves have the tags of
``rethinking train`` (``summaries.EpochSummaries``: training accuracy in inference mode with its
corrupted/clean split; ``validation/`` is the held-out split), so a search and a sweep overlay. The search state
lives in ``<log_dir>/<experiment>/<project>`` (``tune``): rerunning the same search resumes it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from rethinking.config import RunConfig
from rethinking.experiments.sweep import sweep_toml  # noqa: F401 (the writer lives next to the reader)

OBJECTIVES = {"val_accuracy": "max", "val_loss": "min", "accuracy": "max", "loss": "min"}
ALGORITHMS = ("hyperband", "random")


@dataclasses.dataclass(frozen=True)
class TuneSpec:
    """A search.

    Attributes:
        base: the run whose learning rate, weight decay and batch size are searched; its
            ``train.epochs`` is the most epochs a trial trains.
        learning_rate: (low, high) of the log-uniform initial learning rate.
        weight_decay: the weight-decay values to try.
        batch_size: the batch sizes to try.
        objective: one of ``OBJECTIVES``; ``val_*`` are measured on the held-out split.
        algorithm: ``"hyperband"`` or ``"random"``.
        max_trials: trials of the random search (Hyperband sizes itself from ``max_epochs``
            and ``factor``).
        factor: Hyperband's reduction factor.
        hyperband_iterations: Hyperband's full passes.
        validation_examples: training examples held out for ``val_*`` objectives.
        seed: the tuner's seed.
        project: the folder name of this search under ``<log_dir>/<experiment>``.
    """

    base: RunConfig
    learning_rate: tuple[float, float] = (1e-3, 0.3)
    weight_decay: tuple[float, ...] = (0.0, 1e-4, 5e-4)
    batch_size: tuple[int, ...] = (64, 128, 256)
    objective: str = "val_accuracy"
    algorithm: str = "hyperband"
    max_trials: int = 10
    factor: int = 3
    hyperband_iterations: int = 1
    validation_examples: int | None = None
    seed: int = 0
    project: str = "tune"

    def __post_init__(self) -> None:
        low, high = self.learning_rate
        if not 0 < low < high:
            raise ValueError(f"learning_rate needs 0 < low < high. Received: {self.learning_rate}")
        if not self.weight_decay or any(w < 0 for w in self.weight_decay):
            raise ValueError(f"weight_decay needs one or more values >= 0. Received: {self.weight_decay}")
        if not self.batch_size or any(int(b) != b or b < 1 for b in self.batch_size):
            raise ValueError(f"batch_size needs one or more positive integers. Received: {self.batch_size}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"Unknown objective {self.objective!r}: use one of {', '.join(OBJECTIVES)}.")
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"Unknown algorithm {self.algorithm!r}: use one of {', '.join(ALGORITHMS)}.")
        if self.max_trials < 1 or self.factor < 2 or self.hyperband_iterations < 1:
            raise ValueError("Need max_trials >= 1, factor >= 2 and hyperband_iterations >= 1.")
        if self.validation_examples is not None and self.validation_examples < 1:
            raise ValueError(f"validation_examples must be positive. Received: {self.validation_examples}")
        if self.base.train.strategy == "multi-worker":
            raise ValueError("tune runs in one process: use --strategy auto, default or mirrored.")
        if self.base.data.pixel_ops != "host":
            raise ValueError("tune does the pixel work in the input pipeline: drop --pixel-ops device (the trials' "
                             "inputs are the same either way).")

    @property
    def directory(self) -> Path:
        """``<log_dir>/<experiment>``: the tuner's state and the trials' TensorBoard logs."""
        return Path(self.base.log_dir) / self.base.experiment


DISTRIBUTED_VARIABLES = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")


class ChiefUnavailable(RuntimeError):
    """A worker of a distributed search lost its chief (the search ended, or the chief stopped)."""


def _chief_gone(err: BaseException) -> bool:
    """Whether ``err`` is gRPC's "the other end is gone" (keras-tuner's chief has exited)."""
    import grpc  # noqa: PLC0415 (keras-tuner's dependency; only a worker talks to a chief)

    return isinstance(err, grpc.RpcError) and err.code() == grpc.StatusCode.UNAVAILABLE


def distributed_role(environ: Mapping[str, str] | None = None) -> str | None:
    """This process's part in a distributed search: None (alone), ``"chief"`` or a worker's id.

    keras-tuner's rule: a search is distributed when ``KERASTUNER_ORACLE_IP`` is set; a tuner id
    containing "chief" is the chief.

    Raises:
        ValueError: the address is set without a port or a tuner id, or the port is not a port.
    """
    environ = os.environ if environ is None else environ
    if not environ.get("KERASTUNER_ORACLE_IP"):
        return None
    missing = [name for name in DISTRIBUTED_VARIABLES if not environ.get(name)]
    if missing:
        raise ValueError(f"A distributed search needs {', '.join(DISTRIBUTED_VARIABLES)}; {', '.join(missing)} "
                         "not set (the chief: KERASTUNER_TUNER_ID=chief; workers: tuner0, tuner1, ...).")
    port = environ["KERASTUNER_ORACLE_PORT"]
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"KERASTUNER_ORACLE_PORT must be a port number (1-65535). Received: {port!r}")
    tuner_id = environ["KERASTUNER_TUNER_ID"]
    return "chief" if "chief" in tuner_id else tuner_id


def trial_config(base: RunConfig, values: Mapping[str, Any]) -> RunConfig:
    """The base run with a trial's learning rate, weight decay and batch size."""
    return dataclasses.replace(
        base,
        model=dataclasses.replace(base.model, weight_decay=float(values["weight_decay"])),
        train=dataclasses.replace(base.train, learning_rate=float(values["learning_rate"]),
                                  batch_size=int(values["batch_size"])),
    )


def holdout(bundle, count: int):
    """The bundle with its last ``count`` training examples as the evaluation split.

    Training keeps the first ``train_size - count`` examples (each as in the full dataset); the
    test split is not used.

    Raises:
        ValueError: ``count`` leaves no training example.
    """
    from rethinking.data.training_set import first_training_examples  # noqa: PLC0415

    size = bundle.info.train_size
    if not 0 < count < size:
        raise ValueError(f"validation_examples={count} must be between 1 and {size - 1:,} "
                         f"(the {size:,} training examples of {bundle.info.name}).")
    kept = first_training_examples(bundle, size - count)
    info = dataclasses.replace(kept.info, test_size=count)
    return dataclasses.replace(kept, test=bundle.train.skip(size - count), info=info)


class _RunHyperModel:
    """Builds the keras-tuner HyperModel (a factory keeps keras_tuner's import lazy)."""

    @staticmethod
    def create(spec: TuneSpec, bundle) -> Any:
        import keras_tuner  # noqa: PLC0415

        from rethinking.data import build_pipeline, supervised  # noqa: PLC0415
        from rethinking.training.assembly import assemble_model  # noqa: PLC0415

        # One pipeline per batch size: trials sharing it reuse its cache of corrupted examples.
        pipelines: dict[int, Any] = {}

        class RunHyperModel(keras_tuner.HyperModel):
            trials_trained = 0  # by this process (a worker's share of a distributed search)

            def _config(self, hp) -> RunConfig:
                values = {
                    "learning_rate": hp.Float("learning_rate", *spec.learning_rate, sampling="log"),
                    "weight_decay": hp.Choice("weight_decay", list(spec.weight_decay)),
                    "batch_size": hp.Choice("batch_size", [int(b) for b in spec.batch_size]),
                }
                return trial_config(spec.base, values)

            def _pipeline(self, config: RunConfig):
                batch = config.train.batch_size
                if batch not in pipelines:  # the bundle has train_examples applied already
                    pipelines[batch] = build_pipeline(dataclasses.replace(config.data, train_examples=None, train_offset=0), batch,
                                                      bundle=bundle)
                return pipelines[batch]

            def build(self, hp):
                config = self._config(hp)
                model, _ = assemble_model(config, self._pipeline(config))
                return model

            def fit(self, hp, model, *args, epochs: int = 1, initial_epoch: int = 0, callbacks=None, **kwargs):
                pipeline = self._pipeline(self._config(hp))
                type(self).trials_trained += 1
                validation = supervised(pipeline.test()) if spec.objective.startswith("val_") else None
                # repeat(): the batches of epochs initial_epoch..epochs-1, then never read; without it
                # Keras warns "Your input ran out of data" at the end of every trial.
                data = supervised(pipeline.train_epochs(initial_epoch, epochs)).repeat()
                return model.fit(
                    data, epochs=epochs, initial_epoch=initial_epoch, steps_per_epoch=pipeline.steps_per_epoch,
                    validation_data=validation, callbacks=with_run_summaries(callbacks, pipeline), verbose=0,
                    shuffle=False)

        return RunHyperModel(name=spec.base.model.name)


def with_run_summaries(callbacks: list | None, pipeline) -> list:
    """``callbacks`` with keras-tuner's ``keras.callbacks.TensorBoard`` replaced by ``EpochSummaries``
    in the same folder (the trial's, set by keras-tuner): a trial then logs the tags of
    ``rethinking train`` (training accuracy in inference mode, its corrupted/clean split,
    validation accuracy and loss, learning rate) instead of Keras' own.
    """
    import keras  # noqa: PLC0415

    from rethinking.training.evaluation import evaluation_datasets  # noqa: PLC0415
    from rethinking.training.summaries import EpochSummaries  # noqa: PLC0415

    out = []
    for callback in callbacks or []:
        if isinstance(callback, keras.callbacks.TensorBoard):
            callback = EpochSummaries(callback.log_dir, evaluation_datasets(pipeline)[0], pipeline.steps_per_epoch)
        out.append(callback)
    return out


def _bundle(spec: TuneSpec):
    """The data a search trains on: the run's (``train_offset``/``train_examples`` applied), with the holdout split."""
    from rethinking.data.datasets import load_dataset  # noqa: PLC0415
    from rethinking.data.training_set import kept_training_examples  # noqa: PLC0415

    data = spec.base.data
    bundle = load_dataset(data.dataset, data_dir=data.data_dir, with_stats=data.corruption.needs_moments)
    bundle = kept_training_examples(bundle, data)
    if spec.objective.startswith("val_"):
        count = spec.validation_examples or max(1, bundle.info.train_size // 10)
        bundle = holdout(bundle, count)
    return bundle


def make_tuner(spec: TuneSpec, bundle=None) -> Any:
    """The keras-tuner tuner of ``spec`` (resuming a search found in its directory)."""
    import keras_tuner  # noqa: PLC0415

    hypermodel = _RunHyperModel.create(spec, bundle if bundle is not None else _bundle(spec))
    objective = keras_tuner.Objective(spec.objective, OBJECTIVES[spec.objective])
    common = dict(objective=objective, seed=spec.seed, directory=str(spec.directory), project_name=spec.project,
                  overwrite=False)
    if spec.algorithm == "hyperband":
        tuner = keras_tuner.Hyperband(hypermodel, max_epochs=spec.base.train.epochs, factor=spec.factor,
                                      hyperband_iterations=spec.hyperband_iterations, **common)
    else:
        tuner = keras_tuner.RandomSearch(hypermodel, max_trials=spec.max_trials, **common)
    if distributed_role() in (None, "chief"):  # a worker's oracle is a gRPC client: the chief keeps the state
        _save_after_ending_trials(tuner.oracle)
    return tuner


def _save_after_ending_trials(oracle: Any) -> None:
    """Makes ``oracle`` save its state once an ended trial is no longer ongoing.

    keras-tuner 1.4 saves the oracle in ``end_trial`` before it drops the trial from its ongoing
    ones; a distributed chief saves nothing later, so a search resumed from that state trains its
    last finished trial again (and re-scores it). Saving once more after ``end_trial`` fixes it.
    """
    end_trial = oracle.end_trial

    def end_trial_then_save(trial: Any) -> None:
        end_trial(trial)
        oracle.save()

    oracle.end_trial = end_trial_then_save


def _finite(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


class _AtMostOneSecondSleeps:
    """The ``time`` module, with ``sleep`` capped at one second."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(min(seconds, 1.0))


@contextlib.contextmanager
def chief_rechecks_every_second() -> Iterator[None]:
    """keras-tuner's chief server, told the search is over, waits for its workers to leave in
    20-second sleeps (``keras_tuner.src.distribute.oracle_chief.start_server``); within this
    block its sleeps last at most a second, so the chief exits within a second of the last worker.
    Left as it is if keras-tuner's module is not where 1.4 keeps it."""
    try:
        from keras_tuner.src.distribute import oracle_chief  # noqa: PLC0415
    except ImportError:
        yield
        return
    if getattr(oracle_chief, "time", None) is not time:
        yield
        return
    oracle_chief.time = _AtMostOneSecondSleeps()
    try:
        yield
    finally:
        oracle_chief.time = time


def tune(spec: TuneSpec, verbose: bool = False) -> dict[str, Any]:
    """Runs (or resumes) the search; returns a summary of every trial and the best config.

    Args:
        spec: the search.
        verbose: let keras-tuner print each trial's values and the best so far (the CLI does).

    Returns:
        Alone or on the chief of a distributed search: ``{"role", "trials_trained", "best":
        {"values", "score", "config"}, "trials": [...], "directory": str}`` (``trials_trained``:
        by this process, 0 on a chief). On a worker: ``{"role": its tuner id,
        "trials_trained": int, "directory": str}`` (the chief reports the search).

    Raises:
        ValueError: a bad spec, data that does not allow the validation split, incomplete
            distributed-search variables, or a chief that cannot listen on its port.
        DatasetUnavailableError: the dataset cannot be loaded here.
    """
    import keras  # noqa: PLC0415

    role = distributed_role()
    tuner = make_tuner(spec)
    # keras-tuner gives each trial its own subfolder of this one and logs the trial's hparams there.
    board = keras.callbacks.TensorBoard(str(spec.directory / "tensorboard"), write_graph=False, profile_batch=0)
    try:
        with chief_rechecks_every_second() if role == "chief" else contextlib.nullcontext():
            tuner.search(callbacks=[board], verbose=1 if verbose else 0)
    except Exception as err:
        address = f"{os.environ.get('KERASTUNER_ORACLE_IP')}:{os.environ.get('KERASTUNER_ORACLE_PORT')}"
        if role == "chief" and isinstance(err, RuntimeError) and "bind" in str(err).lower():  # the port is taken
            raise ValueError(f"The chief cannot listen on {address} (in use?): choose another "
                             "KERASTUNER_ORACLE_PORT.") from None
        if role not in (None, "chief") and _chief_gone(err):
            raise ChiefUnavailable(
                f"worker {role}: the chief at {address} stopped answering after {tuner.hypermodel.trials_trained} "
                "trial(s) here: the search is over (the chief reports it) or the chief stopped (rerun it and "
                "the workers to resume).") from None
        raise
    if role not in (None, "chief"):
        return {"role": role, "trials_trained": tuner.hypermodel.trials_trained, "directory": str(spec.directory)}
    trials = [_trial_summary(t) for t in tuner.oracle.trials.values()]
    trials.sort(key=lambda t: int(t["trial"]) if str(t["trial"]).isdigit() else 0)
    best_hp = tuner.get_best_hyperparameters(1)
    if not best_hp:
        raise ValueError("The search finished no trial: see the trials' errors in " + str(spec.directory))
    best_trial = tuner.oracle.get_best_trials(1)[0]
    values = {k: best_hp[0].values[k] for k in ("learning_rate", "weight_decay", "batch_size")}
    return {
        "role": role or "alone",
        "trials_trained": tuner.hypermodel.trials_trained,
        "best": {"values": values, "score": _finite(best_trial.score), "trial": best_trial.trial_id,
                 "config": trial_config(spec.base, values)},
        "trials": trials,
        "directory": str(spec.directory),
    }


def _trial_summary(trial) -> dict[str, Any]:
    values = dict(trial.hyperparameters.values)
    return {"trial": trial.trial_id, "status": str(trial.status),
            "values": {k: values.get(k) for k in ("learning_rate", "weight_decay", "batch_size")},
            "epochs": values.get("tuner/epochs"), "score": _finite(trial.score)}


# ------------------------------------------------------------------------------------------ sweep file
