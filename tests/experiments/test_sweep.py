"""Sweep files: parsing, grid expansion, overrides, filters, and every shipped file."""

from __future__ import annotations

from pathlib import Path

import pytest

from rethinking.reports.registry import REPORTS
from rethinking.reports.tables import paper_numbers
from rethinking.experiments.sweep import (
    expand, find_sweep, load_sweep, parse_assignment, parse_sweep, select, set_path, shipped_dir, shipped_sweeps,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_DIR = shipped_dir()
SHIPPED = sorted(SHIPPED_DIR.rglob("*.toml"))


def test_the_repository_ships_every_paper_artifact():
    names = {p.relative_to(SHIPPED_DIR).as_posix() for p in SHIPPED}
    for artifact in ("table1", "figure1a", "figure1bc", "figure2"):
        assert f"{artifact}.toml" in names and f"laptop/{artifact}.toml" in names
    assert "table2_imagenet.toml" in names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.relative_to(SHIPPED_DIR).as_posix())
def test_every_shipped_sweep_expands_into_valid_distinct_runs(path):
    sweep = load_sweep(path)
    runs = expand(sweep)
    assert runs and set(sweep.reports) <= set(REPORTS)
    folders = {(r.config.experiment, r.config.resolved_run_name) for r in runs}
    assert len(folders) == len(runs)  # every run has a folder of its own
    assert all(r.config.experiment == sweep.name for r in runs)
    # The paper's numbers are stored once, in paper.toml; a shipped sweep may only leave some out
    # (an empty table: the MNIST sweep has no CIFAR-10 numbers beside it).
    assert all(value == [] for value in sweep.paper.values()), "the paper's numbers are stored once, in paper.toml"
    assert all(paper_numbers()["claims"].get(r) for r in sweep.reports), "every report drawn has the paper's claims"


def test_shipped_grids_have_the_papers_shape():
    table1 = expand(load_sweep("table1"))
    assert len(table1) == 19
    random = [r for r in table1 if r.config.data.corruption.labels == "random"]
    assert len(random) == 5 and all(r.config.model.weight_decay == 0 and not r.config.data.preprocessing.random_crop
                                    for r in random)
    bc = expand(load_sweep("figure1bc"))
    assert sorted({r.config.data.corruption.resolved_corruption_prob for r in bc}) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert {r.config.model.name for r in bc} == {"inception_small", "alexnet_small", "mlp_1x512"}
    assert all(r.config.train.until_fit for r in bc)
    pixels = {r.config.data.corruption.pixels for r in expand(load_sweep("figure1a"))}
    assert pixels == {"original", "shuffled", "random", "gaussian"}
    imagenet = expand(load_sweep("table2_imagenet"))
    assert {r.config.train.strategy for r in imagenet} == {"mirrored"}
    assert {r.config.model.name for r in imagenet} == {"inception_v3"}
    laptop = expand(load_sweep("laptop/figure1a"))
    assert all(r.config.data.train_examples == 1000 for r in laptop)


def minimal(**extra):
    doc = {"sweep": {"name": "tiny"}, "base": {"data": {"dataset": "digits"}, "train": {"epochs": 1}}}
    doc.update(extra)
    return doc


def test_grids_are_cartesian_products_united_and_deduplicated():
    doc = minimal(grid=[{"model.name": ["mlp_1x512", "mlp_3x512"], "data.seed": [0, 1]},
                        {"model.name": ["mlp_1x512"], "data.seed": [1, 2]}])
    runs = expand(parse_sweep(doc))
    assert [(r.config.model.name, r.config.data.seed) for r in runs] == [
        ("mlp_1x512", 0), ("mlp_1x512", 1), ("mlp_3x512", 0), ("mlp_3x512", 1), ("mlp_1x512", 2)]
    assert runs[0].label == "model.name=mlp_1x512, data.seed=0"


