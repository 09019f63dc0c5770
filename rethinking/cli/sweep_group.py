"""``rethinking run``, ``report`` and ``tune``: sweeps of runs, their report, hyperparameter search."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from rethinking.cli.progress import ProgressPrinter, duration, progress_options, resolve_mode
from rethinking.cli.base import (
    Failure, cli, friendly_errors, given_arguments, percent, run_config_from_flags, run_options, start_tensorflow,
)
from rethinking.experiments.tuning import ALGORITHMS, OBJECTIVES, distributed_role  # plain Python
from rethinking.experiments.workers import CHIEF_GONE


def _assignments(texts: tuple[str, ...], flag: str) -> list[tuple[str, Any]]:
    from rethinking.experiments.sweep import parse_assignment  # noqa: PLC0415

    pairs = []
    for text in texts:
        try:
            pairs.append(parse_assignment(text))
        except ValueError as err:
            raise click.UsageError(f"{flag}: {err}") from err
    return pairs


class SweepPrinter:
    """One line per run start / skip / end with the sweep's ETA, a line per epoch, progress inside epochs.

    The ETA: the mean wall time of the runs this process trained so far times the runs left to
    train (runs differ in length: a rough guide, given once a run has finished).
    """

    def __init__(self, printer: ProgressPrinter, quiet: bool = False, clock: Any = None) -> None:
        import time  # noqa: PLC0415

        self.printer, self.quiet, self.clock = printer, quiet, clock or time.monotonic
        self.trained_seconds: list[float] = []
        self.started = 0.0
        self.left: set[int] = set()

    def eta(self, total: int) -> str:
        if not self.trained_seconds:
            return ""
        mean = sum(self.trained_seconds) / len(self.trained_seconds)
        return f"; {len(self.left)} of {total} runs left, about {duration(mean * len(self.left))}"

    def __call__(self, event: dict[str, Any]) -> None:
        tag = f"[{event['index'] + 1}/{event['total']}]"
        run, row = event["run"], event["row"]
        name = run.config.resolved_run_name
        if not self.left and not self.trained_seconds:
            self.left = set(range(event["total"]))
        kind = event["event"]
        self.printer.prefix = tag + " "
        if kind == "skip":
            self.left.discard(event["index"])
            self.printer.line(f"{tag} {row['status']}, skipped: {name}")
        elif kind == "start":
            self.started = self.clock()
            self.printer.line(f"{tag} training {name} ({run.label}){self.eta(event['total'])}")
        elif kind == "wait":
            self.printer.line(f"{tag} waiting for its source run, which another process is training: "
                              f"{event['source'].config.resolved_run_name}")
        elif kind == "epoch":
            if not self.quiet:
                self.printer.line(f"{tag}   epoch {row['epoch']}/{row['epochs']}  loss {row['train_loss']:.4f}  "
                                  f"train acc {percent(row['train_accuracy'])}  test acc {percent(row['test_accuracy'])}  "
                                  f"{row['epoch_seconds']:.1f} s")
        else:
            self.left.discard(event["index"])
            self.trained_seconds.append(self.clock() - self.started)
            error = f"  error: {row['error']}" if row.get("status") == "failed" else ""
            self.printer.line(f"{tag} {row['status']}: train acc {percent(row.get('train_accuracy'))}, "
                              f"test acc {percent(row.get('test_accuracy'))}{error}")


def _share(text: str | None, flag: str) -> tuple[int, int] | None:
    from rethinking.experiments.runner import parse_share  # noqa: PLC0415

    if text is None:
        return None
    try:
        return parse_share(text, flag)
    except ValueError as err:
        raise click.UsageError(str(err)) from err


def _summarize(name: str, rows: list[dict[str, Any]], directory: Path) -> int:
    """Prints the count of runs per status and where the table is; returns how many failed."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    click.echo(f"\n{name}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    click.echo(f"  {directory / 'results.csv'}\n  report: rethinking report {directory / 'results.json'}")
    return counts.get("failed", 0)


@cli.command()
@click.argument("sweep_file", metavar="SWEEP", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="List the runs and their state; train nothing.")
@click.option("--only", multiple=True, metavar="KEY=VALUE",
              help="Only runs whose config has this value (dotted key, e.g. model.name=alexnet_small or "
                   "data.corruption.labels=random); repeat: a key given twice matches either value.")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="Override a config field in every run (e.g. train.epochs=5, data.dataset=my.npz); "
                   "overridden runs are new runs, in folders of their own.")
@click.option("--seeds", type=click.IntRange(min=1), default=None,
              help="Run every grid point with seeds 0..N-1 (replacing the file's seeds).")
