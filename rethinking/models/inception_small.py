"""The small Inception of the paper's CIFAR-10 experiments (Figure 3 of Zhang et al., 2017).

Conv module = conv -> batch norm -> ReLU. Inception(a, b) = concat[conv 1x1 (a), conv 3x3 (b)].
Downsample(c) = concat[conv 3x3 stride 2 (c), max-pool 3x3 stride 2], same padding: 28 -> 14 -> 7.
For a 28x28x3 input and 10 classes: 1,649,402 trainable parameters, with and without batch norm.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from rethinking.models.layers import check_common, conv_block, logits, scaled

# (kind, filters) in order; "in" = Inception(a, b), "down" = Downsample(c).
STAGES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("in", (32, 32)), ("in", (32, 48)), ("down", (80,)),
    ("in", (112, 48)), ("in", (96, 64)), ("in", (80, 80)), ("in", (48, 96)), ("down", (96,)),
    ("in", (176, 160)), ("in", (176, 160)),
)
STEM_FILTERS = 96


def inception_small(
    input_shape: Sequence[int] = (28, 28, 3),
    num_classes: int = 10,
    *,
    batch_norm: bool = True,
    dropout: float = 0.0,
    weight_decay: float = 0.0,
    width_multiplier: float = 1.0,
    name: str = "inception_small",
) -> keras.Model:
    """Builds the paper's small Inception.

    Args:
        input_shape: (height, width, channels); any size (each downsampling halves it, rounding up).
        num_classes: number of output logits.
        batch_norm: batch norm after every conv (the paper's default); off, convs get biases instead.
        dropout: rate of a dropout layer before the classifier (our choice of place; 0: none).
        weight_decay: L2 coefficient on every kernel (see ``layers.l2``).
        width_multiplier: scales every filter count (width sweeps).
        name: the model's name.

    Returns:
        A ``keras.Model`` mapping images to logits.

    Raises:
        ValueError: on invalid arguments.
    """
    check_common(name, input_shape, num_classes, dropout, weight_decay, width_multiplier)
    common = dict(batch_norm=batch_norm, weight_decay=weight_decay)
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = conv_block(inputs, scaled(STEM_FILTERS, width_multiplier), 3, name="stem", **common)
    n_in = n_down = 0
    for kind, filters in STAGES:
        if kind == "in":
            n_in += 1
            block = f"inception{n_in}"
            a, b = (scaled(f, width_multiplier) for f in filters)
            one = conv_block(x, a, 1, name=f"{block}_1x1", **common)
            three = conv_block(x, b, 3, name=f"{block}_3x3", **common)
            x = keras.layers.Concatenate(name=f"{block}_concat")([one, three])
        else:
            n_down += 1
            block = f"downsample{n_down}"
            conv = conv_block(x, scaled(filters[0], width_multiplier), 3, strides=2, name=block, **common)
            pool = keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"{block}_pool")(x)
            x = keras.layers.Concatenate(name=f"{block}_concat")([conv, pool])
    x = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    if dropout > 0:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    return keras.Model(inputs, logits(x, num_classes, weight_decay), name=name)
