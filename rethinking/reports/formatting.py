"""Numbers and tables as report.md shows them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rethinking.reports.stats import mean_ci, wilson
from rethinking.reports.tables import test_size


def markdown(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def pct(value: Any) -> str:
    """A fraction as a percentage with 2 decimals (``-`` for none)."""
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * float(value):.2f}"


def pct_ci(values: Sequence[Any]) -> str:
    """``56.44 ± 1.20 (n=3)`` (mean and Student-t 95% interval over seeds) or ``56.44`` for one run."""
    mean, half, n = mean_ci(values)
    if n == 0:
        return "-"
    return f"{100 * mean:.2f}" if half is None else f"{100 * mean:.2f} ± {100 * half:.2f} (n={n})"


def num_ci(values: Sequence[Any]) -> str:
    """``1234 ± 56 (n=3)`` (95% interval) for several values, ``1234`` for one."""
    mean, half, n = mean_ci(values)
    if n == 0:
        return "-"
    return f"{mean:.0f}" if half is None else f"{mean:.0f} ± {half:.0f} (n={n})"


def test_pct(rows: Sequence[Mapping[str, Any]], error: bool = False) -> str:
    """Test accuracy (or, ``error``, test error) % of a grid point: mean and 95% interval over seeds,
    or for one run its Wilson interval over the test examples (``47.59 [44.5, 50.7]``) when the
    run says how many there were."""
    values = [r.get("test_accuracy") for r in rows if r.get("test_accuracy") is not None]
    if len(values) == 1:
        size = test_size(rows[0])
        value = 1 - values[0] if error else values[0]
        if size:
            return accuracy_with_interval(value, size)
    return pct_ci([1 - v for v in values] if error else values)


INTERVALS_NOTE = ("Intervals: mean ± 95% Student-t interval over seeds; for one run, [the Wilson 95% interval] "
                  "of its test accuracy over the test examples.")


def accuracy_with_interval(accuracy: float | None, examples: int | None) -> str:
    """One run's accuracy % with its Wilson 95% interval over the ``examples`` it was measured on:
    ``47.59 [44.5, 50.7]`` (the test set's sampling noise); the accuracy alone without a count."""
    if accuracy is None or (isinstance(accuracy, float) and math.isnan(accuracy)):
        return "-"
    if not examples:
        return pct(accuracy)
    low, high = wilson(round(float(accuracy) * examples), int(examples))
    return f"{100 * float(accuracy):.2f} [{100 * low:.1f}, {100 * high:.1f}]"
