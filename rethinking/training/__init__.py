"""Training: the distribution seam, the engine (``train``), the run directory, TensorBoard output.

The names below load on first use, so the TensorFlow-free modules of this package (``rundir``,
``runlock``) can be imported without starting TensorFlow (the CLI's usage errors need that).
"""

from rethinking.registry import lazy_attributes
from rethinking.registry.strategies import STRATEGIES  # noqa: F401 (re-exported: its public home)

__getattr__ = lazy_attributes(__name__, {
    "TrainingDiverged": "rethinking.training.engine:TrainingDiverged", "train": "rethinking.training.engine:train",
    "assemble_model": "rethinking.training.assembly:assemble_model",
    "build_model": "rethinking.training.assembly:build_model",
    "compile_model": "rethinking.training.assembly:compile_model",
    "get_strategy": "rethinking.training.strategy:get_strategy"})


__all__ = ["STRATEGIES", "TrainingDiverged", "assemble_model", "build_model", "compile_model", "get_strategy", "train"]
