"""Run options as dataclass fields: one definition gives the flag, its help, type and choices.

A config field declared with ``option(...)`` carries an ``Option`` in its metadata. From it alone
come the CLI's click options (``rethinking.cli``), the flag -> config mapping (``from_flags``), the
reproducing command (``command_args``), and the type checks of pipeline files, ``--set`` and
``config.json`` (``dataclass_from_dict``). Pure Python, no TensorFlow.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

_TYPES: dict[str, type] = {"int": int, "float": float, "str": str, "bool": bool}
_TYPE_WORDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


@dataclasses.dataclass(frozen=True)
class Option:
    """What the CLI and the config files know about one field.

    Attributes:
        flag: the command-line flag (``--lr-decay``); a boolean's "on" flag.
        help: the help text (without the default, which click adds).
        off_flag: a boolean's "off" flag (``--no-flip``); None for valued options.
        choices: the allowed values, for a field that takes one of a list: a tuple, or a function
            returning one (so a registry can be read when the option is used, not when defined).
        open_choices: values outside ``choices`` of the form ``package.module:function`` are
            accepted too (a user's own code, e.g. ``--model mypkg.nets:my_net``).
        minimum: smallest allowed integer (click's ``IntRange``), for integer fields.
        maximum: largest allowed integer, for integer fields (None: no bound).
        default_help: what the default means when it is None ("the paper's ...").
        hparam: logged to TensorBoard's HParams dashboard (False for where a run is written, not
            what it is: folders, caches).
    """

    flag: str
    help: str
    off_flag: str | None = None
    choices: tuple[str, ...] | Callable[[], Sequence[str]] | None = None
    open_choices: bool = False
    minimum: int | None = None
    maximum: int | None = None
    default_help: str | None = None
    hparam: bool = True

    @property
    def name(self) -> str:
        """The flag's Python name (``--lr-decay`` -> ``lr_decay``): the click parameter name."""
        return self.flag.lstrip("-").replace("-", "_")

    def choice_list(self) -> tuple[str, ...] | None:
        """The allowed values now."""
        if self.choices is None:
            return None
        return tuple(self.choices() if callable(self.choices) else self.choices)


def option(default: Any, flag: str, help: str, **details: Any) -> Any:  # noqa: A002 (click's word)
    """A dataclass field with an ``Option`` in its metadata (see ``Option`` for ``details``)."""
    return dataclasses.field(default=default, metadata={"option": Option(flag=flag, help=help, **details)})


@dataclasses.dataclass(frozen=True)
class OptionField:
    """One option of a nested config: where it lives, its type, default and ``Option``."""

    path: tuple[str, ...]  # e.g. ("data", "corruption", "labels")
    kind: type             # int, float, str or bool
    optional: bool         # None allowed
    default: Any
    option: Option

    @property
    def key(self) -> str:
        """The dotted key of pipeline files and ``--set`` (``data.corruption.labels``)."""
        return ".".join(self.path)


def field_type(field: dataclasses.Field) -> tuple[type, bool]:
    """``(int | float | str | bool, optional)`` from a field's annotation (a string under PEP 563)."""
    text = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", str(field.type))
    parts = [part.strip() for part in text.split("|")]
    kinds = [_TYPES[part] for part in parts if part in _TYPES]
    if len(kinds) != 1:
        raise TypeError(f"option field {field.name} must be one of int, float, str, bool (or None). Received: {text}")
    return kinds[0], "None" in parts


def option_fields(cls: type, prefix: tuple[str, ...] = ()) -> Iterator[OptionField]:
    """Every ``option`` field of ``cls`` and of its nested config dataclasses, in declaration order."""
    yield from _option_fields(cls, prefix)


@functools.cache
def _option_fields(cls: type, prefix: tuple[str, ...]) -> tuple[OptionField, ...]:
    # Once per class: a class's fields never change, and expanding a paper sweep asks for them
    # about a million times (every run's identity and name go through option_values).
    found: list[OptionField] = []
    for field in dataclasses.fields(cls):
        default = field.default
        if dataclasses.is_dataclass(default):
            found += _option_fields(type(default), (*prefix, field.name))
        elif "option" in field.metadata:
            kind, optional = field_type(field)
            found.append(OptionField((*prefix, field.name), kind, optional, default, field.metadata["option"]))
    return tuple(found)


def check_value(key: str, value: Any, kind: type, optional: bool, choices: Sequence[str] | None = None) -> Any:
    """``value`` if it has the field's type (an int is accepted as a float), else a ValueError naming ``key``."""
    if value is None and optional:
        return value
    ok = (isinstance(value, bool) if kind is bool else
          isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float else
          isinstance(value, kind) and not isinstance(value, bool))
    if not ok:
        expected = _TYPE_WORDS[kind] + (" or null" if optional else "")
        raise ValueError(f"{key} takes {expected}. Received: {value!r}")
    if choices is not None and value not in choices:
        raise ValueError(f"Unknown {key} {value!r}: use one of {', '.join(choices)}.")
    return float(value) if kind is float else value


def check_options(config: Any) -> None:
    """Checks a config's own option fields against their ``Option``: choices and integer minimums.

    Called by each config's ``__post_init__``, so the allowed values are defined once, in the
    field. Value types are checked where values arrive from files and flags (``dataclass_from_dict``);
    ranges of floats and combinations of fields stay with each config.
    """
    for field in dataclasses.fields(config):
        spec = field.metadata.get("option")
        value = getattr(config, field.name)
        if spec is None or value is None:
            continue
        choices = spec.choice_list()
        if choices is not None and value not in choices and not (spec.open_choices and _is_path(value)):
            more = ", or package.module:function" if spec.open_choices else ""
            raise ValueError(f"Unknown {spec.name} {value!r}: use one of {', '.join(choices)}{more}.")
        if spec.minimum is not None and (not isinstance(value, int) or isinstance(value, bool) or value < spec.minimum):
            word = {0: "a non-negative integer", 1: "a positive integer"}.get(spec.minimum, f"an integer >= {spec.minimum}")
            raise ValueError(f"{field.name} must be {word}. Received: {field.name}={value}")
        if spec.maximum is not None and isinstance(value, int) and value > spec.maximum:
            raise ValueError(f"{field.name} must be at most {spec.maximum:,}. Received: {field.name}={value}")


def _is_path(value: Any) -> bool:
    module, sep, name = str(value).partition(":")
    return bool(sep and module and name)


def _nested_config(field: dataclasses.Field) -> type | None:
    """The config dataclass a field holds (``RunConfig.train`` -> ``TrainConfig``), else None."""
    if dataclasses.is_dataclass(field.default):
        return type(field.default)
    factory = field.default_factory
    return factory if isinstance(factory, type) and dataclasses.is_dataclass(factory) else None


def dataclass_from_dict(cls: type[T], values: Mapping[str, Any], prefix: str = "") -> T:
    """``cls(**values)`` with unknown keys and wrongly typed option values reported by name.

    Nested config dataclasses may be given as dicts. Values are checked against the option fields'
    types (``--set model.dropout=abc``: "model.dropout takes a number"); the dataclass's own
    ``__post_init__`` then checks ranges and combinations.
    """
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(names))
    if unknown:
        where = f" (under {prefix})" if prefix else ""
        raise ValueError(f"Unknown {cls.__name__} keys {unknown}{where}: use some of {sorted(names)}.")
    checked: dict[str, Any] = {}
    for name, value in values.items():
        field = names[name]
        key = f"{prefix}.{name}" if prefix else name
        nested = _nested_config(field)
        if nested is not None and isinstance(value, Mapping):
            value = dataclass_from_dict(nested, value, key)
        elif nested is not None and not isinstance(value, nested):
            raise ValueError(f"{key} is a table of options, not {value!r}: set one of them ({key}.NAME=VALUE), "
                             f"or give a table of {sorted(f.name for f in dataclasses.fields(nested))}.")
        elif "option" in field.metadata:
            kind, optional = field_type(field)
            value = check_value(key, value, kind, optional)
        checked[name] = value
    return cls(**checked)


