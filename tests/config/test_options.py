"""One definition per option: every field's flag, command, --set check and config come from its metadata."""

from __future__ import annotations

import pytest

from rethinking import cli
from rethinking.config import RunConfig
from rethinking.config.reproducing_command import command_args
from rethinking.config.options import OptionField, check_value, option_fields
from rethinking.experiments.sweep import parse_assignment, set_path

SPECS = list(option_fields(RunConfig))
# Fields valid only together with another setting (the config's own combination rules).
COMPANIONS = {
    "data.replace_example": {"data.train_examples": 10},
    "data.corruption.corruption_prob": {"data.corruption.labels": "partial"},
    "data.corruption.label_noise": {"data.corruption.labels": "random"},
    "data.corruption.corrupt_test_labels": {"data.corruption.labels": "random"},
    "data.corruption.label_set": {"data.corruption.labels": "human"},
    "data.corruption.transition": {"data.corruption.labels": "matrix"},
    "model.depth": {"model.name": "mlp"},
    "model.units": {"model.name": "mlp"},
    "model.width": {"model.name": "preact_resnet18"},
    "train.lr_steps": {"train.schedule": "step"},
    "train.nesterov": {"train.optimizer": "sgd"},
}
VALUES = {"data.corruption.labels": "random", "data.corruption.transition": "label-set:worst", "data.cache": "none", "train.schedule": "cosine", "train.lr_steps": "3,5"}


def _other_value(spec: OptionField):
    """A valid value different from the default."""
    if spec.key in VALUES:
        return VALUES[spec.key]
    if spec.kind is bool:
        return not spec.default if spec.default is not None else True
    choices = spec.option.choice_list()
    if choices:
        return next(c for c in choices if c != spec.default)
    if spec.kind is int:
        return (spec.default or spec.option.minimum or 0) + 3
    if spec.kind is float:
        return 0.5
    return "x y"


def _wrong_value(spec: OptionField):
    return {bool: "yes", int: "abc", float: "abc", str: 3}[spec.kind]


def _set(settings: dict) -> RunConfig:
    """What ``rethinking run --set KEY=VALUE ...`` builds (values written as TOML, as a user types them)."""
    tree: dict = {}
    for key, value in settings.items():
        text = ("true" if value else "false") if isinstance(value, bool) else (
            f'"{value}"' if isinstance(value, str) and " " in value else str(value))
        set_path(tree, *parse_assignment(f"{key}={text}"))
    return RunConfig.from_dict(tree)


def _parse(args: list[str]) -> RunConfig:
    ctx = cli.train.make_context("train", list(args))
    return cli.run_config_from_flags(dict(ctx.params))


@pytest.mark.parametrize("spec", SPECS, ids=[s.key for s in SPECS])
def test_each_option_round_trips_set_config_command_flags_config(spec):
    settings = {**COMPANIONS.get(spec.key, {}), spec.key: _other_value(spec)}
    config = _set(settings)
    value = config
    for part in spec.path:
        value = getattr(value, part)
    assert value == settings[spec.key]
    args = command_args(config)
    assert spec.option.flag in args or spec.option.off_flag in args
    assert _parse(args) == config


@pytest.mark.parametrize("spec", SPECS, ids=[s.key for s in SPECS])
def test_each_option_rejects_a_wrong_type_naming_its_key(spec):
    with pytest.raises(ValueError, match=f"^{spec.key} takes "):
        tree: dict = {}
        set_path(tree, spec.key, _wrong_value(spec))
        RunConfig.from_dict(tree)


def test_every_flag_is_documented_in_cli_md():
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()
    missing = [s.option.flag for s in SPECS if f"`{s.option.flag}" not in text]
    assert not missing, f"docs/cli.md lacks {missing}"


def test_check_value_accepts_ints_as_floats_and_rejects_bools_as_numbers():
    assert check_value("k", 2, float, False) == 2.0
    with pytest.raises(ValueError, match="k takes a number"):
        check_value("k", True, float, False)
    with pytest.raises(ValueError, match="k takes an integer or null"):
        check_value("k", 1.5, int, True)
    assert check_value("k", None, int, True) is None


@pytest.mark.parametrize("spec", [s for s in SPECS if s.option.choice_list() or s.option.minimum is not None],
                         ids=lambda s: s.key)
def test_the_config_itself_enforces_each_fields_choices_and_minimum(spec):
    bad = "no-such-choice" if spec.option.choice_list() else spec.option.minimum - 1
    tree: dict = {}
    for key, value in {**COMPANIONS.get(spec.key, {}), spec.key: bad}.items():
        set_path(tree, key, value)
    fragment = f"Unknown {spec.option.name} 'no-such-choice'" if isinstance(bad, str) else f"{spec.path[-1]} must be a"
    with pytest.raises(ValueError, match=fragment):
        RunConfig.from_dict(tree)
