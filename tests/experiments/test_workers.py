"""How --workers divides a machine: GPUs per worker (shared round robin when short), or CPU cores."""

from __future__ import annotations

import pytest

from rethinking.experiments.workers import visible_gpus, worker_resources
from tests.experiments.helpers import digits_sweep


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


@pytest.mark.slow
def test_sigterm_to_the_parent_stops_its_workers_and_the_table_is_written(tmp_path):
    """A scheduler's SIGTERM reaches only `rethinking run --workers 2`: its workers must stop too."""
    import json
    import os
    import re
    import signal
    import subprocess
    import sys
    import time

    sweep = digits_sweep(tmp_path, "long", 2, epochs=2000, train_examples=200, batch_size=50)
    parent = subprocess.Popen([sys.executable, "-m", "rethinking.cli", "run", str(sweep), "--workers", "2"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pids, seen, deadline = [], set(), time.monotonic() + 300
    for line in parent.stdout:  # until both workers are training
        pids += [int(p) for p in re.findall(r"started \(pid (\d+)", line)]
        seen |= set(re.findall(r"\[worker (\d)\] \[1/2\]   epoch", line))
        if len(seen) == 2 or time.monotonic() > deadline:
            break
    assert len(pids) == 2 and len(seen) == 2
    parent.send_signal(signal.SIGTERM)
    rest = parent.communicate(timeout=120)[0]
    assert parent.returncode == 130 and "the workers were stopped" in rest
    for pid in pids:  # no worker is left running without its parent
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    table = json.loads((tmp_path / "logs" / "long" / "results.json").read_text())["runs"]
    assert len(table) == 2 and all(r["status"] != "finished" for r in table)


@pytest.mark.slow
def test_a_worker_killed_mid_run_is_replaced_its_runs_finish_and_the_sweep_says_so(tmp_path):
    """One of two workers SIGKILLed: once, the parent waited on worker 0, the dead worker stayed a
    zombie whose lock looked alive, its run stayed pending and the parent exited 0."""
    import json
    import os
    import re
    import signal
    import subprocess
    import sys
    import time

    sweep = digits_sweep(tmp_path, "killed", 4, epochs=16, train_examples=200, batch_size=50)
    parent = subprocess.Popen([sys.executable, "-m", "rethinking.cli", "run", str(sweep), "--workers", "2"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines, victim, deadline = [], None, time.monotonic() + 300
    for line in parent.stdout:  # until worker 1 is training a run
        lines.append(line)
        if victim is None and (m := re.search(r"\[worker 1\] started \(pid (\d+)", line)):
            victim = int(m.group(1))
        if re.search(r"\[worker 1\] \[\d+/\d+\]\s+epoch", line) or time.monotonic() > deadline:
            break
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    rest = parent.communicate(timeout=600)[0]
    assert parent.returncode == 1, rest
    assert "[worker 1] was killed by SIGKILL; a replacement takes over its runs" in rest
    assert "a worker ended with status 137" in rest
    table = json.loads((tmp_path / "logs" / "killed" / "results.json").read_text())["runs"]
    assert len(table) == 4 and all(r["status"] == "finished" for r in table), table  # the killed run was taken over
    with pytest.raises(ProcessLookupError):  # reaped: no zombie left behind
        os.kill(victim, 0)
