"""The command line: output, exit statuses, one-line errors without tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from rethinking.cli import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_datasets_lists_known_datasets_and_offline_status(capsys, tfds_dir):
    code, out, _ = run(capsys, "datasets", "--data-dir", str(tfds_dir))
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines() if line and not line.startswith(("name", "TFDS"))}
    assert {"digits", "cifar10", "mnist", "imagenet2012"} <= set(rows)
    assert " yes " in rows["digits"] and " no " in rows["cifar10"]
    assert str(tfds_dir) in out


def test_preview_writes_a_png_of_corrupted_examples(capsys, tmp_path):
    out_file = tmp_path / "grid.png"
    code, out, err = run(capsys, "preview", "--labels", "partial", "--corruption-prob", "0.5",
                         "--pixels", "shuffled", "--num-images", "16", "--out", str(out_file))
    assert code == 0, err
    assert out_file.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out_file.stat().st_size > 5000
    assert "16 images" in out and "labels changed" in out and "pixels shuffled" in out
    changed = int(out.split("images, ")[1].split(" labels")[0])
    assert 2 <= changed <= 14


def test_preview_of_an_npz_file(capsys, tmp_path):
    import numpy as np

    from tests.helpers import make_images, make_labels

    path = tmp_path / "mine.npz"
    np.savez(path, x_train=make_images(20, (32, 32, 3)), y_train=make_labels(20), x_test=make_images(5, (32, 32, 3)),
             y_test=make_labels(5))
    code, out, err = run(capsys, "preview", "--dataset", str(path), "--labels", "random", "--random-crop",
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
def test_errors_are_one_line_with_the_right_status(capsys, tfds_dir, args, code, fragment):
    got, out, err = run(capsys, *args)
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


def test_verbose_flag_shows_the_library_log(capsys, caplog, tfds_dir):
    import logging

    with caplog.at_level(logging.INFO):
        code, out, err = run(capsys, "-v", "preview", "--pixels", "gaussian", "--num-images", "4",
                             "--out", str(tfds_dir / "v.png"))
    assert code == 0, err
    assert logging.getLogger("rethinking").level == logging.INFO  # --verbose sets the library's log level
    assert "Wrote" in out
    run(capsys, "datasets", "--data-dir", str(tfds_dir))
    assert logging.getLogger("rethinking").level == logging.WARNING
