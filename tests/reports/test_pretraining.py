"""Sweeps whose runs start from other runs of the sweep (init_from_run), and the pretraining report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rethinking.reports.write import write_report
from rethinking.experiments.runner import run_sweep, share, sources_of
from rethinking.experiments.sweep import expand, parse_sweep


def _doc(log_dir: Path, epochs: int = 3) -> dict:
    return {
        "sweep": {"name": "pre", "reports": ["pretraining"], "seeds": [0, 1]},
        "base": {"data": {"dataset": "digits", "train_examples": 200}, "model": {"name": "mlp_1x512"},
                 "train": {"epochs": epochs, "until_fit": True, "batch_size": 32, "learning_rate": 0.05,
                           "jit_compile": False},
                 "log_dir": str(log_dir)},
        "grid": [{"init_from_run": [False, {"data.train_offset": 200, "data.corruption": {"labels": "random"}}]}],
    }


def test_sources_join_the_sweep_before_their_runs_with_the_same_seed(tmp_path):
    runs = expand(parse_sweep(_doc(tmp_path)))
    assert len(runs) == 6  # 2 seeds x (from scratch, pre-trained, source)
    sources = sources_of(runs)
    assert len(sources) == 2
    for dependent, source in sources.items():
        assert source < dependent  # trained first in grid order
        d, s = runs[dependent].config, runs[source].config
        assert s.data.seed == d.data.seed and s.data.train_offset == 200 and s.data.corruption.labels == "random"
        assert d.data.train_offset == 0 and d.data.corruption.labels == "true" and s.train.init_from is None
        assert d.train.init_from == str(tmp_path / "pre" / s.resolved_run_name)
    scratch = [r for i, r in enumerate(runs) if i not in sources and i not in sources.values()]
    assert len(scratch) == 2 and all(r.config.train.init_from is None for r in scratch)


@pytest.mark.parametrize("value", [True, {}, "random"])
def test_a_bad_init_from_run_is_one_line(tmp_path, value):
    doc = _doc(tmp_path)
    doc["grid"] = [{"init_from_run": [value]}]
    with pytest.raises(ValueError, match="init_from_run takes false or a table of the changes"):
        expand(parse_sweep(doc))


def test_only_brings_the_source_of_a_chosen_run(tmp_path):
    from rethinking.experiments.runner import narrow

    runs = expand(parse_sweep(_doc(tmp_path)))
    chosen = narrow(runs, [("data.seed", 1), ("data.corruption.labels", "true"), ("data.train_offset", 0)])
    assert len(chosen) == 3  # from scratch and pre-trained (seed 1), and the pre-trained run's source
    assert sum(r.config.data.corruption.labels == "random" for r in chosen) == 1
    assert all(r.config.data.seed == 1 for r in chosen)


def test_a_share_keeps_each_run_with_its_source(tmp_path):
    runs = expand(parse_sweep(_doc(tmp_path)))
    sources = sources_of(runs)
    shares = [share(runs, k, 2) for k in range(2)]
    assert sorted(len(s) for s in shares) == [3, 3] and sum(len(s) for s in shares) == len(runs)
    for dependent, source in sources.items():
        assert any(runs[dependent] in s and runs[source] in s for s in shares)


@pytest.mark.slow
def test_a_run_placed_before_its_source_waits_for_it(tmp_path, monkeypatch):
    """A dependent met before its source (here: a share that splits them) is trained after it."""
    from rethinking.experiments import runner

    monkeypatch.setattr(runner, "share", lambda runs, k, n: list(runs[k::n]))  # every n-th: splits chains
    order = []

    def fake_train(config, **kwargs):
        order.append(config.resolved_run_name)
        folder = Path(config.log_dir) / config.experiment / config.resolved_run_name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "results.json").write_text(json.dumps({"status": "fitted", "train_accuracy": 1.0}))
        return {"status": "fitted"}

    runs = expand(parse_sweep(_doc(tmp_path)))
    sources = sources_of(runs)
    run_sweep(parse_sweep(_doc(tmp_path)), train_fn=fake_train, prefer=(1, 2))
    assert sorted(order) == sorted(r.config.resolved_run_name for r in runs)  # each once
    for dependent, source in sources.items():
        assert order.index(runs[source].config.resolved_run_name) < order.index(runs[dependent].config.resolved_run_name)


@pytest.mark.slow
def test_a_tiny_pretraining_sweep_trains_sources_first_and_reports(tmp_path):
    rows, folder = run_sweep(parse_sweep(_doc(tmp_path, epochs=4)))
    assert len(rows) == 6 and all(r["status"] in ("finished", "fitted") for r in rows)
    started = [r for r in rows if r["init_from"]]
    assert len(started) == 2
    for row in started:
        results = json.loads((folder / row["run_dir"] / "results.json").read_text())
        source = results["init_from"]
        assert Path(source["run_dir"]).name == row["init_from"] and source["labels"] == "random"
        assert source["seed"] == row["seed"]
    written = {p.name for p in write_report(folder / "results.json", tmp_path / "report")}
    assert {"pretraining.png", "report.md"} <= written
    text = (tmp_path / "report" / "report.md").read_text()
    section = text.split("## pretraining")[1]
    assert "| from scratch | 2 |" in section and "| from mlp_1x512-labels_random-pixels_original | 2 |" in section
    assert "| from mlp_1x512-labels_random-pixels_original | 2 | " in section.split("Paired by seed")[1]
    assert section.count("mlp_1x512-labels_random-pixels_original-seed") == 2  # the two sources, listed
    assert "Maennel et al. 2020" in text
