"""The config layer is the floor: pure Python, importable without TensorFlow."""

from __future__ import annotations

import subprocess
import sys

import rethinking.config as config
import rethinking.data as data


def test_importing_the_config_layer_imports_no_tensorflow():
    code = ("import sys, rethinking.config as c; c.RunConfig(); c.DataConfig(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_the_data_layer_re_exports_the_config_classes_themselves():
    assert data.Corruption is config.Corruption and data.DataConfig is config.DataConfig
    assert data.Preprocessing is config.Preprocessing
