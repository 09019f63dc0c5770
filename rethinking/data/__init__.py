"""tf.data layer: datasets, deterministic randomizations, preprocessing and the run pipeline."""

from rethinking.data.corruptions import (
    CONDITIONS,
    Corruption,
    apply_corruption,
    attach_index,
    corrupt_label,
    corrupt_labels,
    corrupt_pixels,
    gaussian_image,
    pixel_permutation,
    random_pixels,
    shuffle_pixels,
)
from rethinking.data.datasets import (
    DATASETS,
    DataBundle,
    DatasetInfo,
    DatasetUnavailableError,
    load_dataset,
)
from rethinking.data.pipeline import DataConfig, DataPipeline, build_pipeline, supervised
from rethinking.data.preprocessing import Preprocessing

__all__ = [
    "CONDITIONS", "DATASETS", "Corruption", "DataBundle", "DataConfig", "DataPipeline", "DatasetInfo",
    "DatasetUnavailableError", "Preprocessing", "apply_corruption", "attach_index", "build_pipeline",
    "corrupt_label", "corrupt_labels", "corrupt_pixels", "gaussian_image", "load_dataset",
    "pixel_permutation", "random_pixels", "shuffle_pixels", "supervised",
]
