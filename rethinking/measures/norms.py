"""Norm-based measures of a trained network: parameter norms, products and sums of layer norms,
distance from initialization, Bartlett et al.'s spectral complexity and the path norm.

Formulas (``A_i`` the linear operators of ``operators.linear_operators``, batch norm folded; ``w``
every trainable parameter, ``w0`` its initial value; docs/measures.md gives the references):

* ``parameter_norm = ||w||_2``; ``distance_from_init = ||w - w0||_2`` (Jiang et al. 2020, without
  the square);
* ``log_frobenius_product = sum_i log ||A_i||_F``, ``frobenius_sum = sum_i ||A_i||_F^2``, and the
  same with spectral norms (``log_spectral_product``, ``spectral_sum``): logs, since a product over
  twenty layers leaves float range;
* ``spectral_complexity`` (Bartlett, Foster and Telgarsky 2017, with every activation 1-Lipschitz):
  ``R_A = prod_i ||A_i||_s * (sum_i (||(A_i - M_i)^T||_{2,1} / ||A_i||_s)^(2/3))^(3/2)``, with
  reference matrices ``M_i = 0`` and, as ``spectral_complexity_init``, the initial operators;
* ``path_norm = sqrt(sum_j f_{w^2}(1)_j)`` (Neyshabur et al. 2015): the network with every
  parameter squared (biases included; batch norm folded into a squared per-channel scale and
  shift) on an all-ones input; ``path_norm_squared`` is Jiang et al.'s version without the root.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import numpy as np

from rethinking.measures.operators import (LinearOperator, frobenius_norm, linear_operators, matched, spectral_norm,
                                           two_one_norm)


def parameter_values(model: keras.Model) -> list[np.ndarray]:
    """The trainable parameters' values (float64), in ``model.trainable_weights`` order."""
    return [np.asarray(keras.ops.convert_to_numpy(w), np.float64) for w in model.trainable_weights]


def parameter_norm(model: keras.Model) -> float:
    """The Euclidean norm of all trainable parameters."""
    return math.sqrt(sum(float(np.sum(w * w)) for w in parameter_values(model)))


def parameter_count(model: keras.Model) -> int:
    """The number of trainable parameters."""
    return int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))


def distance_from_init(model: keras.Model, initial: keras.Model) -> float:
    """``||w - w0||_2`` over the trainable parameters, matched by variable path.

    Raises:
        ValueError: the two networks' trainable parameters differ in names or shapes.
    """
    current = {w.path: w for w in model.trainable_weights}
    reference = {w.path: w for w in initial.trainable_weights}
    if current.keys() != reference.keys():
        raise ValueError("The initial network's parameters differ from the trained one's: initial weights must come "
                         "from the same architecture.")
    total = 0.0
    for path, w in current.items():
        a = np.asarray(keras.ops.convert_to_numpy(w), np.float64)
        b = np.asarray(keras.ops.convert_to_numpy(reference[path]), np.float64)
        if a.shape != b.shape:
            raise ValueError(f"Parameter {path} has shape {a.shape} here and {b.shape} in the initial network: initial "
                             "weights must come from the same architecture.")
        total += float(np.sum((a - b) ** 2))
    return math.sqrt(total)


def layer_norms(operators: Sequence[LinearOperator]) -> list[dict[str, float | str]]:
    """Per operator: name, Frobenius norm, spectral norm and (2, 1) norm of the transpose."""
    return [{"layer": op.name, "frobenius": frobenius_norm(op), "spectral": spectral_norm(op),
             "two_one": two_one_norm(op)} for op in operators]


def _log(value: float) -> float:
    return math.log(value) if value > 0 else float("-inf")


def norm_products(norms: Sequence[dict[str, float | str]]) -> dict[str, float]:
    """Log-products and sums of squares of the per-layer Frobenius and spectral norms."""
    return {
        "log_frobenius_product": sum(_log(float(n["frobenius"])) for n in norms),
        "frobenius_sum": sum(float(n["frobenius"]) ** 2 for n in norms),
        "log_spectral_product": sum(_log(float(n["spectral"])) for n in norms),
        "spectral_sum": sum(float(n["spectral"]) ** 2 for n in norms),
    }


