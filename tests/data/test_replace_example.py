"""--replace-example: one training example swapped for an unused one, everything else identical.

Checked on what the network receives: batches of every epoch (shuffle and random crop on), in
index order, and the replaced example itself, against a pipeline without the replacement and one
that trains on the replacement's own index.
"""

from __future__ import annotations

import numpy as np
import pytest

from rethinking.data import Corruption, DataConfig, Preprocessing, build_pipeline
from rethinking.data.datasets import from_arrays

SEED = 4


def _bundle(num_train: int = 30, num_test: int = 6):
    rng = np.random.RandomState(1)
    x = rng.randint(0, 256, (num_train + num_test, 32, 32, 3)).astype(np.uint8)
    y = np.arange(num_train + num_test) % 10
    return from_arrays("cifar-like", "npz", x[:num_train], y[:num_train], x[num_train:], y[num_train:])


def _config(labels: str = "true", **data) -> DataConfig:
    prep = Preprocessing(standardize=False, random_crop=True)
    return DataConfig(corruption=Corruption(labels=labels), preprocessing=prep, seed=SEED, train_examples=20, **data)


@pytest.mark.slow
@pytest.mark.parametrize("labels", ["true", "random"])
def test_only_the_replaced_example_differs_in_every_epochs_batches(labels):
    bundle = _bundle()
    base = build_pipeline(_config(labels), 8, bundle=bundle)
    swapped = build_pipeline(_config(labels, replace_example=7), 8, bundle=bundle)
    spare = build_pipeline(DataConfig(preprocessing=Preprocessing(standardize=False), seed=SEED, train_examples=21),
                           8, bundle=bundle)
    spare_true_label = [int(e["true_label"]) for e in spare.train_in_order().unbatch()][20]
    for epoch in (0, 3):  # shuffled, randomly cropped: inside Dataset.map, through the crop
        for a, b in zip(base.train(epoch).as_numpy_iterator(), swapped.train(epoch).as_numpy_iterator()):
            np.testing.assert_array_equal(a["index"], b["index"])  # the same order: the same batches
            for k, index in enumerate(a["index"]):
                same_image = np.array_equal(a["image"][k], b["image"][k])
                assert same_image == (index != 7)
                if index != 7:
                    assert a["label"][k] == b["label"][k]
                elif labels == "random":
                    assert a["label"][k] == b["label"][k]  # the random label is a function of the index
                else:
                    assert b["label"][k] == spare_true_label and b["true_label"][k] == spare_true_label
    # In index order without augmentation: the replacement is the first unused example's image (centre crop).
    rows = [e for e in swapped.train_in_order().unbatch().as_numpy_iterator()]
    spare_rows = [e for e in spare.train_in_order().unbatch().as_numpy_iterator()]
    assert len(rows) == 20 and rows[7]["index"] == 7
    np.testing.assert_array_equal(rows[7]["image"], spare_rows[20]["image"])
    # The replaced (original) example, as the base run trains on it, is kept for the stability loss.
    (out,) = list(swapped.replaced_in_order().unbatch().as_numpy_iterator())
    original = [e for e in base.train_in_order().unbatch().as_numpy_iterator()][7]
    np.testing.assert_array_equal(out["image"], original["image"])
    assert out["label"] == original["label"] and out["index"] == 7
    assert base.replaced_in_order() is None


def test_replace_example_is_checked_in_one_line():
    with pytest.raises(ValueError, match="needs --train-examples"):
        DataConfig(replace_example=3)
    with pytest.raises(ValueError, match="is not one of the training examples kept"):
        DataConfig(train_examples=10, train_offset=5, replace_example=3)
    with pytest.raises(ValueError, match="needs a training example after"):
        build_pipeline(DataConfig(train_examples=30, replace_example=3), 8, bundle=_bundle())
