r"""Maximum-entropy projection onto generalised Ising models of order <= K.

The best truncated model of a target ``q`` (in KL(q || p)) among models with
couplings only up to order ``K`` is the maximum-entropy distribution whose
moments of order ``<= K`` equal those of ``q`` (docs/theory.md §2, §5 C3 and
the open reading (c) of §6). It maximises the strictly concave

.. math:: L_K(J) = \sum_{0 < |S| \le K} J_S\, m_S(q) - \log Z(J),

whose gradient is the moment residual and whose negative Hessian is the
Fisher matrix restricted to those subsets. We solve it by damped Newton steps
(Cholesky of the restricted Fisher matrix, backtracking on ``L_K``) until the
residual is below ``gtol``.

Glossary: ``K`` maximum order, ``idx`` the kept subsets, ``g`` the residual on
them, ``F`` the restricted Fisher matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from dsb_verifier.theory._validation import check_int, check_memory, check_real, distribution, logsumexp
from dsb_verifier.theory.effective import couplings, prob
from dsb_verifier.theory.walsh import _orders, wht
from numpy.typing import ArrayLike, NDArray

__all__ = ["MaxEntConvergenceError", "MaxEntFit", "maxent_fit", "maxent_projection"]

#: Default stopping tolerance on the largest moment residual of order <= K.
MAXENT_GTOL = 1e-12

#: Largest change of log p (nats, over all states) allowed in one Newton step.
_MAX_DU = 4.0


class MaxEntConvergenceError(RuntimeError):
    """Raised by :func:`maxent_projection` when Newton's method did not converge."""


@dataclass(frozen=True)
class MaxEntFit:
    """Result of :func:`maxent_fit`.

    Attributes
    ----------
    J
        Couplings, full length ``2^N``, zero above order ``max_order``,
        ``J[0] = -log Z`` (convention of :func:`theory.couplings`).
    max_order
        The truncation order ``K``.
    residual
        Largest absolute moment residual :math:`|m_S(q) - m_S(p)|` over ``0 < |S| <= K``.
    iterations
        Newton iterations taken.
    converged
        Whether ``residual <= gtol`` was reached.
    """

    J: NDArray[np.float64]
    max_order: int
    residual: float
    iterations: int
    converged: bool

    def __post_init__(self) -> None:
        n = self.J.shape[-1]
        N = n.bit_length() - 1
        if self.J.ndim != 1 or n != 2**N:
            raise ValueError(f"J must be one vector of length 2^N, got shape {self.J.shape}")
        if not 0 <= self.max_order <= N:
            raise ValueError(f"max_order must be in [0, {N}], got {self.max_order}")
        if np.any(self.J[_orders(N) > self.max_order] != 0):
            raise ValueError("couplings above max_order must be exactly zero")
        self.J.setflags(write=False)


def _restricted(J_sub: NDArray[np.float64], idx: NDArray[np.int64], n: int) -> NDArray[np.float64]:
    J = np.zeros(n)
    J[idx] = J_sub
    return J


def maxent_fit(q: ArrayLike, max_order: int, *, gtol: float = MAXENT_GTOL, max_iter: int = 200) -> MaxEntFit:
    """Maximum-entropy model matching the moments of ``q`` up to order ``max_order``.

    Parameters
    ----------
    q
        One strictly positive target distribution, shape ``(2^N,)``.
    max_order
        Truncation order ``K`` in ``[0, N]``; ``K = N`` returns ``couplings(q)``
        exactly, ``K = 0`` the uniform distribution.
    gtol
        Stop when the largest moment residual of order ``<= K`` is below this.
    max_iter
        Maximum number of Newton iterations.

    Returns
    -------
    MaxEntFit
        With ``converged`` False if the tolerance was not reached (never silent:
        :func:`maxent_projection` raises in that case).
    """
    qq, N = distribution(q, "q")
    if qq.ndim != 1:
        raise ValueError(f"q must be one distribution of shape (2^N,), got shape {qq.shape}")
    if isinstance(max_order, bool) or not isinstance(max_order, int | np.integer):
        raise ValueError(f"max_order must be an integer in [0, {N}], got {max_order!r}")
    if not 0 <= max_order <= N:
        raise ValueError(f"max_order must be in [0, N] = [0, {N}], got {max_order}")
    gtol = check_real(gtol, "gtol", positive=True)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    n = 2**N
    K = int(max_order)
    if K == N:
        J = couplings(qq)
        residual = float(np.max(np.abs(wht(qq)[1:] - wht(prob(J))[1:])))
        return MaxEntFit(J=J, max_order=K, residual=residual, iterations=0, converged=residual <= gtol)
    idx = np.flatnonzero((_orders(N) <= K) & (np.arange(n) > 0))
    check_memory(3 * 8 * idx.size**2 + 8 * 8 * n, f"max-ent projection with {idx.size} couplings")
    m_q = wht(qq)[idx]
    xor = idx[:, None] ^ idx[None, :]

    def objective(J_sub: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        """L_K and the model moments at the restricted couplings."""
        u = wht(_restricted(J_sub, idx, n))
        logZ = float(logsumexp(u))
        return float(J_sub @ m_q) - logZ, wht(np.exp(u - logZ))

    J_sub = np.zeros(idx.size)
    L, m = objective(J_sub)
    it = 0
    residual = float(np.max(np.abs(m_q - m[idx]))) if idx.size else 0.0
    while residual > gtol and it < max_iter:
        it += 1
        g = m_q - m[idx]
        F = m[xor] - np.outer(m[idx], m[idx])
        try:
            delta = scipy.linalg.cho_solve(scipy.linalg.cho_factor(F), g)
        except np.linalg.LinAlgError:
            delta = np.linalg.lstsq(F, g, rcond=None)[0]
        slope = float(g @ delta)
        if not np.isfinite(slope) or slope <= 0:  # singular Fisher: fall back to the gradient
            delta, slope = g, float(g @ g)
        # trust region: change log p by at most _MAX_DU nats per step, so a full Newton step
        # from far away cannot land where the Fisher matrix is numerically singular
        du = float(np.max(np.abs(wht(_restricted(delta, idx, n)))))
        step = min(1.0, _MAX_DU / du) if du > 0 else 1.0
        while True:
            L_new, m_new = objective(J_sub + step * delta)
            # Armijo condition, with a float-rounding allowance near the optimum.
            if L_new >= L + 1e-4 * step * slope - 1e-13 * abs(L) or step < 1e-10:
                break
            step *= 0.5
        J_sub, L, m = J_sub + step * delta, L_new, m_new
        residual = float(np.max(np.abs(m_q - m[idx])))
    J = _restricted(J_sub, idx, n)
    J[0] = -float(logsumexp(wht(J)))
    return MaxEntFit(J=J, max_order=K, residual=residual, iterations=it, converged=residual <= gtol)


def maxent_projection(q: ArrayLike, max_order: int, *, gtol: float = MAXENT_GTOL) -> NDArray[np.float64]:
    """Couplings of the maximum-entropy projection of ``q`` onto orders ``<= max_order``.

    Same convention as :func:`theory.couplings` (full length ``2^N``,
    ``J[0] = -log Z``). See :func:`maxent_fit` for parameters.

    Raises
    ------
    MaxEntConvergenceError
        If the moment residual did not fall below ``gtol``.
    """
    fit = maxent_fit(q, max_order, gtol=gtol)
    if not fit.converged:
        raise MaxEntConvergenceError(
            f"max-ent projection to order {max_order} stopped after {fit.iterations} "
            f"iterations with moment residual {fit.residual:.3g} > gtol={gtol:.1g}"
        )
    return np.array(fit.J)
