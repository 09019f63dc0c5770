"""The reports' statistics against hand computations: paired by seed, censored, exact, Holm, Wilson, McNemar."""

from __future__ import annotations

import math

import pytest

from rethinking.reports.claims import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Claim, judge
from rethinking.reports.stats import (Censored, fit_time, holm, mcnemar, mean_ci, midranks, page_trend, pair_by_seed,
                                      paired, paired_t_p, summarize, wilson)

T2 = 4.302652729911275  # Student-t 0.975 quantile, 2 degrees of freedom


def test_mean_interval_is_student_t():
    mean, half, n = mean_ci([1.0, 2.0, 3.0])
    assert (mean, n) == (2.0, 3) and math.isclose(half, T2 / math.sqrt(3))
    assert mean_ci([0.5]) == (0.5, None, 1) and mean_ci([None, math.nan])[2] == 0


def test_a_ratio_relative_to_the_baseline_is_paired_by_seed_and_differs_from_dividing_by_the_mean():
    # Three seeds: a seed that is slow with true labels is slow with random labels too.
    truth = [{"seed": 0, "fit_step": 100}, {"seed": 1, "fit_step": 200}, {"seed": 2, "fit_step": 300}]
    random = [{"seed": 0, "fit_step": 130}, {"seed": 1, "fit_step": 240}, {"seed": 2, "fit_step": 390}]
    result = paired([(fit_time(r), fit_time(b)) for r, b in pair_by_seed(random, truth)], "ratio")
    ratios = [1.3, 1.2, 1.3]  # by hand
    mean = sum(ratios) / 3
    sd = math.sqrt(sum((r - mean) ** 2 for r in ratios) / 2)
    assert result.values == pytest.approx(ratios)
    assert result.summary.mean == pytest.approx(mean) and result.summary.half == pytest.approx(T2 * sd / math.sqrt(3))
    assert result.text() == "1.27 ± 0.14 (n=3, paired by seed)"
    # The old way: every run over the mean of the true-label runs (200), as if that were a constant.
    unpaired = mean_ci([130 / 200, 240 / 200, 390 / 200])
    assert unpaired[1] == pytest.approx(T2 * math.sqrt(((0.65 - 1.2667) ** 2 + (1.2 - 1.2667) ** 2 + (1.95 - 1.2667) ** 2)
                                                        / 2) / math.sqrt(3), rel=1e-3)
    assert abs(unpaired[1] - result.summary.half) > 1.0  # 1.62 against 0.14: the pairing matters


def test_pairs_are_made_by_seed_not_by_order():
    truth = [{"seed": 1, "v": 10}, {"seed": 0, "v": 20}]
    runs = [{"seed": 0, "v": 1}, {"seed": 1, "v": 2}, {"seed": 2, "v": 3}]  # seed 2 has no baseline
    assert [(r["v"], b["v"]) for r, b in pair_by_seed(runs, truth)] == [(1, 20), (2, 10)]


def test_a_run_that_did_not_fit_is_censored_at_its_cap_moves_the_estimate_and_is_listed():
    fitted = [{"fit_step": 100, "steps": 100}, {"fit_step": 120, "steps": 120}]
    stuck = {"fit_step": None, "steps": 960}  # stopped at the 60-epoch cap without fitting
    assert fit_time(stuck) == Censored(960.0, censored=True) and fit_time({"status": "pending"}) is None
    without = summarize([fit_time(r) for r in fitted])
    with_it = summarize([fit_time(r) for r in fitted + [stuck]])
    assert without.mean == 110 and with_it.mean == pytest.approx((100 + 120 + 960) / 3)  # moved, not dropped
    assert with_it.censored == 1 and with_it.n == 3
    assert with_it.text().startswith("≥ 393 ± ") and with_it.text().endswith("(n=3, 1 censored at the cap)")
    # Relative to a fitted baseline, a censored run gives a lower bound; over a censored baseline, nothing.
    result = paired([(Censored(960, True), Censored(480)), (Censored(200), Censored(100)), (Censored(300), Censored(90, True))])
    assert result.values == (2.0, 2.0) and result.lower_bounds == 1 and result.undefined == 1
    assert result.text().startswith("≥ 2.00") and "1 a lower bound (not fitted)" in result.text()


def test_the_exact_trend_p_of_three_ordered_points_is_one_sixth():
    trend = page_trend([(0, 0.0, 10.0), (0, 0.5, 20.0), (0, 1.0, 30.0)])
    assert trend.p_value == pytest.approx(1 / 6) and trend.min_p == pytest.approx(1 / 6) and trend.rho == 1.0
    # Reversed: every ordering is at least as large, p = 1.
    assert page_trend([(0, 0.0, 30.0), (0, 0.5, 20.0), (0, 1.0, 10.0)]).p_value == pytest.approx(1.0)


