"""Dataset loaders: the embedded ``digits``, any TFDS image-classification dataset (``data/tfds.py``),
or a ``.npz`` file.

Every loader returns a ``DataBundle``: train and test ``tf.data.Dataset`` s of example dicts

    {"image": uint8 [H, W, C], "label": int64 [], "index": int64 []}

where ``index`` is the example's stable position in its split (0 .. size-1), the same however the
data is read, plus a ``DatasetInfo``. The index is what makes every randomization a fixed function
of (seed, example): in-memory data is indexed by row, TFDS data by its per-record ``tfds_id``
(shard offset + record number), never by the order in which files happen to be interleaved.
"""

from __future__ import annotations

import functools
import logging
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from rethinking.data.bundle import (  # noqa: F401 (their home is bundle.py; re-exported)
    DataBundle, DatasetInfo, DatasetUnavailableError, channel_moments, describe_known,
)
from rethinking.config.run import is_dataset_path
from rethinking.data.catalog import DATASETS, KnownDataset  # noqa: F401 (the names' home; re-exported)
from rethinking.data.tracing import as_written

logger = logging.getLogger(__name__)

EMBEDDED = "digits"
# The largest class index accepted (int32 logits indices; far beyond any real dataset's classes).
MAX_LABEL = 2**31 - 2
# Seeded train/test split of scikit-learn's 1,797 digits (our choice: 80% / 20%, numpy's legacy
# RandomState, whose stream numpy guarantees never to change).
DIGITS_SPLIT_SEED = 0
DIGITS_TEST_FRACTION = 0.2


def load_dataset(name: str, *, data_dir: str | None = None, with_stats: bool = False) -> DataBundle:
    """Loads a dataset by name or path.

    Args:
        name: ``"digits"``, a TFDS dataset name (``"cifar10"``, ``"mnist"``, ...), a path to a
            ``.npz`` file with ``x_train``, ``y_train``, ``x_test``, ``y_test`` (Keras layout), or
            ``"package.module:function"``, a function of yours returning the data (``load_from_function``).
        data_dir: the TFDS data directory (default: ``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``).
        with_stats: make sure ``info.channel_mean``/``channel_std`` are set. In-memory datasets always
            have them; for TFDS they cost one pass over the training set, cached next to the data.

    Returns:
        The ``DataBundle``.

    Raises:
        ValueError: unknown name, malformed file, or not an image-classification dataset.
        DatasetUnavailableError: a TFDS dataset that is not prepared and cannot be downloaded.
    """
    if name == EMBEDDED:
        return load_digits()
    if is_dataset_path(name):
        return load_npz(name)
    if is_function_path(name):
        return load_from_function(name)
    from rethinking.data.tfds import load_tfds  # noqa: PLC0415

    return load_tfds(name, data_dir=data_dir, with_stats=with_stats)


# In-memory datasets: digits and .npz
# ---------------------------------------------------------------------------------------------


def _to_uint8_images(x: np.ndarray, what: str) -> np.ndarray:
    if x.ndim == 3:  # N, H, W: grayscale without a channel axis (Keras MNIST layout).
        x = x[..., np.newaxis]
    if x.ndim != 4 or x.shape[-1] not in (1, 3, 4):
        raise ValueError(f"{what} must be images shaped [N, H, W] or [N, H, W, C] with C in 1, 3, 4. Received: shape={x.shape}")
    if x.dtype == np.uint8:
        return x
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise ValueError(f"{what} must be numeric. Received: dtype={x.dtype}")
    if np.issubdtype(x.dtype, np.floating) and x.size and not np.isfinite(x).all():
        bad = int(x.size - np.isfinite(x).sum())
        raise ValueError(f"{what} holds {bad:,} NaN or infinite pixel values; store finite pixels in [0, 255] (uint8).")
    lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    if lo < 0 or hi > 255:
        raise ValueError(f"{what} must hold pixel values in [0, 255] (uint8). Received: range [{lo}, {hi}]")
    if np.issubdtype(x.dtype, np.floating) and hi <= 1.0:
        raise ValueError(f"{what} looks scaled to [0, 1]; store pixels in [0, 255] (uint8) instead.")
    return np.rint(x).astype(np.uint8)


