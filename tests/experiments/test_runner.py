"""Sweeps end to end on the embedded digits: results table, resuming, failures, the report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from rethinking.reports.write import write_report
from rethinking.experiments.runner import DONE_STATUSES, ERROR_FILE, plan, run_sweep
from rethinking.experiments.sweep import parse_sweep
from rethinking.training import train

PAPER = {
    "table1": [{"model": "mlp_1x512", "random_crop": False, "weight_decay": False, "train": 100.0, "test": 50.51}],
    "figure1c": [{"model": "mlp_1x512", "corruption_prob": 1.0, "test_error": 89.39}],
    "notes": ["Random labels are fitted."],
}


def tiny(log_dir, **grid_extra) -> dict:
    return {
        "sweep": {"name": "tiny", "description": "A tiny sweep.",
                     "reports": ["table1", "figure1a", "figure1b", "figure1c", "figure2a", "figure2b"]},
        "base": {"data": {"dataset": "digits", "train_examples": 256}, "model": {"name": "mlp_1x512"},
                 "train": {"epochs": 2, "batch_size": 64, "jit_compile": False}, "log_dir": str(log_dir)},
        "grid": [{"data.corruption": [{"labels": "true"}, {"labels": "partial", "corruption_prob": 0.5},
                                      {"labels": "random"}, {"pixels": "shuffled"}], **grid_extra},
                 {"model": [{"name": "inception_small", "width_multiplier": 0.125, "batch_norm": True},
                            {"name": "inception_small", "width_multiplier": 0.125, "batch_norm": False}]}],
        "paper": PAPER,
    }


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The tiny sweep, run once for the module: (rows, folder, events)."""
    sweep = parse_sweep(tiny(tmp_path_factory.mktemp("sweep")))
    events = []
    rows, folder = run_sweep(sweep, progress=events.append)
    return sweep, rows, folder, events


@pytest.mark.slow
def test_a_sweep_runs_every_run_and_writes_one_table(swept):
    sweep, rows, folder, events = swept
    assert len(rows) == 6 and all(r["status"] in DONE_STATUSES for r in rows)
    with (folder / "results.csv").open() as f:
        table = list(csv.DictReader(f))
    assert [r["run"] for r in table] == [r["run"] for r in rows]
    assert {r["labels"] for r in table} == {"true", "partial", "random"}
    assert all(0 <= float(r["test_accuracy"]) <= 1 and int(r["epochs_trained"]) == 2 for r in table)
    stored = json.loads((folder / "results.json").read_text())
    assert stored["sweep"] == "tiny" and stored["paper"]["table1"] == PAPER["table1"]
    kinds = [e["event"] for e in events]
    assert kinds.count("start") == kinds.count("done") == 6 and kinds.count("epoch") == 18  # epoch 0 (before training), 1, 2
    # TensorBoard's HParams view of the sweep: what its runs vary, declared once in the sweep folder.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata

    from rethinking.training.summaries import EXPERIMENT_FILE

    assert (folder / EXPERIMENT_FILE).is_file()
    reader = EventAccumulator(str(folder))
    reader.Reload()
    experiment = metadata.parse_experiment_plugin_data(reader.PluginTagToContent("hparams")[metadata.EXPERIMENT_TAG])
    declared = {h.name for h in experiment.hparam_infos}
    assert {"labels", "corruption_prob", "pixels", "model", "batch_norm", "width_multiplier"} <= declared
    assert not {"batch_size", "epochs", "dataset", "seed"} & declared  # the same in every run: not declared


@pytest.mark.slow
def test_a_rerun_skips_finished_runs(swept):
    sweep, rows, folder, _ = swept
    calls = []
    again, _ = run_sweep(sweep, train_fn=lambda config, **kw: calls.append(config))
    assert calls == [] and [r["status"] for r in again] == [r["status"] for r in rows]


