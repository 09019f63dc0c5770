"""Pixel operations inside the training and evaluation steps (``--pixel-ops device``).

With ``pixel_ops = "host"`` (the default) the tf.data pipeline hands the network finished float32
images: crop, flip, pixel permutation and per-image standardization run in its ``map`` calls on the
CPU. With ``"device"`` the pipeline hands over the cached pixels as they are (uint8 at their stored
size for real images: a quarter of the bytes of float32) together with what the pixel work needs,
and ``DevicePixels.images`` does that work inside the step function, i.e. inside the distribution
strategy's replica function, on each replica's device (a GPU's, as airbench keeps CIFAR-10 on the
GPU). The label and pixel corruptions stay where they are: computed once before the cache, pure
functions of (seed, split, index).

What a raw batch carries (``pixel_inputs``), all along the batch dimension so that a strategy can
split it across replicas:

* ``image``: the cached pixels (uncropped where the training split is augmented);
* ``RAW_KEY``: marks the batch as raw (all True; a byte per example);
* ``OFFSET_KEY`` and ``FLIP_KEY`` when the batch is augmented: each example's crop corner and
  whether it is mirrored, drawn in the input pipeline from (seed, epoch, index) exactly as the host
  path draws them (``batch_draws``: a few scalars per example; XLA's random streams differ from
  TensorFlow's, so they are not drawn in a jit-compiled step);
* ``PERMUTATION_KEY``: each example's own pixel permutation (random pixels under augmentation);
* ``TRAIN_SPLIT_KEY``: the dataset-wide permutation (shuffled pixels under augmentation) is still
  to be applied (only the training split's batches; the test split is permuted in its cache).

Both placements give bit-identical model inputs (tests/data/test_device_pixels.py): the draws
are the Philox numbers ``tf.image.stateless_random_crop`` and
``tf.image.stateless_random_flip_left_right`` use per image on the host, and the device slices,
reverses, gathers and standardizes the whole batch at once, dividing by 255 with ``divide_no_nan``
(Grappler rewrites ``x / 255`` in a ``tf.function``) and outside XLA (which rewrites the division and
reorders the standardization's sums): a jit-compiled model step is called after the pixel work
(``training.evaluation``). Colour jitter and variable-size images stay on the host (refused with
``device``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import tensorflow as tf

from rethinking.config.data import PIXEL_PLACEMENTS, Preprocessing  # noqa: F401 (re-exported)
from rethinking.data import preprocessing, seeds
from rethinking.data.corruptions import permute_batch

# Keys of a raw batch besides "image" and "index" (see the module docstring).
PERMUTATION_KEY = "pixel_permutation"
OFFSET_KEY = "crop_offset"
FLIP_KEY = "flip"
TRAIN_SPLIT_KEY = "deferred_permutation"
RAW_KEY = "raw_pixels"
PIXEL_KEYS = ("image", RAW_KEY, OFFSET_KEY, FLIP_KEY, PERMUTATION_KEY, TRAIN_SPLIT_KEY)


def augment_draws(seed: int, epoch: tf.Tensor | int, index: tf.Tensor, *, stored_shape: tuple[int, int, int],
                  size: tuple[int, int]) -> tuple[tf.Tensor, tf.Tensor]:
    """One example's random-crop offset and flip, drawn as ``preprocessing.prepare_example`` draws them.

    Returns:
        ``(offset, flip)``: int32 [2], the (top, left) corner of the crop in the (padded) image, as
        ``tf.image.stateless_random_crop`` picks it; and a bool scalar, whether
        ``tf.image.stateless_random_flip_left_right`` mirrors the image.
    """
    key = seeds.fold(seeds.fold(seeds.stream_seed(seed, seeds.AUGMENT), epoch), index)
    keys = tf.random.experimental.stateless_split(key, num=3, alg=seeds.ALG)
    shape = tf.constant(padded_shape(stored_shape, size), tf.int32)
    # stateless_random_crop: a uniform int32 per dimension (maxval int32 max), modulo the room left.
    limit = shape - tf.constant([size[0], size[1], stored_shape[2]], tf.int32) + 1
    offset = tf.random.stateless_uniform([3], seed=keys[0], maxval=tf.int32.max, dtype=tf.int32) % limit
    # stateless_random_flip_left_right on one image: mirror when a uniform [0, 1) draw is below 0.5.
    flip = tf.random.stateless_uniform([], seed=keys[1], minval=0, maxval=1.0) < 0.5
    return offset[:2], flip


def batch_draws(seed: int, epoch: tf.Tensor | int, index: tf.Tensor, *, stored_shape: tuple[int, int, int],
                size: tuple[int, int]) -> tuple[tf.Tensor, tf.Tensor]:
    """``augment_draws`` for a batch of indices [B]: offsets int32 [B, 2] and flips bool [B].

    Drawn in the input pipeline (a few scalars per example): XLA's Philox streams differ from
    TensorFlow's kernels, so draws inside a jit-compiled step would not match the host's crops.
    """
    epoch = tf.cast(epoch, tf.int64)

    def draw(i: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return augment_draws(seed, epoch, i, stored_shape=stored_shape, size=size)

    return tf.map_fn(draw, tf.cast(index, tf.int64),
                     fn_output_signature=(tf.TensorSpec([2], tf.int32), tf.TensorSpec([], tf.bool)))


def exact_to_float(images: tf.Tensor) -> tf.Tensor:
    """``preprocessing.to_float`` (pixels / 255) computed as a true division in graph mode too:
    Grappler turns ``x / 255.0`` into ``x * (1 / 255)`` inside a ``tf.function`` (1 ulp off for some
    pixels), but leaves ``divide_no_nan`` alone (equal to the division for a non-zero divisor)."""
    return tf.math.divide_no_nan(tf.cast(images, tf.float32), tf.constant(255.0))


def padded_shape(stored_shape: tuple[int, int, int], size: tuple[int, int]) -> tuple[int, int, int]:
    """The shape a random crop draws from: zero-padded by H/8 per side for a full-size crop
    (``preprocessing.random_crop``), else the stored shape."""
    h, w, c = stored_shape
    if (h, w) != tuple(size):
        return h, w, c
    pad = preprocessing.pad_for_random_crop(h)
    return h + 2 * pad, w + 2 * pad, c


def crop_at(images: tf.Tensor, offsets: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """Each image [B, H, W, C] cut to ``size`` at its own (top, left) offset [B, 2]: two batched gathers."""
    rows = offsets[:, :1] + tf.range(size[0])[tf.newaxis, :]
    columns = offsets[:, 1:] + tf.range(size[1])[tf.newaxis, :]
    images = tf.gather(images, rows, axis=1, batch_dims=1)
    return tf.gather(images, columns, axis=2, batch_dims=1)


@dataclasses.dataclass(frozen=True)
class DevicePixels:
    """The pixel work of a pipeline, for its raw batches (``DataPipeline.raw``).

    Attributes:
        prep: the preprocessing switches.
        size: the network's (height, width).
        shared_permutation: the training split's dataset-wide permutation [H*W] still to apply
            (shuffled pixels under augmentation), or None.
    """

    prep: Preprocessing
    size: tuple[int, int]
    shared_permutation: tf.Tensor | None = None

    def images(self, inputs: tf.Tensor | Mapping[str, tf.Tensor]) -> tf.Tensor:
        """The network's input batch from a raw batch's ``pixel_inputs`` (a tensor passes through:
        already prepared on the host).

        Bit-identical to the host's images in eager and graph mode, not under XLA (which rewrites a
        division by 255 and reorders the standardization's sums): callers keep it outside
        jit-compiled functions (``training.evaluation.attach_pixel_work``).
        """
        if not isinstance(inputs, Mapping):
            return inputs
        image = inputs["image"]
        stored = tuple(int(d) for d in image.shape[1:])
        if OFFSET_KEY in inputs:
            h, w, _ = padded_shape(stored, self.size)
            pad_h, pad_w = (h - stored[0]) // 2, (w - stored[1]) // 2
            if pad_h or pad_w:
                image = tf.pad(image, [[0, 0], [pad_h, pad_h], [pad_w, pad_w], [0, 0]])
            image = exact_to_float(crop_at(image, inputs[OFFSET_KEY], self.size))
        else:
            image = exact_to_float(preprocessing.center_crop(image, *self.size) if stored[:2] != self.size else image)
        if FLIP_KEY in inputs:
            image = tf.where(inputs[FLIP_KEY][:, tf.newaxis, tf.newaxis, tf.newaxis], tf.reverse(image, axis=[2]), image)
        if PERMUTATION_KEY in inputs:
            image = permute_batch(image, inputs[PERMUTATION_KEY])
        elif TRAIN_SPLIT_KEY in inputs and self.shared_permutation is not None:
            image = permute_batch(image, self.shared_permutation)
        return preprocessing.standardize_batch(image, self.prep)


def pixel_inputs(batch: Mapping[str, tf.Tensor]) -> tf.Tensor | dict[str, tf.Tensor]:
    """What the model-side function gets of a batch: the image of a host-prepared batch, or the
    pixel keys of a raw one (``DevicePixels.images`` finishes it)."""
    if RAW_KEY not in batch:
        return batch["image"]
    return {key: batch[key] for key in PIXEL_KEYS if key in batch}


def check_placement(placement: str, prep: Preprocessing, image_shape: tuple[int | None, int | None, int]) -> None:
    """Raises ValueError where ``placement`` cannot be used (one line saying what to do)."""
    if placement not in PIXEL_PLACEMENTS:
        raise ValueError(f"Unknown pixel_ops {placement!r}: use host or device.")
    if placement != "device":
        return
    if prep.color_jitter:
        raise ValueError("--pixel-ops device does not run colour jitter: drop --color-jitter or use --pixel-ops host.")
    if None in image_shape[:2]:
        raise ValueError("--pixel-ops device needs fixed-size images (these are resized per image on the host): "
                         "use --pixel-ops host.")
