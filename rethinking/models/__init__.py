"""Keras builders for every network of the paper: ``MODELS[name](input_shape, num_classes, **switches)``.

Every builder takes ``batch_norm``, ``dropout``, ``weight_decay`` and ``width_multiplier`` keywords
and returns a ``keras.Model`` from images to float32 logits with stable layer names.
"""

from rethinking.models.alexnet_small import alexnet_small
from rethinking.models.inception_small import inception_small
from rethinking.models.inception_v3 import inception_v3
from rethinking.models.layers import LocalResponseNormalization
from rethinking.models.mlp import mlp, mlp_1x512, mlp_3x512

MODELS = {
    "inception_small": inception_small,
    "alexnet_small": alexnet_small,
    "mlp_1x512": mlp_1x512,
    "mlp_3x512": mlp_3x512,
    "mlp": mlp,
    "inception_v3": inception_v3,
}

# Whether the training engine compiles each model with XLA by default. Measured on a 2-core AMD EPYC
# with Eigen kernels (docs/benchmarks.md): XLA speeds up the Inceptions and MLPs, and halves AlexNet's
# speed (its 5x5 convolutions and LRN are faster as TensorFlow graph ops).
DEFAULT_JIT_COMPILE = {
    "inception_small": True,
    "alexnet_small": False,
    "mlp_1x512": True,
    "mlp_3x512": True,
    "mlp": True,
    "inception_v3": True,
}

# Trainable parameters for a 28x28x3 input and 10 classes, as in Table 1 of the paper.
PAPER_PARAMETER_COUNTS = {
    "inception_small": 1_649_402,
    "alexnet_small": 1_387_786,
    "mlp_3x512": 1_735_178,
    "mlp_1x512": 1_209_866,
}

__all__ = [
    "DEFAULT_JIT_COMPILE", "MODELS", "PAPER_PARAMETER_COUNTS", "LocalResponseNormalization", "alexnet_small", "inception_small",
    "inception_v3", "mlp", "mlp_1x512", "mlp_3x512",
]
