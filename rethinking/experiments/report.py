"""The reproduction report: the paper's figures and tables from a sweep's results table.

``write_report(results.json, out_dir)`` writes PNG figures (matplotlib, no display needed) and
``report.md``: for each of the sweep's ``reports``, the figure and a markdown table of our
numbers beside the paper's (``paper.toml``, and a sweep file's own ``[paper]`` tables). Curves come from each
run's ``metrics.csv``; a run that has not finished is left out of figures and listed as such.

What each report shows (the paper's Figures 1 and 2, Tables 1 and 2):

* ``figure1a``: training loss vs training steps, one curve per data condition (true labels,
  random labels, shuffled pixels, random pixels, Gaussian), one panel per model.
* ``figure1b``: time to fit (steps until the training accuracy reached the fit threshold) relative
  to the same model's with true labels, vs the label corruption level.
* ``figure1c``: test error at the end of training vs the label corruption level.
* ``figure2a``: final vs best test accuracy of each run (what early stopping could have given).
* ``figure2b``: training and test accuracy vs steps, batch norm on and off.
* ``table1`` / ``table2``: train / test accuracy per model and regularizer setting.
"""

from __future__ import annotations

import csv
import functools
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rethinking.atomic import atomic_write_with
from rethinking.config.run import MODEL_SWITCHES
from rethinking.training.rundir import COMPLETE_STATUSES

REPORT_FILE = "report.md"
_NO_CURVES = ("The curves need the runs' per-epoch metrics (metrics.csv), and no run folder with one is "
              "beside this table ('rethinking export' copies a sweep with them).")
CONDITION_ORDER = ("true labels", "random labels", "shuffled pixels", "random pixels", "gaussian")


def load_table(path: str | Path) -> dict[str, Any]:
    """Reads a sweep table: the ``results.json`` written by ``rethinking run``, or its ``results.csv``.

    Accepts either file or the folder holding them (results.json first). A results.csv alone
    (e.g. committed without its JSON twin) gives the same rows; its reports and the paper's numbers
    are those of the shipped sweep of the same name (the folder's name), else every report.

    Raises:
        ValueError: missing, unreadable or not a sweep table.
    """
    import json  # noqa: PLC0415

    path = Path(path)
    if path.is_dir():
        path = path / "results.json" if (path / "results.json").is_file() or not (path / "results.csv").is_file() \
            else path / "results.csv"
    if not path.is_file():
        raise ValueError(f"No results table {path}: pass the results.json that 'rethinking run' wrote "
                         "(tensorboard_logs/<sweep>/results.json).")
    if path.suffix == ".csv":
        table = _table_from_csv(path)
    else:
        try:
            table = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{path} is not valid JSON: {err}.") from err
    if not isinstance(table, dict) or not isinstance(table.get("runs"), list) or "sweep" not in table:
        raise ValueError(f"{path} is not a sweep results table (no 'sweep' and 'runs'): pass the results.json "
                         "that 'rethinking run' wrote.")
    table["_path"] = str(path)
    for row in table["runs"]:
        if isinstance(row.get("run_dir"), str):
            row["run_dir"] = str(_run_folder(path.parent, row["run_dir"]))
    return table


def _run_folder(table_folder: Path, stored: str) -> Path:
    """A run's folder: relative to the table's (today's tables), else as stored (absolute, or
    relative to where an older table was written), else beside the table under the same name."""
    for candidate in (table_folder / stored, Path(stored), table_folder / Path(stored).name):
        if candidate.is_dir():
            return candidate
    return table_folder / stored


