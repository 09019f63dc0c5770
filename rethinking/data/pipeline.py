"""The input pipeline of a run: load -> corrupt -> cache -> shuffle -> augment -> batch -> prefetch.

The corruption is applied once, before the cache, so epochs after the first cost what a clean
pipeline costs. Shuffling and augmentation come after the cache and are seeded by (seed, epoch):
epoch e is the same whether a run reaches it directly or resumes into it.

Pixel conditions act on the image the network receives (after the crop, e.g. CIFAR-10's 28x28
centre of a 32x32 image): a shuffled or random-pixel image is exactly a permutation of the
network's clean input. Without augmentation, images are centre-cropped before the cache and
permuted there. With augmentation (random crop, flip, colour jitter) the training images stay at
their stored size in the cache and the permutation is applied per batch after augmentation, in the
graph of the input pipeline: the one dataset-wide permutation of shuffled pixels (the same one the
test split's centre crops get), or each example's own permutation of random pixels, computed once
before the cache and carried with the example. Gaussian images are drawn at the stored size with
the moments of the training images' centre crops (what the network sees), so every crop of one is
Gaussian noise with those moments.

Batches are dicts::

    {"image": float32 [B, h, w, C], "label": int [B], "index": int64 [B],
     "true_label": int [B], "label_corrupted": bool [B]}

``supervised(ds)`` turns them into the ``(image, label)`` pairs ``model.fit`` takes.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf

from rethinking.config.data import CACHE_MODES, MAX_DEFAULT_SHUFFLE_BUFFER, DataConfig  # noqa: F401 (re-exported)
from rethinking.data import preprocessing, seeds
from rethinking.registry.conditions import PixelCondition, pixel_condition
from rethinking.data.corruptions import apply_corruption, corrupt_pixels, permute_batch, registered_function
from rethinking.data.datasets import DataBundle, DatasetInfo, channel_moments, load_dataset
from rethinking.data.training_set import kept_training_examples, replace_at, replacement_example
from rethinking.data.device_pixels import (FLIP_KEY, OFFSET_KEY, PERMUTATION_KEY, RAW_KEY, TRAIN_SPLIT_KEY,
                                           DevicePixels, batch_draws, check_placement, pixel_inputs)
from rethinking.data.tracing import as_written


def _cache(ds: tf.data.Dataset, mode: str) -> tf.data.Dataset:
    if mode == "none":
        return ds
    return ds.cache() if mode == "memory" else ds.cache(mode)


# Below this many training examples a pipeline runs without tf.data's static graph rewrites and
# autotuning (our choice, measured; ``small_data``).
SMALL_DATA_EXAMPLES = 2048


def small_data(ds: tf.data.Dataset, examples: int) -> tf.data.Dataset:
    """``ds`` without tf.data's static graph rewrites and autotuning when it holds fewer than
    ``SMALL_DATA_EXAMPLES`` examples; unchanged otherwise. Datasets built from it inherit the options.

    Why: every iterator of a new dataset (each training epoch's, the first of each evaluation
    split's) serializes the dataset graph and rewrites it (map-and-batch fusion, parallel batching,
    ...) before the first batch: 15-20 ms here against 7-8 ms without (docs/benchmarks.md, "Test
    suite, ninth session"). The rewrites make augmented pipelines about 20% faster at CIFAR size,
    about 14 us an example: they pay for themselves from about 1,500 examples an epoch. Below
    that (the embedded digits, a test's dataset) they only cost. Without autotuning, ``AUTOTUNE``
    parallelism is one call per core.
    """
    if examples >= SMALL_DATA_EXAMPLES:
        return ds
    options = tf.data.Options()
    options.experimental_optimization.apply_default_optimizations = False
    options.autotune.enabled = False
    return ds.with_options(options)


def check_cache_writable(mode: str) -> None:
    """Refuses a file cache whose folder cannot be written (a read-only filesystem; a folder of
    another user), which tf.data would report only at the first batch, as a traceback.

    Raises:
        ValueError: naming the folder and what to do.
    """
    if mode in ("memory", "none"):
        return
    folder = Path(mode).expanduser().parent
    probe = folder / f".rethinking-cache-probe-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ValueError(f"--cache {mode}: cannot write in {folder} ({err.strerror or err}); choose a writable "
                         "folder, or use --cache memory.") from err


@dataclasses.dataclass(frozen=True)
class DataPipeline:
    """The datasets of one run. Build with ``build_pipeline``.

    Attributes:
        config: the ``DataConfig``.
        info: the dataset's ``DatasetInfo``.
        batch_size: global batch size.
        image_size: (height, width) of the network's input.
        corrupted_train: corrupted training examples (raw pixels), in index order, cached.
        corrupted_test: test examples after the pixel condition (labels true), cached.
        replaced_out: with ``replace_example``, the original (replaced) example, corrupted as it
            would have been; None otherwise.
        permute_after_crop: the pixel condition (a permutation, e.g. ``"shuffled"`` or
            ``"random"``) applied per batch after the crop, when the training images are cached
            uncropped (augmentation on); ``"none"`` when the cache already holds what the network sees.
        placement: ``"host"``: batches of finished images; ``"device"``: raw batches whose pixel
            work ``device_pixels()`` does in the step function (``raw()``; ``device_pixels`` module).
    """

    config: DataConfig
    info: DatasetInfo
    batch_size: int
    image_size: tuple[int, int]
    corrupted_train: tf.data.Dataset
    corrupted_test: tf.data.Dataset
    permute_after_crop: str = "none"
    replaced_out: tf.data.Dataset | None = None
    placement: str = "host"

    def raw(self) -> DataPipeline:
        """This pipeline with raw batches (``--pixel-ops device``): cached pixels plus what the pixel
        work needs; ``device_pixels().images`` finishes them inside the step.

        Raises:
            ValueError: colour jitter or variable-size images (host only).
        """
        check_placement("device", self.config.preprocessing, self.info.image_shape)
        return dataclasses.replace(self, placement="device")

    def device_pixels(self) -> DevicePixels:
        """The pixel work of ``raw()`` batches."""
        return DevicePixels(prep=self.config.preprocessing, size=self.image_size,
                            shared_permutation=self._shared_permutation())

    def _shared_permutation(self) -> tf.Tensor | None:
        """The training split's one dataset-wide permutation still to apply after the crop (shuffled
        pixels under augmentation); None otherwise (per-example ones travel with their examples)."""
        if self.permute_after_crop == "none" or pixel_condition(self.permute_after_crop).per_example:
            return None
        return _permutation(pixel_condition(self.permute_after_crop), self.image_size, seed=self.config.seed,
                            split="train")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """The model's input shape (h, w, C)."""
        return (*self.image_size, self.info.image_shape[-1])

    @property
    def steps_per_epoch(self) -> int:
        """Training batches per epoch (the last one may be partial)."""
        return -(-self.info.train_size // self.batch_size)

    def _batched(self, ds: tf.data.Dataset, *, epoch: tf.Tensor | int, training_split: bool = True) -> tf.data.Dataset:
        prep = self.config.preprocessing
        if self.placement == "device":
            return ds.batch(self.batch_size).map(
                as_written(functools.partial(self._raw_batch, epoch=epoch, training_split=training_split)),
                num_parallel_calls=tf.data.AUTOTUNE)
        if None not in self.info.image_shape[:2] and not prep.augment:
            # Deterministic path on fixed-size images: vectorized over the whole batch, with a batch
            # function traced once per pipeline (not once per epoch's dataset), called from a plain
            # function: given to map() itself, tf.data's AutoGraph wrapper would unwrap the
            # tf.function and trace its Python function again.
            batch_function = self._fixed_batch_functions[training_split]
            return ds.batch(self.batch_size).map(as_written(lambda ex: batch_function(ex)),
                                                 num_parallel_calls=tf.data.AUTOTUNE)
        finish = as_written(functools.partial(self._finish_batch, permute=training_split))
        ds = ds.map(
            as_written(lambda ex: {**ex, "image": preprocessing.prepare_example(
                ex["image"], ex["index"], prep=prep, size=self.image_size, seed=self.config.seed, epoch=epoch)}),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        return ds.batch(self.batch_size).map(finish, num_parallel_calls=tf.data.AUTOTUNE)

    @functools.cached_property
    def _fixed_batch_functions(self) -> dict[bool, Callable[[dict[str, tf.Tensor]], dict[str, tf.Tensor]]]:
        """The deterministic path's batch function (crop, deferred permutation, standardization), for
        the training split (True) and the test split (False): each a ``tf.function`` that every
        dataset of this pipeline calls, so each epoch's new training dataset reuses its trace instead
        of tracing it again (5-7 ms an epoch on the digits; the same ops, the same batches)."""
        def fixed(permute: bool):
            def batch_function(ex: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
                return self._finish_batch({**ex, "image": preprocessing.crop_batch(ex["image"], self.image_size)},
                                          permute=permute)
            return tf.function(batch_function, autograph=False)
        return {True: fixed(True), False: fixed(False)}

    def _finish_batch(self, batch: dict[str, tf.Tensor], *, permute: bool) -> dict[str, tf.Tensor]:
        """A batch of cropped [0, 1] images: the deferred pixel permutation (training split only;
        the test split is permuted before its cache), then standardization."""
        batch = dict(batch)
        permutation = batch.pop(PERMUTATION_KEY, None)
        image = batch["image"]
        shared = self._shared_permutation() if permute and permutation is None else None
        if permute and permutation is not None:
            image = permute_batch(image, permutation)
        elif shared is not None:  # dataset-wide, a graph constant
            image = permute_batch(image, shared)
        return {**batch, "image": preprocessing.standardize_batch(image, self.config.preprocessing)}

    def _raw_batch(self, batch: dict[str, tf.Tensor], *, epoch: tf.Tensor | int, training_split: bool) -> dict[str, tf.Tensor]:
        """A batch of cached pixels marked raw, with each example's crop corner and flip where they
        apply, and the mark of a deferred dataset-wide permutation (``device_pixels``)."""
        count = tf.shape(batch["index"])
        out = {**batch, RAW_KEY: tf.ones(count, tf.bool)}
        prep = self.config.preprocessing
        if prep.random_crop or prep.flip:
            offsets, flips = batch_draws(self.config.seed, epoch, batch["index"],
                                         stored_shape=tuple(int(d) for d in batch["image"].shape[1:]), size=self.image_size)
            if prep.random_crop:
                out[OFFSET_KEY] = offsets
            if prep.flip:
                out[FLIP_KEY] = flips
        if training_split and PERMUTATION_KEY not in batch and self.permute_after_crop != "none":
            out[TRAIN_SPLIT_KEY] = tf.ones(count, tf.bool)
        return out

    def _no_augmentation(self) -> DataPipeline:
        prep = dataclasses.replace(self.config.preprocessing, random_crop=False, flip=False, color_jitter=False)
        return dataclasses.replace(self, config=dataclasses.replace(self.config, preprocessing=prep))

    def shuffle_buffer(self) -> int:
        """The shuffle buffer size in examples."""
        return self.config.shuffle_buffer or max(1, min(self.info.train_size, MAX_DEFAULT_SHUFFLE_BUFFER))

    def train(self, epoch: int | tf.Tensor = 0) -> tf.data.Dataset:
        """One epoch of training batches: shuffled and augmented as a pure function of (seed, epoch)."""
        shuffle_seed = _shuffle_seed(self.config.seed, epoch)
        ds = self.corrupted_train.shuffle(self.shuffle_buffer(), seed=shuffle_seed, reshuffle_each_iteration=False)
        return self._batched(ds, epoch=epoch)

    def train_epochs(self, start: int, stop: int) -> tf.data.Dataset:
        """Epochs ``start .. stop-1`` back to back (``steps_per_epoch`` batches each), for ``model.fit``."""
        if not 0 <= start <= stop:
            raise ValueError(f"Need 0 <= start <= stop. Received: start={start}, stop={stop}")
        # Python-int epochs, concatenated: a symbolic epoch (Dataset.range(...).flat_map) would give
        # shuffle() a tensor seed, which fails whenever a global seed is set (tf.random.set_seed).
        epochs = [self.train(epoch) for epoch in range(start, stop)]
        if not epochs:
            return self.train(start).take(0)
        return functools.reduce(lambda a, b: a.concatenate(b), epochs).prefetch(tf.data.AUTOTUNE)

    def train_in_order(self, epoch: int | None = None) -> tf.data.Dataset:
        """The training set in index order, augmented as in ``epoch``; None (the default): without
        augmentation, the paper's "training accuracy" set."""
        pipeline = self if epoch is not None else self._no_augmentation()
        return pipeline._batched(self.corrupted_train, epoch=epoch or 0).prefetch(tf.data.AUTOTUNE)

    def replaced_in_order(self) -> tf.data.Dataset | None:
        """The replaced example (``replace_example``) as one batch without augmentation; None without one."""
        if self.replaced_out is None:
            return None
        return self._no_augmentation()._batched(self.replaced_out, epoch=0).prefetch(tf.data.AUTOTUNE)

    def test(self) -> tf.data.Dataset:
        """The test set in index order, no augmentation."""
        return self._no_augmentation()._batched(self.corrupted_test, epoch=0, training_split=False).prefetch(
            tf.data.AUTOTUNE)


def _shuffle_seed(seed: int, epoch: int | tf.Tensor) -> tf.Tensor:
    """An int64 shuffle seed that is a pure function of (data seed, epoch)."""
    key = seeds.fold(seeds.stream_seed(seed, seeds.SHUFFLE), epoch)
    # Dataset.shuffle takes one int64; keep it non-negative and below 2**31 as TF truncates to int32.
    return tf.math.floormod(key[0] * 65_537 + key[1], 2**31 - 1)


def supervised(ds: tf.data.Dataset) -> tf.data.Dataset:
    """``(image, label)`` pairs from a batched example dataset, for ``model.fit``/``evaluate`` (for a
    raw batch, the image is the dict of its pixel inputs: ``device_pixels.pixel_inputs``).

    With tf.data's autotuning switched off (``without_autotune``): see there why.
    """
    return without_autotune(ds.map(as_written(lambda ex: (pixel_inputs(ex), ex["label"])), num_parallel_calls=tf.data.AUTOTUNE))


def without_autotune(ds: tf.data.Dataset) -> tf.data.Dataset:
    """``ds`` with tf.data's autotuning model off (``AUTOTUNE`` parallelism then means one per core).

    Why: when ``model.fit`` ends an epoch, deleting the iterator waits for tf.data's autotuning
    thread, which wakes on an exponential back-off (10 ms, 20 ms, ... up to 60 s, from the iterator's
    creation). On this 2-core machine (TF 2.21) an epoch of 12-14 s of steps then returned after
    exactly 20.47 s, two epochs in three (docs/benchmarks.md). Our pipelines cache their inputs and
    augment with cheap ops, so the tuning itself buys nothing here.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.with_options(options)


def seen_moments(bundle: DataBundle, size: tuple[int, int]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std (pixel units) of the training images as the network sees them.

    That is, of their centre crops to ``size`` (CIFAR-10: the 28x28 centre), accumulated in
    float64; the dataset's own moments when no crop applies.
    """
    info = bundle.info
    h, w = info.image_shape[0], info.image_shape[1]
    if (h, w) == tuple(size) and info.channel_mean is not None and info.channel_std is not None:
        return tuple(info.channel_mean), tuple(info.channel_std)
    if h is None or w is None:
        raise ValueError("Gaussian images need a fixed image size; resize variable-size images first.")
    return channel_moments(bundle.train.map(as_written(lambda ex: ex["image"])), crop=tuple(size))


def corrupt_split(
    ds: tf.data.Dataset,
    config: DataConfig,
    *,
    num_classes: int,
    size: tuple[int, int],
    split: str,
    moments: tuple[tuple[float, ...], tuple[float, ...]] | None = None,
    transition: np.ndarray | None = None,
    human: np.ndarray | None = None,
) -> tf.data.Dataset:
    """One split's examples as the cache holds them: labels corrupted, pixels randomized.

    Fixed-size images of a split that is not augmented are centre-cropped to ``size`` first, so
    the pixel permutation acts on exactly what the network receives. An augmented training split
    keeps its stored size; its permutation (random pixels: one per example, stored under
    ``PERMUTATION_KEY``) is applied per batch after the crop (``DataPipeline``).

    Args:
        ds: example dicts (``image``, ``label``, ``index``) in index order.
        config: the data configuration.
        num_classes: K.
        size: the network's (height, width).
        split: ``"train"`` or ``"test"``.
        moments: per-channel (mean, std) of the seen training images, for Gaussian images.
        transition, human: what matrix and human labels need (``label_inputs``).
    """
    c = config.corruption
    condition = pixel_condition(c.pixels)
    labels_only = dataclasses.replace(c, pixels="original")
    out = apply_corruption(ds, labels_only, num_classes=num_classes, seed=config.seed, split=split,
                           transition=transition, human=human)
    if condition.kind == "replacement":  # drawn at the stored size, with the moments of the seen crops
        if moments is None:
            raise ValueError(f"Pixels {c.pixels!r} need the training images' channel moments.")
        out = corrupt_pixels(out, mode=c.pixels, seed=config.seed, split=split, mean=moments[0], std=moments[1],
                             gaussian_stats=c.gaussian_stats)
    shape = out.element_spec["image"].shape
    fixed = shape.rank == 3 and shape[0] is not None and shape[1] is not None
    augmented = split == "train" and config.preprocessing.augment
    if fixed and not augmented and (shape[0], shape[1]) != tuple(size):
        out = out.map(as_written(lambda ex: {**ex, "image": preprocessing.center_crop(ex["image"], *size)}),
                      num_parallel_calls=tf.data.AUTOTUNE)
    if condition.kind != "permutation":
        return out
    if not augmented:
        return corrupt_pixels(out, mode=c.pixels, seed=config.seed, split=split)
    if not fixed:
        raise ValueError("Pixel randomization needs images of a fixed HxWxC shape; resize variable-size images first.")
    if not condition.per_example:
        return out  # one constant permutation, applied per batch
    dtype = tf.int16 if size[0] * size[1] <= 2**15 else tf.int32  # half the cache for images up to 181x181

    def attach(ex: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        permutation = _permutation(condition, size, seed=config.seed, split=split, index=ex["index"])
        return {**ex, PERMUTATION_KEY: tf.cast(permutation, dtype)}

    return out.map(as_written(attach), num_parallel_calls=tf.data.AUTOTUNE)


def _permutation(condition: PixelCondition, size: tuple[int, int], *, seed: int, split: str,
                 index: tf.Tensor | None = None) -> tf.Tensor:
    """The pixel permutation ``condition`` gives an image of ``size`` (one example's, or the dataset's)."""
    function = registered_function(condition.function, "pixel condition")
    return function(size[0] * size[1], seed=seed, split=split, index=index)


def label_inputs(config: DataConfig, num_classes: int) -> dict[str, np.ndarray]:
    """What human or matrix labels need beside the examples: ``{"human": label by example index}``
    (the set's noise rate checked) or ``{"transition": K x K matrix}``; ``{}`` otherwise."""
    from rethinking.data import label_sets  # noqa: PLC0415

    c = config.corruption
    if c.labels == "human":
        return {"human": label_sets.human_labels(config.dataset, c.label_set, config.data_dir)[1]}
    if c.labels == "matrix":
        return {"transition": label_sets.transition_matrix(c, config.dataset, num_classes, config.data_dir)}
    return {}


def build_pipeline(config: DataConfig, batch_size: int, bundle: DataBundle | None = None) -> DataPipeline:
    """Loads (unless ``bundle`` is given) and corrupts the data of ``config``.

    Args:
        config: the data configuration.
        batch_size: global batch size (split across replicas by the distribution strategy).
        bundle: an already loaded dataset, to skip loading.

    Returns:
        The ``DataPipeline``.

    Raises:
        ValueError: bad configuration, e.g. a crop larger than the images or pixel randomization of
            variable-size images.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer. Received: batch_size={batch_size}")
    check_cache_writable(config.cache)
    if bundle is None:
        bundle = load_dataset(
            config.dataset, data_dir=config.data_dir, with_stats=config.corruption.needs_moments
        )
    size = preprocessing.output_size(config.preprocessing, bundle.info.image_shape)
    pixels = config.corruption.pixels
    condition = pixel_condition(pixels)
    # Moments of the full training set, so a truncated run's Gaussian images equal the full run's.
    moments = seen_moments(bundle, size) if condition.kind == "replacement" else None
    labels = label_inputs(config, bundle.info.num_classes)
    replacement = replacement_example(bundle, config)
    bundle = kept_training_examples(bundle, config)
    common = dict(num_classes=bundle.info.num_classes, size=size, moments=moments, **labels)
    replaced_out = None
    if replacement is not None:
        # The example replaced, as it would have been trained on (corrupted by its own index), for
        # the loss of the final network on it (uniform stability).
        replaced_out = small_data(_cache(corrupt_split(bundle.train.filter(as_written(lambda ex: ex["index"] == config.replace_example)),
                                                       config, split="train", **common), "memory"), 1)
        bundle = dataclasses.replace(bundle, train=replace_at(bundle.train, config.replace_example, replacement))
    train = corrupt_split(bundle.train, config, split="train", **common)
    test = corrupt_split(bundle.test, config, split="test", **common)
    deferred = pixels if condition.kind == "permutation" and config.preprocessing.augment else "none"
    return DataPipeline(
        config=config, info=bundle.info, batch_size=batch_size, image_size=size,
        corrupted_train=small_data(_cache(train, config.cache), bundle.info.train_size),
        corrupted_test=small_data(_cache(test, config.cache), bundle.info.train_size),
        permute_after_crop=deferred, replaced_out=replaced_out,
    )
