"""Process-level TensorFlow settings that must be chosen before TensorFlow is imported.

The one that matters on CPUs: which kernel library runs convolutions and matrix products.
TensorFlow's x86 wheels use oneDNN by default (``TF_ENABLE_ONEDNN_OPTS=1``). On the AMD EPYC
machine we develop on, the Eigen kernels train our models 1.2-2x faster (docs/benchmarks.md), so on
AMD CPUs we default to Eigen. Ours, not TensorFlow's, choice: a user's own
``TF_ENABLE_ONEDNN_OPTS`` always wins, and Intel CPUs keep TensorFlow's default.

``rethinking`` commands call ``configure()`` first thing; library users who want the same call it
before importing TensorFlow.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"


def cpu_vendor(cpuinfo: str) -> str:
    """The ``vendor_id`` of a /proc/cpuinfo text (``"AuthenticAMD"``, ``"GenuineIntel"``), or ``""``."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "vendor_id":
            return value.strip()
    return ""


def onednn_default(vendor: str) -> str | None:
    """The ``TF_ENABLE_ONEDNN_OPTS`` value we choose for a CPU vendor; None keeps TensorFlow's default."""
    return "0" if vendor == "AuthenticAMD" else None


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
