"""Reports: a sweep's figures, tables and judged claims, from its results table (reports never train).

    from rethinking.reports import write_report
    write_report("tensorboard_logs/laptop-figure1a/results.json")   # figures, report.md, claims.md

``registry.REPORTS`` names every report (``"module:function"``); ``tables`` reads a sweep's table
and runs; ``stats`` holds the statistics (paired by seed, censored, exact trend tests, Holm,
Wilson, McNemar); ``claims`` judges a report's claims; ``plotting`` draws. A new report is one
module and one registry line (docs/architecture.md).
"""

from rethinking.registry import lazy_attributes
from rethinking.reports.registry import REPORT_NAMES, REPORTS

__getattr__ = lazy_attributes(__name__, {
    "write_report": "rethinking.reports.write:write_report", "claims_block": "rethinking.reports.write:claims_block",
    "load_table": "rethinking.reports.tables:load_table", "Claim": "rethinking.reports.claims:Claim",
    "Section": "rethinking.reports.claims:Section"})

__all__ = ["REPORTS", "REPORT_NAMES", "Claim", "Section", "claims_block", "load_table", "write_report"]
