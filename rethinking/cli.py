"""The ``rethinking`` command: parse flags, build a config, call the library, print. No logic here.

Errors: a bad flag or value exits 2 with one line on stderr; a dataset that cannot be had here
exits 1 with one line saying what to do. Neither prints a traceback.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

# Quiet TensorFlow's C++ start-up chatter before it is imported (a user sees our lines, not its).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")



class _Failure(click.ClickException):
    """A one-line failure with an exit status."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turns the library's expected errors into one-line messages (2: bad input, 1: the environment).

    Only modules already loaded are consulted: a usage error caught before TensorFlow started
    must not start it just to be classified.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except click.ClickException:
            raise
        except Exception as err:  # noqa: BLE001 (classified below; anything else propagates unchanged)
            failure = _classify(err)
            if failure is None:
                raise
            raise failure from err

    return wrapper


def _loaded(module: str, name: str) -> type | None:
    """``module.name`` if ``module`` is already imported, else None."""
    loaded = sys.modules.get(module)
    return getattr(loaded, name, None) if loaded is not None else None


def _classify(err: Exception) -> _Failure | None:
    """The one-line failure for an expected error, or None for a bug (which keeps its traceback)."""
    from rethinking.training.runlock import LockLost, RunLocked  # noqa: PLC0415 (pure Python)

    environment = tuple(t for t in (RunLocked, LockLost, _loaded("rethinking.data.datasets", "DatasetUnavailableError"),
                                    _loaded("rethinking.training.checkpoints", "CheckpointError")) if t is not None)
    if isinstance(err, environment):
        return _Failure(str(err), 1)
    if isinstance(err, ValueError):
        return _Failure(str(err), 2)
    tf = sys.modules.get("tensorflow")
    if isinstance(err, MemoryError) or (tf is not None and isinstance(err, tf.errors.ResourceExhaustedError)):
        return _Failure(out_of_memory_message(err), 1)
    if isinstance(err, OSError):
        return _Failure(os_error_message(err), 1)
    if tf is not None and isinstance(err, tf.errors.OpError) and "No space left" in str(err):
        return _Failure(f"The disk is full ({_first_line(err)}); free space or use another --log-dir, then rerun the "
                        "same command to resume.", 1)
    return None


def _start_tensorflow() -> None:
    """Imports TensorFlow (quietly unless --verbose): call it once the flags are checked."""
    context = click.get_current_context(silent=True)
    verbose = bool(context and context.find_root().params.get("verbose"))
    if not verbose:
        _import_tensorflow_quietly()


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0][:300] if lines else type(err).__name__


def out_of_memory_message(err: BaseException) -> str:
    """One line for a model or batch that does not fit in memory."""
    import re  # noqa: PLC0415

    shape = re.search(r"tensor with shape\s*\[([^\]]*)\]", str(err))
    what = f" (a tensor of shape [{shape.group(1)}])" if shape else ""
    return (f"Out of memory{what}: use a smaller model (--units, --width-multiplier) or a smaller --batch-size; "
            "checkpoints already written are kept.")


def os_error_message(err: OSError) -> str:
    """One line for a file-system error: the path, the reason and what to do."""
    import errno  # noqa: PLC0415

    if err.filename is None:
        return str(err)
    advice = {
        errno.ENOSPC: "free space or use another --log-dir, then rerun the same command to resume",
        errno.EACCES: "give a --log-dir you can write to (or fix its permissions)",
        errno.EPERM: "give a --log-dir you can write to (or fix its permissions)",
        errno.EROFS: "the file system is read-only: give a --log-dir on a writable one",
        errno.ENOTDIR: "a file stands where a folder should be: give another --log-dir",
        errno.EEXIST: "a file stands where a folder should be: give another --log-dir",
        errno.ENOENT: "check that the path exists",
    }.get(err.errno or 0, "check the path and rerun")
    return f"Cannot write {err.filename}: {err.strerror or err}; {advice}."


def click_option(spec: Any, help_text: str | None = None) -> Callable[..., Any]:
    """The click option of one config field, from its ``Option`` metadata alone."""
    opt = spec.option
    text = help_text or opt.help
    if opt.default_help:
        text += f" [default: {opt.default_help}]"
    show_default = opt.default_help is None and spec.default is not None
    if spec.kind is bool and opt.off_flag:
        return click.option(f"{opt.flag}/{opt.off_flag}", opt.name, default=spec.default, show_default=show_default,
                            help=text)
    if opt.choice_list() is not None:
        kind: Any = click.Choice(opt.choice_list())
    elif spec.kind is int:
        kind = click.IntRange(min=opt.minimum) if opt.minimum is not None else int
    else:
        kind = spec.kind
    return click.option(opt.flag, opt.name, type=kind, default=spec.default, show_default=show_default, help=text)


