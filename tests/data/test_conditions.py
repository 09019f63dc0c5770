"""The registries of label noise and pixel conditions: every entry loads, and a new condition is
one function plus one registry line, honoured by the config, the dataset functions and the run
pipeline (through the crop the network gets)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from rethinking.config import Corruption, DataConfig, Preprocessing
from rethinking.data import build_pipeline
from rethinking.registry.conditions import LABEL_NOISES, PIXEL_CONDITIONS, PixelCondition, pixel_condition
from rethinking.registry import load_function
from tests.data.test_pixels_through_crop import _bundle, _images

SEED = 3


def reversed_positions(num_pixels: int, *, seed: int, split: str, index: tf.Tensor | None) -> tf.Tensor:
    """A test pixel condition: every image's pixel positions in reverse order."""
    return tf.range(num_pixels - 1, -1, -1)


def next_class(true: tf.Tensor, key: tf.Tensor, num_classes: int) -> tf.Tensor:
    """A test label noise: the next class (mod K)."""
    return (true + 1) % num_classes


def test_every_registered_function_loads():
    for path in LABEL_NOISES.values():
        assert callable(load_function(path))
    for name, condition in PIXEL_CONDITIONS.items():
        assert condition.kind in ("none", "permutation", "replacement"), name
        assert (condition.function is None) == (condition.kind == "none"), name
        if condition.function:
            assert callable(load_function(condition.function))


def test_unknown_names_and_paths_are_one_line_errors():
    with pytest.raises(ValueError, match="Unknown pixels 'blurred': use one of original, shuffled"):
        pixel_condition("blurred")
    with pytest.raises(ValueError, match="not of the form"):
        load_function("rethinking.data.corruptions")
    with pytest.raises(ValueError, match="Cannot load label noise"):
        load_function("rethinking.data.corruptions:no_such_draw", "label noise")


def test_the_registries_import_no_tensorflow():
    code = "import sys, rethinking.registry.conditions, rethinking.config; print('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


@pytest.mark.parametrize("random_crop", [False, True])
def test_a_registered_pixel_permutation_acts_after_the_crop(monkeypatch, random_crop):
    monkeypatch.setitem(PIXEL_CONDITIONS, "reversed", PixelCondition("permutation", f"{__name__}:reversed_positions"))
    prep = Preprocessing(standardize=False, random_crop=random_crop)
    bundle = _bundle()
    clean = build_pipeline(DataConfig(preprocessing=prep, seed=SEED), 8, bundle=bundle)
    config = DataConfig(corruption=Corruption(pixels="reversed"), preprocessing=prep, seed=SEED)
    mirrored = build_pipeline(config, 8, bundle=bundle)
    for clean_ds, ds in [(clean.train_in_order(1), mirrored.train_in_order(1)), (clean.test(), mirrored.test())]:
        seen, got = _images(clean_ds), _images(ds)
        assert got.shape[1:3] == (28, 28)
        expected = seen.reshape(len(seen), 28 * 28, 3)[:, ::-1].reshape(seen.shape)
        np.testing.assert_array_equal(got, expected)


def test_a_registered_label_noise_draws_the_replacement(monkeypatch):
    monkeypatch.setitem(LABEL_NOISES, "next", f"{__name__}:next_class")
    config = DataConfig(corruption=Corruption(labels="random", label_noise="next"), seed=SEED)
    batches = list(build_pipeline(config, 16, bundle=_bundle()).train_in_order().as_numpy_iterator())
    true = np.concatenate([b["true_label"] for b in batches])
    np.testing.assert_array_equal(np.concatenate([b["label"] for b in batches]), (true + 1) % 10)
    assert np.concatenate([b["label_corrupted"] for b in batches]).all()


def test_an_unregistered_condition_is_refused_by_the_config():
    with pytest.raises(ValueError, match="Unknown pixels 'reversed'"):
        Corruption(pixels="reversed")
