r"""Generators of strictly positive target distributions over :math:`\{-1,+1\}^N`.

Every generator returns a probability vector of shape ``(2^N,)`` in the state
order of :mod:`dsb_verifier.theory.walsh`, strictly positive and normalised (log-sum-exp),
so it can be passed to :func:`theory.couplings`. Randomness comes only from an
explicit :class:`numpy.random.Generator`.

Targets serve the claim checks: generalised Ising models with planted
higher-order couplings (C3, C5, C6), pure k-body targets with no low-order
structure (negative controls for C5/C6), independent sites (the W = 0 spurious
point of C3), Dirichlet draws (generic targets for C1/C2), empirical
distributions of samples (users' data).

Glossary: ``N`` spins, ``scales[k]`` standard deviation of order-k couplings,
``beta`` coupling strength, ``m`` magnetisations, ``alpha`` pseudo-count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from dsb_verifier.theory._validation import (
    as_float_array,
    check_memory,
    check_n,
    check_real,
    check_rng,
    refuse_masked,
)
from dsb_verifier.theory.binary import spins_from_bits, state_index
from dsb_verifier.theory.effective import prob
from dsb_verifier.theory.walsh import _orders, states
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "dirichlet_target",
    "empirical",
    "independent_sites",
    "ising_target",
    "k_body_target",
    "random_ising",
]


def _scale_profile(N: int, scales: Mapping[int, float] | Sequence[float]) -> NDArray[np.float64]:
    prof = np.zeros(N + 1)
    if not isinstance(scales, Mapping | Sequence) or isinstance(scales, str):
        raise ValueError(
            f"scales must be a mapping order -> scale or a sequence indexed by order, got {scales!r}"
        )
    items = scales.items() if isinstance(scales, Mapping) else enumerate(scales)
    for k, v in items:
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 0 <= k <= N:
            raise ValueError(f"scale orders must be integers in [0, N] = [0, {N}], got {k!r}")
        prof[int(k)] = check_real(v, f"scale for order {k}", nonnegative=True)
    if isinstance(scales, Sequence) and len(scales) > N + 1:
        raise ValueError(f"scales has {len(scales)} entries but orders only go up to N={N}")
    prof[0] = 0.0
    return prof


def random_ising(
    N: int, scales: Mapping[int, float] | Sequence[float], rng: np.random.Generator
) -> NDArray[np.float64]:
    r"""Couplings of a random generalised Ising model with a chosen scale per order.

    :math:`J_S \sim \mathcal{N}(0, \sigma_{|S|}^2)` independently, ``J[0] = 0``.

    Parameters
    ----------
    N
        Number of spins.
    scales
        Mapping ``order -> sigma`` (missing orders are 0) or a sequence indexed by
        order. Order 0 is ignored. E.g. ``{1: 0.3, 2: 0.3, 3: 0.5}`` plants
        three-body terms.
    rng
        Source of randomness.

    Returns
    -------
    ndarray, shape ``(2^N,)``
        Couplings; use :func:`theory.prob` (or :func:`ising_target`) for ``p``.
    """
    N = check_n(N, "N")
    rng = check_rng(rng)
    prof = _scale_profile(N, scales)
    return prof[_orders(N)] * rng.standard_normal(2**N)


def ising_target(
    N: int, scales: Mapping[int, float] | Sequence[float], rng: np.random.Generator
) -> NDArray[np.float64]:
    """Probabilities of :func:`random_ising` couplings (a strictly positive target)."""
    return prob(random_ising(N, scales, rng))


def dirichlet_target(
    N: int, rng: np.random.Generator, *, alpha: float = 1.0, floor: float | None = None
) -> NDArray[np.float64]:
    r"""A Dirichlet draw mixed with a floor: :math:`p = f + (1 - 2^N f)\, d`.

    Parameters
    ----------
    N
        Number of spins.
    rng
        Source of randomness.
    alpha
        Dirichlet concentration (same for all states), ``> 0``.
    floor
        Smallest probability guaranteed, in ``(0, 2^-N)``. Default: ``1e-3`` where that
        is allowed (N <= 9), else ``2^-N / 10``.
    """
    N = check_n(N, "N")
    rng = check_rng(rng)
    alpha = check_real(alpha, "alpha (the Dirichlet concentration)", positive=True)
    if floor is None:
        floor = 1e-3 if 1e-3 < 2.0**-N else 0.1 * 2.0**-N
    floor = check_real(floor, "floor")
    if not 0 < floor < 2.0**-N:
        raise ValueError(f"floor must be in (0, 2^-N) = (0, {2.0**-N:.3g}), got {floor!r}")
    d = rng.dirichlet(np.full(2**N, float(alpha)))
    p = floor + (1.0 - 2**N * floor) * d
    return p / p.sum()


def k_body_target(N: int, S: int, beta: float) -> NDArray[np.float64]:
    r"""Pure k-body target :math:`p(s) \propto \exp(\beta \chi_S(s))`.

    All couplings vanish except :math:`J_S = \beta`: the target has no structure
    below order ``|S|`` (all lower moments are zero), the negative control for
    the hierarchy and saddle claims (C5, C6).
    """
    N = check_n(N, "N")
    if isinstance(S, bool | np.bool_) or not isinstance(S, int | np.integer) or not 0 < int(S) < 2**N:
        raise ValueError(f"S must be a non-empty subset bitmask in [1, 2^N) = [1, {2**N}), got {S!r}")
    J = np.zeros(2**N)
    J[int(S)] = check_real(beta, "beta")
    return prob(J)


def independent_sites(m: ArrayLike) -> NDArray[np.float64]:
    r"""Product distribution with magnetisations ``m``: :math:`p(s) = \prod_i (1 + m_i s_i)/2`.

    Parameters
    ----------
    m
        Magnetisations, shape ``(N,)``, each strictly inside ``(-1, 1)``.
    """
    mm = as_float_array(m, "m")
    if mm.ndim != 1:
        raise ValueError(f"m must be a vector of N magnetisations, got shape {mm.shape}")
    N = check_n(mm.size, "len(m)")
    if np.any(np.abs(mm) >= 1):
        raise ValueError("magnetisations m must lie strictly inside (-1, 1) for a strictly positive p")
    # log-space product for accuracy with magnetisations close to +-1
    logp = np.log1p(states(N) * mm[None, :]).sum(axis=1) - N * np.log(2.0)
    return np.exp(logp)


def empirical(samples: ArrayLike, *, pseudo_count: float, values: str = "auto") -> NDArray[np.float64]:
    r"""Empirical distribution of binary samples with an explicit pseudo-count.

    .. math:: q(s) = \frac{c(s) + \alpha}{M + \alpha\, 2^N}

    where ``c(s)`` counts the rows equal to ``s`` among ``M`` samples.

    Parameters
    ----------
    samples
        Array of shape ``(M, N)`` with values ±1 (spins) or 0/1 (bits, mapped by
        :func:`theory.spins_from_bits`: 1 is spin up).
    pseudo_count
        ``alpha > 0`` added to every state's count so ``q`` is strictly positive.
        Required: there is no silent default.
    values
        ``"spin"``, ``"bit"``, or ``"auto"`` (bits if all values are in {0, 1},
        spins if all are in {-1, 1}; refused if ambiguous or mixed).
    """
    refuse_masked(samples, "samples")
    arr = np.asarray(samples)
    if arr.ndim != 2 or arr.shape[0] < 1:
        raise ValueError(
            f"samples must be a 2-D array (M samples, N spins) with M >= 1, got shape {arr.shape}"
        )
    N = check_n(arr.shape[1], "number of columns N")
    # per sample entry: np.unique's sorted copy and mask, the int8 spins and their checks, the
    # int64 weighted bits of state_index (2 * itemsize + 24 bytes); then the counts (3 x 2^N floats)
    check_memory(
        (2 * arr.itemsize + 24) * arr.size + 8 * 2**N * 3, f"an empirical distribution over 2^{N} states"
    )
    if isinstance(pseudo_count, bool | np.bool_) or not isinstance(
        pseudo_count, int | float | np.integer | np.floating
    ):
        raise ValueError(f"pseudo_count must be a positive finite number, got {pseudo_count!r}")
    if not np.isfinite(pseudo_count) or not pseudo_count > 0:
        raise ValueError(f"pseudo_count must be a positive finite number, got {pseudo_count!r}")
    if not np.isfinite(float(pseudo_count) * 2.0**N + arr.shape[0]):
        raise ValueError(
            f"pseudo_count={pseudo_count!r} is too large: alpha * 2^N overflows float64 at N={N}"
        )
    if np.iscomplexobj(arr):
        raise ValueError(f"samples must be real 0/1 or -1/+1 values, got dtype {arr.dtype}")
    if values not in ("auto", "spin", "bit"):
        raise ValueError(f"values must be 'auto', 'spin' or 'bit', got {values!r}")
    if values == "auto":
        uniq = set(np.unique(arr).tolist())
        if uniq <= {0, 1}:
            values = "bit"
        elif uniq <= {-1, 1}:
            values = "spin"
        else:
            raise ValueError(f"samples must be all 0/1 or all -1/+1; found values {sorted(uniq)[:6]}")
    # the emptiest state gets alpha / (M + alpha 2^N): refuse an alpha for which it is not a
    # normal float64 (log q would be -inf or lose all precision)
    M = arr.shape[0]
    alpha_min = float(np.finfo(np.float64).tiny) * (M + 2.0**N)
    if pseudo_count < alpha_min:
        raise ValueError(
            f"pseudo_count={pseudo_count!r} is too small: an unseen state would get probability "
            f"{float(pseudo_count) / (M + float(pseudo_count) * 2.0**N):.3g}, below the smallest normal "
            f"float64; the smallest usable pseudo_count for M={M} samples over 2^{N} states is {alpha_min:.3g}"
        )
    s = spins_from_bits(arr) if values == "bit" else arr
    counts = np.bincount(state_index(s), minlength=2**N).astype(np.float64)
    counts += pseudo_count
    counts /= M + pseudo_count * 2**N
    return counts
