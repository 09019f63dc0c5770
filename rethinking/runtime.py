"""Process-level TensorFlow settings that must be chosen before TensorFlow is imported.

The one that matters on CPUs: which kernel library runs convolutions and matrix products.
TensorFlow's x86 wheels turn their oneDNN kernels on by default only on CPUs with AVX-512 or AMX
features (``tensorflow.python.util._pywrap_util_port.IsMklEnabled()`` is False on an AVX2-only
CPU); elsewhere convolutions run on Eigen. On our AVX2 AMD EPYC machine oneDNN's kernels train
the small Inception 1.9x and AlexNet 1.3-2x faster than Eigen and the MLPs as fast or faster
(docs/benchmarks.md), so ``configure()`` turns oneDNN on for x86 CPUs (**our choice**, measured on
AMD; on Intel CPUs with AVX-512 it is TensorFlow's default anyway). A user's own
``TF_ENABLE_ONEDNN_OPTS`` always wins.

``rethinking`` commands call ``configure()`` first thing; library users who want the same call it
before importing TensorFlow.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"


def cpu_vendor(cpuinfo: str) -> str:
    """The ``vendor_id`` of a /proc/cpuinfo text (``"AuthenticAMD"``, ``"GenuineIntel"``), or ``""``."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "vendor_id":
            return value.strip()
    return ""


# vendor_id -> TF_ENABLE_ONEDNN_OPTS value; vendors not listed (ARM, unknown) keep TensorFlow's default.
ONEDNN_BY_VENDOR: dict[str, str] = {"AuthenticAMD": "1", "GenuineIntel": "1"}


def onednn_default(vendor: str) -> str | None:
    """The ``TF_ENABLE_ONEDNN_OPTS`` value we choose for a CPU vendor; None keeps TensorFlow's default."""
    return ONEDNN_BY_VENDOR.get(vendor)


def configure(environ: dict[str, str] | None = None, cpuinfo_path: str = "/proc/cpuinfo") -> dict[str, str]:
    """Sets our defaults in ``environ`` (``os.environ``) where the user set nothing.

    Returns:
        The variables it set (empty when the user's settings stand or TensorFlow's defaults are best).
    """
    environ = os.environ if environ is None else environ
    chosen: dict[str, str] = {}
    if ONEDNN_ENV not in environ:
        if "tensorflow" in sys.modules:
            return chosen  # too late to matter: TensorFlow read its settings at import
        try:
            vendor = cpu_vendor(Path(cpuinfo_path).read_text())
        except OSError:
            vendor = ""
        value = onednn_default(vendor)
        if value is not None:
            environ[ONEDNN_ENV] = chosen[ONEDNN_ENV] = value
    return chosen


# Packages Keras imports at start-up, when installed, only for features the toolkit's commands
# never use: its scikit-learn wrappers, its image-gallery plot, its .keras file editor's notebook
# display. Together 1.4 s of the 4.4 s `import tensorflow` takes here (python -X importtime).
KERAS_OPTIONAL_IMPORTS = ("sklearn", "matplotlib", "IPython")


@contextlib.contextmanager
def keras_optional_imports_skipped(names: tuple[str, ...] = KERAS_OPTIONAL_IMPORTS) -> Iterator[None]:
    """While TensorFlow (and with it Keras) is imported, ``names`` look not installed; after, they import as usual.

    Keras guards each of these imports with ``except ImportError`` and turns the feature off; the
    toolkit imports scikit-learn, Matplotlib and SciPy itself when it needs them (the digits data,
    figures, statistics), normally, afterwards. Only the commands use this (``rethinking train``
    and the others start 1.4 s sooner); a library user's ``import tensorflow`` is left alone.
    Packages already imported are not touched.
    """
    hidden = [name for name in names if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # "import name" raises ImportError
    try:
        yield
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


# Written first in the saved config of every layer of ours: Keras imports only its own packages'
# modules when it loads a .keras file, so without `import rethinking` it cannot find these classes,
# and its error message prints the config, hence this hint in it.
LOAD_WITH = "import rethinking"


class NamesItsPackage:
    """Mixin: the layer's saved config starts with ``"load_with": "import rethinking"``.

    A ``model.keras`` loaded in a process that has not imported ``rethinking`` then fails with
    Keras' "Could not locate class ..." message showing that line. Older files without the key
    load as before.
    """

    def get_config(self):
        return {"load_with": LOAD_WITH, **super().get_config()}

    @classmethod
    def from_config(cls, config):
        return super().from_config({k: v for k, v in config.items() if k != "load_with"})


# The modules defining the toolkit's Keras layers (``@keras.saving.register_keras_serializable``).
LAYER_MODULES = ("rethinking.models.layers", "rethinking.theory.expressivity")


def register_layers() -> None:
    """Imports the modules of the toolkit's Keras layers, registering them with Keras' deserializer."""
    import importlib  # noqa: PLC0415

    for module in LAYER_MODULES:
        importlib.import_module(module)


class _RegisterLayersWithKeras(importlib.abc.MetaPathFinder):
    """Registers the toolkit's layers as soon as Keras itself has been imported (by anyone).

    So ``import rethinking`` stays free of TensorFlow (``--help``, ``runtime.configure()``) and a
    ``.keras`` file of a toolkit model still loads with ``keras.saving.load_model`` after it.
    Module-level code of ``LAYER_MODULES`` may not use TensorFlow's attributes: Keras can be
    imported while TensorFlow itself is still initializing.
    """

    def __init__(self) -> None:
        self.done = False

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "keras" or self.done:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        load = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            load(module)
            if not self.done:
                self.done = True
                register_layers()

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def register_layers_when_keras_loads() -> None:
    """Registers the layers now if Keras is loaded, else the moment it is (``import rethinking`` calls this)."""
    if "keras" in sys.modules:
        register_layers()
    elif not any(isinstance(finder, _RegisterLayersWithKeras) for finder in sys.meta_path):
        sys.meta_path.insert(0, _RegisterLayersWithKeras())