def config_options(section: str = "", only: tuple[str, ...] | None = None,
                   help_texts: dict[str, str] | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator adding the click options of every ``RunConfig`` field under ``section`` (e.g. ``data``).

    Args:
        section: a dotted prefix of the fields to offer ("" for all of them).
        only: offer just these flags (``--dataset``, ...), in this order.
        help_texts: per flag, a help text replacing the field's own.
    """
    from rethinking.config import RunConfig  # noqa: PLC0415 (no TensorFlow)
    from rethinking.config.options import option_fields  # noqa: PLC0415

    specs = [spec for spec in option_fields(RunConfig) if spec.key.startswith(section)]
    if only is not None:
        by_flag = {spec.option.flag: spec for spec in specs}
        specs = [by_flag[flag] for flag in only]
    texts = help_texts or {}

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        for spec in reversed(specs):
            fn = click_option(spec, texts.get(spec.option.flag))(fn)
        return fn

    return decorate


data_options = config_options("data")
run_options = config_options()
# The theory commands read a dataset and its (corrupted) labels, nothing else of a run.
theory_data_options = config_options(
    "data", only=("--dataset", "--data-dir", "--labels", "--corruption-prob", "--seed"),
    help_texts={"--seed": "Data seed: the same corrupted labels as 'rethinking train' with this seed."})


def data_config_from_flags(flags: dict[str, Any]) -> Any:
    """Builds a ``DataConfig`` from the flags of ``data_options`` (validation happens in the config)."""
    from rethinking.config import RunConfig  # noqa: PLC0415
    from rethinking.config.options import from_flags  # noqa: PLC0415

    return from_flags(RunConfig, flags).data


def run_config_from_flags(flags: dict[str, Any]) -> Any:
    """Builds a ``RunConfig`` from the flags of ``run_options``."""
    from rethinking.config import RunConfig  # noqa: PLC0415
    from rethinking.config.options import from_flags  # noqa: PLC0415

    return from_flags(RunConfig, flags)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="rethinking")
@click.option("-v", "--verbose", is_flag=True, help="Log what the library does (data preparation, statistics).")
def cli(verbose: bool) -> None:
    """Randomization tests of Zhang et al., "Understanding deep learning requires rethinking
    generalization" (ICLR 2017), in Keras 3 / TensorFlow."""
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # basicConfig does nothing where the root logger already has handlers (notebooks, pytest).
    logging.getLogger("rethinking").setLevel(level)
    # TFDS logs through absl; its warnings about folders it has not created yet are noise here.
    logging.getLogger("absl").setLevel(logging.INFO if verbose else logging.ERROR)
    # TensorFlow starts only once a command has checked its flags (_start_tensorflow): --help and
    # usage errors answer at once.


def _import_tensorflow_quietly() -> None:
    """Imports TensorFlow and probes its devices with file descriptor 2 silenced.

    A CUDA build of TensorFlow on a machine without a GPU writes several C++ lines to stderr
    before its log settings apply; no environment variable hides them. Python errors raised
    here still surface (after stderr is restored). ``--verbose`` skips this.
    """
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow as tf  # noqa: PLC0415

            tf.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@cli.command()
@click.option("--data-dir", default=None, help="TFDS data directory to check [default: $TFDS_DATA_DIR or ~/tensorflow_datasets].")
@_friendly
def datasets(data_dir: str | None) -> None:
    """List the known datasets and whether each loads offline on this machine."""
    _start_tensorflow()
    from rethinking.data.datasets import DATASETS, is_available, tfds_data_root  # noqa: PLC0415

    click.echo(f"{'name':<14} {'source':<9} {'image':<11} {'classes':>7} {'train':>9} {'test':>7}  offline  description")
    for name, known in DATASETS.items():
        shape = "x".join("?" if d is None else str(d) for d in known.image_shape)
        ready = "yes" if is_available(name, data_dir) else "no"
        click.echo(f"{name:<14} {known.source:<9} {shape:<11} {known.num_classes:>7} {known.train_size:>9,} "
                   f"{known.test_size:>7,}  {ready:<7}  {known.description}")
    click.echo(f"\nTFDS data directory: {tfds_data_root(data_dir)}. Any other TFDS image-classification name, "
               "or a .npz file (x_train, y_train, x_test, y_test), also works as --dataset.")


@cli.command()
@data_options
@click.option("--out", type=click.Path(dir_okay=False), default="preview.png", show_default=True, help="PNG file to write.")
@click.option("--num-images", type=click.IntRange(1, 400), default=36, show_default=True, help="How many images (the first by index).")
@click.option("--epoch", type=click.IntRange(min=0), default=0, show_default=True, help="Epoch whose augmentation to show.")
@_friendly
def preview(out: str, num_images: int, epoch: int, **flags: Any) -> None:
    """Write a grid of training images after corruption, each with its (possibly corrupted) label.

    Changed labels are red, written 'true -> new'.
    """
    config = data_config_from_flags(flags)
    _start_tensorflow()
    from rethinking.data import build_pipeline  # noqa: PLC0415
    from rethinking.data.preview import sample_training_images, save_preview  # noqa: PLC0415

    pipeline = build_pipeline(config, batch_size=num_images)
    sample = sample_training_images(pipeline, num_images, epoch)
    c = config.corruption
    labels = f"labels {c.labels}" + (f" p={c.corruption_prob}" if c.labels == "partial" else "")
    title = f"{Path(pipeline.info.name).name}: {labels}, pixels {c.pixels}, seed {config.seed}"
    path = save_preview(sample, out, title)
    changed = int((sample.labels != sample.true_labels).sum())
    click.echo(f"Wrote {path} ({len(sample.labels)} images, {changed} labels changed; {title}).")


def _print_epoch(row: dict[str, Any]) -> None:
    def pct(value: float) -> str:
        return "  -  " if value != value else f"{100 * value:5.1f}%"  # NaN: no such examples

    click.echo(f"epoch {row['epoch']:>4}/{row['epochs']}  loss {row['train_loss']:.4f}  "
               f"train acc {pct(row['train_accuracy'])} (corrupted {pct(row['train_accuracy_corrupted'])}, "
               f"clean {pct(row['train_accuracy_clean'])})  test acc {pct(row['test_accuracy'])} "
               f"(best {pct(row['best_test_accuracy'])})  lr {row['learning_rate']:.4g}  {row['epoch_seconds']:.1f} s")


def _pct(value: Any) -> str:
    """A fraction as a percentage; ``-`` for None or NaN."""
    return "-" if value is None or value != value else f"{100 * value:.1f}%"


def _print_summary(results: dict[str, Any]) -> None:
    fit = (f"epoch {results['fit_epoch']} (step {results['fit_step']:,})" if results.get("fit_epoch") is not None
           else f"not reached ({results.get('examples_never_fitted', 0):,} examples never fitted)")
    speed = results.get("train_images_per_second")
    lines = [
        "",
        f"{results['status']}: {results['run_dir']}",
        f"  epochs {results['epochs_trained']}, {results['wall_seconds']:.1f} s wall"
        + (f", {speed:,.0f} training images/s" if speed else ""),
        f"  training accuracy {_pct(results['train_accuracy'])} (corrupted labels {_pct(results['train_accuracy_corrupted'])}, "
        f"clean {_pct(results['train_accuracy_clean'])}), training loss {results['train_loss']:.4f}",
        f"  test accuracy {_pct(results['test_accuracy'])}, best {_pct(results['best_test_accuracy'])} "
        f"(epoch {results['best_test_epoch']}); chance {_pct(1 / results['num_classes'])}",
        f"  fitted (training accuracy >= {_pct(results['fit_threshold'])}): {fit}",
        f"  tensorboard --logdir {Path(results['run_dir']).parent}",
    ]
    click.echo("\n".join(lines))


@cli.command()
@run_options
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False), default=None,
              help="Continue the run in this folder (its config.json; other flags are ignored).")