def spectral_complexity(spectral: Sequence[float], two_one: Sequence[float]) -> float:
    """Bartlett et al.'s ``R_A`` from each layer's spectral norm and ``||(A_i - M_i)^T||_{2,1}``.

    Args:
        spectral: ``||A_i||_s`` per layer.
        two_one: ``||(A_i - M_i)^T||_{2,1}`` per layer, same order.

    Returns:
        ``R_A`` (0 when a layer is zero; inf when it leaves float range).
    """
    if len(spectral) != len(two_one) or not spectral:
        raise ValueError(f"Need one (2,1) norm per spectral norm. Received: {len(spectral)} and {len(two_one)}")
    if min(spectral) <= 0:
        return 0.0
    log_product = sum(math.log(s) for s in spectral)
    correction = sum((t / s) ** (2.0 / 3.0) for s, t in zip(spectral, two_one)) ** 1.5
    if correction == 0:
        return 0.0
    log_value = log_product + math.log(correction)
    return math.exp(log_value) if log_value < 700 else float("inf")


def spectral_measures(model: keras.Model, initial: keras.Model | None = None,
                      norms: Sequence[dict[str, float | str]] | None = None) -> dict[str, float]:
    """The operator-norm measures of ``model``: products, sums and spectral complexity (both references).

    Args:
        model: the trained network.
        initial: the same architecture at its initial weights (``spectral_complexity_init``); None
            leaves that key out.
        norms: ``layer_norms`` of the model's operators, if already computed.
    """
    operators = linear_operators(model)
    norms = layer_norms(operators) if norms is None else norms
    spectral = [float(n["spectral"]) for n in norms]
    result = {**norm_products(norms),
              "spectral_complexity": spectral_complexity(spectral, [float(n["two_one"]) for n in norms])}
    if initial is not None:
        pairs = matched(operators, linear_operators(initial))
        differences = [two_one_norm(op.with_kernel(op.kernel - ref.kernel)) for op, ref in pairs]
        result["spectral_complexity_init"] = spectral_complexity(spectral, differences)
    return result


def squared_network(model: keras.Model) -> keras.Model:
    """A copy of ``model`` with every parameter squared and batch norm folded into a squared affine map.

    A batch norm computing ``a x + b`` in inference mode (``a = gamma / sqrt(var + eps)``,
    ``b = beta - a mean``) becomes ``a^2 x + b^2``. Other layers' weights are squared as they are.
    """
    copy = keras.models.clone_model(model)
    copy.build(model.input_shape) if not copy.built else None
    for source, target in zip(model.layers, copy.layers):
        weights = [np.asarray(keras.ops.convert_to_numpy(w), np.float64) for w in source.weights]
        if not weights:
            continue
        if isinstance(source, keras.layers.BatchNormalization):
            target.set_weights(_squared_batch_norm(source, weights))
        else:
            target.set_weights([w ** 2 for w in weights])
    return copy


def _squared_batch_norm(layer: keras.layers.BatchNormalization, weights: list[np.ndarray]) -> list[np.ndarray]:
    by_role = dict(zip([w.path.rsplit("/", 1)[-1] for w in layer.weights], weights))
    variance, mean = by_role["moving_variance"], by_role["moving_mean"]
    gamma = by_role.get("gamma", np.ones_like(variance))
    beta = by_role.get("beta", np.zeros_like(variance))
    a = gamma / np.sqrt(variance + layer.epsilon)
    b = beta - a * mean
    # Output (x - 0) / sqrt(v + eps) * 1 + b^2 with v + eps = 1 / a^4 gives a^2 x + b^2.
    new = {"gamma": np.ones_like(a), "beta": b ** 2, "moving_mean": np.zeros_like(a),
           "moving_variance": 1.0 / np.maximum(a, 1e-30) ** 4 - layer.epsilon}
    return [new[w.path.rsplit("/", 1)[-1]] for w in layer.weights]


def path_norm(model: keras.Model) -> dict[str, float]:
    """``path_norm`` (with the square root) and ``path_norm_squared`` (Jiang et al.'s) of ``model``."""
    squared = squared_network(model)
    ones = np.ones((1, *model.input_shape[1:]), np.float32)
    total = float(np.sum(keras.ops.convert_to_numpy(squared(ones, training=False)), dtype=np.float64))
    return {"path_norm": math.sqrt(max(total, 0.0)), "path_norm_squared": total}
