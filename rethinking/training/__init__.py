"""Training: the distribution seam, the engine (``train``), the run directory, TensorBoard output."""

from rethinking.training.engine import TrainingDiverged, build_model, compile_model, train
from rethinking.training.strategy import get_strategy

__all__ = ["TrainingDiverged", "build_model", "compile_model", "get_strategy", "train"]
