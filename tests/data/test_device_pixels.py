"""--pixel-ops device: the pixel work inside the step gives the network bit-identical inputs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import tensorflow as tf

from rethinking.config.data import Corruption, DataConfig, Preprocessing
from rethinking.registry.conditions import PIXEL_CONDITIONS
from rethinking.data.device_pixels import RAW_KEY, check_placement, pixel_inputs
from rethinking.data.pipeline import build_pipeline, supervised
from tests.helpers import synthetic_bundle

# 32x32 images: the network gets their 28x28 centre (or a random 28x28 crop); 28x28 ones: a full-size
# random crop of the image padded by 4.
SHAPES = {"crop 32 -> 28": (32, 32, 3), "full-size 28": (28, 28, 1)}
AUGMENTATIONS = {"none": Preprocessing(), "random crop": Preprocessing(random_crop=True),
                 "random crop + flip": Preprocessing(random_crop=True, flip=True), "flip": Preprocessing(flip=True)}


def _pipelines(pixels: str, prep: Preprocessing, shape: tuple[int, int, int], batch: int = 16):
    config = DataConfig(corruption=Corruption(pixels=pixels), preprocessing=prep, seed=3)
    host = build_pipeline(config, batch, bundle=synthetic_bundle(40, 20, shape))
    return host, host.raw()


def _splits(host, raw):
    """(name, host dataset, raw dataset): an augmented epoch, the training set in order, the test set."""
    return [("train epoch 2", host.train(2), raw.train(2)), ("train in order", host.train_in_order(), raw.train_in_order()),
            ("test", host.test(), raw.test())]


def _cases():
    """Every pixel condition x augmentation x image size; the fast tier keeps random crop + flip on
    32x32 images (the crop the network gets) and the plain centre crop, for every condition."""
    for pixels, augmentation, shape in itertools.product(PIXEL_CONDITIONS, AUGMENTATIONS, SHAPES):
        fast = shape == "crop 32 -> 28" and augmentation in ("none", "random crop + flip")
        yield pytest.param(pixels, augmentation, shape, marks=() if fast else pytest.mark.slow)


@pytest.mark.parametrize(("pixels", "augmentation", "shape"), list(_cases()))
def test_device_inputs_equal_host_inputs_eagerly_and_in_a_graph(pixels, augmentation, shape):
    host, raw = _pipelines(pixels, AUGMENTATIONS[augmentation], SHAPES[shape])
    pixels_fn = raw.device_pixels()
    graph = tf.function(pixels_fn.images)
    for name, host_ds, raw_ds in _splits(host, raw):
        for host_batch, raw_batch in zip(host_ds, raw_ds, strict=True):
            expected = host_batch["image"].numpy()
            inputs = pixel_inputs(raw_batch)
            assert raw_batch["image"].dtype == tf.uint8 or pixels == "gaussian", name  # raw pixels cross over
            for how, fn in (("eager", pixels_fn.images), ("graph", graph)):
                got = fn(inputs).numpy()
                assert got.shape == expected.shape and np.array_equal(got, expected), (name, how)
            np.testing.assert_array_equal(raw_batch["index"].numpy(), host_batch["index"].numpy())


@pytest.mark.slow
@pytest.mark.parametrize("augmentation", ["none", "random crop + flip"])
def test_device_inputs_equal_host_inputs_on_each_replica_of_a_two_replica_strategy(augmentation):
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    strategy = tf.distribute.MirroredStrategy(devices[:2])
    for pixels in PIXEL_CONDITIONS:
        host, raw = _pipelines(pixels, AUGMENTATIONS[augmentation], SHAPES["crop 32 -> 28"])
        pixels_fn = raw.device_pixels()
        expected = {int(i): image for batch in host.train(1) for i, image in zip(batch["index"].numpy(),
                                                                                   batch["image"].numpy())}

        @tf.function(jit_compile=False)
        def step(x):
            return strategy.run(lambda inputs: (pixels_fn.images(inputs[0]), inputs[1]), args=(x,))

        seen = 0
        for x in strategy.experimental_distribute_dataset(raw.train(1).map(lambda b: (pixel_inputs(b), b["index"]))):
            images, indices = step(x)
            for part_images, part_indices in zip(strategy.experimental_local_results(images),
                                                 strategy.experimental_local_results(indices)):
                for i, image in zip(part_indices.numpy(), part_images.numpy()):
                    assert np.array_equal(image, expected[int(i)]), (pixels, int(i))
                    seen += 1
        assert seen == len(expected), pixels


def test_raw_batches_are_marked_and_host_batches_are_not():
    host, raw = _pipelines("random", Preprocessing(random_crop=True), (32, 32, 3))
    raw_batch, host_batch = next(iter(raw.train(0))), next(iter(host.train(0)))
    assert RAW_KEY in raw_batch and RAW_KEY not in host_batch
    assert isinstance(pixel_inputs(raw_batch), dict) and isinstance(pixel_inputs(host_batch), tf.Tensor)
    x, _ = next(iter(supervised(raw.train(0))))
    assert set(x) >= {"image", RAW_KEY, "crop_offset", "pixel_permutation"}


def test_device_placement_refuses_colour_jitter_and_variable_size_images():
    with pytest.raises(ValueError, match="--pixel-ops device does not run colour jitter"):
        DataConfig(pixel_ops="device", preprocessing=Preprocessing(color_jitter=True))
    with pytest.raises(ValueError, match="pixel_ops"):
        DataConfig(pixel_ops="gpu")
    with pytest.raises(ValueError, match="needs fixed-size images"):
        check_placement("device", Preprocessing(), (None, None, 3))


@pytest.mark.slow
def test_a_jit_compiled_evaluation_of_raw_batches_equals_the_host_one_bit_for_bit():
    import keras

    from rethinking.training.evaluation import make_loss_and_correct_fn

    host, raw = _pipelines("random", Preprocessing(random_crop=True, flip=True), (32, 32, 3))
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((28, 28, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])
    on_host = make_loss_and_correct_fn(model, jit_compile=True)
    on_device = make_loss_and_correct_fn(model, jit_compile=True, pixels=raw.device_pixels())
    for host_batch, raw_batch in zip(host.train(1), raw.train(1), strict=True):
        expected = on_host(host_batch["image"], host_batch["label"])[0].numpy()
        got = on_device(pixel_inputs(raw_batch), raw_batch["label"])[0].numpy()
        assert np.array_equal(got, expected)
