"""C5 pair statistics (checks/claims/c5/stats.py) on hand-built settle times, both sides of every boundary."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from dsb_verifier.checks.claims.c5.stats import (
    PairOutcome,
    clopper_pearson,
    compare,
    log_ratio_effect,
    min_decidable_runs,
    pair_outcome,
)

INF, NAN = float("inf"), float("nan")
RHO = 1.25


# ---- one run ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("t_lo", "t_hi", "expected"),
    [
        (1.0, 2.0, "lower-first"),
        (2.0, 1.0, "higher-first"),
        (1.0, 1.25, "tied"),  # exactly the resolution: tied
        (1.25, 1.0, "tied"),
        (1.0, 1.2501, "lower-first"),  # just beyond it: ordered
        (1.2501, 1.0, "higher-first"),
        (3.0, 3.0, "tied"),
        (0.0, 0.0, "tied"),
        (0.0, 1e-9, "lower-first"),  # settled at the start: ordered whatever the ratio
        (1e-9, 0.0, "higher-first"),
        (5.0, INF, "lower-first"),  # censoring: the lower order settled, the higher did not
        (INF, 5.0, "higher-first"),
        (INF, INF, "both-censored"),
        (NAN, 1.0, "failed"),
        (1.0, NAN, "failed"),
        (NAN, INF, "failed"),
    ],
)
def test_compare_one_run(t_lo, t_hi, expected):
    assert compare(t_lo, t_hi, RHO) == expected


@pytest.mark.parametrize(
    ("t_lo", "t_hi", "expected"),
    [
        (5.0, INF, "censored-unrealisable"),
        (INF, 5.0, "censored-unrealisable"),
        (INF, INF, "both-censored"),
        (1.0, 2.0, "lower-first"),
        (2.0, 1.0, "higher-first"),
        (1.0, 1.25, "tied"),
        (NAN, INF, "failed"),
    ],
)
def test_compare_where_the_model_may_not_represent_the_target(t_lo, t_hi, expected):
    assert compare(t_lo, t_hi, RHO, censor_decides=False) == expected


def test_min_decidable_runs_is_the_first_unanimous_count_with_an_interval_above_half():
    for confidence in (0.8, 0.9, 0.95, 0.99):
        n = min_decidable_runs(confidence)
        assert clopper_pearson(n, n, confidence)[0] > 0.5 >= clopper_pearson(n - 1, n - 1, confidence)[0]
    assert min_decidable_runs() == 6 and min_decidable_runs(0.99) == 8


def test_compare_with_no_resolution_orders_any_difference():
    assert compare(1.0, 1.0 + 1e-12, 1.0) == "lower-first"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-1.0, 1.0, RHO), "settle times must be >= 0 (inf = censored, NaN = none), got -1.0, 1.0"),
        ((1.0, 1.0, 0.9), "rho must be a tie ratio >= 1, got 0.9"),
        ((1.0, 1.0, INF), "rho must be a tie ratio >= 1, got inf"),
        ((1.0, 1.0, True), "rho must be a tie ratio >= 1, got True"),
    ],
)
def test_compare_refuses(args, message):
    with pytest.raises(ValueError, match=f"^{message.replace('(', '[(]').replace(')', '[)]')}$"):
        compare(*args)


# ---- interval ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("k", "n"), [(0, 1), (1, 1), (3, 7), (6, 6), (0, 6), (5, 5), (17, 30), (30, 30)])
def test_clopper_pearson_matches_scipy_binomtest(k, n):
    lo, hi = clopper_pearson(k, n)
    ref = scipy.stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    assert lo == pytest.approx(ref.low, abs=1e-12) and hi == pytest.approx(ref.high, abs=1e-12)


def test_clopper_pearson_of_nothing_is_the_whole_interval():
    assert clopper_pearson(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-1, 3), "successes must be a non-negative integer, got -1"),
        ((1, 1.5), "n must be a non-negative integer, got 1.5"),
        ((4, 3), "successes must be <= n, got successes=4, n=3"),
        ((1, 3, 1.0), "confidence must lie in"),
    ],
)
def test_clopper_pearson_refuses(args, message):
    with pytest.raises(ValueError, match=message.replace("(", "[(]")):
        clopper_pearson(*args)


def test_interval_above_half_is_the_one_sided_exact_sign_test():
    """Two routes: ci_low > 1/2 iff binomtest(k, n, alternative='greater') has p < 0.025."""
    for n in range(1, 21):
        for k in range(n + 1):
            lo, hi = clopper_pearson(k, n)
            p_up = scipy.stats.binomtest(k, n, 0.5, alternative="greater").pvalue
            p_down = scipy.stats.binomtest(k, n, 0.5, alternative="less").pvalue
            assert (lo > 0.5) == (p_up < 0.025), (k, n)
            assert (hi < 0.5) == (p_down < 0.025), (k, n)


# ---- outcome over runs ------------------------------------------------------------------------
def _runs(lower=0, higher=0, tied=0, censored=0, failed=0):
    return (
        ["lower-first"] * lower
        + ["higher-first"] * higher
        + ["tied"] * tied
        + ["both-censored"] * censored
        + ["failed"] * failed
    )


@pytest.mark.parametrize(
    ("counts", "outcome"),
    [
        ({"lower": 6}, "supports"),  # 6/6: interval [0.54, 1] above 1/2
        ({"lower": 5}, "undecided"),  # 5/5: [0.48, 1] straddles 1/2
        ({"higher": 6}, "contradicts"),
        ({"higher": 5}, "undecided"),
        ({"lower": 8, "higher": 1}, "supports"),  # 8/9: [0.518, 0.997]
        ({"lower": 7, "higher": 1}, "undecided"),  # 7/8: [0.473, 0.997]
        ({"lower": 1, "higher": 8}, "contradicts"),
        ({"tied": 20}, "undecided"),  # all tied: undecided, never a failure
        ({"censored": 20}, "undecided"),  # all both-censored: undecided
        ({"failed": 20}, "undecided"),
        ({"lower": 5, "tied": 30}, "undecided"),  # ties do not count as decided runs
        ({"lower": 6, "tied": 30, "censored": 9}, "supports"),
        ({}, "undecided"),
    ],
)
def test_pair_outcome_on_both_sides_of_the_boundary(counts, outcome):
    out = pair_outcome(_runs(**counts))
    assert out.outcome == outcome
    assert out.n_lower_first == counts.get("lower", 0) and out.n_higher_first == counts.get("higher", 0)
    assert out.n_tied == counts.get("tied", 0) and out.n_both_censored == counts.get("censored", 0)
    assert out.n_failed == counts.get("failed", 0)
    assert (out.ci_low, out.ci_high) == clopper_pearson(out.n_lower_first, out.n_decided)


def test_pair_outcome_refuses_unknown_comparisons():
    with pytest.raises(ValueError, match=r"comparisons must be among .*, got 'sideways'"):
        pair_outcome(["lower-first", "sideways"])


def test_pair_outcome_invariants():
    with pytest.raises(ValueError, match="disagrees with its interval"):
        PairOutcome(6, 0, 0, 0, 0, 0.54, 1.0, "undecided")
    with pytest.raises(ValueError, match="interval must satisfy"):
        PairOutcome(1, 0, 0, 0, 0, 0.6, 0.5, "supports")
    with pytest.raises(ValueError, match="n_tied must be >= 0"):
        PairOutcome(1, 0, -1, 0, 0, 0.0, 1.0, "undecided")


# ---- effect size ------------------------------------------------------------------------------
def test_log_ratio_effect_median_censoring_and_determinism():
    t_lo = np.array([1.0, 1.0, 1.0, 2.0, INF, NAN])
    t_hi = np.array([10.0, 100.0, INF, 1.0, INF, 3.0])
    med, lo, hi, n = log_ratio_effect(t_lo, t_hi, rng=np.random.default_rng(0), n_boot=200)
    # used: log 10, log 100, +inf, log 0.5 (both censored and NaN left out); lower median = log 10
    assert n == 4 and med == pytest.approx(np.log(10.0))
    assert lo <= med <= hi and lo >= np.log(0.5)
    again = log_ratio_effect(t_lo, t_hi, rng=np.random.default_rng(0), n_boot=200)
    assert again == (med, lo, hi, n)


def test_log_ratio_effect_of_nothing_is_nan():
    med, lo, hi, n = log_ratio_effect([INF, NAN], [INF, 1.0], rng=np.random.default_rng(0))
    assert n == 0 and np.isnan(med) and np.isnan(lo) and np.isnan(hi)


def test_log_ratio_effect_refuses_mismatched_vectors():
    with pytest.raises(ValueError, match="t_lo and t_hi must be vectors of equal length"):
        log_ratio_effect([1.0], [1.0, 2.0], rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="n_boot must be a positive integer, got 0"):
        log_ratio_effect([1.0], [2.0], rng=np.random.default_rng(0), n_boot=0)
