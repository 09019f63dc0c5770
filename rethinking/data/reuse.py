"""The data of the recent runs of a process, kept for a later run on the same data.

A sweep's worker (or your loop over ``rethinking.train``) trains many runs in one process, often on
the same data (a width sweep, an optimizer sweep, the seeds coming round again at each grid point):
each run built its pipeline again, tracing its tf.data functions and corrupting and caching the
training set in its first epoch (about 10 s for 50,000 CIFAR-size images; 0.1 s for the embedded
digits, a tenth of a tiny run). ``reused_pipeline`` hands a later run of the same data the
pipeline, with its filled cache, of an earlier one.

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
import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from rethinking.config.data import DataConfig
from rethinking.config.run import data_content_identity, is_dataset_path
from rethinking.data.datasets import is_function_path
from rethinking.data.pipeline import DataPipeline, build_pipeline

# Pipelines kept: up to PIPELINES_KEPT (a sweep's seeds are its innermost axis, so a grid point's
# seeds and noise levels come round again at the next model size), as long as the splits they
# cache in memory (--cache memory) hold at most KEPT_BYTES: CIFAR-10 as uint8 is 184 MB (5 kept),
# the embedded digits 0.1 MB (8 kept), ImageNet at full size none beyond the last one.
PIPELINES_KEPT = 8
KEPT_BYTES = 1 << 30

T = TypeVar("T")


@dataclasses.dataclass
class _Kept:
    """A kept pipeline and what runs derived from it (``kept_for``): value and bytes held, by key."""

    pipeline: DataPipeline
    derived: dict[Any, tuple[Any, int]] = dataclasses.field(default_factory=dict)


_KEPT: collections.OrderedDict[tuple[Any, ...], _Kept] = collections.OrderedDict()


def cached_bytes(pipeline: DataPipeline) -> int:
    """What a pipeline's splits hold in memory once cached, in bytes (as stored: uint8, float32 for
    Gaussian images); 0 for a file cache or none; KEPT_BYTES for variable-size images (unknown)."""
    if pipeline.config.cache != "memory":
        return 0
    h, w, c = pipeline.info.image_shape
    if h is None or w is None:
        return KEPT_BYTES
    itemsize = 4 if pipeline.config.corruption.pixels == "gaussian" else 1
    return (pipeline.info.train_size + pipeline.info.test_size) * h * w * c * itemsize


def _held(kept: _Kept) -> int:
    return cached_bytes(kept.pipeline) + sum(nbytes for _, nbytes in kept.derived.values())


def _evict() -> None:
    """Drops the least recently used until at most PIPELINES_KEPT, holding at most KEPT_BYTES, are left
    (the most recent always stays)."""
    while len(_KEPT) > 1 and (len(_KEPT) > PIPELINES_KEPT or sum(map(_held, _KEPT.values())) > KEPT_BYTES):
        _KEPT.popitem(last=False)


def data_key(config: DataConfig, batch_size: int) -> tuple[Any, ...] | None:
    """What makes two runs' pipelines the same; None for data that is never reused."""
    if is_function_path(config.dataset) and not is_dataset_path(config.dataset):
        return None
    return (config, batch_size, *data_content_identity(config).values())


def reused_pipeline(config: DataConfig, batch_size: int) -> DataPipeline:
    """``build_pipeline(config, batch_size)``, or the pipeline an earlier run of this process built
    for the same data (``data_key``). The most recently used are kept: at most ``PIPELINES_KEPT``,
    caching at most ``KEPT_BYTES`` together (the last one is always kept)."""
    key = data_key(config, batch_size)
    if key is None:
        return build_pipeline(config, batch_size)
    if key in _KEPT:
        _KEPT.move_to_end(key)
        return _KEPT[key].pipeline
    pipeline = build_pipeline(config, batch_size)
    _KEPT[key] = _Kept(pipeline)
    _evict()
    return pipeline


def kept_for(pipeline: DataPipeline, key: Any, make: Callable[[], T], nbytes: int = 0) -> T:
    """``make()``, once per kept pipeline and ``key``: what runs derive from a reused pipeline (the
    engine's evaluation datasets, cached once filled; the input grid's sample). ``nbytes``: the
    memory it holds, counted against ``KEPT_BYTES``. A pipeline not kept gets ``make()`` each time."""
    kept = next((k for k in _KEPT.values() if k.pipeline is pipeline), None)
    if kept is None:
        return make()
    if key not in kept.derived:
        kept.derived[key] = (make(), nbytes)
        _evict()
    return kept.derived[key][0]


def forget_pipelines() -> None:
    """Drops the kept pipelines (and the memory their caches hold)."""
    _KEPT.clear()