@click.option("--overwrite", is_flag=True, help="Delete this config's run folder and start again.")
@_friendly
def train(resume_dir: str | None, overwrite: bool, **flags: Any) -> None:
    """Train a model on (randomized) data: the paper's main experiment.

    Rerunning the same command resumes the run from its last checkpoint (or prints its results if
    it finished). Example: rethinking train --model inception_small --labels random --dataset cifar10
    """
    from rethinking.training.rundir import config_of_run  # noqa: PLC0415 (no TensorFlow)

    if resume_dir is not None:
        if overwrite:
            raise click.UsageError("--resume continues a run and --overwrite deletes it: pass one of them.")
        config = config_of_run(resume_dir)
    else:
        config = run_config_from_flags(flags)
    _start_tensorflow()
    from rethinking.training import TrainingDiverged  # noqa: PLC0415
    from rethinking.training import train as run_training  # noqa: PLC0415

    try:
        results = run_training(config, overwrite=overwrite, progress=_print_epoch)
    except TrainingDiverged as err:
        raise _Failure(str(err), 1) from err
    if results.get("already_complete"):
        click.echo("Already complete; nothing to do (pass --overwrite to train again).")
    _print_summary(results)


def _assignments(texts: tuple[str, ...], flag: str) -> list[tuple[str, Any]]:
    from rethinking.experiments.sweep import parse_assignment  # noqa: PLC0415

    pairs = []
    for text in texts:
        try:
            pairs.append(parse_assignment(text))
        except ValueError as err:
            raise click.UsageError(f"{flag}: {err}") from err
    return pairs


