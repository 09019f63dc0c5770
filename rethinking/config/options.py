"""Building frozen config dataclasses from plain dicts (JSON, TOML, ``--set``)."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def dataclass_from_dict(cls: type[T], values: dict[str, Any]) -> T:
    """``cls(**values)``, with unknown keys reported by name instead of a TypeError."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"Unknown {cls.__name__} keys {unknown}: use some of {sorted(names)}.")
    return cls(**values)
