"""Loaders: embedded digits, .npz files, TFDS (mocked), and the fast, clear offline failure."""

from __future__ import annotations


import numpy as np
import pytest

from rethinking.data import datasets as D
from tests.helpers import make_images, make_labels


def _all(ds):
    return list(ds.as_numpy_iterator())


# --------------------------------------------------------------------------- digits


def test_digits_are_scikit_learns_read_without_importing_it():
    from sklearn.datasets import load_digits as sk_load_digits

    images, labels = D.digits_arrays()
    reference = sk_load_digits()
    np.testing.assert_array_equal(images, reference.images)
    np.testing.assert_array_equal(labels, reference.target)
    assert labels.dtype == np.int64


def test_digits_is_real_fixed_and_indexed():
    a, b = D.load_digits(), D.load_digits.__wrapped__()  # the cached bundle and a fresh build
    info = a.info
    assert (info.train_size, info.test_size, info.num_classes, info.image_shape) == (1438, 359, 10, (8, 8, 1))
    assert info.source == "embedded" and info.class_names == tuple(str(k) for k in range(10))
    train = _all(a.train)
    assert [ex["index"] for ex in train] == list(range(1438))
    assert train[0]["image"].dtype == np.uint8 and train[0]["image"].max() <= 255
    np.testing.assert_array_equal(train[5]["image"], _all(b.train)[5]["image"])  # the split is fixed
    # Train and test are disjoint images of the 1,797 real digits, every class present.
    train_keys = {ex["image"].tobytes() for ex in train}
    assert not train_keys & {ex["image"].tobytes() for ex in _all(a.test)}
    assert set(ex["label"] for ex in train) == set(range(10))
    assert 60 < info.channel_mean[0] < 100 and 80 < info.channel_std[0] < 110


# --------------------------------------------------------------------------- .npz


def _write_npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def test_npz_in_keras_layout_loads(tmp_path):
    x_train, y_train = make_images(30, (6, 6)), make_labels(30, 3)  # grayscale without channel axis
    path = _write_npz(tmp_path / "d.npz", x_train=x_train, y_train=y_train[:, None], x_test=make_images(9, (6, 6)),
                      y_test=make_labels(9, 3), class_names=np.array(["a", "b", "c"]))
    bundle = D.load_dataset(path)
    assert bundle.info.image_shape == (6, 6, 1) and bundle.info.num_classes == 3
    assert bundle.info.class_names == ("a", "b", "c") and bundle.info.source == "npz"
    train = _all(bundle.train)
    np.testing.assert_array_equal(train[4]["image"][..., 0], x_train[4])
    assert train[4]["label"] == y_train[4] and train[4]["index"] == 4
    np.testing.assert_allclose(bundle.info.channel_mean, [x_train.mean()])
    np.testing.assert_allclose(bundle.info.channel_std, [x_train.std()], rtol=1e-6)


GOOD = dict(x_train=make_images(10), y_train=make_labels(10), x_test=make_images(4), y_test=make_labels(4))


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({k: v for k, v in GOOD.items() if k != "y_test"}, "lacks y_test"),
        ({"images": make_images(3)}, "lacks x_train, y_train, x_test, y_test"),
        ({**GOOD, "y_train": make_labels(9)}, "differ in length: 10 images, 9 labels"),
        ({**GOOD, "x_test": make_images(4, (4, 4, 3))}, "differ in shape"),
        ({**GOOD, "x_train": GOOD["x_train"] / 255.0}, "scaled to"),
        ({**GOOD, "x_train": GOOD["x_train"].astype(np.int32) * 4}, r"\[0, 255\]"),
        ({**GOOD, "y_train": GOOD["y_train"] - 5}, "non-negative"),
        ({**GOOD, "y_train": GOOD["y_train"].astype(np.float32)}, "integer class labels"),
        ({**GOOD, "y_train": np.zeros(10, np.int64), "y_test": np.zeros(4, np.int64)}, "at least 2"),
        ({**GOOD, "x_train": make_images(10, (8, 8, 2))}, "C in 1, 3, 4"),
    ],
)
def test_malformed_npz_is_rejected_clearly(tmp_path, arrays, message):
    path = _write_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=message):
        D.load_dataset(path)


def test_unreadable_and_missing_files(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"this is not a zip file")
    with pytest.raises(ValueError, match="not a readable .npz"):
        D.load_dataset(str(junk))
    with pytest.raises(ValueError, match="No dataset file"):
        D.load_dataset(str(tmp_path / "missing.npz"))


def test_unknown_and_non_image_datasets(tfds_dir):
    with pytest.raises(ValueError, match="Unknown dataset 'no_such_data'.*digits"):
        D.load_dataset("no_such_data", data_dir=str(tfds_dir))
    with pytest.raises(ValueError, match="not an image-classification dataset"):
        D.load_dataset("imdb_reviews", data_dir=str(tfds_dir))