def _to_labels(y: np.ndarray, what: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:  # Keras CIFAR layout: [N, 1].
        y = y[:, 0]
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{what} must be integer class labels shaped [N]. Received: shape={y.shape}, dtype={y.dtype}")
    if y.size and int(y.min()) < 0:
        raise ValueError(f"{what} must be non-negative class indices. Received: min={y.min()}")
    if y.size and int(y.max()) > MAX_LABEL:  # int(): a uint64 label compared without wrapping
        raise ValueError(f"{what} holds label {int(y.max())}, too large for a class index (at most {MAX_LABEL:,}); "
                         "labels must be class indices 0..K-1.")
    return y.astype(np.int64)


def from_arrays(
    name: str,
    source: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    class_names: Sequence[str] | None = None,
) -> DataBundle:
    """Builds a ``DataBundle`` from in-memory arrays, checking them first.

    Args:
        name: the dataset's name for ``DatasetInfo``.
        source: ``"embedded"``, ``"npz"`` or ``"function"``.
        x_train: uint8 images [N, H, W(, C)] in pixel units.
        y_train: integer labels [N].
        x_test: uint8 images [M, H, W(, C)].
        y_test: integer labels [M].
        class_names: optional names; default ``"0" .. "K-1"``.

    Returns:
        The ``DataBundle``; the index of an example is its row.

    Raises:
        ValueError: on any inconsistency, naming the array at fault.
    """
    x_train = _to_uint8_images(np.asarray(x_train), "x_train")
    x_test = _to_uint8_images(np.asarray(x_test), "x_test")
    y_train = _to_labels(y_train, "y_train")
    y_test = _to_labels(y_test, "y_test")
    for x, y, split in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        if len(x) != len(y):
            raise ValueError(f"x_{split} and y_{split} differ in length: {len(x)} images, {len(y)} labels.")
    for x, split in ((x_train, "train"), (x_test, "test")):
        if len(x) == 0:
            raise ValueError(f"x_{split} is empty: a dataset needs training and test examples.")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise ValueError(f"Train and test images differ in shape: {x_train.shape[1:]} vs {x_test.shape[1:]}.")
    num_classes = check_classes(y_train, y_test, None if class_names is None else len(class_names))
    if class_names is None:
        class_names = [str(k) for k in range(num_classes)]
    class_names = tuple(str(c) for c in class_names)
    mean, std = channel_moments(tf.data.Dataset.from_tensor_slices(x_train))
    info = DatasetInfo(
        name=name, source=source, image_shape=tuple(int(d) for d in x_train.shape[1:]),
        num_classes=len(class_names), class_names=class_names,
        train_size=len(x_train), test_size=len(x_test), channel_mean=mean, channel_std=std,
    )
    return DataBundle(_array_dataset(x_train, y_train), _array_dataset(x_test, y_test), info)


def check_classes(y_train: np.ndarray, y_test: np.ndarray, declared: int | None = None) -> int:
    """The number of classes K, after checking that the labels are class indices 0..K-1.

    K is the number of class names when given, else the largest training label + 1, and then every
    class 0..K-1 must have a training example: a stray label (1000 among 0..9) would otherwise make
    a run of 1,001 classes. A test label must be a class the training set has.

    Raises:
        ValueError: naming the offending label and what to do.
    """
    if declared is not None:
        num_classes = declared
        for y, split in ((y_train, "train"), (y_test, "test")):
            if y.size and y.max() >= num_classes:
                raise ValueError(f"y_{split} holds label {int(y.max())}, but class_names names only {num_classes} "
                                 f"classes (0..{num_classes - 1}); fix the label or the class names.")
    else:
        num_classes = int(y_train.max()) + 1
        present = np.unique(y_train)  # sorted; no table of num_classes entries (a label may be 10**9)
        if present.size < num_classes:
            gaps = np.flatnonzero(present != np.arange(present.size))
            first = int(gaps[0]) if gaps.size else present.size
            raise ValueError(
                f"y_train uses labels up to {num_classes - 1} but has no example of {num_classes - present.size:,} "
                f"class(es) below it (first: {first}); labels must be class indices 0..K-1. Fix the labels, or add a "
                "class_names array to declare the classes.")
        if y_test.size and y_test.max() >= num_classes:
            raise ValueError(f"y_test holds label {int(y_test.max())}, a class with no training example (training "
                             f"labels are 0..{num_classes - 1}); fix the test labels.")
    if num_classes < 2:
        raise ValueError("The labels name a single class; classification needs at least 2.")
    return num_classes


def _array_dataset(x: np.ndarray, y: np.ndarray) -> tf.data.Dataset:
    return tf.data.Dataset.from_tensor_slices(
        {"image": x, "label": y, "index": np.arange(len(x), dtype=np.int64)}
    )


def is_function_path(name: str) -> bool:
    """Whether ``name`` names a dataset function (``package.module:function``), not a file."""
    module, sep, function = name.partition(":")
    return bool(sep and module and function) and "/" not in module and not os.path.exists(name)


def _split_arrays(ds: Any, split: str, path: str) -> tuple[np.ndarray, np.ndarray]:
    """The (images, labels) of a ``tf.data.Dataset`` of ``(image, label)`` (or dicts), in its order."""
    spec = ds.element_spec
    if isinstance(spec, dict) and {"image", "label"} <= set(spec):
        ds = ds.map(as_written(lambda ex: (ex["image"], ex["label"])))
    elif not (isinstance(spec, tuple) and len(spec) == 2):
        raise ValueError(f"dataset function {path}: the {split} dataset must yield (image, label) pairs. Received: {spec}")
    images, labels = [], []
    for image, label in ds.as_numpy_iterator():
        images.append(image)
        labels.append(label)
    if not images:
        raise ValueError(f"dataset function {path}: the {split} dataset is empty.")
    return np.stack(images), np.asarray(labels)


def load_from_function(path: str) -> DataBundle:
    """A dataset of your own: ``package.module:function``, called without arguments.

    It returns the splits in a fixed order (an example's index is its position, so every
    randomization applies to it as to the built-in datasets), as either

    * arrays ``(x_train, y_train, x_test, y_test)``, or a dict of them (optionally with
      ``class_names``): images [N, H, W(, C)] in pixel units 0-255, integer labels; or
    * ``(train, test)``: two ``tf.data.Dataset`` of ``(image, label)``, read once into memory.

    Raises:
        ValueError: the function cannot be loaded, or returns something else (one line saying what).
    """
    from rethinking.registry import load_function  # noqa: PLC0415

    out = load_function(path, "dataset function")()
    names = None
    if isinstance(out, dict):
        missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in out]
        if missing:
            raise ValueError(f"dataset function {path} returned a dict without {', '.join(missing)}.")
        arrays, names = [out[k] for k in ("x_train", "y_train", "x_test", "y_test")], out.get("class_names")
    elif isinstance(out, (tuple, list)) and len(out) == 2 and all(isinstance(d, tf.data.Dataset) for d in out):
        arrays = [*_split_arrays(out[0], "train", path), *_split_arrays(out[1], "test", path)]
    elif isinstance(out, (tuple, list)) and len(out) == 4:
        arrays = list(out)
    else:
        raise ValueError(f"dataset function {path} returned {type(out).__name__}: return (x_train, y_train, x_test, "
                         "y_test) arrays, a dict of them, or (train, test) tf.data.Datasets of (image, label).")
    try:
        return from_arrays(path, "function", *arrays, class_names=names)
    except ValueError as err:
        raise ValueError(f"dataset function {path}: {err}") from err


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 digits: images [1797, 8, 8] (float, 0..16) and labels [1797] (int64).

    Read from scikit-learn's own data file without importing ``sklearn.datasets`` (0.9 s of a
    command's start-up here), as its ``load_digits`` reads it; through ``load_digits`` when the file
    is not where this scikit-learn keeps it.
    """
    import importlib.util  # noqa: PLC0415

    spec = importlib.util.find_spec("sklearn")  # finds the package without importing it
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            data = np.loadtxt(path, delimiter=",")
            if data.shape == (1797, 65):
                return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits as sk_load_digits  # noqa: PLC0415

    digits = sk_load_digits()
    return digits.images, digits.target.astype(np.int64)


@functools.cache
def load_digits() -> DataBundle:
    """The embedded dataset: scikit-learn's 1,797 real 8x8 handwritten digits.

    Pixel values 0..16 are rescaled to 0..255 (uint8); the split is a fixed, seeded 80/20 one
    (1,437 train / 360 test). Built once per process (its datasets are immutable; a sweep of tiny
    runs spent 0.08 s a run building it again).
    """
    values, labels = digits_arrays()
    images = np.rint(values * (255.0 / 16.0)).astype(np.uint8)[..., np.newaxis]
    order = np.random.RandomState(DIGITS_SPLIT_SEED).permutation(len(images))
    n_test = int(round(len(images) * DIGITS_TEST_FRACTION))
    test, train = order[:n_test], order[n_test:]
    return from_arrays(
        EMBEDDED, "embedded", images[train], labels[train], images[test], labels[test],
        class_names=[str(k) for k in range(10)],
    )


def load_npz(path: str) -> DataBundle:
    """Loads a ``.npz`` file in the Keras layout: ``x_train``, ``y_train``, ``x_test``, ``y_test``.

    An optional ``class_names`` array names the classes.

    Raises:
        ValueError: missing or unreadable file, missing keys, or inconsistent arrays.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise ValueError(f"No dataset file at {path}; {describe_known()}.")
    try:
        loaded = np.load(file, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # a single array (.npy) under an .npz name
            raise ValueError(f"it holds one array of shape {getattr(loaded, 'shape', '?')}, as np.save writes; "
                             "save the four arrays with np.savez")
        with loaded as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise ValueError(f"{path} is not a readable .npz file ({err}).") from err
    missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in arrays]
    if missing:
        raise ValueError(
            f"{path} lacks {', '.join(missing)}: a dataset .npz needs x_train, y_train, x_test and "
            f"y_test (found: {', '.join(sorted(arrays)) or 'nothing'})."
        )
    names = arrays.get("class_names")
    if names is not None and names.ndim != 1:
        raise ValueError(f"{path}: class_names must be a 1-d array of names, one per class. Received: shape={names.shape}")
    names = [str(c) for c in names] if names is not None else None
    try:
        return from_arrays(
            str(path), "npz", arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"], names
        )
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from err
