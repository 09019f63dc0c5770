"""Per-example evaluation: losses and correctness in inference mode, split by corrupted labels."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from rethinking.training.evaluation import SplitEvaluation, evaluate_split, make_loss_and_correct_fn


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


def test_accuracy_on_an_empty_group_is_nan():
    ev = SplitEvaluation(loss=np.zeros(2, np.float32), correct=np.array([True, False]),
                         label_corrupted=np.array([False, False]), index=np.arange(2), label=np.zeros(2, int),
                         true_label=np.zeros(2, int))
    assert np.isnan(ev.accuracy_on(True)) and ev.accuracy_on(False) == 0.5
