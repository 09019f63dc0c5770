"""Which training examples a run trains on: the first ``train_examples`` after ``train_offset``,
and with ``replace_example`` one of them replaced by the next unused example (uniform stability).

Every kept example keeps its index in the full split, so its randomization is the full run's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import tensorflow as tf

from rethinking.config.data import DataConfig
from rethinking.data.bundle import DataBundle
from rethinking.data.tracing import as_written


def first_training_examples(bundle: DataBundle, count: int, offset: int = 0) -> DataBundle:
    """The bundle with only ``count`` training examples, from the ``offset``-th on (the test split untouched).

    Corruptions are functions of (seed, example index) and the Gaussian condition keeps the full
    training set's moments, so a kept example is exactly what it is in the full dataset (with its
    index: examples ``offset`` .. ``offset + count - 1``).

    Raises:
        ValueError: the range exceeds the training set.
    """
    size = bundle.info.train_size
    if offset + count > size:
        where = f"train_offset={offset} + " if offset else ""
        raise ValueError(f"{where}train_examples={count} exceeds the {size:,} training examples of "
                         f"{bundle.info.name}: use smaller values or leave them unset.")
    info = dataclasses.replace(bundle.info, train_size=count)
    return dataclasses.replace(bundle, train=bundle.train.skip(offset).take(count), info=info)


def kept_training_examples(bundle: DataBundle, config: DataConfig) -> DataBundle:
    """The bundle with the training examples ``config`` keeps (``train_offset``, ``train_examples``).

    Raises:
        ValueError: the offset leaves no example, or the range exceeds the training set.
    """
    if config.train_offset >= bundle.info.train_size:
        raise ValueError(f"train_offset={config.train_offset} leaves none of the {bundle.info.train_size:,} "
                         f"training examples of {bundle.info.name}: use a smaller value.")
    if config.train_examples is None and not config.train_offset:
        return bundle
    count = config.train_examples if config.train_examples is not None else bundle.info.train_size - config.train_offset
    return first_training_examples(bundle, count, config.train_offset)


def replacement_example(bundle: DataBundle, config: DataConfig) -> dict[str, tf.Tensor] | None:
    """The example that replaces ``config.replace_example``: the first training example after those
    kept (None without a replacement).

    Raises:
        ValueError: the dataset has no training example after those kept.
    """
    if config.replace_example is None:
        return None
    after = config.train_offset + (config.train_examples or 0)
    if after >= bundle.info.train_size:
        raise ValueError(f"--replace-example needs a training example after the {config.train_examples:,} kept, and "
                         f"{bundle.info.name} has {bundle.info.train_size:,}: use a smaller --train-examples.")
    return next(iter(bundle.train.skip(after).take(1)))


def replace_at(ds: tf.data.Dataset, index: int, replacement: Mapping[str, tf.Tensor]) -> tf.data.Dataset:
    """``ds`` with the example of dataset index ``index`` replaced by ``replacement`` (all but its index).

    The replaced example keeps its position and its index: shuffling (a function of position) and
    label corruption (a function of the index) treat it as they treated the original, so a run on
    this data differs from one on ``ds`` in that example's image and true label only.
    """
    fields = {k: tf.constant(v.numpy() if hasattr(v, "numpy") else v) for k, v in replacement.items() if k != "index"}

    def swap(ex: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        hit = tf.equal(ex["index"], tf.cast(index, ex["index"].dtype))
        replaced = {k: (tf.cast(fields[k], v.dtype) if k in fields else v) for k, v in ex.items()}
        return tf.cond(hit, lambda: replaced, lambda: ex)

    return ds.map(as_written(swap), num_parallel_calls=tf.data.AUTOTUNE)
