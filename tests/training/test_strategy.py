"""The distribution seam: every strategy name, TF_CONFIG errors, and a real two-worker run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import tensorflow as tf

from rethinking.training.strategy import check_tf_config, get_strategy, is_chief, uses_keras_fit, worker_id
from tests.training.helpers import same_weights


def test_local_strategies():
    assert get_strategy("default") is tf.distribute.get_strategy()
    assert get_strategy("auto").num_replicas_in_sync == 1  # no GPU here: the default strategy
    one = get_strategy("one-device")
    assert isinstance(one, tf.distribute.OneDeviceStrategy)
    mirrored = get_strategy("mirrored")  # conftest: two logical CPU devices
    assert isinstance(mirrored, tf.distribute.MirroredStrategy) and mirrored.num_replicas_in_sync == 2
    for strategy in (one, mirrored):
        assert uses_keras_fit(strategy) and is_chief(strategy) and worker_id(strategy) == 0


def test_unknown_strategy():
    with pytest.raises(ValueError, match="Unknown strategy 'horovod': use one of auto, default"):
        get_strategy("horovod")


def test_tpu_without_a_tpu_is_a_clear_error():
    with pytest.raises(ValueError, match="--strategy tpu found no TPU here"):
        get_strategy("tpu")


@pytest.mark.parametrize("text, message", [
    (None, "needs the TF_CONFIG environment variable"),
    ("not json", "TF_CONFIG is not a valid multi-worker cluster"),
    ('{"cluster": {"worker": []}, "task": {"type": "worker", "index": 0}}', "not a valid multi-worker cluster"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "ps", "index": 0}}', "not a valid multi-worker cluster"),
])
def test_tf_config_errors(text, message):
    with pytest.raises(ValueError, match=message):
        check_tf_config(text)


def test_multi_worker_strategy_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="--strategy multi-worker needs the TF_CONFIG"):
        get_strategy("multi-worker")


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_on_localhost_train_to_identical_weights(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    command = [sys.executable, "-m", "rethinking.cli", "train", "--strategy", "multi-worker", "--model", "mlp_1x512",
               "--labels", "random", "--epochs", "2", "--batch-size", "64", "--log-dir", str(tmp_path), "--run-name", "mw"]
    processes = []
    for index in range(2):
        env = {**os.environ, "RETHINKING_OFFLINE": "1",
               "TF_CONFIG": json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})}
        processes.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    try:
        outputs = [p.communicate(timeout=420) for p in processes]
    finally:
        for p in processes:
            p.kill()
    for p, (out, err) in zip(processes, outputs):
        assert p.returncode == 0, err[-3000:]
    run = tmp_path / "default" / "mw"
    results = json.loads((run / "results.json").read_text())
    assert results["status"] == "finished" and results["strategy"] == "multi-worker"
    assert results["replicas"] == 2 and results["epochs_trained"] == 2
    assert "epoch    2/2" in outputs[0][0]
    worker = run / "workers" / "worker-1"
    assert (worker / "checkpoints" / "latest.json").is_file()
    assert same_weights(run / "final.weights.h5", worker / "final.weights.h5")
    # Only the chief writes the run's files.
    assert not (worker / "results.json").exists() and not (worker / "metrics.csv").exists()
