"""Keras builders for every network of the paper: ``MODELS[name](input_shape, num_classes, **switches)``.

Every builder takes ``batch_norm``, ``dropout``, ``weight_decay`` and ``width_multiplier`` keywords
and returns a ``keras.Model`` from images to float32 logits with stable layer names.
"""

from rethinking.models.alexnet_small import alexnet_small
from rethinking.models.inception_small import inception_small
from rethinking.models.inception_v3 import inception_v3
from rethinking.models.layers import FusedBatchNormalization, LocalResponseNormalization
from rethinking.models.mlp import mlp, mlp_1x512, mlp_3x512

MODELS = {
    "inception_small": inception_small,
    "alexnet_small": alexnet_small,
    "mlp_1x512": mlp_1x512,
    "mlp_3x512": mlp_3x512,
    "mlp": mlp,
    "inception_v3": inception_v3,
}

# How the training engine compiles each model by default (``model.compile`` keywords). Measured on a
# 2-core AMD EPYC with TensorFlow's default oneDNN kernels (docs/benchmarks.md): the conv nets train
# fastest as graph ops (oneDNN convolutions beat XLA's: small Inception 74 vs 68 img/s, AlexNet 2x);
# XLA speeds up the MLPs, and 20 steps per call doubles them (a step is a few ms of work) while
# slowing the conv nets down 3x. Inception v3 keeps XLA (not measured at its size here).
COMPILE_DEFAULTS: dict[str, dict[str, object]] = {
    "inception_small": {"jit_compile": False, "steps_per_execution": 1},
    "alexnet_small": {"jit_compile": False, "steps_per_execution": 1},
    "mlp_1x512": {"jit_compile": True, "steps_per_execution": 20},
    "mlp_3x512": {"jit_compile": True, "steps_per_execution": 20},
    "mlp": {"jit_compile": True, "steps_per_execution": 20},
    "inception_v3": {"jit_compile": True, "steps_per_execution": 1},
}

# Trainable parameters for a 28x28x3 input and 10 classes, as in Table 1 of the paper.
PAPER_PARAMETER_COUNTS = {
    "inception_small": 1_649_402,
    "alexnet_small": 1_387_786,
    "mlp_3x512": 1_735_178,
    "mlp_1x512": 1_209_866,
}

__all__ = [
    "COMPILE_DEFAULTS", "MODELS", "PAPER_PARAMETER_COUNTS", "FusedBatchNormalization", "LocalResponseNormalization", "alexnet_small", "inception_small",
    "inception_v3", "mlp", "mlp_1x512", "mlp_3x512",
]
