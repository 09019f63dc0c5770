"""Per-example evaluation: losses and correctness in inference mode, split by corrupted labels."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from rethinking.training.evaluation import (EVAL_BATCH_CAP, SplitEvaluation, activation_bytes_per_example,
                                            evaluate_split, evaluation_batch_size, make_loss_and_correct_fn)


def test_per_example_loss_and_correctness_match_a_direct_computation():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dropout(0.9)])
    x = np.random.RandomState(0).randn(10, 4).astype(np.float32)
    labels = np.arange(10) % 3
    corrupted = labels % 2 == 0
    ds = tf.data.Dataset.from_tensor_slices({"image": x, "label": labels, "index": np.arange(10), "true_label": labels,
                                             "label_corrupted": corrupted}).batch(4)
    result = evaluate_split(make_loss_and_correct_fn(model, jit_compile=False), ds)
    logits = model(x, training=False).numpy()  # dropout off: inference mode
    expected = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True).numpy()
    np.testing.assert_allclose(result.loss, expected, rtol=1e-5)
    np.testing.assert_array_equal(result.correct, logits.argmax(1) == labels)
    np.testing.assert_array_equal(result.index, np.arange(10))
    assert result.accuracy == pytest.approx((logits.argmax(1) == labels).mean())
    assert result.accuracy_on(True) == pytest.approx((logits.argmax(1) == labels)[corrupted].mean())


@pytest.mark.parametrize("jit_compile", [False, True])
def test_given_its_batches_the_function_is_traced_once_for_every_batch_size(jit_compile):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    x = np.random.RandomState(0).randn(10, 4).astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices({"image": x, "label": np.arange(10) % 3, "index": np.arange(10),
                                             "true_label": np.arange(10) % 3,
                                             "label_corrupted": np.zeros(10, bool)}).batch(4)  # 4, 4, 2
    traced = make_loss_and_correct_fn(model, jit_compile=jit_compile, batches=[ds])
    result = evaluate_split(traced, ds)
    reference = evaluate_split(make_loss_and_correct_fn(model, jit_compile=False), ds)
    assert traced.experimental_get_tracing_count() == 1
    np.testing.assert_allclose(result.loss, reference.loss, rtol=1e-6)
    untraced = make_loss_and_correct_fn(model, jit_compile=jit_compile)
    evaluate_split(untraced, ds)
    assert untraced.experimental_get_tracing_count() == 2  # what it saves: a second trace for the last batch


def test_accuracy_on_an_empty_group_is_nan():
    ev = SplitEvaluation(loss=np.zeros(2, np.float32), correct=np.array([True, False]),
                         label_corrupted=np.array([False, False]), index=np.arange(2), label=np.zeros(2, int),
                         true_label=np.zeros(2, int))
    assert np.isnan(ev.accuracy_on(True)) and ev.accuracy_on(False) == 0.5


def test_default_evaluation_batch_grows_until_the_activation_budget_is_spent():
    inputs = keras.Input((8, 8, 4))
    wide = keras.layers.Conv2D(32, 3, padding="same")(inputs)  # 8 * 8 * 32 = 2,048 values per example
    model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(wide)))
    per_example = activation_bytes_per_example(model)
    # The four largest outputs: conv and flatten (2,048 each), input (256), logits (10), in float32.
    assert per_example == 4 * (2048 + 2048 + 256 + 10)
    assert evaluation_batch_size(model, 32, budget=per_example * 300) == 256  # largest power of two <= 300
    assert evaluation_batch_size(model, 512, budget=per_example * 300) == 512  # never below the training batch
    assert evaluation_batch_size(model, 32, budget=1 << 40) == EVAL_BATCH_CAP
    assert evaluation_batch_size(model, 32, chosen=100) == 100  # --eval-batch-size wins


def test_default_evaluation_batch_of_a_model_without_shapes_falls_back():
    class Bare(keras.Model):
        def call(self, x):
            return x

    assert activation_bytes_per_example(Bare()) is None
    assert evaluation_batch_size(Bare(), 64) == 256


def test_default_evaluation_batches_of_the_paper_models_are_those_docs_training_md_gives():
    from rethinking.models import MODELS

    batches = {name: evaluation_batch_size(MODELS[name](input_shape=(28, 28, 3), num_classes=10), 128)
               for name in ("mlp_1x512", "inception_small", "alexnet_small")}
    assert batches == {"mlp_1x512": 4096, "inception_small": 512, "alexnet_small": 2048}


def test_evaluation_sets_are_cached_split_by_split_within_the_budget_and_their_memory_is_told():
    from rethinking.data import DataConfig, build_pipeline
    from rethinking.training.evaluation import evaluation_cache_bytes, evaluation_datasets
    from tests.helpers import synthetic_bundle

    pipeline = build_pipeline(DataConfig(), 8, bundle=synthetic_bundle(30, 10, shape=(8, 8, 3)))
    train_bytes, test_bytes = 30 * 8 * 8 * 3 * 4, 10 * 8 * 8 * 3 * 4  # finished float32 inputs
    for budget, cached in ((train_bytes, (True, True)), (test_bytes, (False, True)), (test_bytes - 1, (False, False))):
        splits = evaluation_datasets(pipeline, budget)
        assert tuple("Cache" in type(ds).__name__ for ds in splits) == cached, budget
        assert evaluation_cache_bytes(pipeline, budget) == cached[0] * train_bytes + cached[1] * test_bytes
        assert [len(list(ds)) for ds in splits] == [4, 2]
