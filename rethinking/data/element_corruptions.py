"""The element layer of the randomization tests: one example's corrupted label or pixels.

Each function is a pure function of ``(seed, split, example index)`` (``corruptions.py`` explains
the seeding and applies these to whole datasets); each works eagerly and inside ``Dataset.map``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from rethinking.config.data import GAUSSIAN_STATS, _check_choice, check_probability
from rethinking.data import seeds
from rethinking.data.seeds import ALG as _ALG
from rethinking.registry import load_function
from rethinking.registry.conditions import LABEL_NOISES


@tf.autograph.experimental.do_not_convert
def registered_function(path: str, what: str):
    """``registry.load_function`` for code that runs while tf.data traces a map function (no AutoGraph
    conversion of the import machinery)."""
    return load_function(path, what)



# ---------------------------------------------------------------------------------------------
# Element functions
# ---------------------------------------------------------------------------------------------


def corrupt_label(
    label: tf.Tensor,
    index: tf.Tensor,
    *,
    num_classes: int,
    corruption_prob: float,
    seed: int,
    noise: str = "uniform",
    split: str = "train",
) -> tuple[tf.Tensor, tf.Tensor]:
    """Corrupts one label as a pure function of (seed, split, index).

    The draws are coupled across p: an example corrupted at p is also corrupted at every p' > p,
    with the same replacement class, so a corruption sweep changes a growing, nested set of labels.

    Args:
        label: the true label (integer scalar).
        index: the example's stable index (integer scalar).
        num_classes: K, the number of classes.
        corruption_prob: p, the probability that the label is redrawn.
        seed: the data seed.
        noise: ``"uniform"`` (redraw from all K classes) or ``"wrong"`` (from the K-1 others).
        split: ``"train"`` or ``"test"``: each split has its own random stream.

    Returns:
        ``(new_label, changed)``: the label (same dtype) and a bool, True iff it differs from ``label``.

    Raises:
        ValueError: p outside [0, 1], fewer than 2 classes, or an unknown noise mode.
    """
    check_probability(corruption_prob)
    _check_choice("label_noise", noise, tuple(LABEL_NOISES))
    if num_classes < 2:
        raise ValueError(f"Label corruption needs at least 2 classes. Received: num_classes={num_classes}")
    draw = registered_function(LABEL_NOISES[noise], "label noise")
    key = seeds.fold(seeds.stream_seed(seed, seeds.LABELS, split), index)
    # Two independent draws from one key: whether to redraw, and what to draw.
    keys = tf.random.experimental.stateless_split(key, num=2, alg=_ALG)
    redraw = tf.random.stateless_uniform([], keys[0], alg=_ALG) < corruption_prob
    true = tf.cast(label, tf.int64)
    new = tf.where(redraw, draw(true, keys[1], num_classes), true)
    return tf.cast(new, label.dtype), tf.not_equal(new, true)


def uniform_label(true: tf.Tensor, key: tf.Tensor, num_classes: int) -> tf.Tensor:
    """Label noise ``"uniform"``: a class drawn uniformly from all K (it may be the true one)."""
    return tf.random.stateless_uniform([], key, 0, num_classes, tf.int64, alg=_ALG)


def wrong_label(true: tf.Tensor, key: tf.Tensor, num_classes: int) -> tf.Tensor:
    """Label noise ``"wrong"``: a class drawn uniformly from the K-1 others (never the true one)."""
    offset = tf.random.stateless_uniform([], key, 1, num_classes, tf.int64, alg=_ALG)
    return (true + offset) % num_classes


def _static_hw(image: tf.Tensor | tf.TensorSpec, what: str) -> tuple[int, int, int]:
    shape = image.shape
    if shape.rank != 3 or not shape.is_fully_defined():
        raise ValueError(
            f"{what} needs images of a fixed HxWxC shape; resize variable-size images first. "
            f"Received: image.shape={shape}"
        )
    return int(shape[0]), int(shape[1]), int(shape[2])


def random_permutation(n: int, key: tf.Tensor) -> tf.Tensor:
    """A uniformly random permutation of 0..n-1, a pure function of ``key`` (shape [2]).

    Argsort of n full-range int64 Philox draws: ties have probability ~n^2 / 2^65, and this is 4x
    faster than ``index_shuffle`` for image-sized n on a CPU.
    """
    draws = tf.random.stateless_uniform([n], key, minval=None, maxval=None, dtype=tf.int64, alg=_ALG)
    return tf.argsort(draws, stable=True)


def pixel_permutation(num_pixels: int, seed: int, *, split: str = "train", index: tf.Tensor | None = None) -> tf.Tensor:
    """The single permutation of pixel positions used by shuffled pixels.

    One permutation for the whole dataset, train and test alike: ``split`` and ``index`` are
    accepted (the signature of a pixel-permutation condition) and do not change it.
    """
    if num_pixels < 1:
        raise ValueError(f"num_pixels must be positive. Received: num_pixels={num_pixels}")
    return random_permutation(num_pixels, seeds.stream_seed(seed, seeds.SHUFFLED_PIXELS, "train"))


def permute_pixels(image: tf.Tensor, permutation: tf.Tensor) -> tf.Tensor:
    """Moves pixel positions by ``permutation`` (length H*W); a pixel's channels stay together."""
    h, w, c = _static_hw(image, "Pixel permutation")
    flat = tf.reshape(image, [h * w, c])
    return tf.reshape(tf.gather(flat, permutation), [h, w, c])


