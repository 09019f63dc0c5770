"""Per-example evaluation in inference mode: the paper's "training accuracy" and test accuracy.

The whole split is run through the model in index order, without augmentation and with
``training=False`` (batch norm uses its moving statistics, dropout is off). Returning per-example
correctness lets the engine split accuracy into corrupted and clean examples and record the
first epoch each example is fitted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from rethinking.data.device_pixels import DevicePixels, pixel_inputs
from rethinking.data.pipeline import DataPipeline
from rethinking.training import dynamics
from rethinking.training.run_state import RunState

# The evaluation inputs are the same every epoch (no augmentation): keep them preprocessed in memory
# when they fit in this budget (bytes of float32 images; CIFAR-10's 50,000 28x28x3 images: 470 MB).
EVAL_CACHE_BYTES = 1 << 30
# The default evaluation batch: the largest power of two whose activations fit in this many bytes
# (our choice: 1 GiB fits beside training on any GPU of 8 GB or more, and on a CPU host), counted as the
# LIVE_ACTIVATIONS largest layer outputs per example in float32 (inference keeps only a few tensors
# alive at once), at least the training batch and at most EVAL_BATCH_CAP images.
EVAL_ACTIVATION_BYTES = 1 << 30
LIVE_ACTIVATIONS = 4
EVAL_BATCH_CAP = 4096


@dataclasses.dataclass(frozen=True)
class SplitEvaluation:
    """One pass over a split.

    Attributes:
        loss: per-example cross-entropy (nats) against the labels trained on (corrupted ones for
            the training set), without the weight-decay penalty.
        correct: per-example bool, argmax of the logits equals that label.
        label_corrupted: per-example bool, whether the label differs from the dataset's.
        index: per-example dataset index (the order of the arrays).
        label: per-example label evaluated against (possibly corrupted).
        true_label: per-example label of the dataset.
    """

    loss: np.ndarray
    correct: np.ndarray
    label_corrupted: np.ndarray
    index: np.ndarray
    label: np.ndarray
    true_label: np.ndarray

    @property
    def mean_loss(self) -> float:
        """Mean cross-entropy."""
        return float(self.loss.mean()) if self.loss.size else float("nan")

    @property
    def accuracy(self) -> float:
        """Fraction classified correctly."""
        return float(self.correct.mean()) if self.correct.size else float("nan")

    def accuracy_on(self, corrupted: bool) -> float:
        """Accuracy on the examples whose label was (``True``) or was not (``False``) corrupted;
        NaN when there are none."""
        mask = self.label_corrupted == corrupted
        return float(self.correct[mask].mean()) if mask.any() else float("nan")


def activation_bytes_per_example(model: keras.Model) -> int | None:
    """Bytes of the ``LIVE_ACTIVATIONS`` largest layer outputs of one example in float32 (None for a
    model whose layers have no known output shapes, e.g. a subclassed one)."""
    sizes = []
    for layer in model.layers:
        try:
            shape = layer.output.shape
        except (AttributeError, ValueError):  # a layer never called symbolically
            continue
        if all(isinstance(dim, int) for dim in shape[1:]):
            sizes.append(int(np.prod(shape[1:], dtype=np.int64)))
    if not sizes:
        return None
    return 4 * sum(sorted(sizes, reverse=True)[:LIVE_ACTIVATIONS])


def evaluation_batch_size(model: keras.Model, batch_size: int, budget: int = EVAL_ACTIVATION_BYTES,
                          chosen: int | None = None) -> int:
    """The batch of the evaluation passes (the run's and the measures'): ``chosen`` if given (the
    ``--eval-batch-size`` option), else as large as ``budget`` bytes of activations allow.

    Args:
        model: the network evaluated.
        batch_size: the training batch (the default is never smaller).
        budget: bytes of activations allowed.
        chosen: an explicit batch size, returned as it is.

    Returns:
        ``chosen``, or the largest power of two whose activations fit (``activation_bytes_per_example``),
        between ``batch_size`` and ``EVAL_BATCH_CAP``; max(batch_size, 256) when the model's shapes
        are unknown.
    """
    if chosen:
        return chosen
    per_example = activation_bytes_per_example(model)
    if per_example is None:
        return max(batch_size, 256)
    fits = max(1, budget // max(per_example, 1))
    return max(batch_size, min(1 << (fits.bit_length() - 1), EVAL_BATCH_CAP))


def make_loss_and_correct_fn(model: keras.Model, jit_compile: bool, pixels: DevicePixels | None = None,
                             batches: Sequence[tf.data.Dataset] = ()) -> Callable[[Any, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """A compiled ``(images, labels) -> (per-example loss, correct)`` in inference mode; with
    ``pixels``, ``images`` may be a raw batch's pixel inputs, finished before the (possibly
    jit-compiled) model part, outside XLA (see ``DevicePixels.images``).

    With ``batches`` (batched example datasets, e.g. the two evaluation splits), traced once up
    front per dataset for any batch size: the splits' last, smaller batches then reuse that trace
    instead of tracing again (a trace of a small model takes about 0.1 s on 2 cores; XLA still
    compiles per shape, as before).
    """

    @tf.function(jit_compile=jit_compile, reduce_retracing=True)
    def predict(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        logits = tf.cast(model(images, training=False), tf.float32)
        labels = tf.cast(labels, tf.int32)
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        correct = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), labels)
        return loss, correct

    function = predict
    if pixels is not None:
        # Not reduce_retracing: raw batches of the two splits differ in image size (the test split is
        # cropped before its cache), and a trace relaxed to unknown sizes cannot place the crop.
        @tf.function
        def predict_raw(inputs: Any, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            return predict(pixels.images(inputs), labels)

        function = predict_raw
    for dataset in batches:
        spec = dataset.element_spec
        function.get_concrete_function(pixel_inputs(spec), spec["label"])
    return function


def attach_pixel_work(model: keras.Model, pixels: DevicePixels) -> None:
    """Makes ``model.train_step`` finish raw batches (``--pixel-ops device``) before training on them.

    ``model.fit`` and the multi-worker driver both call ``model.train_step`` inside the strategy's
    replica function, so the pixel work runs there, on each replica's device. A model compiled with
    XLA keeps its step XLA-compiled, as a function of its own called after the pixel work: XLA would
    change the pixels by round-off (``DevicePixels.images``). Call before the first ``fit``; the
    override lives on this model object only (not saved with it).
    """
    train_step = model.train_step
    if model.jit_compile:
        train_step = tf.function(train_step, jit_compile=True, reduce_retracing=True)
        model.jit_compile = False  # Keras' own step function: plain graph around the compiled step

    def train_step_on_raw(data: Any) -> Any:
        x, *rest = data
        return train_step((pixels.images(x), *rest))

    model.train_step = train_step_on_raw


def evaluate_split(predict: Callable, dataset: tf.data.Dataset) -> SplitEvaluation:
    """Runs ``predict`` over a batched example dataset (dicts from ``DataPipeline``)."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("loss", "correct", "label_corrupted", "index", "label", "true_label")}
    for batch in dataset:
        loss, correct = predict(pixel_inputs(batch), batch["label"])
        parts["loss"].append(loss.numpy())
        parts["correct"].append(correct.numpy())
        for key in ("label_corrupted", "index", "label", "true_label"):
            parts[key].append(batch[key].numpy())
    dtypes = {"loss": np.float32, "correct": bool, "label_corrupted": bool}
    return SplitEvaluation(**{k: np.concatenate(v) if v else np.zeros(0, dtypes.get(k, np.int64)) for k, v in parts.items()})


