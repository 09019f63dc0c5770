"""The training engine: ``train(RunConfig) -> results``.

One epoch at a time: train (``model.fit`` for one epoch, or the distributed step loop under
multi-worker), then evaluate the whole training set in inference mode (split into corrupted and
clean examples) and the test set, record, write TensorBoard, checkpoint, and decide whether to
stop (epoch cap, time to fit, divergence). Training epoch ``e`` always sees the batches
``DataPipeline.train(e)``, a pure function of (seed, e): a resumed run trains on exactly the data
an uninterrupted one does.

The rooms around it: ``drivers`` (one epoch through ``model.fit`` or ``strategy.run``),
``evaluation`` (per-example inference-mode passes), ``rundir`` (every file of the run folder),
``checkpoints``, ``runlock`` (one writer), ``assembly`` (the compiled model), ``summaries``.

The training logic itself is Keras' ``Model.train_step`` (forward, loss with the weight-decay
penalty, gradients, SGD update, metrics) in both drivers: ``model.fit`` calls it, and so does
``drivers.distributed_epoch`` through ``strategy.run``, because Keras 3's ``fit`` fails under
``MultiWorkerMirroredStrategy`` (keras-team/keras#20585).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from rethinking.config import RunConfig
from rethinking.data.pipeline import DataPipeline
from rethinking.data import reuse
from rethinking.data.preview import sample_training_images
from rethinking.atomic import remove_temporary
from rethinking.training import drivers, example_files, init_from, rundir, summaries
from rethinking.training.assembly import assemble_model, scheduled_rate, use_builder
from rethinking.training.checkpoints import Checkpointer
from rethinking.training.run_state import RunState
from rethinking.training.progress import StepProgress, StepReporter
from rethinking.training.runlock import RunLock
from rethinking.training.evaluation import (FitWatch, attach_pixel_work, evaluate_epoch, evaluate_split,
                                            evaluation_batch_size, evaluation_cache_bytes, evaluation_datasets,
                                            make_loss_and_correct_fn)
from rethinking.training.strategy import get_strategy, is_chief, uses_keras_fit, worker_id

logger = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or exceeded ``TrainConfig.divergence_loss``; the run directory is kept."""


def train(
    config: RunConfig,
    *,
    overwrite: bool = False,
    progress: Callable[[dict[str, Any]], None] | None = None,
    step_progress: Callable[[StepProgress], None] | None = None,
    driver: str = "auto",
    model: Callable[..., keras.Model] | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    metrics: Sequence[keras.metrics.Metric] = (),
) -> dict[str, Any]:
    """Trains (or resumes, or returns the stored results of) the run of ``config``.

    The run directory is owned by this process while it trains (``runlock.RunLock``): a second
    process on the same run stops at once with ``RunLocked``. A run whose results say it completed
    but whose promised files are missing or unreadable is repaired from its last checkpoint.

    Args:
        config: the run.
        overwrite: delete an existing run directory of this config and start again.
        progress: called with each epoch's metrics row (the CLI prints it), plus ``epochs`` (the
            cap) and ``batch_norm`` (whether the network has batch norm).
        step_progress: called during each epoch's training steps with a ``StepProgress`` (steps
            done, ETA, running loss and accuracy), at most every ``progress.REPORT_SECONDS``.
        driver: ``"auto"`` (``model.fit`` unless multi-worker, or ``--pixel-ops device`` under a
            distribution strategy), ``"fit"`` or ``"loop"`` (the distributed step loop, also usable
            on one machine; for tests and comparisons).
        model: your network instead of ``config.model.name``: a builder ``(input_shape,
            num_classes, **switches) -> keras.Model`` or a factory ``() -> keras.Model``. The run
            records where to find it (``module:function``) or, for a local function, its name
            (see ``assembly.use_builder``).
        callbacks: Keras callbacks run inside the engine's epochs: ``on_train_begin``/``end`` once
            per session, ``on_epoch_begin(epoch)`` and ``on_epoch_end(epoch, logs)`` with the
            0-based index of the epoch and the engine's metrics row (train/test accuracy,
            corrupted/clean split, ...), batch events from the training steps. A callback that sets
            ``model.stop_training`` ends the run after that epoch (status finished,
            ``stopped_by_callback``).
        metrics: extra Keras metrics compiled into the model; their running training-batch values
            are logged per epoch as ``batch_<name>`` (metrics.csv, TensorBoard).

    Returns:
        The results dict also written to ``results.json``.

    Raises:
        ValueError: an invalid config, an impossible combination, bad data, or a run directory
            holding a different config.
        RunLocked: another live process owns the run directory.
        CheckpointError: checkpoints exist but none can be read.
        TrainingDiverged: the loss became NaN or too large (``results.json`` says so).
        OSError: the run directory cannot be written (see ``rundir.describe_os_error``).
    """
    if model is not None:
        config = use_builder(config, model)
    with _op_determinism(config.train.deterministic):
        return _train_locked(config, overwrite=overwrite, progress=progress, driver=driver, callbacks=callbacks,
                             metrics=metrics, step_progress=step_progress)


