"""Sweep files: one declarative TOML file per artifact of the paper, expanded into run configs.

A sweep file::

    [sweep]
    name = "figure1bc"                 # also the experiment folder under log_dir
    description = "Label corruption level vs time to fit and test error."
    reports = ["figure1b", "figure1c"] # what `rethinking report` draws (``REPORTS``)

    [base]                             # a partial RunConfig shared by every run (see config.py)
    data = { dataset = "cifar10" }
    train = { epochs = 100, until_fit = true }

    [[grid]]                           # one cartesian product; several [[grid]] tables are united
    "model.name" = ["inception_small", "alexnet_small", "mlp_1x512"]
    "data.corruption" = [{ labels = "true" }, { labels = "partial", corruption_prob = 0.2 }]

    [paper]                            # optional: numbers and notes of your own for the report
                                       # (the paper's own are in paper.toml, stored once)

A grid key is a dotted path into the RunConfig; a value that is a table is merged into the config
at that path (so one axis can set several fields together). Every run gets ``experiment = name``
unless the base sets one. Runs are unique: two grid points giving the same config are one run.

One grid key is not a config field: ``init_from_run`` makes a run start from the network of another
run of the sweep (``--init-from``), its *source*, given as the changes that turn the run's own config
into the source's (``false``: a fresh start)::

    [[grid]]
    init_from_run = [false, { "data.corruption" = { labels = "random" }, "data.train_offset" = 2500 }]

The source runs join the sweep (before the runs that start from them, with the same seed), and
``rethinking run`` trains a source before its dependents.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import itertools
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rethinking.config import RunConfig, config_digest
from rethinking.config.options import option_fields
from rethinking.portable import PACKAGE, PIPELINES
from rethinking.reports.registry import REPORT_NAMES

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI (setup.cfg lists it)
    import tomli as tomllib

SWEEP_KEYS = ("sweep", "base", "grid", "paper")
# The grid key whose values are the changes that give a run's source (see the module docstring).
INIT_FROM_RUN = "init_from_run"


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A parsed sweep file.

    Attributes:
        name: the sweep's name (its experiment folder).
        description: one paragraph on what it reproduces.
        reports: the figures and tables ``rethinking report`` draws for it.
        base: the partial RunConfig dict every run starts from.
        grids: each a mapping from dotted key to the values it takes.
        paper: the paper's numbers it targets (free-form tables, read by the report).
        path: the file it came from ("" when built in code).
        seeds: each grid point runs once per seed (empty: once, with the base's seed).
        seed_varies: what a seed sets: ``both`` (the data seed; initialization follows it),
            ``data`` (the data seed; initialization fixed at the base's) or ``init`` (the
            initialization seed; data fixed).
    """

    name: str
    description: str = ""
    reports: tuple[str, ...] = ()
    base: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    grids: tuple[Mapping[str, tuple[Any, ...]], ...] = ({},)
    paper: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    path: str = ""
    seeds: tuple[int, ...] = ()
    seed_varies: str = "both"

    def __post_init__(self) -> None:
        if self.seed_varies not in SEED_VARIES:
            raise ValueError(f"seed_varies must be one of {', '.join(SEED_VARIES)}. Received: {self.seed_varies!r}")
        if any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in self.seeds) or \
                len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct non-negative integers. Received: {list(self.seeds)}")


# What a sweep's seeds set: the data seed (initialization follows it), only the data, only the init.
SEED_VARIES = ("both", "data", "init")


def with_seeds(sweep: Sweep, seeds: Sequence[int], varies: str | None = None) -> Sweep:
    """``sweep`` run once per seed of ``seeds`` (``--seeds``), replacing the file's seeds."""
    return dataclasses.replace(sweep, seeds=tuple(seeds), seed_varies=varies or sweep.seed_varies)


def _seeded(sweep: Sweep) -> tuple[dict[str, Any], tuple[Mapping[str, tuple[Any, ...]], ...]]:
    """The base and grids with the seeds as one more axis of every grid."""
    if not sweep.seeds:
        return dict(sweep.base), sweep.grids
    base = copy.deepcopy(dict(sweep.base))
    axis = "train.init_seed" if sweep.seed_varies == "init" else "data.seed"
    if sweep.seed_varies == "data":  # initialization fixed at the base's (its data seed unless set)
        base.setdefault("train", {}).setdefault("init_seed", base.get("data", {}).get("seed", 0))
    return base, tuple({**grid, axis: sweep.seeds} for grid in sweep.grids)