def _csv_value(text: str) -> Any:
    """A results.csv cell as the JSON table holds it: None, bool, int, float or text."""
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _table_from_csv(path: Path) -> dict[str, Any]:
    """A results.csv as a table; its sweep facts from the shipped sweep named like its folder."""
    from rethinking.experiments.sweep import load_sweep, shipped_sweeps  # noqa: PLC0415

    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = [{k: _csv_value(v or "") for k, v in row.items()} for row in csv.DictReader(f)]
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"{path} is not a readable CSV table: {err}.") from err
    if not rows or "run" not in rows[0] or "status" not in rows[0]:
        raise ValueError(f"{path} is not a sweep results table (no 'run' and 'status' columns): pass the "
                         "results.csv or results.json that 'rethinking run' wrote.")
    name = path.parent.name
    sweeps = [load_sweep(p) for p in shipped_sweeps().values()]
    sweep = next((s for s in sweeps if s.name == name), None)
    return {"sweep": name, "description": sweep.description if sweep else "",
            "source": sweep.path if sweep else str(path), "reports": list(sweep.reports) if sweep else list(REPORTS),
            "paper": dict(sweep.paper) if sweep else {}, "updated": "(results.csv)", "runs": rows}


def read_metrics(run_dir: str | Path | None) -> list[dict[str, float]]:
    """A run's metrics.csv as rows of floats ([] if it has none).

    Read once per file version (path, size, modification time): a report asks for the same run's
    metrics from several figures and filters.
    """
    path = Path(run_dir) / "metrics.csv" if run_dir else None
    if path is None or not path.is_file():
        return []
    stat = path.stat()
    return list(_metrics_file(str(path), stat.st_size, stat.st_mtime_ns))


@functools.lru_cache(maxsize=512)
def _metrics_file(path: str, size: int, mtime_ns: int) -> tuple[dict[str, float], ...]:
    with open(path, newline="", encoding="utf-8") as f:
        return tuple({k: _float(v) for k, v in row.items()} for row in csv.DictReader(f))


def training_loss(metrics: Mapping[str, float]) -> float:
    """The loss SGD saw during an epoch: the average batch loss in training mode (``batch_loss``).

    Figure 1a plots this, like the paper. ``train_loss`` (the whole training set in inference mode
    after the epoch) is used where there is no batch loss: before the first step. With batch norm it
    spikes early while the moving statistics catch up, which is not what SGD optimizes.
    """
    batch = metrics.get("batch_loss", math.nan)
    return batch if not math.isnan(batch) else metrics.get("train_loss", math.nan)


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def condition(row: Mapping[str, Any]) -> str:
    """The data condition of a run, as Figure 1a names them."""
    if row.get("pixels") and row["pixels"] != "original":
        return "gaussian" if row["pixels"] == "gaussian" else f"{row['pixels']} pixels"
    if row.get("labels") == "human":
        return f"human labels ({row.get('label_set')})"
    if row.get("labels") == "matrix":
        transition = str(row.get("transition"))
        return f"transition-matrix labels ({transition.rpartition('/')[2]})"
    p = row.get("corruption_prob") or 0.0
    if p == 0:
        return "true labels"
    return "random labels" if p == 1 else f"labels corrupted p={p:g}"


def default_batch_norm(model: str) -> bool:
    """The registry's batch-norm default of ``model`` (False for a name it does not know)."""
    from rethinking.models import MODEL_CATALOG  # noqa: PLC0415 (plain Python)

    entry = MODEL_CATALOG.get(model)
    return bool(entry and entry.batch_norm)


_SWITCH_NAMES = {"depth": "depth", "units": "units", "width": "k"}


def model_label(row: Mapping[str, Any]) -> str:
    """``inception_small`` / ``inception_small (no BN)`` / ``inception_small (width 0.5)`` / ``alexnet_small`` ..."""
    name = str(row.get("model"))
    notes = []
    default_bn = default_batch_norm(name)
    if default_bn and row.get("batch_norm") is False:
        notes.append("no BN")
    if not default_bn and row.get("batch_norm") is True:
        notes.append("BN")
    width = row.get("width_multiplier")
    if isinstance(width, (int, float)) and width not in (0, 1):  # 0: an old table without the column
        notes.append(f"width {width:g}")
    # The model-specific switches (``mlp``'s depth and units, the ResNets' base width k).
    notes += [f"{_SWITCH_NAMES[switch]}={row[switch]}" for switch in MODEL_SWITCHES if row.get(switch) not in (None, "")]
    return f"{name} ({', '.join(notes)})" if notes else name


