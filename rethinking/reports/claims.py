"""Claims: what a report says its data show, with the number, the test and the verdict.

Each report returns a ``Section``: its figure, its markdown table(s) and its ``Claim`` s. A claim
is one statement ("time to fit grows with the corruption level"), its estimate with the interval,
the test used and its one-sided p-value. ``judge`` corrects the p-values of one report's claims
with Holm's method and gives each its verdict:

* **supported**: the estimate goes the claimed way and the Holm-adjusted p is below 0.05;
* **not supported**: the estimate goes the other way (or is no effect at all);
* **inconclusive**: the claimed way, but not beyond chance at this number of seeds (or the design
  cannot reach p < 0.05, e.g. 3 levels of one seed: p >= 1/6).

A claim judged by observation (e.g. "every run fitted") has no p-value and a verdict of its own.
``claims_block`` renders a result folder's claims as the markdown that docs carry verbatim between
``<!-- claims:NAME -->`` and ``<!-- /claims -->``, and ``<!-- report:NAME/REPORT -->`` blocks carry
one report's tables (a test regenerates every block).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path

from rethinking.reports.stats import ALPHA, format_p, holm

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"


@dataclasses.dataclass(frozen=True)
class Claim:
    """One statement a report tests.

    Attributes:
        statement: what is claimed, e.g. ``"mlp_1x512: time to fit grows with p"``.
        estimate: the number with its interval, e.g. ``"1.25 ± 0.19 (n=3, paired by seed)"``.
        test: the test and its statistic, e.g. ``"Page's L = 91, exact one-sided p = 0.0014"``.
        p_value: the one-sided p of the claimed direction (None: judged by observation).
        direction: True when the estimate goes the claimed way.
        verdict: set by ``judge`` (or given, for a claim judged by observation).
        adjusted_p: Holm-adjusted p, set by ``judge``.
    """

    statement: str
    estimate: str
    test: str
    p_value: float | None = None
    direction: bool = True
    verdict: str | None = None
    adjusted_p: float | None = None


@dataclasses.dataclass(frozen=True)
class Section:
    """What one report writes: its figure (or None), markdown, and claims."""

    figure: Path | None
    text: str
    claims: tuple[Claim, ...] = ()


def judge(claims: Sequence[Claim], alpha: float = ALPHA) -> list[Claim]:
    """The claims with Holm-adjusted p-values (over those that have one) and verdicts."""
    adjusted = holm([c.p_value for c in claims])
    judged = []
    for claim, p in zip(claims, adjusted):
        if claim.p_value is None:
            judged.append(dataclasses.replace(claim, verdict=claim.verdict or INCONCLUSIVE))
            continue
        verdict = NOT_SUPPORTED if not claim.direction else SUPPORTED if p < alpha else INCONCLUSIVE
        judged.append(dataclasses.replace(claim, verdict=verdict, adjusted_p=p))
    return judged


def claims_table(claims: Sequence[Claim]) -> str:
    """Judged claims as a markdown table (claim, estimate, test, verdict)."""
    if not claims:
        return ""
    tested = sum(c.p_value is not None for c in claims)
    lines = ["| claim | estimate (95% interval) | test | verdict |", "| --- | --- | --- | --- |"]
    for c in claims:
        test = c.test + (f"; Holm-adjusted p {format_p(c.adjusted_p)}" if c.adjusted_p is not None and tested > 1
                         else "")
        lines.append(f"| {c.statement} | {c.estimate} | {test} | **{c.verdict}** |")
    note = (f"\n\nVerdicts at the 5% level after Holm's correction over the {tested} tested claims of this report."
            if tested > 1 else "\n\nVerdicts at the 5% level." if tested else "")
    return "\n".join(lines) + note


# A generated block of a doc: ``<!-- claims:NAME -->`` (a result folder's claims) or
# ``<!-- report:NAME/REPORT -->`` (one report's tables), up to ``<!-- /claims -->`` / ``<!-- /report -->``.
BLOCK = re.compile(r"<!-- (?P<kind>claims|report):(?P<key>[\w.-]+(?:/\w+)?) -->\n(?P<body>.*?)<!-- /(?P=kind) -->",
                   re.DOTALL)


def doc_blocks(text: str) -> list[tuple[str, str]]:
    """The ``("kind:key", body)`` of every generated block of a markdown document, in order."""
    return [(f"{m['kind']}:{m['key']}", m["body"]) for m in BLOCK.finditer(text)]


def replace_blocks(text: str, bodies: dict[str, str]) -> str:
    """``text`` with every block whose ``"kind:key"`` is in ``bodies`` replaced by that body."""
    def sub(m: re.Match) -> str:
        body = bodies.get(f"{m['kind']}:{m['key']}", m["body"])
        return f"<!-- {m['kind']}:{m['key']} -->\n{body}<!-- /{m['kind']} -->"

    return BLOCK.sub(sub, text)