@dataclasses.dataclass(frozen=True)
class PlannedRun:
    """One point of a sweep's grid.

    Attributes:
        config: the run's full config.
        point: the grid values that made it (dotted key -> value), for tables and labels.
    """

    config: RunConfig
    point: Mapping[str, Any]

    @property
    def label(self) -> str:
        """``key=value`` pairs of the grid point, for humans."""
        return ", ".join(f"{key}={_short(value)}" for key, value in self.point.items()) or "(base)"


def _short(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}={v}" for k, v in value.items()) + "}"
    return str(value)


def _fail(path: str, message: str) -> ValueError:
    where = f"{path}: " if path else ""
    return ValueError(f"{where}{message}")


def parse_sweep(values: Mapping[str, Any], path: str = "") -> Sweep:
    """Builds a ``Sweep`` from a parsed TOML document, checking its shape.

    Raises:
        ValueError: naming the file and what is wrong.
    """
    unknown = sorted(set(values) - set(SWEEP_KEYS))
    if unknown:
        raise _fail(path, f"unknown top-level tables {unknown}: use {', '.join(SWEEP_KEYS)}.")
    head = values.get("sweep")
    if not isinstance(head, Mapping) or not isinstance(head.get("name"), str) or not head["name"]:
        raise _fail(path, 'needs a [sweep] table with a name, e.g. [sweep] name = "figure1a".')
    extra = sorted(set(head) - {"name", "description", "reports", "seeds", "seed_varies"})
    if extra:
        raise _fail(path, f"unknown [sweep] keys {extra}: use name, description, reports, seeds, seed_varies.")
    reports = head.get("reports", [])
    if not isinstance(reports, list) or any(r not in REPORT_NAMES for r in reports):
        raise _fail(path, f"[sweep] reports must be a list of {', '.join(REPORT_NAMES)}. Received: {reports!r}")
    base = values.get("base", {})
    if not isinstance(base, Mapping):
        raise _fail(path, "[base] must be a table (a partial RunConfig).")
    raw_grids = values.get("grid", [{}])
    if isinstance(raw_grids, Mapping):
        raw_grids = [raw_grids]
    if not isinstance(raw_grids, list) or not all(isinstance(g, Mapping) for g in raw_grids):
        raise _fail(path, "grid must be one [grid] table or a list of [[grid]] tables.")
    grids = []
    for grid in raw_grids:
        axes = {}
        for key, options in grid.items():
            if not isinstance(options, list) or not options:
                raise _fail(path, f"grid key {key!r} needs a non-empty list of values. Received: {options!r}")
            axes[key] = tuple(options)
        grids.append(axes)
    paper = values.get("paper", {})
    if not isinstance(paper, Mapping):
        raise _fail(path, "[paper] must be a table.")
    seeds = head.get("seeds", [])
    if not isinstance(seeds, list):
        raise _fail(path, f"[sweep] seeds must be a list of integers, e.g. seeds = [0, 1, 2]. Received: {seeds!r}")
    try:
        sweep = Sweep(name=head["name"], description=str(head.get("description", "")).strip(),
                      reports=tuple(reports), base=dict(base), grids=tuple(grids), paper=dict(paper), path=path,
                      seeds=tuple(seeds), seed_varies=head.get("seed_varies", "both"))
    except ValueError as err:
        raise _fail(path, f"[sweep] {err}") from err
    expand(sweep)  # every run must be a valid config: fail now, not halfway through a sweep
    return sweep


def shipped_dir() -> Path:
    """The folder of the shipped sweep files: the repository's top-level ``pipelines/`` in a source
    checkout (an editable install included), ``rethinking/pipelines/`` inside an installed wheel
    (setup.py maps the one onto the other)."""
    installed = PACKAGE / "pipelines"
    return installed if installed.is_dir() else PIPELINES


def shipped_sweeps() -> dict[str, Path]:
    """``{name: path}`` of the shipped sweep files; a name is the path under ``pipelines/`` without ``.toml``."""
    folder = shipped_dir()
    return {p.relative_to(folder).with_suffix("").as_posix(): p for p in sorted(folder.rglob("*.toml"))}


