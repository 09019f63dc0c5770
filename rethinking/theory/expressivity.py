"""Finite-sample expressivity (Theorem 1 of the paper): a ReLU network with exactly 2n + d weights
that represents any real-valued labelling of n distinct points in d dimensions.

The two-layer network is c(x) = sum_j w_j * max(<a, x> - b_j, 0). Choose a direction a so that the
projections z_i = <a, x_i> are distinct, sort them, and interleave thresholds
b_1 < z_1 < b_2 < z_2 < ... < b_n < z_n. The matrix A_ij = max(z_i - b_j, 0) is lower triangular
with a positive diagonal, so w = A^{-1} y exists.

Numerical choices (ours; the paper gives the construction only):

* Everything is float64, including the Keras model.
* The direction a is the best of 64 random unit vectors: the one whose sorted projections have the
  largest smallest gap relative to their range, counting only neighbours with different labels and
  dividing by their label step. The slopes of the network are about (label step) / (gap), and a
  large slope times the rounding of <a, x> is what loses precision.
* Threshold b_i sits a tenth of the way from z_{i-1} to z_i (not half way). The triangular solve is
  done as a recurrence on the slopes s_i = w_1 + ... + w_i, in which an error in s_{i-1} reaches s_i
  multiplied by 0.1 / 0.9: errors shrink along the chain. Half way, the factor is 1 and the slopes
  alternate in sign and grow; close to z_{i-1} the network is the linear interpolant of the points.
* Two rounds of iterative refinement against the explicit sum the network computes.
* Identical points with one label are fitted once; their spare units get weight 0 (so the count
  stays exactly 2n + d). Identical points with different labels cannot be fitted and raise.

The depth-k variant (``depth > 1``) spreads the same 2n + d weights over k hidden layers of about
n/k + 3 units: layer l applies the thresholds of the l-th block of sorted points, carries the shifted
projection z - b_1 (a ReLU of a non-negative value is the value itself) and the running sum of the
previous blocks' contributions (as max(s, 0) and max(-s, 0)). These carrying connections have fixed
weights 1 and -1: structure, not parameters. The function is exactly the two-layer one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import numpy as np

from rethinking.runtime import NamesItsPackage

from rethinking.theory.threshold_construction import (  # noqa: F401 (the NumPy half of the theorem; re-exported)
    DIRECTION_CANDIDATES, EVAL_BLOCK_ROWS, REFINEMENT_ROUNDS, THRESHOLD_POSITION, Construction, as_matrix, construct,
    evaluate, interleaved_thresholds, project, relative_min_gap, separating_direction, separation_score,
    solve_weights, unique_points,
)


# ----------------------------------------------------------------------------------------- Keras


@keras.saving.register_keras_serializable(package="rethinking")
class ReluThresholds(NamesItsPackage, keras.layers.Layer):
    """max(z - b_j, 0) for a scalar input z and ``units`` learned thresholds b_j.

    With ``carry=True`` (first layer of the deep variant) the output also holds z - b_1 (again, as
    max(z - b_1, 0)) and two zeros, the layout every ``ThresholdStage`` reads.
    """

    def __init__(self, units: int, carry: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.carry = bool(carry)

    def build(self, input_shape):
        self.thresholds = self.add_weight(shape=(self.units,), initializer="zeros", name="thresholds")

    def call(self, z):
        h = keras.ops.relu(z - self.thresholds)
        if not self.carry:
            return h
        zero = keras.ops.zeros_like(h[:, :1])
        return keras.ops.concatenate([h, h[:, :1], zero, zero], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units + (3 if self.carry else 0))

    def get_config(self):
        return {**super().get_config(), "units": self.units, "carry": self.carry}


@keras.saving.register_keras_serializable(package="rethinking")
class ThresholdStage(NamesItsPackage, keras.layers.Layer):
    """One hidden layer of the deep variant.

    Input: [h (previous block's units), z' = z - b_1 >= 0, max(s, 0), max(-s, 0)] where s is the sum
    of the blocks before the previous one. Output: [max(z' - c_j, 0) for this block's offsets
    c_j = b_j - b_1, z', max(s', 0), max(-s', 0)] with s' = s + sum_j w_j h_j. Parameters: the
    offsets c (``units``) and the previous block's output weights w (``previous_units``).
    """

    def __init__(self, units: int, previous_units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.previous_units = int(previous_units)

    def build(self, input_shape):
        self.offsets = self.add_weight(shape=(self.units,), initializer="zeros", name="offsets")
        self.previous_weights = self.add_weight(shape=(self.previous_units,), initializer="zeros", name="previous_weights")

    def call(self, inputs):
        p = self.previous_units
        h, carried, pos, neg = inputs[:, :p], inputs[:, p:p + 1], inputs[:, p + 1:p + 2], inputs[:, p + 2:p + 3]
        total = pos - neg + keras.ops.sum(h * self.previous_weights, axis=-1, keepdims=True)
        block = keras.ops.relu(carried - self.offsets)
        return keras.ops.concatenate([block, keras.ops.relu(carried), keras.ops.relu(total), keras.ops.relu(-total)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units + 3)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "previous_units": self.previous_units}


@keras.saving.register_keras_serializable(package="rethinking")
class ThresholdReadout(NamesItsPackage, keras.layers.Layer):
    """The output of the deep variant: s + sum_j w_j h_j over the last block (``units`` weights)."""

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)

    def build(self, input_shape):
        self.output_weights = self.add_weight(shape=(self.units,), initializer="zeros", name="output_weights")

    def call(self, inputs):
        u = self.units
        h, pos, neg = inputs[:, :u], inputs[:, u + 1:u + 2], inputs[:, u + 2:u + 3]
        return pos - neg + keras.ops.sum(h * self.output_weights, axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def block_sizes(n: int, depth: int) -> list[int]:
    """Sizes of ``depth`` contiguous blocks of n units, as equal as possible (larger first)."""
    base, extra = divmod(n, depth)
    return [base + (1 if k < extra else 0) for k in range(depth)]


def check_depth(depth: int, n: int) -> None:
    """Raises ValueError unless 1 <= depth <= n: each hidden layer needs at least one point."""
    if not 1 <= depth <= n:
        raise ValueError(f"depth must be between 1 and the number of points (--depth {depth} exceeds --n {n}): each "
                         "hidden layer needs at least one point." if depth > n else
                         f"depth must be between 1 and the number of points ({n}). Received: depth={depth}")


def to_keras(construction: Construction, input_shape: Sequence[int], depth: int = 1) -> keras.Model:
    """The float64 Keras model computing the construction's function.

    Args:
        construction: from ``construct``.
        input_shape: one point's shape (flattened inside the model).
        depth: hidden layers; 1 is the paper's two-layer network.

    Returns:
        A model with exactly 2n + d trainable parameters, output shape (batch, 1).

    Raises:
        ValueError: depth outside [1, n], or an input shape of another size than d.
    """
    n, d = construction.thresholds.size, construction.direction.size
    check_depth(depth, n)
    if math.prod(input_shape) != d:
        raise ValueError(f"input_shape {tuple(input_shape)} has {math.prod(input_shape)} values, but the construction has d={d}.")
    inputs = keras.Input(shape=tuple(input_shape), dtype="float64", name="points")
    h = keras.layers.Flatten(dtype="float64", name="flatten")(inputs) if len(input_shape) > 1 else inputs
    projection = keras.layers.Dense(1, use_bias=False, dtype="float64", name="projection")
    z = projection(h)
    projection.set_weights([construction.direction[:, np.newaxis]])
    b, w = construction.thresholds, construction.weights
    if depth == 1:
        first = ReluThresholds(n, dtype="float64", name="thresholds")
        out_layer = keras.layers.Dense(1, use_bias=False, dtype="float64", name="output_weights")
        outputs = out_layer(first(z))
        first.set_weights([b])
        out_layer.set_weights([w[:, np.newaxis]])
        return keras.Model(inputs, outputs, name="expressivity_depth1")
    sizes = block_sizes(n, depth)
    edges = np.cumsum([0, *sizes])
    first = ReluThresholds(sizes[0], carry=True, dtype="float64", name="thresholds_1")
    t = first(z)
    first.set_weights([b[:sizes[0]]])
    for k in range(1, depth):
        stage = ThresholdStage(sizes[k], sizes[k - 1], dtype="float64", name=f"thresholds_{k + 1}")
        t = stage(t)
        stage.set_weights([b[edges[k]:edges[k + 1]] - b[0], w[edges[k - 1]:edges[k]]])
    readout = ThresholdReadout(sizes[-1], dtype="float64", name="output_weights")
    outputs = readout(t)
    readout.set_weights([w[edges[-2]:]])
    return keras.Model(inputs, outputs, name=f"expressivity_depth{depth}")


def hidden_widths(model: keras.Model) -> list[int]:
    """Units of each hidden layer of a model from ``to_keras`` (carried values included)."""
    return [layer.units + (3 if isinstance(layer, ThresholdStage) or getattr(layer, "carry", False) else 0)
            for layer in model.layers if isinstance(layer, (ReluThresholds, ThresholdStage))]


def fit_any_labels(x: np.ndarray, y: np.ndarray, *, depth: int = 1, seed: int = 0) -> keras.Model:
    """A ReLU network with exactly 2n + d weights whose output equals ``y`` on ``x`` (Theorem 1).

    Args:
        x: n distinct points (identical points must share a label), shape (n, d) or (n, ...).
        y: n real-valued labels (class indices work too: the network outputs them as numbers).
        depth: 1 for the paper's two-layer network; k > 1 spreads the same weights over k hidden
            layers of about n/k + 3 units.
        seed: seed of the random projection.

    Returns:
        A float64 Keras model: ``predict64(model, x)`` (or ``model(x)`` on float64 input) reproduces
        ``y`` to float64 rounding. ``model.predict`` casts inputs to float32 and loses precision.

    Raises:
        ValueError: see ``construct`` and ``to_keras``.
    """
    x = np.asarray(x)
    construction = construct(x, y, seed=seed)
    shape = x.shape[1:] if x.ndim > 1 else (1,)
    return to_keras(construction, shape, depth=depth)


def max_error(model_or_construction: keras.Model | Construction, x: np.ndarray, y: np.ndarray, batch_size: int = 1024) -> float:
    """max_i |c(x_i) - y_i| for a Keras model from ``fit_any_labels`` or a ``Construction``."""
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if isinstance(model_or_construction, Construction):
        pred = model_or_construction.predict(x)
    else:
        pred = predict64(model_or_construction, x, batch_size)
    return float(np.max(np.abs(pred - y))) if len(y) else 0.0


def predict64(model: keras.Model, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """The model's outputs in float64, shape (N,).

    ``model.predict`` would cast NumPy inputs to Keras' floatx (float32) and lose the construction's
    precision, so the model is called directly on float64 batches.
    """
    x = np.asarray(x, dtype=np.float64)
    parts = [np.asarray(model(x[start:start + batch_size]), dtype=np.float64)[:, 0] for start in range(0, len(x), batch_size)]
    return np.concatenate(parts) if parts else np.zeros(0)
