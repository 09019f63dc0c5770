"""The library surface: public names listed and importable where the docs say; python -m rethinking."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("rethinking", "rethinking.config", "rethinking.data", "rethinking.models", "rethinking.training",
            "rethinking.measures", "rethinking.theory", "rethinking.reports", "rethinking.experiments")


@pytest.mark.parametrize("name", PACKAGES)
def test_every_public_name_is_listed_by_dir_and_imports(name):
    package = importlib.import_module(name)
    assert package.__all__, name
    assert set(package.__all__) <= set(dir(package)), set(package.__all__) - set(dir(package))
    for attribute in package.__all__:
        assert getattr(package, attribute) is not None, f"{name}.{attribute}"


def test_the_data_api_of_the_docs_is_in_rethinking_data():
    import rethinking.data as data

    assert "apply_corruption" in dir(data)
    for name in ("corrupt_label", "shuffle_pixels", "random_pixels", "gaussian_image", "pixel_permutation",
                 "example_permutation", "permute_batch", "attach_index", "corrupt_labels", "corrupt_pixels"):
        assert callable(getattr(data, name)), name


def documented_imports() -> list[tuple[str, str]]:
    """Every ``from rethinking... import a, b`` in the README and docs/*.md."""
    found = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for module, names in re.findall(r"from (rethinking[\w.]*) import ([\w, ]+)", doc.read_text()):
            found += [(module, n.strip()) for n in names.split(",") if n.strip()]
    return sorted(set(found))


@pytest.mark.parametrize(("module", "name"), documented_imports())
def test_every_documented_import_works(module, name):
    assert hasattr(importlib.import_module(module), name), f"from {module} import {name}"


def test_python_dash_m_rethinking_is_the_command():
    out = subprocess.run([sys.executable, "-m", "rethinking", "--help"], capture_output=True, text=True, timeout=120,
                         cwd=ROOT)
    assert out.returncode == 0 and "Usage:" in out.stdout and "train" in out.stdout


def test_shell_completion_as_documented_completes_commands_and_choices():
    import os

    env = {**os.environ, "_RETHINKING_COMPLETE": "bash_complete", "COMP_WORDS": "rethinking train --labels ",
           "COMP_CWORD": "3"}
    out = subprocess.run([sys.executable, "-m", "rethinking"], capture_output=True, text=True, timeout=120, env=env)
    assert {"plain,random", "plain,partial"} <= set(out.stdout.split())
    assert "_RETHINKING_COMPLETE=bash_source rethinking" in (ROOT / "docs" / "cli.md").read_text()


def test_runnable_commands_in_the_docs_name_no_path_of_this_workspace():
    """A command a user copies must work in a clone: ``../shared`` (the development workspace's data)
    only where the line says it is this workspace's."""
    bad = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "pipelines" / "README.md"]:
        in_code = False
        for number, line in enumerate(doc.read_text().splitlines(), start=1):
            if line.startswith("```"):
                in_code = not in_code
            elif in_code and "../shared" in line and "workspace" not in line:
                bad.append(f"{doc.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not bad, "\n".join(bad)


def test_citation_names_the_toolkit_and_the_paper_and_the_changelog_has_this_version():
    citation = (ROOT / "CITATION.cff").read_text()
    assert citation.startswith("cff-version: 1.2.0")
    assert "Understanding deep learning requires rethinking generalization" in citation and "year: 2017" in citation
    import rethinking

    assert f"version: {rethinking.__version__}" in citation
    assert "## Unreleased" in (ROOT / "CHANGELOG.md").read_text()