@click.option("--seed-varies", type=click.Choice(("both", "data", "init")), default=None,
              help="What a seed sets: both (the data seed; initialization follows it), data or init "
                   "[default: the file's, else both].")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Local worker processes training runs at once (each its own GPU(s), or its own CPU cores).")
@click.option("--devices-per-worker", type=click.IntRange(min=1), default=1, show_default=True,
              help="GPUs per worker with --workers (more workers than GPUs share them).")
@click.option("--shard", default=None, metavar="K/N",
              help="Only share K of N of the runs (0 <= K < N): one task of a cluster array job.")
@click.option("--worker", default=None, metavar="K/N", hidden=True,
              help="Set by --workers: this process's share first, then help with the others'.")
@progress_options
@friendly_errors
def run(sweep_file: str, dry_run: bool, only: tuple[str, ...], assignments: tuple[str, ...], seeds: int | None,
        seed_varies: str | None, workers: int, devices_per_worker: int, shard: str | None, worker: str | None,
        progress: str, progress_seconds: float, quiet: bool) -> None:
    """Run every run of a sweep (a .toml file, or a shipped sweep's name) and write its results table.

    Finished runs are skipped and killed runs resume from their checkpoints: rerun the same command
    to continue a sweep. A run that fails is recorded (results.csv, error.txt) and the sweep goes on.
    Examples: rethinking run laptop/figure1a; rethinking run my_sweep.toml (see 'rethinking sweeps').
    """
    from rethinking.experiments.runner import (  # noqa: PLC0415
        check_local_files, narrow, plan, rebuild_table, run_sweep, share, sweep_status, table_dir,
    )
    from rethinking.experiments.sweep import load_sweep  # noqa: PLC0415

    sweep = load_sweep(sweep_file)
    if seeds is not None or seed_varies is not None:
        from rethinking.experiments.sweep import with_seeds  # noqa: PLC0415

        sweep = with_seeds(sweep, range(seeds) if seeds is not None else sweep.seeds, seed_varies)
    overrides = dict(_assignments(assignments, "--set"))
    filters = _assignments(only, "--only")
    shard_k_n = _share(shard, "--shard")
    worker_k_n = _share(worker, "--worker")
    if workers > 1 and (shard_k_n or dry_run):
        raise click.UsageError("--workers runs the sweep in local processes: it does not combine with "
                               f"{'--shard' if shard_k_n else '--dry-run'}.")
    every_run = plan(sweep, overrides)
    runs = narrow(every_run, filters)
    if shard_k_n:
        runs = share(runs, *shard_k_n)
    directory = table_dir(sweep, every_run)
    if dry_run:
        rows, done = sweep_status(runs)
        click.echo(f"{sweep.name}: {len(runs)} runs ({done} done, {len(runs) - done} to run); "
                   f"table: {directory / 'results.csv'}")
        for i, (r, row) in enumerate(zip(runs, rows)):
            click.echo(f"  {i + 1:>3}. {row['status']:<9} {r.config.resolved_run_name}  ({r.label})")
        check_local_files(runs)
        return
    click.echo(f"{sweep.name}: {len(runs)} runs; table: {directory / 'results.csv'}")
    if workers > 1:
        from rethinking.experiments.workers import run_workers  # noqa: PLC0415 (no TensorFlow)

        check_local_files(runs)
        args = given_arguments(click.get_current_context(), ("workers", "devices_per_worker"))
        try:
            code = run_workers(args, workers, devices_per_worker, echo=click.echo)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the workers are stopped; record where the sweep is
            rebuild_table(directory, sweep, every_run)
            click.echo("Interrupted: the workers were stopped; rerun the same command to resume.", err=True)
            raise Failure("interrupted", 130) from None
        _summarize(sweep.name, rebuild_table(directory, sweep, every_run), directory)
        if code:
            raise Failure(f"a worker ended with status {code} (see its lines above; a replacement took over its "
                          "runs: the table says which finished); rerun the same command to retry any run left.", 1)
        return
    start_tensorflow()
    try:
        printer = ProgressPrinter("none" if quiet else resolve_mode(progress), progress_seconds)
        rows, directory = run_sweep(sweep, overrides=overrides, only=filters, progress=SweepPrinter(printer, quiet),
                                    step_progress=None if printer.mode == "none" else printer.step,
                                    shard=shard_k_n, prefer=worker_k_n)
    except KeyboardInterrupt:
        click.echo("Interrupted: finished runs are recorded; rerun the same command to resume.", err=True)
        raise Failure("interrupted", 130) from None
    failed = _summarize(sweep.name, rows, directory)
    if failed:
        raise Failure(f"{failed} run(s) failed (see the error column of results.csv); rerun to retry them.", 1)


