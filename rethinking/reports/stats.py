"""The statistics every report uses, written once: right at three seeds.

* Means with Student-t intervals (``mean_ci``), and **paired by seed** (``paired``): a ratio or a
  difference "relative to" a baseline is taken per seed against the same seed's baseline run, and
  the interval is Student-t over the per-seed values (df = n - 1). The seed fixes the corrupted
  labels and the initial weights, so the pairing removes their variance from the comparison.
* **Censoring** (``Censored``): a run stopped at its epoch cap without fitting has a time to fit of
  *at least* the cap. It is never dropped: its value is the cap, the mean over runs is then a lower
  bound, and the summary says how many values are censored.
* **Exact trend tests** (``page_trend``): "y grows with x" over levels of x, blocked by seed: Page's
  L (the sum over seeds of level order x within-seed rank), with its exact one-sided permutation
  p-value (every within-seed ordering equally likely under no trend; ties keep their mid-ranks).
  One seed of three levels ordered perfectly gives p = 1/6, never "p = 0".
* **Holm** (``holm``): step-down correction across the claims of one report.
* **One run's accuracy**: the Wilson interval of a proportion (``wilson``); two runs on the same
  test set: McNemar's exact test on the examples exactly one of them gets right (``mcnemar``).
* **Paired t-test p-values** (``paired_t_p``), one-sided where the claim is.

Pure Python plus SciPy's distributions; no TensorFlow.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

CONFIDENCE = 0.95
ALPHA = 0.05  # the level of every verdict, after Holm's correction


def _finite(values: Iterable[Any]) -> list[float]:
    return [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]


def t_quantile(df: int, confidence: float = CONFIDENCE) -> float:
    """The two-sided Student-t quantile of ``confidence`` with ``df`` degrees of freedom."""
    from scipy import stats  # noqa: PLC0415

    return float(stats.t.ppf(0.5 + confidence / 2, df))


def mean_ci(values: Sequence[Any], confidence: float = CONFIDENCE) -> tuple[float, float | None, int]:
    """Mean, half-width of the Student-t confidence interval (None for fewer than 2 values), n.

    None and NaN values are left out (they are missing, not censored: see ``Censored``).
    """
    xs = _finite(values)
    if not xs:
        return float("nan"), None, 0
    mean = sum(xs) / len(xs)
    if len(xs) < 2:
        return mean, None, len(xs)
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))
    return mean, t_quantile(len(xs) - 1, confidence) * sd / math.sqrt(len(xs)), len(xs)


def paired_t_p(differences: Sequence[float], alternative: str = "greater") -> float | None:
    """The paired t-test p-value of mean(differences) > 0 (``greater``), < 0 (``less``) or != 0.

    None for fewer than 2 differences; 0 or 1 when all differences are equal (no spread).
    """
    xs = _finite(differences)
    if len(xs) < 2:
        return None
    mean = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))
    if sd == 0:
        sign = {"greater": mean > 0, "less": mean < 0, "two-sided": mean != 0}[alternative]
        return 0.0 if sign else 1.0
    from scipy import stats  # noqa: PLC0415

    t = mean / (sd / math.sqrt(len(xs)))
    dist = stats.t(len(xs) - 1)
    if alternative == "greater":
        return float(dist.sf(t))
    if alternative == "less":
        return float(dist.cdf(t))
    return float(2 * dist.sf(abs(t)))


# ------------------------------------------------------------------------------------------- censoring


@dataclasses.dataclass(frozen=True)
class Censored:
    """A time (e.g. steps to fit) that is either observed or known only to exceed ``value``.

    Attributes:
        value: the time observed, or the cap at which the run stopped without the event.
        censored: True when the event did not happen by ``value`` (the true time is larger).
    """

    value: float
    censored: bool = False


def fit_time(row: Mapping[str, Any], key: str = "fit_step", cap_key: str = "steps") -> Censored | None:
    """A run's time to fit as a ``Censored`` value: ``key`` if it fitted, else censored at ``cap_key``
    (the steps it trained); None for a run with neither (not finished)."""
    if row.get(key) not in (None, ""):
        return Censored(float(row[key]))
    if row.get(cap_key) not in (None, ""):
        return Censored(float(row[cap_key]), censored=True)
    return None


@dataclasses.dataclass(frozen=True)
class Summary:
    """A mean with its 95% interval over runs, censoring stated.

    Attributes:
        mean: the mean (a lower bound when any value is censored).
        half: the Student-t half-width (None for one value).
        n: the number of values.
        censored: how many of them are censored (their cap is used).
    """

    mean: float
    half: float | None
    n: int
    censored: int = 0

    def text(self, digits: int = 0, scale: float = 1.0) -> str:
        """``1234``, ``1234 ± 56 (n=3)``, ``≥ 1234 ± 56 (n=3, 1 censored at the cap)``."""
        if self.n == 0:
            return "-"
        body = f"{self.mean * scale:.{digits}f}"
        if self.half is not None:
            body += f" ± {self.half * scale:.{digits}f}"
        notes = [f"n={self.n}"] if self.half is not None or self.censored else []
        if self.censored:
            notes.append(f"{self.censored} censored at the cap")
        return ("≥ " if self.censored else "") + body + (f" ({', '.join(notes)})" if notes else "")


def summarize(values: Sequence[Censored | float | None]) -> Summary:
    """The mean and 95% interval of ``values`` (numbers or ``Censored``; None left out)."""
    times = [v if isinstance(v, Censored) else Censored(float(v)) for v in values
             if v is not None and not (isinstance(v, float) and math.isnan(v))]
    mean, half, n = mean_ci([t.value for t in times])
    return Summary(mean, half, n, sum(t.censored for t in times))


# ---------------------------------------------------------------------------------------------- pairing


def pair_by_seed(rows: Sequence[Mapping[str, Any]], baseline: Sequence[Mapping[str, Any]],
                 seed: Callable[[Mapping[str, Any]], Any] = lambda r: r.get("seed")
                 ) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """``(row, baseline row of the same seed)`` for every row whose seed has a baseline run."""
    base = {seed(b): b for b in baseline}
    return [(r, base[seed(r)]) for r in rows if seed(r) in base]


@dataclasses.dataclass(frozen=True)
class Paired:
    """A per-seed ratio or difference, summarized over seeds.

    Attributes:
        values: the per-seed values (ratio or difference).
        summary: their mean and Student-t interval (df = n - 1).
        lower_bounds: how many per-seed values are lower bounds (the run was censored, its
            baseline not).
        undefined: seeds left out because the baseline itself was censored.
    """

    values: tuple[float, ...]
    summary: Summary
    lower_bounds: int = 0
    undefined: int = 0

    def text(self, digits: int = 2, unit: str = "") -> str:
        """``1.25 ± 0.19 (n=3, paired by seed)`` (``unit`` after the interval) with censoring stated."""
        s = self.summary
        if s.n == 0:
            return "-"
        body = f"{'≥ ' if self.lower_bounds else ''}{s.mean:.{digits}f}"
        if s.half is not None:
            body += f" ± {s.half:.{digits}f}"
        body += f" {unit}" if unit else ""
        notes = [f"n={s.n}", "paired by seed"]
        if self.lower_bounds:
            notes.append(f"{self.lower_bounds} a lower bound (not fitted)")
        if self.undefined:
            notes.append(f"{self.undefined} seed(s) without a fitted baseline left out")
        return f"{body} ({', '.join(notes)})"


def paired(pairs: Sequence[tuple[Censored | float | None, Censored | float | None]], how: str = "ratio") -> Paired:
    """Per-seed ``value / baseline`` (``ratio``) or ``value - baseline`` (``difference``), summarized.

    Args:
        pairs: ``(value, the same seed's baseline value)``; numbers or ``Censored``.
        how: ``ratio`` or ``difference``.

    Returns:
        The per-seed values with their mean and interval. A censored value over an observed
        baseline gives a lower bound (counted); a censored baseline leaves its seed out (counted).
    """
    values, lower, undefined = [], 0, 0
    for value, base in pairs:
        if value is None or base is None:
            continue
        v = value if isinstance(value, Censored) else Censored(float(value))
        b = base if isinstance(base, Censored) else Censored(float(base))
        if b.censored:
            undefined += 1
            continue
        if how == "ratio":
            if b.value == 0:
                undefined += 1
                continue
            values.append(v.value / b.value)
        else:
            values.append(v.value - b.value)
        lower += v.censored
    mean, half, n = mean_ci(values)
    return Paired(tuple(values), Summary(mean, half, n), lower, undefined)


# ----------------------------------------------------------------------------------------------- trends


def midranks(values: Sequence[float]) -> list[float]:
    """Ranks 1..n of ``values``, ties sharing their mean rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def _block_distribution(scores: Sequence[float], ranks: Sequence[float]) -> dict[float, float]:
    """Under no trend, the distribution of sum(score x rank) over the orderings of ``ranks``."""
    perms = list(itertools.permutations(ranks))
    dist: dict[float, float] = {}
    for perm in perms:
        value = round(sum(s * r for s, r in zip(scores, perm)), 9)
        dist[value] = dist.get(value, 0.0) + 1 / len(perms)
    return dist


def _convolve(a: Mapping[float, float], b: Mapping[float, float]) -> dict[float, float]:
    out: dict[float, float] = {}
    for x, p in a.items():
        for y, q in b.items():
            key = round(x + y, 9)
            out[key] = out.get(key, 0.0) + p * q
    return out


@dataclasses.dataclass(frozen=True)
class Trend:
    """Page's trend test of "y grows with x", blocked by seed.

    Attributes:
        statistic: Page's L (sum over blocks and levels of level order x within-block rank).
        p_value: the exact one-sided permutation p-value (None: fewer than 2 levels in every block).
        rho: the mean over blocks of the within-block Spearman correlation (the effect size).
        blocks: the number of blocks (seeds) with at least 2 levels.
        levels: the number of distinct levels of x.
        min_p: the smallest p-value this design can give (1 / number of orderings).
    """

    statistic: float
    p_value: float | None
    rho: float
    blocks: int
    levels: int
    min_p: float

    def text(self) -> str:
        """``Page's L = 91, exact one-sided p = 0.0014 (3 seeds x 6 levels)``."""
        if self.p_value is None:
            return "not tested (fewer than 2 levels)"
        return (f"Page's L = {self.statistic:g}, exact one-sided p {format_p(self.p_value)} "
                f"({self.blocks} seed{'s' if self.blocks != 1 else ''} x {self.levels} levels)")


def page_trend(points: Sequence[tuple[Any, float, float]]) -> Trend:
    """Page's L test that y increases with x, blocked, with its exact permutation p-value.

    Args:
        points: ``(block, x, y)``: block is the seed; one y per (block, x) (a repeated pair keeps
            the mean). Blocks may miss levels: each is ranked over the levels it has.

    Returns:
        The statistic, the exact one-sided p (the chance, with every within-block ordering equally
        likely, of an L at least as large), the mean within-block Spearman rho and the design.
    """
    levels = sorted({float(x) for _, x, _ in points})
    order = {x: i + 1 for i, x in enumerate(levels)}
    blocks: dict[Any, dict[float, list[float]]] = {}
    for block, x, y in points:
        if y is None or (isinstance(y, float) and math.isnan(y)):
            continue
        blocks.setdefault(block, {}).setdefault(float(x), []).append(float(y))
    statistic, dist, rhos, used, min_p = 0.0, {0.0: 1.0}, [], 0, 1.0
    for cells in blocks.values():
        if len(cells) < 2:
            continue
        xs = sorted(cells)
        ys = [sum(cells[x]) / len(cells[x]) for x in xs]
        scores = [float(order[x]) for x in xs]
        ranks = midranks(ys)
        statistic += sum(s * r for s, r in zip(scores, ranks))
        dist = _convolve(dist, _block_distribution(scores, ranks))
        rhos.append(_spearman(scores, ranks))
        used += 1
        min_p /= math.factorial(len(xs))
    if not used:
        return Trend(0.0, None, math.nan, 0, len(levels), 1.0)
    p = sum(q for value, q in dist.items() if value >= round(statistic, 9) - 1e-9)
    return Trend(statistic, min(1.0, p), sum(rhos) / len(rhos), used, len(levels), min_p)


def _spearman(xs: Sequence[float], ranks: Sequence[float]) -> float:
    rx, ry = midranks(xs), list(ranks)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    num = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    den = math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))
    return num / den if den else 0.0


