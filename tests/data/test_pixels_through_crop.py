"""Pixel conditions act on what the network receives: 32x32 images cropped to 28x28.

Each test compares the network's input under a pixel condition with the network's input of the
clean pipeline for the same example (same seed, epoch and crop window). The permutation is
recovered from the pixel values themselves (the test images' pixels are distinct by construction), so the tests do not trust the code's own idea of the permutation.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from rethinking.data import Corruption, DataConfig, Preprocessing, build_pipeline
from rethinking.data.corruptions import permute_batch, permute_pixels
from rethinking.data.datasets import from_arrays

SEED = 3


def _bundle(num_train: int = 24, num_test: int = 10):
    """32x32x3 images whose 1,024 pixels are distinct within each image (a random code per position)."""
    rng = np.random.RandomState(7)
    n = num_train + num_test
    codes = np.stack([rng.permutation(32 * 32) for _ in range(n)]).reshape(n, 32, 32)
    x = np.stack([codes % 256, (codes // 256) * 64 + rng.randint(0, 64, codes.shape),
                  rng.randint(0, 256, codes.shape)], axis=-1).astype(np.uint8)
    y = np.arange(num_train + num_test) % 10
    return from_arrays("cifar-like", "npz", x[:num_train], y[:num_train], x[num_train:], y[num_train:])


def _pipelines(pixels: str, **prep):
    bundle = _bundle()
    preprocessing = Preprocessing(standardize=False, **prep)
    clean = build_pipeline(DataConfig(preprocessing=preprocessing, seed=SEED), 8, bundle=bundle)
    config = DataConfig(corruption=Corruption(pixels=pixels), preprocessing=preprocessing, seed=SEED)
    return clean, build_pipeline(config, 8, bundle=bundle)


def _images(ds: tf.data.Dataset) -> np.ndarray:
    """The images of a batched example dataset, ordered by example index."""
    batches = list(ds.as_numpy_iterator())
    index = np.concatenate([b["index"] for b in batches])
    images = np.concatenate([b["image"] for b in batches])
    return images[np.argsort(index)]


def _recover(clean: np.ndarray, permuted: np.ndarray) -> np.ndarray:
    """The permutation p with permuted.flat[k] == clean.flat[p[k]] (pixel = its C values), or an AssertionError."""
    h, w, c = clean.shape
    source = {tuple(v): k for k, v in enumerate(clean.reshape(h * w, c))}
    assert len(source) == h * w, "test images need distinct pixels"
    p = np.array([source.get(tuple(v), -1) for v in permuted.reshape(h * w, c)])
    assert (p >= 0).all(), "a pixel of the corrupted input is not a pixel of the clean input"
    assert len(set(p.tolist())) == h * w
    np.testing.assert_array_equal(permuted.reshape(h * w, c), clean.reshape(h * w, c)[p])
    return p


def _permutations(clean: np.ndarray, permuted: np.ndarray) -> list[np.ndarray]:
    assert clean.shape == permuted.shape and clean.shape[1:] == (28, 28, 3)
    return [_recover(a, b) for a, b in zip(clean, permuted)]


def test_shuffled_pixels_are_one_permutation_of_the_networks_input_on_train_and_test():
    clean, shuffled = _pipelines("shuffled")
    train = _permutations(_images(clean.train_in_order()), _images(shuffled.train_in_order()))
    test = _permutations(_images(clean.test()), _images(shuffled.test()))
    first = train[0]
    assert not np.array_equal(first, np.arange(28 * 28))
    for p in train + test:
        np.testing.assert_array_equal(p, first)
    # The training epochs (shuffled order) carry the same permuted images.
    np.testing.assert_array_equal(_images(shuffled.train(2)), _images(shuffled.train_in_order()))


def test_random_pixels_are_a_fixed_permutation_per_example_of_the_networks_input():
    clean, random = _pipelines("random")
    train = _permutations(_images(clean.train_in_order()), _images(random.train_in_order()))
    test = _permutations(_images(clean.test()), _images(random.test()))
    distinct = {p.tobytes() for p in train + test}
    assert len(distinct) == len(train) + len(test)
    np.testing.assert_array_equal(_images(random.train(0)), _images(random.train(5)))


@pytest.mark.slow
def test_shuffled_pixels_under_random_crop_use_the_test_permutation_on_every_window():
    clean, shuffled = _pipelines("shuffled", random_crop=True)
    assert shuffled.permute_after_crop == "shuffled"
    test = _permutations(_images(clean.test()), _images(shuffled.test()))
    windows = set()
    for epoch in (0, 1):
        clean_inputs = _images(clean.train_in_order(epoch))
        windows.add(clean_inputs.tobytes())
        for p in _permutations(clean_inputs, _images(shuffled.train_in_order(epoch))):
            np.testing.assert_array_equal(p, test[0])
        # What model.fit gets in that epoch (shuffled order, same crops).
        np.testing.assert_array_equal(_images(shuffled.train(epoch)), _images(shuffled.train_in_order(epoch)))
    assert len(windows) == 2, "the random crop should differ between epochs"
    for p in _permutations(_images(clean.train_in_order()), _images(shuffled.train_in_order())):
        np.testing.assert_array_equal(p, test[0])


@pytest.mark.slow
def test_random_pixels_under_random_crop_keep_each_examples_permutation_across_epochs_and_evaluation():
    clean, random = _pipelines("random", random_crop=True, flip=True)
    assert random.permute_after_crop == "random"
    per_epoch = [_permutations(_images(clean.train_in_order(e)), _images(random.train_in_order(e))) for e in (0, 1)]
    evaluation = _permutations(_images(clean.train_in_order()), _images(random.train_in_order()))
    for a, b, c in zip(*per_epoch, evaluation):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    assert len({p.tobytes() for p in evaluation}) == len(evaluation)
    # The same per-example permutation as without augmentation: one definition of the condition.
    _, plain = _pipelines("random")
    for a, b in zip(evaluation, _permutations(_images(clean.train_in_order()), _images(plain.train_in_order()))):
        np.testing.assert_array_equal(a, b)
    batch = next(iter(random.train(0)))
    assert "pixel_permutation" not in batch


def test_standardized_inputs_are_permutations_too():
    bundle = _bundle()
    clean = build_pipeline(DataConfig(seed=SEED), 8, bundle=bundle)
    shuffled = build_pipeline(DataConfig(corruption=Corruption(pixels="shuffled"), seed=SEED), 8, bundle=bundle)
    a, b = _images(clean.test()), _images(shuffled.test())
    np.testing.assert_allclose(np.sort(a.reshape(len(a), -1), 1), np.sort(b.reshape(len(b), -1), 1), atol=1e-5)
    assert not np.allclose(a, b)


def test_gaussian_images_have_the_moments_of_the_centre_crops():
    # A bright 2-pixel border ring around dark centres: the full image's mean is far from the crop's.
    rng = np.random.RandomState(0)
    x = np.full((400, 32, 32, 3), 250, np.uint8)
    x[:, 2:30, 2:30, :] = rng.randint(20, 61, size=(400, 28, 28, 3))
    y = np.arange(400) % 10
    bundle = from_arrays("ring", "npz", x, y, x[:50], y[:50])
    config = DataConfig(corruption=Corruption(pixels="gaussian"), preprocessing=Preprocessing(standardize=False))
    pipeline = build_pipeline(config, 100, bundle=bundle)
    seen = _images(pipeline.train_in_order()) * 255.0
    centre = x[:, 2:30, 2:30, :].astype(np.float64)
    np.testing.assert_allclose(seen.mean(axis=(0, 1, 2)), centre.mean(axis=(0, 1, 2)), atol=0.2)
    np.testing.assert_allclose(seen.std(axis=(0, 1, 2)), centre.std(axis=(0, 1, 2)), rtol=0.01)
    assert abs(seen.mean() - x.mean()) > 20  # not the moments of the stored 32x32 images
    # Under random crop the windows are noise with the same moments.
    augmented = build_pipeline(dataclasses.replace(config, preprocessing=Preprocessing(standardize=False, random_crop=True)),
                               100, bundle=bundle)
    windows = _images(augmented.train_in_order(1)) * 255.0
    np.testing.assert_allclose(windows.mean(axis=(0, 1, 2)), centre.mean(axis=(0, 1, 2)), atol=0.2)


def test_permute_batch_matches_permute_pixels_eagerly_and_in_a_dataset_map():
    images = tf.random.stateless_uniform([4, 5, 6, 3], [1, 2])
    shared = tf.random.shuffle(tf.range(30), seed=1)
    own = tf.constant(np.stack([np.random.RandomState(k).permutation(30) for k in range(4)]))
    expected_shared = tf.stack([permute_pixels(im, shared) for im in images])
    expected_own = tf.stack([permute_pixels(im, p) for im, p in zip(images, own)])
    np.testing.assert_array_equal(permute_batch(images, shared), expected_shared)
    np.testing.assert_array_equal(permute_batch(images, tf.cast(own, tf.int16)), expected_own)
    mapped = tf.data.Dataset.from_tensors((images, own)).map(lambda x, p: permute_batch(x, p))
    np.testing.assert_array_equal(next(iter(mapped)), expected_own)
    with pytest.raises(ValueError, match="fixed-size images"):
        permute_batch(tf.zeros([2, 3, 3]), shared)
