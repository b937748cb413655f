r"""One interface for parameterised energy-based models over N visible spins.

A model maps parameters :math:`\theta \in \mathbb{R}^P` to a negative energy
:math:`u_\theta(s)` over all ``2^N`` visible states, hidden units marginalised
exactly (docs/theory.md §3). Everything the theory needs follows from ``u``
and its derivatives:

* effective couplings :math:`J(\theta)_S = 2^{-N}\sum_s \chi_S(s)\, u_\theta(s)`
  (``S != 0``; entry 0 holds ``-log Z`` as in :func:`theory.couplings`);
* the Jacobian :math:`A(\theta) = \partial J / \partial\theta`, shape ``(2^N - 1, P)``,
  the Walsh transform of :math:`\partial u/\partial\theta` over the state axis;
* :meth:`EnergyModel.weighted_hessian`, :math:`\sum_s w(s)\,\nabla^2_\theta u_\theta(s)`,
  which is all the exact Hessian of the likelihood needs (Claim C4).

Array conventions: ``theta`` has shape ``(..., P)`` (batch axes first); arrays
over states have the state axis last (:mod:`dsb_verifier.theory.walsh`); ``du/dtheta`` has
shape ``(..., P, 2^N)``.

Glossary: ``N`` visible spins, ``P`` number of parameters, ``u`` negative
energy, ``G`` gradient of ``u`` w.r.t. ``theta`` over states, ``A`` Jacobian of
the couplings, ``w`` a weight vector over states.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cached_property

import numpy as np
from dsb_verifier.theory._validation import (
    as_float_array,
    check_memory,
    check_n,
    check_real,
    check_rng,
    distribution,
    logsumexp,
)
from dsb_verifier.theory.tolerances import transform_atol
from dsb_verifier.theory.walsh import _orders, characters, states, wht
from numpy.typing import ArrayLike, NDArray

__all__ = ["DirectModel", "EnergyModel", "TruncatedIsing"]


class EnergyModel(ABC):
    """Abstract parameterised EBM over ``n_visible`` spins (docs/theory.md §3).

    Subclasses define :attr:`layout` and the three analytic kernels
    :meth:`_neg_energy`, :meth:`_grad_neg_energy` and :meth:`_weighted_hessian`;
    validation and the derived quantities (couplings, Jacobian, probabilities)
    are implemented here once.
    """

    #: Short family name used in reports.
    family: str = "abstract"

    def __init__(self, n_visible: int) -> None:
        self.n_visible = check_n(n_visible, "n_visible", max_n=24)

    # ---- layout -------------------------------------------------------------
    @property
    @abstractmethod
    def layout(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """Named blocks of ``theta`` in order, as ``(name, shape)`` pairs (row-major)."""

    @cached_property
    def _s(self) -> NDArray[np.float64]:
        """Visible states as floats, shape ``(2^N, N)`` (read-only)."""
        N = self.n_visible
        check_memory(9.0 * N * 2**N, f"the {2**N} visible states of {self!r} (int8, then float64)")
        s = states(N).astype(np.float64)
        s.setflags(write=False)
        return s

    @cached_property
    def _sT(self) -> NDArray[np.float64]:
        """Visible states with the state axis last, shape ``(N, 2^N)``, C-contiguous (read-only)."""
        N = self.n_visible
        pending = 0.0 if "_s" in self.__dict__ else 9.0 * N * 2**N  # _s is built first if not yet cached
        check_memory(8.0 * N * 2**N + pending, f"the transposed visible states of {self!r}")
        sT = np.ascontiguousarray(self._s.T)
        sT.setflags(write=False)
        return sT

    @cached_property
    def n_params(self) -> int:
        """Number of parameters ``P``."""
        return int(sum(int(np.prod(shape, dtype=np.int64)) for _, shape in self.layout))

    def unpack(self, theta: ArrayLike) -> dict[str, NDArray[np.float64]]:
        """Split ``theta`` (shape ``(..., P)``) into its named blocks (views)."""
        th = self.check_theta(theta)
        out: dict[str, NDArray[np.float64]] = {}
        start = 0
        for name, shape in self.layout:
            size = int(np.prod(shape, dtype=np.int64))
            out[name] = th[..., start : start + size].reshape(th.shape[:-1] + shape)
            start += size
        return out

    def pack(self, **blocks: ArrayLike) -> NDArray[np.float64]:
        """Inverse of :meth:`unpack` for one parameter vector: ``pack(a=..., W=...)``."""
        names = [name for name, _ in self.layout]
        if set(blocks) != set(names):
            raise ValueError(f"pack needs exactly the blocks {names}, got {sorted(blocks)}")
        parts = []
        for name, shape in self.layout:
            arr = as_float_array(blocks[name], name, min_ndim=0)
            if arr.shape != shape:
                raise ValueError(f"block {name!r} must have shape {shape}, got {arr.shape}")
            parts.append(arr.ravel())
        return np.concatenate(parts) if parts else np.zeros(0)

    def check_theta(self, theta: ArrayLike) -> NDArray[np.float64]:
        """Validate a parameter array of shape ``(..., P)``: finite, right length."""
        th = as_float_array(theta, "theta")
        if th.shape[-1] != self.n_params:
            raise ValueError(
                f"theta must have last axis of length P={self.n_params} for {self!r}, got shape {th.shape}"
            )
        return th

    def check_target(self, q: ArrayLike) -> NDArray[np.float64]:
        """Validate a target distribution over this model's ``2^N`` visible states."""
        qq, N = distribution(q, "q")
        if N != self.n_visible:
            raise ValueError(f"target q describes N={N} spins but the model has n_visible={self.n_visible}")
        return qq

    # ---- analytic kernels (subclasses) --------------------------------------
    @abstractmethod
    def _neg_energy(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        """u over all states, ``(..., P) -> (..., 2^N)``; theta already validated."""

    @abstractmethod
    def _grad_neg_energy(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        """du/dtheta over all states, ``(..., P) -> (..., P, 2^N)``."""

    @abstractmethod
    def _weighted_hessian(self, theta: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
        """``sum_s w(s) d^2u(s)/dtheta^2`` for one theta ``(P,)`` and weights ``(2^N,)``."""

    def _weighted_grad(self, theta: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
        """``sum_s w(s) du(s)/dtheta`` for one theta ``(P,)`` and weights ``(2^N,)``.

        Default: through the full ``du/dtheta`` array; families override it with an
        ``O(2^N)``-memory route (the gradient-flow hot path).
        """
        return self._grad_neg_energy(theta) @ w

    def _log_prob(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        """Unvalidated :meth:`log_prob` (theta already checked)."""
        u = self._neg_energy(theta)
        return u - logsumexp(u, axis=-1, keepdims=True)

    @abstractmethod
    def init(self, rng: np.random.Generator, scale: float) -> NDArray[np.float64]:
        """A random parameter vector of overall size ``scale`` (family-specific recipe)."""

    # ---- public, validated API ----------------------------------------------
    def neg_energy(self, theta: ArrayLike) -> NDArray[np.float64]:
        """Negative energy ``u_theta(s)`` over all visible states, shape ``(..., 2^N)``."""
        return self._neg_energy(self.check_theta(theta))

    def grad_neg_energy(self, theta: ArrayLike) -> NDArray[np.float64]:
        """Analytic ``du/dtheta`` over all states, shape ``(..., P, 2^N)``."""
        return self._grad_neg_energy(self.check_theta(theta))

    def weighted_hessian(self, theta: ArrayLike, w: ArrayLike) -> NDArray[np.float64]:
        r""":math:`\sum_s w(s)\, \nabla^2_\theta u_\theta(s)`, shape ``(P, P)`` (Claim C4)."""
        th = self.check_theta(theta)
        if th.ndim != 1:
            raise ValueError(f"weighted_hessian takes one theta of shape (P,), got {th.shape}")
        ww = as_float_array(w, "w")
        if ww.shape != (2**self.n_visible,):
            raise ValueError(f"w must have shape (2^N,) = ({2**self.n_visible},), got {ww.shape}")
        return self._weighted_hessian(th, ww)

    def weighted_grad(self, theta: ArrayLike, w: ArrayLike) -> NDArray[np.float64]:
        r""":math:`\sum_s w(s)\, \nabla_\theta u_\theta(s)`, shape ``(P,)``.

        With ``w = q - p_theta`` this is the likelihood gradient :math:`A^\top r`
        (docs/theory.md §4), computed without the ``(P, 2^N)`` array where the
        family allows.
        """
        th = self.check_theta(theta)
        if th.ndim != 1:
            raise ValueError(f"weighted_grad takes one theta of shape (P,), got {th.shape}")
        ww = as_float_array(w, "w")
        if ww.shape != (2**self.n_visible,):
            raise ValueError(f"w must have shape (2^N,) = ({2**self.n_visible},), got {ww.shape}")
        return self._weighted_grad(th, ww)

    def log_prob(self, theta: ArrayLike) -> NDArray[np.float64]:
        """Normalised log-probabilities of the visible marginal (log-sum-exp)."""
        return self._log_prob(self.check_theta(theta))

    def prob(self, theta: ArrayLike) -> NDArray[np.float64]:
        """Probabilities of the visible marginal, shape ``(..., 2^N)``."""
        return np.exp(self.log_prob(theta))

    def couplings(self, theta: ArrayLike) -> NDArray[np.float64]:
        """Effective couplings, same convention as :func:`theory.couplings` (Claim C1).

        ``J[..., S] = 2^-N sum_s chi_S(s) u_theta(s)`` for ``S != 0`` and
        ``J[..., 0] = -log Z``, so ``wht(J) == log_prob(theta)``.
        """
        return wht(self.log_prob(theta)) / 2.0**self.n_visible

    def jacobian(self, theta: ArrayLike) -> NDArray[np.float64]:
        r"""Jacobian :math:`A = \partial J/\partial\theta`, shape ``(..., 2^N - 1, P)``.

        Row ``i`` is subset ``S = i + 1``; computed as the Walsh transform of
        ``du/dtheta`` over the state axis (docs/theory.md §3).
        """
        G = self.grad_neg_energy(theta)
        A = wht(G) / 2.0**self.n_visible
        return np.swapaxes(A[..., 1:], -1, -2)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_visible={self.n_visible}, P={self.n_params})"


class _LinearCouplingModel(EnergyModel):
    """A model whose ``u`` is linear in ``theta``: ``theta_j`` is the coupling of subset ``idx[j]``."""

    @cached_property
    def _idx(self) -> NDArray[np.int64]:
        raise NotImplementedError

    @property
    def subsets(self) -> NDArray[np.int64]:
        """Subset bitmask multiplied by each parameter."""
        return self._idx.copy()

    def _full(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        J = np.zeros((*theta.shape[:-1], 2**self.n_visible))
        J[..., self._idx] = theta
        return J

    def _neg_energy(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        return wht(self._full(theta))

    @cached_property
    def _chi(self) -> NDArray[np.float64]:
        """Characters of the kept subsets, ``du/dJ_S = chi_S``, shape ``(P, 2^N)`` (read-only)."""
        G = characters(self._idx, self.n_visible).astype(np.float64)
        G.setflags(write=False)
        return G

    def _grad_neg_energy(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.broadcast_to(self._chi, theta.shape[:-1] + self._chi.shape).copy()

    def _weighted_grad(self, theta: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
        return wht(w)[self._idx]

    def _weighted_hessian(self, theta: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.zeros((self.n_params, self.n_params))

    def params_from_couplings(self, J: ArrayLike) -> NDArray[np.float64]:
        """The parameters representing coupling vector ``J``.

        Entries outside the model's subsets must vanish up to the rounding of a
        transform, ``|J_S| <= transform_atol(N, max|J|) / 2^N`` (so the couplings of
        the model's own distribution, :meth:`couplings`, round-trip); ``J_0`` is ignored.
        """
        x = as_float_array(J, "J")
        if x.shape[-1] != 2**self.n_visible:
            raise ValueError(f"J must have last axis 2^N = {2**self.n_visible}, got {x.shape}")
        outside = np.ones(2**self.n_visible, dtype=bool)
        outside[self._idx] = False
        outside[0] = False
        scale = np.max(np.abs(x), axis=-1, keepdims=True)
        atol = transform_atol(self.n_visible, 1.0) / 2**self.n_visible * scale
        if np.any(np.abs(x[..., outside]) > atol):
            raise ValueError(
                f"J has nonzero couplings outside the subsets of {self!r} "
                f"(largest {np.max(np.abs(x[..., outside])):.3g})"
            )
        return x[..., self._idx].copy()


class DirectModel(_LinearCouplingModel):
    r"""The effective model itself: :math:`\theta = (J_S)_{S \ne 0}`, :math:`A = I` (Claim C2).

    ``theta[j]`` is the coupling of subset ``S = j + 1``; ``P = 2^N - 1``.
    """

    family = "direct"

    @property
    def layout(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        return (("J", (2**self.n_visible - 1,)),)

    @cached_property
    def _idx(self) -> NDArray[np.int64]:
        return np.arange(1, 2**self.n_visible, dtype=np.int64)

    def init(self, rng: np.random.Generator, scale: float) -> NDArray[np.float64]:
        """Couplings drawn i.i.d. normal with standard deviation ``scale``."""
        return _gaussian_init(self, rng, scale)


class TruncatedIsing(_LinearCouplingModel):
    r"""Generalised Ising model with couplings up to order ``max_order`` (``K = 2``: pairwise).

    Not expressive enough when the target has couplings above order ``K`` (the
    under-expressive negative control of Claim C3). ``theta`` lists the couplings
    of the subsets ``0 < |S| <= K`` in increasing bitmask order (:attr:`subsets`).
    """

    family = "truncated"

    def __init__(self, n_visible: int, max_order: int) -> None:
        super().__init__(n_visible)
        if isinstance(max_order, bool) or not isinstance(max_order, int | np.integer):
            raise ValueError(f"max_order must be an integer in [1, {self.n_visible}], got {max_order!r}")
        if not 1 <= max_order <= self.n_visible:
            raise ValueError(f"max_order must be in [1, N] = [1, {self.n_visible}], got {max_order}")
        self.max_order = int(max_order)

    @property
    def layout(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        return (("J", (int(self._idx.size),)),)

    @cached_property
    def _idx(self) -> NDArray[np.int64]:
        k = _orders(self.n_visible)
        return np.flatnonzero((k >= 1) & (k <= self.max_order)).astype(np.int64)

    def init(self, rng: np.random.Generator, scale: float) -> NDArray[np.float64]:
        """Couplings drawn i.i.d. normal with standard deviation ``scale``."""
        return _gaussian_init(self, rng, scale)

    def __repr__(self) -> str:
        return f"TruncatedIsing(n_visible={self.n_visible}, max_order={self.max_order}, P={self.n_params})"


def check_model(model: object) -> EnergyModel:
    """Validate that ``model`` is an :class:`EnergyModel` (shared by every function taking one)."""
    if not isinstance(model, EnergyModel):
        raise ValueError(
            f"model must be a dsb_verifier.theory.models.EnergyModel, got {type(model).__name__}"
        )
    return model


def _check_scale(scale: float) -> float:
    return check_real(scale, "scale", nonnegative=True)


def _gaussian_init(model: EnergyModel, rng: np.random.Generator, scale: float) -> NDArray[np.float64]:
    """``scale`` times i.i.d. standard normals, ``(P,)``: one float64 array, scaled in place."""
    s = _check_scale(scale)
    gen = check_rng(rng)
    check_memory(
        8.0 * model.n_params, f"the {model.n_params} parameters of {model!r}", hint="use a smaller model"
    )
    theta = gen.standard_normal(model.n_params)
    theta *= s
    return theta