# ---------------------------------------------------------------------------------- multiplicity, counts


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values (None stays None and does not count as a test).

    The i-th smallest of m p-values becomes max over j <= i of min(1, (m - j + 1) p_(j)).
    """
    tested = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(tested)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(tested):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def wilson(successes: float, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``successes / n`` (e.g. one run's test accuracy).

    Raises:
        ValueError: n < 1.
    """
    if n < 1:
        raise ValueError(f"wilson needs n >= 1. Received: n={n}")
    from scipy import stats  # noqa: PLC0415

    z = float(stats.norm.ppf(0.5 + confidence / 2))
    phat = successes / n
    centre = (phat + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar(only_first: int, only_second: int, alternative: str = "two-sided") -> float:
    """McNemar's exact test for two classifiers on the same examples.

    Args:
        only_first: examples the first gets right and the second wrong.
        only_second: examples the second gets right and the first wrong.
        alternative: ``two-sided``, or ``greater`` (the first is the better one).

    Returns:
        Two-sided: 2 x the binomial(only_first + only_second, 1/2) tail of the smaller count, at
        most 1; ``greater``: P(X >= only_first).
    """
    n = only_first + only_second
    if n == 0:
        return 1.0
    from scipy import stats  # noqa: PLC0415

    if alternative == "greater":
        return float(stats.binom.sf(only_first - 1, n, 0.5))
    return float(min(1.0, 2 * stats.binom.cdf(min(only_first, only_second), n, 0.5)))


def sign_test(more: int, less: int) -> float:
    """The exact one-sided sign test: P(X >= more) for X ~ binomial(more + less, 1/2); ties are dropped.

    Args:
        more: pairs that went the claimed way.
        less: pairs that went the other way.
    """
    return mcnemar(more, less, "greater")


def format_p(p: float | None) -> str:
    """A p-value as a reader wants it: ``= 0.17``, ``= 0.0046``, ``< 1e-6``."""
    if p is None:
        return "= -"
    return "< 1e-6" if p < 1e-6 else f"= {p:.2g}"