@pytest.mark.slow
def test_report_writes_figures_and_tables_beside_the_papers(swept, tmp_path):
    _, _, folder, _ = swept
    written = write_report(folder / "results.json", tmp_path / "report")
    names = {p.name for p in written}
    assert {"figure1a.png", "figure1c.png", "figure2a.png", "figure2b.png", "report.md"} <= names
    for p in written:
        if p.suffix == ".png":
            assert p.read_bytes()[:4] == b"\x89PNG" and p.stat().st_size > 10_000
            assert p.with_suffix(".pdf").read_bytes()[:4] == b"%PDF" and b"<svg" in p.with_suffix(".svg").read_bytes()
    text = (tmp_path / "report" / "report.md").read_text()
    # No run fits in 2 epochs: Figure 1b has nothing to plot, and says so instead of an empty figure.
    assert "figure1b.png" not in names and "No figure: none of the runs has anything to plot" in text
    assert "Data as run (after any --set): digits (the first 256 training examples; data seed 0)." in text
    assert "100.00 / 50.51" in text  # Table 1's paper cell beside our mlp_1x512 run with true labels
    shuffled = [line for line in text.splitlines() if line.startswith("| mlp_1x512 | none | shuffled pixels |")]
    assert len(shuffled) == 1 and shuffled[0].endswith("| - |")  # not the paper's true-label cell
    assert "89.39" in text  # the paper's Figure 1c point
    assert "Random labels are fitted." in text
    assert "inception_small (no BN, width 0.125)" in text and "inception_small (width 0.125)" in text


@pytest.mark.slow
def test_an_exported_sweep_reports_anywhere_with_its_curves_and_a_csv_alone_still_reports(swept, tmp_path, cli):
    _, rows, folder, _ = swept
    code, out, err = cli("export", str(folder / "results.json"), str(tmp_path / "shared"))
    assert code == 0, err
    assert "6 run folder(s)" in out
    runs = sorted(p.name for p in (tmp_path / "shared" / "runs").iterdir())
    assert len(runs) == 6
    for run in runs:  # the small files only: no checkpoints, weights or TensorBoard events
        assert sorted(f.name for f in (tmp_path / "shared" / "runs" / run).iterdir()) == [
            "config.json", "metrics.csv", "results.json", "test_examples.csv"]
    moved = tmp_path / "moved"  # the copy is self-contained: moved elsewhere, it still reports
    (tmp_path / "shared").rename(moved)
    stored = json.loads((moved / "results.json").read_text())
    assert [r["run_dir"] for r in stored["runs"]] == [f"runs/{Path(r['run_dir']).name}" for r in rows]
    names = {p.name for p in write_report(moved)}
    assert {"figure1a.png", "figure2b.png", "report.md"} <= names  # the curves come from the copied metrics
    # Only the table (results.csv, as older docs committed it): the tables and the figures of
    # final numbers are drawn; the curves are not, and report.md says why.
    table_only = tmp_path / "tiny"
    table_only.mkdir()
    (table_only / "results.csv").write_text((moved / "results.csv").read_text())
    names = {p.name for p in write_report(table_only / "results.csv")}
    assert "figure1c.png" in names and "figure2a.png" in names
    assert "figure1a.png" not in names and "figure2b.png" not in names
    text = (table_only / "report" / "report.md").read_text()
    assert "need the runs' per-epoch metrics (metrics.csv)" in text
    assert "| inception_small (width 0.125) | none |" in text  # Figure 2b's table is still there