def regularizers(row: Mapping[str, Any]) -> str:
    """Table 1's column: ``crop + wd``, ``crop``, ``wd`` or ``none``."""
    parts = (["crop"] if row.get("random_crop") else []) + (["wd"] if (row.get("weight_decay") or 0) > 0 else [])
    return " + ".join(parts) or "none"


def finished(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows of runs that finished (or fitted)."""
    return [r for r in rows if r.get("status") in COMPLETE_STATUSES]


def _pct(value: Any) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * float(value):.2f}"


PAPER_FILE = Path(__file__).with_name("paper.toml")


@functools.cache
def paper_numbers() -> dict[str, Any]:
    """The paper's published numbers and claims by report name (``paper.toml``, stored once)."""
    from rethinking.experiments.sweep import tomllib  # noqa: PLC0415

    return tomllib.loads(PAPER_FILE.read_text(encoding="utf-8"))


def _paper(table: Mapping[str, Any]) -> dict[str, Any]:
    """The paper's numbers, with the sweep file's own ``[paper]`` tables taking precedence."""
    return {**paper_numbers(), **(table.get("paper") or {})}


def _paper_rows(table: Mapping[str, Any], report: str) -> list[Mapping[str, Any]]:
    rows = _paper(table).get(report, [])
    return rows if isinstance(rows, list) else []


def _claims(table: Mapping[str, Any], reports: Sequence[str]) -> list[str]:
    """The paper's claims about the reports drawn (each once, in report order), and the sweep's own notes."""
    paper = _paper(table)
    claims = [c for r in reports for c in (paper.get("claims") or {}).get(r, [])] + list(paper.get("notes", []))
    return list(dict.fromkeys(claims))


# ------------------------------------------------------------------------------------------- statistics

# The columns of a grid point: runs that share them differ by seed only.
_DESCRIPTORS = ("dataset", "train_examples", "train_offset", "model", *MODEL_SWITCHES, "batch_norm", "weight_decay", "dropout",
                "width_multiplier", "random_crop", "labels", "corruption_prob", "label_noise", "label_set", "transition",
                "pixels", "init_from")


def source_kind(run_name: Any) -> str | None:
    """A source run's folder name without its seed and digest (``mlp_1x512-labels_random-pixels_original``):
    what runs that start from the same kind of source share across seeds."""
    if not run_name:
        return None
    return re.sub(r"-seed\d+-[0-9a-f]{8}$", "", str(run_name))


def seed_groups(rows: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """The rows grouped by grid point (everything but the seeds), in first-seen order."""
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for row in rows:
        key = tuple(source_kind(row.get(c)) if c == "init_from" else row.get(c) for c in _DESCRIPTORS)
        groups.setdefault(key, []).append(row)
    return list(groups.values())


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float | None, int]:
    """Mean, half-width of the Student-t confidence interval (None for fewer than 2 values), n."""
    xs = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not xs:
        return float("nan"), None, 0
    mean = sum(xs) / len(xs)
    if len(xs) < 2:
        return mean, None, len(xs)
    from scipy import stats  # noqa: PLC0415

    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))
    return mean, float(stats.t.ppf(0.5 + confidence / 2, len(xs) - 1)) * sd / math.sqrt(len(xs)), len(xs)


def _pct_ci(values: Sequence[Any]) -> str:
    """``56.44`` for one run, ``56.44 ± 1.20 (n=3)`` (95% CI) for several."""
    mean, half, n = mean_ci(values)
    if n == 0:
        return "-"
    return f"{100 * mean:.2f}" if half is None else f"{100 * mean:.2f} ± {100 * half:.2f} (n={n})"


def _num_ci(values: Sequence[Any]) -> str:
    """``1234`` for one value, ``1234 ± 56 (n=3)`` (95% CI) for several."""
    mean, half, n = mean_ci(values)
    if n == 0:
        return "-"
    return f"{mean:.0f}" if half is None else f"{mean:.0f} ± {half:.0f} (n={n})"


