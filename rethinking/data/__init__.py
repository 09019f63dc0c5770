"""tf.data layer: datasets, deterministic randomizations, preprocessing and the run pipeline.

The names below load on first use, so the TensorFlow-free registries of this package
(``rethinking.registry.conditions``) can be read without starting TensorFlow.
"""

from rethinking.registry import lazy_attributes

_LAZY = {
    "rethinking.data.corruptions": (
        "CONDITIONS", "Corruption", "apply_corruption", "attach_index", "corrupt_label", "corrupt_labels",
        "corrupt_pixels", "example_permutation", "gaussian_image", "permute_batch", "permute_pixels",
        "pixel_permutation", "random_pixels", "shuffle_pixels"),
    "rethinking.data.datasets": ("DATASETS", "DataBundle", "DatasetInfo", "DatasetUnavailableError", "load_dataset"),
    "rethinking.data.pipeline": ("DataConfig", "DataPipeline", "build_pipeline", "supervised"),
    "rethinking.data.preprocessing": ("Preprocessing",),
    "rethinking.data.preview": ("sample_training_images", "save_preview"),
}
_MODULE_OF = {name: module for module, names in _LAZY.items() for name in names}


__getattr__ = lazy_attributes(__name__, {name: f"{module}:{name}" for name, module in _MODULE_OF.items()})


__all__ = sorted(_MODULE_OF)
