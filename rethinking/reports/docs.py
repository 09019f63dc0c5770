"""Claims blocks in markdown docs, regenerated from the committed results they name.

A doc carries a result folder's claims verbatim between ``<!-- claims:NAME -->`` and
``<!-- /claims -->``, and one report's tables between ``<!-- report:NAME/REPORT -->`` and
``<!-- /report -->``, where NAME is a folder under ``reproduction/`` beside the doc (e.g.
docs/reproduction/laptop-figure1bc-seeds for docs/reproducing.md). ``rethinking claims DOC``
rewrites every block from its folder; ``--check`` (and the test suite) fails on any difference, so
no number in a block can drift from its data.
"""

from __future__ import annotations

from pathlib import Path

from rethinking.atomic import atomic_write_text
from rethinking.reports.claims import doc_blocks, replace_blocks
from rethinking.reports.claims import Section
from rethinking.reports.tables import load_table
from rethinking.reports.write import claims_markdown, sections

RESULTS_FOLDER = "reproduction"


def block_folder(doc: Path, name: str) -> Path:
    """The result folder a block of ``doc`` names."""
    return doc.parent / RESULTS_FOLDER / name


def regenerated(doc: Path) -> str:
    """``doc``'s text with every claims block regenerated from its result folder.

    Raises:
        ValueError: a block names a folder that holds no results table.
    """
    text = doc.read_text(encoding="utf-8")
    folders: dict[str, dict[str, Section]] = {}  # each folder's reports, computed once for all its blocks
    bodies = {}
    for block in dict.fromkeys(name for name, _ in doc_blocks(text)):
        kind, _, key = block.partition(":")
        name, _, report = key.partition("/")
        if name not in folders:
            folder = block_folder(doc, name)
            if not (folder / "results.json").is_file() and not (folder / "results.csv").is_file():
                raise ValueError(f"{doc}: the block {block!r} names {folder}, which holds no results table.")
            folders[name] = sections(load_table(folder), None)
        parts = folders[name]
        if kind == "report" and report not in parts:
            raise ValueError(f"{doc}: the block {block!r} names a report its sweep does not list "
                             f"(it has {', '.join(parts)}).")
        bodies[block] = claims_markdown(parts) if kind == "claims" else parts[report].text + "\n"
    return replace_blocks(text, bodies)


def stale_blocks(doc: Path) -> list[str]:
    """The names of ``doc``'s blocks whose text differs from what their results give."""
    current = dict(doc_blocks(doc.read_text(encoding="utf-8")))
    fresh = dict(doc_blocks(regenerated(doc)))
    return [name for name in current if current[name] != fresh[name]]


def update(doc: Path) -> bool:
    """Rewrites ``doc``'s blocks from their results; True when anything changed."""
    text = regenerated(doc)
    if text == doc.read_text(encoding="utf-8"):
        return False
    atomic_write_text(doc, text)
    return True