def _print_sweep_event(event: dict[str, Any]) -> None:
    """One line per run start / skip / end, and a short line per epoch (progress of a long sweep)."""
    tag = f"[{event['index'] + 1}/{event['total']}]"
    run, row = event["run"], event["row"]
    name = run.config.resolved_run_name
    if event["event"] == "skip":
        click.echo(f"{tag} {row['status']}, skipped: {name}")
    elif event["event"] == "start":
        click.echo(f"{tag} training {name} ({run.label})")
    elif event["event"] == "epoch":
        click.echo(f"{tag}   epoch {row['epoch']}/{row['epochs']}  loss {row['train_loss']:.4f}  "
                   f"train acc {_pct(row['train_accuracy'])}  test acc {_pct(row['test_accuracy'])}  "
                   f"{row['epoch_seconds']:.1f} s")
    else:
        error = f"  error: {row['error']}" if row.get("status") == "failed" else ""
        click.echo(f"{tag} {row['status']}: train acc {_pct(row.get('train_accuracy'))}, "
                   f"test acc {_pct(row.get('test_accuracy'))}{error}")


@cli.command()
@click.argument("pipeline_file", metavar="PIPELINE", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="List the runs and their state; train nothing.")
@click.option("--only", multiple=True, metavar="KEY=VALUE",
              help="Only runs whose config has this value (dotted key, e.g. model.name=alexnet_small or "
                   "data.corruption.labels=random); repeat: a key given twice matches either value.")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="Override a config field in every run (e.g. train.epochs=5, data.dataset=my.npz); "
                   "overridden runs are new runs, in folders of their own.")
