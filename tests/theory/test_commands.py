"""The theory commands: what they print, the JSON they write, and one-line usage errors."""

from __future__ import annotations

import json

import pytest



def test_expressivity_fits_random_labels_and_reports_the_count(cli, tmp_path):
    code, out, _ = cli("expressivity", "--n", "300", "--labels", "random", "--depth", "3",
                       "--out", str(tmp_path / "e.json"), "--save", str(tmp_path / "e.keras"))
    assert code == 0
    assert "parameters: 664 = 2n + d = 2 x 300 + 64 (exact)" in out
    assert "hidden layer widths: 103, 103, 103" in out
    values = json.loads((tmp_path / "e.json").read_text())
    assert values["parameters"] == 664 and values["relative_max_error"] < 1e-6 and values["corruption_prob"] == 1.0
    assert (tmp_path / "e.keras").stat().st_size > 0


@pytest.mark.slow
def test_kernel_interpolates_digits(cli, tmp_path):
    code, out, _ = cli("kernel", "--n", "600", "--test-n", "200", "--out", str(tmp_path / "k.json"))
    assert code == 0 and "training error 0.00%" in out and "solver: cholesky" in out
    values = json.loads((tmp_path / "k.json").read_text())
    assert values["train_error"] == 0.0 and values["test_error"] < 0.1 and values["n_train"] == 600


def test_linear_shows_sgd_reaching_the_minimum_norm_solution(cli):
    code, out, _ = cli("linear", "--n", "20", "--test-n", "100", "--epochs", "2000")
    assert code == 0 and "n < d: many solutions" in out
    distance = float(out.split("||W_sgd - W_min|| / ||W_min|| = ")[1].split()[0])
    assert distance < 1e-9


@pytest.mark.slow
@pytest.mark.parametrize("args,message", [
    (["expressivity", "--n", "5000"], "exceeds the 1,438 examples"),
    (["expressivity", "--n", "10", "--depth", "11"], "--depth 11 exceeds --n 10"),
    (["expressivity", "--n", "10", "--save", "model.h5"], "give it a .keras name"),
    (["expressivity", "--labels", "partial"], "needs a corruption probability"),
    (["kernel", "--gamma", "-1"], "gamma must be a positive number"),
    (["kernel", "--ridge", "-1"], "ridge must be >= 0"),
    (["kernel", "--labels", "random", "--corruption-prob", "0.5"], "corruption_prob applies only to labels='partial'"),
    (["kernel", "--dataset", "no_such.npz"], "No dataset file at no_such.npz"),
    (["linear", "--corruption-prob", "2", "--labels", "partial"], "[0, 1]"),
])
def test_bad_inputs_exit_2_with_one_line(cli, args, message):
    code, out, err = cli(*args)
    assert code == 2 and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.slow
def test_a_gram_matrix_larger_than_free_memory_is_refused_before_any_work(cli, monkeypatch):
    from rethinking.theory import kernels

    monkeypatch.setattr(kernels, "available_memory_bytes", lambda: 4_000_000)  # 4 MB free
    code, _, err = cli("kernel", "--n", "1000")
    assert code == 2
    assert "the 1,000 x 1,000 Gram matrix needs 0.01 GB in float64 but 0.00 GB are free: use --n 670 or less or " \
           "--dtype float32" in err


@pytest.mark.slow
def test_kernel_on_random_conv_features(cli, tmp_path):
    code, out, err = cli("kernel", "--features", "random-conv", "--filters", "32", "--kernel", "linear",
                         "--out", str(tmp_path / "f.json"))
    assert code == 0 and "random conv features of 1,438 training" in out and "(d = 256)" in out
    values = json.loads((tmp_path / "f.json").read_text())
    assert values["features"] == "random-conv" and values["filters"] == 32 and values["test_error"] < 0.1


@pytest.mark.slow
def test_kernel_in_float32_with_small_blocks_gives_the_same_answer(cli, tmp_path):
    for name, extra in (("a", []), ("b", ["--dtype", "float32", "--block-rows", "100"])):
        code, _, _ = cli("kernel", "--n", "400", "--test-n", "200", "--out", str(tmp_path / f"{name}.json"), *extra)
        assert code == 0
    a, b = (json.loads((tmp_path / f"{n}.json").read_text()) for n in "ab")
    assert b["dtype"] == "float32" and a["dtype"] == "float64"
    assert a["train_error"] == b["train_error"] == 0.0 and abs(a["test_error"] - b["test_error"]) <= 0.01


@pytest.mark.slow
@pytest.mark.parametrize("command", ["expressivity", "kernel", "linear"])
def test_every_theory_command_reads_from_the_given_data_dir(cli, tmp_path, tfds_dir, monkeypatch, command):
    monkeypatch.setenv("RETHINKING_OFFLINE", "1")  # fail fast instead of downloading
    other = tmp_path / "elsewhere"  # not $TFDS_DATA_DIR (that is tfds_dir)
    other.mkdir()
    code, _, err = cli(command, "--dataset", "cifar10", "--data-dir", str(other))
    assert code == 1
    assert str(other / "downloads" / "manual") in err and str(tfds_dir) not in err
