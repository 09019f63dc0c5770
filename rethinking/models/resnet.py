"""The residual networks of the follow-up literature, pre-activation (BN -> ReLU -> conv) throughout.

* ``preact_resnet18(width=k)``: the pre-activation ResNet-18 of the double-descent papers (Nakkiran
  et al. 2019, after kuangliu/pytorch-cifar): a 3x3 stem of k channels, four stages of two blocks
  with k, 2k, 4k, 8k channels (strides 1, 2, 2, 2), global average pooling, the classifier. k = 64
  is the standard ResNet-18: 11,171,146 trainable parameters for 32x32x3 inputs and 10 classes.
* ``wide_resnet28(width=k)``: WRN-28-k (Zagoruyko and Komodakis 2016): a 3x3 stem of 16 channels,
  three stages of four blocks with 16k, 32k, 64k channels (strides 1, 2, 2), a final BN -> ReLU,
  pooling, the classifier. WRN-28-1 has 369,498 trainable parameters on CIFAR-10, WRN-28-10
  36,479,194.

Convolutions have no bias; a block's shortcut is the identity, or a 1x1 convolution of the
pre-activated input where the shape changes. Batch norm has its scale and shift here (as published;
unlike the paper's models, see ``layers``), so ``batch_norm=False`` removes parameters. ``dropout``
is the rate of a dropout layer between a block's two convolutions (WRN's place) for WRN, and
before the classifier for ResNet-18; ``width_multiplier`` scales every channel count.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from rethinking.models.layers import BN_EPSILON, BN_MOMENTUM, FusedBatchNormalization, check_common, l2, logits, scaled


def _preactivate(x: keras.KerasTensor, name: str, batch_norm: bool) -> keras.KerasTensor:
    if batch_norm:
        x = FusedBatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def _conv(x: keras.KerasTensor, filters: int, kernel: int, strides: int, name: str, weight_decay: float) -> keras.KerasTensor:
    return keras.layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                               kernel_regularizer=l2(weight_decay), name=name)(x)


def preact_block(x: keras.KerasTensor, filters: int, strides: int, *, name: str, batch_norm: bool,
                 weight_decay: float, dropout: float = 0.0) -> keras.KerasTensor:
    """BN -> ReLU -> conv3x3 (strides) -> BN -> ReLU -> (dropout) -> conv3x3, plus the shortcut."""
    activated = _preactivate(x, f"{name}_in", batch_norm)
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = _conv(activated, filters, 1, strides, f"{name}_shortcut", weight_decay)
    y = _conv(activated, filters, 3, strides, f"{name}_conv1", weight_decay)
    y = _preactivate(y, f"{name}_mid", batch_norm)
    if dropout > 0:
        y = keras.layers.Dropout(dropout, name=f"{name}_dropout")(y)
    y = _conv(y, filters, 3, 1, f"{name}_conv2", weight_decay)
    return keras.layers.Add(name=f"{name}_add")([shortcut, y])


def _residual_net(input_shape: Sequence[int], num_classes: int, *, stem: int, stages: Sequence[tuple[int, int, int]],
                  final_activation: bool, batch_norm: bool, block_dropout: float, head_dropout: float,
                  weight_decay: float, width_multiplier: float, name: str) -> keras.Model:
    """stages: (channels, blocks, first stride) each."""
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = _conv(inputs, scaled(stem, width_multiplier), 3, 1, "stem_conv", weight_decay)
    for s, (channels, blocks, strides) in enumerate(stages, start=1):
        for b in range(1, blocks + 1):
            x = preact_block(x, scaled(channels, width_multiplier), strides if b == 1 else 1, name=f"stage{s}_block{b}",
                             batch_norm=batch_norm, weight_decay=weight_decay, dropout=block_dropout)
    if final_activation:
        x = _preactivate(x, "final", batch_norm)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    if head_dropout > 0:
        x = keras.layers.Dropout(head_dropout, name="dropout")(x)
    return keras.Model(inputs, logits(x, num_classes, weight_decay), name=name)


def _check_width(width: int) -> None:
    if not isinstance(width, int) or isinstance(width, bool) or width < 1:
        raise ValueError(f"width must be a positive integer. Received: width={width}")


def preact_resnet18(
    input_shape: Sequence[int] = (32, 32, 3),
    num_classes: int = 10,
    *,
    width: int = 64,
    batch_norm: bool = True,
    dropout: float = 0.0,
    weight_decay: float = 0.0,
    width_multiplier: float = 1.0,
    name: str = "preact_resnet18",
) -> keras.Model:
    """Builds the pre-activation ResNet-18 of width ``k = width`` (k, 2k, 4k, 8k channels).

    As in kuangliu/pytorch-cifar's ``PreActResNet18``: no activation after the last block.
    ``dropout`` is a dropout layer before the classifier (our choice of place). Other arguments
    as for every builder (``rethinking.models``).
    """
    check_common(name, input_shape, num_classes, dropout, weight_decay, width_multiplier)
    _check_width(width)
    stages = [(width, 2, 1), (2 * width, 2, 2), (4 * width, 2, 2), (8 * width, 2, 2)]
    return _residual_net(input_shape, num_classes, stem=width, stages=stages, final_activation=False,
                         batch_norm=batch_norm, block_dropout=0.0, head_dropout=dropout, weight_decay=weight_decay,
                         width_multiplier=width_multiplier, name=name)


def wide_resnet28(
    input_shape: Sequence[int] = (32, 32, 3),
    num_classes: int = 10,
    *,
    width: int = 10,
    batch_norm: bool = True,
    dropout: float = 0.0,
    weight_decay: float = 0.0,
    width_multiplier: float = 1.0,
    name: str = "wide_resnet28",
) -> keras.Model:
    """Builds WRN-28-k, ``k = width`` (16k, 32k, 64k channels, four blocks per stage).

    ``dropout`` sits between each block's two convolutions (the WRN paper's place). Other arguments
    as for every builder (``rethinking.models``).
    """
    check_common(name, input_shape, num_classes, dropout, weight_decay, width_multiplier)
    _check_width(width)
    stages = [(16 * width, 4, 1), (32 * width, 4, 2), (64 * width, 4, 2)]
    return _residual_net(input_shape, num_classes, stem=16, stages=stages, final_activation=True,
                         batch_norm=batch_norm, block_dropout=dropout, head_dropout=0.0, weight_decay=weight_decay,
                         width_multiplier=width_multiplier, name=name)