def test_table_values_merge_into_the_config():
    doc = minimal(grid={"data.corruption": [{"labels": "partial", "corruption_prob": 0.4}],
                        "model": [{"name": "mlp", "depth": 2}]})
    (run,) = expand(parse_sweep(doc))
    assert run.config.data.corruption.resolved_corruption_prob == 0.4
    assert (run.config.model.name, run.config.model.depth) == ("mlp", 2)
    assert run.config.data.dataset == "digits"  # the base's other fields stay


def test_overrides_apply_to_every_run():
    runs = expand(parse_sweep(minimal(grid={"data.seed": [0, 1]})), {"train.epochs": 3, "log_dir": "elsewhere"})
    assert all(r.config.train.epochs == 3 and r.config.log_dir == "elsewhere" for r in runs)


def test_select_filters_by_dotted_keys():
    runs = expand(parse_sweep(minimal(grid={"model.name": ["mlp_1x512", "mlp_3x512"], "data.seed": [0, 1, 2]})))
    assert len(select(runs, [("model.name", "mlp_3x512")])) == 3
    assert len(select(runs, [("data.seed", 0), ("data.seed", 2)])) == 4
    assert len(select(runs, [("model.name", "mlp_3x512"), ("data.seed", 1)])) == 1
    with pytest.raises(ValueError, match="not a config field"):
        select(runs, [("model.colour", "red")])


def test_parse_assignment_reads_toml_values_else_strings():
    assert parse_assignment("train.epochs=3") == ("train.epochs", 3)
    assert parse_assignment("data.preprocessing.random_crop=true") == ("data.preprocessing.random_crop", True)
    assert parse_assignment("data.dataset=../x/y.npz") == ("data.dataset", "../x/y.npz")
    assert parse_assignment('data.corruption={ labels = "random" }') == ("data.corruption", {"labels": "random"})
    # A text option keeps its text: labels=true is the condition "true" (once read as a boolean: --only
    # matched nothing and --set was refused); a boolean option still reads true as a boolean.
    assert parse_assignment("data.corruption.labels=true") == ("data.corruption.labels", "true")
    assert parse_assignment('data.corruption.labels="true"') == ("data.corruption.labels", "true")
    assert parse_assignment("train.until_fit=true") == ("train.until_fit", True)
    runs = expand(parse_sweep(minimal(grid=[{"data.corruption.labels": ["true", "random"]}])))
    assert [r.config.data.corruption.labels for r in select(runs, [parse_assignment("data.corruption.labels=true")])] \
        == ["true"]
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_assignment("epochs")


def test_set_path_creates_and_merges():
    tree = {"model": {"name": "mlp"}}
    set_path(tree, "model.depth", 2)
    set_path(tree, "train", {"epochs": 4})
    set_path(tree, "train", {"batch_size": 8})
    assert tree == {"model": {"name": "mlp", "depth": 2}, "train": {"epochs": 4, "batch_size": 8}}


@pytest.mark.parametrize("doc, message", [
    ({"base": {}}, "needs a \\[sweep\\] table"),
    (minimal(extra={}), "unknown top-level tables"),
    (minimal(sweep={"name": "x", "reports": ["figure9"]}), "reports must be a list of"),
    (minimal(grid={"model.name": "mlp"}), "needs a non-empty list"),
    (minimal(grid={"model.name": ["resnet"]}), "the run at model.name=resnet is invalid"),
    (minimal(grid={"data.corruption": [{"labels": "partial", "corruption_prob": 1.5}]}), "is invalid"),
    (minimal(grid={"model.colour": ["red"]}), "is invalid"),
])
def test_bad_sweeps_fail_with_one_clear_line(doc, message):
    with pytest.raises(ValueError, match=message) as info:
        parse_sweep(doc, "bad.toml")
    assert "\n" not in str(info.value)


