"""The scripts in examples/ run as documented (with few epochs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "EPOCHS": "1",
            "LOG_DIR": str(tmp_path / "logs")}


@pytest.mark.slow
def test_your_model_example(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "your_model.py"), "--epochs", "1",
                           "--log-dir", str(tmp_path / "logs")], capture_output=True, text=True, env=_env(tmp_path),
                          cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if " labels: train " in line]
    assert [line.split()[0] for line in lines] == ["true", "random"]
    assert all("my_convnet-labels_" in line for line in lines)


@pytest.mark.slow
def test_your_data_example_through_the_cli(tmp_path):
    bin_dir = Path(sys.executable).parent  # the rethinking console script of this environment
    env = {**_env(tmp_path), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "LABELS": "random"}
    done = subprocess.run(["bash", str(ROOT / "examples" / "your_data" / "run.sh")], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = sorted(p for p in (tmp_path / "logs" / "default").iterdir() if p.is_dir())  # (and the HParams config)
    assert [r.name.split("-")[1] for r in runs] == ["labels_random"]  # LABELS=random: one of the script's two runs
    assert (tmp_path / "logs" / "my_data_shuffled.png").stat().st_size > 0
    assert '"dataset": "my_data:digits_16x16"' in (runs[0] / "config.json").read_text()
