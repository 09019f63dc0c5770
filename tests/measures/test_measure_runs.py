"""Measuring finished runs: ``measure_run``, ``rethinking measure``, ``train --measures`` and sweeps."""

from __future__ import annotations

import dataclasses
import json

import keras
import numpy as np
import pytest

from rethinking.measures.run import MEASURE_NAMES, MEASURES_FILE, initial_network, measure_run
from rethinking.training import rundir, train
from rethinking.training.finished_run import load_run
from tests.training.helpers import digits_run


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished 2-epoch MLP run on 300 digits, partial labels (both kinds of examples)."""
    config = digits_run(tmp_path_factory.mktemp("logs"), labels="partial")
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, train_examples=300))
    train(config)
    return rundir.run_dir(config)


@pytest.mark.slow
def test_a_run_keeps_its_initial_weights_and_an_older_run_rebuilds_the_same_ones(finished):
    loaded = load_run(finished)
    saved, source = initial_network(finished, loaded.model, loaded.config)
    assert source == "saved"
    (finished / rundir.INITIAL_WEIGHTS).rename(finished / "moved.weights.h5")
    try:
        rebuilt, source = initial_network(finished, loaded.model, loaded.config)
    finally:
        (finished / "moved.weights.h5").rename(finished / rundir.INITIAL_WEIGHTS)
    assert source == "rebuilt"
    for a, b in zip(saved.trainable_weights, rebuilt.trainable_weights):
        assert np.array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    # ... and they are not the trained weights.
    assert not np.array_equal(keras.ops.convert_to_numpy(saved.trainable_weights[0]),
                              keras.ops.convert_to_numpy(loaded.model.trainable_weights[0]))


@pytest.mark.slow
def test_rethinking_measure_writes_measures_json_prints_a_table_and_reads_it_back(cli, finished):
    code, out, err = cli("measure", str(finished), "--examples", "128")
    assert code == 0, err
    record = json.loads((finished / MEASURES_FILE).read_text())
    assert set(record["measures"]) == set(MEASURE_NAMES)
    measures = record["measures"]
    results = json.loads((finished / rundir.RESULTS_FILE).read_text())
    assert record["generalization_gap"] == pytest.approx(results["train_accuracy"] - results["test_accuracy"])
    assert record["initial_weights"] == "saved" and record["examples"] == 128
    assert measures["path_norm"] > 0 and measures["path_norm_squared"] == pytest.approx(measures["path_norm"] ** 2)
    assert measures["distance_from_init"] > 0 and measures["spectral_complexity_init"] > 0
    assert measures["parameter_count"] == 64 * 512 + 512 + 512 * 10 + 10  # digits are 8x8, one channel
    assert measures["vc_bound"] > 1  # 38k parameters, 300 examples: vacuous
    assert len(record["normalized_margin_percentiles"]) == 99
    assert record["normalized_margin_percentiles"] == sorted(record["normalized_margin_percentiles"])
    assert finished.name in out and "path norm" in out and "[1/1]" in err
    written = (finished / MEASURES_FILE).stat().st_mtime_ns
    assert cli("measure", str(finished), "--examples", "128")[0] == 0
    assert (finished / MEASURES_FILE).stat().st_mtime_ns == written  # read back, not recomputed
    again = measure_run(finished, examples=128, overwrite=True)
    assert again["measures"] == measures  # every draw is seeded


@pytest.mark.slow
def test_measure_refuses_what_is_not_a_finished_run_in_one_line(cli, finished, tmp_path):
    code, _, err = cli("measure", str(tmp_path))
    assert code == 2 and "is not a run folder" in err and "Traceback" not in err
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    for name in (rundir.CONFIG_FILE, rundir.RESULTS_FILE):
        (unfinished / name).write_text((finished / name).read_text())
    results = json.loads((finished / rundir.RESULTS_FILE).read_text())
    (unfinished / rundir.RESULTS_FILE).write_text(json.dumps({**results, "status": "running"}))
    code, _, err = cli("measure", str(unfinished))
    assert code == 2 and "has not completed" in err and len(err.strip().splitlines()) == 1
    assert not (unfinished / MEASURES_FILE).exists()
    assert cli("measure", str(finished), "--examples", "0")[0] == 2


@pytest.mark.slow
def test_train_with_measures_measures_the_run_and_it_stays_the_same_run(cli, tmp_path):
    # The MLP: measuring the default small Inception takes 17 s here (20 convolutions' power iterations);
    # the measures of convolutions and folded batch norm have tests of their own (test_operators_and_norms).
    args = ["train", "--dataset", "digits", "--model", "mlp_1x512", "--train-examples", "200", "--epochs", "1",
            "--batch-size", "50", "--log-dir", str(tmp_path)]
    code, out, err = cli(*args)
    assert code == 0, err
    (run,) = [p for p in (tmp_path / "default").iterdir() if p.is_dir()]  # (beside it: the HParams config)
    assert not (run / MEASURES_FILE).exists()
    code, out, err = cli(*args, "--measures")  # the same run (measuring is not part of its identity)
    assert code == 0, err
    assert "Already complete" in out and (run / MEASURES_FILE).is_file() and "path norm" in out
    assert [p for p in (tmp_path / "default").iterdir() if p.is_dir()] == [run]
