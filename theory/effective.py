r"""The effective model: couplings, moments, likelihood and Fisher matrix.

For a strictly positive distribution ``p`` on :math:`\{-1,+1\}^N`
(docs/theory.md §2),

.. math::

    \log p(s) = \sum_{S \ne 0} J_S \chi_S(s) - \log Z(J), \qquad
    J_S = 2^{-N} \sum_s \chi_S(s) \log p(s).

The coupling vector has full length ``2^N`` and its constant entry is
``J[0] = -log Z`` (the mean of ``log p``), so ``log p = wht(J)`` exactly.
Functions that take couplings as *parameters* (:func:`log_prob`,
:func:`log_partition`, :func:`loglik`) ignore ``J[0]``.

All normalisations use log-sum-exp. Glossary: ``p``, ``q`` distributions
(state axis last), ``J`` couplings, ``m`` moments :math:`m_S = E_p[\chi_S]`,
``F`` Fisher matrix, ``L`` average log-likelihood.
"""

from __future__ import annotations

import numpy as np
from dsb_verifier.theory._validation import check_memory, distribution, logsumexp, state_vector
from dsb_verifier.theory.walsh import characters, wht
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "couplings",
    "entropy",
    "fisher",
    "kl",
    "log_partition",
    "log_prob",
    "loglik",
    "moments",
    "neg_energy",
    "prob",
]


def couplings(p: ArrayLike, *, normalize: bool = False) -> NDArray[np.float64]:
    r"""Effective couplings (Walsh coefficients of ``log p``), Claim C1.

    Parameters
    ----------
    p
        Strictly positive probabilities, shape ``(..., 2^N)``, summing to one.
    normalize
        Rescale ``p`` to sum to one instead of refusing it.

    Returns
    -------
    ndarray, shape ``(..., 2^N)``
        ``J[..., S] = 2^-N sum_b chi_S(b) log p[..., b]``; ``J[..., 0] = -log Z``
        and ``wht(J) == log p``.
    """
    x, N = distribution(p, "p", normalize=normalize)
    return wht(np.log(x)) / 2.0**N


def neg_energy(J: ArrayLike) -> NDArray[np.float64]:
    r"""Unnormalised negative energy :math:`u(s) = \sum_{S \ne 0} J_S \chi_S(s)` over all states."""
    x, _ = state_vector(J, "J")
    x = x.copy()
    x[..., 0] = 0.0
    return wht(x)


def log_partition(J: ArrayLike) -> NDArray[np.float64]:
    r""":math:`\log Z(J) = \log \sum_s \exp \sum_{S \ne 0} J_S \chi_S(s)` (ignores ``J[0]``).

    Returns an array of shape ``J.shape[:-1]`` (a 0-d array for one vector).
    """
    return np.asarray(logsumexp(neg_energy(J), axis=-1))


def log_prob(J: ArrayLike) -> NDArray[np.float64]:
    """Normalised log-probabilities of the model with couplings ``J`` (ignores ``J[0]``)."""
    u = neg_energy(J)
    return u - logsumexp(u, axis=-1, keepdims=True)


def prob(J: ArrayLike) -> NDArray[np.float64]:
    """Probabilities ``exp(log_prob(J))``; strictly positive and normalised."""
    return np.exp(log_prob(J))


def moments(p: ArrayLike, *, normalize: bool = False) -> NDArray[np.float64]:
    r"""Moments :math:`m_S = E_p[\chi_S] = (H p)_S`, shape ``(..., 2^N)``, ``m_0 = 1``."""
    x, _ = distribution(p, "p", normalize=normalize)
    return wht(x)


def loglik(J: ArrayLike, q: ArrayLike) -> NDArray[np.float64]:
    r"""Average log-likelihood of target ``q`` under couplings ``J`` (Claims C2–C4).

    .. math:: L(J; q) = \sum_{S \ne 0} J_S\, m_S(q) - \log Z(J) = \sum_s q(s) \log p_J(s)

    ``J[0]`` is ignored. Batch axes of ``J`` and ``q`` broadcast.
    """
    x, N = state_vector(J, "J")
    qq, Nq = distribution(q, "q")
    if N != Nq:
        raise ValueError(f"J and q must describe the same N; got N={N} for J and N={Nq} for q")
    m_q = wht(qq)
    return np.sum(x[..., 1:] * m_q[..., 1:], axis=-1) - log_partition(x)