@cli.command()
@friendly_errors
def sweeps() -> None:
    """List the sweeps shipped with rethinking (run one by name: rethinking run NAME)."""
    from rethinking.experiments.sweep import expand, load_sweep, shipped_sweeps  # noqa: PLC0415

    shipped = shipped_sweeps()
    width = max(len(name) for name in ("name", *shipped))
    click.echo(f"{'name':<{width}} {'runs':>4}  description")
    for name, path in shipped.items():
        sweep = load_sweep(path)
        description = " ".join(sweep.description.split())
        click.echo(f"{name:<{width}} {len(expand(sweep)):>4}  {description[:110] + ('...' if len(description) > 110 else '')}")
    click.echo("\nFiles: pipelines/ in the repository, rethinking/pipelines/ in the installed package (format: its README.md); a path to your own .toml works too.")


@cli.command()
@click.argument("results", type=click.Path())
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for the figures and report.md [default: a 'report' folder beside results.json].")
@friendly_errors
def report(results: str, out: str | None) -> None:
    """Draw a sweep's figures and write its tables beside the paper's (report.md).

    RESULTS is the results.json (or its folder) that 'rethinking run' wrote.
    """
    from rethinking.reports.write import write_report  # noqa: PLC0415

    for path in write_report(results, out):
        click.echo(f"Wrote {path}")


@cli.command()
@click.argument("docs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if a block differs from what its results give.")
@friendly_errors
def claims(docs: tuple[str, ...], check: bool) -> None:
    """Regenerate the generated blocks of markdown DOCS from the results they name.

    <!-- claims:NAME --> ... <!-- /claims --> holds the claims of the result folder NAME (under
    reproduction/ beside the doc, what 'rethinking export' wrote) as 'rethinking report' judges
    them (claims.md); <!-- report:NAME/REPORT --> ... <!-- /report --> one report's tables.
    """
    from rethinking.reports import docs as claims_docs  # noqa: PLC0415

    stale = []
    for doc in map(Path, docs):
        if check:
            stale += [f"{doc}: {name}" for name in claims_docs.stale_blocks(doc)]
        elif claims_docs.update(doc):
            click.echo(f"Updated {doc}")
    if stale:
        raise Failure("Blocks that differ from their results (run 'rethinking claims' on the doc): "
                      + "; ".join(stale), 1)


def _tune_with_workers(spec: Any, workers: int, devices_per_worker: int) -> None:
    """Runs the search as a local keras-tuner chief and ``workers`` workers, then prints its summary."""
    from rethinking.experiments.workers import tune_workers  # noqa: PLC0415 (no TensorFlow)

    click.echo(f"Searching {spec.base.model.name} with {workers} workers; state and TensorBoard logs in {spec.directory}")
    try:
        code = tune_workers(given_arguments(click.get_current_context(), ("workers", "devices_per_worker")), workers,
                            devices_per_worker, echo=click.echo)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the chief and the workers are stopped
        click.echo("Interrupted: the chief and the workers were stopped; rerun the same command to resume.", err=True)
        raise Failure("interrupted", 130) from None
    if code:
        raise Failure(f"the search ended with status {code} (see the lines above); rerun the same command to "
                      "resume it.", 1)


@cli.command()
@click.argument("results", type=click.Path())
@click.argument("destination", type=click.Path(file_okay=False))
@click.option("--only", "only", multiple=True, metavar="COLUMN=VALUE",
              help="Export only the rows of the table with this value in this column (repeatable: all must hold).")
@friendly_errors
def export(results: str, destination: str, only: tuple[str, ...]) -> None:
    """Copy a sweep's table and its runs' small files to DESTINATION, to commit or share them.

    RESULTS is the results.json (or its folder) that 'rethinking run' wrote. Per run: config.json,
    results.json and metrics.csv (no checkpoints, weights or TensorBoard events), so that
    'rethinking report DESTINATION' draws every table and figure anywhere.
    """
    from rethinking.experiments.export import export_sweep  # noqa: PLC0415

    folder, copied = export_sweep(results, destination, _assignments(only, "--only"))
    click.echo(f"Wrote {folder / 'results.json'} and {copied} run folder(s) under {folder / 'runs'}; "
               f"report: rethinking report {folder}")


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
@click.option("--objective", type=click.Choice(tuple(OBJECTIVES)),
              default="val_accuracy", show_default=True,
              help="val_*: on training examples held out from training (never the test set); "
                   "accuracy/loss: fitting the training labels.")
@click.option("--algorithm", type=click.Choice(ALGORITHMS), default="hyperband", show_default=True,
              help="keras-tuner search (Hyperband's most epochs per trial: --epochs).")
