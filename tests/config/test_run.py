"""RunConfig and its parts: validation, dict round trips, derived names and defaults."""

from __future__ import annotations

import dataclasses
import json

import pytest

from rethinking.config import (
    ModelConfig, RunConfig, TrainConfig, config_digest, default_run_name,
)
from rethinking.data import Corruption, DataConfig
from rethinking.models import MODEL_CATALOG, MODELS
from rethinking.training import STRATEGIES


def test_model_config_takes_exactly_the_registry_names_and_reads_its_facts():
    for name, entry in MODEL_CATALOG.items():
        config = ModelConfig(name=name)
        assert callable(MODELS[name]) and config.resolved_batch_norm == entry.batch_norm
        assert RunConfig(model=config).learning_rate == entry.learning_rate
    assert ModelConfig(name="mlp", batch_norm=True).resolved_batch_norm is True
    with pytest.raises(ValueError, match="Unknown model 'resnet9': use one of inception_small, alexnet_small"):
        ModelConfig(name="resnet9")


def test_round_trip_through_json():
    config = RunConfig(
        data=DataConfig(dataset="digits", corruption=Corruption(labels="partial", corruption_prob=0.3), seed=4),
        model=ModelConfig(name="mlp", depth=2, units=64, batch_norm=True, dropout=0.1, weight_decay=5e-4),
        train=TrainConfig(epochs=7, learning_rate=0.05, until_fit=True, strategy="mirrored", jit_compile=False),
        experiment="table1", run_name="a",
    )
    assert RunConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match="Unknown TrainConfig keys \\['epoch'\\]"):
        RunConfig.from_dict({"train": {"epoch": 3}})


def test_seeds_are_bounded_where_they_arrive_from_files():
    with pytest.raises(ValueError, match="seed must be at most 4,294,967,295"):
        RunConfig.from_dict({"data": {"seed": 2**40}})
    with pytest.raises(ValueError, match="init_seed must be at most"):
        RunConfig.from_dict({"train": {"init_seed": 2**32}})


@pytest.mark.parametrize("values, key", [({"train": 5}, "train"), ({"data": 1}, "data"), ({"model": [1, 2]}, "model"),
                                         ({"data": {"corruption": "random"}}, "data.corruption")])
def test_from_dict_refuses_a_value_where_a_table_of_options_belongs(values, key):
    # A sweep file, --set or a config.json giving ``train = 5`` once raised AttributeError deep inside.
    with pytest.raises(ValueError, match=f"^{key} is a table of options, not "):
        RunConfig.from_dict(values)


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "resnet"}, "Unknown model 'resnet'"),
    ({"dropout": 1.0}, "dropout is a rate in \\[0, 1\\)"),
    ({"weight_decay": -1.0}, "weight_decay must be a finite number >= 0"),
    ({"name": "mlp_1x512", "depth": 2}, "depth and units apply only to model 'mlp'"),
    ({"width_multiplier": 0.0}, "width_multiplier must be > 0"),
])
def test_model_config_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"epochs": 0}, "epochs must be a positive integer"),
    ({"batch_size": 1.5}, "batch_size must be a positive integer"),
    ({"learning_rate": 0.0}, "learning_rate must be a finite number > 0"),
    ({"learning_rate": float("inf")}, "learning_rate must be a finite number > 0"),
    ({"learning_rate": float("nan")}, "learning_rate must be a finite number > 0"),
    ({"momentum": 1.0}, "momentum must be in \\[0, 1\\)"),
    ({"lr_decay": 1.5}, "lr_decay is a per-epoch factor"),
    ({"fit_threshold": 0.0}, "fit_threshold is an accuracy"),
    ({"strategy": "horovod"}, "Unknown strategy 'horovod'"),
    ({"mixed_precision": "float16"}, "Unknown mixed_precision"),
])
def test_train_config_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


@pytest.mark.parametrize("name", ["", "a/b", ".."])
def test_run_config_rejects_bad_folder_names(name):
    with pytest.raises(ValueError, match="run_name must be a non-empty folder name"):
        RunConfig(run_name=name)


def test_every_listed_strategy_is_one_the_cli_offers_and_the_config_accepts():
    from rethinking.cli import train

    offered = next(p for p in train.params if p.name == "strategy").type.choices
    assert set(offered) == set(STRATEGIES)
    for name in STRATEGIES:
        assert TrainConfig(strategy=name).strategy == name
    with pytest.raises(ValueError, match="Unknown strategy"):
        TrainConfig(strategy="parameter-server")


def test_local_strategies_build_under_their_names():
    from rethinking.training.strategy import get_strategy

    kinds = {"default": "_DefaultDistributionStrategy", "one-device": "OneDeviceStrategy", "mirrored": "MirroredStrategy"}
    for name, kind in kinds.items():
        assert type(get_strategy(name)).__name__ == kind, name
    with pytest.raises(ValueError, match="TF_CONFIG"):
        get_strategy("multi-worker")


def test_paper_learning_rates_and_seeds():
    assert RunConfig(model=ModelConfig(name="inception_small")).learning_rate == 0.1
    assert RunConfig(model=ModelConfig(name="alexnet_small")).learning_rate == 0.01
    assert RunConfig(train=TrainConfig(learning_rate=0.2)).learning_rate == 0.2
    assert RunConfig(data=DataConfig(seed=3)).init_seed == 3
    assert RunConfig(data=DataConfig(seed=3), train=TrainConfig(init_seed=9)).init_seed == 9


def test_run_name_is_stable_readable_and_changes_with_the_config():
    config = RunConfig(data=DataConfig(corruption=Corruption(labels="partial", corruption_prob=0.2)))
    name = default_run_name(config)
    assert name.startswith("inception_small-labels_partial0.2-pixels_original-seed0-")
    assert name == default_run_name(RunConfig.from_dict(config.to_dict()))
    other = dataclasses.replace(config, train=TrainConfig(batch_size=64))
    assert default_run_name(other) != name
    # The epoch cap is not part of a run's identity (a longer run continues a shorter one), except
    # under the cosine schedule, which depends on it.
    assert default_run_name(dataclasses.replace(config, train=TrainConfig(epochs=5))) == name
    cosine = [dataclasses.replace(config, train=TrainConfig(epochs=e, schedule="cosine")) for e in (5, 6)]
    assert len({default_run_name(c) for c in cosine}) == 2
    # Where it is written does not change what the run is.
    assert config_digest(dataclasses.replace(config, experiment="x", log_dir="/elsewhere")) == config_digest(config)
