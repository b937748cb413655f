r"""Pair-level statistics of settle times (Claim C5, docs/theory.md §7).

The unit of evidence of C5 is a pair of consecutive structured orders ``(k, k')``,
``k < k'``, compared over many runs (targets x initialisations). This module is
pure arithmetic on settle-time tables; the decision rules that use it live in
:mod:`dsb_verifier.checks.claims.c5.verdict` and are written out in
``docs/theory.md`` ("How C5 is decided").

One run (:func:`compare`). With settle times ``t_k``, ``t_k'`` (``+inf`` = not
settled by the end of the flow, i.e. right-censored; NaN = no value):

* both finite: *tied* when :math:`|\log(t_{k'}/t_k)| \le \log\rho` (``rho`` the
  reading's time resolution, the ratio between recording checkpoints), else
  *lower-first* (``t_k < t_k'``) or *higher-first*;
* lower finite, higher censored: lower-first; the reverse: higher-first — when the
  model can represent the target; when it may not (``censor_decides=False``: fewer
  parameters than the effective model and a target not drawn from the family), an
  order that never settles may be one the model cannot learn at all, so the run is
  *censored-unrealisable* and decides nothing;
* both censored: *both-censored*; any NaN: *failed*.

Over runs (:func:`pair_outcome`): the lower-first fraction among decided runs
(lower-first + higher-first, ties dropped as in the sign test) with its exact
(Clopper–Pearson) 95 % interval (:func:`clopper_pearson`); ``supports`` when the
interval lies above 1/2, ``contradicts`` when below, else ``undecided`` (no
decided run: undecided). A pair with fewer runs than :func:`min_decidable_runs` (6 at
95 %) could not be decided even if every run agreed. Effect size (:func:`log_ratio_effect`): median of
:math:`\log(t_{k'}/t_k)` with a seeded percentile bootstrap interval.

Glossary: ``t_lo``, ``t_hi`` settle times of the lower and higher order over runs,
``rho`` tie ratio, ``n_lo``, ``n_hi`` lower-/higher-first counts, ``ci`` interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.stats
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "COMPARISONS",
    "OUTCOMES",
    "PairOutcome",
    "clopper_pearson",
    "compare",
    "log_ratio_effect",
    "min_decidable_runs",
    "pair_outcome",
]

#: Values of :func:`compare`.
COMPARISONS: tuple[str, ...] = (
    "lower-first",
    "higher-first",
    "tied",
    "both-censored",
    "failed",
    "censored-unrealisable",
)

#: Values of :attr:`PairOutcome.outcome`.
OUTCOMES: tuple[str, ...] = ("supports", "contradicts", "undecided")

#: Two-sided level of the interval of the lower-first fraction.
CONFIDENCE = 0.95


def _check_rho(rho: object) -> float:
    if isinstance(rho, bool) or not isinstance(rho, int | float | np.integer | np.floating):
        raise ValueError(f"rho must be a tie ratio >= 1, got {rho!r}")
    r = float(rho)
    if not (np.isfinite(r) and r >= 1.0):
        raise ValueError(f"rho must be a tie ratio >= 1, got {rho!r}")
    return r


def compare(t_lo: float, t_hi: float, rho: float, *, censor_decides: bool = True) -> str:
    """Compare the settle times of the lower and the higher order of one run (see module docstring).

    ``censor_decides=False``: one censored order gives ``"censored-unrealisable"`` (the
    model may be unable to learn that order at all), not an order.

    Raises
    ------
    ValueError
        If a settle time is negative or ``rho < 1``.
    """
    r = _check_rho(rho)
    a, b = float(t_lo), float(t_hi)
    if np.isnan(a) or np.isnan(b):
        return "failed"
    if a < 0 or b < 0:
        raise ValueError(f"settle times must be >= 0 (inf = censored, NaN = none), got {t_lo!r}, {t_hi!r}")
    if np.isinf(a) and np.isinf(b):
        return "both-censored"
    if (np.isinf(a) or np.isinf(b)) and not censor_decides:
        return "censored-unrealisable"
    if np.isinf(b):
        return "lower-first"
    if np.isinf(a):
        return "higher-first"
    if a == b:
        return "tied"
    if a == 0.0 or b == 0.0:  # settled at the start: ordered, whatever the ratio
        return "lower-first" if a < b else "higher-first"
    if abs(np.log(b / a)) <= np.log(r):
        return "tied"
    return "lower-first" if a < b else "higher-first"


def clopper_pearson(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Exact binomial (Clopper–Pearson) interval of a proportion; ``(0, 1)`` when ``n = 0``.

    The interval is the inversion of the exact binomial (sign) test: it lies
    entirely above 1/2 exactly when the one-sided test of "lower-first fraction
    <= 1/2" has p < (1 - confidence)/2.
    """
    for name, v in (("successes", successes), ("n", n)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
    if successes > n:
        raise ValueError(f"successes must be <= n, got successes={successes}, n={n}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    if n == 0:
        return 0.0, 1.0
    alpha = 1.0 - confidence
    lo = 0.0 if successes == 0 else float(scipy.stats.beta.ppf(alpha / 2, successes, n - successes + 1))
    hi = 1.0 if successes == n else float(scipy.stats.beta.ppf(1 - alpha / 2, successes + 1, n - successes))
    return lo, hi


def min_decidable_runs(confidence: float = CONFIDENCE) -> int:
    """Fewest runs with which a pair can be decided: ``n`` of ``n`` lower-first gives an interval above 1/2.

    6 at 95 %. A pair with fewer runs is *underpowered*: undecided whatever its flows do.
    """
    n = 1
    while clopper_pearson(n, n, confidence)[0] <= 0.5:
        n += 1
    return n


def _lower_median(x: NDArray[np.float64], axis: int = -1) -> NDArray[np.float64]:
    """Lower median (the ``ceil(n/2)``-th smallest value): defined with infinities, never averaged."""
    s = np.sort(x, axis=axis)
    n = s.shape[axis]
    return np.take(s, (n - 1) // 2, axis=axis)


def log_ratio_effect(
    t_lo: ArrayLike, t_hi: ArrayLike, *, rng: np.random.Generator, n_boot: int = 1000
) -> tuple[float, float, float, int]:
    r"""Median of :math:`\log(t_{k'}/t_k)` and its 95 % percentile bootstrap interval.

    Runs where neither order settled, or a value is NaN, are left out; a
    censored order contributes :math:`\pm\infty`. The median is the lower
    median, so it is defined with infinities.

    Returns
    -------
    (median, lo, hi, n)
        NaN for all three when no run is usable; ``n`` the runs used.
    """
    a = np.asarray(t_lo, dtype=np.float64)
    b = np.asarray(t_hi, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"t_lo and t_hi must be vectors of equal length, got {a.shape} and {b.shape}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    ok = ~(np.isnan(a) | np.isnan(b)) & ~(np.isinf(a) & np.isinf(b))
    a, b = a[ok], b[ok]
    if a.size == 0:
        return float("nan"), float("nan"), float("nan"), 0
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.log(b) - np.log(a)
    x = np.where(np.isnan(x), 0.0, x)  # 0/0 (both settled at t = 0): no separation
    med = float(_lower_median(x))
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    boot = np.sort(_lower_median(x[idx], axis=-1))
    lo = float(boot[int(np.floor(0.025 * (n_boot - 1)))])
    hi = float(boot[int(np.ceil(0.975 * (n_boot - 1)))])
    return med, lo, hi, int(x.size)


@dataclass(frozen=True)
class PairOutcome:
    """Counts, interval and outcome of one pair over runs (Claim C5, docs/theory.md §7).

    Attributes
    ----------
    n_lower_first, n_higher_first, n_tied, n_both_censored, n_failed, n_censored_unrealisable
        Runs per comparison (:func:`compare`).
    ci_low, ci_high
        95 % Clopper–Pearson interval of the lower-first fraction among decided runs.
    outcome
        ``"supports"`` (``ci_low > 1/2``), ``"contradicts"`` (``ci_high < 1/2``) or ``"undecided"``.
    """

    n_lower_first: int
    n_higher_first: int
    n_tied: int
    n_both_censored: int
    n_failed: int
    ci_low: float
    ci_high: float
    outcome: str
    n_censored_unrealisable: int = 0

    def __post_init__(self) -> None:
        for name in (
            "n_lower_first",
            "n_higher_first",
            "n_tied",
            "n_both_censored",
            "n_failed",
            "n_censored_unrealisable",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"PairOutcome.{name} must be >= 0")
        if not 0.0 <= self.ci_low <= self.ci_high <= 1.0:
            raise ValueError(
                f"PairOutcome interval must satisfy 0 <= lo <= hi <= 1, got {self.ci_low}, {self.ci_high}"
            )
        if self.outcome not in OUTCOMES:
            raise ValueError(f"PairOutcome.outcome must be one of {OUTCOMES}, got {self.outcome!r}")
        expected = "supports" if self.ci_low > 0.5 else "contradicts" if self.ci_high < 0.5 else "undecided"
        if self.outcome != expected:
            raise ValueError(
                f"PairOutcome.outcome {self.outcome!r} disagrees with its interval ({expected!r})"
            )

    @property
    def n_decided(self) -> int:
        """Runs with a lower-first or higher-first comparison."""
        return self.n_lower_first + self.n_higher_first


def pair_outcome(comparisons: Sequence[str]) -> PairOutcome:
    """Aggregate the per-run comparisons of one pair (:func:`compare`) into counts and an outcome."""
    bad = [c for c in comparisons if c not in COMPARISONS]
    if bad:
        raise ValueError(f"comparisons must be among {COMPARISONS}, got {bad[0]!r}")
    n = {c: sum(x == c for x in comparisons) for c in COMPARISONS}
    lo, hi = clopper_pearson(n["lower-first"], n["lower-first"] + n["higher-first"])
    outcome = "supports" if lo > 0.5 else "contradicts" if hi < 0.5 else "undecided"
    return PairOutcome(
        n_lower_first=n["lower-first"],
        n_higher_first=n["higher-first"],
        n_tied=n["tied"],
        n_both_censored=n["both-censored"],
        n_failed=n["failed"],
        ci_low=lo,
        ci_high=hi,
        outcome=outcome,
        n_censored_unrealisable=n["censored-unrealisable"],
    )
