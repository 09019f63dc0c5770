"""Inception v3 (Szegedy et al., 2016) for the paper's ImageNet experiments (Table 2).

The layout of ``keras.applications.InceptionV3`` (conv blocks without bias, batch norm with shift
only), built with our blocks so that batch norm, dropout, weight decay and width work as in the
other builders. With batch norm, no dropout and width 1, its trainable parameter count equals Keras'
(23,817,352 for 299x299x3 and 1,000 classes; a test compares them). The paper used dropout only
here; ours sits before the classifier (Inception v3's own place for it).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from rethinking.models.layers import check_common, conv_block, logits, scaled

# Keras' InceptionV3 needs at least 75x75 inputs (the stem and three valid-padded reductions).
MIN_SIZE = 75


def inception_v3(
    input_shape: Sequence[int] = (299, 299, 3),
    num_classes: int = 1000,
    *,
    batch_norm: bool = True,
    dropout: float = 0.0,
    weight_decay: float = 0.0,
    width_multiplier: float = 1.0,
    name: str = "inception_v3",
) -> keras.Model:
    """Builds Inception v3.

    Args:
        input_shape: (height, width, channels), at least 75x75.
        num_classes: number of output logits.
        batch_norm: batch norm after every conv (standard); off, convs get biases instead.
        dropout: rate of dropout before the classifier (the paper's ImageNet runs used dropout).
        weight_decay: L2 coefficient on every kernel (see ``layers.l2``).
        width_multiplier: scales every filter count.
        name: the model's name.

    Returns:
        A ``keras.Model`` mapping images to logits.

    Raises:
        ValueError: on invalid arguments, including inputs smaller than 75x75.
    """
    check_common(name, input_shape, num_classes, dropout, weight_decay, width_multiplier, min_size=MIN_SIZE)
    w = width_multiplier
    counter = iter(range(1, 10_000))

    def conv(x, filters, kernel, strides=1, padding="same"):
        return conv_block(x, scaled(filters, w), kernel, strides=strides, padding=padding,
                          name=f"conv{next(counter)}", batch_norm=batch_norm, weight_decay=weight_decay)

    def concat(tensors, label):
        return keras.layers.Concatenate(name=label)(tensors)

    def avg_pool(x, label):
        return keras.layers.AveragePooling2D(3, strides=1, padding="same", name=label)(x)

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = conv(inputs, 32, 3, strides=2, padding="valid")
    x = conv(x, 32, 3, padding="valid")
    x = conv(x, 64, 3)
    x = keras.layers.MaxPooling2D(3, strides=2, name="stem_pool1")(x)
    x = conv(x, 80, 1, padding="valid")
    x = conv(x, 192, 3, padding="valid")
    x = keras.layers.MaxPooling2D(3, strides=2, name="stem_pool2")(x)

    for k, pool_filters in enumerate((32, 64, 64)):  # mixed 0-2: 35x35
        b1 = conv(x, 64, 1)
        b5 = conv(conv(x, 48, 1), 64, 5)
        b3 = conv(conv(conv(x, 64, 1), 96, 3), 96, 3)
        bp = conv(avg_pool(x, f"mixed{k}_pool"), pool_filters, 1)
        x = concat([b1, b5, b3, bp], f"mixed{k}")

    b3 = conv(x, 384, 3, strides=2, padding="valid")  # mixed 3: 35 -> 17
    bd = conv(conv(conv(x, 64, 1), 96, 3), 96, 3, strides=2, padding="valid")
    bp = keras.layers.MaxPooling2D(3, strides=2, name="mixed3_pool")(x)
    x = concat([b3, bd, bp], "mixed3")

    for k, mid in zip(range(4, 8), (128, 160, 160, 192)):  # mixed 4-7: 17x17, factorized 7x7
        b1 = conv(x, 192, 1)
        b7 = conv(conv(conv(x, mid, 1), mid, (1, 7)), 192, (7, 1))
        bd = conv(x, mid, 1)
        for filters, kernel in ((mid, (7, 1)), (mid, (1, 7)), (mid, (7, 1)), (192, (1, 7))):
            bd = conv(bd, filters, kernel)
        bp = conv(avg_pool(x, f"mixed{k}_pool"), 192, 1)
        x = concat([b1, b7, bd, bp], f"mixed{k}")

    b3 = conv(conv(x, 192, 1), 320, 3, strides=2, padding="valid")  # mixed 8: 17 -> 8
    b7 = conv(conv(conv(conv(x, 192, 1), 192, (1, 7)), 192, (7, 1)), 192, 3, strides=2, padding="valid")
    bp = keras.layers.MaxPooling2D(3, strides=2, name="mixed8_pool")(x)
    x = concat([b3, b7, bp], "mixed8")

    for k in (9, 10):  # mixed 9-10: 8x8, expanded filter banks
        b1 = conv(x, 320, 1)
        b3 = conv(x, 384, 1)
        b3 = concat([conv(b3, 384, (1, 3)), conv(b3, 384, (3, 1))], f"mixed{k}_3x3")
        bd = conv(conv(x, 448, 1), 384, 3)
        bd = concat([conv(bd, 384, (1, 3)), conv(bd, 384, (3, 1))], f"mixed{k}_3x3dbl")
        bp = conv(avg_pool(x, f"mixed{k}_pool"), 192, 1)
        x = concat([b1, b3, bd, bp], f"mixed{k}")

    x = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    if dropout > 0:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    return keras.Model(inputs, logits(x, num_classes, weight_decay), name=name)
