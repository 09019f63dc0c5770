"""Paths as a shared file may hold them: never an absolute path of the machine that wrote it.

A results table, a report or an exported run names files (the sweep file, a transition matrix, a
dataset, run folders). ``portable_path`` turns an absolute path into one that means the same on
another machine: a file shipped inside the package as ``rethinking/...`` (a shipped pipeline file of
a source checkout as ``pipelines/...``), a file under the working folder relative to it, anything
else by its name alone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parent
# The shipped pipeline files in a source checkout (an installed wheel has them under PACKAGE).
PIPELINES = PACKAGE.parent / "pipelines"


def portable_path(text: str, base: Path | None = None) -> str:
    """``text`` if it is not an absolute path; else the shipped-package, relative or bare name of it.

    Args:
        text: a string that may be an absolute path.
        base: the folder to make paths relative to (default: the working folder).
    """
    if not isinstance(text, str) or not os.path.isabs(text):
        return text
    path = Path(text)
    for root, prefix in ((PACKAGE, "rethinking"), (PIPELINES, "pipelines"), (Path(base or Path.cwd()).resolve(), None)):
        try:
            relative = path.resolve().relative_to(root)
        except ValueError:
            continue
        return f"{prefix}/{relative.as_posix()}" if prefix else relative.as_posix()
    return path.name


def portable(value: Any, base: Path | None = None) -> Any:
    """``value`` (JSON-like: dicts, lists, strings) with every absolute path made portable."""
    if isinstance(value, dict):
        return {k: portable(v, base) for k, v in value.items()}
    if isinstance(value, list):
        return [portable(v, base) for v in value]
    if isinstance(value, str) and os.path.isabs(value):
        return portable_path(value, base)
    if isinstance(value, str) and " /" in value:  # a command line: each absolute argument
        return " ".join(portable_path(part, base) if os.path.isabs(part) else part for part in value.split(" "))
    return value
