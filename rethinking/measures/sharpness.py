"""Sharpness and PAC-Bayes flatness: how the training loss reacts when the weights move.

* ``epsilon_sharpness`` (Keskar et al. 2017): ``100 (max_{d in C} L(w + d) - L(w)) / (1 + L(w))``
  over the box ``|d_i| <= eps (|w_i| + 1)``; the maximum is approached by projected sign-gradient
  ascent (Keskar et al. used L-BFGS-B; ours is our choice, deterministic and batched).
* ``pac_bayes_flatness`` (Jiang et al. 2020, magnitude-aware): the largest ``sigma`` such that the
  perturbation ``u_i ~ N(0, sigma^2 w_i^2 + eps^2)`` raises the training error by at most
  ``target`` (0.1 by default) on average over ``draws`` draws, found by bisection; the measure is
  ``1 / sigma^2``. The draws are common to every ``sigma`` (``u = sigma |w| z + eps z'`` with the
  same seeded ``z, z'``), so the search is deterministic for a seed.
* ``pac_bayes_bound``: McAllester's bound (Maurer's form) on the test error of the perturbed
  network, ``err_S(Q) + sqrt((KL(Q || P) + ln(2 sqrt(m) / delta)) / (2 m))``, with the posterior
  ``Q = N(w, diag(sigma^2 w^2 + eps^2))`` and the prior ``P = N(w0, s^2 I)`` whose variance is the
  one that minimizes the KL (Jiang et al.'s choice; strictly it would cost a union bound over a
  grid of ``s``, which we leave out as they do).

Every measure here perturbs all trainable parameters (batch-norm statistics stay) and restores
them afterwards, also when interrupted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from rethinking.measures.margins import batches

SHARPNESS_EPSILON = 1e-3  # Keskar et al.'s box size (their 5e-4 is the other value they report)
SHARPNESS_STEPS = 10
FLATNESS_TARGET = 0.1  # allowed rise of the training error (a fraction), Jiang et al.'s
FLATNESS_EPSILON = 1e-3  # the additive noise scale of the magnitude-aware posterior
FLATNESS_DRAWS = 5
FLATNESS_TOLERANCE = 0.02  # bisection stops when the bracket is this fraction of sigma wide
SIGMA_MAX = 16.0
BOUND_DELTA = 0.05


@dataclasses.dataclass(frozen=True)
class Flatness:
    """The result of the flatness search.

    Attributes:
        sigma: the largest relative noise scale found within the target.
        flatness: ``1 / sigma^2`` (inf if sigma is 0).
        error: the training error of the unperturbed network (fraction).
        perturbed_error: the mean training error over the draws at ``sigma``.
        evaluations: how many values of sigma were tried.
        above: the smallest sigma tried that exceeded the target (the bracket's upper end; None if
            none did up to ``SIGMA_MAX``): ``above - sigma <= tolerance * above``.
    """

    sigma: float
    flatness: float
    error: float
    perturbed_error: float
    evaluations: int
    above: float | None = None


def first_examples(data: Any, examples: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``examples`` examples of ``data`` as ``(images, labels)`` arrays."""
    images, labels = [], []
    count = 0
    for x, y in batches(data):
        images.append(x[: examples - count])
        labels.append(y.reshape(-1)[: examples - count])
        count += len(images[-1])
        if count >= examples:
            break
    if count == 0:
        raise ValueError("The data are empty: sharpness and flatness need training examples.")
    return np.concatenate(images), np.concatenate(labels).astype(np.int64)


class _Evaluator:
    """Mean cross-entropy and error of the model on fixed arrays, in batches, inference mode."""

    def __init__(self, model: keras.Model, images: np.ndarray, labels: np.ndarray, batch_size: int = 256):
        self.model = model
        self.parts = [(tf.constant(images[i:i + batch_size]), tf.constant(labels[i:i + batch_size]))
                      for i in range(0, len(images), batch_size)]
        self.size = len(images)
        self._step = tf.function(self._batch, reduce_retracing=True)
        self._gradient = tf.function(self._batch_gradient, reduce_retracing=True)

    def _batch(self, images, labels):
        logits = tf.cast(self.model(images, training=False), tf.float32)
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        wrong = tf.cast(tf.not_equal(tf.argmax(logits, axis=1), labels), tf.float32)
        return tf.reduce_sum(loss), tf.reduce_sum(wrong)

    def __call__(self) -> tuple[float, float]:
        loss = wrong = 0.0
        for images, labels in self.parts:
            batch_loss, batch_wrong = self._step(images, labels)
            loss += float(batch_loss)
            wrong += float(batch_wrong)
        return loss / self.size, wrong / self.size

    def _batch_gradient(self, images, labels):
        with tf.GradientTape() as tape:
            logits = tf.cast(self.model(images, training=False), tf.float32)
            loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        grads = tape.gradient(loss, self.model.trainable_weights)
        return [tf.zeros_like(w) if g is None else g for g, w in zip(grads, self.model.trainable_weights)]

    def loss_gradient(self) -> list[np.ndarray]:
        """The gradient of the summed loss with respect to the trainable weights (its sign is used)."""
        total = None
        for images, labels in self.parts:
            grads = [g.numpy() for g in self._gradient(images, labels)]
            total = grads if total is None else [a + b for a, b in zip(total, grads)]
        return total


@contextlib.contextmanager
def _restored(model: keras.Model) -> Iterator[list[np.ndarray]]:
    """Yields the trainable weights' values and puts them back afterwards, whatever happens."""
    saved = [np.array(keras.ops.convert_to_numpy(w)) for w in model.trainable_weights]
    try:
        yield saved
    finally:
        for w, value in zip(model.trainable_weights, saved):
            w.assign(value)