def find_sweep(name_or_path: str | Path) -> Path:
    """A sweep file by path, or a shipped sweep by name (``table1``, ``laptop/figure1a``).

    Raises:
        ValueError: neither a file nor a shipped name (the message lists the names).
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = shipped_sweeps()
    name = str(name_or_path).removesuffix(".toml").removeprefix("pipelines/").removeprefix("sweeps/")
    if name in shipped:
        return shipped[name]
    raise ValueError(f"No sweep file {name_or_path}: pass a .toml file, or the name of a shipped sweep "
                     f"({', '.join(shipped)}; 'rethinking sweeps' describes them).")


def load_sweep(path: str | Path) -> Sweep:
    """Reads and checks a sweep TOML file, given by path or by a shipped sweep's name.

    Raises:
        ValueError: the file is missing, is not TOML, or describes invalid runs.
    """
    path = find_sweep(path)
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid TOML: {err}.") from err
    return parse_sweep(values, str(path))


def set_path(tree: dict[str, Any], key: str, value: Any) -> None:
    """Sets ``tree[a][b][c] = value`` for ``key = "a.b.c"``; a table value is merged, not replaced."""
    parts = key.split(".")
    if not all(parts):
        raise ValueError(f"Bad config key {key!r}: use dotted field names such as model.name.")
    node = tree
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    leaf = parts[-1]
    if isinstance(value, Mapping) and isinstance(node.get(leaf), dict):
        merged = node[leaf]
        for k, v in value.items():
            set_path(merged, k, v)
    else:
        node[leaf] = copy.deepcopy(dict(value)) if isinstance(value, Mapping) else value


def _grid_points(grid: Mapping[str, Sequence[Any]]) -> Iterable[dict[str, Any]]:
    keys = list(grid)
    for values in itertools.product(*(grid[k] for k in keys)):
        yield dict(zip(keys, values))


def expand(sweep: Sweep, overrides: Mapping[str, Any] | None = None) -> list[PlannedRun]:
    """The sweep's runs, in file order, without duplicates.

    Args:
        sweep: the sweep.
        overrides: dotted keys set on every run after the grid (``rethinking run --set``).

    Raises:
        ValueError: a grid point or override gives an invalid RunConfig (names the point).
    """
    runs: list[PlannedRun] = []
    seen: set[str] = set()
    base, grids = _seeded(sweep)

    def add(run: PlannedRun) -> None:
        identity = f"{run.config.experiment}/{run.config.resolved_run_name}/{config_digest(run.config)}"
        if identity not in seen:
            seen.add(identity)
            runs.append(run)

    for grid in grids:
        for point in _grid_points(grid):
            settings = {k: v for k, v in point.items() if k != INIT_FROM_RUN}
            tree = copy.deepcopy(base)
            tree.setdefault("experiment", sweep.name)
            for key, value in {**settings, **(overrides or {})}.items():
                set_path(tree, key, value)
            _resolve_beside(tree, sweep.path)
            where = ", ".join(f"{k}={_short(v)}" for k, v in point.items()) or "the base config"
            changes = point.get(INIT_FROM_RUN, False)
            if changes is not False:
                source = _source_run(tree, changes, settings, sweep.path, where)
                add(source)
                tree.setdefault("train", {})["init_from"] = str(
                    Path(source.config.log_dir) / source.config.experiment / source.config.resolved_run_name)
            add(PlannedRun(config=_config(tree, sweep.path, where), point=point))
    return runs


def _config(tree: Mapping[str, Any], path: str, where: str) -> RunConfig:
    try:
        return RunConfig.from_dict(tree)
    except (ValueError, TypeError) as err:
        raise _fail(path, f"the run at {where} is invalid: {err}") from err


def _source_run(tree: Mapping[str, Any], changes: Any, settings: Mapping[str, Any], path: str, where: str) -> PlannedRun:
    """The run a grid point's ``init_from_run`` names: its own config with ``changes`` applied."""
    if not isinstance(changes, Mapping) or not changes:
        raise _fail(path, f"{INIT_FROM_RUN} takes false or a table of the changes that give the source run, e.g. "
                          f'{{ "data.corruption" = {{ labels = "random" }} }}. Received: {changes!r} (at {where})')
    source = copy.deepcopy(dict(tree))
    for key, value in changes.items():
        set_path(source, key, value)
    source.get("train", {}).pop("init_from", None)  # a source starts fresh
    config = _config(source, path, f"the source of {where}")
    return PlannedRun(config=config, point={**settings, **changes})