def test_load_sweep_errors(tmp_path):
    with pytest.raises(ValueError, match="No sweep file"):
        load_sweep(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[sweep\nname = 1")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_sweep(bad)


def test_shipped_sweeps_are_found_by_name_and_paths_still_work(tmp_path):
    assert set(shipped_sweeps()) >= {"table1", "laptop/figure1a", "laptop/mnist_figure1bc", "table2_imagenet"}
    assert find_sweep("laptop/figure1a") == SHIPPED_DIR / "laptop" / "figure1a.toml"
    assert find_sweep("sweeps/table1.toml") == SHIPPED_DIR / "table1.toml"  # the old repository path
    assert find_sweep("pipelines/table1") == SHIPPED_DIR / "table1.toml"
    mine = tmp_path / "table1.toml"
    mine.write_text("")
    assert find_sweep(mine) == mine  # a file of that name wins over the shipped one
    with pytest.raises(ValueError, match="No sweep file figure9: .*laptop/figure1a"):
        find_sweep("figure9")
    assert load_sweep("laptop/table1").name == "laptop-table1"


@pytest.mark.parametrize("varies, data_seeds, init_seeds", [
    ("both", [0, 1, 2], [0, 1, 2]),   # init follows the data seed
    ("data", [0, 1, 2], [7, 7, 7]),   # init fixed at the base's
    ("init", [7, 7, 7], [0, 1, 2]),   # data fixed
])
def test_seeds_run_every_grid_point_once_per_seed(varies, data_seeds, init_seeds):
    doc = minimal(sweep={"name": "s", "seeds": [0, 1, 2], "seed_varies": varies},
                  grid=[{"model.name": ["mlp_1x512", "mlp_3x512"]}])
    doc["base"]["data"]["seed"] = 7
    runs = expand(parse_sweep(doc))
    assert len(runs) == 6 and [r.config.model.name for r in runs] == ["mlp_1x512"] * 3 + ["mlp_3x512"] * 3
    first = runs[:3]
    assert [r.config.data.seed for r in first] == data_seeds and [r.config.init_seed for r in first] == init_seeds
    assert len({r.config.resolved_run_name for r in runs}) == len(runs)


def test_bad_seeds_are_one_line_errors():
    with pytest.raises(ValueError, match=r"\[sweep\] seeds must be distinct non-negative integers"):
        parse_sweep(minimal(sweep={"name": "s", "seeds": [0, 0]}))
    with pytest.raises(ValueError, match="seed_varies must be one of both, data, init"):
        parse_sweep(minimal(sweep={"name": "s", "seeds": [0], "seed_varies": "all"}))


def test_a_transition_file_beside_the_sweep_is_found_from_any_folder(tmp_path, monkeypatch):
    runs = expand(load_sweep("laptop/label_noise"))
    matrix = [r for r in runs if r.config.data.corruption.labels == "matrix"]
    assert matrix and all(r.config.data.corruption.transition == str(SHIPPED_DIR / "laptop" / "mnist_pair_flips.csv")
                          for r in matrix)
    # A file of that name in the working folder wins (the user's own), as for sweep files.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mnist_pair_flips.csv").write_text("\n".join(",".join("0.1" for _ in range(10)) for _ in range(10)))
    mine = [r for r in expand(load_sweep("laptop/label_noise")) if r.config.data.corruption.labels == "matrix"]
    assert mine[0].config.data.corruption.transition == "mnist_pair_flips.csv"
    assert mine[0].config.resolved_run_name != matrix[0].config.resolved_run_name  # another file: another run


def test_the_source_checkout_reads_the_top_level_pipelines_folder():
    assert SHIPPED_DIR == ROOT / "pipelines" and (SHIPPED_DIR / "README.md").is_file()


@pytest.mark.slow
def test_every_file_of_the_pipelines_folder_is_built_into_the_package(tmp_path):
    import subprocess
    import sys

    build = tmp_path / "lib"
    out = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(build)], cwd=ROOT,
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    files = sorted(p.relative_to(SHIPPED_DIR).as_posix() for p in SHIPPED_DIR.rglob("*") if p.is_file()
                   and "__pycache__" not in p.parts)
    built = sorted(p.relative_to(build / "rethinking" / "pipelines").as_posix()
                   for p in (build / "rethinking" / "pipelines").rglob("*") if p.is_file())
    assert "laptop/mnist_pair_flips.csv" in files and built == files  # a wheel ships them all, and only them
    assert (build / "rethinking" / "reports" / "paper.toml").is_file()
