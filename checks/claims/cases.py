"""Seeded case generation for the claim checks.

The checks draw their generated cases with the SAME hypothesis strategies as
the test suite (:mod:`dsb_verifier.checks.claims.strategies`), replayably: :func:`draw_cases` runs
hypothesis's generation phase under an explicit seed, with no example
database and no shrinking, so the same seed yields the same cases on every
machine. Named fixed cases are added by each check beside the drawn ones.
"""

from __future__ import annotations

from typing import TypeVar

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

__all__ = ["draw_cases"]

Ex = TypeVar("Ex")


def draw_cases(strategy: st.SearchStrategy[Ex], n: int, case_seed: int) -> list[Ex]:
    """Draw ``n`` examples of ``strategy`` deterministically from ``case_seed``.

    Parameters
    ----------
    strategy
        Any hypothesis strategy (e.g. :func:`dsb_verifier.checks.claims.strategies.distributions`).
    n
        Number of cases, ``>= 1``. Hypothesis may stop early for strategies with
        few distinct values; the result then has fewer entries.
    case_seed
        Non-negative integer; the same seed gives the same cases.

    Returns
    -------
    list
        The drawn examples, in generation order.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer number of cases, got {n!r}")
    if isinstance(case_seed, bool) or not isinstance(case_seed, int) or case_seed < 0:
        raise ValueError(f"case_seed must be a non-negative integer, got {case_seed!r}")
    out: list[Ex] = []

    @settings(
        max_examples=n,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    @seed(case_seed)
    @given(strategy)
    def _collect(example: Ex) -> None:
        out.append(example)

    _collect()
    return out[:n]
