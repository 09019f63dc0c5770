"""Keras builders for every network of the paper: ``MODELS[name](input_shape, num_classes, **switches)``.

Every builder takes ``batch_norm``, ``dropout``, ``weight_decay`` and ``width_multiplier`` keywords
and returns a ``keras.Model`` from images to float32 logits with stable layer names.

``MODEL_CATALOG`` is the registry: one entry per network with its facts (where its builder is,
its default batch norm, the paper's learning rate and parameter count, how the engine compiles
it). It is plain Python, so the config layer and the CLI read model names without starting
TensorFlow; the builders (``MODELS``, ``inception_small``, ...) load on first use.
Adding a model: one builder file plus one ``MODEL_CATALOG`` line.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from rethinking.registry import load_function


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """What the toolkit knows about one network.

    Attributes:
        builder: ``"module:function"`` of the Keras builder.
        batch_norm: the architecture's default when ``--batch-norm`` is not given.
        paper_learning_rate: the paper's initial SGD learning rate for it.
        paper_parameters: trainable parameters for a 28x28x3 input and 10 classes (Table 1); None
            where the paper gives none.
        jit_compile: XLA by default in the engine (see ``docs/benchmarks.md``).
        steps_per_execution: training steps per graph call by default.
    """

    builder: str
    batch_norm: bool = False
    paper_learning_rate: float = 0.01
    paper_parameters: int | None = None
    jit_compile: bool = False
    steps_per_execution: int = 1

    def load(self) -> Any:
        """The builder function (imports Keras)."""
        return load_function(self.builder, "model builder")


# Compile defaults measured on a 2-core AMD EPYC with TensorFlow's default oneDNN kernels
# (docs/benchmarks.md): the conv nets train fastest as graph ops (oneDNN convolutions beat XLA's:
# small Inception 74 vs 68 img/s, AlexNet 2x); XLA speeds up the MLPs, and 20 steps per call doubles
# them (a step is a few ms of work) while slowing the conv nets down 3x. Inception v3 keeps XLA
# (not measured at its size here). Learning rates: the paper's (0.1 Inception, 0.01 the others).
MODEL_CATALOG: dict[str, ModelEntry] = {
    "inception_small": ModelEntry("rethinking.models.inception_small:inception_small", batch_norm=True,
                                  paper_learning_rate=0.1, paper_parameters=1_649_402),
    "alexnet_small": ModelEntry("rethinking.models.alexnet_small:alexnet_small", paper_parameters=1_387_786),
    "mlp_1x512": ModelEntry("rethinking.models.mlp:mlp_1x512", paper_parameters=1_209_866, jit_compile=True,
                            steps_per_execution=20),
    "mlp_3x512": ModelEntry("rethinking.models.mlp:mlp_3x512", paper_parameters=1_735_178, jit_compile=True,
                            steps_per_execution=20),
    "mlp": ModelEntry("rethinking.models.mlp:mlp", jit_compile=True, steps_per_execution=20),
    "inception_v3": ModelEntry("rethinking.models.inception_v3:inception_v3", batch_norm=True, paper_learning_rate=0.1,
                               jit_compile=True),
}

# Names importable from here, each loaded on first use: the builders and the custom layers.
_LAZY = {**{name: entry.builder for name, entry in MODEL_CATALOG.items()},
         "FusedBatchNormalization": "rethinking.models.layers:FusedBatchNormalization",
         "LocalResponseNormalization": "rethinking.models.layers:LocalResponseNormalization"}


def model_names() -> tuple[str, ...]:
    """The registered model names, in registry order."""
    return tuple(MODEL_CATALOG)


def __getattr__(name: str) -> Any:
    if name == "MODELS":  # {name: builder}
        return {key: entry.load() for key, entry in MODEL_CATALOG.items()}
    if name == "COMPILE_DEFAULTS":  # {name: model.compile keywords}
        return {key: {"jit_compile": e.jit_compile, "steps_per_execution": e.steps_per_execution}
                for key, e in MODEL_CATALOG.items()}
    if name == "PAPER_PARAMETER_COUNTS":  # {name: Table 1's count}
        return {key: e.paper_parameters for key, e in MODEL_CATALOG.items() if e.paper_parameters is not None}
    if name in _LAZY:
        return load_function(_LAZY[name])
    raise AttributeError(f"module 'rethinking.models' has no attribute {name!r}")


__all__ = [
    "COMPILE_DEFAULTS", "MODELS", "MODEL_CATALOG", "PAPER_PARAMETER_COUNTS", "FusedBatchNormalization",
    "LocalResponseNormalization", "ModelEntry", "alexnet_small", "inception_small", "inception_v3", "mlp",
    "mlp_1x512", "mlp_3x512", "model_names",
]
