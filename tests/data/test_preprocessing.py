"""Preprocessing and augmentation: eagerly and in Dataset.map, sizes, purity in (seed, epoch, index)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from rethinking.data import preprocessing as P
from tests.helpers import make_images


@pytest.mark.parametrize(
    "shape, prep, expected",
    [
        ((32, 32, 3), P.Preprocessing(), (28, 28)),  # the paper's CIFAR crop
        ((28, 28, 1), P.Preprocessing(), (28, 28)),  # MNIST: no crop
        ((8, 8, 1), P.Preprocessing(), (8, 8)),  # digits: no crop
        ((32, 32, 3), P.Preprocessing(crop_size=32), (32, 32)),
        ((32, 32, 3), P.Preprocessing(crop_size=24), (24, 24)),
        ((None, None, 3), P.Preprocessing(), (299, 299)),  # ImageNet: resized
        ((None, None, 3), P.Preprocessing(image_size=224), (224, 224)),
    ],
)
def test_output_size(shape, prep, expected):
    assert P.output_size(prep, shape) == expected


def test_bad_preprocessing_values():
    with pytest.raises(ValueError, match="larger than the 8x8"):
        P.output_size(P.Preprocessing(crop_size=9), (8, 8, 1))
    with pytest.raises(ValueError, match="crop_size must be a positive"):
        P.Preprocessing(crop_size=0)
    with pytest.raises(ValueError, match="image_size"):
        P.Preprocessing(image_size=-3)


def test_center_crop_on_image_batch_and_in_map():
    images = make_images(4, (32, 32, 3))
    batch = P.center_crop(tf.constant(images), 28, 28).numpy()
    np.testing.assert_array_equal(batch, images[:, 2:30, 2:30])
    mapped = list(tf.data.Dataset.from_tensor_slices(images).map(lambda x: P.center_crop(x, 28, 28)).as_numpy_iterator())
    np.testing.assert_array_equal(np.stack(mapped), batch)


def test_prepare_batch_is_the_papers_preprocessing():
    images = make_images(3, (32, 32, 3))
    out = P.prepare_batch(tf.constant(images), P.Preprocessing(), (28, 28)).numpy()
    expected = tf.image.per_image_standardization(images[:, 2:30, 2:30].astype(np.float32) / 255.0).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    raw = P.prepare_batch(tf.constant(images), P.Preprocessing(standardize=False), (28, 28)).numpy()
    np.testing.assert_allclose(raw, images[:, 2:30, 2:30] / 255.0, rtol=1e-6)


def _example(image, index, epoch, prep, size, seed=0):
    return P.prepare_example(tf.constant(image), tf.constant(index, tf.int64), prep=prep, size=size, seed=seed, epoch=epoch).numpy()


@pytest.mark.parametrize("channels", [1, 3])
def test_augmentation_is_a_pure_function_of_seed_epoch_and_index(channels):
    image = make_images(1, (32, 32, channels))[0]
    prep = P.Preprocessing(random_crop=True, flip=True, color_jitter=True)
    a = _example(image, 5, 2, prep, (28, 28))
    assert a.shape == (28, 28, channels) and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    np.testing.assert_array_equal(a, _example(image, 5, 2, prep, (28, 28)))
    assert not np.array_equal(a, _example(image, 5, 3, prep, (28, 28)))  # another epoch
    assert not np.array_equal(a, _example(image, 6, 2, prep, (28, 28)))  # another example
    assert not np.array_equal(a, _example(image, 5, 2, prep, (28, 28), seed=1))  # another seed
    # Inside Dataset.map, with the epoch as a tensor, the result is the same.
    ds = tf.data.Dataset.from_tensors(image).map(
        lambda x: P.prepare_example(x, tf.constant(5, tf.int64), prep=prep, size=(28, 28), seed=0, epoch=tf.constant(2, tf.int64))
    )
    np.testing.assert_array_equal(next(iter(ds)).numpy(), a)


def test_random_crop_positions_cover_the_image():
    image = np.arange(32 * 32, dtype=np.int32).reshape(32, 32, 1)
    corners = {int(P.random_crop(tf.constant(image), 28, 28, tf.constant([0, s], tf.int64))[0, 0, 0]) for s in range(200)}
    assert corners <= {r * 32 + c for r in range(5) for c in range(5)}
    assert len(corners) == 25  # every one of the 5x5 offsets occurs


def test_full_size_random_crop_pads_first():
    image = np.full((8, 8, 1), 200, np.uint8)
    crops = [P.random_crop(tf.constant(image), 8, 8, tf.constant([0, s], tf.int64)).numpy() for s in range(30)]
    assert all(c.shape == (8, 8, 1) for c in crops)
    assert any((c == 0).any() for c in crops), "a padded border must show up in some crops"
    assert P.pad_for_random_crop(32) == 4 and P.pad_for_random_crop(8) == 1


def test_no_augmentation_means_center_crop():
    image = make_images(1, (32, 32, 3))[0]
    out = _example(image, 0, 7, P.Preprocessing(), (28, 28))
    np.testing.assert_allclose(out, image[2:30, 2:30] / 255.0, rtol=1e-6)


def test_variable_size_images_are_resized_to_a_square():
    image = make_images(1, (40, 60, 3))[0]
    out = _example(image, 0, 0, P.Preprocessing(image_size=24), (24, 24))
    assert out.shape == (24, 24, 3)
    aug = _example(image, 0, 0, P.Preprocessing(image_size=24, random_crop=True), (24, 24))
    assert aug.shape == (24, 24, 3)