def trend_test(xs: Sequence[float], ys: Sequence[float], claim: str) -> str:
    """A rank-correlation test of "ys grow with xs" (Spearman), and whether the data support it."""
    pairs = [(x, y) for x, y in zip(xs, ys) if y is not None and not (isinstance(y, float) and math.isnan(y))]
    if len({x for x, _ in pairs}) < 3:
        return f"{claim}: not tested (fewer than 3 levels with results)."
    from scipy import stats  # noqa: PLC0415

    rho, p_value = stats.spearmanr([x for x, _ in pairs], [y for _, y in pairs])
    verdict = "supported" if rho > 0 and p_value < 0.05 else "not supported"
    return f"{claim}: Spearman rho = {rho:.2f}, p = {p_value:.2g} over {len(pairs)} runs: **{verdict}** (rho > 0, p < 0.05)."


def _markdown(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _plt():
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


# Every figure is written in these formats beside each other (report.md shows the PNG).
FIGURE_FORMATS = (".png", ".pdf", ".svg")


def _save(fig, path: Path) -> Path | None:
    """Writes the figure as PNG, PDF and SVG; None (nothing written) when no axis has anything drawn."""
    if not any(ax.has_data() for ax in fig.axes):
        _plt().close(fig)
        return None
    fig.tight_layout()
    for suffix in FIGURE_FORMATS:
        atomic_write_with(path.with_suffix(suffix), lambda tmp: fig.savefig(tmp, dpi=120))
    _plt().close(fig)
    return path


# --------------------------------------------------------------------------------------------- figures


def _thousand_steps(metrics: Mapping[str, float]) -> float:
    return metrics["step"] / 1000


def _mean_curve(runs: Sequence[Mapping[str, Any]], value: Callable[[Mapping[str, float]], float],
                x: Callable[[Mapping[str, float]], float] = _thousand_steps
                ) -> tuple[list[float], list[float], list[float]]:
    """Per epoch, over the runs (seeds) that reached it: ``x`` (default: thousand steps), mean of
    ``value``, CI half-width."""
    by_epoch: dict[int, list[tuple[float, float]]] = {}
    for r in runs:
        for m in read_metrics(r["run_dir"]):
            y = value(m)
            if not math.isnan(y):
                by_epoch.setdefault(int(m["epoch"]), []).append((x(m), y))
    xs, ys, halves = [], [], []
    for epoch in sorted(by_epoch):
        points = by_epoch[epoch]
        mean, half, _ = mean_ci([y for _, y in points])
        xs.append(points[0][0])
        ys.append(mean)
        halves.append(half or 0.0)
    return xs, ys, halves


def plot_mean_curve(ax, runs: Sequence[Mapping[str, Any]], value: Callable[[Mapping[str, float]], float],
                    x: Callable[[Mapping[str, float]], float] = _thousand_steps, **style: Any) -> None:
    """``_mean_curve`` drawn on ``ax``: the mean line and, over several seeds, its 95% band."""
    xs, ys, halves = _mean_curve(runs, value, x)
    line, = ax.plot(xs, ys, **style)
    if any(halves):
        ax.fill_between(xs, [y - h for y, h in zip(ys, halves)], [y + h for y, h in zip(ys, halves)],
                        color=line.get_color(), alpha=0.2)


def figure1a(rows: Sequence[Mapping[str, Any]], out: Path) -> tuple[Path | None, str]:
    """Training loss vs steps per data condition; one panel per model (mean and 95% band over seeds)."""
    runs = [r for r in (finished(rows) or rows) if read_metrics(r["run_dir"])]
    models = sorted({model_label(r) for r in runs})
    if not models:
        return None, _NO_CURVES
    plt = _plt()
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 3.6), squeeze=False)
    summary = []
    for ax, model in zip(axes[0], models):
        mine = sorted((r for r in runs if model_label(r) == model),
                      key=lambda r: (CONDITION_ORDER.index(condition(r)) if condition(r) in CONDITION_ORDER else 99))
        for group in seed_groups(mine):
            plot_mean_curve(ax, group, training_loss, marker=".", label=condition(group[0]))
            fitted = [r.get("fit_step") for r in group if r.get("fit_step")]
            summary.append([model, condition(group[0]), ", ".join(sorted({str(r.get("status")) for r in group})),
                            (_num_ci(fitted) + (f" ({len(group) - len(fitted)} not fitted)" if len(fitted) < len(group)
                                                else "")) if fitted else "not fitted",
                            _pct_ci([r.get("train_accuracy") for r in group]), _pct_ci([r.get("test_accuracy") for r in group])])
        ax.set(title=model, xlabel="thousand steps", ylabel="average training loss per epoch")
        ax.legend(fontsize=8)
    path = _save(fig, out / "figure1a.png")
    text = _markdown(["model", "condition", "status", "steps to fit", "train acc %", "test acc %"], summary)
    return path, text


