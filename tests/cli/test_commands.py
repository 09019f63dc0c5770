"""The command line: output, exit statuses, one-line errors without tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest



def test_datasets_lists_known_datasets_and_offline_status_without_tensorflow(tfds_dir):
    # Prepared by TFDS (a version folder with its dataset_info.json), or its files placed by hand.
    (tfds_dir / "mnist" / "3.0.1").mkdir(parents=True)
    (tfds_dir / "mnist" / "3.0.1" / "dataset_info.json").write_text("{}")
    manual = tfds_dir / "downloads" / "manual"
    manual.mkdir(parents=True)
    (manual / "cifar-100-binary.tar.gz").write_bytes(b"x")
    probe = ("import sys; from rethinking.cli import main; code = main(['datasets', '--data-dir', %r]); "
             "print('exit', code, 'tensorflow' in sys.modules)" % str(tfds_dir))
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120).stdout
    assert out.strip().splitlines()[-1] == "exit 0 False"  # the listing starts no TensorFlow
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line and not line.startswith(("name", "TFDS", "exit"))}
    assert {"digits", "cifar10", "mnist", "imagenet2012"} <= set(rows)
    status = {name: row[6] for name, row in rows.items()}
    assert (status["digits"], status["mnist"], status["cifar100"], status["cifar10"], status["imagenet2012"]) == (
        "yes", "yes", "files", "no", "no")
    assert str(tfds_dir) in out


def test_preview_writes_a_png_of_corrupted_examples(cli, tmp_path):
    out_file = tmp_path / "grid.png"
    code, out, err = cli("preview", "--labels", "partial", "--corruption-prob", "0.5",
                         "--pixels", "shuffled", "--num-images", "16", "--out", str(out_file))
    assert code == 0, err
    assert out_file.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out_file.stat().st_size > 5000
    assert "16 images" in out and "labels changed" in out and "pixels shuffled" in out
    changed = int(out.split("images, ")[1].split(" labels")[0])
    assert 2 <= changed <= 14


def test_preview_of_an_npz_file(cli, tmp_path):
    import numpy as np

    from tests.helpers import make_images, make_labels

    path = tmp_path / "mine.npz"
    np.savez(path, x_train=make_images(20, (32, 32, 3)), y_train=make_labels(20), x_test=make_images(5, (32, 32, 3)),
             y_test=make_labels(5))
    code, out, err = cli("preview", "--dataset", str(path), "--labels", "random", "--random-crop",
                         "--flip", "--num-images", "9", "--out", str(tmp_path / "p.png"))
    assert code == 0, err
    assert (tmp_path / "p.png").exists()


@pytest.mark.parametrize(
    "args, code, fragment",
    [
        (["preview", "--labels", "partial", "--corruption-prob", "1.5"], 2, "must be in [0, 1]"),
        (["preview", "--labels", "true", "--corruption-prob", "0.2"], 2, "applies only to labels='partial'"),
        (["preview", "--labels", "partial"], 2, "needs a corruption probability"),
        (["preview", "--pixels", "sideways"], 2, "'sideways' is not one of"),
        (["preview", "--dataset", "no_such_data"], 2, "Unknown dataset 'no_such_data'"),
        (["preview", "--dataset", "missing.npz"], 2, "No dataset file at missing.npz"),
        (["preview", "--crop-size", "12"], 2, "larger than the 8x8 images"),
        (["preview", "--num-images", "0"], 2, "--num-images"),
        (["preview", "--bogus"], 2, "No such option"),
        (["trainn"], 2, "No such command"),
        (["preview", "--dataset", "cifar10"], 1, "cannot be downloaded"),
    ],
)
def test_errors_are_one_line_with_the_right_status(cli, tfds_dir, args, code, fragment):
    got, out, err = cli(*args)
    assert got == code
    assert fragment in err
    assert err.startswith("Error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert out == ""


@pytest.mark.slow
def test_console_script_exit_status_and_quiet_stderr(tmp_path):
    env = {**os.environ, "TFDS_DATA_DIR": str(tmp_path)}
    bad = subprocess.run([sys.executable, "-m", "rethinking.cli", "preview", "--labels", "partial", "--corruption-prob", "2"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr == "Error: The corruption probability must be in [0, 1]. Received: p=2.0\n"
    helped = subprocess.run([sys.executable, "-m", "rethinking.cli", "preview", "--help"], capture_output=True, text=True,
                            env=env, timeout=120)
    assert helped.returncode == 0 and "--corruption-prob" in helped.stdout and "--random-crop" in helped.stdout


def test_verbose_flag_shows_the_library_log(cli, caplog, tfds_dir):
    import logging

    with caplog.at_level(logging.INFO):
        code, out, err = cli("-v", "preview", "--pixels", "gaussian", "--num-images", "4",
                             "--out", str(tfds_dir / "v.png"))
    assert code == 0, err
    assert logging.getLogger("rethinking").level == logging.INFO  # --verbose sets the library's log level
    assert "Wrote" in out
    cli("datasets", "--data-dir", str(tfds_dir))
    assert logging.getLogger("rethinking").level == logging.WARNING


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["train", "--labels", "partial", "--corruption-prob", "1.5"], "must be in [0, 1]"),
        (["train", "--dropout", "1.0"], "dropout is a rate in [0, 1)"),
        (["train", "--model", "resnet50"], "Unknown model 'resnet50': use one of inception_small"),
        (["train", "--model", "inception_small", "--depth", "2"], "depth and units apply only to model 'mlp'"),
        (["train", "--lr-decay", "2"], "lr_decay is a per-epoch factor"),
        (["train", "--fit-threshold", "0"], "fit_threshold is an accuracy"),
        (["train", "--epochs", "0"], "0 is not in the range x>=1"),
        (["train", "--seed", "99999999999999999999"], "'--seed': 99999999999999999999 is not in the range"),
        (["train", "--init-seed", "4294967296"], "'--init-seed': 4294967296 is not in the range"),
        (["train", "--strategy", "multi-worker"], "needs the TF_CONFIG environment variable"),
        (["train", "--resume", "no/such/run"], "is not a run directory"),
        (["train", "--resume", "x", "--overwrite"], "pass one of them"),
        (["train", "--run-name", "a/b"], "run_name must be a non-empty folder name"),
        (["train", "--labels", "human"], "labels='human' takes a label set (--label-set"),
        (["train", "--label-set", "worst"], "a label set applies only to it"),
        (["train", "--labels", "human", "--label-set", "worst"], "'worst' belongs to --dataset cifar10_n"),
        (["train", "--labels", "human", "--label-set", "worst", "--corrupt-test-labels"], "label only the training images"),
        (["train", "--labels", "matrix"], "labels='matrix' takes a transition matrix"),
        (["train", "--labels", "matrix", "--transition", "no/such.csv"], "no such file"),
        (["train", "--labels", "matrix", "--transition", "label-set:best"], "unknown label set 'best'"),
        (["kernel", "--labels", "matrix"], "the theory commands take --labels true, partial or random"),
        (["train", "--pixel-ops", "device", "--color-jitter"], "--pixel-ops device does not run colour jitter"),
        (["train", "--pixel-ops", "gpu"], "'gpu' is not one of 'host', 'device'"),
    ],
)
def test_train_usage_errors_are_one_line_exit_2(cli, monkeypatch, args, fragment):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    code, out, err = cli(*args)
    assert code == 2, err
    assert fragment in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.slow
def test_train_prints_progress_and_a_summary_and_resumes_by_rerunning(cli, tmp_path):
    args = ["train", "--model", "mlp_1x512", "--labels", "random", "--epochs", "2", "--batch-size", "64",
            "--log-dir", str(tmp_path), "--experiment", "cli"]
    code, out, err = cli(*args)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("epoch    0/2") and lines[2].startswith("epoch    2/2")
    assert "train acc" in lines[1] and "corrupted" in lines[1] and "test acc" in lines[1]
    assert any(line.startswith("finished: ") for line in lines) and "chance 10.0%" in out
    run_dir = next(p for p in (tmp_path / "cli").iterdir() if p.is_dir())
    assert run_dir.name.startswith("mlp_1x512-labels_random-pixels_original-seed0-")
    # The same command again: nothing to train, the stored summary.
    code, out, _ = cli(*args)
    assert code == 0 and "Already complete" in out and "epoch " not in out.split("Already")[0]
    # --resume with the folder alone finds the same run.
    code, out, _ = cli("train", "--resume", str(run_dir))
    assert code == 0 and "Already complete" in out


@pytest.mark.slow
def test_train_divergence_exits_1_and_keeps_the_run(cli, tmp_path):
    code, out, err = cli("train", "--model", "mlp_1x512", "--epochs", "2", "--learning-rate", "1e6",
                         "--no-jit-compile", "--log-dir", str(tmp_path), "--run-name", "nan")
    assert code == 1 and "diverged in epoch 1" in err and len(err.strip().splitlines()) == 1
    assert (tmp_path / "default" / "nan" / "config.json").is_file()


def _bad_npz(path, kind: str):
    import numpy as np

    from tests.helpers import make_images, make_labels

    x, y = make_images(30, (8, 8, 1)), make_labels(30, 3)
    xt, yt = make_images(6, (8, 8, 1)), make_labels(6, 3)
    if kind == "nan":
        x = x.astype(np.float32)
        x[3, 2, 2, 0] = np.nan
    elif kind == "inf":
        x = x.astype(np.float32)
        x[0, 0, 0, 0] = np.inf
    elif kind == "stray label":
        y = y.copy()
        y[5] = 1000
    elif kind == "uint64 max label":  # 2**64 - 1 once wrapped to -1 and passed
        y = y.astype(np.uint64)
        y[5] = np.iinfo(np.uint64).max
    elif kind == "huge label":  # 10**12 once asked for a 10**12-class table: "Out of memory"
        y = y.copy()
        y[5] = 10**12
    elif kind == "test-only label":
        yt = yt.copy()
        yt[0] = 57
    elif kind == "empty test":
        xt, yt = xt[:0], yt[:0]
    elif kind == "test shape":
        xt = make_images(6, (9, 9, 1))
    elif kind == "0-d class_names":  # once: TypeError, iteration over a 0-d array
        np.savez(path, x_train=x, y_train=y, x_test=xt, y_test=yt, class_names=np.array("cat"))
        return path
    elif kind == "npy under an npz name":  # once: TypeError, not a context manager
        with open(path, "wb") as f:
            np.save(f, x)
        return path
    np.savez(path, x_train=x, y_train=y, x_test=xt, y_test=yt)
    return path


@pytest.mark.parametrize("kind, fragment", [
    ("nan", "NaN or infinite"), ("inf", "NaN or infinite"), ("stray label", "no example of 997 class"),
    ("uint64 max label", "label 18446744073709551615, too large"), ("huge label", "label 1000000000000, too large"),
    ("test-only label", "y_test holds label 57"), ("empty test", "x_test is empty"), ("test shape", "differ in shape"),
    ("0-d class_names", "class_names must be a 1-d array"), ("npy under an npz name", "as np.save writes"),
])
def test_bad_npz_data_is_refused_in_one_line_and_leaves_no_run_folder(cli, tmp_path, kind, fragment):
    path = _bad_npz(tmp_path / "bad.npz", kind)
    code, out, err = cli("train", "--model", "mlp_1x512", "--dataset", str(path), "--epochs", "1",
                         "--log-dir", str(tmp_path / "logs"))
    assert code == 2 and fragment in err and str(path) in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "logs" / "default").exists() or not any((tmp_path / "logs" / "default").iterdir())


@pytest.mark.slow
def test_environment_errors_are_one_line(cli, tmp_path, monkeypatch):
    import errno

    from rethinking.training import rundir

    common = ["train", "--model", "mlp_1x512", "--epochs", "1", "--batch-size", "64", "--train-examples", "256",
              "--no-jit-compile"]  # small and uncompiled: four of these train
    (tmp_path / "file").write_text("")
    code, _, err = cli(*common, "--log-dir", str(tmp_path / "file" / "logs"))
    assert code == 1 and "is a file, not a folder" in err and err.count("\n") == 1
    code, _, err = cli(*common, "--log-dir", str(tmp_path), "--cache", str(tmp_path / "nowhere" / "c"))
    assert code == 2 and "does not exist; create it" in err and err.count("\n") == 1
    code, _, err = cli(*common, "--log-dir", str(tmp_path / "ro"), "--cache", "/proc/rethinking-cache")
    assert code == 2 and "cannot write in /proc" in err and err.count("\n") == 1  # once a TensorFlow traceback
    assert not (tmp_path / "ro" / "default").exists() or not any((tmp_path / "ro" / "default").iterdir())
    code, _, err = cli(*common, "--log-dir", str(tmp_path), "--learning-rate", "inf")
    assert code == 2 and "learning_rate must be a finite number" in err
    code, _, err = cli(*common, "--model", "mlp", "--units", "1000000000", "--log-dir", str(tmp_path / "big"))
    assert code == 1 and "Out of memory" in err and err.count("\n") == 1
    assert not (tmp_path / "big" / "default").exists() or not any((tmp_path / "big" / "default").iterdir())

    real = rundir.atomic_write_text
    for number, advice, words in ((errno.ENOSPC, "free space", "The disk is full writing"),
                                  (errno.EACCES, "you can write to", "Cannot write")):
        def failing(path, text, number=number):
            if path.name == "metrics.csv":
                raise OSError(number, os.strerror(number), str(path))
            return real(path, text)

        monkeypatch.setattr(rundir, "atomic_write_text", failing)
        code, out, err = cli(*common, "--log-dir", str(tmp_path / f"e{number}"))
        assert code == 1 and words in err and "metrics.csv" in err and advice in err, err
        assert err.count("\n") == 1 and "Traceback" not in err
        monkeypatch.setattr(rundir, "atomic_write_text", real)
        # The folder stays consistent: the same command then trains the run to the end.
        code, out, err = cli(*common, "--log-dir", str(tmp_path / f"e{number}"))
        assert code == 0, err
        assert "finished" in out


@pytest.mark.parametrize("args", [
    ["--help"], ["train", "--help"], ["run", "--help"], ["kernel", "--help"],
    ["train", "--labels", "bogus"], ["train", "--labels", "partial", "--corruption-prob", "1.5"],
    ["train", "--learning-rate", "inf"], ["run", "missing.toml"], ["expressivity", "--labels", "partial"],
])
def test_help_and_usage_errors_answer_without_starting_tensorflow(args):
    probe = ("import sys; from rethinking.cli import main; code = main(%r); "
             "print('exit', code, 'tensorflow' in sys.modules, file=sys.stderr)" % (args,))
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    last = out.stderr.strip().splitlines()[-1]
    expected = 0 if "--help" in args else 2
    assert last == f"exit {expected} False", out.stderr[-1000:]


def test_given_arguments_repeat_what_the_user_typed_and_nothing_else():
    import click
    from click.testing import CliRunner

    from rethinking.cli.base import given_arguments

    seen: list[list[str]] = []

    @click.command()
    @click.argument("name")
    @click.option("--epochs", type=int, default=5)
    @click.option("--augment/--no-augment", default=True)
    @click.option("--verbose", is_flag=True)
    @click.option("--only", multiple=True)
    @click.option("--workers", type=int, default=1)
    def command(**_: object) -> None:
        seen.append(given_arguments(click.get_current_context(), ("workers",)))

    typed = ["sweep.toml", "--no-augment", "--only", "a=1", "--only", "b=2", "--verbose", "--workers", "3"]
    assert CliRunner().invoke(command, typed).exit_code == 0
    assert seen[-1] == ["sweep.toml", "--no-augment", "--verbose", "--only=a=1", "--only=b=2"]
    assert CliRunner().invoke(command, ["x", "--epochs", "7"]).exit_code == 0
    assert seen[-1] == ["x", "--epochs=7"]  # defaults are not repeated
    assert CliRunner().invoke(command, seen[-1]).exit_code == 0 and seen[-1] == ["x", "--epochs=7"]


def test_tune_refuses_max_trials_with_hyperband_in_one_line(cli):
    code, _, err = cli("tune", "--dataset", "digits", "--max-trials", "4")
    assert code == 2 and "Hyperband sizes itself" in err and "--algorithm random" in err and "Traceback" not in err


def test_an_empty_or_textual_transition_file_is_one_line_exit_2(cli, tmp_path):
    import numpy as np

    empty, words = tmp_path / "empty.npy", tmp_path / "words.npy"
    empty.write_bytes(b"")  # once: "Aborted." with exit status 130
    np.save(words, np.array([["a", "b"], ["c", "d"]]))  # once: a line that did not name the file
    for path, fragment in ((empty, "cannot read a matrix"), (words, "a transition matrix holds numbers")):
        code, _, err = cli("train", "--labels", "matrix", "--transition", str(path), "--epochs", "1",
                           "--log-dir", str(tmp_path / "logs"))
        assert code == 2 and str(path) in err and fragment in err and err.count("\n") == 1, err
