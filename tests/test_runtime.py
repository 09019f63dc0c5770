"""Process-level settings chosen before TensorFlow is imported."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rethinking import runtime

AMD = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\n"
INTEL = "processor\t: 0\nvendor_id\t: GenuineIntel\n"


def test_cpu_vendor_and_choice(monkeypatch):
    assert runtime.cpu_vendor(AMD) == "AuthenticAMD"
    assert runtime.cpu_vendor(INTEL) == "GenuineIntel"
    assert runtime.cpu_vendor("no such line") == ""
    # Measured: oneDNN is the faster choice on x86, where TensorFlow leaves it off without AVX-512.
    assert runtime.onednn_default("AuthenticAMD") == "1" and runtime.onednn_default("GenuineIntel") == "1"
    assert runtime.onednn_default("ARM") is None and runtime.onednn_default("") is None
    monkeypatch.setitem(runtime.ONEDNN_BY_VENDOR, "AuthenticAMD", "0")
    assert runtime.onednn_default("AuthenticAMD") == "0"


def test_configure_respects_the_user_and_tensorflow_state(tmp_path, monkeypatch):
    monkeypatch.setitem(runtime.ONEDNN_BY_VENDOR, "AuthenticAMD", "0")
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(AMD)
    user = {runtime.ONEDNN_ENV: "1"}
    assert runtime.configure(user, str(cpuinfo)) == {} and user[runtime.ONEDNN_ENV] == "1"
    # In this test process TensorFlow is already imported: setting the variable now would be a lie.
    assert "tensorflow" in sys.modules
    assert runtime.configure({}, str(cpuinfo)) == {}
    monkeypatch.delitem(sys.modules, "tensorflow")
    env: dict[str, str] = {}
    assert runtime.configure(env, str(cpuinfo)) == {runtime.ONEDNN_ENV: "0"}
    intel = tmp_path / "intel"
    intel.write_text(INTEL)
    assert runtime.configure({}, str(intel)) == {runtime.ONEDNN_ENV: "1"}
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nBogoMIPS\t: 50.00\n")
    assert runtime.configure({}, str(arm)) == {}
    assert runtime.configure({}, str(tmp_path / "missing")) == {}


@pytest.mark.slow
def test_a_fresh_process_gets_the_setting_before_tensorflow(tmp_path):
    # TensorFlow itself must report its oneDNN kernels on: the variable is read at import. The
    # commands' import skips Keras' optional imports, which then import normally.
    code = ("import os, sys; from rethinking import runtime; "
            f"chosen = runtime.configure(cpuinfo_path={str(tmp_path / 'c')!r}); "
            "from rethinking.cli.base import import_tensorflow_quietly; import_tensorflow_quietly(); "
            "skipped = [n for n in runtime.KERAS_OPTIONAL_IMPORTS if n not in sys.modules]; "
            "import sklearn.base, matplotlib.pyplot, keras; "
            "from tensorflow.python.util import _pywrap_util_port as port; "
            "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'), port.IsMklEnabled(), chosen, skipped)")
    (tmp_path / "c").write_text(AMD)
    env = {k: v for k, v in __import__("os").environ.items() if k != runtime.ONEDNN_ENV}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.stdout.strip() == ("1 True {'TF_ENABLE_ONEDNN_OPTS': '1'} ['sklearn', 'matplotlib', 'IPython']"), \
        out.stderr[-500:]


def test_optional_imports_look_missing_only_inside_the_block(monkeypatch):
    monkeypatch.delitem(sys.modules, "json", raising=True)
    with runtime.keras_optional_imports_skipped(("json", "sys")):
        with pytest.raises(ImportError):
            import json  # noqa: F401
        assert sys.modules["sys"] is not None  # an imported module is left alone
    import json  # noqa: F401, F811

    assert sys.modules["json"] is not None
