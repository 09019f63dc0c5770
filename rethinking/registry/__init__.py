"""One way to name code in a registry: ``"package.module:function"``, loaded on first use.

The registries (``models.MODEL_CATALOG``, ``registry.conditions``, ``training.STRATEGIES``) are plain
Python dicts of such paths, so the config layer and the CLI read their names without importing
TensorFlow, and the function behind a name is imported only when a run needs it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def load_function(path: str, what: str = "function") -> Any:
    """The object ``path`` (``"package.module:function"``) names.

    Args:
        path: module path, a colon, and the attribute name.
        what: what the path stands for, for the error message (e.g. ``"model builder"``).

    Raises:
        ValueError: a malformed path, a module that does not import, or a missing attribute.
    """
    module, sep, name = path.partition(":")
    if not sep or not module or not name:
        raise ValueError(f"{what} {path!r} is not of the form 'package.module:function'.")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"Cannot load {what} {path!r}: {err}.") from err


def lazy_attributes(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports each of ``names`` (``{name: "module:attribute"}``) on first use.

    The packages use it to export names whose modules import TensorFlow, without importing it
    themselves (``import rethinking`` and the CLI's ``--help`` stay TensorFlow-free). The package's
    ``dir()`` then lists them as well.
    """

    def __getattr__(name: str) -> Any:
        if name in names:
            return load_function(names[name], name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    # dir() lists the lazy names too (PEP 562's module __dir__), so completion and help() see them.
    module = sys.modules.get(package)
    if module is not None:
        module.__dict__.setdefault("__dir__", lambda: sorted(set(module.__dict__) | set(names)))
    return __getattr__