def permute_batch(images: tf.Tensor, permutation: tf.Tensor) -> tf.Tensor:
    """Moves the pixel positions of a batch [B, H, W, C] by one permutation [H*W] or one per image [B, H*W].

    The batched form of ``permute_pixels``: one gather per batch, used where the permutation must
    come after a per-batch step (the random crop), so it acts on the pixels the network receives.
    """
    shape = images.shape
    if shape.rank != 4 or None in shape[1:]:
        raise ValueError(f"permute_batch needs a batch of fixed-size images [B, H, W, C]. Received: shape={shape}")
    h, w, c = int(shape[1]), int(shape[2]), int(shape[3])
    flat = tf.reshape(images, [-1, h * w, c])
    permutation = tf.cast(permutation, tf.int32)
    if permutation.shape.rank == 1:
        moved = tf.gather(flat, permutation, axis=1)
    else:
        moved = tf.gather(flat, permutation, axis=1, batch_dims=1)
    return tf.reshape(moved, [-1, h, w, c])


def example_permutation(num_pixels: int, *, index: tf.Tensor, seed: int, split: str = "train") -> tf.Tensor:
    """The permutation ``random_pixels`` applies to example ``index`` (a pure function of seed, split, index)."""
    key = seeds.fold(seeds.stream_seed(seed, seeds.RANDOM_PIXELS, split), index)
    return random_permutation(num_pixels, key)


def shuffle_pixels(image: tf.Tensor, *, seed: int) -> tf.Tensor:
    """Shuffled pixels: the dataset-wide permutation of ``seed`` applied to one image."""
    h, w, _ = _static_hw(image, "Shuffled pixels")
    return permute_pixels(image, pixel_permutation(h * w, seed))


def random_pixels(image: tf.Tensor, index: tf.Tensor, *, seed: int, split: str = "train") -> tf.Tensor:
    """Random pixels: an independent permutation of pixel positions for each image."""
    h, w, _ = _static_hw(image, "Random pixels")
    return permute_pixels(image, example_permutation(h * w, index=index, seed=seed, split=split))


def gaussian_moments(
    mean: Sequence[float], std: Sequence[float], stats: str = "per_channel"
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel moments, or their pooled global values broadcast to every channel.

    Args:
        mean: per-channel mean of the training images (pixel units, 0-255).
        std: per-channel standard deviation (pixel units).
        stats: ``"per_channel"`` or ``"global"``.

    Returns:
        ``(mean, std)`` as float32 arrays of shape [C].
    """
    _check_choice("gaussian_stats", stats, GAUSSIAN_STATS)
    m = np.asarray(mean, dtype=np.float64)
    s = np.asarray(std, dtype=np.float64)
    if m.shape != s.shape or m.ndim != 1 or np.any(s < 0):
        raise ValueError(f"mean and std must be equal-length vectors, std >= 0. Received: {mean}, {std}")
    if stats == "global":
        # Channels have equal pixel counts: pooled variance = E[var + mean^2] - (E[mean])^2.
        g_mean = m.mean()
        g_std = np.sqrt(np.mean(s**2 + m**2) - g_mean**2)
        m, s = np.full_like(m, g_mean), np.full_like(s, g_std)
    return m.astype(np.float32), s.astype(np.float32)


def gaussian_image(
    index: tf.Tensor,
    *,
    shape: Sequence[int],
    mean: Sequence[float],
    std: Sequence[float],
    seed: int,
    split: str = "train",
) -> tf.Tensor:
    """Gaussian: a float32 image of noise with the given per-channel moments (pixel units, unclipped)."""
    if len(shape) != 3 or len(mean) != shape[-1] or len(std) != shape[-1]:
        raise ValueError(
            f"Gaussian images need shape HxWxC and C means/stds. Received: shape={tuple(shape)}, "
            f"{len(mean)} means, {len(std)} stds"
        )
    key = seeds.fold(seeds.stream_seed(seed, seeds.GAUSSIAN, split), index)
    noise = tf.random.stateless_normal(shape, key, dtype=tf.float32, alg=_ALG)
    return noise * tf.constant(std, tf.float32) + tf.constant(mean, tf.float32)
