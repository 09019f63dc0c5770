"""The docs' generated blocks are what their committed results give, and the check catches an edit."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rethinking.reports.claims import doc_blocks
from rethinking.reports.docs import stale_blocks

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.slow
def test_every_generated_block_of_the_docs_is_what_its_results_give():
    docs = {p.name: p for p in DOCS.glob("*.md") if doc_blocks(p.read_text(encoding="utf-8"))}
    assert {"reproducing.md", "followups.md"} <= set(docs)
    for doc in docs.values():
        assert stale_blocks(doc) == [], f"{doc.name}: run 'rethinking claims docs/{doc.name}'"


def _copy_with_results(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "reproduction").symlink_to(DOCS / "reproduction", target_is_directory=True)
    return Path(shutil.copy(DOCS / "followups.md", tmp_path / "docs" / "followups.md"))


@pytest.mark.slow
def test_an_edited_number_in_a_block_fails_the_check_and_the_command_restores_it(tmp_path, cli):
    doc = _copy_with_results(tmp_path)
    text = doc.read_text(encoding="utf-8")
    block = text.index("<!-- claims:laptop-random-label-pretraining -->")
    edited = text[:block] + text[block:].replace("n=3, paired by seed", "n=4, paired by seed", 1)
    doc.write_text(edited, encoding="utf-8")
    assert stale_blocks(doc) == ["claims:laptop-random-label-pretraining"]
    code, _, err = cli("claims", "--check", str(doc))
    assert code == 1 and "claims:laptop-random-label-pretraining" in err
    code, out, _ = cli("claims", str(doc))
    assert code == 0 and "Updated" in out and doc.read_text(encoding="utf-8") == text
    assert stale_blocks(doc) == []


def test_a_block_naming_no_results_is_one_line(tmp_path, cli):
    doc = _copy_with_results(tmp_path)
    doc.write_text("<!-- claims:no-such-folder -->\n<!-- /claims -->\n", encoding="utf-8")
    code, _, err = cli("claims", str(doc))
    assert code == 2 and "no-such-folder" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_committed_results_and_docs_carry_no_absolute_path_of_this_machine():
    # The folder holding this clone (where a workspace keeps its data and runs) and the usual homes.
    roots = (f"{DOCS.parent.parent}/", "/home/", "/root/", "/Users/")
    for path in list(DOCS.rglob("*.md")) + list(DOCS.rglob("*.json")) + list(DOCS.rglob("*.csv")):
        text = path.read_text(encoding="utf-8")
        assert not any(root in text for root in roots), f"{path.relative_to(DOCS)} holds an absolute path"