def _by_corruption(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    curves: dict[str, list[Mapping[str, Any]]] = {}
    for r in finished(rows):
        if r.get("pixels") in (None, "original"):
            curves.setdefault(model_label(r), []).append(r)
    return {m: sorted(rs, key=lambda r: r["corruption_prob"]) for m, rs in sorted(curves.items())}


def figure1b(rows: Sequence[Mapping[str, Any]], out: Path) -> tuple[Path | None, str]:
    """Time to fit relative to true labels vs the label corruption level (mean and 95% CI over seeds)."""
    curves = _by_corruption(rows)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.6))
    table, trends = [], []
    for model, rs in curves.items():
        base, _, _ = mean_ci([r.get("fit_step") for r in rs if r["corruption_prob"] == 0 and r.get("fit_step")])
        xs, ys, errs = [], [], []
        for group in seed_groups(rs):
            p = group[0]["corruption_prob"]
            steps = [r.get("fit_step") for r in group if r.get("fit_step")]
            rel = [s / base for s in steps] if base == base and base else []
            mean, half, n = mean_ci(rel)
            unfitted = len(group) - len(steps)
            table.append([model, f"{p:g}", _num_ci(steps) if steps else "not fitted",
                          (f"{mean:.2f}" + (f" ± {half:.2f} (n={n})" if half is not None else "")) if n else "-",
                          unfitted])
            if n:
                xs.append(p)
                ys.append(mean)
                errs.append(half or 0.0)
        if xs:
            ax.errorbar(xs, ys, yerr=errs, marker="o", capsize=3, label=model)
        trends.append(trend_test([r["corruption_prob"] for r in rs], [r.get("fit_step") for r in rs],
                                 f"{model}: time to fit grows with p"))
    if not table:
        plt.close(fig)
        return None, "No finished run yet."
    ax.set(xlabel="label corruption", ylabel="time to fit / time with true labels")
    if ax.has_data():  # no run fitted: nothing to label (and _save writes no figure)
        ax.legend(fontsize=8)
    path = _save(fig, out / "figure1b.png")
    text = _markdown(["model", "corruption", "steps to fit", "relative to true labels", "runs not fitted"], table)
    return path, text + "\n\n" + "\n".join(f"- {t}" for t in trends)


