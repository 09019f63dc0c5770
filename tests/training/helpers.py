"""Small run configs on the embedded digits data, for the training tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import h5py
import numpy as np

from rethinking.config import ModelConfig, RunConfig, TrainConfig
from rethinking.data import Corruption, DataConfig

# MLP 1x512 on digits, batch 32: about 0.3 s per epoch on 2 cores. With lr 0.03 decayed by 0.99 per
# epoch it fits random labels in about 80 epochs (measured; the paper's 0.01 and 0.95 per epoch
# decay too fast for 45 steps per epoch).
# Graph mode, not the MLPs' default XLA: its compile is about 1 s of a tiny run's 2.5 s. The XLA
# step has tests of its own (models/test_models.py, the device-pixel engine test, every CLI run).
FAST_TRAIN = TrainConfig(epochs=2, batch_size=32, learning_rate=0.03, lr_decay=0.99, jit_compile=False)


def digits_run(log_dir: Path, *, labels: str = "random", run_name: str | None = None, model: str = "mlp_1x512",
               **train_overrides) -> RunConfig:
    """A RunConfig on digits writing under ``log_dir``."""
    corruption = Corruption(labels=labels, corruption_prob=0.5 if labels == "partial" else None)
    return RunConfig(data=DataConfig(dataset="digits", corruption=corruption), model=ModelConfig(name=model),
                     train=dataclasses.replace(FAST_TRAIN, **train_overrides), log_dir=str(log_dir), run_name=run_name)


def read_weights(path: Path) -> list[tuple[str, np.ndarray]]:
    """Every array of a Keras ``.weights.h5`` file, by name."""
    arrays: list[tuple[str, np.ndarray]] = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: arrays.append((name, obj[()])) if isinstance(obj, h5py.Dataset) else None)
    return sorted(arrays, key=lambda item: item[0])


def same_weights(a: Path, b: Path) -> bool:
    """Bit-identical weight files."""
    wa, wb = read_weights(a), read_weights(b)
    return len(wa) == len(wb) > 0 and all(na == nb and np.array_equal(xa, xb) for (na, xa), (nb, xb) in zip(wa, wb))
