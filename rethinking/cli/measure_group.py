"""``rethinking measure``: the generalization measures of finished runs (docs/measures.md)."""

from __future__ import annotations

from typing import Any

import click

from rethinking.cli.base import cli, friendly_errors, start_tensorflow

# The columns printed (measures.json holds every measure).
SHOWN = (("generalization_gap", "gap", "{:.3f}"), ("path_norm", "path norm", "{:.4g}"),
         ("spectral_complexity", "R_A", "{:.3g}"), ("spectral_normalized_margin", "norm. margin", "{:.3g}"),
         ("distance_from_init", "dist. init", "{:.4g}"), ("pac_bayes_flatness", "flatness", "{:.3g}"),
         ("pac_bayes_bound", "PAC-Bayes", "{:.3g}"))


def _cell(value: Any, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def print_measures(records: list[dict[str, Any]]) -> None:
    """One line per run: its name and the main measures."""
    width = max([len("run")] + [len(r["run"]) for r in records])
    click.echo(f"{'run':<{width}}  " + "  ".join(f"{title:>12}" for _, title, _ in SHOWN))
    for record in records:
        values = {"generalization_gap": record["generalization_gap"], **record["measures"]}
        click.echo(f"{record['run']:<{width}}  " + "  ".join(f"{_cell(values.get(k), fmt):>12}" for k, _, fmt in SHOWN))


def print_group(group: str) -> None:
    """Progress: the group of measures being computed."""
    click.echo(f"  {group} ...", err=True)


@cli.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--examples", default=2048, show_default=True, type=click.IntRange(min=1),
              help="Training examples used by the sharpness, the PAC-Bayes flatness and the Jacobian norm.")
@click.option("--overwrite", is_flag=True, help="Compute again even where measures.json exists.")
@friendly_errors
def measure(run_dirs: tuple[str, ...], examples: int, overwrite: bool) -> None:
    """Compute the generalization measures of finished runs: measures.json in each RUN_DIR.

    Norms, spectral complexity, path norm, margins, sharpness, PAC-Bayes flatness and bound (the
    formulas and references: docs/measures.md). A run is measured once; rerunning reads it back.
    """
    from rethinking.training.finished_run import completed_results  # noqa: PLC0415 (no TensorFlow)

    for run_dir in run_dirs:  # every folder checked before the first is measured
        completed_results(run_dir)
    start_tensorflow()
    from rethinking.measures.run import measure_run  # noqa: PLC0415

    records = []
    for index, run_dir in enumerate(run_dirs, start=1):
        click.echo(f"[{index}/{len(run_dirs)}] {run_dir}", err=True)
        records.append(measure_run(run_dir, examples=examples, overwrite=overwrite, progress=print_group))
    print_measures(records)