def figure1c(rows: Sequence[Mapping[str, Any]], out: Path, paper: Sequence[Mapping[str, Any]] = ()) -> tuple[Path | None, str]:
    """Test error at the end of training vs the label corruption level (mean and 95% CI over seeds;
    paper points as crosses)."""
    curves = _by_corruption(rows)
    if not curves:
        return None, "No finished run yet."
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.6))
    table, trends = [], []
    for model, rs in curves.items():
        groups = seed_groups(rs)
        stats = [mean_ci([1 - r["test_accuracy"] for r in g]) for g in groups]
        line, *_ = ax.errorbar([g[0]["corruption_prob"] for g in groups], [m for m, _, _ in stats],
                               yerr=[h or 0.0 for _, h, _ in stats], marker="o", capsize=3, label=model)
        ours_model = [p for p in paper if p.get("model") == rs[0].get("model")]
        if ours_model:
            ax.scatter([p["corruption_prob"] for p in ours_model], [p["test_error"] / 100 for p in ours_model],
                       marker="x", color=line.get_color(), label=f"{rs[0].get('model')} (paper)")
        for g in groups:
            p = g[0]["corruption_prob"]
            match = next((q for q in ours_model if abs(q["corruption_prob"] - p) < 1e-9), None)
            table.append([model, f"{p:g}", _pct_ci([1 - r["test_accuracy"] for r in g]),
                          f"{match['test_error']:.2f}" if match else "-", _pct_ci([r.get("train_accuracy") for r in g])])
        trends.append(trend_test([r["corruption_prob"] for r in rs], [1 - r["test_accuracy"] for r in rs],
                                 f"{model}: test error grows with p"))
    ax.set(xlabel="label corruption", ylabel="test error", ylim=(0, 1))
    ax.legend(fontsize=7)
    path = _save(fig, out / "figure1c.png")
    text = _markdown(["model", "corruption", "test error % (ours)", "test error % (paper)", "train acc % (ours)"], table)
    return path, text + "\n\n" + "\n".join(f"- {t}" for t in trends)


def figure2a(rows: Sequence[Mapping[str, Any]], out: Path) -> tuple[Path | None, str]:
    """Final vs best test accuracy per grid point (true labels only: the early-stopping gain); mean
    and 95% CI over seeds when there are several."""
    runs = [r for r in finished(rows) if (r.get("corruption_prob") or 0) == 0 and r.get("pixels") in (None, "original")]
    if not runs:
        return None, "No finished run with true labels yet."
    groups = seed_groups(runs)
    plt = _plt()
    labels = ["\n(".join(model_label(g[0]).split(" (", 1)) + f"\n{regularizers(g[0])}" for g in groups]
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(groups)), 4.0))
    xs = range(len(groups))
    for offset, key, name in ((-0.2, "test_accuracy", "final"), (0.2, "best_test_accuracy", "best during training")):
        stats = [mean_ci([r[key] for r in g]) for g in groups]
        ax.bar([x + offset for x in xs], [m for m, _, _ in stats], width=0.4, label=name,
               yerr=[h or 0.0 for _, h, _ in stats], capsize=3)
    ax.set_xticks(list(xs), labels, fontsize=7)
    ax.set(ylabel="test accuracy", ylim=(0, 1))
    ax.legend(fontsize=8)
    path = _save(fig, out / "figure2a.png")
    table = [[model_label(g[0]), regularizers(g[0]), _pct_ci([r["test_accuracy"] for r in g]),
              _pct_ci([r["best_test_accuracy"] for r in g]), ", ".join(str(r.get("best_test_epoch")) for r in g),
              _pct_ci([r["best_test_accuracy"] - r["test_accuracy"] for r in g])] for g in groups]
    return path, _markdown(["model", "regularizers", "final test %", "best test %", "best at epoch",
                            "gain (points)"], table)


def figure2b(rows: Sequence[Mapping[str, Any]], out: Path) -> tuple[Path | None, str]:
    """Training and test accuracy vs steps, batch norm on vs off (mean and 95% band over seeds)."""
    runs = [r for r in finished(rows) if str(r.get("model", "")).startswith("inception")]
    if not runs:
        return None, "No finished Inception run yet."
    table = [[model_label(g[0]), regularizers(g[0]), _pct_ci([r["train_accuracy"] for r in g]),
              _pct_ci([r["test_accuracy"] for r in g]), _pct_ci([r["best_test_accuracy"] for r in g])]
             for g in seed_groups(runs)]
    text = _markdown(["model", "regularizers", "train %", "test %", "best test %"], table)
    curves = [r for r in runs if read_metrics(r["run_dir"])]
    if not curves:
        return None, f"{_NO_CURVES}\n\n{text}"
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for group in seed_groups(curves):
        first = group[0]
        name = f"{'BN' if first.get('batch_norm') else 'no BN'}, {regularizers(first)}"
        for ax, key in zip(axes, ("train_accuracy", "test_accuracy")):
            plot_mean_curve(ax, group, lambda m, key=key: m[key], label=name)
    for ax, what in zip(axes, ("training accuracy", "test accuracy")):
        ax.set(xlabel="thousand steps", ylabel=what, ylim=(0, 1))
        ax.legend(fontsize=8)
    path = _save(fig, out / "figure2b.png")
    return path, text