def _phi(x: NDArray[np.float64]) -> NDArray[np.float64]:
    r""":math:`\varphi(x) = e^x - 1 - x \ge 0`, accurate to rounding for every ``x``.

    Uses the Taylor series for ``|x| < 0.1``, where ``expm1(x) - x`` would cancel.
    """
    out = np.expm1(x) - x
    small = np.abs(x) < 0.1
    xs = x[small]
    term = 0.5 * xs * xs
    acc = term.copy()
    for k in range(3, 18):  # |x|^16 / 16! < 1e-29 for |x| < 0.1
        term = term * xs / k
        acc += term
    out[small] = acc
    return out


def kl(q: ArrayLike, p: ArrayLike) -> NDArray[np.float64]:
    r"""Kullback–Leibler divergence :math:`KL(q \| p) = \sum_s q \log(q / p) \ge 0`.

    Computed as :math:`\sum_s q\,\varphi(\log p - \log q)` with
    :math:`\varphi(x) = e^x - 1 - x \ge 0` (equal for normalised ``q`` and ``p``): every
    term is non-negative, so there is no cancellation when ``p`` is close to ``q``
    and the result is never negative. It keeps relative accuracy down to the
    rounding of the inputs themselves (about ``EPS^2`` in KL).
    """
    qq, Nq = distribution(q, "q")
    pp, Np = distribution(p, "p")
    if Nq != Np:
        raise ValueError(f"q and p must describe the same N; got N={Nq} and N={Np}")
    return np.asarray(np.sum(qq * _phi(np.log(pp) - np.log(qq)), axis=-1))


def entropy(p: ArrayLike) -> NDArray[np.float64]:
    r"""Shannon entropy in nats, :math:`-\sum_s p \log p`."""
    pp, _ = distribution(p, "p")
    return -np.sum(pp * np.log(pp), axis=-1)


def fisher(p: ArrayLike) -> NDArray[np.float64]:
    r"""Fisher matrix of the effective model, :math:`F = -\nabla^2_J L` (Claim C2).

    .. math:: F_{ST} = \mathrm{Cov}_p(\chi_S, \chi_T) = m_{S \oplus T} - m_S m_T,
       \qquad S, T \ne 0,

    using :math:`\chi_S \chi_T = \chi_{S \oplus T}`. This is the one routine that
    forms a ``(2^N - 1) x (2^N - 1)`` matrix, because the caller asked for it. It is
    computed in the centred form :math:`\sum_b p_b (\chi_S - m_S)(\chi_T - m_T)`, which
    stays positive semidefinite in float64 even for very peaked ``p`` (``O(8^N)``
    time; ``dsb_verifier.theory.precision`` audits it against 50-digit arithmetic).

    Parameters
    ----------
    p
        One strictly positive distribution, shape ``(2^N,)``.

    Returns
    -------
    ndarray, shape ``(2^N - 1, 2^N - 1)``
        Symmetric positive definite; row/column ``i`` is subset ``S = i + 1``.
    """
    pp, N = distribution(p, "p")
    if pp.ndim != 1:
        raise ValueError(f"fisher expects one distribution of shape (2^N,), got shape {pp.shape}")
    check_memory(3 * 8 * 4**N, f"the {2**N - 1} x {2**N - 1} Fisher matrix")
    m = wht(pp)
    # Centred form sum_b p_b (chi_S(b) - m_S)(chi_T(b) - m_T): positive semidefinite by
    # construction. The equal m_{S xor T} - m_S m_T cancels catastrophically for peaked p
    # (it can come out indefinite); the centred product costs O(8^N) instead of O(4^N).
    X = (characters(np.arange(1, 2**N), N) - m[1:, None]) * np.sqrt(pp)
    F = X @ X.T
    return 0.5 * (F + F.T)