@pytest.mark.slow
def test_export_only_the_rows_a_filter_keeps(swept, tmp_path, cli):
    _, rows, folder, _ = swept
    model = rows[0]["model"]
    code, out, err = cli("export", str(folder / "results.json"), str(tmp_path / "part"), "--only", f"model={model}",
                         "--only", "pixels=original")
    assert code == 0, err
    kept = [r for r in rows if r["model"] == model and r["pixels"] == "original"]
    assert 0 < len(kept) < len(rows) and f"{len(kept)} run folder(s)" in out
    stored = json.loads((tmp_path / "part" / "results.json").read_text())["runs"]
    assert [r["run"] for r in stored] == [r["run"] for r in kept]
    code, out, err = cli("export", str(folder / "results.json"), str(tmp_path / "true"), "--only", "labels=true")
    assert code == 0 and f"{sum(r['labels'] == 'true' for r in rows)} run folder(s)" in out, err  # not a boolean
    code, _, err = cli("export", str(folder / "results.json"), str(tmp_path / "x"), "--only", "colour=red")
    assert code == 2 and "not a column of the table" in err
    code, _, err = cli("export", str(folder / "results.json"), str(tmp_path / "x"), "--only", "model=resnet50")
    assert code == 2 and "No row of the table matches" in err


@pytest.mark.slow
def test_export_refuses_the_sweeps_own_folder_and_a_missing_table(swept, cli):
    _, _, folder, _ = swept
    code, _, err = cli("export", str(folder / "results.json"), str(folder))
    assert code == 2 and "the sweep's own folder" in err
    code, _, err = cli("export", str(folder / "nothing.json"), str(folder / "x"))
    assert code == 2 and "No results table" in err and "Traceback" not in err


@pytest.mark.slow
def test_export_refuses_a_run_folder_and_a_foreign_results_json_but_refreshes_an_export(swept, tmp_path, cli):
    _, rows, folder, _ = swept
    run = folder / rows[0]["run_dir"]  # the table holds it relative to its own folder
    before = (run / "results.json").read_bytes()
    code, _, err = cli("export", str(folder / "results.json"), str(run))
    assert code == 2 and "is a run folder" in err and "Traceback" not in err
    assert (run / "results.json").read_bytes() == before  # the run's record is untouched
    other = tmp_path / "other"  # a folder holding some other results.json (e.g. a run's, copied)
    other.mkdir()
    (other / "results.json").write_bytes(before)
    code, _, err = cli("export", str(folder / "results.json"), str(other))
    assert code == 2 and "not an earlier export" in err
    assert (other / "results.json").read_bytes() == before
    code, _, err = cli("export", str(folder / "results.json"), str(tmp_path / "shared"))
    assert code == 0, err
    code, _, err = cli("export", str(folder / "results.json"), str(tmp_path / "shared"))  # refreshed in place
    assert code == 0, err


@pytest.mark.slow
def test_an_interrupted_sweep_resumes_without_rerunning_finished_runs(tmp_path):
    sweep = parse_sweep({**tiny(tmp_path), "grid": [{"data.seed": [0, 1, 2]}]})
    trained = []

    def interrupted(config, **kwargs):
        if len(trained) == 1:
            raise KeyboardInterrupt
        trained.append(config.data.seed)
        return train(config, **kwargs)

    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, train_fn=interrupted)
    table = json.loads((tmp_path / "tiny" / "results.json").read_text())["runs"]
    assert [r["status"] for r in table] == ["finished", "pending", "pending"]

    resumed = []
    rows, _ = run_sweep(sweep, train_fn=lambda config, **kw: resumed.append(config.data.seed) or train(config, **kw))
    assert resumed == [1, 2]
    assert all(r["status"] == "finished" for r in rows)


@pytest.mark.slow
def test_a_failing_run_is_recorded_and_the_sweep_goes_on(tmp_path):
    sweep = parse_sweep({**tiny(tmp_path), "grid": [{"data.seed": [0, 1, 2]}]})

    def flaky(config, **kwargs):
        if config.data.seed == 1:
            raise RuntimeError("out of memory (simulated)")
        return train(config, **kwargs)

    rows, folder = run_sweep(sweep, train_fn=flaky)
    assert [r["status"] for r in rows] == ["finished", "failed", "finished"]
    assert rows[1]["error"] == "RuntimeError: out of memory (simulated)"
    assert "out of memory" in (tmp_path / "tiny" / rows[1]["run"]).joinpath(ERROR_FILE).read_text()
    with (folder / "results.csv").open() as f:
        assert [r["status"] for r in csv.DictReader(f)] == ["finished", "failed", "finished"]
    # A rerun retries the failed run only.
    retried = []
    rows, _ = run_sweep(sweep, train_fn=lambda config, **kw: retried.append(config.data.seed) or train(config, **kw))
    assert retried == [1] and rows[1]["status"] == "finished"


