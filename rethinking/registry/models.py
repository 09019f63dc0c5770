"""The model registry: ``MODEL_CATALOG`` (one ``ModelEntry`` per network) and how a name is found.

Plain Python on the floor (no TensorFlow, nothing of rethinking above ``rethinking.registry``), so
the config layer and the CLI read model names without starting TensorFlow. Its public home is
``rethinking.models``, which re-exports every name here; the builders load on first use.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from importlib import metadata
from typing import Any

from rethinking.registry import load_function

# Installed packages name their builders here: [project.entry-points."rethinking.models"] name = "pkg.mod:fn".
ENTRY_POINT_GROUP = "rethinking.models"


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """What the toolkit knows about one network.

    Attributes:
        builder: ``"module:function"`` of the Keras builder, or the builder itself.
        batch_norm: the architecture's default when ``--batch-norm`` is not given.
        learning_rate: its default initial learning rate (the paper's for the paper's models).
        paper_parameters: trainable parameters for a 28x28x3 input and 10 classes (Table 1); None
            where the paper gives none.
        jit_compile: XLA by default in the engine (see ``docs/benchmarks.md``).
        steps_per_execution: training steps per graph call by default.
        switches: the model-specific switches it takes (``depth``, ``units``, ``width``).
    """

    builder: str | Callable[..., Any]
    batch_norm: bool = False
    learning_rate: float = 0.01
    paper_parameters: int | None = None
    jit_compile: bool = False
    steps_per_execution: int = 1
    switches: tuple[str, ...] = ()

    def load(self) -> Any:
        """The builder function (imports Keras)."""
        return self.builder if callable(self.builder) else load_function(self.builder, "model builder")

    @property
    def location(self) -> str | None:
        """``"module:function"`` where the builder can be found again; None for a local function."""
        if isinstance(self.builder, str):
            return self.builder
        module, name = getattr(self.builder, "__module__", None), getattr(self.builder, "__qualname__", "")
        return f"{module}:{name}" if module and "<" not in name else None


# Compile defaults measured on a 2-core AMD EPYC with TensorFlow's default oneDNN kernels
# (docs/benchmarks.md): the conv nets train fastest as graph ops (oneDNN convolutions beat XLA's:
# small Inception 74 vs 68 img/s, AlexNet 2x); XLA speeds up the MLPs, and 20 steps per call doubles
# them (a step is a few ms of work) while slowing the conv nets down 3x. Inception v3 keeps XLA
# (not measured at its size here). Learning rates: the paper's (0.1 Inception, 0.01 the others).
MODEL_CATALOG: dict[str, ModelEntry] = {
    "inception_small": ModelEntry("rethinking.models.inception_small:inception_small", batch_norm=True,
                                  learning_rate=0.1, paper_parameters=1_649_402),
    "alexnet_small": ModelEntry("rethinking.models.alexnet_small:alexnet_small", paper_parameters=1_387_786),
    "mlp_1x512": ModelEntry("rethinking.models.mlp:mlp_1x512", paper_parameters=1_209_866, jit_compile=True,
                            steps_per_execution=20),
    "mlp_3x512": ModelEntry("rethinking.models.mlp:mlp_3x512", paper_parameters=1_735_178, jit_compile=True,
                            steps_per_execution=20),
    "mlp": ModelEntry("rethinking.models.mlp:mlp", jit_compile=True, steps_per_execution=20,
                      switches=("depth", "units")),
    "inception_v3": ModelEntry("rethinking.models.inception_v3:inception_v3", batch_norm=True, learning_rate=0.1,
                               jit_compile=True),
    # The follow-up literature's (docs/models.md): learning rate 0.1, their papers' SGD rate with batch norm.
    "preact_resnet18": ModelEntry("rethinking.models.resnet:preact_resnet18", batch_norm=True, learning_rate=0.1,
                                  switches=("width",)),
    "wide_resnet28": ModelEntry("rethinking.models.resnet:wide_resnet28", batch_norm=True, learning_rate=0.1,
                                switches=("width",)),
}

_BUILT_IN = frozenset(MODEL_CATALOG)

@functools.cache
def entry_point_models() -> dict[str, str]:
    """``{name: "module:function"}`` of the models installed packages provide (``ENTRY_POINT_GROUP``).

    Read once per process (``entry_point_models.cache_clear()`` reads again).
    """
    return {ep.name: ep.value for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def model_names() -> tuple[str, ...]:
    """The names of the registered models (registry order), then of the installed packages' models."""
    return (*MODEL_CATALOG, *(name for name in entry_point_models() if name not in MODEL_CATALOG))


def is_builder_path(name: str) -> bool:
    """Whether ``name`` names a builder by location (``"package.module:function"``)."""
    module, sep, function = name.partition(":")
    return bool(sep and module and function)


def model_entry(name: str) -> ModelEntry:
    """The entry of ``name``: a registry name, an installed package's model, or a builder path.

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    if name in MODEL_CATALOG:
        return MODEL_CATALOG[name]
    if name in entry_point_models():
        return ModelEntry(entry_point_models()[name])
    if is_builder_path(name):
        return ModelEntry(name)
    raise ValueError(f"Unknown model {name!r}: use one of {', '.join(model_names())}, or a builder of your own as "
                     "package.module:function.")


def register(name: str, builder: Callable[..., Any] | None = None, **facts: Any) -> Any:
    """Adds a builder to the registry under ``name``; usable as a decorator.

    ``facts`` are ``ModelEntry`` fields (``batch_norm``, ``learning_rate``, ``switches``, ...)::

        @rethinking.models.register("my_net", learning_rate=0.05)
        def my_net(input_shape, num_classes, *, dropout=0.0, weight_decay=0.0): ...

    Returns:
        The builder (so the decorated function is unchanged).

    Raises:
        ValueError: ``name`` is a toolkit model, or is not a plain name.
    """
    if not name or ":" in name or "/" in name:
        raise ValueError(f"A model name is a plain name (no ':' or '/'). Received: {name!r}")
    if name in _BUILT_IN:
        raise ValueError(f"{name!r} is a model of the toolkit; register yours under another name.")

    def add(fn: Callable[..., Any]) -> Callable[..., Any]:
        MODEL_CATALOG[name] = ModelEntry(fn, **facts)
        return fn

    return add(builder) if builder is not None else add
