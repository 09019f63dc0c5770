"""Training: the distribution seam, the engine (``train``), the run directory, TensorBoard output.

The names below load on first use, so the TensorFlow-free modules of this package (``rundir``,
``runlock``) can be imported without starting TensorFlow (the CLI's usage errors need that).
"""

from typing import Any

# The distribution strategies by name: {name: "module:function"} of a function () -> tf.distribute.Strategy
# (descriptions in training/strategy.py). Plain Python, so the config and the CLI read the names.
STRATEGIES: dict[str, str] = {
    name: f"rethinking.training.strategy:{name.replace('-', '_')}_strategy"
    for name in ("auto", "default", "one-device", "mirrored", "multi-worker", "tpu")
}

_LAZY = {"TrainingDiverged": "rethinking.training.engine", "build_model": "rethinking.training.assembly",
         "compile_model": "rethinking.training.assembly", "assemble_model": "rethinking.training.assembly",
         "train": "rethinking.training.engine",
         "get_strategy": "rethinking.training.strategy"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib  # noqa: PLC0415

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rethinking.training' has no attribute {name!r}")


__all__ = ["STRATEGIES", "TrainingDiverged", "assemble_model", "build_model", "compile_model", "get_strategy", "train"]
