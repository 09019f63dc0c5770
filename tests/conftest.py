"""Test setup shared by the whole suite.

Two logical CPU devices are configured before TensorFlow initializes its devices, so that
MirroredStrategy can run 2 replicas on a CPU-only machine, after ``rethinking.runtime.configure()``
(as every ``rethinking`` command does) so the tests run the kernels users get. ``RETHINKING_OFFLINE=1`` makes every
network probe answer "offline": no test may touch the network.

A test process keeps the data pipelines of its recent runs for later runs on the same data
(``rethinking.data.reuse``, as any process does): a test that patches the data layer and then
trains calls ``reuse.forget_pipelines()`` first, or an earlier test's pipeline may be used.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["RETHINKING_OFFLINE"] = "1"

import pytest  # noqa: E402


def pytest_configure(config):
    """Sets up TensorFlow in each process that runs tests; pytest-xdist's controller, which only
    hands tests to its workers, never imports it (about 4 s of CPU at the start, while the workers
    import it too)."""
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        return
    from rethinking import runtime

    runtime.configure()
    # As the commands import it (the cli fixture runs them in this process): Keras' optional
    # imports of scikit-learn, Matplotlib and IPython skipped, 2-4 s of each process's start here.
    with runtime.keras_optional_imports_skipped():
        import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )


@pytest.fixture
def tfds_dir(tmp_path, monkeypatch):
    """An empty TFDS data directory, also set as $TFDS_DATA_DIR."""
    path = tmp_path / "tfds"
    path.mkdir()
    monkeypatch.setenv("TFDS_DATA_DIR", str(path))
    return path


@pytest.fixture
def cli(capsys):
    """Runs ``rethinking ARGS`` in this process: ``cli("train", "--epochs", "1") -> (exit code, stdout, stderr)``."""
    from rethinking.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