# Files a sweep names by path that may ship beside it (a transition matrix of the sweep's own).
_BESIDE_THE_FILE = (("data", "corruption", "transition"),)


def _resolve_beside(tree: dict[str, Any], sweep_path: str) -> None:
    """A relative file path of ``_BESIDE_THE_FILE`` that does not exist from the working folder but
    does beside the sweep file is taken from there (so shipped sweeps can name their own files)."""
    if not sweep_path:
        return
    for keys in _BESIDE_THE_FILE:
        node: Any = tree
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        value = node.get(keys[-1]) if isinstance(node, dict) else None
        if not isinstance(value, str) or ":" in value or Path(value).is_absolute() or Path(value).expanduser().exists():
            continue
        beside = Path(sweep_path).parent / value
        if beside.is_file():
            node[keys[-1]] = str(beside)


def parse_assignment(text: str) -> tuple[str, Any]:
    """``"train.epochs=3"`` -> ``("train.epochs", 3)``; the value is read as TOML, else as a string.

    Raises:
        ValueError: no ``=`` or an empty key.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError(f"Expected KEY=VALUE such as train.epochs=3. Received: {text!r}")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    if not isinstance(value, str) and _text_options().get(key):
        value = raw.strip()  # a text option: labels=true means the condition "true", not a boolean
    return key, value


@functools.cache
def _text_options() -> dict[str, bool]:
    """``{dotted key: whether the option takes text}`` of every run option."""
    return {field.key: field.kind is str for field in option_fields(RunConfig)}


def config_value(config: RunConfig, key: str) -> Any:
    """The value at a dotted key of a run's config dict (``KeyError`` if there is none)."""
    node: Any = config.to_dict()
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(key)
        node = node[part]
    return node


def select(runs: Sequence[PlannedRun], only: Sequence[tuple[str, Any]]) -> list[PlannedRun]:
    """The runs matching every ``--only KEY=VALUE`` filter (the same key given twice: either value).

    Raises:
        ValueError: a key that is not a config field.
    """
    wanted: dict[str, list[Any]] = {}
    for key, value in only:
        wanted.setdefault(key, []).append(value)
    chosen = []
    for run in runs:
        keep = True
        for key, values in wanted.items():
            try:
                actual = config_value(run.config, key)
            except KeyError:
                raise ValueError(f"--only {key}: not a config field; use dotted names such as model.name "
                                 "or data.corruption.labels.") from None
            if not any(actual == v or str(actual) == str(v) for v in values):
                keep = False
                break
        if keep:
            chosen.append(run)
    return chosen


# --------------------------------------------------------------------------------- writing a file


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, Sequence):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"Cannot write {value!r} as TOML")


def _toml_tables(prefix: str, tree: Mapping[str, Any]) -> list[str]:
    """``[prefix]`` with the scalar keys of ``tree``, then its sub-tables (None values left out)."""
    scalars = [(k, v) for k, v in tree.items() if v is not None and not isinstance(v, Mapping)]
    lines = [f"[{prefix}]"] + [f"{k} = {_toml_value(v)}" for k, v in scalars]
    for key, value in tree.items():
        if isinstance(value, Mapping):
            lines += [""] + _toml_tables(f"{prefix}.{key}", value)
    return lines


def sweep_toml(config: RunConfig, name: str, description: str, seeds: Sequence[int] = (0,)) -> str:
    """A sweep file whose base is ``config`` (the best trial) and whose grid repeats it over seeds.

    The sweep's runs go to the experiment ``name`` (not the tuner's folder).
    """
    tree = copy.deepcopy(config.to_dict())
    tree["experiment"] = name
    tree.pop("run_name", None)
    lines = ["# Written by 'rethinking tune': the best trial of a search, as a sweep.", "",
             "[sweep]", f"name = {_toml_value(name)}", f"description = {_toml_value(description)}",
             'reports = ["table1", "figure2a"]', ""]
    lines += _toml_tables("base", tree)
    lines += ["", "[[grid]]", f'"data.seed" = {_toml_value(list(seeds))}', ""]
    return "\n".join(lines)
