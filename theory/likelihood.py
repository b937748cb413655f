r"""Likelihood of a parameterised EBM: residual, gradient and the two Hessians.

For a model :math:`u_\theta` (:class:`dsb_verifier.theory.models.EnergyModel`) and a strictly
positive target ``q`` over the ``2^N`` visible states (docs/theory.md §2–4),

.. math::

    L(\theta) = \sum_s q(s) \log p_\theta(s), \qquad
    \nabla L = E_q[G] - E_p[G] = G\,(q - p) = A^\top r,

where :math:`G = \partial u/\partial\theta` (shape ``(P, 2^N)``), ``A`` the
Jacobian of the couplings and :math:`r = m(q) - m(p_\theta)` the moment residual
over ``S != 0``. The two routes to the gradient agree because
:math:`A^\top = 2^{-N} G H^\top` restricted to ``S != 0``, the ``S = 0`` entry of
the residual is :math:`1 - 1 = 0`, and :math:`H^\top H = 2^N I`.

Hessian (Claim C4). Differentiating once more,

.. math::

    \nabla^2 L = \sum_s (q - p)(s)\, \nabla^2_\theta u_\theta(s) - \mathrm{Cov}_p(G),
    \qquad \mathrm{Cov}_p(G) = G\,\mathrm{diag}(p)\,G^\top - (Gp)(Gp)^\top .

Gauss–Newton identity. Write :math:`G(s) = \sum_{S} \tilde A_S \chi_S(s)` with
:math:`\tilde A` the full Walsh transform (row ``S = 0`` included, rows
``S != 0`` equal to ``A``). A covariance ignores constants, so
:math:`\mathrm{Cov}_p(G) = \sum_{S,T \ne 0} A_S^\top \mathrm{Cov}_p(\chi_S, \chi_T) A_T
= A^\top F A` with ``F`` the Fisher matrix of :func:`theory.fisher`. Hence
:math:`-A^\top F A = -\mathrm{Cov}_p(G)`, computed here in ``O(2^N P^2)`` without
ever forming ``F`` (a ``(2^N - 1)^2`` matrix). At a data-consistent point
(``q = p_theta``) the residual term vanishes and the exact Hessian *is* the
Gauss–Newton matrix (Claim C4).

Glossary: ``theta`` parameters ``(..., P)``, ``q`` target, ``p`` model
distribution, ``G`` gradient of ``u`` over states ``(..., P, 2^N)``, ``A``
Jacobian ``(2^N - 1, P)``, ``r`` residual ``(..., 2^N - 1)``, ``F`` Fisher
matrix, ``L`` average log-likelihood.
"""

from __future__ import annotations

import numpy as np
from dsb_verifier.theory._validation import check_memory
from dsb_verifier.theory.models.base import EnergyModel, check_model
from dsb_verifier.theory.walsh import wht
from numpy.typing import ArrayLike, NDArray

__all__ = ["residual", "loglik", "grad_loglik", "exact_hessian", "gauss_newton"]


def _one_theta(model: EnergyModel, theta: ArrayLike, what: str) -> NDArray[np.float64]:
    th = model.check_theta(theta)
    if th.ndim != 1:
        raise ValueError(f"{what} takes one theta of shape (P,) = ({model.n_params},), got {th.shape}")
    return th


def _one_target(model: EnergyModel, q: ArrayLike, what: str) -> NDArray[np.float64]:
    qq = model.check_target(q)
    if qq.ndim != 1:
        raise ValueError(f"{what} takes one target q of shape (2^N,) = ({qq.shape[-1]},), got {qq.shape}")
    return qq


def _covariance(G: NDArray[np.float64], p: NDArray[np.float64]) -> NDArray[np.float64]:
    r""":math:`\mathrm{Cov}_p(G) = G\,\mathrm{diag}(p)\,G^\top - (Gp)(Gp)^\top`, shape ``(P, P)``.

    Computed as one matrix product of the centred rows scaled by
    :math:`\sqrt{p}`: the result is symmetric positive semidefinite by
    construction and has no cancellation between the two terms.
    """
    Gc = (G - (G @ p)[:, None]) * np.sqrt(p)
    C = Gc @ Gc.T
    return 0.5 * (C + C.T)


def residual(model: EnergyModel, theta: ArrayLike, q: ArrayLike) -> NDArray[np.float64]:
    r"""Moment residual :math:`r = m(q) - m(p_\theta)` over ``S != 0`` (docs/theory.md §4).

    Parameters
    ----------
    model
        An :class:`~dsb_verifier.theory.models.EnergyModel`.
    theta
        Parameters, shape ``(..., P)``.
    q
        Target distribution(s), shape ``(..., 2^N)``; batch axes broadcast with ``theta``'s.

    Returns
    -------
    ndarray, shape ``(..., 2^N - 1)``
        Entry ``i`` is subset ``S = i + 1``, the row order of :meth:`EnergyModel.jacobian`.
        ``r = 0`` exactly characterises data-consistent points (Claim C3).
    """
    model = check_model(model)
    qq = model.check_target(q)
    return (wht(qq) - wht(model.prob(theta)))[..., 1:]


