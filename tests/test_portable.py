"""Paths in shared files: the package's, the checkout's pipeline files, relative, or a bare name."""

from __future__ import annotations

from rethinking.experiments.sweep import shipped_sweeps
from rethinking.portable import PACKAGE, portable, portable_path
from rethinking.reports.write import source_name


def test_paths_become_the_package_s_the_pipelines_relative_or_a_name(tmp_path):
    assert portable_path(str(PACKAGE / "reports" / "paper.toml"), tmp_path) == "rethinking/reports/paper.toml"
    shipped = shipped_sweeps()["laptop/figure1a"]  # from whatever folder the command ran in
    assert portable_path(str(shipped), tmp_path).endswith("pipelines/laptop/figure1a.toml")
    assert source_name(portable_path(str(shipped), tmp_path)) == "the shipped sweep laptop/figure1a"
    assert portable_path(str(tmp_path / "a" / "b.csv"), tmp_path) == "a/b.csv"
    assert portable_path("/elsewhere/data.npz", tmp_path) == "data.npz"
    assert portable({"cmd": "rethinking train --dataset /elsewhere/data.npz", "n": 3}, tmp_path) == {
        "cmd": "rethinking train --dataset data.npz", "n": 3}