def test_page_trend_is_blocked_by_seed_and_exact():
    # Two seeds of three levels; seed 1 has a swap at the top. By hand: L = 14 + 13 = 27; the
    # distribution of one block's sum(j * rank) over 6 orderings is {10, 11, 11, 13, 13, 14}; P(L >= 27)
    # over the 36 pairs: (14,14), (14,13)x2, (13,14)x2 -> 5/36.
    points = [(0, 0.0, 1.0), (0, 0.5, 2.0), (0, 1.0, 3.0), (1, 0.0, 1.0), (1, 0.5, 5.0), (1, 1.0, 4.0)]
    trend = page_trend(points)
    assert trend.statistic == 27 and trend.p_value == pytest.approx(5 / 36) and trend.blocks == 2
    # A seed's scale does not matter (ranks within the seed), which pooling the runs would not give.
    shifted = [(b, x, y + 1000 * b) for b, x, y in points]
    assert page_trend(shifted).p_value == pytest.approx(5 / 36)


def test_ties_keep_their_midranks():
    assert midranks([3.0, 1.0, 3.0, 2.0]) == [3.5, 1.0, 3.5, 2.0]
    trend = page_trend([(0, 0.0, 1.0), (0, 0.5, 1.0), (0, 1.0, 2.0)])  # ranks 1.5, 1.5, 3: L = 1.5 + 3 + 9
    assert trend.statistic == 13.5 and trend.p_value == pytest.approx(2 / 6)  # orderings with 3 last


def test_holm_on_hand_values():
    # Sorted 0.01, 0.02, 0.04 of m = 3: 3 x 0.01 = 0.03, 2 x 0.02 = 0.04, 1 x 0.04 = 0.04 (monotone).
    adjusted = holm([0.04, 0.01, None, 0.02])
    assert adjusted[2] is None and adjusted[0] == pytest.approx(0.04) and adjusted[1] == pytest.approx(0.03)
    assert adjusted[3] == pytest.approx(0.04)
    assert holm([0.3, 0.6]) == pytest.approx([0.6, 0.6])  # 2 x 0.3, then max(0.6, 0.6)
    assert holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])  # capped at 1


def test_verdicts_after_holm():
    claims = judge([Claim("a", "", "", 0.01, True), Claim("b", "", "", 0.03, True), Claim("c", "", "", 0.001, False),
                    Claim("d", "2 of 3 runs", "observed", verdict=NOT_SUPPORTED)])
    # Holm over 3: 0.001 x 3, 0.01 x 2 = 0.02, 0.03 x 1 -> 0.03: a and b supported; c goes the other way.
    assert [c.verdict for c in claims] == [SUPPORTED, SUPPORTED, NOT_SUPPORTED, NOT_SUPPORTED]
    assert claims[0].adjusted_p == pytest.approx(0.02) and claims[3].adjusted_p is None
    assert judge([Claim("x", "", "", 0.2, True)])[0].verdict == INCONCLUSIVE


def test_wilson_interval_against_hand_values():
    # 484 of 1,017 right (47.59%), z = 1.959964: centre (p + z^2/2n) / (1 + z^2/n), half z/(1 + z^2/n) sqrt(...)
    n, k, z = 1017, 484, 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert wilson(k, n) == pytest.approx((centre - half, centre + half))
    assert wilson(k, n) == pytest.approx((0.44538, 0.50664), abs=1e-4)
    low, high = wilson(0, 10)
    assert low == 0.0 and high == pytest.approx(0.27753, abs=1e-4)  # never below 0
    with pytest.raises(ValueError, match="n >= 1"):
        wilson(0, 0)


def test_mcnemar_exact_against_hand_values():
    # 10 discordant examples, 2 against 8: 2 x P(X <= 2), X ~ Bin(10, 1/2) = 2 x 56/1024.
    assert mcnemar(2, 8) == pytest.approx(2 * 56 / 1024) and mcnemar(8, 2) == pytest.approx(2 * 56 / 1024)
    assert mcnemar(5, 5) == 1.0 and mcnemar(0, 0) == 1.0
    assert mcnemar(0, 6) == pytest.approx(2 / 64)


def test_paired_t_p_values():
    # Differences 1, 2, 3: t = 2 / (1 / sqrt(3)) = 3.464, df 2: one-sided p = 0.03709.
    assert paired_t_p([1.0, 2.0, 3.0]) == pytest.approx(0.037090, abs=1e-5)
    assert paired_t_p([1.0, 2.0, 3.0], "less") == pytest.approx(1 - 0.037090, abs=1e-5)
    assert paired_t_p([1.0, 2.0, 3.0], "two-sided") == pytest.approx(0.074180, abs=1e-5)
    assert paired_t_p([1.0]) is None and paired_t_p([2.0, 2.0]) == 0.0 and paired_t_p([-2.0, -2.0]) == 1.0
