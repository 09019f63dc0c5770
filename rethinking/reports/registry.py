"""The reports ``rethinking report`` can write, by name: plain Python, no import of what draws them.

A sweep file lists the names its runs support (``[sweep] reports``); the sweep reader checks them
against this registry without importing the reports (which read sweep files: the arrow points from
the reports to the sweeps, and both read this floor). Each entry is ``"module:function"``, loaded
when a report is written; the function takes ``(rows, out, paper)`` and returns a
``rethinking.reports.claims.Section`` (figure, markdown, claims). A new report is one module and
one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rethinking.registry import load_function

REPORTS: dict[str, str] = {
    # The paper's figures and tables (Figures 1 and 2, Tables 1 and 2).
    "table1": "rethinking.reports.accuracy:table1",
    "figure1a": "rethinking.reports.figure1:figure1a",
    "figure1b": "rethinking.reports.figure1:figure1b",
    "figure1c": "rethinking.reports.figure1:figure1c",
    "figure2a": "rethinking.reports.figure2:figure2a",
    "figure2b": "rethinking.reports.figure2:figure2b",
    "table2": "rethinking.reports.accuracy:table2",
    # The follow-ups: per-example dynamics under label noise (Arpit et al., Toneva et al.).
    "learning_order": "rethinking.reports.learning_dynamics:learning_order",
    "forgetting": "rethinking.reports.learning_dynamics:forgetting",
    # Double descent (Nakkiran et al., Belkin et al.): test error against model size and epochs.
    "double_descent": "rethinking.reports.double_descent:double_descent",
    "double_descent_epochs": "rethinking.reports.double_descent:double_descent_epochs",
    # Kinds of label noise side by side: human, transition matrix, symmetric.
    "label_noise": "rethinking.reports.label_noise:label_noise",
    # Training from another run's network against from scratch (Maennel et al.).
    "pretraining": "rethinking.reports.pretraining:pretraining",
    # Generalization measures ranked against the gap (Bartlett et al., Neyshabur et al., Jiang et al.).
    "measures": "rethinking.reports.measures:measures",
    # Empirical uniform stability (Hardt et al.): pairs of runs that differ in one training example.
    "stability": "rethinking.reports.stability:stability",
}
REPORT_NAMES = tuple(REPORTS)


def report_function(name: str) -> Callable[..., Any]:
    """The function that writes report ``name``.

    Raises:
        ValueError: an unknown name.
    """
    if name not in REPORTS:
        raise ValueError(f"Unknown report {name!r}: use one of {', '.join(REPORTS)}.")
    return load_function(REPORTS[name], "report")
