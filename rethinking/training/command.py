"""The ``rethinking train`` command that reproduces a ``RunConfig`` (recorded in results.json).

Only fields that differ from the defaults become flags, so the command reads like one a person
would type. ``tests/training/test_command.py`` parses it back through the CLI and checks that it
gives the same config, so this table and the CLI cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import shlex
from typing import Any

from rethinking.config import ModelConfig, RunConfig, TrainConfig
from rethinking.data.corruptions import Corruption
from rethinking.data.pipeline import DataConfig
from rethinking.data.preprocessing import Preprocessing

# (dataclass path, field) -> (flag, kind): "value" = --flag VALUE, ("--on", "--off") = a boolean pair.
FLAGS: dict[tuple[str, str], tuple[str, Any]] = {
    ("data", "dataset"): ("--dataset", "value"),
    ("data", "data_dir"): ("--data-dir", "value"),
    ("data", "seed"): ("--seed", "value"),
    ("data", "cache"): ("--cache", "value"),
    ("data", "shuffle_buffer"): ("--shuffle-buffer", "value"),
    ("data", "train_examples"): ("--train-examples", "value"),
    ("data.corruption", "labels"): ("--labels", "value"),
    ("data.corruption", "corruption_prob"): ("--corruption-prob", "value"),
    ("data.corruption", "label_noise"): ("--label-noise", "value"),
    ("data.corruption", "pixels"): ("--pixels", "value"),
    ("data.corruption", "gaussian_stats"): ("--gaussian-stats", "value"),
    ("data.corruption", "corrupt_test_labels"): ("--corrupt-test-labels", ("--corrupt-test-labels", "--true-test-labels")),
    ("data.preprocessing", "crop_size"): ("--crop-size", "value"),
    ("data.preprocessing", "random_crop"): ("--random-crop", ("--random-crop", "--center-crop")),
    ("data.preprocessing", "flip"): ("--flip", ("--flip", "--no-flip")),
    ("data.preprocessing", "color_jitter"): ("--color-jitter", ("--color-jitter", "--no-color-jitter")),
    ("data.preprocessing", "standardize"): ("--standardize", ("--standardize", "--no-standardize")),
    ("data.preprocessing", "image_size"): ("--image-size", "value"),
    ("model", "name"): ("--model", "value"),
    ("model", "batch_norm"): ("--batch-norm", ("--batch-norm", "--no-batch-norm")),
    ("model", "dropout"): ("--dropout", "value"),
    ("model", "weight_decay"): ("--weight-decay", "value"),
    ("model", "width_multiplier"): ("--width-multiplier", "value"),
    ("model", "depth"): ("--depth", "value"),
    ("model", "units"): ("--units", "value"),
    ("train", "epochs"): ("--epochs", "value"),
    ("train", "batch_size"): ("--batch-size", "value"),
    ("train", "learning_rate"): ("--learning-rate", "value"),
    ("train", "momentum"): ("--momentum", "value"),
    ("train", "lr_decay"): ("--lr-decay", "value"),
    ("train", "until_fit"): ("--until-fit", ("--until-fit", "--fixed-epochs")),
    ("train", "fit_threshold"): ("--fit-threshold", "value"),
    ("train", "strategy"): ("--strategy", "value"),
    ("train", "deterministic"): ("--deterministic", ("--deterministic", "--nondeterministic")),
    ("train", "mixed_precision"): ("--mixed-precision", "value"),
    ("train", "jit_compile"): ("--jit-compile", ("--jit-compile", "--no-jit-compile")),
    ("train", "steps_per_execution"): ("--steps-per-execution", "value"),
    ("train", "init_seed"): ("--init-seed", "value"),
    ("train", "divergence_loss"): ("--divergence-loss", "value"),
    ("train", "eval_batch_size"): ("--eval-batch-size", "value"),
    ("", "experiment"): ("--experiment", "value"),
    ("", "run_name"): ("--run-name", "value"),
    ("", "log_dir"): ("--log-dir", "value"),
}

_DEFAULTS = {"data": DataConfig(), "data.corruption": Corruption(), "data.preprocessing": Preprocessing(),
             "model": ModelConfig(), "train": TrainConfig(), "": RunConfig()}


def _section(config: RunConfig, path: str) -> Any:
    obj: Any = config
    for part in filter(None, path.split(".")):
        obj = getattr(obj, part)
    return obj


def command_args(config: RunConfig) -> list[str]:
    """The ``rethinking train`` arguments (after ``train``) that rebuild ``config``."""
    args: list[str] = []
    for (path, field), (flag, kind) in FLAGS.items():
        value = getattr(_section(config, path), field)
        if value == getattr(_DEFAULTS[path], field):
            continue
        if kind == "value":
            args += [flag, str(value)]
        else:
            args.append(kind[0] if value else kind[1])
    return args


def command_line(config: RunConfig) -> str:
    """``rethinking train ...``, shell-quoted."""
    return shlex.join(["rethinking", "train", *command_args(config)])


def covered_fields() -> set[tuple[str, str]]:
    """Every (section, field) of a RunConfig, to check that ``FLAGS`` covers them all."""
    fields = set()
    for path, default in _DEFAULTS.items():
        for f in dataclasses.fields(default):
            if not dataclasses.is_dataclass(getattr(default, f.name)):
                fields.add((path, f.name))
    return fields
