"""The randomization tests of Zhang et al. (2017) as deterministic, in-graph tf.data transforms.

Every corrupted example is a pure function of ``(seed, split, example index)``: the random draws
come from ``tf.random.stateless_*`` ops (Philox, chosen explicitly so CPU and GPU agree) seeded by
``stateless_fold_in(stream seed, index)``. Nothing depends on the order in which examples are read,
on the epoch, on shuffling, sharding or the number of replicas.

Two layers of API:

* element functions (``corrupt_label``, ``shuffle_pixels``, ``random_pixels``, ``gaussian_image``)
  that work eagerly and inside ``Dataset.map``;
* dataset functions (``attach_index``, ``corrupt_labels``, ``corrupt_pixels``, ``apply_corruption``)
  that take a user's own ``tf.data.Dataset`` of ``(image, label)`` tuples, or of example dicts with
  an ``"index"`` key, and return the corrupted one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from rethinking.config.data import GAUSSIAN_STATS, Corruption, _check_choice, _check_split, check_probability
from rethinking.data import seeds
from rethinking.data.conditions import LABEL_NOISES, pixel_condition
from rethinking.data.seeds import ALG as _ALG
from rethinking.registry import load_function

@tf.autograph.experimental.do_not_convert
def registered_function(path: str, what: str):
    """``registry.load_function`` for code that runs while tf.data traces a map function (no AutoGraph
    conversion of the import machinery)."""
    return load_function(path, what)


# Named conditions of the paper (Section 2, Figure 1a); partial corruption takes its p from the user.
CONDITIONS: dict[str, Corruption] = {
    "true_labels": Corruption(),
    "random_labels": Corruption(labels="random"),
    "shuffled_pixels": Corruption(pixels="shuffled"),
    "random_pixels": Corruption(pixels="random"),
    "gaussian": Corruption(pixels="gaussian"),
}




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


# ---------------------------------------------------------------------------------------------
# Dataset functions
# ---------------------------------------------------------------------------------------------


def _is_tuple_dataset(ds: tf.data.Dataset) -> bool:
    spec = ds.element_spec
    if isinstance(spec, dict):
        if not {"image", "label", "index"} <= set(spec):
            raise ValueError(
                "Example dicts need 'image', 'label' and 'index' keys (see attach_index). "
                f"Received keys: {sorted(spec)}"
            )
        return False
    if isinstance(spec, tuple) and len(spec) == 2:
        return True
    raise ValueError(
        "Expected a dataset of (image, label) tuples or of dicts with 'image', 'label' and "
        f"'index'. Received element_spec={spec}"
    )


def attach_index(ds: tf.data.Dataset) -> tf.data.Dataset:
    """Turns ``(image, label)`` tuples into example dicts with a stable ``"index"``.

    The index is the position in ``ds``: call this before any shuffle, on a dataset whose order is
    fixed, so that each example keeps its index in every epoch.
    """
    if not _is_tuple_dataset(ds):
        return ds
    return ds.enumerate().map(
        lambda i, xy: {"image": xy[0], "label": xy[1], "index": i},
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )


def _to_tuples(ds: tf.data.Dataset) -> tf.data.Dataset:
    return ds.map(lambda ex: (ex["image"], ex["label"]), num_parallel_calls=tf.data.AUTOTUNE)


def _map_examples(ds: tf.data.Dataset, fn) -> tf.data.Dataset:
    """Applies an example-dict function to a tuple or dict dataset; returns the same kind."""
    out = attach_index(ds).map(fn, num_parallel_calls=tf.data.AUTOTUNE)
    return _to_tuples(out) if _is_tuple_dataset(ds) else out


def _mark_clean(example: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    if "true_label" in example:
        return example
    return {**example, "true_label": example["label"], "label_corrupted": tf.constant(False)}


def corrupt_labels(
    ds: tf.data.Dataset,
    *,
    num_classes: int,
    corruption_prob: float,
    seed: int,
    noise: str = "uniform",
    split: str = "train",
) -> tf.data.Dataset:
    """Corrupts the labels of a dataset (see ``corrupt_label``).

    Args:
        ds: ``(image, label)`` tuples (indexed by position, see ``attach_index``) or example dicts.
        num_classes: K.
        corruption_prob: p in [0, 1].
        seed: the data seed.
        noise: ``"uniform"`` or ``"wrong"``.
        split: ``"train"`` or ``"test"``.

    Returns:
        The same kind of dataset. Dicts gain ``"true_label"`` and ``"label_corrupted"`` (bool).
    """
    check_probability(corruption_prob)
    _check_choice("label_noise", noise, tuple(LABEL_NOISES))
    _is_tuple_dataset(ds)  # fail early, before tracing, on an unusable element structure

    def fn(ex: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        ex = _mark_clean(ex)
        new, changed = corrupt_label(
            ex["true_label"], ex["index"], num_classes=num_classes,
            corruption_prob=corruption_prob, seed=seed, noise=noise, split=split,
        )
        return {**ex, "label": new, "label_corrupted": changed}

    return _map_examples(ds, fn)


def corrupt_labels_by_matrix(ds: tf.data.Dataset, *, transition: np.ndarray, seed: int,
                             split: str = "train") -> tf.data.Dataset:
    """Draws every label from its row of a class-transition matrix (``label_sets.matrix_label``).

    Args:
        ds: ``(image, label)`` tuples (indexed by position) or example dicts.
        transition: K x K, row i the label probabilities of true class i (rows sum to 1).
        seed: the data seed.
        split: ``"train"`` or ``"test"``.

    Returns:
        The same kind of dataset. Dicts gain ``"true_label"`` and ``"label_corrupted"`` (bool).
    """
    from rethinking.data.label_sets import check_transition, matrix_label  # noqa: PLC0415

    matrix = check_transition(transition)
    _is_tuple_dataset(ds)

    def fn(ex: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        ex = _mark_clean(ex)
        new, changed = matrix_label(ex["true_label"], ex["index"], transition=matrix, seed=seed, split=split)
        return {**ex, "label": new, "label_corrupted": changed}

    return _map_examples(ds, fn)


def relabel_by_index(ds: tf.data.Dataset, labels: np.ndarray) -> tf.data.Dataset:
    """Gives example ``i`` the label ``labels[i]`` (a human label set); the old label becomes ``true_label``."""
    from rethinking.data.label_sets import relabel  # noqa: PLC0415

    _is_tuple_dataset(ds)
    table = tf.constant(np.asarray(labels, np.int64))
    return _map_examples(ds, lambda ex: relabel(ex, table))


def corrupt_pixels(
    ds: tf.data.Dataset,
    *,
    mode: str,
    seed: int,
    split: str = "train",
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    gaussian_stats: str = "per_channel",
) -> tf.data.Dataset:
    """Randomizes the pixels of a dataset.

    Args:
        ds: ``(image, label)`` tuples or example dicts; images HxWxC with a static shape.
        mode: a name of ``PIXEL_CONDITIONS``: ``"original"``, ``"shuffled"``, ``"random"``, ``"gaussian"``.
        seed: the data seed.
        split: ``"train"`` or ``"test"`` (shuffled pixels use one permutation for both).
        mean: per-channel mean of the training images, pixel units (Gaussian only).
        std: per-channel standard deviation, pixel units (Gaussian only).
        gaussian_stats: ``"per_channel"`` or ``"global"``.

    Returns:
        The same kind of dataset. Gaussian images are float32 in pixel units (0-255 scale, not
        clipped); the other modes keep the input dtype.
    """
    condition = pixel_condition(mode)
    _check_split(split)
    tuples = _is_tuple_dataset(ds)
    if condition.kind == "none":
        return ds
    image_spec = ds.element_spec[0] if tuples else ds.element_spec["image"]
    h, w, c = _static_hw(image_spec, "Pixel randomization")
    function = load_function(condition.function, f"pixel condition {mode!r}")
    if condition.kind == "permutation" and not condition.per_example:
        perm = function(h * w, seed=seed, split=split, index=None)  # computed once, a constant of the graph
        fn = lambda ex: {**ex, "image": permute_pixels(ex["image"], perm)}  # noqa: E731
    elif condition.kind == "permutation":
        fn = lambda ex: {**ex, "image": permute_pixels(  # noqa: E731
            ex["image"], function(h * w, seed=seed, split=split, index=ex["index"]))}
    else:
        if mean is None or std is None:
            raise ValueError(f"Pixels {mode!r} need the training set's channel mean and std.")
        m, s = gaussian_moments(mean, std, gaussian_stats)
        if len(m) != c:
            raise ValueError(f"Expected {c} channel means for pixels {mode!r}. Received: {len(m)}")

        def fn(ex: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
            return {**ex, "image": function(ex["index"], shape=(h, w, c), mean=m, std=s, seed=seed, split=split)}

    return _map_examples(ds, fn)


def apply_corruption(
    ds: tf.data.Dataset,
    corruption: Corruption,
    *,
    num_classes: int,
    seed: int,
    split: str = "train",
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    transition: np.ndarray | None = None,
    human: np.ndarray | None = None,
) -> tf.data.Dataset:
    """Applies a ``Corruption`` to one split.

    Labels are corrupted on the training split only, unless ``corruption.corrupt_test_labels``;
    pixel conditions apply to both splits (shuffled pixels with the same permutation).

    Args:
        ds: ``(image, label)`` tuples or example dicts.
        corruption: what to randomize.
        num_classes: K.
        seed: the data seed.
        split: ``"train"`` or ``"test"``.
        mean: per-channel training mean, pixel units (Gaussian only).
        std: per-channel training std, pixel units (Gaussian only).
        transition: the K x K matrix of ``labels="matrix"`` (``label_sets.transition_matrix``).
        human: the human label of every training example, by index, for ``labels="human"``
            (``label_sets.human_labels``).

    Returns:
        The same kind of dataset; dicts always carry ``"true_label"`` and ``"label_corrupted"``.

    Raises:
        ValueError: matrix or human labels without their matrix or labels.
    """
    _check_split(split)
    tuples = _is_tuple_dataset(ds)
    out = attach_index(ds)
    if split == "train" or corruption.corrupt_test_labels:
        if corruption.labels == "matrix":
            if transition is None:
                raise ValueError("labels='matrix' needs its transition matrix (label_sets.transition_matrix).")
            out = corrupt_labels_by_matrix(out, transition=transition, seed=seed, split=split)
        elif corruption.labels == "human":
            if human is None:
                raise ValueError("labels='human' needs the human label of every example (label_sets.human_labels).")
            out = relabel_by_index(out, human)
        elif corruption.resolved_corruption_prob > 0:
            out = corrupt_labels(
                out, num_classes=num_classes, corruption_prob=corruption.resolved_corruption_prob,
                seed=seed, noise=corruption.label_noise, split=split,
            )
    out = corrupt_pixels(
        out, mode=corruption.pixels, seed=seed, split=split, mean=mean, std=std,
        gaussian_stats=corruption.gaussian_stats,
    )
    if tuples:
        return _to_tuples(out)
    return out.map(_mark_clean, num_parallel_calls=tf.data.AUTOTUNE)