def _paper_cell(paper: Sequence[Mapping[str, Any]], row: Mapping[str, Any]) -> str:
    for p in paper:
        default_bn = default_batch_norm(str(p.get("model", "")))
        if (p.get("model") == row.get("model") and bool(p.get("batch_norm", default_bn)) == bool(row.get("batch_norm"))
                and bool(p.get("random_crop")) == bool(row.get("random_crop"))
                and bool(p.get("weight_decay")) == bool((row.get("weight_decay") or 0) > 0)
                and p.get("labels", "true") == row.get("labels") and row.get("pixels") in (None, "original")):
            return " / ".join(f"{p[k]:.2f}" if isinstance(p.get(k), (int, float)) else "-" for k in ("train", "test"))
    return "-"


def accuracy_table(rows: Sequence[Mapping[str, Any]], paper: Sequence[Mapping[str, Any]] = ()) -> str:
    """Table 1 / Table 2: train / test accuracy % per model and regularizers (mean and 95% CI over
    seeds when a grid point has several), ours beside the paper's."""
    body = []
    for group in seed_groups(rows):
        done = [r for r in group if r.get("status") in COMPLETE_STATUSES]
        first = group[0]
        ours = (f"{_pct_ci([r.get('train_accuracy') for r in done])} / {_pct_ci([r.get('test_accuracy') for r in done])}"
                if done else f"({first.get('status')})")
        body.append([model_label(first), regularizers(first), condition(first), ours,
                     _pct_ci([r.get("best_test_accuracy") for r in done]), _paper_cell(paper, first)])
    return _markdown(["model", "regularizers", "data", "train / test % (ours)", "best test % (ours)",
                      "train / test % (paper)"], body)


# ---------------------------------------------------------------------------------------------- report


def _examples_range(offset: int, count: int | None) -> str:
    """``the first 1,000 training examples``, ``training examples 2,500 to 4,999``, ``all ...``."""
    if not offset:
        return "all training examples" if count is None else f"the first {int(count):,} training examples"
    if count is None:
        return f"the training examples from {int(offset):,} on"
    return f"training examples {int(offset):,} to {int(offset) + int(count) - 1:,}"


def _data_as_run(rows: Sequence[Mapping[str, Any]]) -> str:
    """What the runs trained on, from the table itself: dataset, training examples, seeds."""
    parts = []
    for dataset in dict.fromkeys(str(r.get("dataset")) for r in rows):
        mine = [r for r in rows if str(r.get("dataset")) == dataset]
        ranges = sorted({(r.get("train_offset") or 0, r.get("train_examples")) for r in mine},
                        key=lambda v: (v[1] is None, v[1] or 0, v[0]))
        examples = ", ".join(_examples_range(offset, count) for offset, count in ranges)
        seeds = sorted({r.get("seed") for r in mine if r.get("seed") is not None})
        parts.append(f"{dataset} ({examples}; data seed{'s' if len(seeds) > 1 else ''} "
                     f"{', '.join(str(s) for s in seeds)})")
    return "; ".join(parts) or "no runs"


