"""The data of the last runs of a process, kept for the next run on the same data.

A sweep or a tuner trains many runs in one process, often on the same data (a width sweep, an
optimizer sweep, the trials of a search): each run built its pipeline again, tracing its tf.data
functions and corrupting and caching the training set in its first epoch (about 10 s for 50,000
CIFAR-size images; 0.1 s for the embedded digits, a tenth of a tiny run). ``reused_pipeline``
hands the next run of the same data the pipeline, with its filled cache, of an earlier one.

"The same data" is the whole ``DataConfig`` (dataset, corruption, preprocessing, seed, subset,
cache, ...) and the batch size, plus the content of the files it reads by path (a ``.npz``
dataset, a transition matrix: by their sha256, as a run's identity has them), so a changed file
is loaded again. Data from a function of yours (``module:function``) is never reused: the
function may return other data when called again. Our choice; a pipeline's datasets are
immutable and every example a pure function of (seed, split, index), so a reused one gives the
same batches as a new one (a test).
"""

from __future__ import annotations

import collections
from typing import Any

from rethinking.config.data import DataConfig
from rethinking.config.run import dataset_fingerprint, is_dataset_path, transition_fingerprint
from rethinking.data.datasets import is_function_path
from rethinking.data.pipeline import DataPipeline, build_pipeline

# Pipelines kept: a grid that alternates two data conditions (true and random labels) still
# reuses both. Each holds its cached splits in memory (--cache memory): 150 MB for CIFAR-10.
PIPELINES_KEPT = 2

_KEPT: collections.OrderedDict[tuple[Any, ...], DataPipeline] = collections.OrderedDict()


def data_key(config: DataConfig, batch_size: int) -> tuple[Any, ...] | None:
    """What makes two runs' pipelines the same; None for data that is never reused."""
    if is_function_path(config.dataset) and not is_dataset_path(config.dataset):
        return None
    return (config, batch_size, dataset_fingerprint(config.dataset),
            transition_fingerprint(config.corruption.transition))


def reused_pipeline(config: DataConfig, batch_size: int) -> DataPipeline:
    """``build_pipeline(config, batch_size)``, or the pipeline an earlier run of this process built
    for the same data (``data_key``); the ``PIPELINES_KEPT`` most recently used are kept."""
    key = data_key(config, batch_size)
    if key is None:
        return build_pipeline(config, batch_size)
    if key in _KEPT:
        _KEPT.move_to_end(key)
        return _KEPT[key]
    pipeline = build_pipeline(config, batch_size)
    _KEPT[key] = pipeline
    while len(_KEPT) > PIPELINES_KEPT:
        _KEPT.popitem(last=False)
    return pipeline


def forget_pipelines() -> None:
    """Drops the kept pipelines (and the memory their caches hold)."""
    _KEPT.clear()
