"""The ``rethinking train`` command that reproduces a ``RunConfig`` (recorded in results.json).

Derived from the fields' ``Option`` metadata, like the CLI's flags, so the two cannot drift apart:
only options that differ from their defaults become flags, and the command reads like one a
person would type. ``tests/config/test_reproducing_command.py`` parses it back through the CLI.
"""

from __future__ import annotations

import shlex

from rethinking.config.options import command_args
from rethinking.config.run import RunConfig

__all__ = ["command_args", "command_line"]


def command_line(config: RunConfig) -> str:
    """``rethinking train ...``, shell-quoted."""
    return shlex.join(["rethinking", "train", *command_args(config)])