class ConfigDict:
    """``to_dict`` / ``from_dict`` of the config dataclasses (JSON and TOML round trips)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable, nested dict."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[T], values: Mapping[str, Any]) -> T:
        """Inverse of ``to_dict``: missing keys take defaults; unknown keys and wrong types are errors naming the key."""
        return dataclass_from_dict(cls, values)


def from_flags(cls: type[T], flags: Mapping[str, Any]) -> T:
    """Builds ``cls`` (e.g. ``RunConfig``) from click's parameters, keyed by ``Option.name``.

    Options absent from ``flags`` keep their defaults, so a command offering a subset of the
    options (the theory commands) builds a config the same way.
    """
    values: dict[str, Any] = {}
    for spec in option_fields(cls):
        if spec.option.name in flags:
            node = values
            for part in spec.path[:-1]:
                node = node.setdefault(part, {})
            node[spec.path[-1]] = flags[spec.option.name]
    return dataclass_from_dict(cls, values)


def command_args(config: Any) -> list[str]:
    """The flags that rebuild ``config`` from the defaults: only options that differ from them."""
    args: list[str] = []
    for spec, value in option_values(config).values():
        if value == spec.default:
            continue
        if spec.kind is bool and spec.option.off_flag:
            args.append(spec.option.flag if value else spec.option.off_flag)
        else:
            args += [spec.option.flag, str(value)]
    return args


def option_values(config: Any) -> dict[str, tuple[OptionField, Any]]:
    """``{Option.name: (its OptionField, its value in config)}`` of every option of ``config``."""
    values = {}
    for spec in option_fields(type(config)):
        value: Any = config
        for part in spec.path:
            value = getattr(value, part)
        values[spec.option.name] = (spec, value)
    return values
