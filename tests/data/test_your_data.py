"""A dataset of your own (package.module:function): randomized exactly like the built-in ones."""

from __future__ import annotations

import numpy as np
import pytest

from rethinking.data import Corruption, DataConfig, Preprocessing, build_pipeline
from rethinking.data.datasets import load_dataset
from tests.data.test_pixels_through_crop import _bundle, _images

MODULE = '''
import numpy as np
import tensorflow as tf

def _arrays():
    data = np.load(__file__.replace(".py", ".npz"))
    return data["x_train"], data["y_train"], data["x_test"], data["y_test"]

def as_arrays():
    return _arrays()

def as_dict():
    x, y, xt, yt = _arrays()
    return {"x_train": x, "y_train": y, "x_test": xt, "y_test": yt, "class_names": [f"c{k}" for k in range(10)]}

def as_datasets():
    x, y, xt, yt = _arrays()
    return tf.data.Dataset.from_tensor_slices((x, y)), tf.data.Dataset.from_tensor_slices((xt, yt))

def wrong():
    return 42
'''


@pytest.fixture
def my_data(tmp_path, monkeypatch):
    """A user's module my_data.py with dataset functions over the arrays of my_data.npz."""
    bundle = _bundle()  # 32x32x3 images whose pixels are distinct: permutations are recoverable
    arrays = {}
    for split, ds in (("train", bundle.train), ("test", bundle.test)):
        examples = list(ds.as_numpy_iterator())
        arrays[f"x_{split}"] = np.stack([e["image"] for e in examples])
        arrays[f"y_{split}"] = np.array([e["label"] for e in examples])
    np.savez(tmp_path / "my_data.npz", **arrays)
    (tmp_path / "my_data.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path / "my_data.npz"


def _batches(pipeline, ds) -> dict[str, np.ndarray]:
    batches = list(ds.as_numpy_iterator())
    out = {k: np.concatenate([b[k] for b in batches]) for k in ("index", "label", "true_label", "image")}
    order = np.argsort(out["index"])
    return {k: v[order] for k, v in out.items()}


@pytest.mark.slow
@pytest.mark.parametrize("function", ["as_arrays", "as_dict", "as_datasets"])
@pytest.mark.parametrize("corruption", [Corruption(labels="random"), Corruption(pixels="shuffled"),
                                        Corruption(labels="partial", corruption_prob=0.5, pixels="random")])
def test_your_function_is_randomized_exactly_like_the_same_data_from_a_file(my_data, function, corruption):
    prep = Preprocessing(standardize=False, random_crop=True)
    yours = build_pipeline(DataConfig(dataset=f"my_data:{function}", corruption=corruption, preprocessing=prep, seed=5), 8)
    file = build_pipeline(DataConfig(dataset=str(my_data), corruption=corruption, preprocessing=prep, seed=5), 8)
    assert yours.info.source == "function" and yours.info.train_size == file.info.train_size == 24
    for epoch in (0, 1):
        a, b = _batches(yours, yours.train(epoch)), _batches(file, file.train(epoch))
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    np.testing.assert_array_equal(_images(yours.test()), _images(file.test()))
    # Labels are fixed across epochs: the same corrupted label for each example in every epoch.
    np.testing.assert_array_equal(_batches(yours, yours.train(0))["label"], _batches(yours, yours.train(3))["label"])


def test_what_a_dataset_function_must_return(my_data):
    assert load_dataset("my_data:as_dict").info.class_names[:2] == ("c0", "c1")
    with pytest.raises(ValueError, match="returned int: return"):
        load_dataset("my_data:wrong")
    with pytest.raises(ValueError, match="Cannot load dataset function 'my_data:nothing'"):
        load_dataset("my_data:nothing")