@_friendly
def run(pipeline_file: str, dry_run: bool, only: tuple[str, ...], assignments: tuple[str, ...]) -> None:
    """Run every run of a pipeline file (pipelines/*.toml) and write its results table.

    Finished runs are skipped and killed runs resume from their checkpoints: rerun the same command
    to continue a sweep. A run that fails is recorded (results.csv, error.txt) and the sweep goes on.
    Example: rethinking run pipelines/laptop/figure1a.toml
    """
    from rethinking.experiments.runner import (  # noqa: PLC0415
        check_local_files, plan, run_pipeline, sweep_status, table_dir,
    )
    from rethinking.experiments.sweep import load_pipeline  # noqa: PLC0415

    pipeline = load_pipeline(pipeline_file)
    overrides = dict(_assignments(assignments, "--set"))
    filters = _assignments(only, "--only")
    runs = plan(pipeline, overrides, filters)
    directory = table_dir(pipeline, runs)
    if dry_run:
        rows, done = sweep_status(runs)
        click.echo(f"{pipeline.name}: {len(runs)} runs ({done} done, {len(runs) - done} to run); "
                   f"table: {directory / 'results.csv'}")
        for i, (r, row) in enumerate(zip(runs, rows)):
            click.echo(f"  {i + 1:>3}. {row['status']:<9} {r.config.resolved_run_name}  ({r.label})")
        check_local_files(runs)
        return
    click.echo(f"{pipeline.name}: {len(runs)} runs; table: {directory / 'results.csv'}")
    _start_tensorflow()
    try:
        rows, directory = run_pipeline(pipeline, overrides=overrides, only=filters, progress=_print_sweep_event)
    except KeyboardInterrupt:
        click.echo("Interrupted: finished runs are recorded; rerun the same command to resume.", err=True)
        raise _Failure("interrupted", 130) from None
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    click.echo(f"\n{pipeline.name}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    click.echo(f"  {directory / 'results.csv'}\n  report: rethinking report {directory / 'results.json'}")
    failed = counts.get("failed", 0)
    if failed:
        raise _Failure(f"{failed} run(s) failed (see the error column of results.csv); rerun to retry them.", 1)


@cli.command()
@click.argument("results", type=click.Path())
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for the figures and report.md [default: a 'report' folder beside results.json].")
@_friendly
def report(results: str, out: str | None) -> None:
    """Draw a pipeline's figures and write its tables beside the paper's (report.md).

    RESULTS is the results.json (or its folder) that 'rethinking run' wrote.
    """
    from rethinking.experiments.report import write_report  # noqa: PLC0415

    for path in write_report(results, out):
        click.echo(f"Wrote {path}")


def _floats(text: str, flag: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise click.UsageError(f"{flag} takes comma-separated numbers. Received: {text!r}") from None


@cli.command()
@run_options
@click.option("--learning-rates", default="0.001,0.3", show_default=True, metavar="LOW,HIGH",
              help="Range of the initial learning rate (searched log-uniformly).")
@click.option("--weight-decays", default="0,0.0001,0.0005", show_default=True, metavar="LIST",
              help="Weight-decay values to try.")
@click.option("--batch-sizes", default="64,128,256", show_default=True, metavar="LIST", help="Batch sizes to try.")
@click.option("--objective", type=click.Choice(("val_accuracy", "val_loss", "accuracy", "loss")),
              default="val_accuracy", show_default=True,
              help="val_*: on training examples held out from training (never the test set); "
                   "accuracy/loss: fitting the training labels.")
@click.option("--algorithm", type=click.Choice(("hyperband", "random")), default="hyperband", show_default=True,
              help="keras-tuner search (Hyperband's most epochs per trial: --epochs).")
@click.option("--max-trials", type=click.IntRange(min=1), default=10, show_default=True,
              help="Trials of --algorithm random.")
@click.option("--factor", type=click.IntRange(min=2), default=3, show_default=True, help="Hyperband's reduction factor.")
@click.option("--validation-examples", type=click.IntRange(min=1), default=None,
              help="Training examples held out for val_* objectives [default: 10%].")
@click.option("--write-pipeline", type=click.Path(dir_okay=False), default=None,
              help="Write the best trial as a pipeline file (TOML) to run with 'rethinking run'.")
@_friendly
def tune(learning_rates: str, weight_decays: str, batch_sizes: str, objective: str, algorithm: str, max_trials: int,
         factor: int, validation_examples: int | None, write_pipeline: str | None, **flags: Any) -> None:
    """Search learning rate, weight decay and batch size with keras-tuner for one model and data condition.

    Trials are logged to TensorBoard (with the HParams dashboard) under --log-dir/--experiment;
    rerunning the same command resumes the search.
    Example: rethinking tune --model alexnet_small --labels random --epochs 20 --experiment tune_alexnet
    """
    import dataclasses  # noqa: PLC0415

    from rethinking.experiments.tuning import TuneSpec, pipeline_toml  # noqa: PLC0415
    from rethinking.experiments.tuning import tune as run_search  # noqa: PLC0415
    from rethinking.training.rundir import atomic_write_text  # noqa: PLC0415

    lr = _floats(learning_rates, "--learning-rates")
    if len(lr) != 2:
        raise click.UsageError(f"--learning-rates takes LOW,HIGH. Received: {learning_rates!r}")
    batch = _floats(batch_sizes, "--batch-sizes")
    if any(b != int(b) for b in batch):
        raise click.UsageError(f"--batch-sizes takes integers. Received: {batch_sizes!r}")
    base = run_config_from_flags(flags)
    if flags["experiment"] == "default":  # a search gets a folder of its own, not the runs' one
        base = dataclasses.replace(base, experiment=f"tune-{base.model.name}")
    _start_tensorflow()
    spec = TuneSpec(base=base, learning_rate=(lr[0], lr[1]), weight_decay=_floats(weight_decays, "--weight-decays"),
                    batch_size=tuple(int(b) for b in batch), objective=objective, algorithm=algorithm,
                    max_trials=max_trials, factor=factor, validation_examples=validation_examples, seed=flags["seed"])
    click.echo(f"Searching {base.model.name} ({algorithm}, objective {objective}); state and TensorBoard logs in "
               f"{spec.directory}")
    summary = run_search(spec, verbose=True)
    click.echo(f"\n{'trial':<6} {'learning rate':>13} {'weight decay':>12} {'batch':>6} {'epochs':>6} {objective:>13}")
    for t in summary["trials"]:
        v = t["values"]
        score = "-" if t["score"] is None else f"{t['score']:.4f}"
        click.echo(f"{t['trial']:<6} {v['learning_rate']:>13.5g} {v['weight_decay']:>12g} {v['batch_size']:>6} "
                   f"{t['epochs'] or '-':>6} {score:>13}")
    best = summary["best"]
    v = best["values"]
    click.echo(f"\nbest: learning rate {v['learning_rate']:.5g}, weight decay {v['weight_decay']:g}, batch size "
               f"{v['batch_size']} ({objective} {best['score']:.4f})")
    click.echo(f"  tensorboard --logdir {Path(summary['directory']) / 'tensorboard'}")
    if write_pipeline:
        name = Path(write_pipeline).stem
        text = pipeline_toml(best["config"], name, f"The best trial of 'rethinking tune' ({objective} "
                                                   f"{best['score']:.4f}) for {base.model.name}.")
        Path(write_pipeline).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(Path(write_pipeline), text)
        click.echo(f"  wrote {write_pipeline}: rethinking run {write_pipeline}")


# ------------------------------------------------------------------------------------------- theory


def _label_prob(labels: str, corruption_prob: float | None) -> float:
    from rethinking.config import Corruption  # noqa: PLC0415

    return Corruption(labels=labels, corruption_prob=corruption_prob).label_prob


def _labels_text(labels: str, p: float, seed: int) -> str:
    return "true labels" if labels == "true" else f"{labels} labels (p = {p:g}, seed {seed})"


def _write_json(path: str | None, values: dict[str, Any]) -> None:
    if not path:
        return
    import json  # noqa: PLC0415

    from rethinking.training.rundir import atomic_write_text  # noqa: PLC0415

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(path), json.dumps(values, indent=2) + "\n")
    click.echo(f"  wrote {path}")


def _gb(num_bytes: float) -> str:
    return f"{num_bytes / 1e9:.2f} GB"


@cli.command()
@theory_data_options
@click.option("--n", "n_points", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Training images to fit (the first N).")
@click.option("--depth", type=click.IntRange(min=1), default=1, show_default=True,
              help="Hidden layers: 1 is the paper's two-layer network; k spreads the same 2n + d weights over k layers.")
@click.option("--save", type=click.Path(dir_okay=False), default=None, help="Also save the Keras model (.keras).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write the numbers to this JSON file.")
@_friendly
def expressivity(dataset: str, data_dir: str | None, labels: str, corruption_prob: float | None, seed: int,
                 n_points: int, depth: int, save: str | None, out: str | None) -> None:
    """Build the paper's 2n + d weight network (Theorem 1) that fits N images exactly.

    Example: rethinking expressivity --dataset cifar10 --n 2000 --labels random
    """
    import time  # noqa: PLC0415

    if save and not save.endswith(".keras"):
        raise click.UsageError(f"--save writes a Keras model file: give it a .keras name. Received: {save}")
    p = _label_prob(labels, corruption_prob)
    _start_tensorflow()
    from rethinking.theory import arrays, expressivity as theorem  # noqa: PLC0415

    data = arrays.load_flat(dataset, n_train=n_points, n_test=1, corruption_prob=p, seed=seed, data_dir=data_dir)
    n, d = data.x_train.shape
    theorem.check_depth(depth, n)
    click.echo(f"expressivity: {n:,} training images of {data.name} (d = {d:,}), {_labels_text(labels, p, seed)}, depth {depth}")
    start = time.perf_counter()
    construction = theorem.construct(data.x_train, data.y_train, seed=seed)
    model = theorem.to_keras(construction, data.image_shape, depth=depth)
    seconds = time.perf_counter() - start
    error = theorem.max_error(model, data.x_train.reshape((n, *data.image_shape)), data.y_train)
    scale = float(abs(data.y_train).max()) or 1.0
    params = model.count_params()
    click.echo(f"  parameters: {params:,} = 2n + d = 2 x {n:,} + {d:,}" + (" (exact)" if params == 2 * n + d else " (MISMATCH)"))
    widths = theorem.hidden_widths(model)
    click.echo(f"  hidden layer widths: {', '.join(f'{w:,}' for w in widths)}")
    click.echo(f"  max |c(x_i) - y_i| over the {n:,} points: {error:.3g} (relative to max |y|: {error / scale:.3g}); "
               f"built in {seconds:.1f} s")
    click.echo(f"  smallest gap between sorted projections <a, x_i>: {construction.min_gap:.3g}"
               + (f"; {construction.spare_units} repeated points" if construction.spare_units else ""))
    if save:
        Path(save).parent.mkdir(parents=True, exist_ok=True)
        model.save(save)
        click.echo(f"  saved {save}")
    _write_json(out, {"dataset": data.name, "n": n, "dim": d, "labels": labels, "corruption_prob": p, "seed": seed,
                      "depth": depth, "parameters": params, "max_error": error, "relative_max_error": error / scale,
                      "min_gap": construction.min_gap, "seconds": seconds})


@cli.command()
@theory_data_options
@click.option("--n", "n_points", type=click.IntRange(min=1), default=None, help="Training images (the first N) [default: all].")
@click.option("--test-n", type=click.IntRange(min=1), default=None, help="Test images (the first N) [default: all].")
@click.option("--kernel", "kernel_name", type=click.Choice(("gaussian", "linear")), default="gaussian", show_default=True,
              help="gaussian: exp(-gamma ||x - x'||^2); linear: <x, x'> (solved in the primal).")
@click.option("--gamma", type=float, default=None,
              help="Gaussian width [default: 0.02 x 784 / d on pixels (the paper's 0.02 on MNIST, scaled); 1 / d on "
                   "random conv features].")
@click.option("--ridge", type=float, default=0.0, show_default=True, help="lambda in (K + lambda I) alpha = Y; 0 interpolates.")
@click.option("--dtype", type=click.Choice(("float64", "float32")), default="float64", show_default=True,
              help="Precision of the data and the Gram matrix (float32 halves its memory).")
@click.option("--block-rows", type=click.IntRange(min=1), default=2048, show_default=True,
              help="Rows per block of the Gram matrix and of predictions (memory: block x n).")
@click.option("--features", type=click.Choice(("pixels", "random-conv")), default="pixels", show_default=True,
              help="The kernel's inputs: raw pixels, or features of a random conv net (8 per filter).")
@click.option("--filters", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Random 6x6 filters for --features random-conv (the paper: 32,000).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write the numbers to this JSON file.")
@_friendly
def kernel(dataset: str, data_dir: str | None, labels: str, corruption_prob: float | None, seed: int,
           n_points: int | None, test_n: int | None, kernel_name: str, gamma: float | None, ridge: float, dtype: str,
           block_rows: int, features: str, filters: int, out: str | None) -> None:
    """Interpolate one-hot labels with a kernel (Section 5): solve K alpha = Y, report errors and norm.

    Example: rethinking kernel --dataset mnist --labels random
    """
    import numpy as np  # noqa: PLC0415

    p = _label_prob(labels, corruption_prob)
    _start_tensorflow()
    from rethinking.theory import arrays, kernels  # noqa: PLC0415

    kernels.check_kernel(kernel_name, gamma, ridge)
    data = arrays.load_flat(dataset, n_train=n_points, n_test=test_n, corruption_prob=p, seed=seed,
                            data_dir=data_dir, dtype=np.dtype(dtype).type)
    x_train, x_test = data.x_train, data.x_test
    if features == "random-conv":
        from rethinking.theory.features import random_conv_features  # noqa: PLC0415

        click.echo(f"features: {filters:,} random 6x6 filters -> {8 * filters:,} features per image", err=True)
        x_train, x_test = random_conv_features(x_train, x_test, data.image_shape, num_filters=filters, seed=seed,
                                               dtype=np.dtype(dtype).type)
    n, d = x_train.shape
    if features == "random-conv" and gamma is None and kernel_name == "gaussian":
        gamma = kernels.features_gamma(d)
    need = kernels.check_memory(n, np.dtype(dtype).type, kernel_name)
    used_gamma = kernels.default_gamma(d) if (gamma is None and kernel_name == "gaussian") else gamma
    what = f"gaussian exp(-{used_gamma:.4g} ||x - x'||^2)" if kernel_name == "gaussian" else "linear <x, x'>"
    on = "random conv features of " if features == "random-conv" else ""
    click.echo(f"kernel: {what}, {on}{n:,} training / {len(x_test):,} test images of {data.name} (d = {d:,}), "
               f"{_labels_text(labels, p, seed)}" + (f", ridge {ridge:g}" if ridge else ""))
    if need:
        click.echo(f"  Gram matrix {n:,} x {n:,} in {dtype}: {_gb(need)}")

    interactive = sys.stderr.isatty()

    def progress(stage: str, block: int, blocks: int) -> None:
        if interactive:  # one line per stage, updated in place
            click.echo(f"\r  {stage}: block {block}/{blocks}", nl=block == blocks, err=True)
        elif blocks > 1 and block in (1, blocks) or block % 10 == 0:  # logs: a few lines per stage
            click.echo(f"  {stage}: block {block}/{blocks}", err=True)

    fit = kernels.fit_kernel(x_train, data.y_train, x_test, data.y_test, num_classes=data.num_classes,
                             kernel=kernel_name, gamma=gamma, ridge=ridge, block_rows=block_rows, progress=progress)
    click.echo(f"  solver: {fit.solver}; Gram {fit.gram_seconds:.1f} s, solve {fit.solve_seconds:.1f} s, "
               f"predictions {fit.predict_seconds:.1f} s; peak memory {_gb(fit.peak_rss_bytes)}")
    click.echo(f"  training error {100 * fit.train_error:.2f}%   test error {100 * fit.test_error:.2f}% (chance "
               f"{100 * (1 - 1 / data.num_classes):.0f}%)   norm sqrt(alpha^T K alpha) {fit.norm:.4g}")
    _write_json(out, {"dataset": data.name, "labels": labels, "corruption_prob": p, "seed": seed, "features": features,
                      "filters": filters if features == "random-conv" else None, **fit.to_dict()})


@cli.command()
@theory_data_options
@click.option("--n", "n_points", type=click.IntRange(min=1), default=100, show_default=True,
              help="Training images (the first N); fewer than the pixels for a non-unique solution.")
@click.option("--test-n", type=click.IntRange(min=1), default=None, help="Test images (the first N) [default: all].")
@click.option("--epochs", type=click.IntRange(min=1), default=2000, show_default=True, help="SGD passes over the data.")
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True, help="SGD examples per step.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write the numbers to this JSON file.")
@_friendly
def linear(dataset: str, data_dir: str | None, labels: str, corruption_prob: float | None, seed: int, n_points: int,
           test_n: int | None, epochs: int, batch_size: int, out: str | None) -> None:
    """Linear least squares with n < d: SGD from zero ends at the minimum-norm solution (Section 5).

    Example: rethinking linear --dataset mnist --n 100 --epochs 4000
    """
    p = _label_prob(labels, corruption_prob)
    _start_tensorflow()
    from rethinking.theory import arrays, linear as least_squares  # noqa: PLC0415

    data = arrays.load_flat(dataset, n_train=n_points, n_test=test_n, corruption_prob=p, seed=seed, data_dir=data_dir)
    n, d = data.x_train.shape
    relation = "n < d: many solutions" if n < d else "n >= d: at most one least-squares solution, nothing to choose between"
    click.echo(f"linear: {n:,} training / {len(data.x_test):,} test images of {data.name} (d = {d:,}; {relation}), "
               f"{_labels_text(labels, p, seed)}; SGD from zero, {epochs:,} epochs, batch {batch_size}")
    r = least_squares.compare_sgd_to_min_norm(data.x_train, data.y_train, data.x_test, data.y_test,
                                              num_classes=data.num_classes, epochs=epochs, batch_size=batch_size, seed=seed)
    click.echo(f"  ||W||: SGD {r.sgd_norm:.6g}, minimum norm (pseudo-inverse) {r.min_norm:.6g}; "
               f"||W_sgd - W_min|| / ||W_min|| = {r.relative_distance:.3g}")
    click.echo(f"  SGD's part outside the row space of X: {r.outside_row_space:.3g} of ||W||; "
               f"relative residual ||X W - Y|| / ||Y||: {r.sgd_train_residual:.3g}")
    click.echo(f"  training error: SGD {100 * r.sgd_train_error:.2f}%, minimum norm {100 * r.min_norm_train_error:.2f}%; "
               f"test error: SGD {100 * r.sgd_test_error:.2f}%, minimum norm {100 * r.min_norm_test_error:.2f}%")
    _write_json(out, {"dataset": data.name, "labels": labels, "corruption_prob": p, "seed": seed,
                      "batch_size": batch_size, **r.to_dict()})


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit status (0 ok, 1 unavailable data, 2 usage error)."""
    from rethinking import runtime  # noqa: PLC0415 (must run before TensorFlow is imported)

    runtime.configure()
    try:
        cli.main(args=argv, prog_name="rethinking", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.UsageError as err:
        hint = f" (see 'rethinking {err.ctx.command.name} --help')" if err.ctx and err.ctx.parent else " (see 'rethinking --help')"
        click.echo(f"Error: {err.format_message()}{hint}", err=True)
        return 2
    except click.ClickException as err:  # includes _Failure, with its own exit status
        click.echo(f"Error: {err.format_message()}", err=True)
        return err.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