@contextlib.contextmanager
def _op_determinism(wanted: bool) -> Iterator[None]:
    """TensorFlow op determinism for one run: enabled if ``wanted`` and off, and switched off again after.

    TensorFlow's switch is process-wide; left on, every later run of the process (the next runs of a
    sweep, a tuner's trials) would be deterministic too, and Keras then silently drops XLA. A state
    the caller set before is left as it was.
    """
    from tensorflow.python.framework import config as framework_config  # noqa: PLC0415 (no public "disable")

    switched = wanted and not framework_config.is_op_determinism_enabled()
    if switched:
        tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if switched:
            framework_config.disable_op_determinism()


def _train_locked(config: RunConfig, *, overwrite: bool, progress, driver: str, callbacks, metrics,
                  step_progress=None) -> dict[str, Any]:
    """``train`` after the model is resolved: the strategy, the run lock, then the owned run."""
    strategy = get_strategy(config.train.strategy)
    fit_possible = uses_keras_fit(strategy, config.data.pixel_ops)
    keras_fit = {"auto": fit_possible, "fit": True, "loop": False}[driver]
    if keras_fit and not fit_possible:
        raise ValueError("model.fit cannot drive a multi-worker run (keras-team/keras#20585) nor raw batches "
                         "(--pixel-ops device) under a distribution strategy; use driver='auto'.")
    chief = is_chief(strategy)
    directory = rundir.run_dir(config)
    rundir.check_writable_root(Path(config.log_dir))
    created = not directory.exists()
    lock = RunLock(directory) if chief else None
    if lock is not None:
        lock.acquire()
    try:
        return _train_owned(config, directory, strategy, keras_fit=keras_fit, chief=chief, overwrite=overwrite,
                            progress=progress, lock=lock, callbacks=callbacks, metrics=metrics,
                            step_progress=step_progress)
    except BaseException:
        # A run rejected before it wrote its config (bad data, no memory) leaves no folder behind.
        if chief and created and not (directory / rundir.CONFIG_FILE).exists():
            shutil.rmtree(directory, ignore_errors=True)
        raise
    finally:
        if lock is not None:
            lock.release()


