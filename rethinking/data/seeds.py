"""Random streams of the data layer: every random draw is a pure function of (seed, stream, key).

The stream numbers are part of the reproducibility contract: changing one changes every dataset
ever produced with a given seed, so never renumber them.
"""

from __future__ import annotations

import tensorflow as tf

LABELS = 1
SHUFFLED_PIXELS = 2
RANDOM_PIXELS = 3
GAUSSIAN = 4
AUGMENT = 5
SHUFFLE = 6

SPLIT_IDS = {"train": 0, "test": 1}
# Philox everywhere: "auto_select" would pick ThreeFry on TPU and change the data.
ALG = "philox"


def stream_seed(seed: int, stream: int, split: str = "train") -> tf.Tensor:
    """The base seed (shape [2], int64) of one random stream of one split."""
    if split not in SPLIT_IDS:
        raise ValueError(f"Unknown split {split!r}: use one of {', '.join(SPLIT_IDS)}.")
    return tf.constant([seed, stream * 16 + SPLIT_IDS[split]], dtype=tf.int64)


def fold(base: tf.Tensor, key: tf.Tensor | int) -> tf.Tensor:
    """A new seed that is a pure function of ``base`` and an integer ``key`` (an index, an epoch)."""
    return tf.random.experimental.stateless_fold_in(base, tf.cast(key, tf.int64), alg=ALG)
