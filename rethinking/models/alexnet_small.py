"""The small AlexNet of the paper's CIFAR-10 experiments (Appendix A of Zhang et al., 2017).

Two [conv 5x5 (64) -> max-pool 3x3 stride 2 -> local response normalization] blocks, then dense
384, dense 192 and the classifier. For 28x28x3 and 10 classes: 1,387,786 trainable parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from rethinking.models.layers import (
    LocalResponseNormalization,
    check_common,
    conv_block,
    dense_block,
    logits,
    scaled,
)

CONV_FILTERS = (64, 64)
DENSE_UNITS = (384, 192)
# LRN as in TensorFlow's CIFAR-10 model the paper used: depth radius 4, bias 1, alpha 0.001/9, beta 0.75.
LRN = dict(depth_radius=4, bias=1.0, alpha=0.001 / 9.0, beta=0.75)


def alexnet_small(
    input_shape: Sequence[int] = (28, 28, 3),
    num_classes: int = 10,
    *,
    batch_norm: bool = False,
    dropout: float = 0.0,
    weight_decay: float = 0.0,
    width_multiplier: float = 1.0,
    name: str = "alexnet_small",
) -> keras.Model:
    """Builds the paper's small AlexNet.

    Args:
        input_shape: (height, width, channels).
        num_classes: number of output logits.
        batch_norm: batch norm after each conv and hidden dense layer (not in the paper; same count).
        dropout: rate of dropout after each hidden dense layer (0: none).
        weight_decay: L2 coefficient on every kernel (see ``layers.l2``).
        width_multiplier: scales filters and hidden units.
        name: the model's name.

    Returns:
        A ``keras.Model`` mapping images to logits.

    Raises:
        ValueError: on invalid arguments.
    """
    check_common(name, input_shape, num_classes, dropout, weight_decay, width_multiplier)
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = inputs
    for k, filters in enumerate(CONV_FILTERS, start=1):
        x = conv_block(x, scaled(filters, width_multiplier), 5, name=f"block{k}",
                       batch_norm=batch_norm, weight_decay=weight_decay)
        x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"block{k}_pool")(x)
        x = LocalResponseNormalization(**LRN, name=f"block{k}_lrn")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for k, units in enumerate(DENSE_UNITS, start=1):
        x = dense_block(x, scaled(units, width_multiplier), name=f"fc{k}", batch_norm=batch_norm,
                        weight_decay=weight_decay, dropout=dropout)
    return keras.Model(inputs, logits(x, num_classes, weight_decay), name=name)
