"""How --workers divides a machine: GPUs per worker (shared round robin when short), or CPU cores."""

from __future__ import annotations

import pytest

from rethinking.experiments.workers import visible_gpus, worker_resources


def test_gpus_per_worker_and_sharing_when_there_are_fewer():
    assert worker_resources(2, 2, ["0", "1", "2", "3"], range(8)) == [{"gpus": ["0", "1"]}, {"gpus": ["2", "3"]}]
    assert worker_resources(4, 1, ["0", "1"], range(8)) == [{"gpus": ["0"]}, {"gpus": ["1"]}, {"gpus": ["0"]}, {"gpus": ["1"]}]


def test_cpu_cores_are_split_into_disjoint_sets():
    chunks = [r["cores"] for r in worker_resources(3, 1, [], [0, 1, 2, 3, 4, 5, 6])]
    assert chunks == [[0, 1, 2], [3, 4], [5, 6]]
    with pytest.raises(ValueError, match="--workers 3 needs at least 3 CPU cores"):
        worker_resources(3, 1, [], [0, 1])


def test_visible_gpus_follow_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    assert visible_gpus() == ["2", "5"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert visible_gpus() == []