def test_runs_of_a_sweep_see_the_long_lived_objects_frozen_and_the_sweep_unfreezes_them(tmp_path):
    import gc  # noqa: PLC0415

    sweep = parse_sweep({**tiny(tmp_path), "grid": [{"data.seed": [0, 1]}]})
    frozen = []

    def counting(config, **kwargs):  # fails fast: the sweep records it and goes on
        frozen.append(gc.get_freeze_count())
        raise RuntimeError("not trained")

    rows, _ = run_sweep(sweep, train_fn=counting)
    assert [r["status"] for r in rows] == ["failed", "failed"]
    assert len(frozen) == 2 and min(frozen) > 10_000  # TensorFlow's and Keras' objects: skipped by collections
    assert gc.get_freeze_count() == 0  # a notebook's objects are collected as before


def test_only_filters_and_missing_files_fail_before_training(tmp_path):
    sweep = parse_sweep({**tiny(tmp_path), "grid": [{"data.seed": [0, 1]}]})
    with pytest.raises(ValueError, match="No run of the sweep matches"):
        plan(sweep, only=[("data.seed", 7)])
    with pytest.raises(ValueError, match="Dataset file .*missing.npz does not exist"):
        run_sweep(sweep, overrides={"data.dataset": str(tmp_path / "missing.npz")},
                     train_fn=lambda *a, **k: pytest.fail("trained"))


@pytest.mark.slow
def test_the_table_covers_the_whole_grid_whatever_subset_a_process_runs(tmp_path):
    import os
    import shutil

    from rethinking.training.rundir import run_dir
    from rethinking.training.runlock import RunLock

    doc = tiny(tmp_path / "logs")
    doc["grid"] = doc["grid"][:1]  # the four digits runs
    sweep = parse_sweep(doc)
    runs = plan(sweep)
    held = RunLock(run_dir(runs[3].config)).acquire()  # "another process" is training the last run
    try:
        mine, folder = run_sweep(sweep, only=[("data.corruption.labels", "random")])
    finally:
        held.release()
    assert [r["status"] for r in mine] == ["finished"]
    table = json.loads((folder / "results.json").read_text())["runs"]
    assert len(table) == 4  # not only the run this process trained
    statuses = {r["labels"] + "/" + r["pixels"]: r["status"] for r in table}
    assert statuses == {"true/original": "pending", "partial/original": "pending", "random/original": "finished",
                        "true/shuffled": "running"}
    assert all(not os.path.isabs(r["run_dir"]) for r in table)
    # A copied sweep folder reports anywhere: the run folders are found relative to the table.
    copy = tmp_path / "elsewhere" / "tiny"
    shutil.copytree(folder, copy)
    written = write_report(copy / "results.json")
    assert any(p.name == "report.md" for p in written)
    assert "random labels" in (copy / "report" / "report.md").read_text()


@pytest.mark.slow
def test_an_export_carries_no_absolute_path(swept, tmp_path):
    """The sweep file, run folders and any absolute path of a run's files are made portable."""
    from rethinking.experiments.export import export_sweep

    _, _, folder, _ = swept
    copy, _ = export_sweep(folder, tmp_path / "shared")
    table = json.loads((copy / "results.json").read_text())
    assert not Path(table["source"]).is_absolute()
    for path in copy.rglob("*"):
        if path.suffix in (".json", ".csv"):
            text = path.read_text()
            assert str(tmp_path) not in text and str(Path.cwd()) + "/" not in text, path
