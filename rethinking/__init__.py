"""rethinking: the randomization tests of Zhang et al. (ICLR 2017) in Keras 3 / TensorFlow.

``rethinking.train(RunConfig(...))`` runs one experiment (see docs/training.md). Importing this
package does not import TensorFlow (``rethinking.runtime.configure()`` must be able to run first).
"""

from rethinking.registry import lazy_attributes

__version__ = "0.1.0"

__getattr__ = lazy_attributes(__name__, {
    "train": "rethinking.training:train", "RunConfig": "rethinking.config:RunConfig",
    "ModelConfig": "rethinking.config:ModelConfig", "TrainConfig": "rethinking.config:TrainConfig",
    "DataConfig": "rethinking.data:DataConfig"})


__all__ = ["DataConfig", "ModelConfig", "RunConfig", "TrainConfig", "__version__", "train"]
