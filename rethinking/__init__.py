"""rethinking: the randomization tests of Zhang et al. (ICLR 2017) in Keras 3 / TensorFlow.

``rethinking.train(RunConfig(...))`` runs one experiment (see docs/training.md). Importing this
package does not import TensorFlow (``rethinking.runtime.configure()`` must be able to run first).
"""

from rethinking.registry import lazy_attributes
from rethinking.runtime import register_layers_when_keras_loads

__version__ = "0.1.0"

# The toolkit's Keras layers are registered as soon as Keras is imported, so a saved model.keras
# loads with keras.saving.load_model after `import rethinking` (which itself imports no TensorFlow).
register_layers_when_keras_loads()

__getattr__ = lazy_attributes(__name__, {
    "train": "rethinking.training:train", "RunConfig": "rethinking.config:RunConfig",
    "ModelConfig": "rethinking.config:ModelConfig", "TrainConfig": "rethinking.config:TrainConfig",
    "DataConfig": "rethinking.data:DataConfig", "load_run": "rethinking.training.finished_run:load_run"})


__all__ = ["DataConfig", "ModelConfig", "RunConfig", "TrainConfig", "__version__", "load_run", "train"]
