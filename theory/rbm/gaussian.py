r"""Low-order RBM couplings by conditioning, exact and in the Gaussian (central-limit) approximation.

Decelle, Furtlehner, Navas Gómez, Seoane, *Inferring effective couplings with
Restricted Boltzmann Machines*, SciPost Phys. 16, 095 (2024) extract pairwise
and three-body couplings from trained RBMs by treating the input a hidden unit
receives from the other visible units as Gaussian. We did not have the paper's
text: the derivation below is our own, and :func:`compare_gaussian` measures the
approximation against the exact couplings so users know when to trust it.

Exact formula (conditioning on the spins of S)
----------------------------------------------
For a spin-visible RBM (:class:`theory.RBM`; Bernoulli files are converted
exactly by :mod:`dsb_verifier.theory.rbm.io`),
:math:`u(s) = a\cdot s + \sum_\mu f(h_\mu(s))`, :math:`h_\mu = c_\mu + \sum_i W_{i\mu} s_i`,
the effective couplings are :math:`J_S = 2^{-N}\sum_s \chi_S(s)\, u(s)`
(docs/theory.md §3). Split :math:`s = (s_S, s_R)`, :math:`R` the complement
of :math:`S`, :math:`|S| = k \ge 1`. The uniform average over :math:`s`
factorises, :math:`2^{-N}\sum_s = 2^{-k}\sum_{s_S}\, \mathbb{E}_{s_R}`, and
:math:`\chi_S` depends on :math:`s_S` only, so

.. math::

    J_S = a_i\,[S = \{i\}] + \sum_\mu 2^{-k} \sum_{s_S \in \{\pm1\}^k} \chi_S(s_S)\;
          \mathbb{E}\, f\Big(c_\mu + \sum_{i\in S} W_{i\mu} s_i + X_\mu\Big),
    \qquad X_\mu = \sum_{j \notin S} W_{j\mu} s_j ,

with :math:`s_j` independent and uniform on :math:`\{\pm 1\}`. The visible
fields enter at order 1 only (orthogonality of characters). The inner sum is
the k-fold symmetric difference :math:`\prod_{i\in S}(\Delta_{W_{i\mu}}/2)\,f`
with :math:`\Delta_w g(x) = g(x+w) - g(x-w)`; for small weights it is
:math:`\prod_{i\in S} W_{i\mu}\, f^{(k)}`, e.g.
:math:`J_{ij} \approx \sum_\mu W_{i\mu}W_{j\mu}\,\mathbb{E} f''`.
This is exact: only the marginal law of each :math:`X_\mu` enters. With that
law taken as the true discrete one (``input_law="exact"``, all
:math:`2^{N-k}` configurations of :math:`s_R`) :func:`conditioned_couplings`
reproduces :meth:`theory.RBM.couplings` to rounding (tested).

Gaussian approximation
----------------------
:math:`X_\mu` has mean 0 and variance :math:`\sigma_{\mu,S}^2 = \sum_{j\notin S} W_{j\mu}^2`.
By the central limit theorem it is close to :math:`\mathcal N(0, \sigma_{\mu,S}^2)`
when no single weight dominates; the leading correction is its fourth cumulant
:math:`\kappa_4 = -2\sum_{j\notin S} W_{j\mu}^4`, i.e. a relative size
:math:`\kappa_4/\sigma^4 = -2\sum W^4/(\sum W^2)^2 \sim -2/N` for delocalised
weights, and the Edgeworth error of an expectation is
:math:`\approx \kappa_4\, \mathbb{E}[g''''] / 24`. So the approximation error is
``O(1/N)`` in the central-limit regime (many comparable weights) and ``O(1)``
when a few large weights carry the input.

Quadrature
----------
The Gaussian expectation is computed by the trapezoid rule on the uniform grid
:math:`X_j = j h`, :math:`|j| \le L`, with weights :math:`\propto e^{-X_j^2/2\sigma^2}`
normalised to one, and spacing :math:`h = \min(\sigma/2, h_{\max})`. For a function
analytic in the strip :math:`|\mathrm{Im}\,x| < d` the trapezoid rule on the line
errs by :math:`O(e^{-2\pi d/h})`; :math:`f` has its singularities at distance
:math:`d = \pi/2` (log 2cosh) or :math:`\pi` (softplus) from the real axis, so
``spacing`` :math:`h_{\max} = \pi^2/24` gives :math:`e^{-24}` or better, at
every :math:`\sigma`; :math:`h \le \sigma/2` resolves narrow Gaussians
(error :math:`e^{-2\pi^2\sigma^2/h^2} \le e^{-79}`), and the grid reaches
:math:`7.5\,\sigma`. Gauss–Hermite quadrature with a fixed number of nodes was
tried first and rejected: its error decays like :math:`e^{-2 d\sqrt{2n}/\sigma}`,
about ``1e-5`` with 64 nodes at :math:`\sigma \approx 4`, a typical input scale
of a trained RBM. The cost is ``O(C(N, k) 2^k M L)`` per order with
:math:`L \approx 18\,\sigma_{\max}`; no visible state is enumerated.

Glossary: ``N`` visible spins, ``M`` hidden units, ``k`` order, ``S`` subset
bitmask, ``R`` its complement, ``X`` the hidden input from ``R``, ``sigma`` its
standard deviation, ``P`` the ``2^k`` sign patterns of ``s_S``, ``chi`` their
characters, ``f`` the hidden function (softplus or log 2cosh).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import comb

import numpy as np
from dsb_verifier.theory._validation import check_memory
from dsb_verifier.theory.models.rbm import RBM
from dsb_verifier.theory.tolerances import EPS
from dsb_verifier.theory.walsh import _orders, order_norms, states
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "GRID_SPACING",
    "INPUT_LAWS",
    "GaussianComparison",
    "compare_gaussian",
    "conditioned_couplings",
]

#: Laws of the hidden input :math:`X_\mu` accepted by :func:`conditioned_couplings`.
INPUT_LAWS: tuple[str, str] = ("gaussian", "exact")

#: Largest spacing of the quadrature grid in units of the hidden input: the
#: trapezoid error is ~exp(-pi^2 / h) = exp(-24) ~ 4e-11 for log 2cosh and
#: exp(-48) for softplus (module docstring), far below any central-limit error.
GRID_SPACING = float(np.pi**2 / 24)

#: Half-width of the quadrature grid in standard deviations (Gaussian tail mass beyond: 6e-14).
_Z_MAX = 7.5

#: Entries of the per-chunk ``(subsets, patterns, M, atoms)`` array (a few MiB: stays in cache).
_CHUNK_ENTRIES = 2**18

#: Largest N for ``input_law="exact"`` (it enumerates 2^(N-k) configurations per subset).
_MAX_N_EXACT_LAW = 16


def _softplus_inplace(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``log(1 + e^x) = max(x, 0) + log1p(e^-|x|)``, overwriting ``x`` (3x faster than ``logaddexp``)."""
    t = np.abs(x)
    np.negative(t, out=t)
    np.exp(t, out=t)
    np.log1p(t, out=t)
    np.maximum(x, 0.0, out=x)
    x += t
    return x