def _train_owned(config: RunConfig, directory: Path, strategy: tf.distribute.Strategy, *, keras_fit: bool, chief: bool,
                 overwrite: bool, progress: Callable[[dict[str, Any]], None] | None,
                 lock: RunLock | None, callbacks: Sequence[keras.callbacks.Callback] = (),
                 metrics: Sequence[keras.metrics.Metric] = (),
                 step_progress: Callable[[StepProgress], None] | None = None) -> dict[str, Any]:
    """``train`` once this process owns the run directory."""
    if overwrite and chief:
        rundir.clear(directory)
    if chief:  # the one writer now: what killed writes left can go (also checkpoints/: a complete run never restores)
        for folder in (directory, directory / rundir.CHECKPOINT_DIR):
            remove_temporary(folder)
    stored = rundir.stored_complete(directory, config)
    own_dir = directory if chief else directory / "workers" / f"worker-{worker_id(strategy)}"
    if stored is not None:
        missing = rundir.missing_outputs(directory, own_dir, stored.get("files"))
        if not missing:
            logger.info("%s already completed (%s); returning its results.", directory, stored.get("status"))
            return {**stored, "already_complete": True}
        logger.warning("%s completed, but %s %s missing or unreadable; repairing from the last checkpoint.",
                       directory, ", ".join(missing), "is" if len(missing) == 1 else "are")

    keras.utils.set_random_seed(config.init_seed)
    pipeline = reuse.reused_pipeline(config.data, config.train.batch_size)  # an earlier run's, for the same data
    # The datasets the steps consume: finished images, or raw ones whose pixel work runs in the step.
    feed, pixels = pipeline, None
    if config.data.pixel_ops == "device":
        feed = pipeline.raw()
        pixels = feed.device_pixels()
    with strategy.scope():
        model, settings = assemble_model(config, pipeline, keras_fit=keras_fit, replicas=strategy.num_replicas_in_sync,
                                         metrics=metrics)
    if pixels is not None:
        attach_pixel_work(model, pixels)
    source = None
    if config.train.init_from:  # checked before the run writes anything: a refused source leaves no folder
        source_model, source_record = init_from.load_source(config.train.init_from)
        init_from.check_compatible(source_model, model, config.train.init_from)
        source = (source_model, source_record)
    if chief and not (directory / rundir.CONFIG_FILE).is_file():
        # Written once the data and the model are known to build: a rejected run leaves no folder.
        rundir.write_json(directory / rundir.CONFIG_FILE, rundir.config_record(config))
    elif chief:
        rundir.record_epoch_cap(directory, config)
    checkpointer = Checkpointer(own_dir / rundir.CHECKPOINT_DIR, model, model.optimizer)
    restored = checkpointer.restore()
    state = restored or RunState()
    resumed = state.epoch > 0 or bool(state.history)
    if chief and (restored is None or restored.saved_at is not None):  # (checkpoints of older versions: kept)
        # The points of epochs the checkpoint does not hold are redone: drop them, or they show twice.
        summaries.drop_events_after(directory, float("-inf") if restored is None else restored.saved_at)
    if source is not None:
        source[1]["layers_copied"] = len(init_from.weighted_layers(model)) - 1
        source[1]["head_seed"] = init_from.head_seed(config.init_seed)
        if not resumed:  # a resumed run continues from its own checkpoint, not from the source again
            init_from.copy_all_but_head(source[0], model, source[1]["head_seed"])
    if chief and not resumed:
        # Before the first checkpoint, so every run with a checkpoint has them (the measures'
        # distance from initialization and PAC-Bayes prior); rewritten identically if killed before it.
        rundir.save_weights_atomically(model, directory / rundir.INITIAL_WEIGHTS)
    writer = summaries.create_writers(directory if chief else None)
    batch_norm = any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
    eval_batch_size = evaluation_batch_size(model, config.train.batch_size, chosen=config.train.eval_batch_size)
    evaluated = dataclasses.replace(feed, batch_size=eval_batch_size)
    # An earlier run's, on a reused pipeline: traced once, cached once filled.
    evaluation = reuse.kept_for(pipeline, ("evaluation", feed.placement, eval_batch_size),
                                lambda: evaluation_datasets(evaluated), nbytes=evaluation_cache_bytes(evaluated))
    predict = make_loss_and_correct_fn(model, jit_compile=settings["jit_compile"], pixels=pixels, batches=evaluation)
    step_fn = None if keras_fit else drivers.make_distributed_step(model, strategy)
    logger.info("%s %s: %s, %d steps per epoch, evaluation batch %d, %s.", "Resuming" if resumed else "Starting",
                directory, type(strategy).__name__, pipeline.steps_per_epoch, eval_batch_size, settings)

    session_start, wall_before = time.perf_counter(), state.wall_seconds
    status = "running"
    hooks = keras.callbacks.CallbackList(list(callbacks), model=model)
    if not state.history:  # epoch 0: the untrained network, the start of every curve
        row = evaluate_epoch(state, predict, evaluation, config.train.fit_threshold)
        row = {"epoch": 0, "step": 0, "learning_rate": config.learning_rate, "batch_loss": float("nan"), **row,
               "epoch_seconds": 0.0, "train_images_per_second": float("nan")}
        state.wall_seconds = wall_before + time.perf_counter() - session_start
        _record(state, row, writer, checkpointer, directory, chief, progress, config, lock, batch_norm)
    if chief and not (directory / rundir.INPUTS_FILE).exists():  # after epoch 0 filled the data cache; also
        # after a kill between the first checkpoint and this point, so hparams are never missing
        _write_run_start(writer, config, pipeline, directory, batch_norm)
    stopped = False
    try:
        hooks.on_train_begin()
        while not stopped and state.epoch < config.train.epochs and not (config.train.until_fit and state.fit_epoch is not None):
            epoch_start = time.perf_counter()
            learning_rate = scheduled_rate(config, state.epoch * pipeline.steps_per_epoch, pipeline.steps_per_epoch)
            batch_logger = drivers.BatchLossLogger(writer, state.step, pipeline.steps_per_epoch // 10)
            dataset = feed.train(state.epoch)
            hooks.on_epoch_begin(state.epoch)
            fit_watch = FitWatch(state, state.step, pipeline.steps_per_epoch, config.train.fit_threshold,
                                 config.train.fit_every, predict, evaluation[0])
            epoch_callbacks = [batch_logger, fit_watch, drivers.BatchEvents(hooks)]
            if step_progress is not None:
                epoch_callbacks.append(StepReporter(step_progress, state.epoch + 1, config.train.epochs,
                                                    pipeline.steps_per_epoch))
            if keras_fit:
                logs = drivers.keras_epoch(model, dataset, epoch_callbacks)
            else:
                logs = drivers.distributed_epoch(model, strategy, dataset, step_fn, epoch_callbacks)
            train_seconds = time.perf_counter() - epoch_start
            summaries.write_fit_probes(writer, fit_watch.probes)
            batch_loss = logs.get("loss", float("nan"))
            if batch_logger.nan or not math.isfinite(batch_loss) or batch_loss > config.train.divergence_loss:
                status = "diverged"
                raise TrainingDiverged(
                    f"training diverged in epoch {state.epoch + 1} (loss {batch_loss:.4g}); lower --learning-rate "
                    f"(now {learning_rate:g}) or check the data. The run directory {directory} is kept.")
            state.epoch += 1
            state.step += pipeline.steps_per_epoch
            state.train_seconds += train_seconds
            state.images_trained += pipeline.info.train_size
            row = evaluate_epoch(state, predict, evaluation, config.train.fit_threshold)
            row = {"epoch": state.epoch, "step": state.step, "learning_rate": learning_rate, "batch_loss": batch_loss,
                   **row, "epoch_seconds": time.perf_counter() - epoch_start,
                   "train_images_per_second": pipeline.info.train_size / train_seconds,
                   **{f"batch_{k}": v for k, v in logs.items() if k not in ("loss", "accuracy")}}
            state.wall_seconds = wall_before + time.perf_counter() - session_start
            _record(state, row, writer, checkpointer, directory, chief, progress, config, lock, batch_norm)
            hooks.on_epoch_end(state.epoch - 1, dict(row))
            stopped = bool(model.stop_training)
        hooks.on_train_end()
        status = "fitted" if state.fit_epoch is not None and config.train.until_fit else "finished"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except Exception:
        if status == "running":
            status = "failed"
        raise
    finally:
        state.wall_seconds = wall_before + time.perf_counter() - session_start
        results = rundir.results_record(config, state, status, directory, pipeline, settings, strategy, batch_norm)
        if stopped:
            results["stopped_by_callback"] = True
        if source is not None:
            results["init_from"] = source[1]
        try:
            if lock is None or lock.owns():  # never write into a directory another process took over
                results = _finish(results, model=model, state=state, predict=predict, evaluation=evaluation,
                                  writer=writer, directory=directory, own_dir=own_dir, chief=chief,
                                  replaced=feed.replaced_in_order())
        finally:
            writer.close()
    return results


def _finish(results: dict[str, Any], *, model: keras.Model, state: RunState, predict: Callable,
            evaluation: tuple[tf.data.Dataset, tf.data.Dataset], writer, directory: Path, own_dir: Path,
            chief: bool, replaced: tf.data.Dataset | None = None) -> dict[str, Any]:
    """Writes what a run promises, then ``results.json``; a complete status is written last.

    With ``--replace-example``, ``results.json`` also gets ``replaced_example``: the final network's
    loss on the example the run replaced (uniform stability compares it with the partner run's).

    A kill at any instant leaves either no complete status (a rerun resumes from the last checkpoint
    and finishes again) or every promised file on disk. A failure while writing (a full disk)
    records the run as failed and re-raises.
    """
    if results["status"] in rundir.COMPLETE_STATUSES:
        try:
            rundir.save_weights_atomically(model, own_dir / rundir.FINAL_WEIGHTS)
            if chief:
                rundir.save_model_atomically(model, directory / rundir.MODEL_FILE)
                # Also repairs a completed run whose files were lost (the session trained no epoch).
                rundir.write_csv(directory / rundir.METRICS_FILE, state.history, rundir.metric_columns(state.history))
                if state.train_examples is None:  # this session trained no epoch (a repair, a kill before results.json)
                    state.train_examples = evaluate_split(predict, evaluation[0])
                    results["labels_changed"] = rundir.labels_changed(state.train_examples)
                if state.test_examples is None:
                    state.test_examples = evaluate_split(predict, evaluation[1])
                example_files.write_examples(directory, state)
                example_files.write_test_examples(directory, state.test_examples)
                if replaced is not None:
                    out = evaluate_split(predict, replaced)
                    results["replaced_example"] = {"index": int(out.index[0]), "label": int(out.label[0]),
                                                   "loss": float(out.loss[0]), "correct": bool(out.correct[0])}
                summaries.write_final(writer, results, state.epoch)
        except BaseException as err:
            if chief:
                failed = {**results, "status": "failed", "error": f"{type(err).__name__}: {err}"}
                try:
                    rundir.write_json(directory / rundir.RESULTS_FILE, failed)
                except OSError:
                    pass  # no complete status on disk either way: a rerun finishes the run
            raise
    if chief:
        if results["status"] in rundir.COMPLETE_STATUSES:
            results["files"] = rundir.file_checksums(directory)  # what a rerun verifies (missing_outputs)
        rundir.write_json(directory / rundir.RESULTS_FILE, results)
    return results


def _record(state: RunState, row: dict[str, Any], writer: summaries.RunWriters, checkpointer: Checkpointer,
            directory: Path, chief: bool, progress, config: RunConfig, lock: RunLock | None, batch_norm: bool) -> None:
    """Appends ``row``, writes metrics.csv, TensorBoard and examples.npz, and checkpoints.

    Raises:
        LockLost: another process took the run directory over; nothing is written.
    """
    if lock is not None:
        lock.check()
    state.history.append(row)
    if chief:
        rundir.write_csv(directory / rundir.METRICS_FILE, state.history, rundir.metric_columns(state.history))
        summaries.write_epoch(writer, row, steps=config.train.tensorboard_steps)
        example_files.write_examples_binary(directory, state)  # examples.csv once the run completes (_finish)
    checkpointer.save(state)
    if progress is not None:
        progress({**row, "epochs": config.train.epochs, "batch_norm": batch_norm})


def _write_run_start(writer: summaries.RunWriters, config: RunConfig, pipeline: DataPipeline, directory: Path,
                     batch_norm: bool) -> None:
    """The input grid (PNG and TensorBoard, labels drawn on), the hyperparameters, and the
    experiment folder's HParams config if it has none (a sweep writes its own first)."""
    n = min(36, pipeline.info.train_size)
    sample = reuse.kept_for(pipeline, ("preview", n), lambda: sample_training_images(pipeline, n))
    c = config.data.corruption
    description = f"labels {c.labels} (p={c.resolved_corruption_prob:g}), pixels {c.pixels}, seed {config.data.seed}"
    from rethinking.data.preview import save_preview  # noqa: PLC0415

    path = save_preview(sample, directory / rundir.INPUTS_FILE, f"{Path(pipeline.info.name).name}: {description}")
    summaries.write_image(writer, path.read_bytes(), description + "; a changed label reads 'true → assigned' in red")
    summaries.write_hparams(writer, summaries.hparams_of(config, config.learning_rate, batch_norm),
                            trial_id=summaries.trial_name(config))
    if not (directory.parent / summaries.EXPERIMENT_FILE).exists():
        summaries.write_experiment(directory.parent,
                                   summaries.declared_hparams([], names=summaries.SINGLE_RUN_HPARAMS))
