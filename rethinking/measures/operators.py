"""A network's linear layers as linear operators: the matrices the norm-based measures are made of.

Every ``Dense`` and ``Conv2D`` layer of a ``keras.Model`` (any builder, a user's too) is one
operator ``A_i``. Our choices where the papers leave one (docs/measures.md):

* **Batch norm is folded.** In inference mode a batch-norm layer right after a linear layer scales
  each output channel by ``a_c = gamma_c / sqrt(var_c + eps)``; the operator is then
  ``diag(a) A_i``, the map the trained network computes. Biases and shifts are not part of the
  operator (norm-based measures bound the linear maps only; the path norm counts biases).
* **A convolution is the operator on the layer's actual input shape** (padding and stride
  included), not its kernel tensor: its spectral norm is found by power iteration on the
  convolution and its transpose (the gradient of the convolution), and its (2, 1) norm sums the
  Euclidean norms of the operator's rows exactly (one row per output position and channel; at the
  borders a row holds only the taps inside the image).
* The Frobenius norm is the one of the (folded) kernel tensor, as in Jiang et al. (2020).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

# Power iteration: stop when the estimate changes by less than this fraction between iterations.
POWER_TOLERANCE = 1e-6
POWER_ITERATIONS = 500
POWER_SEED = 0


@dataclasses.dataclass(frozen=True)
class LinearOperator:
    """One linear layer as an operator.

    Attributes:
        name: the layer's name.
        kind: ``"dense"`` or ``"conv"``.
        kernel: the kernel (Dense: inputs x units; Conv2D: kh x kw x in x out), float64, with the
            scale of a following batch norm folded into its output channels.
        input_shape: the shape of one input example (Conv2D: height x width x channels).
        strides: the convolution's strides (Conv2D only).
        padding: ``"same"`` or ``"valid"`` (Conv2D only).
        dilation_rate: the convolution's dilation (Conv2D only).
        folded: the name of the batch-norm layer folded in, if any.
    """

    name: str
    kind: str
    kernel: np.ndarray
    input_shape: tuple[int, ...]
    strides: tuple[int, int] = (1, 1)
    padding: str = "valid"
    dilation_rate: tuple[int, int] = (1, 1)
    folded: str | None = None

    def with_kernel(self, kernel: np.ndarray) -> LinearOperator:
        """The same operator shape with another kernel (e.g. the difference to the initial one)."""
        return dataclasses.replace(self, kernel=np.asarray(kernel, dtype=np.float64))

    def apply(self, x: tf.Tensor) -> tf.Tensor:
        """The operator on a batch ``x`` (float64)."""
        kernel = tf.constant(self.kernel, tf.float64)
        if self.kind == "dense":
            return tf.matmul(tf.reshape(x, (-1, self.kernel.shape[0])), kernel)
        return tf.nn.conv2d(x, kernel, strides=(1, *self.strides, 1), padding=self.padding.upper(),
                            dilations=(1, *self.dilation_rate, 1))


def _producer(tensor) -> keras.layers.Layer | None:
    history = getattr(tensor, "_keras_history", None)
    return history.operation if history is not None else None


def batch_norm_scales(model: keras.Model) -> dict[str, tuple[str, np.ndarray]]:
    """For each linear layer followed directly by a batch norm: (the batch norm's name, ``a_c``)."""
    scales = {}
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        producer = _producer(layer.input)
        if not isinstance(producer, (keras.layers.Dense, keras.layers.Conv2D)):
            continue
        variance = np.asarray(keras.ops.convert_to_numpy(layer.moving_variance), np.float64)
        gamma = (np.asarray(keras.ops.convert_to_numpy(layer.gamma), np.float64) if layer.scale
                 else np.ones_like(variance))
        scales[producer.name] = (layer.name, gamma / np.sqrt(variance + layer.epsilon))
    return scales


def linear_operators(model: keras.Model, *, fold_batch_norm: bool = True) -> list[LinearOperator]:
    """The model's Dense and Conv2D layers as operators, in the model's layer order.

    Args:
        model: a built functional or sequential Keras model.
        fold_batch_norm: fold the scale of a batch norm that directly follows a layer into it.

    Raises:
        ValueError: a layer type whose operator we cannot form (grouped or 1-D/3-D convolutions,
            ``channels_first``), or a model without linear layers.
    """
    scales = batch_norm_scales(model) if fold_batch_norm else {}
    operators = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            kernel = np.asarray(keras.ops.convert_to_numpy(layer.kernel), np.float64)
            input_shape = (kernel.shape[0],)
            kind, extra = "dense", {}
        elif isinstance(layer, keras.layers.Conv2D) and not isinstance(layer, keras.layers.DepthwiseConv2D):
            if layer.data_format != "channels_last" or getattr(layer, "groups", 1) != 1:
                raise ValueError(f"Layer {layer.name!r}: only channels-last, ungrouped Conv2D layers are "
                                 f"supported. Received: data_format={layer.data_format!r}, groups={layer.groups}")
            kernel = np.asarray(keras.ops.convert_to_numpy(layer.kernel), np.float64)
            input_shape = tuple(int(d) for d in layer.input.shape[1:])
            kind = "conv"
            extra = {"strides": tuple(layer.strides), "padding": layer.padding,
                     "dilation_rate": tuple(layer.dilation_rate)}
        elif isinstance(layer, keras.layers.Layer) and type(layer).__name__.startswith(("Conv", "Depthwise", "Separable")):
            raise ValueError(f"Layer {layer.name!r} ({type(layer).__name__}) is not supported by the norm-based "
                             "measures: only Dense and Conv2D layers are.")
        else:
            continue
        folded = None
        if layer.name in scales:
            folded, scale = scales[layer.name]
            kernel = kernel * scale  # broadcasts over the output channels (the last axis)
        operators.append(LinearOperator(name=layer.name, kind=kind, kernel=kernel, input_shape=input_shape,
                                        folded=folded, **extra))
    if not operators:
        raise ValueError(f"Model {model.name!r} has no Dense or Conv2D layer: the norm-based measures need one.")
    return operators


def spectral_norm(op: LinearOperator, *, tolerance: float = POWER_TOLERANCE, iterations: int = POWER_ITERATIONS,
                  seed: int = POWER_SEED) -> float:
    """The largest singular value of the operator.

    A dense layer's is computed exactly (SVD of the kernel). A convolution's by power iteration on
    ``A^T A`` (the transpose is the gradient of the convolution), from a seeded random start,
    until the estimate changes by less than ``tolerance`` (relative) or after ``iterations``.
    """
    if op.kind == "dense":
        return float(np.linalg.norm(op.kernel, 2))
    if not np.any(op.kernel):
        return 0.0
    x = tf.random.stateless_normal((1, *op.input_shape), seed=(seed, 0), dtype=tf.float64)
    x = x / tf.norm(x)
    step = _power_step(op)
    estimate = 0.0
    for _ in range(iterations):
        x, value = step(x)
        value = float(value)
        if abs(value - estimate) <= tolerance * max(value, 1e-300):
            return float(np.sqrt(value))
        estimate = value
    return float(np.sqrt(estimate))


def _power_step(op: LinearOperator):
    @tf.function(reduce_retracing=True)
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = op.apply(x)
            half_square = 0.5 * tf.reduce_sum(y * y)
        z = tape.gradient(half_square, x)  # A^T A x
        norm = tf.norm(z)
        return z / norm, norm  # ||A^T A x|| for unit x converges to sigma_max^2
    return step


def frobenius_norm(op: LinearOperator) -> float:
    """The Frobenius norm of the (folded) kernel tensor."""
    return float(np.linalg.norm(op.kernel.ravel()))


def two_one_norm(op: LinearOperator) -> float:
    """``||A^T||_{2,1}``: the sum over the operator's rows (outputs) of their Euclidean norms.

    Dense: the sum over units of the norm of the unit's incoming weights. Conv2D: one row per output
    position and channel; its squared norm is the sum of the squared kernel taps that fall inside
    the input, i.e. the convolution of an all-ones input with the squared kernel.
    """
    if op.kind == "dense":
        return float(np.sum(np.linalg.norm(op.kernel, axis=0)))
    squared = op.with_kernel(op.kernel ** 2)
    rows = squared.apply(tf.ones((1, *op.input_shape), tf.float64))
    return float(tf.reduce_sum(tf.sqrt(tf.maximum(rows, 0.0))))


def explicit_matrix(op: LinearOperator) -> np.ndarray:
    """The operator as a dense matrix (outputs x inputs), for tests on tiny shapes."""
    size = int(np.prod(op.input_shape))
    basis = tf.reshape(tf.eye(size, dtype=tf.float64), (size, *op.input_shape))
    return tf.reshape(op.apply(basis), (size, -1)).numpy().T


def matched(current: Sequence[LinearOperator], reference: Sequence[LinearOperator]) -> list[tuple[LinearOperator, LinearOperator]]:
    """Pairs the operators of two networks of the same architecture by layer name.

    Raises:
        ValueError: the networks' linear layers differ in name or kernel shape.
    """
    by_name = {op.name: op for op in reference}
    pairs = []
    for op in current:
        other = by_name.get(op.name)
        if other is None or other.kernel.shape != op.kernel.shape:
            raise ValueError(f"The reference network has no layer {op.name!r} of kernel shape {op.kernel.shape}: "
                             "initial weights must come from the same architecture.")
        pairs.append((op, other))
    return pairs
