"""rethinking: the randomization tests of Zhang et al. (ICLR 2017) in Keras 3 / TensorFlow.

``rethinking.train(RunConfig(...))`` runs one experiment (see docs/training.md). Importing this
package does not import TensorFlow (``rethinking.runtime.configure()`` must be able to run first).
"""

from typing import Any

__version__ = "0.1.0"

_LAZY = {"train": "rethinking.training", "RunConfig": "rethinking.config", "ModelConfig": "rethinking.config",
         "TrainConfig": "rethinking.config", "DataConfig": "rethinking.data"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib  # noqa: PLC0415

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rethinking' has no attribute {name!r}")


__all__ = ["DataConfig", "ModelConfig", "RunConfig", "TrainConfig", "__version__", "train"]
