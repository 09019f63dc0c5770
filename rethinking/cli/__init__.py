"""The ``rethinking`` command: a thin click layer, one module per command group.

Each command parses its flags, builds a config, calls the library and prints; no logic here.
``base`` holds the group, the one-line errors and the options derived from the config fields;
``data_group`` (datasets, preview), ``train_group`` (train), ``measure_group`` (measure), ``runs_group`` (runs,
compare), ``sweep_group`` (sweeps, run, report, tune)
and ``theory_group`` (expressivity, kernel, linear) register their commands on it.
"""

from __future__ import annotations

import click

from rethinking.cli import data_group, measure_group, runs_group, sweep_group, theory_group, train_group  # noqa: F401 (register the commands)
from rethinking.cli.base import cli, data_config_from_flags, run_config_from_flags
from rethinking.cli.data_group import datasets, preview
from rethinking.cli.measure_group import measure
from rethinking.cli.runs_group import compare, runs
from rethinking.cli.sweep_group import report, run, sweeps, tune
from rethinking.cli.theory_group import expressivity, kernel, linear
from rethinking.cli.train_group import train

__all__ = ["cli", "compare", "data_config_from_flags", "datasets", "expressivity", "kernel", "linear", "main", "measure",
           "preview", "report", "run", "run_config_from_flags", "runs", "sweeps", "train", "tune"]


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit status (0 ok, 1 a problem of the environment, 2 usage error)."""
    from rethinking import runtime  # noqa: PLC0415 (must run before TensorFlow is imported)

    runtime.configure()
    try:
        cli.main(args=argv, prog_name="rethinking", standalone_mode=False)
    except BrokenPipeError:  # the reader went away (rethinking ... | head): stop quietly, as Unix tools do
        import os  # noqa: PLC0415
        import sys  # noqa: PLC0415

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 141
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.UsageError as err:
        hint = f" (see 'rethinking {err.ctx.command.name} --help')" if err.ctx and err.ctx.parent else " (see 'rethinking --help')"
        click.echo(f"Error: {err.format_message()}{hint}", err=True)
        return 2
    except click.ClickException as err:  # includes Failure, with its own exit status
        click.echo(f"Error: {err.format_message()}", err=True)
        return err.exit_code
    return 0