def _log2cosh_inplace(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``log(2 cosh x) = |x| + log1p(e^-2|x|)``, overwriting ``x``."""
    np.abs(x, out=x)
    t = np.multiply(x, -2.0)
    np.exp(t, out=t)
    np.log1p(t, out=t)
    x += t
    return x


def _hidden_function(hidden: str) -> Callable[[NDArray[np.float64]], NDArray[np.float64]]:
    """``f`` of :class:`theory.RBM`, evaluated in place: softplus (hidden bits) or ``log 2cosh`` (spins)."""
    return _softplus_inplace if hidden == "bit" else _log2cosh_inplace


def _patterns(k: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Sign patterns ``P (2^k, k)`` of ``s_S`` and their characters ``chi (2^k,)``."""
    P = states(k).astype(np.float64)
    return P, P.prod(axis=1)


def _subset_members(N: int, k: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Bitmasks of the order-``k`` subsets (increasing) and their members, shape ``(C(N,k), k)``."""
    masks = np.flatnonzero(_orders(N) == k).astype(np.int64)
    bits = (masks[:, None] >> np.arange(N, dtype=np.int64)) & 1
    members = np.nonzero(bits)[1].reshape(masks.size, k)
    return masks, members


def _difference_expectation(
    f: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    c: NDArray[np.float64],
    WS: NDArray[np.float64],
    atoms: NDArray[np.float64],
    weights: NDArray[np.float64],
) -> NDArray[np.float64]:
    r""":math:`\sum_\mu 2^{-k}\sum_{s_S}\chi_S(s_S)\,\mathbb E f(c_\mu + W_S\cdot s_S + X_\mu)` per subset.

    ``WS (n_S, k, M)`` weights of the subset's members, ``atoms (n_S, M, Q)``
    values of :math:`X_\mu` with probabilities ``weights`` (broadcastable to ``atoms``).
    """
    k = WS.shape[1]
    P, chi = _patterns(k)
    base = c + np.einsum("pk,skm->spm", P, WS)  # (n_S, 2^k, M)
    F = f(base[..., None] + atoms[:, None, :, :])  # (n_S, 2^k, M, Q)
    Ef = np.einsum("spmq,smq->spm", F, np.broadcast_to(weights, atoms.shape))
    return np.einsum("p,spm->s", chi, Ef) / 2.0**k


def _gaussian_grid(
    sigma: NDArray[np.float64], L: int, spacing: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Trapezoid nodes ``X_j = j h`` and normalised weights of ``N(0, sigma^2)``, shape ``(..., 2L+1)``.

    ``h = min(sigma / 2, spacing)``; ``sigma = 0`` gives the point mass at 0.
    """
    j = np.arange(-L, L + 1, dtype=np.float64)
    h = np.minimum(sigma / 2.0, spacing)[..., None]
    z = np.divide(j * h, sigma[..., None], out=np.zeros(sigma.shape + j.shape), where=sigma[..., None] > 0)
    w = np.exp(-0.5 * z**2)
    w[sigma == 0] = (j == 0).astype(np.float64)
    return j * h, w / w.sum(axis=-1, keepdims=True)


def conditioned_couplings(
    model: RBM,
    theta: ArrayLike,
    max_order: int = 3,
    *,
    input_law: str = "gaussian",
    spacing: float = GRID_SPACING,
) -> NDArray[np.float64]:
    r"""Couplings of orders ``1..max_order`` of an RBM from the conditioning formula.

    Parameters
    ----------
    model
        A :class:`theory.RBM` (hidden spins or bits).
    theta
        One parameter vector, shape ``(P,)``.
    max_order
        Highest order computed, ``1 <= max_order <= N``.
    input_law
        ``"gaussian"``: the central-limit approximation (module docstring), by
        the trapezoid rule; ``"exact"``: the true discrete law of
        :math:`X_\mu` (all :math:`2^{N-k}` configurations; ``N <= 16``), which
        must reproduce :meth:`theory.RBM.couplings`.
    spacing
        Largest grid spacing of the Gaussian quadrature, in ``(0, 1]``
        (default :data:`GRID_SPACING`; halve it to check convergence).

    Returns
    -------
    ndarray, shape ``(2^N,)``
        ``J[S]`` for ``1 <= |S| <= max_order``; entries of other orders,
        including ``J[0]``, are 0 (not computed).
    """
    if not isinstance(model, RBM):
        raise ValueError(f"model must be a theory.RBM, got {type(model).__name__}")
    th = model.check_theta(theta)
    if th.ndim != 1:
        raise ValueError(f"theta must be one parameter vector of shape (P,), got shape {th.shape}")
    N, M = model.n_visible, model.n_hidden
    if isinstance(max_order, bool) or not isinstance(max_order, int | np.integer) or not 1 <= max_order <= N:
        raise ValueError(f"max_order must be an integer in [1, N] = [1, {N}], got {max_order!r}")
    if input_law not in INPUT_LAWS:
        raise ValueError(f"input_law must be one of {INPUT_LAWS}, got {input_law!r}")
    if isinstance(spacing, bool) or not isinstance(spacing, float | int) or not 0 < spacing <= 1:
        raise ValueError(f"spacing must be a number in (0, 1], got {spacing!r}")
    if input_law == "exact" and N > _MAX_N_EXACT_LAW:
        raise ValueError(
            f"input_law='exact' enumerates 2^(N-k) inputs and supports N <= {_MAX_N_EXACT_LAW}, got N={N}"
        )
    blocks = model.unpack(th)
    a, c, W = blocks["a"], blocks["c"], blocks["W"]
    f = _hidden_function(model.hidden)
    J = np.zeros(2**N)
    J[1 << np.arange(N)] = a
    W2_total = (W**2).sum(axis=0)  # (M,)
    sigma_max = float(np.sqrt(W2_total.max()))
    L = int(np.ceil(_Z_MAX * max(2.0, sigma_max / float(spacing))))
    for k in range(1, int(max_order) + 1):
        masks, members = _subset_members(N, k)
        if input_law == "gaussian":
            per_subset = 2**k * M * (2 * L + 1)
            step = max(1, _CHUNK_ENTRIES // per_subset)
            # one chunk of step subsets: the argument array, f of it and the weights (3 arrays)
            check_memory(8 * 3 * step * per_subset, f"Gaussian couplings of order {k}")
            for lo in range(0, masks.size, step):
                WS = W[members[lo : lo + step]]  # (n_S, k, M)
                sigma = np.sqrt(np.maximum(W2_total - (WS**2).sum(axis=1), 0.0))  # (n_S, M)
                atoms, weights = _gaussian_grid(sigma, L, float(spacing))  # (n_S, M, 2L + 1)
                J[masks[lo : lo + step]] += _difference_expectation(f, c, WS, atoms, weights)
        else:
            sR = states(N - k).astype(np.float64) if N > k else np.zeros((1, 0))
            weights = np.full((1, 1, sR.shape[0]), 1.0 / sR.shape[0])
            for j, S_members in enumerate(members):
                R = np.setdiff1d(np.arange(N), S_members)
                atoms = (sR @ W[R]).T[None]  # (1, M, 2^(N-k))
                J[masks[j]] += _difference_expectation(f, c, W[S_members][None], atoms, weights)[0]
    return J


@dataclass(frozen=True)
class GaussianComparison:
    """Per-order error of the Gaussian approximation against the exact couplings.

    Attributes
    ----------
    orders
        Orders compared, ``(1, ..., K)``.
    max_abs_error
        :math:`\\max_{|S|=k} |J^{G}_S - J_S|` per order.
    frobenius_error
        :math:`\\|J^{G}_k - J_k\\|` (Euclidean norm over the order-k subsets).
    exact_norm
        :math:`\\|J_k\\|` of the exact couplings.
    J_exact, J_gaussian
        Full coupling vectors, shape ``(2^N,)``; ``J_gaussian`` is 0 above order K
        and at ``S = 0``.
    spacing
        Largest quadrature grid spacing used.
    """

    orders: tuple[int, ...]
    max_abs_error: NDArray[np.float64]
    frobenius_error: NDArray[np.float64]
    exact_norm: NDArray[np.float64]
    J_exact: NDArray[np.float64]
    J_gaussian: NDArray[np.float64]
    spacing: float

    def __post_init__(self) -> None:
        K = len(self.orders)
        if tuple(self.orders) != tuple(range(1, K + 1)):
            raise ValueError(f"orders must be (1, ..., K), got {self.orders}")
        for name in ("max_abs_error", "frobenius_error", "exact_norm"):
            v = np.asarray(getattr(self, name), dtype=np.float64)
            if v.shape != (K,) or np.any(~np.isfinite(v)) or np.any(v < 0):
                raise ValueError(f"{name} must be {K} finite non-negative numbers, got {v!r}")
        if self.J_exact.shape != self.J_gaussian.shape:
            raise ValueError("J_exact and J_gaussian must have the same shape")

    @property
    def rel_frobenius_error(self) -> NDArray[np.float64]:
        """``frobenius_error / exact_norm`` per order.

        Errors at the rounding level of the exact couplings (``64 eps max|J|``
        per entry) count as 0, so an order whose exact block vanishes (e.g. no
        three-body couplings when every hidden unit sees two spins) reports 0,
        not the ratio of two rounding errors; ``inf`` if the exact block is 0
        and the error is not.
        """
        N = int(self.J_exact.size).bit_length() - 1
        counts = np.array([comb(N, k) for k in self.orders], dtype=np.float64)
        noise = 64 * EPS * max(1.0, float(np.max(np.abs(self.J_exact)))) * np.sqrt(counts)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = self.frobenius_error / self.exact_norm
        return np.where(self.frobenius_error <= noise, 0.0, rel)

    def to_json(self) -> dict[str, object]:
        """Plain-JSON summary (no arrays of couplings); ``None`` for an infinite relative error."""
        rel = self.rel_frobenius_error
        return {
            "orders": list(self.orders),
            "max_abs_error": [float(x) for x in self.max_abs_error],
            "frobenius_error": [float(x) for x in self.frobenius_error],
            "exact_norm": [float(x) for x in self.exact_norm],
            "rel_frobenius_error": [float(x) if np.isfinite(x) else None for x in rel],
            "quadrature_spacing": self.spacing,
        }


def compare_gaussian(
    model: RBM,
    theta: ArrayLike,
    max_order: int = 3,
    *,
    spacing: float = GRID_SPACING,
    J_exact: ArrayLike | None = None,
) -> GaussianComparison:
    """Error per order of the Gaussian approximation against :meth:`theory.RBM.couplings`.

    Parameters
    ----------
    model, theta
        The RBM and one parameter vector.
    max_order
        Orders ``1..max_order`` are compared (clipped to ``N``); 3 by default,
        as in the literature (fields, pairwise and three-body couplings).
    spacing
        Largest quadrature grid spacing (:func:`conditioned_couplings`).
    J_exact
        ``model.couplings(theta)`` if already computed (saves the exact
        enumeration); not checked against ``theta``.
    """
    th = model.check_theta(theta)
    K = min(int(max_order), model.n_visible)
    if J_exact is None:
        J = model.couplings(th)
    else:
        J = np.asarray(J_exact, dtype=np.float64)
        if J.shape != (2**model.n_visible,):
            raise ValueError(f"J_exact must have shape (2^N,) = ({2**model.n_visible},), got {J.shape}")
    JG = conditioned_couplings(model, th, K, input_law="gaussian", spacing=spacing)
    err = np.where(_orders(model.n_visible) <= K, JG - J, 0.0)
    err[0] = 0.0
    k = _orders(model.n_visible)
    max_abs = np.array([np.max(np.abs(err[k == order])) for order in range(1, K + 1)])
    return GaussianComparison(
        orders=tuple(range(1, K + 1)),
        max_abs_error=max_abs,
        frobenius_error=order_norms(err)[1 : K + 1],
        exact_norm=order_norms(J)[1 : K + 1],
        J_exact=J,
        J_gaussian=JG,
        spacing=float(spacing),
    )
