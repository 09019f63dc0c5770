"""The run pipeline: order of stages, caching, splits, configs and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from rethinking.data import Corruption, DataConfig, Preprocessing, build_pipeline, supervised
from rethinking.data.datasets import DataBundle
from rethinking.data.pipeline import SMALL_DATA_EXAMPLES, small_data
from tests.helpers import synthetic_bundle


def _counting(bundle: DataBundle) -> tuple[DataBundle, tf.Variable]:
    """The bundle with a counter of how many training examples were read from the source."""
    counter = tf.Variable(0, dtype=tf.int64)

    def count(ex):
        counter.assign_add(1)
        return ex

    train = bundle.train.map(count)
    return DataBundle(train, bundle.test, bundle.info), counter


@pytest.mark.parametrize("cache, reads", [("memory", 1), ("none", 3)])
def test_corruption_is_paid_once_before_the_cache(cache, reads):
    bundle, counter = _counting(synthetic_bundle(100))
    config = DataConfig(corruption=Corruption(labels="random", pixels="random"), cache=cache)
    pipeline = build_pipeline(config, batch_size=25, bundle=bundle)
    for epoch in range(3):
        assert sum(len(b["index"]) for b in pipeline.train(epoch).as_numpy_iterator()) == 100
    assert int(counter.numpy()) == 100 * reads


def test_batches_have_the_documented_structure():
    pipeline = build_pipeline(DataConfig(corruption=Corruption(labels="random")), 32, bundle=synthetic_bundle(100, shape=(32, 32, 3)))
    assert pipeline.image_size == (28, 28) and pipeline.input_shape == (28, 28, 3)
    assert pipeline.steps_per_epoch == 4
    batch = next(iter(pipeline.train(0)))
    assert batch["image"].shape == (32, 28, 28, 3) and batch["image"].dtype == tf.float32
    assert set(batch) == {"image", "label", "index", "true_label", "label_corrupted"}
    # Per-image standardization: each image has mean 0 and std 1.
    images = batch["image"].numpy().reshape(32, -1)
    np.testing.assert_allclose(images.mean(1), 0, atol=1e-4)
    np.testing.assert_allclose(images.std(1), 1, atol=1e-3)
    x, y = next(iter(supervised(pipeline.train(0))))
    assert x.shape == (32, 28, 28, 3) and y.shape == (32,)
    # What model.fit gets runs without tf.data's autotuning thread (its back-off stalls each epoch's end).
    assert supervised(pipeline.train(0)).options().autotune.enabled is False
    assert len(list(pipeline.train_epochs(0, 2))) == 2 * pipeline.steps_per_epoch


def test_every_epoch_of_a_pipeline_reuses_one_trace_of_its_batch_function():
    pipeline = build_pipeline(DataConfig(corruption=Corruption(labels="random", pixels="shuffled")), 16,
                              bundle=synthetic_bundle(40, 20, shape=(32, 32, 3)))
    epochs = [list(pipeline.train(epoch).as_numpy_iterator()) for epoch in range(3)]
    # Three epochs' datasets, one trace of the training split's batch function (the last, smaller
    # batch of 40 % 16 = 8 included).
    assert pipeline._fixed_batch_functions[True].experimental_get_tracing_count() == 1
    assert [len(b["index"]) for b in epochs[2]] == [16, 16, 8]
    assert not all(np.array_equal(a["index"], b["index"]) for a, b in zip(epochs[0], epochs[1]))  # reshuffled


def test_small_data_runs_without_static_rewrites_and_autotuning_and_large_data_keeps_them():
    def tuned(ds):
        options = ds.options()
        return options.autotune.enabled is not False, options.experimental_optimization.apply_default_optimizations is not False

    config = DataConfig(corruption=Corruption(labels="random"))
    small = build_pipeline(config, 32, bundle=synthetic_bundle(SMALL_DATA_EXAMPLES - 1, 10, shape=(4, 4, 1)))
    large = build_pipeline(config, 32, bundle=synthetic_bundle(SMALL_DATA_EXAMPLES, 10, shape=(4, 4, 1)))
    # Every dataset of a pipeline inherits the choice of its cached splits, the evaluation sets too.
    for make in (lambda p: p.train(1), lambda p: p.train_in_order(), lambda p: p.test(), lambda p: p.raw().train(1)):
        assert tuned(make(small)) == (False, False) and tuned(make(large)) == (True, True)
    ds = tf.data.Dataset.range(10)
    assert small_data(ds, SMALL_DATA_EXAMPLES) is ds and tuned(small_data(ds, 10)) == (False, False)
    # The same batches either way: only how tf.data runs them changes.
    on, off = list(large.train(2).as_numpy_iterator()), list(small_data(large.train(2), 0).as_numpy_iterator())
    assert len(on) == len(off) == large.steps_per_epoch
    assert all(np.array_equal(a[k], b[k]) for a, b in zip(on, off) for k in ("image", "label", "index"))


def test_evaluation_sets_are_in_index_order_with_true_test_labels():
    bundle = synthetic_bundle(90, 30)
    pipeline = build_pipeline(DataConfig(corruption=Corruption(labels="random", pixels="gaussian")), 16, bundle=bundle)
    train = list(pipeline.train_in_order().as_numpy_iterator())
    np.testing.assert_array_equal(np.concatenate([b["index"] for b in train]), np.arange(90))
    assert np.concatenate([b["label_corrupted"] for b in train]).mean() > 0.7
    test = list(pipeline.test().as_numpy_iterator())
    np.testing.assert_array_equal(np.concatenate([b["index"] for b in test]), np.arange(30))
    assert not np.concatenate([b["label_corrupted"] for b in test]).any()
    true_test = np.array([ex["label"] for ex in bundle.test.as_numpy_iterator()])
    np.testing.assert_array_equal(np.concatenate([b["label"] for b in test]), true_test)
    # The pixel condition applies to the test split too: Gaussian test images are not the originals.
    clean = build_pipeline(DataConfig(), 16, bundle=bundle)
    assert not np.allclose(next(iter(clean.test()))["image"], test[0]["image"])


def test_train_eval_ignores_augmentation():
    config = DataConfig(preprocessing=Preprocessing(random_crop=True, flip=True, color_jitter=True))
    pipeline = build_pipeline(config, 50, bundle=synthetic_bundle(100))
    first = [b["image"] for b in pipeline.train_in_order().as_numpy_iterator()]
    plain = [b["image"] for b in build_pipeline(DataConfig(), 50, bundle=synthetic_bundle(100)).train_in_order().as_numpy_iterator()]
    for a, b in zip(first, plain):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("pixels", ["original", "random", "gaussian"])
def test_a_training_subset_keeps_each_example_as_in_the_full_dataset(pixels):
    corruption = Corruption(labels="partial", corruption_prob=0.5, pixels=pixels)
    full = build_pipeline(DataConfig(corruption=corruption, seed=4), 16, bundle=synthetic_bundle(100, 20))
    part = build_pipeline(DataConfig(corruption=corruption, seed=4, train_examples=30), 16,
                          bundle=synthetic_bundle(100, 20))
    assert part.info.train_size == 30 and part.steps_per_epoch == 2 and part.info.test_size == 20
    first = {k: np.concatenate([b[k] for b in full.train_in_order().as_numpy_iterator()])[:30] for k in ("image", "label")}
    kept = {k: np.concatenate([b[k] for b in part.train_in_order().as_numpy_iterator()]) for k in ("image", "label", "index")}
    np.testing.assert_array_equal(kept["index"], np.arange(30))
    np.testing.assert_array_equal(kept["label"], first["label"])
    np.testing.assert_allclose(kept["image"], first["image"], atol=1e-6)
    assert sum(len(b["index"]) for b in part.train(3).as_numpy_iterator()) == 30


@pytest.mark.parametrize("pixels", ["original", "shuffled", "random", "gaussian"])
def test_an_offset_range_keeps_each_example_as_in_the_full_dataset_through_the_crop(pixels):
    """--train-offset 40 --train-examples 30: examples 40..69, each exactly as in the full run, on the
    network's (cropped) input, with and without augmentation's crop switched off."""
    corruption = Corruption(labels="partial", corruption_prob=0.5, pixels=pixels)
    prep = Preprocessing(crop_size=6)
    full = build_pipeline(DataConfig(corruption=corruption, preprocessing=prep, seed=4), 16,
                          bundle=synthetic_bundle(100, 20))
    part = build_pipeline(DataConfig(corruption=corruption, preprocessing=prep, seed=4, train_examples=30,
                                     train_offset=40), 16, bundle=synthetic_bundle(100, 20))
    assert part.info.train_size == 30 and part.steps_per_epoch == 2 and part.info.test_size == 20
    whole = {k: np.concatenate([b[k] for b in full.train_in_order().as_numpy_iterator()]) for k in ("image", "label")}
    kept = {k: np.concatenate([b[k] for b in part.train_in_order().as_numpy_iterator()]) for k in ("image", "label", "index")}
    np.testing.assert_array_equal(kept["index"], np.arange(40, 70))
    np.testing.assert_array_equal(kept["label"], whole["label"][40:70])
    np.testing.assert_allclose(kept["image"], whole["image"][40:70], atol=1e-6)
    shuffled = np.concatenate([b["index"] for b in part.train(2).as_numpy_iterator()])
    assert sorted(shuffled.tolist()) == list(range(40, 70))  # an epoch sees each kept example once
    # Without --train-examples: everything from the offset on.
    rest = build_pipeline(DataConfig(corruption=corruption, seed=4, train_offset=90), 16, bundle=synthetic_bundle(100, 20))
    assert rest.info.train_size == 10
    with pytest.raises(ValueError, match="train_offset=90 \\+ train_examples=20 exceeds the 100 training examples"):
        build_pipeline(DataConfig(train_offset=90, train_examples=20), 16, bundle=synthetic_bundle(100, 20))
    with pytest.raises(ValueError, match="train_offset=100 leaves none of the 100 training examples"):
        build_pipeline(DataConfig(train_offset=100), 16, bundle=synthetic_bundle(100, 20))


def test_data_config_round_trip_and_errors():
    config = DataConfig(
        dataset="x.npz", corruption=Corruption(labels="partial", corruption_prob=0.2),
        preprocessing=Preprocessing(random_crop=True, crop_size=24), seed=3, cache="none", shuffle_buffer=10,
        train_examples=50,
    )
    assert DataConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="Unknown DataConfig keys"):
        DataConfig.from_dict({"datset": "digits"})
    with pytest.raises(ValueError, match="Unknown Corruption keys"):
        DataConfig.from_dict({"corruption": {"label": "true"}})
    with pytest.raises(ValueError, match="seed"):
        DataConfig(seed=-1)
    with pytest.raises(ValueError, match="shuffle_buffer"):
        DataConfig(shuffle_buffer=0)
    with pytest.raises(ValueError, match="train_examples"):
        DataConfig(train_examples=0)
    with pytest.raises(ValueError, match="exceeds the 10 training examples"):
        build_pipeline(DataConfig(train_examples=11), 8, bundle=synthetic_bundle(10))
    with pytest.raises(ValueError, match="batch_size"):
        build_pipeline(DataConfig(), 0, bundle=synthetic_bundle(10))
    with pytest.raises(ValueError, match="larger than"):
        build_pipeline(DataConfig(preprocessing=Preprocessing(crop_size=40)), 8, bundle=synthetic_bundle(10))


def test_digits_pipeline_loads_by_name():
    pipeline = build_pipeline(DataConfig(dataset="digits", corruption=Corruption(labels="random")), 128)
    assert pipeline.info.name == "digits" and pipeline.input_shape == (8, 8, 1)
    n = sum(len(b["index"]) for b in pipeline.train_in_order().as_numpy_iterator())
    assert n == pipeline.info.train_size == 1438


def test_train_epochs_are_the_epochs_back_to_back_even_under_a_global_seed():
    pipeline = build_pipeline(DataConfig(), 64, bundle=synthetic_bundle(100, shape=(8, 8, 1)))
    tf.random.set_seed(3)  # keras.utils.set_random_seed does this; shuffle seeds must stay Python ints
    try:
        joined = [b["index"].numpy() for b in pipeline.train_epochs(1, 3)]
        separate = [b["index"].numpy() for e in (1, 2) for b in pipeline.train(e)]
    finally:
        tf.random.set_seed(None)
    assert len(joined) == 4 and all(np.array_equal(a, b) for a, b in zip(joined, separate))
    assert not np.array_equal(separate[0], separate[2])  # epochs differ in order
    assert len(list(pipeline.train_epochs(2, 2))) == 0


@pytest.mark.parametrize("corruption, prep", [
    (Corruption(labels="partial", corruption_prob=0.5, pixels="random"), Preprocessing()),
    (Corruption(labels="random", pixels="shuffled"), Preprocessing(random_crop=True, flip=True)),
    (Corruption(labels="true", pixels="gaussian"), Preprocessing()),
], ids=["labels and random pixels", "shuffled pixels under augmentation", "gaussian"])
def test_the_data_functions_are_traced_without_autograph(monkeypatch, corruption, prep):
    """AutoGraph parses and rewrites every function it converts (0.5 s of every command before, and
    once a "please report this to the TensorFlow team" warning on every run, for a batch function it
    could not convert): none of the data layer's functions may go through it, in any pipeline stage."""
    from tensorflow.python.autograph.pyct import transpiler

    converted: list[str] = []
    real = transpiler.PyToPy.transform_function

    def recording(self, fn, user_context):
        converted.append(f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', fn)}")
        return real(self, fn, user_context)

    monkeypatch.setattr(transpiler.PyToPy, "transform_function", recording)
    bundle = synthetic_bundle(40, shape=(32, 32, 3))
    pipeline = build_pipeline(DataConfig(corruption=corruption, preprocessing=prep), 16, bundle=bundle)
    for ds in (pipeline.train(1), pipeline.train_in_order(), pipeline.test(), supervised(pipeline.raw().train(0))):
        next(iter(ds))
    assert not [name for name in converted if name.startswith("rethinking.")], converted
