r"""Hypothesis strategies shared by the test suite and the claim checks.

Draws are bounded and NaN-free (shared/STYLE.md §9): the number of spins is
drawn first, then arrays of length ``2^N``.

* :func:`n_spins` — a number of spins.
* :func:`distributions` — strictly positive, normalised targets, including
  near-degenerate ones (smallest probability down to ``10^min_log10``).
* :func:`coupling_vectors` — coupling vectors with a chosen scale per order.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from dsb_verifier.theory.walsh import _orders
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray
from scipy.special import logsumexp

__all__ = ["ORDER_PROFILES", "coupling_vectors", "distributions", "n_spins"]

#: Named order profiles (order -> coupling scale) used by tests and checks.
ORDER_PROFILES: dict[str, dict[int, float]] = {
    "fields": {1: 1.0},
    "pairwise": {1: 0.5, 2: 0.5},
    "planted-3": {1: 0.3, 2: 0.3, 3: 0.6},
    "planted-4": {1: 0.3, 2: 0.3, 3: 0.3, 4: 0.6},
    "flat": {k: 0.5 for k in range(1, 33)},
}


def n_spins(min_n: int = 1, max_n: int = 6) -> st.SearchStrategy[int]:
    """Numbers of spins in ``[min_n, max_n]`` (exact enumeration: keep ``max_n`` small)."""
    if not 1 <= min_n <= max_n <= 20:
        raise ValueError(f"need 1 <= min_n <= max_n <= 20, got min_n={min_n}, max_n={max_n}")
    return st.integers(min_n, max_n)


@st.composite
def distributions(
    draw: st.DrawFn, N: int | None = None, *, min_log10: float = -12.0, max_n: int = 6
) -> NDArray[np.float64]:
    """Strictly positive distributions of shape ``(2^N,)``.

    Unnormalised log10-weights are drawn in ``[min_log10, 0]`` and normalised by
    log-sum-exp, so the smallest probability can reach about
    ``10^min_log10 / 2^N`` (near-degenerate targets). With probability about one
    half a single state's weight is pinned at ``10^min_log10``, so the extreme
    is actually exercised.

    Parameters
    ----------
    N
        Fixed number of spins, or None to draw it from ``[1, max_n]``.
    min_log10
        Log10 of the smallest unnormalised weight, in ``[-15, 0)``.
    max_n
        Upper bound on N when it is drawn.
    """
    if not -15.0 <= min_log10 < 0:
        raise ValueError(f"min_log10 must be in [-15, 0), got {min_log10}")
    n = draw(n_spins(1, max_n)) if N is None else N
    logw = draw(
        hnp.arrays(
            np.float64,
            2**n,
            elements=st.floats(min_log10, 0.0, allow_nan=False, allow_infinity=False),
        )
    )
    if draw(st.booleans()):
        logw[draw(st.integers(0, 2**n - 1))] = min_log10
    logp = logw * np.log(10.0)
    return np.exp(logp - logsumexp(logp))


@st.composite
def coupling_vectors(
    draw: st.DrawFn,
    N: int | None = None,
    profile: Mapping[int, float] | None = None,
    *,
    max_n: int = 6,
) -> NDArray[np.float64]:
    """Coupling vectors of length ``2^N`` with ``|J_S| <= profile[|S|]``; ``J[0] = 0``.

    Orders missing from ``profile`` are zero. The default profile is ``"flat"``
    (every order up to scale 0.5).
    """
    n = draw(n_spins(1, max_n)) if N is None else N
    prof = ORDER_PROFILES["flat"] if profile is None else profile
    scale = np.array([0.0] + [float(prof.get(k, 0.0)) for k in range(1, n + 1)])[_orders(n)]
    unit = draw(
        hnp.arrays(np.float64, 2**n, elements=st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False))
    )
    return unit * scale
