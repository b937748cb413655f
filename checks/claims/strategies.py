r"""Hypothesis strategies of the test suite, built on the claim checks' generator functions.

The checks draw their cases with seeded numpy streams
(:mod:`dsb_verifier.checks.claims.cases`); the property tests draw through
hypothesis with these strategies, which call the SAME generator functions
(:func:`~dsb_verifier.checks.claims.cases.distribution`,
:func:`~dsb_verifier.checks.claims.cases.coupling_vector`) on a hypothesis-drawn
number of spins and a hypothesis-drawn stream seed. Tests and checks therefore
cover the same spaces, and hypothesis still shrinks a failing example (to fewer
spins, a smaller seed).

This module needs hypothesis (the ``test`` extra); no claim check imports it.

* :func:`n_spins` — a number of spins.
* :func:`distributions` — strictly positive, normalised targets, including
  near-degenerate ones (smallest probability down to ``10^min_log10``).
* :func:`coupling_vectors` — coupling vectors with a chosen scale per order.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from dsb_verifier.checks.claims import cases
from dsb_verifier.checks.claims.cases import ORDER_PROFILES
from hypothesis import strategies as st
from numpy.typing import NDArray

__all__ = ["ORDER_PROFILES", "coupling_vectors", "distributions", "n_spins", "stream_seeds"]


def n_spins(min_n: int = 1, max_n: int = 6) -> st.SearchStrategy[int]:
    """Numbers of spins in ``[min_n, max_n]`` (exact enumeration: keep ``max_n`` small)."""
    if not 1 <= min_n <= max_n <= 20:
        raise ValueError(f"need 1 <= min_n <= max_n <= 20, got min_n={min_n}, max_n={max_n}")
    return st.integers(min_n, max_n)


def stream_seeds() -> st.SearchStrategy[int]:
    """Seeds of the numpy stream a generator function draws from (any 64-bit word)."""
    return st.integers(0, 2**64 - 1)


def _sizes(N: int | None, max_n: int) -> st.SearchStrategy[int]:
    return n_spins(1, max_n) if N is None else st.just(N)


def distributions(
    N: int | None = None, *, min_log10: float = -12.0, max_n: int = 6
) -> st.SearchStrategy[NDArray[np.float64]]:
    """Strictly positive distributions of shape ``(2^N,)``: :func:`cases.distribution` of a drawn stream.

    Parameters
    ----------
    N
        Fixed number of spins, or None to draw it from ``[1, max_n]``.
    min_log10
        Log10 of the smallest unnormalised weight, in ``[-15, 0)``.
    max_n
        Upper bound on N when it is drawn.
    """
    cases.check_min_log10(min_log10)

    def build(n: int, s: int) -> NDArray[np.float64]:
        return cases.distribution(np.random.default_rng(s), n, min_log10=min_log10)

    return st.builds(build, _sizes(N, max_n), stream_seeds())


def coupling_vectors(
    N: int | None = None,
    profile: Mapping[int, float] | None = None,
    *,
    max_n: int = 6,
) -> st.SearchStrategy[NDArray[np.float64]]:
    """Coupling vectors of length ``2^N``, ``|J_S| <= profile[|S|]``, ``J[0] = 0``: :func:`cases.coupling_vector`.

    Orders missing from ``profile`` are zero. The default profile is ``"flat"``
    (every order up to scale 0.5).
    """

    def build(n: int, s: int) -> NDArray[np.float64]:
        return cases.coupling_vector(np.random.default_rng(s), n, profile)

    return st.builds(build, _sizes(N, max_n), stream_seeds())
