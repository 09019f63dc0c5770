"""``rethinking train``: one run, printed epoch by epoch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from rethinking.cli.base import Failure, cli, friendly_errors, percent, run_config_from_flags, run_options, start_tensorflow
from rethinking.cli.progress import ProgressPrinter, progress_options, resolve_mode


def epoch_line(row: dict[str, Any]) -> str:
    """The line of one epoch: losses, training accuracy (corrupted and clean), test accuracy, time."""
    def pct(value: float) -> str:
        return "  -  " if value != value else f"{100 * value:5.1f}%"  # NaN: no such examples

    return (f"epoch {row['epoch']:>4}/{row['epochs']}  loss {row['train_loss']:.4f}  "
            f"train acc {pct(row['train_accuracy'])} (corrupted {pct(row['train_accuracy_corrupted'])}, "
            f"clean {pct(row['train_accuracy_clean'])})  test acc {pct(row['test_accuracy'])} "
            f"(best {pct(row['best_test_accuracy'])})  lr {row['learning_rate']:.4g}  {row['epoch_seconds']:.1f} s")


BATCH_NORM_LAG = ("note: the inference-mode loss ({inference:.3g}) is far above the training-mode batch loss "
                  "({batch:.3g}) on the same training set: the network's batch-norm moving averages still lag its "
                  "weights (few steps so far; momentum 0.99 averages over ~100 steps). This is not divergence; it "
                  "closes as training goes on (docs/training.md, 'Reading the terminal').")


def batch_norm_lags(row: dict[str, Any]) -> bool:
    """Whether an epoch shows batch-norm statistics lagging the weights.

    The training set evaluated in inference mode (``train_loss``) against the running
    training-mode loss of the same epoch (``batch_loss``): the same examples and labels, so a gap
    of more than 1 nat and 1.5x comes from the two modes' normalization, not from the data.
    """
    inference, batch = row.get("train_loss"), row.get("batch_loss")
    if not row.get("batch_norm") or inference is None or batch is None or batch != batch or inference != inference:
        return False
    return inference > 1.5 * batch and inference - batch > 1.0


class EpochPrinter:
    """Prints each epoch's line through a ``ProgressPrinter`` and, once, the batch-norm note."""

    def __init__(self, printer: Any, quiet: bool = False) -> None:
        self.printer, self.quiet, self.noted = printer, quiet, False

    def __call__(self, row: dict[str, Any]) -> None:
        if self.quiet:
            return
        self.printer.line(epoch_line(row))
        if not self.noted and batch_norm_lags(row):
            self.noted = True
            self.printer.line(BATCH_NORM_LAG.format(inference=row["train_loss"], batch=row["batch_loss"]))


def _print_summary(results: dict[str, Any]) -> None:
    if results.get("fit_epoch") is not None:
        fit = f"epoch {results['fit_epoch']} (step {results['fit_step']:,})"
    elif results.get("fit_step") is not None:  # --fit-every: fitted within an epoch, not at its end
        fit = f"step {results['fit_step']:,}, within an epoch (not at an epoch's end)"
    else:
        fit = f"not reached ({results.get('examples_never_fitted', 0):,} examples never fitted)"
    if results.get("fit_every") and results.get("fit_epoch") is not None:
        fit += f"; evaluated every {results['fit_every']:,} steps"
    if results.get("batch_fit_step") is not None:
        fit += f"; running batch accuracy (training mode) at step {results['batch_fit_step']:,}"
    speed = results.get("train_images_per_second")
    lines = [
        "",
        f"{results['status']}: {results['run_dir']}",
        f"  epochs {results['epochs_trained']}, {results['wall_seconds']:.1f} s wall"
        + (f", {speed:,.0f} training images/s" if speed else ""),
        f"  training accuracy {percent(results['train_accuracy'])} (corrupted labels {percent(results['train_accuracy_corrupted'])}, "
        f"clean {percent(results['train_accuracy_clean'])}), training loss {results['train_loss']:.4f}",
        f"  test accuracy {percent(results['test_accuracy'])}, best {percent(results['best_test_accuracy'])} "
        f"(epoch {results['best_test_epoch']}); chance {percent(1 / results['num_classes'])}",
        f"  fitted (training accuracy >= {percent(results['fit_threshold'])}): {fit}",
        *outputs_lines(Path(results["run_dir"])),
    ]
    click.echo("\n".join(lines))


def outputs_lines(run_dir: Path) -> list[str]:
    """Where the run's outputs are: its folder's files and the TensorBoard command."""
    return [
        f"  outputs in {run_dir}:",
        "    results.json (final numbers), metrics.csv (every epoch), examples.csv and test_examples.csv",
        "    (every example), model.keras and final.weights.h5 (the network), inputs.png (the inputs, labels drawn on)",
        f"  curves: tensorboard --logdir {run_dir.parent}",
    ]


def _resumed_config(resume_dir: str, flags: dict[str, Any]) -> Any:
    """The config of the run in ``resume_dir``; refuses flags that would change it (all but --epochs)."""
    import dataclasses  # noqa: PLC0415

    from click.core import ParameterSource  # noqa: PLC0415

    from rethinking.training.rundir import config_of_run  # noqa: PLC0415 (no TensorFlow)

    context = click.get_current_context()
    given = [p for p in context.command.params if p.name in flags and p.name != "epochs"
             and context.get_parameter_source(p.name) is ParameterSource.COMMANDLINE]
    if given:
        names = ", ".join(p.opts[0] for p in given)
        raise click.UsageError(f"--resume continues the run with its own config.json; {names} would change it: drop "
                               f"{'it' if len(given) == 1 else 'them'} (only --epochs may extend the run), or start a new "
                               "run without --resume.")
    config = config_of_run(resume_dir)
    if context.get_parameter_source("epochs") is ParameterSource.COMMANDLINE:
        config = dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=flags["epochs"]))
    return config


@cli.command()
@run_options
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False), default=None,
              help="Continue the run in this folder with its own config.json (only --epochs may be given: a larger cap extends it).")
@click.option("--overwrite", is_flag=True, help="Delete this config's run folder and start again.")
@progress_options
@friendly_errors
def train(resume_dir: str | None, overwrite: bool, progress: str, progress_seconds: float, quiet: bool,
          **flags: Any) -> None:
    """Train a model on (randomized) data: the paper's main experiment.

    Rerunning the same command resumes the run from its last checkpoint (or prints its results if
    it finished). Example: rethinking train --model inception_small --labels random --dataset cifar10
    """
    if resume_dir is not None:
        if overwrite:
            raise click.UsageError("--resume continues a run and --overwrite deletes it: pass one of them.")
        config = _resumed_config(resume_dir, flags)
    else:
        config = run_config_from_flags(flags)
    start_tensorflow()
    from rethinking.training import TrainingDiverged  # noqa: PLC0415
    from rethinking.training import train as run_training  # noqa: PLC0415

    try:
        printer = ProgressPrinter("none" if quiet else resolve_mode(progress), progress_seconds)
        results = run_training(config, overwrite=overwrite, progress=EpochPrinter(printer, quiet),
                               step_progress=None if printer.mode == "none" else printer.step)
    except TrainingDiverged as err:
        raise Failure(str(err), 1) from err
    if results.get("already_complete"):
        click.echo("Already complete; nothing to do (pass --overwrite to train again).")
    _print_summary(results)
    if config.train.measures:
        from rethinking.cli.measure_group import print_group, print_measures  # noqa: PLC0415
        from rethinking.measures.run import after_training  # noqa: PLC0415

        measured = after_training(config, results, progress=print_group)
        if measured is not None:
            print_measures([measured])


