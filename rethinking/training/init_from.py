"""Starting a run from another run's network (``--init-from``): pre-training, e.g. on random labels.

Every layer with weights is copied from the source run's ``model.keras`` except the last one, the
classifier head, which is drawn afresh (so the number of classes may differ) from its initializers
with a seed of its own: with the run's init seed it would be the very head the source started from
(a source and its dependents share a seed in a sweep), which the copied layers have co-adapted to;
batch-norm statistics are copied with their layers; the optimizer starts afresh. The layers are
matched in order, and a source whose network differs (another model, width or input shape) is
refused in one line before the run writes anything. A resumed run continues from its own
checkpoint, not from the source again. Maennel et al. (2020, "What do neural networks learn when
trained with random labels?") compare such pre-training with training from scratch.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import keras


def weighted_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The model's top-level layers that hold weights, in order (the last one: the classifier head)."""
    return [layer for layer in model.layers if layer.weights]


def check_compatible(source: keras.Model, target: keras.Model, source_dir: str | Path) -> None:
    """Raises ValueError (one line) unless every layer but the head has the same weight shapes."""
    src, dst = weighted_layers(source), weighted_layers(target)
    if len(src) != len(dst):
        raise ValueError(f"--init-from {source_dir}: its network has {len(src)} layers with weights, this one "
                         f"{len(dst)}: start from a run of the same model and width.")
    for a, b in zip(src[:-1], dst[:-1]):
        there, here = [tuple(w.shape) for w in a.weights], [tuple(w.shape) for w in b.weights]
        if there != here:
            raise ValueError(f"--init-from {source_dir}: layer {b.name} has weights of shapes {here} here but "
                             f"{there} there: start from a run of the same model, width and input shape.")


def head_seed(init_seed: int) -> int:
    """The seed the head of a run started from another run is drawn with: a function of the run's
    init seed that differs from it (so the head is not the source's initial head)."""
    return zlib.crc32(f"init_from head {init_seed}".encode()) & 0x7FFFFFFF


def reinitialize(layer: keras.layers.Layer, seed: int) -> None:
    """Draws the layer's kernel and bias afresh from its own initializers, seeded with ``seed``."""
    for name in ("kernel", "bias"):
        variable, initializer = getattr(layer, name, None), getattr(layer, f"{name}_initializer", None)
        if variable is None or initializer is None:
            continue
        config = initializer.get_config()
        if "seed" in config:
            config["seed"] = seed
        fresh = type(initializer).from_config(config)
        variable.assign(keras.ops.cast(fresh(tuple(variable.shape), dtype="float32"), variable.dtype))


def copy_all_but_head(source: keras.Model, target: keras.Model, seed: int) -> int:
    """Copies every weighted layer but the last from ``source`` into ``target`` and draws the last (the
    head) afresh with ``seed`` (``head_seed``); returns how many layers were copied."""
    pairs = list(zip(weighted_layers(source), weighted_layers(target)))
    for a, b in pairs[:-1]:
        b.set_weights(a.get_weights())
    reinitialize(pairs[-1][1], seed)
    return len(pairs) - 1


def load_source(source_dir: str | Path) -> tuple[keras.Model, dict[str, Any]]:
    """The source run's network and what results.json records of it.

    Raises:
        ValueError: not a completed run folder (``finished_run.load_run``'s one-line errors).
    """
    from rethinking.training.finished_run import load_run  # noqa: PLC0415

    loaded = load_run(source_dir)
    corruption = loaded.config.data.corruption
    record = {
        "run_dir": str(Path(source_dir).resolve()),
        "run": Path(source_dir).resolve().name,
        "status": loaded.results.get("status"),
        "model": loaded.config.model.name,
        "dataset": loaded.config.data.dataset,
        "train_examples": loaded.config.data.train_examples,
        "train_offset": loaded.config.data.train_offset,
        "labels": corruption.labels,
        "corruption_prob": corruption.resolved_corruption_prob,
        "pixels": corruption.pixels,
        "seed": loaded.config.data.seed,
        "epochs_trained": loaded.results.get("epochs_trained"),
        "train_accuracy": loaded.results.get("train_accuracy"),
    }
    return loaded.model, record