def evaluation_datasets(pipeline: DataPipeline, budget: int = EVAL_CACHE_BYTES) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """The training set (no augmentation) and test set in index order, cached when small enough."""
    train, test = (ds.cache() if nbytes <= budget else ds for ds, nbytes in
                   zip((pipeline.train_in_order(), pipeline.test()), _split_bytes(pipeline)))
    return train, test


def _split_bytes(pipeline: DataPipeline) -> tuple[int, int]:
    """The training and test sets' finished float32 inputs, in bytes."""
    image_bytes = 4 * int(np.prod(pipeline.input_shape))
    return pipeline.info.train_size * image_bytes, pipeline.info.test_size * image_bytes


def evaluation_cache_bytes(pipeline: DataPipeline, budget: int = EVAL_CACHE_BYTES) -> int:
    """The memory ``evaluation_datasets(pipeline, budget)`` holds once both splits were read, in bytes."""
    return sum(nbytes for nbytes in _split_bytes(pipeline) if nbytes <= budget)


class FitWatch(keras.callbacks.Callback):
    """Time to fit within an epoch: the fit criterion every ``every`` steps, and the batch accuracy.

    After each training call, with ``every``: at every multiple of ``every`` steps that is not an
    epoch's end (evaluated anyway), until the run is fitted, the whole training set is evaluated in
    inference mode (the fit criterion); the first step at which it is fitted becomes
    ``state.fit_step``. Always: the first step at which the running training-mode accuracy of the
    epoch reaches the threshold becomes ``state.batch_fit_step``. ``batch`` is the index of the
    last step of the call (several with ``steps_per_execution``, which then sets the resolution).

    Args:
        state: the run's state (updated in place; checkpointed at the end of the epoch).
        first_step: steps taken before this epoch.
        steps_per_epoch: steps of this epoch.
        threshold: the fit threshold (fraction).
        every: steps between evaluations (None: batch accuracy only).
        predict: the inference-mode ``(images, labels) -> (loss, correct)`` function.
        dataset: the training set in index order, without augmentation.
    """

    def __init__(self, state: RunState, first_step: int, steps_per_epoch: int, threshold: float, every: int | None,
                 predict: Callable, dataset: tf.data.Dataset) -> None:
        super().__init__()
        self.state, self.first_step, self.end = state, first_step, first_step + steps_per_epoch
        self.threshold, self.every, self.predict, self.dataset = threshold, every, predict, dataset
        self.last_probe = first_step // every if every else 0
        self.probes: list[tuple[int, float]] = []  # (step, training accuracy) of each evaluation

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        step = self.first_step + batch + 1
        accuracy = (logs or {}).get("accuracy")
        if self.state.batch_fit_step is None and accuracy is not None and float(accuracy) >= self.threshold:
            self.state.batch_fit_step = step
        if not self.every or self.state.fit_step is not None or step >= self.end or step // self.every <= self.last_probe:
            return
        self.last_probe = step // self.every
        train = evaluate_split(self.predict, self.dataset)
        self.probes.append((step, train.accuracy))
        if train.accuracy >= self.threshold:
            self.state.fit_step = step