def write_report(results: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """Writes the sweep's figures and ``report.md``.

    Args:
        results: the sweep's results.json (or its folder).
        out_dir: where to write; default: a ``report`` folder beside results.json.

    Returns:
        The files written (PNG figures, then report.md).

    Raises:
        ValueError: an unreadable table.
    """
    table = load_table(results)
    rows = table["runs"]
    out = Path(out_dir) if out_dir else Path(table["_path"]).parent / "report"
    out.mkdir(parents=True, exist_ok=True)
    reports = [r for r in table.get("reports", []) if r in REPORTS] or ["table1"]
    counts = {s: sum(1 for r in rows if r.get("status") == s) for s in sorted({r.get("status") for r in rows})}
    lines = [f"# {table['sweep']}: ours beside the paper", "", table.get("description", ""), "",
             f"Runs: {len(rows)} ({', '.join(f'{n} {s}' for s, n in counts.items())}). Source: "
             f"`{table.get('source', '')}`; table updated {table.get('updated', '?')}. Accuracies are % of the whole "
             "split; train accuracy is measured in inference mode after the last epoch.", "",
             f"Data as run (after any --set): {_data_as_run(rows)}.", ""]
    written: list[Path] = []
    for report in reports:
        lines += [f"## {report}", ""]
        path, text = REPORTS[report](rows, out, _paper_rows(table, report))
        if path is not None:
            written.append(path)
            lines += [f"![{report}]({path.name}) ([PDF]({path.with_suffix('.pdf').name}), "
                      f"[SVG]({path.with_suffix('.svg').name}))", ""]
        elif report.startswith("figure"):
            lines += ["No figure: none of the runs has anything to plot for it yet (see the table).", ""]
        lines += [text, ""]
    notes = _claims(table, reports)
    if notes:
        lines += ["## What the paper says of these figures and tables", ""] + [f"- {n}" for n in notes] + [""]
    failed = [r for r in rows if r.get("status") not in COMPLETE_STATUSES]
    if failed:
        lines += ["## Runs not finished", ""]
        lines += [f"- {r['run']} ({r.get('label', '')}): {r.get('status')}" + (f": {r['error']}" if r.get("error") else "")
                  for r in failed] + [""]
    report_path = out / REPORT_FILE
    atomic_write_with(report_path, lambda tmp: tmp.write_text("\n".join(lines), encoding="utf-8"))
    written.append(report_path)
    return written


# What `rethinking report` can draw: name -> (rows, output folder, the paper's rows) -> (figure or None,
# markdown). A sweep file lists the names its runs support.
Report = Callable[[Sequence[Mapping[str, Any]], Path, Sequence[Mapping[str, Any]]], tuple[Path | None, str]]
REPORTS: dict[str, Report] = {
    "table1": lambda rows, out, paper: (None, accuracy_table(rows, paper)),
    "figure1a": lambda rows, out, paper: figure1a(rows, out),
    "figure1b": lambda rows, out, paper: figure1b(rows, out),
    "figure1c": figure1c,
    "figure2a": lambda rows, out, paper: figure2a(rows, out),
    "figure2b": lambda rows, out, paper: figure2b(rows, out),
    "table2": lambda rows, out, paper: (None, accuracy_table(rows, paper)),
    # The follow-ups (experiments/learning_dynamics.py): per-example dynamics under label noise.
    "learning_order": lambda rows, out, paper: _dynamics("learning_order")(rows, out),
    "forgetting": lambda rows, out, paper: _dynamics("forgetting")(rows, out),
    # Double descent (experiments/double_descent.py): test error against model size and epochs.
    "double_descent": lambda rows, out, paper: _followup("double_descent", "double_descent")(rows, out),
    "double_descent_epochs": lambda rows, out, paper: _followup("double_descent", "double_descent_epochs")(rows, out),
    # Kinds of label noise side by side (experiments/label_noise.py): human, transition matrix, symmetric.
    "label_noise": lambda rows, out, paper: _followup("label_noise", "label_noise")(rows, out),
    # Training from another run's network against from scratch (experiments/pretraining.py).
    "pretraining": lambda rows, out, paper: _followup("pretraining", "pretraining")(rows, out),
}


def _followup(module: str, name: str) -> Callable[..., tuple[Path | None, str]]:
    """A report function of a follow-up module, imported when drawn (the modules import this one)."""
    import importlib  # noqa: PLC0415

    return getattr(importlib.import_module(f"rethinking.experiments.{module}"), name)


def _dynamics(name: str) -> Callable[..., tuple[Path | None, str]]:
    return _followup("learning_dynamics", name)
