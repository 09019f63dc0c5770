"""Keras builders: the paper's networks and the follow-up literature's, and any researcher's own.

A builder is ``builder(input_shape, num_classes, **switches) -> keras.Model`` from images to float32
logits. The toolkit's builders take ``batch_norm``, ``dropout``, ``weight_decay`` and
``width_multiplier``, and some a model-specific switch (``depth``/``units`` for ``mlp``, ``width``
for the ResNets); a builder of your own takes what it likes (a switch it does not take is an error
naming it, unless left at its default).

``MODEL_CATALOG`` is the registry: one entry per network with its facts (where its builder is,
its default batch norm and learning rate, the paper's parameter count, how the engine compiles
it). It is plain Python, so the config layer and the CLI read model names without starting
TensorFlow; the builders (``MODELS``, ``inception_small``, ...) load on first use. A model is found
by ``model_entry(name)``: a registry name; a name an installed package provides through the
``rethinking.models`` entry-point group; or ``"package.module:function"``, any importable builder.
Adding a model to the toolkit: one builder file here plus one ``MODEL_CATALOG`` line in
``rethinking/registry/models.py``; to your own
session: ``register("name")`` on the builder.
"""

from __future__ import annotations

from typing import Any

from rethinking.registry import load_function

# The registry itself is plain Python on the floor every layer may import (rethinking.registry.models).
from rethinking.registry.models import (  # noqa: F401 (re-exported: rethinking.models is their public home)
    ENTRY_POINT_GROUP, MODEL_CATALOG, ModelEntry, entry_point_models, is_builder_path, model_entry, model_names,
    register,
)

# Names importable from here, each loaded on first use: the builders and the custom layers.
_LAZY = {**{name: entry.builder for name, entry in MODEL_CATALOG.items()},
         "FusedBatchNormalization": "rethinking.models.layers:FusedBatchNormalization",
         "LocalResponseNormalization": "rethinking.models.layers:LocalResponseNormalization"}


def __getattr__(name: str) -> Any:
    if name == "MODELS":  # {name: builder} of the registry
        return {key: entry.load() for key, entry in MODEL_CATALOG.items()}
    if name == "COMPILE_DEFAULTS":  # {name: model.compile keywords}
        return {key: {"jit_compile": e.jit_compile, "steps_per_execution": e.steps_per_execution}
                for key, e in MODEL_CATALOG.items()}
    if name == "PAPER_PARAMETER_COUNTS":  # {name: Table 1's count}
        return {key: e.paper_parameters for key, e in MODEL_CATALOG.items() if e.paper_parameters is not None}
    if name in _LAZY:
        return load_function(_LAZY[name])
    raise AttributeError(f"module 'rethinking.models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "COMPILE_DEFAULTS", "ENTRY_POINT_GROUP", "MODELS", "MODEL_CATALOG", "PAPER_PARAMETER_COUNTS",
    "FusedBatchNormalization", "LocalResponseNormalization", "ModelEntry", "alexnet_small", "entry_point_models",
    "inception_small", "inception_v3", "is_builder_path", "mlp", "mlp_1x512", "mlp_3x512", "model_entry",
    "model_names", "preact_resnet18", "register", "wide_resnet28",
]
