"""The house plan holds (docs/architecture.md): short files, imports in one direction, the config
layer on the floor."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import rethinking

PACKAGE = Path(rethinking.__file__).parent
MAX_LINES = 450
# What the config layer may import besides itself: the plain-Python floor.
FLOOR = ("rethinking.registry", "rethinking.portable", "rethinking.atomic")


def module_files() -> dict[str, Path]:
    """``{dotted module name: file}`` of every module of the package."""
    files = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``name`` imports anywhere (top level, in functions, TYPE_CHECKING)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in known and t != name)
    return found


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    return {name: imported_modules(name, path, set(files)) for name, path in files.items()}


def test_the_import_reader_sees_relative_lazy_and_type_checking_imports(tmp_path):
    known = {"pkg", "pkg.a", "pkg.b", "pkg.c"}
    source = tmp_path / "a.py"
    source.write_text("from typing import TYPE_CHECKING\nfrom . import b\nif TYPE_CHECKING:\n    from pkg.c import X\n"
                      "def f():\n    import pkg  # noqa\n")
    assert imported_modules("pkg.a", source, known) == {"pkg", "pkg.b", "pkg.c"}


def test_no_file_of_the_package_is_over_450_lines():
    long = {name: n for name, path in module_files().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"split these modules (at most {MAX_LINES} lines): {long}"


def test_no_two_modules_import_each_other():
    graph = import_graph()
    mutual = [(a, b) for a, b in itertools.combinations(sorted(graph), 2) if b in graph[a] and a in graph[b]]
    assert not mutual


def test_the_config_layer_imports_only_itself_and_the_floor():
    graph = import_graph()
    above = {name: sorted(d for d in deps if not d.startswith(("rethinking.config", *FLOOR)))
             for name, deps in graph.items() if name.startswith("rethinking.config")}
    assert not {name: deps for name, deps in above.items() if deps}
    assert "rethinking.registry.models" in graph["rethinking.config.run"]  # the reader sees real imports


def test_the_floor_imports_nothing_above_it():
    graph = import_graph()
    for name, deps in graph.items():
        if name.startswith(FLOOR):
            assert all(d.startswith(FLOOR) for d in deps), (name, deps)
