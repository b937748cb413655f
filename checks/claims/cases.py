r"""Seeded case generation for the claim checks: one numpy stream per case.

The generated cases of a check depend on the run seed and on the case's identity
only — the claim, the sweep, the coordinates of the case (N, family, index) —
never on what else the process has loaded, how the package was installed, which
other claims run, where the case runs (serially or on any executor's worker) or
the version of a test library. Each case gets its own stream,

.. math:: \text{rng} = \texttt{default\_rng}(\texttt{SeedSequence}([\text{seed}, k_1, k_2, \dots]))

with integer keys taken as they are and string keys hashed by BLAKE2b (stable
across processes and Python versions, unlike :func:`hash`). numpy's
``SeedSequence`` and ``PCG64`` streams are stable across numpy versions
(NEP 19), so the same seed gives the same cases on every supported numpy.

The generator functions (:func:`n_spins`, :func:`distribution`,
:func:`coupling_vector`) take a :class:`numpy.random.Generator`; the hypothesis
strategies of the test suite (:mod:`dsb_verifier.checks.claims.strategies`) are
built on the same functions, so tests and checks cover the same spaces.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import TypeVar

import numpy as np
from dsb_verifier.theory.walsh import _orders
from numpy.typing import NDArray
from scipy.special import logsumexp

__all__ = [
    "ORDER_PROFILES",
    "case_rng",
    "coupling_vector",
    "distribution",
    "draw_cases",
    "n_spins",
    "stable_key",
]

Ex = TypeVar("Ex")

#: Named order profiles (order -> coupling scale) used by tests and checks.
ORDER_PROFILES: dict[str, dict[int, float]] = {
    "fields": {1: 1.0},
    "pairwise": {1: 0.5, 2: 0.5},
    "planted-3": {1: 0.3, 2: 0.3, 3: 0.6},
    "planted-4": {1: 0.3, 2: 0.3, 3: 0.3, 4: 0.6},
    "flat": {k: 0.5 for k in range(1, 33)},
}

#: Largest number of spins a generator function draws (exact enumeration of 2^N states).
MAX_N = 20


def _is_int(x: object) -> bool:
    return isinstance(x, int | np.integer) and not isinstance(x, bool | np.bool_)


def stable_key(key: int | str) -> int:
    """A non-negative integer word for one key of a case's identity.

    Integers ``>= 0`` are used as they are; a string is hashed by BLAKE2b (8-byte
    digest of its UTF-8 bytes), the same in every process and Python version.

    Raises
    ------
    ValueError
        For a negative integer, a bool or anything other than an int or a str.
    """
    if isinstance(key, str):
        return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")
    if _is_int(key) and int(key) >= 0:
        return int(key)
    raise ValueError(f"a case key must be a non-negative integer or a string, got {key!r}")


def case_rng(seed: int, *identity: int | str) -> np.random.Generator:
    """The random stream of one case: derived from ``seed`` and the case's ``identity`` only.

    Parameters
    ----------
    seed
        The run seed, a non-negative integer.
    *identity
        The case's coordinates, e.g. ``("C1", "targets", 7)``: claim, sweep, index.

    Raises
    ------
    ValueError
        If ``seed`` is not a non-negative integer or a key is neither a
        non-negative integer nor a string.
    """
    if not _is_int(seed) or int(seed) < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    words = [int(seed), *(stable_key(k) for k in identity)]
    return np.random.default_rng(np.random.SeedSequence(words))


def draw_cases(
    generate: Callable[[np.random.Generator], Ex], n: int, seed: int, *identity: int | str
) -> list[Ex]:
    """``n`` cases ``generate(case_rng(seed, *identity, i))`` for ``i = 0 .. n-1``.

    Case ``i`` depends on ``seed``, ``identity`` and ``i`` only: the first ``k``
    cases are the same whatever ``n >= k``.

    Parameters
    ----------
    generate
        A generator function of one case, e.g. ``lambda rng: distribution(rng, max_n=4)``.
    n
        Number of cases, ``>= 1``.
    seed
        The run seed, a non-negative integer.
    *identity
        The sweep's identity (claim, sweep name, N...), keys of :func:`case_rng`.

    Raises
    ------
    ValueError
        If ``n`` is not a positive integer or ``seed`` not a non-negative integer.
    """
    if not _is_int(n) or int(n) < 1:
        raise ValueError(f"n must be a positive integer number of cases, got {n!r}")
    if not _is_int(seed) or int(seed) < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return [generate(case_rng(seed, *identity, i)) for i in range(int(n))]


def _check_n_range(min_n: int, max_n: int) -> None:
    if not (_is_int(min_n) and _is_int(max_n) and 1 <= min_n <= max_n <= MAX_N):
        raise ValueError(f"need 1 <= min_n <= max_n <= {MAX_N}, got min_n={min_n!r}, max_n={max_n!r}")


def n_spins(rng: np.random.Generator, min_n: int = 1, max_n: int = 6) -> int:
    """A number of spins, uniform in ``[min_n, max_n]`` (exact enumeration: keep ``max_n`` small).

    Raises
    ------
    ValueError
        Unless ``1 <= min_n <= max_n <= 20``.
    """
    _check_n_range(min_n, max_n)
    return int(rng.integers(min_n, max_n + 1))


def _resolve_n(rng: np.random.Generator, N: int | None, max_n: int) -> int:
    if N is None:
        return n_spins(rng, 1, max_n)
    _check_n_range(N, N)
    return int(N)


def check_min_log10(min_log10: float) -> None:
    """Refuse a smallest log10-weight outside ``[-15, 0)``."""
    if not (isinstance(min_log10, float | int) and -15.0 <= min_log10 < 0):
        raise ValueError(f"min_log10 must be in [-15, 0), got {min_log10!r}")


def distribution(
    rng: np.random.Generator, N: int | None = None, *, min_log10: float = -12.0, max_n: int = 6
) -> NDArray[np.float64]:
    """A strictly positive, normalised distribution of shape ``(2^N,)``.

    Unnormalised log10-weights are uniform in ``[min_log10, 0]`` and normalised by
    log-sum-exp, so the smallest probability can reach about ``10^min_log10 / 2^N``
    (near-degenerate targets). With probability one half a single uniformly chosen
    state's weight is pinned at ``10^min_log10``, so the extreme is actually exercised.

    Parameters
    ----------
    rng
        The case's stream (:func:`case_rng`).
    N
        Fixed number of spins, or None to draw it uniformly from ``[1, max_n]``.
    min_log10
        Log10 of the smallest unnormalised weight, in ``[-15, 0)``.
    max_n
        Upper bound on N when it is drawn.

    Raises
    ------
    ValueError
        For ``min_log10`` outside ``[-15, 0)`` or N (or ``max_n``) outside ``[1, 20]``.
    """
    check_min_log10(min_log10)
    n = _resolve_n(rng, N, max_n)
    logw = rng.uniform(min_log10, 0.0, size=2**n)
    if rng.integers(2):
        logw[rng.integers(2**n)] = min_log10
    logp = logw * np.log(10.0)
    return np.asarray(np.exp(logp - logsumexp(logp)), dtype=np.float64)


def coupling_vector(
    rng: np.random.Generator,
    N: int | None = None,
    profile: Mapping[int, float] | None = None,
    *,
    max_n: int = 6,
) -> NDArray[np.float64]:
    """A coupling vector of length ``2^N`` with ``|J_S| <= profile[|S|]`` and ``J_0 = 0``.

    Each coupling is ``profile[|S|]`` times a uniform draw in ``[-1, 1]``; orders
    missing from ``profile`` are zero. The default profile is ``"flat"`` (every
    order up to scale 0.5).

    Raises
    ------
    ValueError
        For N (or ``max_n``) outside ``[1, 20]``.
    """
    n = _resolve_n(rng, N, max_n)
    prof = ORDER_PROFILES["flat"] if profile is None else profile
    scale = np.array([0.0] + [float(prof.get(k, 0.0)) for k in range(1, n + 1)])[_orders(n)]
    return np.asarray(rng.uniform(-1.0, 1.0, size=2**n) * scale, dtype=np.float64)