@click.option("--max-trials", type=click.IntRange(min=1), default=10, show_default=True,
              help="Trials of --algorithm random.")
@click.option("--factor", type=click.IntRange(min=2), default=3, show_default=True, help="Hyperband's reduction factor.")
@click.option("--validation-examples", type=click.IntRange(min=1), default=None,
              help="Training examples held out for val_* objectives [default: 10%].")
@click.option("--write-sweep", type=click.Path(dir_okay=False), default=None,
              help="Write the best trial as a sweep file (TOML) to run with 'rethinking run'.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Train trials in N local processes at once (N >= 2: a keras-tuner chief and N workers).")
@click.option("--devices-per-worker", type=click.IntRange(min=1), default=1, show_default=True,
              help="GPUs per worker with --workers (more workers than GPUs share them).")
@friendly_errors
def tune(learning_rates: str, weight_decays: str, batch_sizes: str, objective: str, algorithm: str, max_trials: int,
         factor: int, validation_examples: int | None, write_sweep: str | None, workers: int,
         devices_per_worker: int, **flags: Any) -> None:
    """Search learning rate, weight decay and batch size with keras-tuner for one model and data condition.

    Trials are logged to TensorBoard (with the HParams dashboard) under --log-dir/--experiment;
    rerunning the same command resumes the search. Distributed: --workers N on one machine, or
    the same command on many with keras-tuner's KERASTUNER_TUNER_ID (chief, tuner0, ...),
    KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT (docs/cli.md).
    Example: rethinking tune --model alexnet_small --labels random --epochs 20 --experiment tune_alexnet
    """
    import dataclasses  # noqa: PLC0415

    from rethinking.experiments.tuning import ChiefUnavailable, TuneSpec, sweep_toml  # noqa: PLC0415
    from rethinking.experiments.tuning import tune as run_search  # noqa: PLC0415
    from rethinking.training.rundir import atomic_write_text  # noqa: PLC0415

    context = click.get_current_context()
    if algorithm == "hyperband" and context.get_parameter_source("max_trials") is click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError("--max-trials sets the trials of --algorithm random; Hyperband sizes itself from --epochs "
                               "and --factor: drop --max-trials or add --algorithm random.")
    lr = _floats(learning_rates, "--learning-rates")
    if len(lr) != 2:
        raise click.UsageError(f"--learning-rates takes LOW,HIGH. Received: {learning_rates!r}")
    batch = _floats(batch_sizes, "--batch-sizes")
    if any(b != int(b) for b in batch):
        raise click.UsageError(f"--batch-sizes takes integers. Received: {batch_sizes!r}")
    base = run_config_from_flags(flags)
    if flags["experiment"] == "default":  # a search gets a folder of its own, not the runs' one
        base = dataclasses.replace(base, experiment=f"tune-{base.model.name.rpartition(':')[2]}")
    spec = TuneSpec(base=base, learning_rate=(lr[0], lr[1]), weight_decay=_floats(weight_decays, "--weight-decays"),
                    batch_size=tuple(int(b) for b in batch), objective=objective, algorithm=algorithm,
                    max_trials=max_trials, factor=factor, validation_examples=validation_examples, seed=flags["seed"])
    role = distributed_role()
    if workers > 1:
        if role is not None:
            raise click.UsageError("--workers starts its own chief and workers: unset KERASTUNER_ORACLE_IP, or "
                                   "drop --workers and start each process yourself.")
        _tune_with_workers(spec, workers, devices_per_worker)
        return
    start_tensorflow()
    where = "" if role is None else (" as the chief" if role == "chief" else f" as worker {role}")
    click.echo(f"Searching {base.model.name} ({algorithm}, objective {objective}){where}; state and TensorBoard "
               f"logs in {spec.directory}")
    try:
        summary = run_search(spec, verbose=True)
    except ChiefUnavailable as err:
        raise Failure(str(err), CHIEF_GONE) from None
    if "best" not in summary:  # a worker of a distributed search: the chief reports it
        click.echo(f"\nworker {summary['role']}: trained {summary['trials_trained']} trial(s); the chief reports "
                   f"the search{' and writes ' + write_sweep if write_sweep else ''}.")
        return
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
    if write_sweep:
        name = Path(write_sweep).stem
        text = sweep_toml(best["config"], name, f"The best trial of 'rethinking tune' ({objective} "
                                                   f"{best['score']:.4f}) for {base.model.name}.")
        Path(write_sweep).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(Path(write_sweep), text)
        click.echo(f"  wrote {write_sweep}: rethinking run {write_sweep}")


