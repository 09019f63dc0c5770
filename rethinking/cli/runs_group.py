"""``rethinking runs`` and ``rethinking compare``: the runs under a log folder, and runs side by side."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import click

from rethinking.cli.base import cli, friendly_errors, percent

FORMATS = ("table", "csv", "json")
# The columns of the table format: (key, title, how a value is shown).
TABLE_COLUMNS = (("status", "status", str), ("model", "model", str), ("labels", "labels", str),
                 ("corruption_prob", "p", "{:g}".format), ("pixels", "pixels", str), ("seed", "seed", str),
                 ("epochs_trained", "trained", str), ("train_accuracy", "train acc", percent),
                 ("test_accuracy", "test acc", percent), ("best_test_accuracy", "best test", percent),
                 ("fit_epoch", "fit epoch", str), ("wall_seconds", "wall s", "{:,.0f}".format))


def _cell(value: Any, show: Any) -> str:
    return "-" if value is None or value != value else show(value)


def _print_table(rows: list[dict[str, Any]], columns: list[tuple[str, str, Any]]) -> None:
    cells = [[_cell(row.get(key), show) for key, _, show in columns] for row in rows]
    widths = [max([len(title)] + [len(c[i]) for c in cells]) for i, (_, title, _) in enumerate(columns)]
    click.echo("  ".join(title.ljust(w) for (_, title, _), w in zip(columns, widths)).rstrip())
    for line in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip())


def _print_rows(rows: list[dict[str, Any]], output: str, columns: list[tuple[str, str, Any]]) -> None:
    if output == "json":
        click.echo(json.dumps(rows, indent=1, default=str))
    elif output == "csv":
        keys = list(dict.fromkeys(key for row in rows for key in row))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        click.echo(buffer.getvalue(), nl=False)
    else:
        _print_table(rows, columns)


@cli.command()
@click.argument("log_dir", required=False, default="tensorboard_logs", type=click.Path(file_okay=False))
@click.option("--format", "output", type=click.Choice(FORMATS), default="table", show_default=True,
              help="table (key settings and results), csv or json (every setting and result).")
@friendly_errors
def runs(log_dir: str, output: str) -> None:
    """List the runs under LOG_DIR (default tensorboard_logs): state, key settings, results.

    States: finished, fitted, diverged, failed, interrupted; running (a live process holds the
    run); unfinished (killed: the same command, or 'rethinking train --resume RUN', resumes it).
    """
    from rethinking.reports.runs import list_runs  # noqa: PLC0415 (no TensorFlow)

    rows = list_runs(log_dir)
    if not rows:
        click.echo(f"No runs under {log_dir}.")
        return
    _print_rows(rows, output, [("run", "run", str), *TABLE_COLUMNS])
    if output == "table":
        counts: dict[str, int] = {}
        for row in rows:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        click.echo(f"\n{len(rows)} runs: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        for row in rows:
            if row.get("error"):
                click.echo(f"{row['run']}: {row['error']}")


@cli.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--format", "output", type=click.Choice(FORMATS), default="table", show_default=True,
              help="table (the settings that differ, then the results), csv or json (every setting and result).")
@friendly_errors
def compare(run_dirs: tuple[str, ...], output: str) -> None:
    """Show runs side by side: the settings on which they differ, and their results."""
    from rethinking.reports.runs import RESULT_KEYS, compare_runs  # noqa: PLC0415 (no TensorFlow)

    keys, rows = compare_runs(run_dirs)
    if output != "table":
        _print_rows(rows, output, [])
        return
    if not keys:
        click.echo("The runs have the same settings (seeds included).")
    shown = {key: show for key, _, show in TABLE_COLUMNS}
    columns = [("run", "run", str), ("status", "status", str),
               *[(key, key, shown.get(key, str)) for key in keys],
               *[(key, title, show) for key, title, show in TABLE_COLUMNS if key in RESULT_KEYS]]
    _print_table(rows, columns)
