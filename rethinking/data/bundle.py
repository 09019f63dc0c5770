"""What every dataset loader returns (``DataBundle``, ``DatasetInfo``), its one error, and the
per-channel moments: the floor that ``datasets.py`` (in-memory data) and ``tfds.py`` both stand on.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import tensorflow as tf

from rethinking.data.catalog import DATASETS
from rethinking.data.tracing import as_written


class DatasetUnavailableError(RuntimeError):
    """The dataset exists but is not on this machine and cannot be downloaded now."""


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a loaded dataset is.

    Attributes:
        name: the name it was loaded by (registry name, TFDS name, or the .npz path).
        source: ``"embedded"``, ``"tfds"``, ``"npz"`` or ``"function"`` (a dataset function of yours).
        image_shape: (H, W, C); H and W are None for variable-size images (ImageNet).
        num_classes: K.
        class_names: one name per class.
        train_size: number of training examples.
        test_size: number of test examples.
        channel_mean: per-channel mean of the training images, pixel units (0-255); None if not computed.
        channel_std: per-channel standard deviation of the training images, pixel units.
    """

    name: str
    source: str
    image_shape: tuple[int | None, int | None, int]
    num_classes: int
    class_names: tuple[str, ...]
    train_size: int
    test_size: int
    channel_mean: tuple[float, ...] | None = None
    channel_std: tuple[float, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class DataBundle:
    """Train and test example datasets plus their ``DatasetInfo``."""

    train: tf.data.Dataset
    test: tf.data.Dataset
    info: DatasetInfo


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def describe_known() -> str:
    """One line naming what ``load_dataset`` accepts, for error messages."""
    return (
        f"use one of {', '.join(DATASETS)}, another TFDS image-classification name, "
        "a path to a .npz file (x_train, y_train, x_test, y_test), or a function of yours as package.module:function"
    )


# ---------------------------------------------------------------------------------------------
def channel_moments(images: tf.data.Dataset, crop: tuple[int, int] | None = None,
                    batch: int = 1024) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of a dataset of images [H, W, C], in pixel units, in float64.

    The one place moments are computed: for in-memory data, TFDS data (cached next to it) and the
    centre crops the network sees (Gaussian images, ``pipeline.seen_moments``).

    Args:
        images: a dataset of single images (uint8 or float, pixel units).
        crop: (height, width) of a centre crop to take first; None: the whole images.
        batch: images per reduction step (memory: batch x H x W x C x 8 bytes).

    Returns:
        ``(mean, std)``, each a tuple of C floats.
    """
    channels = int(images.element_spec.shape[-1])

    def moments(block: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        if crop is not None:
            top = (tf.shape(block)[1] - crop[0]) // 2
            left = (tf.shape(block)[2] - crop[1]) // 2
            block = block[:, top:top + crop[0], left:left + crop[1], :]
        x = tf.reshape(tf.cast(block, tf.float64), [-1, channels])
        return tf.reduce_sum(x, 0), tf.reduce_sum(x * x, 0), tf.cast(tf.shape(x)[0], tf.float64)

    zero = tf.zeros([channels], tf.float64)
    total, total_sq, count = images.batch(batch).map(as_written(moments)).reduce(
        (zero, zero, tf.constant(0.0, tf.float64)),
        as_written(lambda acc, m: (acc[0] + m[0], acc[1] + m[1], acc[2] + m[2])))
    mean = (total / count).numpy()
    std = np.sqrt(np.maximum((total_sq / count).numpy() - mean**2, 0.0))
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)
