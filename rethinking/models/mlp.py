"""Multilayer perceptrons of the paper: flatten, hidden ReLU layers of 512 units, classifier.

MLP 1x512: 1,209,866 trainable parameters for 28x28x3 inputs and 10 classes; MLP 3x512: 1,735,178.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import keras

from rethinking.models.layers import check_common, dense_block, logits, scaled


def mlp(
    input_shape: Sequence[int] = (28, 28, 3),
    num_classes: int = 10,
    *,
    depth: int = 1,
    units: int = 512,
    batch_norm: bool = False,
    dropout: float = 0.0,
    weight_decay: float = 0.0,
    width_multiplier: float = 1.0,
    name: str | None = None,
) -> keras.Model:
    """Builds an MLP with ``depth`` hidden layers of ``units`` ReLU units.

    Args:
        input_shape: (height, width, channels); flattened first.
        num_classes: number of output logits.
        depth: number of hidden layers (0: a linear classifier).
        units: units per hidden layer, before the width multiplier.
        batch_norm: batch norm after each hidden layer (not in the paper; same parameter count).
        dropout: rate of dropout after each hidden layer (0: none).
        weight_decay: L2 coefficient on every kernel (see ``layers.l2``).
        width_multiplier: scales the hidden units.
        name: the model's name (default ``mlp_<depth>x<units>``).

    Returns:
        A ``keras.Model`` mapping images to logits.

    Raises:
        ValueError: on invalid arguments.
    """
    name = name or f"mlp_{depth}x{units}"
    check_common(name, input_shape, num_classes, dropout, weight_decay, width_multiplier)
    if not isinstance(depth, int) or depth < 0:
        raise ValueError(f"depth must be an integer >= 0. Received: depth={depth}")
    if not isinstance(units, int) or units < 1:
        raise ValueError(f"units must be a positive integer. Received: units={units}")
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = keras.layers.Flatten(name="flatten")(inputs)
    for k in range(1, depth + 1):
        x = dense_block(x, scaled(units, width_multiplier), name=f"hidden{k}", batch_norm=batch_norm,
                        weight_decay=weight_decay, dropout=dropout)
    return keras.Model(inputs, logits(x, num_classes, weight_decay), name=name)


mlp_1x512 = functools.partial(mlp, depth=1, units=512, name="mlp_1x512")
mlp_3x512 = functools.partial(mlp, depth=3, units=512, name="mlp_3x512")
