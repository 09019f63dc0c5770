"""The reproducing command recorded in results.json parses back into the same RunConfig."""

from __future__ import annotations

import shlex

import pytest

from rethinking import cli
from rethinking.config import ModelConfig, RunConfig, TrainConfig
from rethinking.data import Corruption, DataConfig, Preprocessing
from rethinking.config.reproducing_command import command_args, command_line
from rethinking.config.options import option_fields


def parse(args: list[str]) -> RunConfig:
    """What ``rethinking train ARGS`` would run (parsing only)."""
    ctx = cli.train.make_context("train", list(args))
    flags = {k: v for k, v in ctx.params.items() if k not in ("resume_dir", "overwrite")}
    return cli.run_config_from_flags(flags)


def _leaf_fields(cls, prefix=()):
    import dataclasses

    for field in dataclasses.fields(cls):
        if dataclasses.is_dataclass(field.default):
            yield from _leaf_fields(type(field.default), (*prefix, field.name))
        else:
            yield (*prefix, field.name)


def test_every_config_field_has_a_flag():
    assert {spec.path for spec in option_fields(RunConfig)} == set(_leaf_fields(RunConfig))
    flags = {p.opts[0] for p in cli.train.params if p.opts}
    assert {spec.option.flag for spec in option_fields(RunConfig)} <= flags


def test_default_config_is_a_bare_command():
    assert command_line(RunConfig()) == "rethinking train"
    assert parse([]) == RunConfig()


@pytest.mark.parametrize("config", [
    RunConfig(data=DataConfig(dataset="cifar10", corruption=Corruption(labels="partial", corruption_prob=0.4,
                                                                       label_noise="wrong"), seed=7)),
    RunConfig(data=DataConfig(corruption=Corruption(labels="random", pixels="gaussian", gaussian_stats="global",
                                                    corrupt_test_labels=True),
                              preprocessing=Preprocessing(crop_size=24, random_crop=True, flip=True, standardize=False),
                              cache="none", shuffle_buffer=100, train_examples=500),
              model=ModelConfig(name="alexnet_small", batch_norm=True, dropout=0.5, weight_decay=5e-4),
              train=TrainConfig(epochs=3, batch_size=64, learning_rate=0.05, momentum=0.5, lr_decay=1.0,
                                until_fit=True, fit_threshold=0.99, strategy="mirrored", deterministic=True,
                                mixed_precision="mixed_bfloat16", jit_compile=False, steps_per_execution=4,
                                init_seed=3, divergence_loss=100.0, eval_batch_size=512),
              experiment="table1", run_name="my run", log_dir="/tmp/logs dir"),
    RunConfig(model=ModelConfig(name="mlp", depth=3, units=64, batch_norm=False, width_multiplier=2.0)),
])
def test_command_round_trip(config):
    line = command_line(config)
    assert line.startswith("rethinking train ")
    args = shlex.split(line)[2:]
    assert args == command_args(config)
    assert parse(args) == config