def epsilon_sharpness(model: keras.Model, data: Any, *, epsilon: float = SHARPNESS_EPSILON,
                      steps: int = SHARPNESS_STEPS, examples: int = 2048) -> float:
    """Keskar et al.'s sharpness in percent, on the first ``examples`` training examples.

    Raises:
        ValueError: epsilon not positive or steps below 1.
    """
    if not epsilon > 0 or steps < 1:
        raise ValueError(f"Need epsilon > 0 and steps >= 1. Received: epsilon={epsilon}, steps={steps}")
    evaluator = _Evaluator(model, *first_examples(data, examples))
    base_loss, _ = evaluator()
    worst = base_loss
    with _restored(model) as saved:
        boxes = [epsilon * (np.abs(w) + 1.0) for w in saved]
        deltas = [np.zeros_like(w) for w in saved]
        for _ in range(steps):
            grads = evaluator.loss_gradient()
            deltas = [np.clip(d + 2.5 * box / steps * np.sign(g), -box, box)
                      for d, g, box in zip(deltas, grads, boxes)]
            for w, value, d in zip(model.trainable_weights, saved, deltas):
                w.assign(value + d)
            worst = max(worst, evaluator()[0])
    return 100.0 * (worst - base_loss) / (1.0 + base_loss)


def _noise(saved: Sequence[np.ndarray], seed: int, draw: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng([seed, draw])
    return [(rng.standard_normal(w.shape), rng.standard_normal(w.shape)) for w in saved]


def pac_bayes_flatness(model: keras.Model, data: Any, *, target: float = FLATNESS_TARGET,
                       epsilon: float = FLATNESS_EPSILON, draws: int = FLATNESS_DRAWS,
                       tolerance: float = FLATNESS_TOLERANCE, examples: int = 2048, seed: int = 0) -> Flatness:
    """Jiang et al.'s magnitude-aware flatness: the largest ``sigma`` within ``target`` by bisection.

    Raises:
        ValueError: target outside (0, 1), draws below 1, or tolerance not in (0, 1).
    """
    if not 0 < target < 1 or draws < 1 or not 0 < tolerance < 1:
        raise ValueError(f"Need 0 < target < 1, draws >= 1 and 0 < tolerance < 1. Received: target={target}, "
                         f"draws={draws}, tolerance={tolerance}")
    evaluator = _Evaluator(model, *first_examples(data, examples))
    _, base_error = evaluator()
    evaluations = 0
    with _restored(model) as saved:
        noises = [_noise(saved, seed, k) for k in range(draws)]

        def perturbed_error(sigma: float) -> float:
            nonlocal evaluations
            evaluations += 1
            errors = []
            for noise in noises:
                for w, value, (z, z2) in zip(model.trainable_weights, saved, noise):
                    w.assign(value + sigma * np.abs(value) * z + epsilon * z2)
                errors.append(evaluator()[1])
            return float(np.mean(errors))

        lo, lo_error = 0.0, perturbed_error(0.0)
        if lo_error - base_error > target:  # the additive noise alone breaks the network
            return Flatness(0.0, float("inf"), base_error, lo_error, evaluations, above=0.0)
        hi = 1.0
        while (hi_error := perturbed_error(hi)) - base_error <= target:
            lo, lo_error = hi, hi_error
            if hi >= SIGMA_MAX:
                return Flatness(hi, 1.0 / hi**2, base_error, hi_error, evaluations)
            hi *= 2.0
        while hi - lo > tolerance * hi:
            mid = 0.5 * (lo + hi)
            mid_error = perturbed_error(mid)
            if mid_error - base_error <= target:
                lo, lo_error = mid, mid_error
            else:
                hi = mid
    flatness = 1.0 / lo**2 if lo > 0 else float("inf")
    return Flatness(lo, flatness, base_error, lo_error, evaluations, above=hi)


def pac_bayes_kl(weights: Sequence[np.ndarray], initial: Sequence[np.ndarray], sigma: float,
                 epsilon: float = FLATNESS_EPSILON) -> float:
    """``KL(N(w, diag(sigma^2 w^2 + eps^2)) || N(w0, s^2 I))`` at the KL-minimizing prior variance ``s^2``.

    With ``s^2 = (sum_i v_i + ||w - w0||^2) / d`` (``v_i`` the posterior variances, ``d`` the number
    of parameters) the KL is ``1/2 sum_i log(s^2 / v_i)``.
    """
    w = np.concatenate([np.asarray(a, np.float64).ravel() for a in weights])
    w0 = np.concatenate([np.asarray(a, np.float64).ravel() for a in initial])
    if w.shape != w0.shape:
        raise ValueError(f"The initial weights have {w0.size} values, the network {w.size}.")
    variances = sigma**2 * w**2 + epsilon**2
    prior = (variances.sum() + np.sum((w - w0) ** 2)) / w.size
    return float(0.5 * np.sum(np.log(prior / variances)))


def pac_bayes_bound(perturbed_error: float, kl: float, examples: int, delta: float = BOUND_DELTA) -> float:
    """The PAC-Bayes upper bound on the perturbed network's test error (may exceed 1: vacuous).

    Raises:
        ValueError: examples below 2 or delta outside (0, 1).
    """
    if examples < 2 or not 0 < delta < 1:
        raise ValueError(f"Need examples >= 2 and 0 < delta < 1. Received: examples={examples}, delta={delta}")
    return perturbed_error + math.sqrt((kl + math.log(2 * math.sqrt(examples) / delta)) / (2 * examples))
