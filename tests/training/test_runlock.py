"""One writer per run directory: the lock file, stale locks, and two real processes on one run."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rethinking.training import runlock
from rethinking.training.runlock import LOCK_FILE, LockLost, RunLock, RunLocked

CLI = [sys.executable, "-m", "rethinking.cli"]


def _write_lock(directory: Path, **values) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    base = {"host": socket.gethostname(), "pid": os.getpid(), "token": "t", "started": time.time(),
            "heartbeat": time.time(), "process_start": None}
    (directory / LOCK_FILE).write_text(json.dumps({**base, **values}))


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_lock_excludes_a_second_owner_until_released(tmp_path):
    with RunLock(tmp_path / "run") as first:
        held = json.loads((tmp_path / "run" / LOCK_FILE).read_text())
        assert held["pid"] == os.getpid() and held["host"] == socket.gethostname() and held["token"] == first.token
        with pytest.raises(RunLocked, match=f"in use by process {os.getpid()} on {socket.gethostname()}"):
            RunLock(tmp_path / "run").acquire()
        first.check()
    assert not (tmp_path / "run" / LOCK_FILE).exists()
    with RunLock(tmp_path / "run"):  # free again
        pass


@pytest.mark.parametrize("holder, stale", [
    (dict(pid=None), True),                                                   # dead process, this host
    (dict(), True),                                                           # our PID, a token we never wrote
    (dict(host="elsewhere", pid=1, heartbeat=time.time() - 3600), True),      # other host, heartbeat stale
    (dict(host="elsewhere", pid=1), False),                                   # other host, fresh heartbeat
    (dict(pid=1), False),                                                     # a live process here (init)
])
def test_stale_locks_are_taken_over_and_live_ones_are_not(tmp_path, holder, stale):
    if holder.get("pid", 0) is None:
        holder["pid"] = _dead_pid()
    _write_lock(tmp_path, **holder)
    lock = RunLock(tmp_path)
    if stale:
        with lock:
            assert lock.taken_over is not None and lock.owns()
    else:
        with pytest.raises(RunLocked, match="in use by process"):
            lock.acquire()
        assert json.loads((tmp_path / LOCK_FILE).read_text())["token"] == "t"  # untouched


def test_a_garbled_lock_file_is_taken_over(tmp_path):
    (tmp_path / LOCK_FILE).write_text("{not json")
    with RunLock(tmp_path) as lock:
        assert lock.owns()


def test_heartbeat_refreshes_the_lock_and_a_lost_lock_is_noticed(tmp_path):
    lock = RunLock(tmp_path, heartbeat_seconds=0.05).acquire()
    try:
        first = json.loads((tmp_path / LOCK_FILE).read_text())["heartbeat"]
        time.sleep(0.3)
        assert json.loads((tmp_path / LOCK_FILE).read_text())["heartbeat"] > first
        _write_lock(tmp_path, host="elsewhere", token="other")  # another machine took it over
        with pytest.raises(LockLost, match="no longer owned by this process"):
            lock.check()
    finally:
        lock.release()
    assert json.loads((tmp_path / LOCK_FILE).read_text())["token"] == "other"  # release left theirs alone


def test_process_start_time_tells_a_reused_pid_from_its_owner(tmp_path):
    start = runlock.process_start(os.getpid())
    assert isinstance(start, int)
    holder = runlock.Holder(host=socket.gethostname(), pid=1, token="x", started=0, heartbeat=0,
                            process_start=(runlock.process_start(1) or 0) + 1)
    assert runlock.is_stale(holder)  # PID 1 is alive, but it is not the process that wrote the lock


def _train_command(log_dir: Path, epochs: int) -> list[str]:
    return [*CLI, "train", "--model", "mlp_1x512", "--labels", "random", "--batch-size", "32", "--learning-rate",
            "0.03", "--lr-decay", "0.99", "--epochs", str(epochs), "--log-dir", str(log_dir), "--run-name", "r"]


def _wait_for_epoch(run: Path, epoch: int, process: subprocess.Popen, timeout: float = 300) -> None:
    latest = run / "checkpoints" / "latest.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if json.loads(latest.read_text())["epoch"] >= epoch:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"the run did not reach epoch {epoch}")


@pytest.mark.slow
def test_two_processes_on_one_run_one_trains_and_a_killed_holder_is_taken_over(tmp_path):
    env = {**os.environ, "RETHINKING_OFFLINE": "1"}
    run = tmp_path / "default" / "r"
    first = subprocess.Popen(_train_command(tmp_path, 40), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        _wait_for_epoch(run, 1, first)
        second = subprocess.run(_train_command(tmp_path, 40), capture_output=True, text=True, env=env, timeout=120)
        assert second.returncode == 1
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and f"in use by process {first.pid}" in lines[0], second.stderr
        assert "Traceback" not in second.stderr
        _wait_for_epoch(run, 3, first)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    held = json.loads((run / LOCK_FILE).read_text())
    assert held["pid"] == first.pid  # the killed holder's lock is still there
    third = subprocess.run(_train_command(tmp_path, 40), capture_output=True, text=True, env=env, timeout=900)
    assert third.returncode == 0, third.stderr[-2000:]
    assert not (run / LOCK_FILE).exists()
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == list(range(41))  # every epoch exactly once
    assert json.loads((run / "results.json").read_text())["status"] == "finished"