def loglik(model: EnergyModel, theta: ArrayLike, q: ArrayLike) -> NDArray[np.float64]:
    r"""Average log-likelihood :math:`L(\theta) = \sum_s q(s) \log p_\theta(s)`.

    Returns an array of the broadcast batch shape of ``theta`` and ``q`` (0-d for
    one of each). :func:`theory.loglik` is the same quantity in the coupling
    coordinates ``J``; ``L(theta) == theory.loglik(model.couplings(theta), q)``.
    """
    model = check_model(model)
    qq = model.check_target(q)
    return np.asarray(np.sum(qq * model.log_prob(theta), axis=-1))


def grad_loglik(model: EnergyModel, theta: ArrayLike, q: ArrayLike) -> NDArray[np.float64]:
    r"""Gradient :math:`\nabla_\theta L = E_q[\partial u/\partial\theta] - E_p[\partial u/\partial\theta]`.

    Computed as :math:`G\,(q - p)` over states, which equals :math:`A^\top r`
    (module docstring); it is the gradient-flow vector field of docs/theory.md §4
    (Claims C3–C5).

    Parameters
    ----------
    model, theta, q
        As in :func:`residual`.

    Returns
    -------
    ndarray, shape ``(..., P)``
    """
    model = check_model(model)
    qq = model.check_target(q)
    th = model.check_theta(theta)
    if th.ndim == 1 and qq.ndim == 1:
        return _grad_unchecked(model, th, qq)
    G = model.grad_neg_energy(th)
    d = qq - model.prob(th)
    return np.matmul(G, d[..., None])[..., 0]


def _grad_unchecked(
    model: EnergyModel, theta: NDArray[np.float64], q: NDArray[np.float64]
) -> NDArray[np.float64]:
    """:func:`grad_loglik` for one validated theta and target (the flow's hot path)."""
    return model._weighted_grad(theta, q - np.exp(model._log_prob(theta)))


def exact_hessian(model: EnergyModel, theta: ArrayLike, q: ArrayLike) -> NDArray[np.float64]:
    r"""Exact Hessian of the log-likelihood in ``theta`` (Claim C4).

    .. math:: \nabla^2 L = \sum_s (q - p)(s)\,\nabla^2_\theta u(s) - \mathrm{Cov}_p(\partial u/\partial\theta)

    The first (residual) term vanishes at data-consistent points; the second is
    :func:`gauss_newton`. Cost ``O(2^N P^2)`` plus the model's
    :meth:`~dsb_verifier.theory.models.EnergyModel.weighted_hessian`; the Fisher matrix is
    never formed. It is also the Jacobian of the gradient-flow vector field
    (used by the stiff solvers of :func:`theory.integrate_flow`).

    Parameters
    ----------
    model
        An :class:`~dsb_verifier.theory.models.EnergyModel`.
    theta
        One parameter vector, shape ``(P,)``.
    q
        One target distribution, shape ``(2^N,)``.

    Returns
    -------
    ndarray, shape ``(P, P)``
        Symmetric.
    """
    model = check_model(model)
    qq = _one_target(model, q, "exact_hessian")
    th = _one_theta(model, theta, "exact_hessian")
    check_memory(8.0 * (3 * model.n_params * 2**model.n_visible + 3 * model.n_params**2), "exact_hessian")
    p = model.prob(th)
    Hw = model.weighted_hessian(th, qq - p)
    C = _covariance(model.grad_neg_energy(th), p)
    Hs = Hw - C
    return 0.5 * (Hs + Hs.T)


def gauss_newton(model: EnergyModel, theta: ArrayLike) -> NDArray[np.float64]:
    r"""Gauss–Newton matrix :math:`-A^\top F A = -\mathrm{Cov}_p(\partial u/\partial\theta)` (Claim C4).

    The identity is derived in the module docstring; it holds at every
    ``theta`` (no target needed), and equals :func:`exact_hessian` at
    data-consistent points. Computed in ``O(2^N P^2)`` by one matrix product of
    the centred gradients scaled by :math:`\sqrt{p}`, never forming ``F``.

    Parameters
    ----------
    model
        An :class:`~dsb_verifier.theory.models.EnergyModel`.
    theta
        One parameter vector, shape ``(P,)``.

    Returns
    -------
    ndarray, shape ``(P, P)``
        Symmetric negative semidefinite; its kernel is ``ker A`` (Claim C4).
    """
    model = check_model(model)
    th = _one_theta(model, theta, "gauss_newton")
    check_memory(8.0 * (3 * model.n_params * 2**model.n_visible + 2 * model.n_params**2), "gauss_newton")
    return -_covariance(model.grad_neg_energy(th), model.prob(th))
