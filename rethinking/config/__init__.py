"""The config layer: every run option as a frozen dataclass, in pure Python (no TensorFlow).

``RunConfig`` = ``DataConfig`` (``Corruption``, ``Preprocessing``) + ``ModelConfig`` + ``TrainConfig``
and where the run is written. It is the floor of the package: ``data``, ``models``, ``training``,
``experiments`` and ``cli`` import it; it imports none of them, so ``import rethinking.config`` (and
the CLI's ``--help`` and usage errors) never start TensorFlow.
"""

from rethinking.config.data import (
    CACHE_MODES,
    GAUSSIAN_STATS,
    LABEL_MODES,
    SPLITS,
    Corruption,
    DataConfig,
    Preprocessing,
    check_probability,
)
from rethinking.config.options import dataclass_from_dict
from rethinking.config.run import (
    MIXED_PRECISION,
    ModelConfig,
    RunConfig,
    TrainConfig,
    config_digest,
    dataset_fingerprint,
    default_run_name,
)

__all__ = [
    "CACHE_MODES", "GAUSSIAN_STATS", "LABEL_MODES", "MIXED_PRECISION",
    "SPLITS", "Corruption", "DataConfig",
    "ModelConfig", "Preprocessing", "RunConfig", "TrainConfig", "check_probability", "config_digest",
    "dataclass_from_dict", "dataset_fingerprint", "default_run_name",
]
