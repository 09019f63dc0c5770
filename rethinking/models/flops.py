"""Analytic FLOP counts of a Keras model, for throughput benchmarks.

Counts the multiply-accumulates of convolutions and dense layers, which dominate every network here;
batch norm, pooling, LRN and activations (a few FLOPs per activation) are left out.
"""

from __future__ import annotations

import math

import keras

# A training step costs about three forward passes: the forward one, and a backward pass that
# computes gradients with respect to both activations and weights (each as costly as the forward).
TRAINING_TO_FORWARD = 3


def forward_macs(model: keras.Model) -> int:
    """Multiply-accumulates of one example's forward pass through the conv and dense layers."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw = layer.kernel_size
            total += h * w * kh * kw * layer.input.shape[-1] * c_out
        elif isinstance(layer, keras.layers.Dense):
            total += math.prod(layer.input.shape[1:]) * layer.units
    return int(total)


def training_flops(model: keras.Model) -> int:
    """FLOPs of one example in a training step: 2 FLOPs per multiply-accumulate, times 3."""
    return 2 * TRAINING_TO_FORWARD * forward_macs(model)
