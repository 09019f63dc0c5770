"""Building blocks shared by the builders: argument checks, conv / dense blocks, and LRN.

Regularizer conventions (ours, documented in docs/models.md):

* ``weight_decay`` is the coefficient lambda of the penalty (lambda / 2) * ||w||^2 on every kernel
  (not on biases or batch-norm shifts), so the gradient it adds is lambda * w: the convention of
  TensorFlow's ``tf.nn.l2_loss`` used by the paper's code, and of SGD "weight decay" without momentum
  tricks. It is coupled L2 regularization, not decoupled weight decay (SGDW/AdamW): with momentum
  the penalty's gradient is accumulated like the loss's.
* With batch norm on, a convolution or dense layer has no bias and is followed by a batch norm with
  a learned shift (beta) and no learned scale (gamma), so the parameter count is the same with and
  without batch norm (the paper's Inception, and Keras' Inception v3).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

from rethinking.runtime import NamesItsPackage

# Batch-norm settings (Keras defaults; the same as Keras' Inception v3).
BN_MOMENTUM = 0.99
BN_EPSILON = 1e-3


def check_common(
    name: str,
    input_shape: Sequence[int | None],
    num_classes: int,
    dropout: float,
    weight_decay: float,
    width_multiplier: float,
    min_size: int = 1,
) -> tuple[int, int, int]:
    """Checks the arguments every builder shares; returns the (H, W, C) input shape.

    Raises:
        ValueError: naming the argument, the rule and the value received.
    """
    shape = tuple(input_shape)
    if len(shape) != 3 or any(d is None or int(d) < 1 for d in shape):
        raise ValueError(f"{name} needs input_shape (height, width, channels) of positive integers. Received: input_shape={input_shape}")
    h, w, c = (int(d) for d in shape)
    if min(h, w) < min_size:
        raise ValueError(f"{name} needs inputs of at least {min_size}x{min_size}. Received: input_shape={shape}")
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2. Received: num_classes={num_classes}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout is a rate in [0, 1). Received: dropout={dropout}")
    if weight_decay < 0.0:
        raise ValueError(f"weight_decay must be >= 0. Received: weight_decay={weight_decay}")
    if not width_multiplier > 0.0:
        raise ValueError(f"width_multiplier must be > 0. Received: width_multiplier={width_multiplier}")
    return h, w, c


def scaled(units: int, width_multiplier: float) -> int:
    """A layer width times the width multiplier, rounded, at least 1."""
    return max(1, int(round(units * width_multiplier)))


def l2(weight_decay: float) -> keras.regularizers.Regularizer | None:
    """The kernel regularizer of ``weight_decay``: penalty (weight_decay / 2) * ||w||^2, or None."""
    return keras.regularizers.L2(weight_decay / 2.0) if weight_decay > 0 else None


def conv_block(
    x: keras.KerasTensor,
    filters: int,
    kernel: int | tuple[int, int],
    *,
    name: str,
    batch_norm: bool,
    weight_decay: float,
    strides: int = 1,
    padding: str = "same",
) -> keras.KerasTensor:
    """Conv -> (batch norm with shift, no scale) -> ReLU. Without batch norm the conv has a bias."""
    x = keras.layers.Conv2D(
        filters, kernel, strides=strides, padding=padding, use_bias=not batch_norm,
        kernel_regularizer=l2(weight_decay), name=f"{name}_conv",
    )(x)
    if batch_norm:
        x = FusedBatchNormalization(scale=False, momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def dense_block(
    x: keras.KerasTensor, units: int, *, name: str, batch_norm: bool, weight_decay: float, dropout: float
) -> keras.KerasTensor:
    """Dense -> (batch norm) -> ReLU -> (dropout)."""
    x = keras.layers.Dense(units, use_bias=not batch_norm, kernel_regularizer=l2(weight_decay), name=name)(x)
    if batch_norm:
        x = FusedBatchNormalization(scale=False, momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    x = keras.layers.Activation("relu", name=f"{name}_relu")(x)
    if dropout > 0:
        x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return x


def logits(x: keras.KerasTensor, num_classes: int, weight_decay: float) -> keras.KerasTensor:
    """The classifier: float32 logits whatever the dtype policy (stable softmax under mixed precision)."""
    return keras.layers.Dense(num_classes, kernel_regularizer=l2(weight_decay), dtype="float32", name="logits")(x)


@keras.saving.register_keras_serializable(package="rethinking")
class LocalResponseNormalization(NamesItsPackage, keras.layers.Layer):
    """Local response normalization across channels (AlexNet's), ``tf.nn.local_response_normalization``.

    out = x / (bias + alpha * sum over a window of 2 * depth_radius + 1 channels of x^2) ^ beta

    Args:
        depth_radius: half-width of the channel window.
        bias: the additive constant.
        alpha: the scale of the sum of squares.
        beta: the exponent.
    """

    def __init__(self, depth_radius: int = 5, bias: float = 1.0, alpha: float = 1.0, beta: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        self.depth_radius = int(depth_radius)
        self.bias = float(bias)
        self.alpha = float(alpha)
        self.beta = float(beta)

    def call(self, inputs):
        # The op has no float16 kernel on CPU: compute in float32, return the layer's compute dtype.
        out = tf.nn.local_response_normalization(
            tf.cast(inputs, tf.float32), depth_radius=self.depth_radius, bias=self.bias, alpha=self.alpha, beta=self.beta
        )
        return tf.cast(out, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "depth_radius": self.depth_radius, "bias": self.bias,
                "alpha": self.alpha, "beta": self.beta}


@keras.saving.register_keras_serializable(package="rethinking")
class FusedBatchNormalization(NamesItsPackage, keras.layers.BatchNormalization):
    """Keras' ``BatchNormalization`` computed by TensorFlow's fused batch-norm kernel.

    Same arguments, variables, outputs and moving statistics as the Keras layer (moving variance
    from the biased batch variance, as Keras 3 does), but one ``FusedBatchNormV3`` op per call
    instead of Keras 3's separate mean / variance / normalize ops and their gradients. On CPU the
    fused op (a oneDNN kernel, which Grappler also fuses with the following ReLU) halves the time
    batch norm takes: the small Inception trains about 8% faster (docs/benchmarks.md).

    The fused path covers what the paper's models use: a channels-last axis, inputs of rank 2
    (dense layers) or 4 (convolutions), no mask, no renorm, not ``synchronized``, the TensorFlow
    backend. Anything else falls back to the Keras computation.
    """

    def _fusable(self, inputs, mask) -> bool:
        rank = len(inputs.shape)
        axis = self.axis if isinstance(self.axis, int) else (self.axis[0] if len(self.axis) == 1 else None)
        return (keras.backend.backend() == "tensorflow" and mask is None and not self.renorm
                and not self.synchronized and rank in (2, 4) and axis in (-1, rank - 1))

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        # Statistics in float32 whatever the dtype policy (as Keras does): float16 overflows.
        x = tf.cast(inputs, tf.float32)
        shape = tf.shape(x)
        channels = x.shape[-1]
        if len(inputs.shape) == 2:  # the fused op wants NHWC: a dense layer's batch is N x 1 x 1 x C
            x = tf.reshape(x, [-1, 1, 1, channels])
        scale = tf.cast(self.gamma, tf.float32) if self.scale else tf.ones([channels], tf.float32)
        offset = tf.cast(self.beta, tf.float32) if self.center else tf.zeros([channels], tf.float32)
        if training and self.trainable:
            y, mean, variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
                x=x, scale=scale, offset=offset, mean=tf.zeros([0]), variance=tf.zeros([0]),
                epsilon=self.epsilon, data_format="NHWC", is_training=True)
            # The op returns the unbiased (n / (n - 1)) batch variance when n > 1; Keras 3 keeps the
            # moving average of the biased one. n = examples x height x width per channel.
            n = tf.cast(tf.size(x) // channels, tf.float32)
            variance = variance * tf.where(n > 1.0, (n - 1.0) / tf.maximum(n, 1.0), 1.0)
            momentum = tf.cast(self.momentum, tf.float32)
            self.moving_mean.assign(tf.cast(self.moving_mean, tf.float32) * momentum + mean * (1.0 - momentum))
            self.moving_variance.assign(
                tf.cast(self.moving_variance, tf.float32) * momentum + variance * (1.0 - momentum))
        else:
            y, _, _, _, _, _ = tf.raw_ops.FusedBatchNormV3(
                x=x, scale=scale, offset=offset, mean=tf.cast(self.moving_mean, tf.float32),
                variance=tf.cast(self.moving_variance, tf.float32), epsilon=self.epsilon,
                data_format="NHWC", is_training=False)
        if len(inputs.shape) == 2:
            y = tf.reshape(y, shape)
        return tf.cast(y, self.compute_dtype)
