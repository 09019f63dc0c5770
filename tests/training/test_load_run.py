"""Results you can pick up: model.keras in every completed run, load_run, and loading in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

import rethinking
from rethinking.models import MODELS
from rethinking.training import train
from tests.training.helpers import digits_run

ROOT = Path(__file__).resolve().parents[2]


def _fresh_python(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=300)


# FusedBatchNormalization and LocalResponseNormalization: the toolkit's layers in its paper models.
SAVED = ("inception_small", "alexnet_small")


@pytest.mark.slow
def test_keras_files_of_toolkit_models_load_in_a_fresh_process_after_import_rethinking(tmp_path):
    x = np.random.RandomState(0).rand(2, 16, 16, 3).astype("float32")
    np.save(tmp_path / "x.npy", x)
    for name in SAVED:  # both files in each fresh process: one start-up of TensorFlow each, not four
        model = MODELS[name]((16, 16, 3), 10, width_multiplier=0.25)
        model.save(tmp_path / f"{name}.keras")
        np.save(tmp_path / f"{name}.npy", model.predict(x, verbose=0))
    done = _fresh_python(f"""
        import numpy as np
        import rethinking  # imports no TensorFlow; registers the toolkit's layers once Keras loads
        import keras
        for name in {SAVED!r}:
            m = keras.saving.load_model(name + ".keras")
            np.testing.assert_allclose(m.predict(np.load("x.npy"), verbose=0), np.load(name + ".npy"), rtol=1e-5,
                                       atol=1e-6)
            print("loaded", name, type(m.layers[2]).__name__)
    """, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [line.split()[1] for line in done.stdout.splitlines() if line.startswith("loaded")] == list(SAVED)
    # Without `import rethinking` Keras cannot find the layers; its message shows what to import.
    failed = _fresh_python(f"""
        import keras
        for name in {SAVED!r}:
            try:
                keras.saving.load_model(name + ".keras")
            except Exception as err:
                print("refused:", name, str(err).replace(chr(10), " "))
    """, tmp_path)
    refusals = [line for line in failed.stdout.splitlines() if line.startswith("refused:")]
    assert [line.split()[1] for line in refusals] == list(SAVED), failed.stdout[-2000:]
    assert all("'load_with': 'import rethinking'" in line for line in refusals), failed.stdout[-2000:]


@pytest.mark.slow
def test_a_completed_run_saves_model_keras_and_load_run_returns_it(tmp_path):
    config = digits_run(tmp_path, epochs=2, run_name="r")
    results = train(config)
    run = rethinking.load_run(tmp_path / "default" / "r")
    assert run.config == config and run.results["status"] == results["status"] == "finished"
    assert isinstance(run.model, keras.Model) and run.model.count_params() > 0
    weights = dict(zip([w.path for w in run.model.weights], [w.numpy() for w in run.model.weights]))
    fresh = MODELS["mlp_1x512"]((8, 8, 1), 10)
    fresh.load_weights(tmp_path / "default" / "r" / "final.weights.h5")
    assert all(np.array_equal(weights[w.path], w.numpy()) for w in fresh.weights)  # model.keras = final weights


@pytest.mark.slow
def test_load_run_refuses_what_is_not_a_completed_run(tmp_path):
    with pytest.raises(ValueError, match="is not a run folder"):
        rethinking.load_run(tmp_path)
    config = digits_run(tmp_path, epochs=1, run_name="r")
    train(config)
    run = tmp_path / "default" / "r"
    results = json.loads((run / "results.json").read_text())
    (run / "results.json").write_text(json.dumps({**results, "status": "interrupted"}))
    with pytest.raises(ValueError, match="has not completed .*--resume"):
        rethinking.load_run(run)
    (run / "results.json").write_text(json.dumps(results))
    (run / "model.keras").unlink()
    with pytest.raises(ValueError, match="no readable model.keras"):
        rethinking.load_run(run)
    again = train(config)  # a completed run missing its model.keras is repaired
    assert not again.get("already_complete") and (run / "model.keras").is_file()
    assert rethinking.load_run(run).results["status"] == "finished"
