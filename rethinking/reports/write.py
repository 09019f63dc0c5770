"""``write_report``: a sweep's figures, ``report.md`` and ``claims.md`` from its results table.

For each of the sweep's ``reports`` (``rethinking.reports.registry``): the figure (PNG, PDF, SVG),
a markdown table of our numbers beside the paper's (``paper.toml``, and a sweep file's own
``[paper]`` tables) and the report's claims, judged (``claims.py``). ``claims.md`` holds the claims
alone: the block that docs carry verbatim between ``<!-- claims:NAME -->`` markers. Curves come
from each run's ``metrics.csv``; a run that has not finished is left out and listed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rethinking.atomic import atomic_write_with
from rethinking.reports.claims import Section, claims_table
from rethinking.reports.registry import REPORT_NAMES, report_function
from rethinking.reports.tables import load_table, paper_claims, paper_rows
from rethinking.training.rundir import COMPLETE_STATUSES

REPORT_FILE = "report.md"
CLAIMS_FILE = "claims.md"


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
        parts.append(f"{Path(dataset).name if dataset.endswith('.npz') else dataset} ({examples}; "
                     f"data seed{'s' if len(seeds) > 1 else ''} {', '.join(str(s) for s in seeds)})")
    return "; ".join(parts) or "no runs"


def source_name(source: str) -> str:
    """The sweep file as a reader can find it anywhere: a shipped sweep's name (``laptop/figure1a``),
    else the file's name (never a path of the machine the report was made on)."""
    from rethinking.experiments.sweep import shipped_sweeps  # noqa: PLC0415

    for name, path in shipped_sweeps().items():
        # pipelines/ today; rethinking/sweeps/ in tables written before the pipelines/ folder.
        if str(path) == source or Path(source).as_posix().endswith((f"pipelines/{name}.toml", f"sweeps/{name}.toml")):
            return f"the shipped sweep {name}"
    return f"the sweep file {Path(source).name}" if source else "an unknown sweep file"


def sections(table: Mapping[str, Any], out: Path | None) -> dict[str, Section]:
    """Every report of the table, by name (figures written to ``out``; none when it is None)."""
    names = [r for r in table.get("reports", []) if r in REPORT_NAMES] or ["table1"]
    return {name: report_function(name)(table["runs"], out, paper_rows(table, name)) for name in names}


def claims_markdown(parts: Mapping[str, Section]) -> str:
    """The claims of every report, each under its name: the text of a docs claims block."""
    blocks = [f"**{name}**\n\n{claims_table(section.claims)}\n" for name, section in parts.items() if section.claims]
    return "\n".join(blocks) if blocks else "No claims: no report of this sweep has finished runs to test.\n"


def claims_block(results: str | Path) -> str:
    """The claims block of a results table (or its folder), without drawing any figure."""
    return claims_markdown(sections(load_table(results), None))


def write_report(results: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """Writes the sweep's figures, ``report.md`` and ``claims.md``.

    Args:
        results: the sweep's results.json (or its folder).
        out_dir: where to write; default: a ``report`` folder beside results.json.

    Returns:
        The files written (PNG figures, then report.md, then claims.md).

    Raises:
        ValueError: an unreadable table.
    """
    table = load_table(results)
    rows = table["runs"]
    out = Path(out_dir) if out_dir else Path(table["_path"]).parent / "report"
    out.mkdir(parents=True, exist_ok=True)
    counts = {s: sum(1 for r in rows if r.get("status") == s) for s in sorted({str(r.get("status")) for r in rows})}
    lines = [f"# {table['sweep']}: ours beside the paper", "", table.get("description", ""), "",
             f"Runs: {len(rows)} ({', '.join(f'{n} {s}' for s, n in counts.items())}). Source: "
             f"{source_name(str(table.get('source', '')))}; table updated {table.get('updated', '?')}. Accuracies "
             "are % of the whole split; train accuracy is measured in inference mode after the last epoch.", "",
             f"Data as run (after any --set): {_data_as_run(rows)}.", ""]
    seconds = [float(r["wall_seconds"]) for r in rows if isinstance(r.get("wall_seconds"), (int, float))]
    if seconds:
        lines += [f"Run time: {sum(seconds) / 60:.0f} minutes summed over the {len(seconds)} runs' wall times "
                  "(runs on parallel workers take less wall time together).", ""]
    parts = sections(table, out)
    written: list[Path] = []
    for name, section in parts.items():
        lines += [f"## {name}", ""]
        if section.figure is not None:
            written.append(section.figure)
            lines += [f"![{name}]({section.figure.name}) ([PDF]({section.figure.with_suffix('.pdf').name}), "
                      f"[SVG]({section.figure.with_suffix('.svg').name}))", ""]
        elif name.startswith("figure"):
            lines += ["No figure: none of the runs has anything to plot for it yet (see the table).", ""]
        lines += [section.text, ""]
        if section.claims:
            lines += ["Claims:", "", claims_table(section.claims), ""]
    notes = paper_claims(table, list(parts))
    if notes:
        lines += ["## What the paper says of these figures and tables", ""] + [f"- {n}" for n in notes] + [""]
    failed = [r for r in rows if r.get("status") not in COMPLETE_STATUSES]
    if failed:
        lines += ["## Runs not finished", ""]
        lines += [f"- {r['run']} ({r.get('label', '')}): {r.get('status')}" + (f": {r['error']}" if r.get("error") else "")
                  for r in failed] + [""]
    report_path = out / REPORT_FILE
    atomic_write_with(report_path, lambda tmp: tmp.write_text("\n".join(lines), encoding="utf-8"))
    claims_path = out / CLAIMS_FILE
    text = claims_markdown(parts)
    atomic_write_with(claims_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return written + [report_path, claims_path]
