"""A researcher's builder in a module of their own (outside the package): train, run, errors."""

from __future__ import annotations

import json
import textwrap

import pytest

BUILDER = '''
import keras


def tiny(input_shape, num_classes, *, dropout=0.0, weight_decay=0.0):
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(16, activation="relu", kernel_regularizer=keras.regularizers.L2(weight_decay / 2) if weight_decay else None)(x)
    x = keras.layers.Dropout(dropout)(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes)(x), name="tiny")


def not_a_model(input_shape, num_classes):
    return "a string"
'''


@pytest.fixture
def my_nets(tmp_path, monkeypatch):
    """A module ``my_nets`` on the import path, as a user's own package would be."""
    folder = tmp_path / "user_code"
    folder.mkdir()
    (folder / "my_nets.py").write_text(BUILDER)
    monkeypatch.syspath_prepend(str(folder))
    return folder


@pytest.mark.slow
def test_train_a_builder_of_your_own(cli, my_nets, tmp_path):
    code, out, err = cli("train", "--model", "my_nets:tiny", "--dataset", "digits", "--labels", "random", "--epochs", "2",
                         "--batch-size", "64", "--dropout", "0.1", "--log-dir", str(tmp_path / "logs"), "--run-name", "r")
    assert code == 0, err
    run = tmp_path / "logs" / "default" / "r"
    assert json.loads((run / "config.json").read_text())["model"]["name"] == "my_nets:tiny"
    results = json.loads((run / "results.json").read_text())
    assert results["status"] == "finished" and results["epochs_trained"] == 2
    assert "--model my_nets:tiny" in results["command"]


@pytest.mark.slow
def test_a_one_run_sweep_with_your_builder(cli, my_nets, tmp_path):
    sweep = tmp_path / "mine.toml"
    sweep.write_text(textwrap.dedent(f'''
        [sweep]
        name = "mine"
        reports = ["table1"]

        [base]
        data = {{ dataset = "digits" }}
        model = {{ name = "my_nets:tiny" }}
        train = {{ epochs = 1, batch_size = 64 }}
        log_dir = "{tmp_path / 'logs'}"

        [[grid]]
        "data.corruption" = [{{ labels = "random" }}]
    '''))
    code, out, err = cli("run", str(sweep))
    assert code == 0, err
    table = json.loads((tmp_path / "logs" / "mine" / "results.json").read_text())
    assert [r["model"] for r in table["runs"]] == ["my_nets:tiny"] and table["runs"][0]["status"] == "finished"
    code, out, err = cli("report", str(tmp_path / "logs" / "mine"))
    assert code == 0 and "my_nets:tiny" in (tmp_path / "logs" / "mine" / "report" / "report.md").read_text()


@pytest.mark.parametrize("args, fragment", [
    (["--model", "my_nets:tiny", "--width-multiplier", "2"], "does not take width_multiplier=2.0 (it takes dropout, weight_decay)"),
    (["--model", "my_nets:missing"], "Cannot load model builder 'my_nets:missing'"),
    (["--model", "nowhere_module:net"], "No module named 'nowhere_module'"),
    (["--model", "my_nets:not_a_model"], "returned str, not a keras.Model"),
    (["--model", "my_nets:tiny", "--depth", "2"], "does not take depth=2"),
    (["--model", "os:getcwd"], "--model os:getcwd is not a model builder"),  # a function, not a builder: once TypeError
    (["--model", "os:sep"], "names str, not a function"),
])
def test_a_builder_that_cannot_serve_is_one_line_exit_2(cli, my_nets, tmp_path, args, fragment):
    code, out, err = cli("train", *args, "--dataset", "digits", "--epochs", "1", "--log-dir", str(tmp_path / "logs"))
    assert code == 2 and fragment in err and err.count("\n") == 1, err
    assert not (tmp_path / "logs" / "default").exists() or not any((tmp_path / "logs" / "default").iterdir())


@pytest.mark.slow
def test_tune_searches_your_builder(cli, my_nets, tmp_path):
    out_file = tmp_path / "best.toml"
    code, out, err = cli("tune", "--model", "my_nets:tiny", "--train-examples", "200", "--epochs", "1",
                         "--algorithm", "random", "--max-trials", "1", "--batch-sizes", "32",
                         "--log-dir", str(tmp_path / "logs"), "--write-sweep", str(out_file))
    assert code == 0, err
    assert str(tmp_path / "logs" / "tune-tiny") in out and "best: learning rate" in out
    assert 'name = "my_nets:tiny"' in out_file.read_text()
