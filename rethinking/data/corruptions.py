"""The randomization tests of Zhang et al. (2017) as deterministic, in-graph tf.data transforms.

Every corrupted example is a pure function of ``(seed, split, example index)``: the random draws
come from ``tf.random.stateless_*`` ops (Philox, chosen explicitly so CPU and GPU agree) seeded by
``stateless_fold_in(stream seed, index)``. Nothing depends on the order in which examples are read,
on the epoch, on shuffling, sharding or the number of replicas.

Two layers of API:

* element functions (``corrupt_label``, ``shuffle_pixels``, ``random_pixels``, ``gaussian_image``)
  that work eagerly and inside ``Dataset.map`` (their home is ``element_corruptions.py``; re-exported);
* dataset functions (``attach_index``, ``corrupt_labels``, ``corrupt_pixels``, ``apply_corruption``)
  that take a user's own ``tf.data.Dataset`` of ``(image, label)`` tuples, or of example dicts with
  an ``"index"`` key, and return the corrupted one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from rethinking.config.data import Corruption, _check_choice, _check_split, check_probability
from rethinking.registry.conditions import LABEL_NOISES, pixel_condition
from rethinking.registry import load_function

from rethinking.data.element_corruptions import (  # noqa: F401 (the element layer of this API; re-exported)
    _static_hw, corrupt_label, example_permutation, gaussian_image, gaussian_moments, permute_batch, permute_pixels,
    pixel_permutation, random_permutation, random_pixels, registered_function, shuffle_pixels, uniform_label,
    wrong_label,
)
from rethinking.data.tracing import as_written

# Named conditions of the paper (Section 2, Figure 1a); partial corruption takes its p from the user.
CONDITIONS: dict[str, Corruption] = {
    "true_labels": Corruption(),
    "random_labels": Corruption(labels="random"),
    "shuffled_pixels": Corruption(pixels="shuffled"),
    "random_pixels": Corruption(pixels="random"),
    "gaussian": Corruption(pixels="gaussian"),
}


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
        as_written(lambda i, xy: {"image": xy[0], "label": xy[1], "index": i}),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )


def _to_tuples(ds: tf.data.Dataset) -> tf.data.Dataset:
    return ds.map(as_written(lambda ex: (ex["image"], ex["label"])), num_parallel_calls=tf.data.AUTOTUNE)


def _map_examples(ds: tf.data.Dataset, fn) -> tf.data.Dataset:
    """Applies an example-dict function to a tuple or dict dataset; returns the same kind."""
    out = attach_index(ds).map(as_written(fn), num_parallel_calls=tf.data.AUTOTUNE)
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
    return out.map(as_written(_mark_clean), num_parallel_calls=tf.data.AUTOTUNE)
