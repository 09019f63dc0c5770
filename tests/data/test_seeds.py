"""Random streams: every draw is a pure function of (seed, stream, split, key)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import tensorflow as tf

from rethinking.data import seeds


def test_streams_and_splits_never_share_a_base_seed():
    streams = (seeds.LABELS, seeds.SHUFFLED_PIXELS, seeds.RANDOM_PIXELS, seeds.GAUSSIAN, seeds.AUGMENT, seeds.SHUFFLE)
    bases = {tuple(seeds.stream_seed(7, s, split).numpy()) for s, split in itertools.product(streams, seeds.SPLIT_IDS)}
    assert len(bases) == len(streams) * len(seeds.SPLIT_IDS)
    assert tuple(seeds.stream_seed(7, seeds.LABELS).numpy()) != tuple(seeds.stream_seed(8, seeds.LABELS).numpy())


def test_fold_is_a_pure_function_of_base_and_key_eagerly_and_in_a_graph():
    base = seeds.stream_seed(3, seeds.LABELS)
    eager = [seeds.fold(base, k).numpy() for k in range(5)]
    mapped = list(tf.data.Dataset.range(5).map(lambda k: seeds.fold(base, k)).as_numpy_iterator())
    np.testing.assert_array_equal(np.stack(eager), np.stack(mapped))
    assert len({tuple(e) for e in eager}) == 5


def test_unknown_split_is_an_error():
    with pytest.raises(ValueError, match="Unknown split 'valid'"):
        seeds.stream_seed(0, seeds.LABELS, "valid")