def evaluate_epoch(state: RunState, predict: Callable, datasets: tuple[tf.data.Dataset, tf.data.Dataset],
                    threshold: float) -> dict[str, Any]:
    """Evaluates both splits and updates ``state``'s best accuracy, time to fit and per-example dynamics."""
    train = evaluate_split(predict, datasets[0])
    test = evaluate_split(predict, datasets[1])
    state.train_examples, state.test_examples = train, test
    if state.dynamics.size != train.correct.size:  # the first evaluation of the run
        state.dynamics = dynamics.empty(train.correct.size, since_epoch=state.epoch)
    state.dynamics = dynamics.update(state.dynamics, train.correct, state.epoch)
    if not state.best_test_accuracy >= test.accuracy:  # also true while best is NaN
        state.best_test_accuracy, state.best_test_epoch = test.accuracy, state.epoch
    if state.fit_epoch is None and train.accuracy >= threshold:
        state.fit_epoch = state.epoch
        if state.fit_step is None:  # else found earlier, within an epoch (FitWatch)
            state.fit_step = state.step
    return {
        "train_loss": train.mean_loss, "train_accuracy": train.accuracy,
        "train_accuracy_corrupted": train.accuracy_on(True), "train_accuracy_clean": train.accuracy_on(False),
        "test_loss": test.mean_loss, "test_accuracy": test.accuracy, "best_test_accuracy": state.best_test_accuracy,
    }
